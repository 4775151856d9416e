// `node dist/test/helpers/object-storage/main.js <description.json> [--second]`: starts the object-storage
// server for a whole test run (scripts/test.sh), or with --second the independent tempauth-only Swift cluster
// of the geo-replication tests, writes its description to the file once everything answers, and keeps the
// daemons running until SIGTERM or SIGINT, when it stops them and removes its scratch directory.
import { rename, rm, writeFile } from 'node:fs/promises';
import { startObjectStorage, startTempauthSwift, type RunningObjectStorage, type SwiftClusterDescription } from './server.js';

async function main(): Promise<void> {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: main.js <description.json> [--second]\n');
    process.exit(2);
  }
  const started = Date.now();
  const isSecond = process.argv[3] === '--second';
  let running: RunningObjectStorage<SwiftClusterDescription>;
  let summary: string;
  if (isSecond) {
    running = await startTempauthSwift();
    summary = `second Swift cluster: proxy ${running.description.proxyUrl} (tempauth)`;
  } else {
    const full = await startObjectStorage();
    running = full;
    summary = `object storage: Swift proxy ${full.description.proxyUrl}, Keystone ${full.description.keystone.authUrl}`;
  }
  await writeFile(`${file}.tmp`, JSON.stringify(running.description, null, 2));
  await rename(`${file}.tmp`, file);
  process.stdout.write(`${summary} (ready in ${Math.round((Date.now() - started) / 1000)} s)\n`);
  const shutdown = () => {
    void running
      .stop()
      .then(() => rm(file, { force: true }))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // Keeps the event loop alive until a signal comes.
  setInterval(() => undefined, 1 << 30);
}

main().catch((error: unknown) => {
  process.stderr.write(`object storage: cannot start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
