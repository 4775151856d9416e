import { CliError } from './cli-error.js';

const USAGE = `usage: quayside <command> [options]

commands:
  serve              start the registry (embedded default: SQLite + local storage in ./quayside-data)
  db migrate         apply pending database migrations
  db status          list pending migrations
  config validate F  check a config.yaml without starting
  storage validate   write and read back Quay's _verify marker in every storage location
  storage backfill   queue copies of every blob missing from a required storage location
  storage verify     check that each blob placement's object exists with the right size (--repair)
  storage locations  a namespace's own storage locations (add-location, remove-location)
  gc                 run one garbage collection pass now (--dry-run lists what would go)
  lb ...             the HAProxy load-balancer control plane (quayside lb --help)
  user ...           create, list and delete users, set passwords (quayside user --help)
  org create         create an organization with its owner
  robot ...          create, list, delete robot accounts and regenerate their tokens
  repo ...           set-visibility: make a repository public or private

quayside <command> --help shows the options of a command.`;

type CommandRunner = (argv: string[]) => Promise<number>;

/** Commands load lazily so that `quayside lb` never loads the registry and the other way round. */
const COMMANDS: Record<string, () => Promise<CommandRunner>> = {
  serve: async () => (await import('./serve.js')).runServeCommand,
  db: async () => (await import('./db.js')).runDbCommand,
  config: async () => (await import('./config.js')).runConfigCommand,
  storage: async () => (await import('./storage.js')).runStorageCommand,
  lb: async () => (await import('./lb.js')).runLbCommand,
  user: async () => (await import('./user.js')).runUserCommand,
  org: async () => (await import('./org.js')).runOrgCommand,
  robot: async () => (await import('./robot.js')).runRobotCommand,
  repo: async () => (await import('./repo.js')).runRepoCommand,
  gc: async () => (await import('./gc.js')).runGcCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const load = COMMANDS[command];
  if (!load) throw new CliError(`quayside: unknown command "${command}" (see quayside --help)`, 2);
  const run = await load();
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    // A server command returns only after it has shut down; others exit with their code.
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof CliError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`quayside: ${message.split('\n')[0]}\n`);
    if (process.env.QUAYSIDE_DEBUG) process.stderr.write(`${error instanceof Error ? error.stack : ''}\n`);
    process.exitCode = 1;
  },
);
