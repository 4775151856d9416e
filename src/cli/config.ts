import path from 'node:path';
import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';
import { loadConfigFile, ConfigError } from '../config/load.js';

/** `quayside config validate FILE [--strict]`: exit 0 when valid; with --strict, warnings fail too. */
export async function runConfigCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('config', argv, {
    strict: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const [action, file] = positionals;
  if (values.help || action !== 'validate' || !file) {
    process.stdout.write('usage: quayside config validate FILE [--strict]\n');
    return values.help ? 0 : 2;
  }
  try {
    const { warnings } = await loadConfigFile(path.resolve(file));
    for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
    if (values.strict && warnings.length > 0) throw new CliError(`${file}: ${warnings.length} warning(s) under --strict`);
    process.stdout.write(`${file}: valid\n`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message);
    throw error;
  }
}
