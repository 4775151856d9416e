import { NameTakenError, StillInUseError, type AccountKind, type AccountRecord } from '../db/account-metadata.js';
import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';
import { openAdminContext, type AdminContext } from './admin-context.js';

/** A flag of one action, beyond the --config, --data-dir and --help every action takes. */
export type FlagType = 'string' | 'boolean';

/** What an action gets: its positional arguments (exactly as many as it names), its flags, and the database. */
export interface ActionInput {
  /** The positional argument at `index` (the dispatcher guarantees as many as the action names). */
  arg(index: number): string;
  /** String flags by name; only the action's own flags can be present. */
  readonly strings: ReadonlyMap<string, string>;
  /** Boolean flags that were given. */
  readonly booleans: ReadonlySet<string>;
  /** Opens the database on first use (so that bad input is refused before any connection or migration). */
  context(): Promise<AdminContext>;
}

/** One action of an administration command, e.g. `user create`. */
export interface AdminAction {
  /** Positional argument names, shown in usage lines and in "missing NAME". */
  readonly args: readonly string[];
  readonly flags?: Readonly<Record<string, FlagType>>;
  /** The synopsis after the action, e.g. "NAME [--email E] [--password-stdin]". */
  readonly synopsis: string;
  /** One line for the help text. */
  readonly summary: string;
  run(input: ActionInput): Promise<void>;
}

const CONNECTION_FLAGS: Readonly<Record<string, FlagType>> = { config: 'string', 'config-dir': 'string', 'data-dir': 'string', init: 'boolean', help: 'boolean' };

/** The help text of a command: one usage line per action, then the shared flags. */
export function adminUsage(command: string, actions: Readonly<Record<string, AdminAction>>): string {
  const lines = Object.entries(actions).map(([name, action]) => `  quayside ${command} ${name} ${action.synopsis}`.trimEnd());
  const summaries = Object.entries(actions).map(([name, action]) => `  ${name.padEnd(16)}${action.summary}`);
  return [
    'usage:',
    ...lines,
    '',
    ...summaries,
    '',
    'every action also takes --config FILE (or --config-dir DIR) and --data-dir DIR (as quayside serve) and names the database it uses;',
    'an embedded database that does not exist yet is refused unless --init is given; pending migrations are applied first.',
  ].join('\n');
}

/**
 * Parses `quayside <command> <action> ...`, checks the action's arguments and flags (usage errors exit 2
 * before the database is touched), runs it, writes its audit rows and closes the database. Store errors a
 * user can cause (a taken name, a namespace still in use) become one line with exit 1.
 */
export async function runAdminCommand(command: string, actions: Readonly<Record<string, AdminAction>>, argv: string[]): Promise<number> {
  const allFlags: Record<string, FlagType> = { ...CONNECTION_FLAGS };
  for (const action of Object.values(actions)) Object.assign(allFlags, action.flags ?? {});
  const options = Object.fromEntries(
    Object.entries(allFlags).map(([name, type]) => [name, name === 'help' ? { type, short: 'h' } : { type }]),
  );
  const { values, positionals } = parseCommandArgs(command, argv, options);
  const [actionName, ...args] = positionals;
  if (values.help === true || actionName === undefined) {
    process.stdout.write(`${adminUsage(command, actions)}\n`);
    return values.help === true ? 0 : 2;
  }
  const action = Object.hasOwn(actions, actionName) ? actions[actionName] : undefined;
  if (action === undefined) {
    throw new CliError(`quayside ${command}: unknown action ${JSON.stringify(actionName)} (one of: ${Object.keys(actions).join(', ')})`, 2);
  }
  const where = `quayside ${command} ${actionName}`;
  const usage = `usage: ${where} ${action.synopsis}`.trimEnd();
  if (args.length < action.args.length) throw new CliError(`${where}: missing ${action.args.slice(args.length).join(' ')} (${usage})`, 2);
  if (args.length > action.args.length) throw new CliError(`${where}: unexpected argument ${JSON.stringify(args[action.args.length])} (${usage})`, 2);

  const strings = new Map<string, string>();
  const booleans = new Set<string>();
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || Object.hasOwn(CONNECTION_FLAGS, name)) continue;
    if (!Object.hasOwn(action.flags ?? {}, name)) throw new CliError(`${where}: --${name} is not an option of this action (${usage})`, 2);
    if (typeof value === 'string') strings.set(name, value);
    else if (value === true) booleans.add(name);
  }
  const connection = {
    config: typeof values.config === 'string' ? values.config : undefined,
    configDir: typeof values['config-dir'] === 'string' ? values['config-dir'] : undefined,
    dataDir: typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined,
    init: values.init === true,
  };

  let opened: AdminContext | undefined;
  try {
    await action.run({
      arg: (index) => {
        const value = args[index];
        if (value === undefined) throw new Error(`${where}: argument ${index} read but not declared`);
        return value;
      },
      strings,
      booleans,
      context: async () => (opened ??= await openAdminContext(connection)),
    });
    await opened?.finish();
    // Said after the change, on stderr: stdout is the command's answer, and a failure stays one line.
    if (opened !== undefined) process.stderr.write(`database: ${opened.where}\n`);
  } catch (error) {
    if (error instanceof NameTakenError || error instanceof StillInUseError) throw new CliError(`${where}: ${error.message}`);
    throw error;
  } finally {
    await opened?.close();
  }
  return 0;
}

const KIND_NAMES: Record<AccountKind, string> = { user: 'user', organization: 'organization', robot: 'robot account' };

/**
 * The account named `name` when it is one of `kinds`; otherwise one line (exit 1) saying that there is no
 * such account or what it is instead ("acme" is an organization, not a user).
 */
export async function requireAccount(
  context: AdminContext,
  where: string,
  name: string,
  kinds: readonly AccountKind[],
): Promise<AccountRecord> {
  const wanted = kinds.map((kind) => KIND_NAMES[kind]).join(' or ');
  const account = await context.accounts.accounts.getAccount(name);
  if (account === undefined) throw new CliError(`${where}: no ${wanted} named ${JSON.stringify(name)}`);
  if (!kinds.includes(account.kind)) throw new CliError(`${where}: ${JSON.stringify(name)} is ${article(KIND_NAMES[account.kind])}, not ${article(wanted)}`);
  return account;
}

/** "a user", "an organization" (the only kind names that start with a vowel sound). */
function article(noun: string): string {
  return `${noun.startsWith('organization') ? 'an' : 'a'} ${noun}`;
}

/** Why an e-mail address is refused, if it is: one "@" with something on both sides, no spaces, at most 255 characters. */
export function emailProblem(email: string): string | undefined {
  if (email.length > 255 || !/^[^\s@]+@[^\s@]+$/.test(email)) return `${JSON.stringify(email)} is not an e-mail address`;
  return undefined;
}

/** Refuses a value with one line (exit 1) when a validator reports a problem; `subject` (a name, never a secret) is quoted in it. */
export function check(where: string, problem: string | undefined, subject?: string): void {
  if (problem === undefined) return;
  throw new CliError(subject === undefined ? `${where}: ${problem}` : `${where}: ${JSON.stringify(subject)}: ${problem}`);
}

/** Rows as left-aligned columns separated by two spaces (the header is the first row); empty cells show "-". */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => row.map((cell) => (cell === '' ? '-' : cell)));
  const widths: number[] = [];
  for (const row of cells) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}
