import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';
import { resolveConfig, resolveDataDir } from './runtime.js';

/**
 * `quayside config validate FILE | --config-dir DIR [--strict] [--data-dir DIR]`: the same checks as `serve` (so what serve refuses
 * is refused here with the same line), without touching the database or the storage; exit 0 when valid;
 * with --strict, warnings fail too.
 */
export async function runConfigCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('config', argv, {
    strict: { type: 'boolean', default: false },
    'config-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const [action, file] = positionals;
  const dir = values['config-dir'];
  if (values.help || action !== 'validate' || (file === undefined) === (dir === undefined)) {
    process.stdout.write('usage: quayside config validate FILE | --config-dir DIR [--strict] [--data-dir DIR]\n');
    return values.help ? 0 : 2;
  }
  const shown = file ?? dir!;
  const { warnings } = await resolveConfig(file !== undefined ? { file } : { dir }, resolveDataDir(values['data-dir']));
  if (values.strict && warnings.length > 0) throw new CliError(`${shown}: ${warnings.length} warning(s) under --strict`);
  process.stdout.write(`${shown}: valid\n`);
  return 0;
}
