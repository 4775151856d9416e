import { repositoryNameProblem } from '../oci/names.js';
import { check, runAdminCommand, type ActionInput, type AdminAction } from './admin-command.js';
import { CliError } from './cli-error.js';

const VISIBILITIES = ['public', 'private'] as const;
type Visibility = (typeof VISIBILITIES)[number];

const ACTIONS: Readonly<Record<string, AdminAction>> = {
  'set-visibility': {
    args: ['NAMESPACE/REPO', 'public|private'],
    synopsis: 'NAMESPACE/REPO public|private',
    summary: 'make a repository public (anyone may pull) or private',
    run: setVisibility,
  },
};

/** `quayside repo set-visibility`. */
export function runRepoCommand(argv: string[]): Promise<number> {
  return runAdminCommand('repo', ACTIONS, argv);
}

function isVisibility(value: string): value is Visibility {
  return (VISIBILITIES as readonly string[]).includes(value);
}

async function setVisibility(input: ActionInput): Promise<void> {
  const where = 'quayside repo set-visibility';
  const name = input.arg(0);
  const visibility = input.arg(1);
  if (!isVisibility(visibility)) throw new CliError(`${where}: visibility must be public or private, not ${JSON.stringify(visibility)}`, 2);
  check(where, repositoryNameProblem(name), name);

  const context = await input.context();
  const repository = await context.metadata.repositories.getRepository(name);
  if (repository === undefined) throw new CliError(`${where}: no repository named ${JSON.stringify(name)}`);
  // Nothing changes, so nothing is audited: the log records changes, not requests.
  if (repository.visibility === visibility) {
    process.stdout.write(`${repository.name} is already ${visibility}\n`);
    return;
  }
  await context.metadata.repositories.setVisibility(repository.id, visibility);
  context.record(
    'change_repo_visibility',
    { namespace: repository.namespace === '' ? null : repository.namespace, repository: repository.name },
    { repo: repository.name, namespace: repository.namespace, visibility },
  );
  process.stdout.write(`${repository.name} is now ${visibility}\n`);
}
