import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { s3StorageDriver } from '../../src/storage/s3/drivers.js';

/**
 * Run by s3.test.ts in a fresh process, so that the RSS measured is the driver's and not the test
 * runner's: pushes a generated blob of argv[3] MiB through an S3Storage store (parameters as JSON in
 * argv[2]) in one streamed append, commits it, pulls it back, and prints one JSON line with the peak RSS.
 */

const MiB = 1024 * 1024;
const params = s3StorageDriver.params.parse(JSON.parse(process.argv[2] ?? '{}'));
const size = Number(process.argv[3] ?? '256') * MiB;
const store = s3StorageDriver.create(params, { location: 'memory-probe', extraCa: [], now: Date.now });

let peak = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 10);
const piece = 256 * 1024;
const pushed = createHash('sha256');
const body = Readable.from(
  (function* () {
    for (let i = 0; i < size / piece; i += 1) {
      const bytes = Buffer.alloc(piece, i % 251);
      bytes.writeUInt32BE(i, 0);
      pushed.update(bytes);
      yield bytes;
    }
  })(),
);
const id = randomUUID();
const started = Date.now();
await store.startUpload(id);
const appended = await store.appendUpload(id, 0, body);
const digest = `sha256:${pushed.digest('hex')}`;
const pushMs = Date.now() - started;
await store.commitUpload(id, digest);
const commitMs = Date.now() - started - pushMs;
const pulled = createHash('sha256');
for await (const chunk of await store.read(digest)) pulled.update(chunk as Buffer);
const pullMs = Date.now() - started - pushMs - commitMs;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
await store.delete(digest);
await store.close?.();
process.stdout.write(
  `${JSON.stringify({ size, appended, sameDigest: `sha256:${pulled.digest('hex')}` === digest, peakRss: peak, pushMs, commitMs, pullMs })}\n`,
);
