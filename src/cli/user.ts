import { randomBytes } from 'node:crypto';
import { namespaceNameProblem } from '../auth/names.js';
import { hashPassword, passwordProblem } from '../auth/passwords.js';
import { isSuperuser } from '../auth/options.js';
import type { AccountRecord } from '../db/account-metadata.js';
import type { AdminContext } from './admin-context.js';
import { check, emailProblem, formatTable, requireAccount, runAdminCommand, type ActionInput, type AdminAction } from './admin-command.js';
import { CliError } from './cli-error.js';
import { tagExpirationAction } from './tag-expiration-action.js';

/** More than any password policy asks for; bcrypt only reads the first 72 bytes anyway. */
const MAX_STDIN_PASSWORD_BYTES = 4096;
const LIST_PAGE = 500;

const ACTIONS: Readonly<Record<string, AdminAction>> = {
  create: {
    args: ['NAME'],
    flags: { email: 'string', 'password-stdin': 'boolean', superuser: 'boolean' },
    synopsis: 'NAME [--email E] [--password-stdin] [--superuser]',
    summary: 'create a user (--superuser: one who administers everything); without --password-stdin a strong password is generated and printed once',
    run: createUser,
  },
  passwd: {
    args: ['NAME'],
    flags: { 'password-stdin': 'boolean' },
    synopsis: 'NAME [--password-stdin]',
    summary: "set a user's password (generated and printed once without --password-stdin) and end its API sessions",
    run: changePassword,
  },
  delete: {
    args: ['NAME'],
    synopsis: 'NAME',
    summary: 'delete a user with its robots and memberships (refused while it owns repositories)',
    run: deleteUser,
  },
  'set-superuser': {
    args: ['NAME'],
    flags: { off: 'boolean' },
    synopsis: 'NAME [--off]',
    summary: 'make a user a superuser (stored in the database, in addition to SUPER_USERS); --off takes it back',
    run: setSuperuser,
  },
  list: {
    args: [],
    synopsis: '',
    summary: 'list users: name, e-mail, enabled, superuser',
    run: listUsers,
  },
  'tag-expiration': tagExpirationAction('user', 'user'),
};

/** `quayside user create|passwd|delete|list`. */
export function runUserCommand(argv: string[]): Promise<number> {
  return runAdminCommand('user', ACTIONS, argv);
}

async function createUser(input: ActionInput): Promise<void> {
  const where = 'quayside user create';
  const name = input.arg(0);
  check(where, namespaceNameProblem(name), name);
  const email = input.strings.get('email');
  if (email !== undefined) check(where, emailProblem(email));
  const password = await choosePassword(where, input.booleans.has('password-stdin'));
  const passwordHash = await hashPassword(password.value);

  const context = await input.context();
  let user = await context.accounts.accounts.createUser({ name, email: email ?? null, passwordHash });
  context.record('user_create', { namespace: user.name }, { username: user.name, email: user.email });
  if (input.booleans.has('superuser')) {
    await context.accounts.accounts.setSuperuser(user.id, true);
    context.record('user_set_superuser', { namespace: user.name }, { username: user.name, superuser: true });
    user = { ...user, superuser: true };
  }
  const lines = [`user: ${user.name}`];
  if (user.email !== null) lines.push(`email: ${user.email}`);
  if (password.generated) lines.push(...generatedPasswordLines(password.value, user.name));
  lines.push(...superuserLines(context, user));
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function setSuperuser(input: ActionInput): Promise<void> {
  const where = 'quayside user set-superuser';
  const on = !input.booleans.has('off');
  const context = await input.context();
  const user = await requireAccount(context, where, input.arg(0), ['user']);
  await context.accounts.accounts.setSuperuser(user.id, on);
  context.record('user_set_superuser', { namespace: user.name }, { username: user.name, superuser: on });
  process.stdout.write(`${[`user: ${user.name}`, ...superuserLines(context, { ...user, superuser: on })].join('\n')}\n`);
}

async function changePassword(input: ActionInput): Promise<void> {
  const where = 'quayside user passwd';
  const name = input.arg(0);
  // Read and check the new password before touching the database, so a bad one changes nothing.
  const password = await choosePassword(where, input.booleans.has('password-stdin'));
  const passwordHash = await hashPassword(password.value);
  const context = await input.context();
  const user = await requireAccount(context, where, name, ['user']);
  await context.accounts.accounts.setPasswordHash(user.id, passwordHash);
  // A password is often changed because it leaked: sessions signed in with the old one end with it.
  const sessions = await context.accounts.sessions.deleteForAccount(user.id);
  context.record('user_change_password', { namespace: user.name }, { username: user.name });
  const lines = [`user: ${user.name}`, 'password changed', `api sessions ended: ${sessions}`];
  if (password.generated) lines.push(...generatedPasswordLines(password.value, user.name));
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function deleteUser(input: ActionInput): Promise<void> {
  const where = 'quayside user delete';
  const context = await input.context();
  const user = await requireAccount(context, where, input.arg(0), ['user']);
  // StillInUseError (the user still owns repositories) becomes one line in runAdminCommand.
  if (!(await context.accounts.accounts.deleteAccount(user.id))) throw new CliError(`${where}: no user named ${JSON.stringify(user.name)}`);
  context.record('user_delete', { namespace: user.name }, { username: user.name });
  process.stdout.write(`deleted user ${user.name}\n`);
}

async function listUsers(input: ActionInput): Promise<void> {
  const context = await input.context();
  const users: AccountRecord[] = [];
  for (let last: string | undefined; ; ) {
    const page = await context.accounts.accounts.listAccounts({ last, limit: LIST_PAGE }, 'user');
    users.push(...page);
    if (page.length < LIST_PAGE) break;
    last = page[page.length - 1]?.name;
  }
  const rows = users.map((user) => [user.name, user.email ?? '', yesNo(user.enabled), yesNo(superuserNow(context, user))]);
  process.stdout.write(`${formatTable([['NAME', 'EMAIL', 'ENABLED', 'SUPERUSER'], ...rows])}\n`);
}

interface ChosenPassword {
  value: string;
  generated: boolean;
}

/** The password from stdin (checked against the policy), or a generated one. */
async function choosePassword(where: string, fromStdin: boolean): Promise<ChosenPassword> {
  if (!fromStdin) return { value: generatePassword(), generated: true };
  const value = await readPasswordFromStdin(where);
  check(where, passwordProblem(value));
  return { value, generated: false };
}

/** 144 random bits in 24 URL-safe characters: easy to paste, no quoting needed in a shell. */
function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** All of stdin without its trailing line break (as `docker login --password-stdin` reads it). */
async function readPasswordFromStdin(where: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  // No encoding is set on stdin, so its chunks are Buffers; strings are handled in case a caller set one.
  for await (const chunk of process.stdin as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > MAX_STDIN_PASSWORD_BYTES) throw new CliError(`${where}: the password on stdin is longer than ${MAX_STDIN_PASSWORD_BYTES} bytes`);
    chunks.push(buffer);
  }
  const value = Buffer.concat(chunks).toString('utf8').replace(/[\r\n]+$/, '');
  if (value === '') throw new CliError(`${where}: --password-stdin read an empty password (pipe the password into stdin)`);
  return value;
}

function generatedPasswordLines(password: string, name: string): string[] {
  return [`password: ${password}`, `the password is shown only now; set another with: quayside user passwd ${name} --password-stdin`];
}

/** Whether the user is a superuser as the server sees it (SUPER_USERS or the stored flag, under FEATURE_SUPER_USERS). */
function superuserNow(context: AdminContext, user: AccountRecord): boolean {
  return isSuperuser({ superUsers: context.superUsers, superUsersEnabled: context.config.FEATURE_SUPER_USERS }, user);
}

/** Whether the user is a superuser as the server sees it, why, and how to make it one when it is not. */
function superuserLines(context: AdminContext, user: AccountRecord): string[] {
  const listed = context.config.SUPER_USERS.includes(user.name);
  if (!context.config.FEATURE_SUPER_USERS && (listed || user.superuser)) {
    return ['superuser: no (FEATURE_SUPER_USERS is false in the configuration)'];
  }
  if (superuserNow(context, user)) return [`superuser: yes (${listed ? 'listed in SUPER_USERS' : 'set with quayside user set-superuser'})`];
  return ['superuser: no', `to make ${user.name} a superuser: quayside user set-superuser ${user.name} (or list it in SUPER_USERS)`];
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}
