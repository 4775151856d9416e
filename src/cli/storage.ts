import { parseCommandArgs } from './args.js';
import { checkStorageLocations, resolveConfig, resolveDataDir } from './runtime.js';

const USAGE = `usage: quayside storage validate [--config FILE | --config-dir DIR] [--data-dir DIR]

Checks every location of DISTRIBUTED_STORAGE_CONFIG as Quay does: writes <storage_path>/_verify with
"testing 123" and reads it back. One line per location (ok, or what failed); exit 1 if any failed.`;

/**
 * `quayside storage validate`: the configuration as `serve` reads it (same one-line refusals), then Quay's
 * marker check on every location at once. Progress goes to stderr as each check starts; the verdicts go to
 * stdout, one line per location in configuration order (the preferred one first).
 */
export async function runStorageCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('storage', argv, {
    config: { type: 'string' },
    'config-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const [action, ...rest] = positionals;
  if (values.help || action !== 'validate' || rest.length > 0) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const checked = await resolveConfig({ file: values.config, dir: values['config-dir'] }, resolveDataDir(values['data-dir']));
  const checks = await checkStorageLocations(checked, {
    onStart: (location) => process.stderr.write(`checking storage location ${location.name} (${location.driver.name})...\n`),
  });
  let failed = 0;
  for (const { location, store, failure } of checks) {
    const label = `storage location ${location.name} (${location.driver.name})`;
    if (failure === undefined) {
      process.stdout.write(`${label}: ok\n`);
    } else {
      failed += 1;
      process.stdout.write(`${label}: FAILED: ${failure}\n`);
    }
    await store.close?.().catch(() => undefined);
  }
  if (failed > 0) process.stderr.write(`${failed} of ${checks.length} storage location(s) failed\n`);
  return failed > 0 ? 1 : 0;
}
