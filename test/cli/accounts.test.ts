// `quayside user|org|robot|repo`: what each command changes, checked in the database the CLI wrote (the
// embedded SQLite file, and PostgreSQL through a config.yaml), with its audit row.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyPassword } from '../../src/auth/passwords.js';
import { hashSecret } from '../../src/auth/secrets.js';
import type { AccountMetadata, AuditRecord } from '../../src/db/account-metadata.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { assertOneLineFailure, runQuayside, runQuaysideWithInput } from '../helpers/cli.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import type { RunResult } from '../helpers/processes.js';

let work: string;
let dataDir: string;
let config: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'quayside-cli-accounts-'));
  dataDir = join(work, 'data');
  config = join(work, 'config.yaml');
  // No DB_URI: the embedded SQLite file in the data dir; "root" is a superuser.
  await writeFile(config, 'SUPER_USERS: [root]\nSERVER_HOSTNAME: registry.example.com\n');
});
after(() => rm(work, { recursive: true, force: true }));

/** Runs the CLI on the test's data dir and config. */
function quayside(...args: string[]): Promise<RunResult> {
  return runQuayside(work, ...args, '--config', config, '--data-dir', dataDir);
}

/** The same with `input` on stdin. */
function quaysideWithInput(input: string, ...args: string[]): Promise<RunResult> {
  return runQuaysideWithInput(work, input, ...args, '--config', config, '--data-dir', dataDir);
}

/** Asserts exit 0 and returns stdout. */
function ok(result: RunResult): string {
  assert.equal(result.code, 0, `exit ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`);
  assert.ok(!result.stderr.includes('    at '), result.stderr);
  return result.stdout;
}

/** The value of a "key: value" line of the output. */
function field(stdout: string, key: string): string {
  const match = new RegExp(`^${key}: (.+)$`, 'm').exec(stdout);
  assert.ok(match, `no "${key}:" line in:\n${stdout}`);
  return match[1]!;
}

interface Stores {
  accounts: AccountMetadata;
  metadata: Metadata;
}

/** Opens the SQLite file the CLI wrote (as another process would) for the duration of `check`. */
async function withStores<T>(check: (stores: Stores) => Promise<T>): Promise<T> {
  const database = await openDatabase({ uri: `sqlite:///${join(dataDir, 'quayside.db')}` });
  try {
    return await check({ accounts: createAccountMetadata(database), metadata: createMetadata(database) });
  } finally {
    await database.close();
  }
}

async function auditRows(accounts: AccountMetadata, kind: string): Promise<AuditRecord[]> {
  return accounts.audit.query({ kinds: [kind] }, { limit: 100 });
}

/** The CLI's audit row shape: no performer, no client address, source cli. */
function assertCliAudit(row: AuditRecord | undefined, expected: { namespace: string | null; repository?: string | null; metadata: Record<string, unknown> }): void {
  assert.ok(row, 'audit row written');
  assert.equal(row.performer, null);
  assert.equal(row.clientAddress, null);
  assert.equal(row.namespace, expected.namespace);
  assert.equal(row.repository, expected.repository ?? null);
  assert.equal(row.metadata.source, 'cli');
  for (const [key, value] of Object.entries(expected.metadata)) assert.deepEqual(row.metadata[key], value, `metadata.${key}`);
}

describe('quayside user/org/robot/repo on the embedded default', () => {
  let alicePassword: string;

  it('refuses to create a fresh embedded database unless --init is given, naming where it looked', async () => {
    const refused = await quayside('user', 'create', 'alice');
    const line = assertOneLineFailure(refused, 1, /^database: no registry database at /, /--init/);
    assert.ok(line.includes(join(dataDir, 'quayside.db')), line);
    assert.equal(existsSync(join(dataDir, 'quayside.db')), false, 'nothing was created');
  });

  it('user create generates a password that verifies against the stored bcrypt hash', async () => {
    const result = await quayside('user', 'create', 'alice', '--email', 'alice@example.com', '--init');
    const stdout = ok(result);
    // The first command migrated the fresh data dir; the progress went to stderr, not stdout.
    assert.match(result.stderr, /applied migration 0002_accounts/);
    // It says which database it wrote to (on stderr: stdout is the command's answer).
    assert.ok(result.stderr.split('\n').includes(`database: sqlite ${join(dataDir, 'quayside.db')}`), result.stderr);
    assert.doesNotMatch(stdout, /applied migration/);
    assert.equal(field(stdout, 'user'), 'alice');
    assert.equal(field(stdout, 'email'), 'alice@example.com');
    alicePassword = field(stdout, 'password');
    assert.ok(alicePassword.length >= 20, 'a strong generated password');
    assert.equal(field(stdout, 'superuser'), 'no');
    assert.match(stdout, /quayside user set-superuser alice/, 'a hint how to make it a superuser');

    await withStores(async ({ accounts }) => {
      const alice = await accounts.accounts.getAccount('alice');
      assert.equal(alice?.kind, 'user');
      assert.equal(alice.email, 'alice@example.com');
      assert.equal(alice.enabled, true);
      const secrets = await accounts.accounts.getSecrets(alice.id);
      assert.ok(secrets?.passwordHash, 'a password hash is stored');
      assert.ok(!secrets.passwordHash.includes(alicePassword), 'never the password itself');
      assert.equal(await verifyPassword(alicePassword, secrets.passwordHash), true);
      assert.equal(await verifyPassword(`${alicePassword}x`, secrets.passwordHash), false);
      const rows = await auditRows(accounts, 'user_create');
      assert.equal(rows.length, 1);
      assertCliAudit(rows[0], { namespace: 'alice', metadata: { username: 'alice', email: 'alice@example.com' } });
    });
  });

  it('user create --password-stdin takes the password from stdin and reports a SUPER_USERS member', async () => {
    const stdout = ok(await quaysideWithInput('correct horse battery staple\n', 'user', 'create', 'root', '--password-stdin'));
    assert.equal(field(stdout, 'user'), 'root');
    assert.doesNotMatch(stdout, /^password:/m, 'a given password is not printed');
    assert.match(field(stdout, 'superuser'), /^yes/);
    await withStores(async ({ accounts }) => {
      const root = await accounts.accounts.getAccount('root');
      assert.ok(root);
      assert.equal(root.email, null);
      const hash = (await accounts.accounts.getSecrets(root.id))?.passwordHash ?? '';
      // The trailing newline is not part of the password.
      assert.equal(await verifyPassword('correct horse battery staple', hash), true);
      assert.equal(await verifyPassword('correct horse battery staple\n', hash), false);
    });
  });

  it('user passwd sets a password from stdin or a generated one; the old one stops working', async () => {
    // API sessions as POST /api/v1/signin makes them: alice on two browsers, root on one.
    const future = new Date(Date.now() + 3_600_000);
    await withStores(async ({ accounts }) => {
      const alice = await accounts.accounts.getAccount('alice');
      const root = await accounts.accounts.getAccount('root');
      await accounts.sessions.create(hashSecret('alice-session-1'), alice!.id, future);
      await accounts.sessions.create(hashSecret('alice-session-2'), alice!.id, future);
      await accounts.sessions.create(hashSecret('root-session'), root!.id, future);
    });
    const aliceOut = ok(await quaysideWithInput('a brand new secret', 'user', 'passwd', 'alice', '--password-stdin'));
    assert.equal(field(aliceOut, 'api sessions ended'), '2');
    await withStores(async ({ accounts }) => {
      assert.equal(await accounts.sessions.get(hashSecret('alice-session-1')), undefined, "alice's session rows are gone");
      assert.equal(await accounts.sessions.get(hashSecret('alice-session-2')), undefined);
      assert.ok(await accounts.sessions.get(hashSecret('root-session')), "root's session is untouched");
    });
    const rootOut = ok(await quayside('user', 'passwd', 'root'));
    const generated = field(rootOut, 'password');
    assert.equal(field(rootOut, 'api sessions ended'), '1');
    await withStores(async ({ accounts }) => {
      assert.equal(await accounts.sessions.get(hashSecret('root-session')), undefined);
      const alice = await accounts.accounts.getAccount('alice');
      const aliceHash = (await accounts.accounts.getSecrets(alice!.id))?.passwordHash ?? '';
      assert.equal(await verifyPassword('a brand new secret', aliceHash), true);
      assert.equal(await verifyPassword(alicePassword, aliceHash), false);
      const root = await accounts.accounts.getAccount('root');
      const rootHash = (await accounts.accounts.getSecrets(root!.id))?.passwordHash ?? '';
      assert.equal(await verifyPassword(generated, rootHash), true);
      assert.equal(await verifyPassword('correct horse battery staple', rootHash), false);
      const rows = await auditRows(accounts, 'user_change_password');
      assert.deepEqual(rows.map((row) => row.namespace).sort(), ['alice', 'root']);
      assertCliAudit(rows.find((row) => row.namespace === 'alice'), { namespace: 'alice', metadata: { username: 'alice' } });
    });
  });

  it('user list shows name, e-mail, enabled and superuser', async () => {
    const lines = ok(await quayside('user', 'list')).trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+EMAIL\s+ENABLED\s+SUPERUSER$/);
    assert.match(lines.find((line) => line.startsWith('alice ')) ?? '', /^alice\s+alice@example\.com\s+yes\s+no$/);
    assert.match(lines.find((line) => line.startsWith('root ')) ?? '', /^root\s+-\s+yes\s+yes$/);
    assert.equal(lines.length, 3);
  });

  it('org create makes the owner a member of the owners team', async () => {
    const stdout = ok(await quayside('org', 'create', 'acme', '--owner', 'alice', '--email', 'ops@acme.example'));
    assert.equal(field(stdout, 'organization'), 'acme');
    await withStores(async ({ accounts }) => {
      const acme = await accounts.accounts.getAccount('acme');
      assert.equal(acme?.kind, 'organization');
      assert.equal(acme.email, 'ops@acme.example');
      const owners = await accounts.teams.getTeam(acme.id, 'owners');
      assert.equal(owners?.role, 'admin');
      assert.deepEqual((await accounts.teams.listMembers(owners.id)).map((member) => member.name), ['alice']);
      const rows = await auditRows(accounts, 'org_create');
      assert.equal(rows.length, 1);
      assertCliAudit(rows[0], { namespace: 'acme', metadata: { owner: 'alice' } });
    });
  });

  it('robot create prints the token once; regenerate replaces it; list and delete', async () => {
    const created = ok(await quayside('robot', 'create', 'acme', 'ci', '--description', 'CI pipeline'));
    assert.equal(field(created, 'name'), 'acme+ci');
    const token = field(created, 'token');
    assert.equal(created.split(token).length, 2, 'the token appears exactly once');
    assert.match(created, /docker login --username 'acme\+ci' --password-stdin registry\.example\.com/);
    assert.match(created, /podman login/);

    const listed = ok(await quayside('robot', 'list', 'acme'));
    assert.match(listed, /^acme\+ci\s+CI pipeline\s+\d{4}-\d\d-\d\dT/m);
    assert.doesNotMatch(listed, new RegExp(token), 'list never shows a token');

    const regenerated = ok(await quayside('robot', 'regenerate', 'acme', 'ci'));
    assert.equal(field(regenerated, 'name'), 'acme+ci');
    const newToken = field(regenerated, 'token');
    assert.notEqual(newToken, token);

    // A user's robot too.
    assert.equal(field(ok(await quayside('robot', 'create', 'alice', 'deploy')), 'name'), 'alice+deploy');

    await withStores(async ({ accounts }) => {
      const robot = await accounts.accounts.getAccount('acme+ci');
      assert.equal(robot?.kind, 'robot');
      assert.equal(robot.description, 'CI pipeline');
      const acme = await accounts.accounts.getAccount('acme');
      assert.equal(robot.ownerId, acme?.id);
      const { tokenHash } = (await accounts.accounts.getSecrets(robot.id)) ?? {};
      assert.equal(tokenHash, hashSecret(newToken));
      assert.notEqual(tokenHash, hashSecret(token), 'the old token no longer matches');
      assertCliAudit((await auditRows(accounts, 'create_robot')).find((row) => row.namespace === 'acme'), {
        namespace: 'acme',
        metadata: { robot: 'acme+ci', description: 'CI pipeline' },
      });
      const regenerations = await auditRows(accounts, 'regenerate_robot_token');
      assert.equal(regenerations.length, 1);
      assertCliAudit(regenerations[0], { namespace: 'acme', metadata: { robot: 'acme+ci' } });
      const deploy = await accounts.accounts.getAccount('alice+deploy');
      assert.equal(deploy?.ownerId, (await accounts.accounts.getAccount('alice'))?.id);
    });

    assert.match(ok(await quayside('robot', 'delete', 'acme', 'ci')), /deleted robot acme\+ci/);
    assert.doesNotMatch(ok(await quayside('robot', 'list', 'acme')), /acme\+ci/);
    await withStores(async ({ accounts }) => {
      assert.equal(await accounts.accounts.getAccount('acme+ci'), undefined);
      const rows = await auditRows(accounts, 'delete_robot');
      assert.equal(rows.length, 1);
      assertCliAudit(rows[0], { namespace: 'acme', metadata: { robot: 'acme+ci' } });
    });
  });

  it('repo set-visibility changes the repository row and audits only real changes', async () => {
    await withStores(async ({ metadata }) => {
      const { repository } = await metadata.repositories.createRepository('acme/app', 'private');
      assert.equal(repository.visibility, 'private');
    });
    assert.match(ok(await quayside('repo', 'set-visibility', 'acme/app', 'public')), /acme\/app is now public/);
    assert.match(ok(await quayside('repo', 'set-visibility', 'acme/app', 'public')), /already public/);
    await withStores(async ({ accounts, metadata }) => {
      assert.equal((await metadata.repositories.getRepository('acme/app'))?.visibility, 'public');
      const rows = await auditRows(accounts, 'change_repo_visibility');
      assert.equal(rows.length, 1, 'the no-op run wrote no row');
      assertCliAudit(rows[0], { namespace: 'acme', repository: 'acme/app', metadata: { visibility: 'public' } });
    });
    ok(await quayside('repo', 'set-visibility', 'acme/app', 'private'));
    await withStores(async ({ metadata }) => {
      assert.equal((await metadata.repositories.getRepository('acme/app'))?.visibility, 'private');
    });
  });

  it('user delete removes the user and its robots', async () => {
    ok(await quayside('user', 'create', 'bob'));
    ok(await quayside('robot', 'create', 'bob', 'builder'));
    assert.match(ok(await quayside('user', 'delete', 'bob')), /deleted user bob/);
    await withStores(async ({ accounts }) => {
      assert.equal(await accounts.accounts.getAccount('bob'), undefined);
      assert.equal(await accounts.accounts.getAccount('bob+builder'), undefined);
      const rows = await auditRows(accounts, 'user_delete');
      assert.equal(rows.length, 1);
      assertCliAudit(rows[0], { namespace: 'bob', metadata: { username: 'bob' } });
    });
    assert.doesNotMatch(ok(await quayside('user', 'list')), /^bob\b/m);
  });

  it('every command has --help (exit 0) and quayside --help lists them', async () => {
    const top = ok(await runQuayside(work, '--help'));
    for (const command of ['user', 'org', 'robot', 'repo']) assert.match(top, new RegExp(`^  ${command} `, 'm'));
    assert.match(ok(await runQuayside(work, 'user', '--help')), /quayside user create NAME \[--email E\] \[--password-stdin\]/);
    assert.match(ok(await runQuayside(work, 'org', 'create', '--help')), /--owner USER/);
    assert.match(ok(await runQuayside(work, 'robot', '-h')), /quayside robot regenerate NAMESPACE SHORTNAME/);
    assert.match(ok(await runQuayside(work, 'repo', '--help')), /set-visibility NAMESPACE\/REPO public\|private/);
  });
});

describe('quayside user/org/robot on PostgreSQL (DB_URI in config.yaml)', () => {
  let fresh: FreshDatabase;
  let pgConfig: string;
  let pgDataDir: string;
  before(async () => {
    // Not migrated: the first command migrates it, as on the embedded default.
    fresh = await freshDatabase('postgres', { migrate: false });
    pgConfig = join(work, 'postgres.yaml');
    pgDataDir = join(work, 'pg-data');
    await mkdir(pgDataDir);
    await writeFile(pgConfig, `DB_URI: ${fresh.uri}\nSUPER_USERS: [carol]\n`);
  });
  after(() => fresh.drop());

  const pg = (...args: string[]) => runQuayside(work, ...args, '--config', pgConfig, '--data-dir', pgDataDir);

  it('creates a user, an organization and a robot in the PostgreSQL database', async () => {
    const user = await pg('user', 'create', 'carol');
    const password = field(ok(user), 'password');
    assert.match(user.stderr, /applied migration 0002_accounts/);
    // A server database is named by host and database, never with its password.
    assert.match(user.stderr, /^database: postgres database \S+ on 127\.0\.0\.1:5432 as postgres$/m);
    assert.match(field(user.stdout, 'superuser'), /^yes/);
    ok(await pg('org', 'create', 'initech', '--owner', 'carol'));
    const token = field(ok(await pg('robot', 'create', 'initech', 'deployer')), 'token');
    assert.match(ok(await pg('user', 'list')), /^carol\s+-\s+yes\s+yes$/m);

    const database: Database = fresh.database;
    const accounts = createAccountMetadata(database);
    const carol = await accounts.accounts.getAccount('carol');
    assert.ok(carol);
    assert.equal(await verifyPassword(password, (await accounts.accounts.getSecrets(carol.id))?.passwordHash ?? ''), true);
    assert.equal((await accounts.accounts.getAccount('initech'))?.kind, 'organization');
    const robot = await accounts.accounts.getAccount('initech+deployer');
    assert.ok(robot);
    assert.equal((await accounts.accounts.getSecrets(robot.id))?.tokenHash, hashSecret(token));
    const kinds = (await accounts.audit.query({}, { limit: 10 })).map((row) => row.kind).sort();
    assert.deepEqual(kinds, ['create_robot', 'org_create', 'user_create']);
    // The server database was used: no embedded SQLite file appeared.
    assert.ok(!existsSync(join(pgDataDir, 'quayside.db')));
  });
});
