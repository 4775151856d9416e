import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';
import { resolveConfig, resolveDataDir } from './runtime.js';

/**
 * `quayside config validate FILE [--strict] [--data-dir DIR]`: the same checks as `serve` (so what serve refuses
 * is refused here with the same line), without touching the database or the storage; exit 0 when valid;
 * with --strict, warnings fail too.
 */
export async function runConfigCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('config', argv, {
    strict: { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const [action, file] = positionals;
  if (values.help || action !== 'validate' || !file) {
    process.stdout.write('usage: quayside config validate FILE [--strict] [--data-dir DIR]\n');
    return values.help ? 0 : 2;
  }
  const { warnings } = await resolveConfig(file, resolveDataDir(values['data-dir']));
  if (values.strict && warnings.length > 0) throw new CliError(`${file}: ${warnings.length} warning(s) under --strict`);
  process.stdout.write(`${file}: valid\n`);
  return 0;
}
