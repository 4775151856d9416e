/** Media types the registry knows by name. Anything else is opaque and stored as given. */

export const OCI_IMAGE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_IMAGE_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_IMAGE_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_IMAGE_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_IMAGE_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const OCI_IMAGE_LAYER_NONDISTRIBUTABLE = 'application/vnd.oci.image.layer.nondistributable.v1.tar';
export const OCI_IMAGE_LAYER_NONDISTRIBUTABLE_GZIP = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
export const OCI_IMAGE_LAYER_NONDISTRIBUTABLE_ZSTD = 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd';
/** The empty JSON object `{}` used as config (and layer) of artifacts. */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

export const DOCKER_MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const DOCKER_LAYER_FOREIGN_GZIP = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
export const DOCKER_PLUGIN_CONFIG = 'application/vnd.docker.plugin.v1+json';

export const DOCKER_MANIFEST_V1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const DOCKER_MANIFEST_V1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

/** The media types a manifest PUT may carry and a manifest GET may answer with. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = Object.freeze([
  OCI_IMAGE_MANIFEST,
  OCI_IMAGE_INDEX,
  DOCKER_MANIFEST_V2,
  DOCKER_MANIFEST_LIST,
]);

/** Docker schema 1 manifest types, recognised only to refuse them with a clear message. */
export const SCHEMA1_MEDIA_TYPES: readonly string[] = Object.freeze([DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED]);

/** Index-like types (a list of child manifests) among MANIFEST_MEDIA_TYPES. */
export const INDEX_MEDIA_TYPES: readonly string[] = Object.freeze([OCI_IMAGE_INDEX, DOCKER_MANIFEST_LIST]);

/** True for one of the four accepted manifest media types (exact, without parameters). */
export function isManifestMediaType(t: string): boolean {
  return MANIFEST_MEDIA_TYPES.includes(t);
}

/** True for a Docker schema 1 manifest media type. */
export function isSchema1MediaType(t: string): boolean {
  return SCHEMA1_MEDIA_TYPES.includes(t);
}

/** True for an index or manifest list media type. */
export function isIndexMediaType(t: string): boolean {
  return INDEX_MEDIA_TYPES.includes(t);
}

// RFC 6838 restricted-name for type and subtype (at most 127 characters each).
const RESTRICTED_NAME = '[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}';
const MEDIA_TYPE_RE = new RegExp(`^${RESTRICTED_NAME}/${RESTRICTED_NAME}$`);

/** True when the string is a bare RFC 6838 media type 'type/subtype' (no parameters). */
export function looksLikeMediaType(t: string): boolean {
  return typeof t === 'string' && MEDIA_TYPE_RE.test(t);
}

/** The media type of a Content-Type header value: parameters and whitespace removed, lower-cased. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  if (typeof contentType !== 'string') return undefined;
  const bare = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return bare === '' ? undefined : bare;
}
