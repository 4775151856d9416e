import { hostname } from 'node:os';
import { createMetadata } from '../db/kysely-metadata.js';
import { gcOptionsFrom } from '../gc/options.js';
import { runGcPass, type GcSummary } from '../gc/pass.js';
import { repositoryNameProblem } from '../oci/names.js';
import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';
import { connectDatabase, ensureSchema, openDistributedStorage, resolveConfig, resolveDataDir } from './runtime.js';

const HELP = `usage: quayside gc [--dry-run] [--repository NS/REPO] [--config FILE | --config-dir DIR] [--data-dir DIR]

  Runs one garbage collection pass now, alongside running servers (docs/gc.md): manifests nothing reaches
  once the time machine window (the namespace's, else DEFAULT_TAG_EXPIRATION) has passed, their blob
  links, then blobs no repository links. Progress on stderr, a summary on stdout.

  --dry-run              list what would go (one line each) and remove nothing
  --repository NS/REPO   only this repository's manifests and links (then the unlinked blobs)`;

/** A bar on a terminal, one line per phase change elsewhere (logs, CI); storage backfill and verify use it too. */
export function progressWriter(): (progress: { phase: string; done: number; total: number }) => void {
  const tty = process.stderr.isTTY === true;
  let lastPhase = '';
  return ({ phase, done, total }) => {
    if (tty) {
      const width = 30;
      const filled = total === 0 ? width : Math.round((done / total) * width);
      process.stderr.write(`\r${phase.padEnd(12)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
      if (done >= total) process.stderr.write('\n');
    } else if (phase !== lastPhase || done >= total) {
      process.stderr.write(`${phase}: ${done}/${total}\n`);
    }
    lastPhase = phase;
  };
}

function summaryLine(summary: GcSummary, dryRun: boolean): string {
  const verb = dryRun ? 'would delete' : 'deleted';
  return `${verb} ${summary.manifests} manifests, ${summary.links} blob links, ${summary.expiredTagLifetimes} expired tag lifetimes, ` +
    `${summary.blobs} blobs (${summary.bytes} bytes) in ${summary.repositories} repositories` +
    (summary.skipped > 0 ? ` (${summary.skipped} left to another instance collecting them)` : '') +
    ` in ${(summary.durationMs / 1000).toFixed(1)} s\n`;
}

/** `quayside gc`. */
export async function runGcCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('gc', argv, {
    config: { type: 'string' },
    'config-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    repository: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const name = values.repository;
  if (name !== undefined) {
    const problem = repositoryNameProblem(name);
    if (problem !== undefined) throw new CliError(`quayside gc: --repository ${JSON.stringify(name)}: ${problem}`, 2);
  }
  const checked = await resolveConfig({ file: values.config, dir: values['config-dir'] }, resolveDataDir(values['data-dir']));
  const database = await connectDatabase(checked);
  try {
    await ensureSchema(database, true, (line) => process.stderr.write(`${line}\n`));
    const metadata = createMetadata(database);
    let repositoryId: number | undefined;
    if (name !== undefined) {
      const repository = await metadata.repositories.getRepository(name);
      if (repository === undefined) throw new CliError(`quayside gc: no repository named ${JSON.stringify(name)}`);
      repositoryId = repository.id;
    }
    const quiet = { info: () => undefined, warn: (object: object, message: string) => process.stderr.write(`${message}: ${JSON.stringify(object)}\n`) };
    // Every location: a collected blob is deleted from each one that holds it.
    const storage = await openDistributedStorage(checked, database, quiet);
    try {
      const dryRun = values['dry-run'];
      const { intervalMs: _interval, ...timings } = gcOptionsFrom(checked.config);
      const summary = await runGcPass(metadata, storage, quiet, {
        ...timings,
        holder: `cli:${hostname()}:${process.pid}`,
        leaseMs: 5 * 60 * 1000,
        dryRun,
        ...(repositoryId !== undefined && { repositoryId }),
        onProgress: progressWriter(),
        onItem: (item) => {
          if (!dryRun) return;
          const size = item.size === undefined ? '' : ` ${item.size} bytes`;
          const where = item.repositoryId === undefined ? '' : ` repository ${item.repositoryId}`;
          process.stdout.write(`${item.kind} ${item.digest}${where}${size}\n`);
        },
      });
      process.stdout.write(summaryLine(summary, dryRun));
    } finally {
      await storage.close?.().catch(() => undefined);
    }
  } finally {
    await database.close();
  }
  return 0;
}
