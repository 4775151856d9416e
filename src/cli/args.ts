import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './cli-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with errors turned into one-line CliErrors naming the command. */
export function parseCommandArgs<T extends Options>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new CliError(`quayside ${command}: ${message.split('\n')[0]}`, 2);
  }
}

/** A TCP port from a flag or environment value; rejects anything but an integer 0-65535. */
export function parsePort(value: string, what: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new CliError(`${what}: "${value}" is not a port number (0-65535)`, 2);
  }
  return Number(value);
}

/** A port, or undefined when the value is absent or "none" (that listener is off). */
export function optionalPort(value: string | undefined, what: string): number | undefined {
  if (value === undefined || value === 'none') return undefined;
  return parsePort(value, what);
}
