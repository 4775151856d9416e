import { MAX_ACCOUNT_NAME_LENGTH, robotFullName, robotShortNameProblem } from '../auth/names.js';
import { hashSecret, newSecretToken } from '../auth/secrets.js';
import type { AccountRecord } from '../db/account-metadata.js';
import type { AdminContext } from './admin-context.js';
import { check, formatTable, requireAccount, runAdminCommand, type ActionInput, type AdminAction } from './admin-command.js';
import { CliError } from './cli-error.js';

const ACTIONS: Readonly<Record<string, AdminAction>> = {
  create: {
    args: ['NAMESPACE', 'SHORTNAME'],
    flags: { description: 'string' },
    synopsis: 'NAMESPACE SHORTNAME [--description D]',
    summary: 'create the robot NAMESPACE+SHORTNAME of an organization or user; prints its token once',
    run: createRobot,
  },
  list: {
    args: ['NAMESPACE'],
    synopsis: 'NAMESPACE',
    summary: 'list the robots of an organization or user',
    run: listRobots,
  },
  regenerate: {
    args: ['NAMESPACE', 'SHORTNAME'],
    synopsis: 'NAMESPACE SHORTNAME',
    summary: 'replace a robot token (the old one stops working); prints the new one once',
    run: regenerateToken,
  },
  delete: {
    args: ['NAMESPACE', 'SHORTNAME'],
    synopsis: 'NAMESPACE SHORTNAME',
    summary: 'delete a robot with its permissions and team memberships',
    run: deleteRobot,
  },
};

/** `quayside robot create|list|regenerate|delete`. */
export function runRobotCommand(argv: string[]): Promise<number> {
  return runAdminCommand('robot', ACTIONS, argv);
}

async function createRobot(input: ActionInput): Promise<void> {
  const where = 'quayside robot create';
  const shortName = input.arg(1);
  check(where, robotShortNameProblem(shortName), shortName);
  const context = await input.context();
  const owner = await requireOwner(context, where, input.arg(0));
  const name = robotFullName(owner.name, shortName);
  if (name.length > MAX_ACCOUNT_NAME_LENGTH) {
    throw new CliError(`${where}: the full robot name would be ${name.length} characters long; the maximum is ${MAX_ACCOUNT_NAME_LENGTH}`);
  }
  const token = newSecretToken();
  const robot = await context.accounts.accounts.createRobot({
    ownerId: owner.id,
    name,
    description: input.strings.get('description') ?? null,
    tokenHash: hashSecret(token),
  });
  context.record('create_robot', { namespace: owner.name }, { robot: robot.name, description: robot.description });
  process.stdout.write(`${tokenLines(context, robot, shortName, owner.name, token).join('\n')}\n`);
}

async function listRobots(input: ActionInput): Promise<void> {
  const context = await input.context();
  const owner = await requireOwner(context, 'quayside robot list', input.arg(0));
  const robots = await context.accounts.accounts.listRobots(owner.id);
  const rows = robots.map((robot) => [robot.name, robot.description ?? '', robot.createdAt.toISOString()]);
  process.stdout.write(`${formatTable([['NAME', 'DESCRIPTION', 'CREATED'], ...rows])}\n`);
}

async function regenerateToken(input: ActionInput): Promise<void> {
  const where = 'quayside robot regenerate';
  const context = await input.context();
  const { owner, robot, shortName } = await requireRobot(context, where, input);
  const token = newSecretToken();
  await context.accounts.accounts.setRobotTokenHash(robot.id, hashSecret(token));
  context.record('regenerate_robot_token', { namespace: owner.name }, { robot: robot.name });
  process.stdout.write(`${tokenLines(context, robot, shortName, owner.name, token).join('\n')}\n`);
}

async function deleteRobot(input: ActionInput): Promise<void> {
  const where = 'quayside robot delete';
  const context = await input.context();
  const { owner, robot } = await requireRobot(context, where, input);
  if (!(await context.accounts.accounts.deleteAccount(robot.id))) throw new CliError(`${where}: no robot account named ${JSON.stringify(robot.name)}`);
  context.record('delete_robot', { namespace: owner.name }, { robot: robot.name });
  process.stdout.write(`deleted robot ${robot.name}\n`);
}

/** Robots belong to organizations and users, never to another robot. */
function requireOwner(context: AdminContext, where: string, namespace: string): Promise<AccountRecord> {
  return requireAccount(context, where, namespace, ['organization', 'user']);
}

/** The robot NAMESPACE+SHORTNAME of the input, checked to belong to that namespace. */
async function requireRobot(
  context: AdminContext,
  where: string,
  input: ActionInput,
): Promise<{ owner: AccountRecord; robot: AccountRecord; shortName: string }> {
  const shortName = input.arg(1);
  check(where, robotShortNameProblem(shortName), shortName);
  const owner = await requireOwner(context, where, input.arg(0));
  const name = robotFullName(owner.name, shortName);
  const robot = await context.accounts.accounts.getAccount(name);
  if (robot === undefined || robot.kind !== 'robot' || robot.ownerId !== owner.id) {
    throw new CliError(`${where}: no robot account named ${JSON.stringify(name)} (see quayside robot list ${owner.name})`);
  }
  return { owner, robot, shortName };
}

/** The robot's name and token, shown once, with how to log in with them. */
function tokenLines(context: AdminContext, robot: AccountRecord, shortName: string, ownerName: string, token: string): string[] {
  const host = context.config.SERVER_HOSTNAME ?? 'REGISTRY_HOST';
  return [
    `name: ${robot.name}`,
    `token: ${token}`,
    `the token is shown only now; quayside robot regenerate ${ownerName} ${shortName} replaces it.`,
    'log in with the token on stdin, for example:',
    `  printf '%s' "$TOKEN" | docker login --username '${robot.name}' --password-stdin ${host}`,
    `  printf '%s' "$TOKEN" | podman login --username '${robot.name}' --password-stdin ${host}`,
  ];
}
