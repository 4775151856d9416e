// A real pino logger whose JSON lines a test can read, and the request lines among them.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** A pino logger (level info) whose JSON lines land in `lines`, in order. */
export function capturingLogger(lines: Array<Record<string, unknown>>): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return pino({ level: 'info' }, sink);
}

/** Lines logged for requests (the access log), in order. */
export function requestLines(lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return lines.filter((l) => typeof l.method === 'string' && typeof l.status === 'number');
}
