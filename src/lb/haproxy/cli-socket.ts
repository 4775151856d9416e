import { connect } from 'node:net';

/** Raised when an HAProxy CLI socket cannot be reached or does not answer in time. */
export class CliSocketError extends Error {
  constructor(
    message: string,
    readonly socketPath: string,
    readonly command: string,
  ) {
    super(message);
    this.name = 'CliSocketError';
  }
}

export interface CliSocketOptions {
  /** Whole-exchange deadline (connect, write, read until HAProxy closes). */
  timeoutMs?: number;
  /** Text appended after the command line (a `<<` payload for `set ssl cert`). */
  payload?: string;
}

/**
 * Sends one command over an HAProxy CLI UNIX socket (stats or master) and returns the full answer.
 * HAProxy's non-interactive mode answers one command and closes the connection, so one command per
 * connection needs no framing: the answer is everything read until EOF.
 */
export function sendCliCommand(socketPath: string, command: string, options: CliSocketOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 2000;
  if (/[\r\n]/.test(command)) {
    // A newline would smuggle a second command into the same exchange.
    return Promise.reject(new CliSocketError('command must be a single line', socketPath, command));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    // Half-close after writing: the master CLI answers only once it sees the end of the input.
    const socket = connect({ path: socketPath, allowHalfOpen: true });
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(() => {
      finish(new CliSocketError(`no answer from ${socketPath} within ${timeoutMs} ms`, socketPath, command));
    }, timeoutMs);
    socket.on('connect', () => {
      const body = options.payload === undefined ? `${command}\n` : `${command}\n${options.payload}\n\n`;
      socket.end(body);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish(null));
    socket.on('close', () => finish(null));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish(new CliSocketError(`${socketPath}: ${err.code ?? err.message}`, socketPath, command));
    });
  });
}
