import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';
import { pendingMigrations } from '../db/migrate.js';
import { resolveConfig, resolveDataDir, connectDatabase, ensureSchema, describeDatabase } from './runtime.js';

const HELP = `usage: quayside db migrate|status [--config FILE | --config-dir DIR] [--data-dir DIR]

  migrate   apply every pending migration, one progress line each
  status    list pending migrations (exit 0 either way)`;

/** `quayside db migrate|status`. */
export async function runDbCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('db', argv, {
    config: { type: 'string' },
    'config-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const action = positionals[0];
  if (values.help || action === undefined) {
    process.stdout.write(`${HELP}\n`);
    return values.help ? 0 : 2;
  }
  if (action !== 'migrate' && action !== 'status') throw new CliError(`quayside db: unknown action "${action}"`, 2);
  const checked = await resolveConfig({ file: values.config, dir: values['config-dir'] }, resolveDataDir(values['data-dir']));
  const database = await connectDatabase(checked);
  try {
    if (action === 'migrate') {
      process.stdout.write(`database: ${describeDatabase(checked.database)}\n`);
      await ensureSchema(database, true, (line) => process.stdout.write(`${line}\n`));
      process.stdout.write('database is up to date\n');
    } else {
      const pending = await pendingMigrations(database);
      process.stdout.write(pending.length === 0 ? 'no pending migrations\n' : `${pending.join('\n')}\n`);
    }
  } finally {
    await database.close();
  }
  return 0;
}
