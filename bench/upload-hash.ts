import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import { createSHA256 } from 'hash-wasm';

/**
 * SHA-256 throughput of the two hashers an upload can use: Node's native createHash (OpenSSL, SHA-NI where
 * the CPU has it; its state cannot be serialized) and hash-wasm's createSHA256 (WebAssembly; save()/load()
 * give the resumable state kept in the upload row). Both hash the same bytes, fed in the sizes a request body
 * arrives in (64 KiB socket chunks) and in 1 MiB pieces; the resumable figure also pays for one save() and
 * one load() per 64 MiB, as a chunked upload with 64 MiB chunks does.
 *
 *   node dist/bench/upload-hash.js [--mib 1024]
 */

const MIB = 1024 * 1024;

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} takes a positive integer`);
  return value;
}

/** Bytes per second of `run`, best of three (the machine is shared; the best run is the least disturbed). */
function measure(totalBytes: number, run: () => string): { mbPerSecond: number; digest: string } {
  let best = Infinity;
  let digest = '';
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const started = process.hrtime.bigint();
    digest = run();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    best = Math.min(best, seconds);
  }
  return { mbPerSecond: totalBytes / 1e6 / best, digest };
}

async function main(): Promise<void> {
  const totalMib = argument('--mib', 1024);
  // One random 1 MiB block, hashed totalMib times: random enough for a hash, and no 1 GiB buffer in memory.
  const block = randomBytes(MIB);
  const total = totalMib * MIB;
  const wasm = await createSHA256();
  const pieces = (size: number): Buffer[] => Array.from({ length: MIB / size }, (_, i) => block.subarray(i * size, (i + 1) * size));
  const socketChunks = pieces(64 * 1024);

  const rows: { name: string; mbPerSecond: number; digest: string }[] = [];
  const native = (chunks: Buffer[]) => () => {
    const hash = createHash('sha256');
    for (let i = 0; i < totalMib; i += 1) for (const chunk of chunks) hash.update(chunk);
    return hash.digest('hex');
  };
  const resumable = (chunks: Buffer[], saveEveryMib: number) => () => {
    wasm.init();
    for (let i = 0; i < totalMib; i += 1) {
      for (const chunk of chunks) wasm.update(chunk);
      if (saveEveryMib > 0 && (i + 1) % saveEveryMib === 0) wasm.load(wasm.save());
    }
    return wasm.digest('hex');
  };
  rows.push({ name: 'native createHash, 64 KiB updates', ...measure(total, native(socketChunks)) });
  rows.push({ name: 'native createHash, 1 MiB updates', ...measure(total, native([block])) });
  rows.push({ name: 'hash-wasm, 64 KiB updates', ...measure(total, resumable(socketChunks, 0)) });
  rows.push({ name: 'hash-wasm, 1 MiB updates', ...measure(total, resumable([block], 0)) });
  rows.push({ name: 'hash-wasm, 64 KiB + save/load per 64 MiB', ...measure(total, resumable(socketChunks, 64)) });

  const digests = new Set(rows.map((row) => row.digest));
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`upload hash: ${totalMib} MiB per run, best of 3; ${os.cpus().length} cores, ${cpu}, Node ${process.version}`);
  wasm.init();
  wasm.update(block);
  console.log(`saved hash-wasm state: ${wasm.save().length} bytes`);
  const nativeRate = rows[0]?.mbPerSecond ?? 1;
  for (const row of rows) {
    console.log(`${row.name.padEnd(44)} ${row.mbPerSecond.toFixed(0).padStart(6)} MB/s  ${(row.mbPerSecond / nativeRate).toFixed(2)}x native`);
  }
  if (digests.size !== 1) {
    console.error('the hashers disagree on the digest');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
