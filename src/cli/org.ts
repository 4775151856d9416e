import { namespaceNameProblem } from '../auth/names.js';
import { check, emailProblem, requireAccount, runAdminCommand, type ActionInput, type AdminAction } from './admin-command.js';
import { CliError } from './cli-error.js';
import { tagExpirationAction } from './tag-expiration-action.js';

const CREATE_SYNOPSIS = 'NAME --owner USER [--email E]';

const ACTIONS: Readonly<Record<string, AdminAction>> = {
  create: {
    args: ['NAME'],
    flags: { owner: 'string', email: 'string' },
    synopsis: CREATE_SYNOPSIS,
    summary: 'create an organization whose "owners" team holds USER (an existing user)',
    run: createOrganization,
  },
  'tag-expiration': tagExpirationAction('org', 'organization'),
};

/** `quayside org create|tag-expiration`. */
export function runOrgCommand(argv: string[]): Promise<number> {
  return runAdminCommand('org', ACTIONS, argv);
}

async function createOrganization(input: ActionInput): Promise<void> {
  const where = 'quayside org create';
  const name = input.arg(0);
  const ownerName = input.strings.get('owner');
  if (ownerName === undefined) throw new CliError(`${where}: missing --owner USER (usage: ${where} ${CREATE_SYNOPSIS})`, 2);
  check(where, namespaceNameProblem(name), name);
  const email = input.strings.get('email');
  if (email !== undefined) check(where, emailProblem(email));

  const context = await input.context();
  const owner = await requireAccount(context, `${where} --owner`, ownerName, ['user']);
  const org = await context.accounts.accounts.createOrganization({ name, email: email ?? null, ownerId: owner.id });
  context.record('org_create', { namespace: org.name }, { namespace: org.name, email: org.email, owner: owner.name });
  const lines = [`organization: ${org.name}`, `owner: ${owner.name} (member of the team "owners", role admin)`];
  if (org.email !== null) lines.push(`email: ${org.email}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
