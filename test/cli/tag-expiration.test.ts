// `quayside user|org tag-expiration NAME WINDOW`: the namespace's time machine window, checked in the database
// the CLI wrote, with its refusals (one line each).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { assertOneLineFailure, runQuayside } from '../helpers/cli.js';
import type { RunResult } from '../helpers/processes.js';

let work: string;
let dataDir: string;
let config: string;

function quayside(...args: string[]): Promise<RunResult> {
  return runQuayside(work, ...args, '--config', config, '--data-dir', dataDir);
}

function ok(result: RunResult): string {
  assert.equal(result.code, 0, `exit ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`);
  return result.stdout;
}

/** The stored window of an account, read from the embedded database the CLI wrote. */
async function storedWindow(name: string): Promise<number | null> {
  const database = await openDatabase({ uri: `sqlite:///${join(dataDir, 'quayside.db')}` });
  try {
    const accounts = createAccountMetadata(database);
    const account = await accounts.accounts.getAccount(name);
    assert.ok(account, `${name} exists`);
    return await accounts.accounts.getTagExpiration(account.id);
  } finally {
    await database.close();
  }
}

describe('quayside user|org tag-expiration', () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-cli-tag-expiration-'));
    dataDir = join(work, 'data');
    config = join(work, 'config.yaml');
    await writeFile(config, 'DEFAULT_TAG_EXPIRATION: 2w\nTAG_EXPIRATION_OPTIONS: [0s, 1d, 1w, 2w, 4w]\n');
    ok(await quayside('user', 'create', 'alice', '--init'));
    ok(await quayside('org', 'create', 'acme', '--owner', 'alice'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("sets an organization's and a user's window, and resets one to the default", async () => {
    assert.equal(ok(await quayside('org', 'tag-expiration', 'acme', '1w')), 'namespace acme: time machine window 1w (604800 s)\n');
    assert.equal(await storedWindow('acme'), 604_800);
    assert.equal(ok(await quayside('user', 'tag-expiration', 'alice', '0s')), 'namespace alice: time machine window 0s (0 s)\n');
    assert.equal(await storedWindow('alice'), 0);
    assert.equal(ok(await quayside('user', 'tag-expiration', 'alice', 'default')), 'namespace alice: time machine window 2w (1209600 s), DEFAULT_TAG_EXPIRATION\n');
    assert.equal(await storedWindow('alice'), null);
  });

  it('refuses a window outside TAG_EXPIRATION_OPTIONS, a malformed one, the wrong kind of account, a missing argument', async () => {
    assertOneLineFailure(await quayside('org', 'tag-expiration', 'acme', '3d'), 1, /3d is not one of TAG_EXPIRATION_OPTIONS \(0s, 1d, 1w, 2w, 4w\)/);
    assertOneLineFailure(await quayside('org', 'tag-expiration', 'acme', 'forever'), 1, /WINDOW must be a duration/);
    assertOneLineFailure(await quayside('org', 'tag-expiration', 'alice', '1w'), 1, /"alice" is a user, not an organization/);
    assertOneLineFailure(await quayside('user', 'tag-expiration', 'nobody', '1w'), 1, /no user named "nobody"/);
    assertOneLineFailure(await quayside('org', 'tag-expiration', 'acme'), 2, /missing WINDOW/);
    assert.equal(await storedWindow('acme'), 604_800, 'nothing changed');
  });
});
