// Test images as OCI image layouts on disk: a multi-layer image built with umoci, and hand-built layouts
// (a two-platform index, an artifact with a subject). Layer contents are random so every run pushes new blobs.
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { requireCommand, runOk } from './processes.js';

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  layerTarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
} as const;

/** An OCI descriptor as written in manifests and index.json. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** What a test needs to know about one tagged manifest in a layout. */
export interface LayoutImage {
  /** The layout directory (usable as `oci:<dir>:<tag>`). */
  dir: string;
  tag: string;
  manifest: Descriptor;
  /** The exact manifest (or index) bytes. */
  manifestBytes: Buffer;
}

/** sha256:<hex> of some bytes. */
export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Writes a blob into a layout's blobs/sha256 and returns its descriptor. */
export async function writeBlob(dir: string, mediaType: string, bytes: Buffer): Promise<Descriptor> {
  const digest = sha256(bytes);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
  return { mediaType, digest, size: bytes.length };
}

/** A POSIX (ustar) tar archive holding the given regular files; real enough for any client that unpacks it. */
export function tarOf(files: Record<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of Object.entries(files)) {
    if (Buffer.byteLength(name) > 99) throw new Error(`tar entry name too long: ${name}`);
    const header = Buffer.alloc(512);
    const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'utf8');
    field(0, 100, name);
    field(100, 8, '0000644\0');
    field(108, 8, '0000000\0');
    field(116, 8, '0000000\0');
    field(124, 12, `${data.length.toString(8).padStart(11, '0')}\0`);
    field(136, 12, `${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`);
    field(148, 8, '        ');
    field(156, 1, '0');
    field(257, 6, 'ustar\0');
    field(263, 2, '00');
    let sum = 0;
    for (const byte of header) sum += byte;
    field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    parts.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

async function writeIndex(dir: string, manifests: Descriptor[]): Promise<void> {
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests }));
}

/** Reads the descriptor tagged `tag` in a layout's index.json and the bytes it points at. */
export async function readLayoutImage(dir: string, tag: string): Promise<LayoutImage> {
  const index: unknown = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
  const manifests = (index as { manifests?: Descriptor[] }).manifests ?? [];
  const manifest = manifests.find((entry) => entry.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!manifest) throw new Error(`layout ${dir} has no manifest tagged ${tag} (index.json: ${JSON.stringify(index)})`);
  const manifestBytes = await readFile(blobPath(dir, manifest.digest));
  return { dir, tag, manifest, manifestBytes };
}

/** The file that holds a blob in a layout. */
export function blobPath(dir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  if (!algorithm || !hex) throw new Error(`not a digest: ${digest}`);
  return join(dir, 'blobs', algorithm, hex);
}

/** Every blob file of a layout mapped to the sha256 of its actual bytes (not its file name). */
export async function hashLayoutBlobs(dir: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  const folder = join(dir, 'blobs', 'sha256');
  for (const name of await readdir(folder)) {
    hashes.set(`sha256:${name}`, sha256(await readFile(join(folder, name))));
  }
  return hashes;
}

/**
 * A three-layer image built with umoci: a repacked rootfs change, then two `umoci insert` layers, all with
 * random file contents (`layerBytes` each).
 */
export async function buildUmociImage(dir: string, tag: string, layerBytes = 256 * 1024): Promise<LayoutImage> {
  const umoci = requireCommand('umoci', 'apt-get install umoci');
  const work = `${dir}.work`;
  await runOk(umoci, ['init', '--layout', dir]);
  await runOk(umoci, ['new', '--image', `${dir}:${tag}`]);
  await runOk(umoci, ['unpack', '--rootless', '--image', `${dir}:${tag}`, join(work, 'bundle')]);
  await mkdir(join(work, 'bundle', 'rootfs', 'etc'), { recursive: true });
  await writeFile(join(work, 'bundle', 'rootfs', 'etc', 'e2e-run'), `${randomBytes(16).toString('hex')}\n`);
  await writeFile(join(work, 'bundle', 'rootfs', 'layer1.bin'), randomBytes(layerBytes));
  await runOk(umoci, ['repack', '--image', `${dir}:${tag}`, join(work, 'bundle')]);
  for (const name of ['layer2.bin', 'layer3.bin']) {
    const source = join(work, name);
    await writeFile(source, randomBytes(layerBytes));
    await runOk(umoci, ['insert', '--rootless', '--image', `${dir}:${tag}`, source, `/${name}`]);
  }
  await runOk(umoci, ['config', '--image', `${dir}:${tag}`, '--config.cmd', '/bin/true', '--config.label', `e2e.run=${randomBytes(8).toString('hex')}`]);
  // Drop the intermediate manifests and configs so the layout holds exactly one image's blobs.
  await runOk(umoci, ['gc', '--layout', dir]);
  return readLayoutImage(dir, tag);
}

/** Writes one single-layer image (config + gzip'd tar layer with random content) for a platform. */
async function writePlatformImage(dir: string, architecture: string, layerBytes: number): Promise<Descriptor> {
  const tar = tarOf({ [`${architecture}.bin`]: randomBytes(layerBytes) });
  const layer = await writeBlob(dir, MEDIA.layerTarGzip, gzipSync(tar));
  const config = await writeBlob(
    dir,
    MEDIA.config,
    Buffer.from(
      JSON.stringify({
        architecture,
        os: 'linux',
        config: { Cmd: ['/bin/true'] },
        rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      }),
    ),
  );
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.manifest, config, layers: [layer] }));
  return { ...(await writeBlob(dir, MEDIA.manifest, manifest)), platform: { architecture, os: 'linux' } };
}

/** A layout whose `tag` is an image index of two platform images (linux/amd64 and linux/arm64). */
export async function buildMultiArchIndex(dir: string, tag: string, layerBytes = 64 * 1024): Promise<LayoutImage> {
  const platforms = [await writePlatformImage(dir, 'amd64', layerBytes), await writePlatformImage(dir, 'arm64', layerBytes)];
  const indexBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: platforms }));
  const index = await writeBlob(dir, MEDIA.index, indexBytes);
  await writeIndex(dir, [{ ...index, annotations: { 'org.opencontainers.image.ref.name': tag } }]);
  return readLayoutImage(dir, tag);
}

/**
 * A layout whose `tag` is a one-layer image whose config carries `labels` (as `LABEL k=v` in a Dockerfile
 * writes them, under config.Labels), e.g. { 'quay.expires-after': '2h' }.
 */
export async function buildLabelledImage(dir: string, tag: string, labels: Record<string, string>, layerBytes = 16 * 1024): Promise<LayoutImage> {
  const tar = tarOf({ 'labelled.bin': randomBytes(layerBytes) });
  const layer = await writeBlob(dir, MEDIA.layerTarGzip, gzipSync(tar));
  const configJson = { architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/true'], Labels: labels }, rootfs: { type: 'layers', diff_ids: [sha256(tar)] } };
  const config = await writeBlob(dir, MEDIA.config, Buffer.from(JSON.stringify(configJson)));
  const manifest = await writeBlob(dir, MEDIA.manifest, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.manifest, config, layers: [layer] })));
  await writeIndex(dir, [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }]);
  return readLayoutImage(dir, tag);
}

/** The artifact layout: `subject` is a plain image, `artifact` an OCI 1.1 artifact manifest pointing at it. */
export interface ArtifactLayout {
  subject: LayoutImage;
  artifact: LayoutImage;
  artifactType: string;
}

/**
 * A layout with an image tagged `subjectTag` and an artifact manifest tagged `artifactTag` that has `artifactType`,
 * the empty config and a `subject` pointing at the image.
 */
export async function buildArtifactLayout(
  dir: string,
  subjectTag: string,
  artifactTag: string,
  artifactType = 'application/vnd.quayside.e2e.sbom+json',
): Promise<ArtifactLayout> {
  const subject = await writePlatformImage(dir, 'amd64', 16 * 1024);
  delete subject.platform;
  const empty = await writeBlob(dir, MEDIA.empty, Buffer.from('{}'));
  const payload = await writeBlob(
    dir,
    'application/spdx+json',
    Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: `e2e-${randomBytes(8).toString('hex')}` })),
  );
  const artifactBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      artifactType,
      config: empty,
      layers: [payload],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { 'org.opencontainers.image.created': new Date().toISOString() },
    }),
  );
  const artifact = await writeBlob(dir, MEDIA.manifest, artifactBytes);
  await writeIndex(dir, [
    { ...subject, annotations: { 'org.opencontainers.image.ref.name': subjectTag } },
    { ...artifact, artifactType, annotations: { 'org.opencontainers.image.ref.name': artifactTag } },
  ]);
  return { subject: await readLayoutImage(dir, subjectTag), artifact: await readLayoutImage(dir, artifactTag), artifactType };
}

/** A complete HTTP response with its body buffered (for small registry answers only). */
export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP request with node:http (no keep-alive), body buffered; for small bodies in tests. */
export async function http(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<HttpResult> {
  return new Promise((resolveResult, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolveResult({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Pushes one blob by POST then PUT ?digest= (the two-step monolithic upload every registry supports); `auth` is sent on both. */
export async function pushBlob(registry: string, repository: string, bytes: Buffer, auth: Record<string, string> = {}): Promise<string> {
  const digest = sha256(bytes);
  const started = await http(`${registry}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: auth });
  const location = started.headers.location;
  if (started.status !== 202 || typeof location !== 'string') {
    throw new Error(`POST upload for ${repository} answered ${started.status}: ${started.body.toString()}`);
  }
  const target = new URL(location, registry);
  target.searchParams.set('digest', digest);
  const done = await http(target.toString(), {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    body: bytes,
  });
  if (done.status !== 201) throw new Error(`PUT upload of ${digest} answered ${done.status}: ${done.body.toString()}`);
  return digest;
}
