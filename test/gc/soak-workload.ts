// The soak test's clients: hand-written HTTP pushers (volume: pushes that HEAD each blob first as docker does,
// untagged pushes, tag moves, tag deletes, pulls checked byte for byte) and a skopeo loop (real pushes and
// deletes), all writing into one model of which tag should hold which image. Every unexpected answer is
// recorded as a failure with what was asked, when, and what came back.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryClient } from '../../bench/registry-client.js';
import { MEDIA } from '../helpers/oci-images.js';
import { E2E_USER, requireCommand, run, type RegistryServer } from '../helpers/processes.js';

/** The user both instances share (the second instance's RegistryServer carries no credentials of its own). */
export const SKOPEO_CREDS = `${E2E_USER.username}:${E2E_USER.password}`;
import { newImage, writeLayout, type SoakImage, type SoakLayer } from './soak-images.js';

export interface SoakCounts {
  /** Tagged pushes by the hand-written client. */
  pushes: number;
  /** Pushes by digest only (garbage once the grace period has passed). */
  untaggedPushes: number;
  skopeoPushes: number;
  /** Blob uploads (a HEAD found the blob missing). */
  uploads: number;
  /** HEADs that found a blob already in the repository (the push skipped its upload). */
  blobsSkipped: number;
  tagMoves: number;
  tagDeletes: number;
  skopeoDeletes: number;
  /** Tag pulls checked byte for byte during the run. */
  pulls: number;
}

/** Shared state of one soak run: the expected tags, the counts, the failures. */
export class SoakModel {
  /** `<repository>:<tag>` -> the image the tag should hold. */
  readonly expected = new Map<string, { repository: string; tag: string; image: SoakImage }>();
  readonly failures: string[] = [];
  readonly counts: SoakCounts = { pushes: 0, untaggedPushes: 0, skopeoPushes: 0, uploads: 0, blobsSkipped: 0, tagMoves: 0, tagDeletes: 0, skopeoDeletes: 0, pulls: 0 };
  /** When the last write (upload, push, move, delete) was answered. */
  lastWriteAt = 0;
  private readonly started = Date.now();

  fail(what: string, detail: string): void {
    this.failures.push(`+${((Date.now() - this.started) / 1000).toFixed(1)} s ${what}: ${detail.slice(0, 1000)}`);
  }

  wrote(): void {
    this.lastWriteAt = Date.now();
  }
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

export interface HandWorkerOptions {
  id: number;
  clients: readonly RegistryClient[];
  repositories: readonly string[];
  shared: readonly SoakLayer[];
  ownLayerSize: number;
  deadline: number;
}

/**
 * One hand-written client loop until the deadline. It owns the tags h<id>-0 and h<id>-1 in every repository (so
 * the model of those tags is exact) while its images share layers with every other client's.
 */
export async function handWorker(model: SoakModel, options: HandWorkerOptions): Promise<void> {
  const slots = options.repositories.flatMap((repository) => [0, 1].map((k) => ({ repository, tag: `h${options.id}-${k}` })));
  while (Date.now() < options.deadline) {
    const client = pick(options.clients);
    const slot = pick(slots);
    const key = `${slot.repository}:${slot.tag}`;
    const current = model.expected.get(key);
    const roll = Math.random();
    if (current === undefined || roll < 0.4) {
      const image = newImage(options.shared, options.ownLayerSize);
      const untagged = roll > 0.9;
      if (await push(model, client, slot.repository, image, untagged ? image.digest : slot.tag)) {
        if (untagged) model.counts.untaggedPushes += 1;
        else {
          model.counts.pushes += 1;
          model.expected.set(key, { ...slot, image });
        }
      }
    } else if (roll < 0.6) {
      const other = model.expected.get(`${slot.repository}:${slot.tag.replace(/-(\d)$/, (_, k: string) => `-${1 - Number(k)}`)}`);
      if (other === undefined || other.image.digest === current.image.digest) continue;
      if (await putManifest(model, client, slot.repository, other.image, slot.tag, `tag move to the image of ${slot.tag.replace(/-(\d)$/, '-x')}`)) {
        model.counts.tagMoves += 1;
        model.expected.set(key, { ...slot, image: other.image });
      }
    } else if (roll < 0.8) {
      const res = await client.send('DELETE', `/v2/${slot.repository}/manifests/${slot.tag}`);
      model.wrote();
      if (res.status === 202) {
        model.counts.tagDeletes += 1;
        model.expected.delete(key);
      } else model.fail(`DELETE ${slot.repository}:${slot.tag} on ${client.base}`, `${res.status} ${res.body.toString()}`);
    } else {
      if (await pullMatches(model, client, slot.repository, slot.tag, current.image)) model.counts.pulls += 1;
    }
  }
}

/** HEAD each blob, upload the missing ones, then PUT the manifest under `reference`; true when all of it worked. */
async function push(model: SoakModel, client: RegistryClient, repository: string, image: SoakImage, reference: string): Promise<boolean> {
  const how: string[] = [];
  for (const blob of image.blobs) {
    const head = await client.send('HEAD', `/v2/${repository}/blobs/${blob.digest}`);
    if (head.status === 200) {
      model.counts.blobsSkipped += 1;
      how.push(`${blob.digest} found by HEAD at ${Date.now()}`);
      continue;
    }
    if (head.status !== 404) {
      model.fail(`HEAD ${repository}@${blob.digest} on ${client.base}`, String(head.status));
      return false;
    }
    const res = await client.send('POST', `/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.bytes.length) },
      body: blob.bytes,
    });
    model.wrote();
    if (res.status !== 201) {
      model.fail(`upload ${repository}@${blob.digest} on ${client.base}`, `${res.status} ${res.body.toString()}`);
      return false;
    }
    model.counts.uploads += 1;
    how.push(`${blob.digest} uploaded at ${Date.now()}`);
  }
  return putManifest(model, client, repository, image, reference, `new image: ${how.join(', ')}`);
}

async function putManifest(model: SoakModel, client: RegistryClient, repository: string, image: SoakImage, reference: string, why: string): Promise<boolean> {
  const res = await client.send('PUT', `/v2/${repository}/manifests/${reference}`, {
    headers: { 'content-type': MEDIA.manifest, 'content-length': String(image.manifest.length) },
    body: image.manifest,
  });
  model.wrote();
  if (res.status === 201) return true;
  model.fail(`PUT ${repository}:${reference} (${image.digest}) on ${client.base} at ${Date.now()}`, `${res.status} ${res.body.toString()} (${why})`);
  return false;
}

async function pullMatches(model: SoakModel, client: RegistryClient, repository: string, tag: string, image: SoakImage): Promise<boolean> {
  const manifest = await client.send('GET', `/v2/${repository}/manifests/${tag}`, { headers: { accept: MEDIA.manifest } });
  if (manifest.status !== 200 || !manifest.body.equals(image.manifest)) {
    model.fail(`GET ${repository}:${tag} (${image.digest}) on ${client.base}`, `${manifest.status} ${manifest.body.toString()}`);
    return false;
  }
  for (const blob of image.blobs) {
    const res = await client.send('GET', `/v2/${repository}/blobs/${blob.digest}`);
    if (res.status !== 200 || !res.body.equals(blob.bytes)) {
      model.fail(`GET ${repository}@${blob.digest} of ${tag} on ${client.base}`, `${res.status} ${res.body.toString()}`);
      return false;
    }
  }
  return true;
}

export interface SkopeoWorkerOptions {
  servers: readonly RegistryServer[];
  repositories: readonly string[];
  shared: readonly SoakLayer[];
  ownLayerSize: number;
  deadline: number;
  work: string;
}

/** skopeo pushing new images to the tags s-0 .. s-2 of each repository, and now and then deleting one (by digest). */
export async function skopeoWorker(model: SoakModel, options: SkopeoWorkerOptions): Promise<void> {
  const skopeo = requireCommand('skopeo', 'apt-get install skopeo');
  for (let round = 0; Date.now() < options.deadline; round += 1) {
    const server = options.servers[round % options.servers.length]!;
    const ours = [...model.expected.entries()].filter(([, e]) => e.tag.startsWith('s-'));
    if (ours.length > 0 && round % 4 === 3) {
      const [key, current] = pick(ours);
      const reference = `${current.repository}@${current.image.digest}`;
      const result = await run(skopeo, ['--insecure-policy', 'delete', '--tls-verify=false', '--creds', SKOPEO_CREDS, `docker://${server.hostPort}/${reference}`]);
      model.wrote();
      if (result.code === 0) {
        model.counts.skopeoDeletes += 1;
        model.expected.delete(key);
      } else model.fail(`skopeo delete ${reference} on ${server.url}`, result.stderr);
      continue;
    }
    const repository = pick(options.repositories);
    const tag = `s-${round % 3}`;
    const key = `${repository}:${tag}`;
    const target = `docker://${server.hostPort}/${repository}:${tag}`;
    const image = newImage(options.shared, options.ownLayerSize);
    const layout = await mkdtemp(join(options.work, 'layout-'));
    try {
      await writeLayout(layout, image, tag);
      const result = await run(skopeo, ['--insecure-policy', 'copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', SKOPEO_CREDS, `oci:${layout}:${tag}`, target]);
      model.wrote();
      if (result.code === 0) {
        model.counts.skopeoPushes += 1;
        model.expected.set(key, { repository, tag, image });
      } else model.fail(`skopeo copy to ${target}`, result.stderr);
    } finally {
      await rm(layout, { recursive: true, force: true });
    }
  }
}
