// Runs one GC pass whose first storage delete never returns (announced on stdout), so the test can SIGKILL
// this process in the middle of a blob's removal: after the repository sweep committed, inside the blob's
// transaction. Arguments: DB URI, storage root. The clock is three hours ahead (past the grace period).
import { openDatabase } from '../../src/db/database.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { runGcPass } from '../../src/gc/pass.js';
import { LocalBlobStore } from '../../src/storage/local.js';

const [uri, root] = process.argv.slice(2);
const database = await openDatabase({ uri: uri! });
const storage = new LocalBlobStore(root!);
storage.delete = async (digest: string) => {
  process.stdout.write(`deleting ${digest}\n`);
  await new Promise(() => undefined);
};
const quiet = { info: () => undefined, warn: () => undefined };
await runGcPass(createMetadata(database), storage, quiet, {
  timeMachineMs: 0,
  graceMs: 3_600_000,
  holder: 'crashing',
  leaseMs: 1,
  now: () => Date.now() + 3 * 3_600_000,
});
