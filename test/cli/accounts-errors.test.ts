// Bad input to `quayside user|org|robot|repo`: each kind gets exactly one stderr line and a non-zero exit
// (2 for a command line that cannot be parsed, 1 for a request the data refuses), never a stack trace.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { assertOneLineFailure, runQuayside, runQuaysideWithInput } from '../helpers/cli.js';
import type { RunResult } from '../helpers/processes.js';

let work: string;
let dataDir: string;

/** Runs the CLI on the prepared (migrated) data dir. */
function quayside(...args: string[]): Promise<RunResult> {
  return runQuayside(work, ...args, '--data-dir', dataDir);
}

function quaysideWithInput(input: string, ...args: string[]): Promise<RunResult> {
  return runQuaysideWithInput(work, input, ...args, '--data-dir', dataDir);
}

async function mustSucceed(promise: Promise<RunResult>): Promise<void> {
  const result = await promise;
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'quayside-cli-accounts-errors-'));
  dataDir = join(work, 'data');
  // Fixtures (this also migrates, so that later failures print nothing but their one line).
  await mustSucceed(quayside('user', 'create', 'alice', '--init'));
  await mustSucceed(quayside('org', 'create', 'acme', '--owner', 'alice'));
  await mustSucceed(quayside('robot', 'create', 'acme', 'ci'));
  const database = await openDatabase({ uri: `sqlite:///${join(dataDir, 'quayside.db')}` });
  try {
    await createMetadata(database).repositories.createRepository('acme/app', 'private');
    await createMetadata(database).repositories.createRepository('alice/tool', 'private');
  } finally {
    await database.close();
  }
});
after(() => rm(work, { recursive: true, force: true }));

describe('usage errors exit 2 before touching the database', () => {
  it('an unknown action', async () => {
    assertOneLineFailure(await quayside('user', 'frobnicate'), 2, /quayside user: unknown action "frobnicate"/, /create/);
    assertOneLineFailure(await quayside('robot', 'rename', 'acme', 'ci'), 2, /unknown action "rename"/);
  });

  it('missing arguments, naming what is missing', async () => {
    assertOneLineFailure(await quayside('user', 'create'), 2, /quayside user create: missing NAME/, /usage: quayside user create NAME/);
    assertOneLineFailure(await quayside('robot', 'create', 'acme'), 2, /missing SHORTNAME/);
    assertOneLineFailure(await quayside('repo', 'set-visibility', 'acme/app'), 2, /missing public\|private/);
    assertOneLineFailure(await quayside('org', 'create', 'initech'), 2, /quayside org create: missing --owner USER/);
  });

  it('an extra argument, an unknown flag, or a flag of another action', async () => {
    assertOneLineFailure(await quayside('user', 'list', 'extra'), 2, /unexpected argument "extra"/);
    assertOneLineFailure(await quayside('user', 'create', 'dave', '--frobnicate'), 2, /quayside user: .*--frobnicate/);
    assertOneLineFailure(await quayside('user', 'delete', 'alice', '--email', 'a@example.com'), 2, /--email is not an option of this action/);
  });

  it('a visibility other than public or private', async () => {
    assertOneLineFailure(await quayside('repo', 'set-visibility', 'acme/app', 'internal'), 2, /visibility must be public or private, not "internal"/);
  });

  it('bad input is refused before a database is created', async () => {
    const untouched = join(work, 'untouched');
    assertOneLineFailure(await runQuayside(work, 'user', 'create', 'Bad Name', '--data-dir', untouched), 1, /"Bad Name"/);
    assertOneLineFailure(await runQuayside(work, 'user', 'frobnicate', '--data-dir', untouched), 2);
    assert.ok(!existsSync(join(untouched, 'quayside.db')), 'no database was created for refused input');
  });
});

describe('refused values exit 1 with the reason', () => {
  it('bad user, organization, robot and repository names', async () => {
    assertOneLineFailure(await quayside('user', 'create', 'Bad Name'), 1, /quayside user create: "Bad Name": name must be lower-case/);
    assertOneLineFailure(await quayside('user', 'create', 'eve+bot'), 1, /"eve\+bot": .*"\+"/);
    assertOneLineFailure(await quayside('org', 'create', 'x', '--owner', 'alice'), 1, /"x": name must be 2 to 255 characters/);
    assertOneLineFailure(await quayside('robot', 'create', 'acme', 'CI-Bot'), 1, /"CI-Bot": robot name must be/);
    assertOneLineFailure(await quayside('repo', 'set-visibility', 'Acme/App', 'public'), 1, /"Acme\/App": .*lower case/);
    // A line break in a name stays inside the one line (quoted), so it cannot forge a second message.
    assertOneLineFailure(await quayside('user', 'create', 'two\nlines'), 1, /"two\\nlines"/);
    assertOneLineFailure(await quayside('user', 'delete', 'no\nbody'), 1, /no user named "no\\nbody"/);
  });

  it('a bad e-mail address', async () => {
    assertOneLineFailure(await quayside('user', 'create', 'dave', '--email', 'not-an-address'), 1, /"not-an-address" is not an e-mail address/);
  });

  it('a password the policy refuses, without echoing it', async () => {
    const line = assertOneLineFailure(await quaysideWithInput('shorty\n', 'user', 'create', 'dave', '--password-stdin'), 1, /at least 8 characters/);
    assert.doesNotMatch(line, /shorty/);
    assertOneLineFailure(await quaysideWithInput('shorty', 'user', 'passwd', 'alice', '--password-stdin'), 1, /at least 8 characters/);
  });

  it('--password-stdin with nothing (or only a newline) on stdin', async () => {
    // runQuayside gives the child an empty stdin (/dev/null).
    assertOneLineFailure(await quayside('user', 'create', 'dave', '--password-stdin'), 1, /--password-stdin read an empty password/);
    assertOneLineFailure(await quaysideWithInput('\n', 'user', 'passwd', 'alice', '--password-stdin'), 1, /empty password/);
  });

  it('a name that is taken by any kind of account', async () => {
    assertOneLineFailure(await quayside('user', 'create', 'alice'), 1, /quayside user create: .*"alice" already exists/);
    assertOneLineFailure(await quayside('user', 'create', 'acme'), 1, /"acme" already exists/);
    assertOneLineFailure(await quayside('org', 'create', 'alice', '--owner', 'alice'), 1, /"alice" already exists/);
    assertOneLineFailure(await quayside('robot', 'create', 'acme', 'ci'), 1, /"acme\+ci" already exists/);
  });

  it('an unknown user, organization, robot or repository, or one of the wrong kind', async () => {
    assertOneLineFailure(await quaysideWithInput('long enough password', 'user', 'passwd', 'nobody', '--password-stdin'), 1, /no user named "nobody"/);
    assertOneLineFailure(await quayside('user', 'delete', 'nobody'), 1, /no user named "nobody"/);
    assertOneLineFailure(await quayside('user', 'delete', 'acme'), 1, /"acme" is an organization, not a user/);
    assertOneLineFailure(await quayside('org', 'create', 'initech', '--owner', 'nobody'), 1, /no user named "nobody"/);
    assertOneLineFailure(await quayside('org', 'create', 'initech', '--owner', 'acme+ci'), 1, /"acme\+ci" is a robot account, not a user/);
    assertOneLineFailure(await quayside('robot', 'create', 'nobody', 'ci'), 1, /no organization or user named "nobody"/);
    assertOneLineFailure(await quayside('robot', 'list', 'acme+ci'), 1, /is a robot account, not an organization or user/);
    assertOneLineFailure(await quayside('robot', 'regenerate', 'acme', 'nothere'), 1, /no robot account named "acme\+nothere"/);
    assertOneLineFailure(await quayside('robot', 'delete', 'alice', 'ci'), 1, /no robot account named "alice\+ci"/);
    assertOneLineFailure(await quayside('repo', 'set-visibility', 'acme/nothing', 'public'), 1, /no repository named "acme\/nothing"/);
  });

  it('deleting a user that still owns repositories', async () => {
    assertOneLineFailure(await quayside('user', 'delete', 'alice'), 1, /quayside user delete: /, /repositor/);
    const database = await openDatabase({ uri: `sqlite:///${join(dataDir, 'quayside.db')}` });
    try {
      const accounts = createAccountMetadata(database);
      assert.ok(await accounts.accounts.getAccount('alice'), 'alice is still there');
      assert.deepEqual(await accounts.audit.query({ kinds: ['user_delete'] }, { limit: 10 }), [], 'no audit row for a refused delete');
    } finally {
      await database.close();
    }
  });
});

describe('an unreachable database', () => {
  it('one line naming the problem, for a PostgreSQL port that refuses connections', async () => {
    const config = join(work, 'refused.yaml');
    await writeFile(config, 'DB_URI: postgresql://postgres@127.0.0.1:1/quay\n');
    const line = assertOneLineFailure(await runQuayside(work, 'user', 'list', '--config', config), 1, /^database: /, /ECONNREFUSED|refused/);
    assert.match(line, /127\.0\.0\.1:1\b/);
  });

  it('one line for a host name that resolves to several refused addresses', async () => {
    const config = join(work, 'refused-localhost.yaml');
    await writeFile(config, 'DB_URI: postgresql://postgres@localhost:1/quay\n');
    assertOneLineFailure(await runQuayside(work, 'robot', 'list', 'acme', '--config', config), 1, /^database: .*(ECONNREFUSED|refused)/);
  });
});
