import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';
import { connectDatabase, checkStorageLocations, ensureSchema, resolveConfig, resolveDataDir, type CheckedConfig } from './runtime.js';
import { backfillTargets, checkBackfillFlags, runBackfill } from './storage-backfill.js';
import { NAMESPACE_ACTIONS, runNamespaceLocationCommand } from './storage-namespace.js';
import { runVerify, type VerifyFinding } from './storage-verify.js';

const USAGE = `usage: quayside storage validate [--config FILE | --config-dir DIR] [--data-dir DIR]
       quayside storage backfill [--location NAME]... [--config FILE | --config-dir DIR] [--data-dir DIR]
       quayside storage verify [--repair] [--location NAME]... [--config FILE | --config-dir DIR] [--data-dir DIR]
       quayside storage locations NAMESPACE [--config FILE | --config-dir DIR] [--data-dir DIR]
       quayside storage add-location NAMESPACE LOCATION [--config FILE | --config-dir DIR] [--data-dir DIR]
       quayside storage remove-location NAMESPACE LOCATION [--config FILE | --config-dir DIR] [--data-dir DIR]

  validate  checks every location of DISTRIBUTED_STORAGE_CONFIG as Quay does: writes <storage_path>/_verify
            with "testing 123" and reads it back. One line per location (ok, or what failed); exit 1 if any
            failed.
  backfill  queues a replication job for every blob missing from a location that must hold it: every blob
            for a location of DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, the blobs of the namespaces listing it
            for a namespace's own location (or only each --location; one nothing requires gets every blob),
            e.g. after adding a location; the serving instances' replication workers copy them. Progress on
            stderr, a summary on stdout.
  verify    checks that each placement's object exists in its location with the blob's size; one line per
            bad placement, a summary, exit 1 if any is bad. --repair deletes a wrong object, forgets the
            placement and queues a copy (an unreachable location is reported, never repaired).
  locations, add-location, remove-location
            a namespace's own storage locations (Quay's UserRegion): blobs pushed into it must reach
            DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS plus these (FEATURE_STORAGE_REPLICATION). Removing one
            deletes nothing: copies already made stay and serve reads.
  Both backfill and verify are safe while instances serve (docs/geo-replication.md).`;

type Action = 'validate' | 'backfill' | 'verify';

/** `quayside storage validate | backfill | verify | locations | add-location | remove-location`. */
export async function runStorageCommand(argv: string[]): Promise<number> {
  // The namespace actions take the account commands' flags (--init too), so they are parsed as those are.
  if (argv[0] !== undefined && Object.hasOwn(NAMESPACE_ACTIONS, argv[0])) return runNamespaceLocationCommand(argv);
  const { values, positionals } = parseCommandArgs('storage', argv, {
    config: { type: 'string' },
    'config-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    location: { type: 'string', multiple: true },
    repair: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const [action, ...rest] = positionals;
  if (values.help || action === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (Object.hasOwn(NAMESPACE_ACTIONS, action)) {
    const at = argv.indexOf(action);
    return runNamespaceLocationCommand([action, ...argv.slice(0, at), ...argv.slice(at + 1)]);
  }
  if (action !== 'validate' && action !== 'backfill' && action !== 'verify') {
    throw new CliError(`quayside storage: unknown action ${JSON.stringify(action)} (validate, backfill, verify, locations, add-location or remove-location)`, 2);
  }
  if (rest.length > 0) throw new CliError(`quayside storage ${action}: unexpected argument ${JSON.stringify(rest[0])}`, 2);
  const locations = values.location ?? [];
  if (values.repair && action !== 'verify') throw new CliError(`quayside storage ${action}: --repair is an option of storage verify`, 2);
  if (locations.length > 0 && action === 'validate') throw new CliError('quayside storage validate: --location is an option of backfill and verify', 2);
  const checked = await resolveConfig({ file: values.config, dir: values['config-dir'] }, resolveDataDir(values['data-dir']));
  const run: Record<Action, () => Promise<number>> = {
    validate: () => validate(checked),
    backfill: () => backfill(checked, locations),
    verify: () => verify(checked, locations, values.repair),
  };
  return run[action]();
}

async function validate(checked: CheckedConfig): Promise<number> {
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

async function backfill(checked: CheckedConfig, flags: readonly string[]): Promise<number> {
  checkBackfillFlags(checked, flags);
  const started = Date.now();
  const database = await connectDatabase(checked);
  try {
    await ensureSchema(database, true, (line) => process.stderr.write(`${line}\n`));
    const targets = await backfillTargets(checked, flags, database, (line) => process.stderr.write(`${line}\n`));
    const summaries = await runBackfill(database, targets);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    for (const { location, queued, alreadyThere, namespaces } of summaries) {
      const scope = namespaces === undefined ? '' : ` of the namespaces listing it (${namespaces.join(', ')})`;
      process.stdout.write(`backfill ${location}: queued ${queued} blob copies${scope} (${alreadyThere} blobs already there) in ${seconds} s\n`);
    }
  } finally {
    await database.close();
  }
  return 0;
}

function describeFinding(finding: VerifyFinding): string {
  const { placement, problem, detail, repaired } = finding;
  return `${problem} ${placement.digest} in ${placement.location}: ${detail}${repaired ? ' (repaired: placement forgotten, copy queued)' : ''}\n`;
}

async function verify(checked: CheckedConfig, flags: readonly string[], repair: boolean): Promise<number> {
  const configured = checked.locations.map((location) => location.name);
  for (const name of flags) {
    if (!configured.includes(name)) {
      throw new CliError(`quayside storage verify: --location ${JSON.stringify(name)} is not in DISTRIBUTED_STORAGE_CONFIG (${configured.join(', ')})`, 2);
    }
  }
  const started = Date.now();
  const database = await connectDatabase(checked);
  // Every location, failing ones included: their placements are reported unreachable, not lost.
  const checks = await checkStorageLocations(checked);
  for (const check of checks) {
    if (check.failure !== undefined) process.stderr.write(`warning: storage location ${check.location.name}: ${check.failure}\n`);
  }
  try {
    await ensureSchema(database, true, (line) => process.stderr.write(`${line}\n`));
    const summary = await runVerify(
      database,
      checks.map((check) => ({ name: check.location.name, store: check.store })),
      { repair, ...(flags.length > 0 && { only: flags }), onFinding: (finding) => process.stdout.write(describeFinding(finding)) },
    );
    const count = (problem: string) => summary.findings.filter((finding) => finding.problem === problem).length;
    const repaired = summary.findings.filter((finding) => finding.repaired).length;
    process.stdout.write(
      `verified ${summary.checked} placements: ${summary.ok} ok, ${count('missing')} missing, ${count('wrong-size')} wrong size, ` +
        `${count('unreachable')} unreachable, ${count('unknown-location')} in unknown locations` +
        `${repair ? `, ${repaired} repaired` : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    return summary.findings.some((finding) => !finding.repaired) ? 1 : 0;
  } finally {
    await Promise.allSettled(checks.map((check) => check.store.close?.()));
    await database.close();
  }
}
