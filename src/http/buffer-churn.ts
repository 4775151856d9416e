import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Streaming a blob allocates one short-lived Buffer per socket read (64 KiB each). Their memory lives outside
 * V8's heap, so it is returned only when a garbage collection finds the Buffer objects dead, and V8 starts one
 * for external memory only after about 64 MB more of it, which was most of the gap between Quayside's peak RSS
 * during a 1 GiB push and its 150 MB target. A minor GC (a scavenge of the young generation, where these Buffers
 * die) after every few MiB of streamed bytes returns them at once. Measured on a plain node:http server taking
 * 1 GiB: peak RSS 96-98 MB without, 69-71 MB with one every 4 MiB, and the transfer was not slower (0.51-0.54 s
 * against 0.64-0.79 s, two runs each). What it costs a whole `serve` under load is not measured apart: see the
 * push figures in bench/README.md.
 *
 * `gc` is exposed at run time (the flag only makes the function available; nothing else about the heap changes),
 * so neither `quayside serve` nor a test needs a node option.
 */

/** Bytes streamed, process-wide, between two scavenges. */
export const SCAVENGE_EVERY_BYTES = 4 * 1024 * 1024;

type GcFunction = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let scavenge: (() => void) | undefined;
let sinceLast = 0;

function scavenger(): () => void {
  if (scavenge === undefined) {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as GcFunction | undefined;
    // Should a future Node refuse the flag, streaming still works; only the memory bound is lost.
    scavenge = typeof gc === 'function' ? () => gc({ type: 'minor' }) : () => undefined;
  }
  return scavenge;
}

/** Counts `bytes` of a streamed body (in or out); scavenges once SCAVENGE_EVERY_BYTES have passed. */
export function noteStreamedBytes(bytes: number): void {
  sinceLast += bytes;
  if (sinceLast < SCAVENGE_EVERY_BYTES) return;
  sinceLast = 0;
  scavenger()();
}
