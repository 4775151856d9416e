import type { AccountRecord } from '../db/account-metadata.js';
import { NamespaceGoneError } from '../db/namespace-locations.js';
import { addLocationProblem, replicationSettingsFrom, requiredLocations } from '../storage/required-locations.js';
import type { AdminContext } from './admin-context.js';
import { runAdminCommand, type ActionInput, type AdminAction } from './admin-command.js';
import { CliError } from './cli-error.js';

/**
 * `quayside storage locations|add-location|remove-location`: a namespace's own storage locations (Quay's
 * UserRegion; docs/geo-replication.md). Bad input (an unknown namespace, a location not configured, adding one
 * while FEATURE_STORAGE_REPLICATION is off, removing one the namespace does not list) is one line, exit 2.
 */
export const NAMESPACE_ACTIONS: Readonly<Record<string, AdminAction>> = {
  locations: {
    args: ['NAMESPACE'],
    synopsis: 'NAMESPACE',
    summary: "list the namespace's own storage locations and every location its pushed blobs must reach",
    run: (input) => show(input),
  },
  'add-location': {
    args: ['NAMESPACE', 'LOCATION'],
    synopsis: 'NAMESPACE LOCATION',
    summary: 'make blobs pushed into the namespace reach LOCATION too (then `storage backfill` copies the ones it has)',
    run: (input) => change(input, 'add'),
  },
  'remove-location': {
    args: ['NAMESPACE', 'LOCATION'],
    synopsis: 'NAMESPACE LOCATION',
    summary: 'stop copying the namespace\'s blobs to LOCATION (copies already made stay; nothing is deleted)',
    run: (input) => change(input, 'remove'),
  },
};

/** Runs one of NAMESPACE_ACTIONS (argv starts with the action). */
export function runNamespaceLocationCommand(argv: string[]): Promise<number> {
  return runAdminCommand('storage', NAMESPACE_ACTIONS, argv);
}

/** The user or organization of that name; one line (exit 2) otherwise. */
async function requireNamespace(context: AdminContext, where: string, name: string): Promise<AccountRecord> {
  const account = await context.accounts.accounts.getAccount(name);
  if (account === undefined) throw new CliError(`${where}: no namespace (user or organization) named ${JSON.stringify(name.slice(0, 100))}`, 2);
  if (account.kind === 'robot') throw new CliError(`${where}: ${JSON.stringify(name)} is a robot account, not a namespace`, 2);
  return account;
}

async function describe(context: AdminContext, account: AccountRecord): Promise<string> {
  const own = await context.accounts.namespaceLocations.list(account.id);
  const settings = replicationSettingsFrom(context.config);
  const required = settings.enabled ? requiredLocations(settings, own) : [];
  const unconfigured = own.filter((name) => !settings.configured.includes(name));
  return [
    `namespace ${account.name}: own storage locations: ${own.join(', ') || 'none'}`,
    ...(unconfigured.length > 0 ? [`not in DISTRIBUTED_STORAGE_CONFIG (ignored): ${unconfigured.join(', ')}`] : []),
    settings.enabled
      ? `its pushed blobs must reach: ${required.join(', ') || 'nothing (DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS is empty)'}`
      : 'its pushed blobs are not replicated: FEATURE_STORAGE_REPLICATION is off',
  ].join('\n');
}

async function show(input: ActionInput): Promise<void> {
  const context = await input.context();
  const account = await requireNamespace(context, 'quayside storage locations', input.arg(0));
  process.stdout.write(`${await describe(context, account)}\n`);
}

async function change(input: ActionInput, what: 'add' | 'remove'): Promise<void> {
  const where = `quayside storage ${what}-location`;
  const location = input.arg(1);
  const context = await input.context();
  const account = await requireNamespace(context, where, input.arg(0));
  const store = context.accounts.namespaceLocations;
  const kind = `${account.kind === 'user' ? 'user' : 'org'}_${what}_storage_location`;
  let line: string;
  if (what === 'add') {
    const problem = addLocationProblem(replicationSettingsFrom(context.config), location);
    if (problem !== undefined) throw new CliError(`${where}: ${problem}`, 2);
    const added = await store.add(account.id, location).catch((error: unknown) => {
      if (error instanceof NamespaceGoneError) throw new CliError(`${where}: ${account.name} was deleted while the location was being added`, 2);
      throw error;
    });
    if (added) context.record(kind, { namespace: account.name }, { namespace: account.name, location });
    line = added
      ? `storage location ${location} added to ${account.name}; \`quayside storage backfill\` queues copies of the blobs it has already`
      : `storage location ${location} was already one of ${account.name}'s`;
  } else {
    // A location no longer configured can still be removed: that is how its rows are cleaned up.
    if (!(await store.remove(account.id, location))) {
      throw new CliError(`${where}: ${JSON.stringify(location.slice(0, 100))} is not one of the storage locations of ${account.name}`, 2);
    }
    context.record(kind, { namespace: account.name }, { namespace: account.name, location });
    line = `storage location ${location} removed from ${account.name}: no new copies go there; copies already made stay and serve reads`;
  }
  process.stdout.write(`${line}\n${await describe(context, account)}\n`);
}
