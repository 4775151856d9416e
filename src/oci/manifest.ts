import {
  type Descriptor,
  ManifestError,
  invalid,
  isJsonObject,
  jsonType,
  validateAnnotations,
  validateArtifactType,
  validateDescriptor,
} from './descriptor.js';
import {
  OCI_IMAGE_INDEX,
  OCI_IMAGE_MANIFEST,
  bareMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
} from './media-types.js';

export { type Descriptor, ManifestError } from './descriptor.js';

/** A validated manifest: what the registry needs to store it, link it and answer referrers. */
export interface ParsedManifest {
  /** The effective media type (stored, and answered as Content-Type). */
  mediaType: string;
  kind: 'image' | 'index';
  /** Images only. */
  config?: Descriptor;
  /** Image layers (empty for an index). */
  layers: Descriptor[];
  /** Index / manifest list children (empty for an image). */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** Per the referrers rules: artifactType, else (images) config.mediaType, else null. */
  artifactType: string | null;
  annotations: Record<string, string> | null;
  /** Content that must exist before the manifest is accepted: config, local layers, children; no duplicates. */
  references: Array<{ digest: string; kind: 'blob' | 'manifest' }>;
}

/**
 * How many descriptors one manifest may list. Every descriptor costs a lookup when the manifest is pushed;
 * distribution and Quay serve images of a few hundred layers, so the defaults are generous for real images
 * and still bound the work one request can ask for.
 */
export interface ManifestLimits {
  /** Most entries in an image's "layers". */
  maxLayers: number;
  /** Most entries in an index's "manifests". */
  maxIndexManifests: number;
}

export const DEFAULT_MANIFEST_LIMITS: Readonly<ManifestLimits> = Object.freeze({ maxLayers: 1000, maxIndexManifests: 10_000 });

const SCHEMA1_MESSAGE =
  'Docker schema 1 manifests are not supported; push a Docker schema 2 or OCI manifest instead';

// fatal: reject invalid UTF-8 instead of silently replacing it. ignoreBOM: keep a BOM so JSON.parse refuses it,
// as Go's encoding/json (distribution, and so most clients' expectations) does.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeJsonObject(bytes: Buffer): Record<string, unknown> {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    invalid('manifest is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Includes RangeError from absurdly deep nesting: still the client's bad input.
    const reason = err instanceof SyntaxError ? `: ${err.message}` : '';
    invalid(`manifest is not valid JSON${reason}`);
  }
  if (!isJsonObject(value)) invalid(`manifest must be a JSON object, not ${jsonType(value)}`);
  return value;
}

/** Work out which of the four manifest types the document is, from the header, the body, or its shape. */
function effectiveMediaType(body: Record<string, unknown>, contentType: string | undefined): string {
  const header = bareMediaType(contentType);
  const declared = body.mediaType;
  if (declared !== undefined && typeof declared !== 'string') {
    invalid(`mediaType must be a string, not ${jsonType(declared)}`);
  }
  if ((header !== undefined && isSchema1MediaType(header)) || (declared !== undefined && isSchema1MediaType(declared))) {
    throw new ManifestError('UNSUPPORTED', SCHEMA1_MESSAGE);
  }
  if (body.schemaVersion === 1) throw new ManifestError('UNSUPPORTED', SCHEMA1_MESSAGE);

  // A Content-Type that is not a manifest type (octet-stream, json, ...) says nothing: treat it as absent.
  if (header !== undefined && isManifestMediaType(header)) {
    if (declared !== undefined && declared !== header) {
      invalid(`mediaType ${JSON.stringify(declared)} in the manifest does not match the Content-Type ${JSON.stringify(header)}`);
    }
    return header;
  }
  if (declared !== undefined) {
    if (isManifestMediaType(declared)) return declared;
    invalid(`unknown manifest media type ${JSON.stringify(declared)}`);
  }
  const looksLikeIndex = body.manifests !== undefined;
  const looksLikeImage = body.config !== undefined || body.layers !== undefined;
  if (looksLikeIndex && !looksLikeImage) return OCI_IMAGE_INDEX;
  if (looksLikeImage && !looksLikeIndex) return OCI_IMAGE_MANIFEST;
  if (looksLikeIndex) invalid('manifest has both "manifests" and "config"/"layers" and no media type: cannot tell an index from an image');
  invalid('manifest media type unknown: no manifest Content-Type, no mediaType field, and neither "manifests" nor "config" and "layers"');
}

function descriptorArray(value: unknown, field: string, max: number, options: { platform?: boolean } = {}): Descriptor[] {
  if (value === undefined) invalid(`${field} is required`);
  if (!Array.isArray(value)) invalid(`${field} must be an array, not ${jsonType(value)}`);
  // Counted before any entry is validated: refusing an oversized list costs nothing per entry.
  if (value.length > max) invalid(`${field} has ${value.length} entries; this registry accepts at most ${max}`);
  return value.map((entry, i) => validateDescriptor(entry, `${field}[${i}]`, options));
}

function parseImage(body: Record<string, unknown>, mediaType: string, limits: ManifestLimits): Pick<ParsedManifest, 'config' | 'layers'> {
  // An image that also carries "manifests" is a confused document; a client reading it could see either.
  if (body.manifests !== undefined) invalid(`a ${mediaType} must not have a "manifests" field`);
  if (body.config === undefined) invalid('config is required');
  const config = validateDescriptor(body.config, 'config');
  // Empty layers are valid: OCI artifacts may have none, and Docker accepts an empty list too.
  const layers = descriptorArray(body.layers, 'layers', limits.maxLayers);
  return { config, layers };
}

function parseIndex(body: Record<string, unknown>, mediaType: string, limits: ManifestLimits): Descriptor[] {
  for (const field of ['config', 'layers'] as const) {
    if (body[field] !== undefined) invalid(`a ${mediaType} must not have a "${field}" field`);
  }
  return descriptorArray(body.manifests, 'manifests', limits.maxIndexManifests, { platform: true });
}

function collectReferences(parsed: Pick<ParsedManifest, 'config' | 'layers' | 'manifests'>): ParsedManifest['references'] {
  const references: ParsedManifest['references'] = [];
  const seen = new Set<string>();
  const add = (digest: string, kind: 'blob' | 'manifest'): void => {
    const key = `${kind} ${digest}`;
    if (seen.has(key)) return;
    seen.add(key);
    references.push({ digest, kind });
  };
  if (parsed.config !== undefined) add(parsed.config.digest, 'blob');
  // Layers with urls are foreign / non-distributable: the client is not expected to push them here.
  for (const layer of parsed.layers) if (layer.urls === undefined || layer.urls.length === 0) add(layer.digest, 'blob');
  for (const child of parsed.manifests) add(child.digest, 'manifest');
  return references;
}

/**
 * Parse and validate manifest bytes as sent with the request's Content-Type (may be undefined or
 * carry parameters), refusing more descriptors than `limits` allow. Throws ManifestError; the bytes
 * themselves are never re-serialised.
 */
export function parseManifest(
  bytes: Buffer,
  contentType: string | undefined,
  limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS,
): ParsedManifest {
  const body = decodeJsonObject(bytes);
  const mediaType = effectiveMediaType(body, contentType);

  if (body.schemaVersion === undefined) invalid('schemaVersion is required and must be 2');
  if (body.schemaVersion !== 2) invalid(`schemaVersion must be 2, not ${JSON.stringify(body.schemaVersion)}`);

  const kind: ParsedManifest['kind'] = isIndexMediaType(mediaType) ? 'index' : 'image';
  let config: Descriptor | undefined;
  let layers: Descriptor[] = [];
  let manifests: Descriptor[] = [];
  if (kind === 'image') ({ config, layers } = parseImage(body, mediaType, limits));
  else manifests = parseIndex(body, mediaType, limits);

  const subject = body.subject === undefined ? undefined : validateDescriptor(body.subject, 'subject');
  const declaredArtifactType = validateArtifactType(body.artifactType, 'artifactType');
  const annotations = validateAnnotations(body.annotations, 'annotations') ?? null;
  const artifactType = declaredArtifactType ?? config?.mediaType ?? null;

  const parsed: ParsedManifest = {
    mediaType,
    kind,
    layers,
    manifests,
    artifactType,
    annotations,
    references: collectReferences({ config, layers, manifests }),
  };
  if (config !== undefined) parsed.config = config;
  if (subject !== undefined) parsed.subject = subject;
  return parsed;
}

