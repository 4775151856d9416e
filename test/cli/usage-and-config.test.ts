// The CLI's argument and config.yaml checks, through the built binary: every kind of bad input gets a
// non-zero exit and one readable stderr line, never a stack trace.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertOneLineFailure, runQuayside } from '../helpers/cli.js';
import type { RunResult } from '../helpers/processes.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'quayside-cli-'));
});
after(() => rm(work, { recursive: true, force: true }));

/** Runs the built CLI in the temp dir. */
function quayside(...args: string[]): Promise<RunResult> {
  return runQuayside(work, ...args);
}

describe('quayside (top level)', () => {
  it('with no command prints the usage and exits 2', async () => {
    const result = await quayside();
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stdout, /^usage: quayside <command>/);
    assert.match(result.stdout, /serve/);
  });

  it('--help prints the usage and exits 0', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const result = await quayside(flag);
      assert.equal(result.code, 0, `${flag}: ${result.stderr}`);
      assert.match(result.stdout, /^usage: quayside <command>/, flag);
      assert.equal(result.stderr, '', flag);
    }
  });

  it('refuses an unknown command with one line naming it (exit 2)', async () => {
    assertOneLineFailure(await quayside('frobnicate'), 2, /unknown command "frobnicate"/);
  });

  it('serve --help exits 0 and lists the options', async () => {
    const result = await quayside('serve', '--help');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /--no-migrate/);
  });
});

describe('quayside serve (bad arguments)', () => {
  it('refuses an unknown flag with one line naming it (exit 2)', async () => {
    assertOneLineFailure(await quayside('serve', '--bogus-flag'), 2, /^quayside serve: /, /--bogus-flag/);
  });

  it('refuses a flag that needs a value when none is given (exit 2)', async () => {
    assertOneLineFailure(await quayside('serve', '--port'), 2, /^quayside serve: /, /--port/);
  });

  for (const bad of ['70000', 'abc', '-1', '80.5']) {
    it(`refuses --port ${bad} with one line naming the port (exit 2)`, async () => {
      assertOneLineFailure(await quayside('serve', `--port=${bad}`), 2, /port/, new RegExp(`"${bad.replace('.', '\\.')}"`));
    });
  }

  it('refuses a bad QUAYSIDE_PORT from the environment the same way', async () => {
    const previous = process.env.QUAYSIDE_PORT;
    process.env.QUAYSIDE_PORT = 'eighty';
    try {
      assertOneLineFailure(await quayside('serve'), 2, /port/, /"eighty"/);
    } finally {
      if (previous === undefined) delete process.env.QUAYSIDE_PORT;
      else process.env.QUAYSIDE_PORT = previous;
    }
  });

  it('reports a port already in use as one line', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const result = await quayside('serve', '--address', '127.0.0.1', '--port', String(port), '--data-dir', join(work, 'inuse'));
      assertOneLineFailure(result, 1, /^serve: cannot listen on 127\.0\.0\.1:\d+: the address is already in use$/, new RegExp(`:${port}\\b`));
      // Refused before any side effect: no database was created (so none migrated), no storage directory made.
      assert.equal(existsSync(join(work, 'inuse')), false, 'nothing created in the data dir');
    } finally {
      await new Promise<void>((done) => blocker.close(() => done()));
    }
  });
});

describe('quayside db / config (bad arguments)', () => {
  it('db with an unknown action: one line, exit 2', async () => {
    assertOneLineFailure(await quayside('db', 'rollback'), 2, /unknown action "rollback"/);
  });

  it('db and config without an action print their usage and exit 2', async () => {
    for (const command of ['db', 'config']) {
      const result = await quayside(command);
      assert.equal(result.code, 2, command);
      assert.match(result.stdout, /^usage: quayside /, command);
    }
  });

  it('config validate with an unknown flag: one line, exit 2', async () => {
    assertOneLineFailure(await quayside('config', 'validate', 'x.yaml', '--nope'), 2, /^quayside config: /, /--nope/);
  });
});

describe('quayside config validate', () => {
  const file = async (name: string, text: string) => {
    const path = join(work, name);
    await writeFile(path, text);
    return path;
  };

  it('accepts a valid Quay config: exit 0, prints valid, nothing on stderr', async () => {
    const path = await file(
      'valid.yaml',
      [
        'SERVER_HOSTNAME: quay.example.com:8443',
        'PREFERRED_URL_SCHEME: https',
        'DB_URI: postgresql://quay:secret@db.example.com:5432/quay',
        'DB_CONNECTION_ARGS:',
        '  max_connections: 20',
        'DISTRIBUTED_STORAGE_CONFIG:',
        '  default:',
        '    - LocalStorage',
        '    - storage_path: /datastorage/registry',
        'DISTRIBUTED_STORAGE_PREFERENCE: [default]',
        'DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: []',
        'FEATURE_REFERRERS_API: true',
        'MAXIMUM_LAYER_SIZE: 20G',
        '',
      ].join('\n'),
    );
    const result = await quayside('config', 'validate', path);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /: valid$/m);
    assert.equal(result.stderr, '');
    // --strict has nothing to complain about either.
    assert.equal((await quayside('config', 'validate', path, '--strict')).code, 0);
  });

  it('refuses an unknown key with one line naming the closest known key', async () => {
    const path = await file('typo.yaml', 'SERVER_HOSTNAME: localhost:5000\nDB_URl: postgresql://quay@db.example.com/quay\n');
    assertOneLineFailure(await quayside('config', 'validate', path), 1, /typo\.yaml: unknown key DB_URl \(did you mean DB_URI\?\)$/);
    const anonymous = await file('anonymous.yaml', 'FEATURE_ANONYMOUS_ACCES: false\n');
    assertOneLineFailure(await quayside('config', 'validate', anonymous), 1, /unknown key FEATURE_ANONYMOUS_ACCES \(did you mean FEATURE_ANONYMOUS_ACCESS\?\)$/);
    // serve refuses it with the very same line, before creating anything.
    const dataDir = join(work, 'typo-data');
    const served = await quayside('serve', '--port', '0', '--config', path, '--data-dir', dataDir);
    assertOneLineFailure(served, 1, /typo\.yaml: unknown key DB_URl \(did you mean DB_URI\?\)$/);
    assert.equal(existsSync(dataDir), false);
  });

  it('warns when geo-replication is switched on with nowhere to replicate to, and refuses a lease too short', async () => {
    const locations = 'DISTRIBUTED_STORAGE_CONFIG:\n  us: [LocalStorage, {storage_path: /srv/us}]\n  eu: [LocalStorage, {storage_path: /srv/eu}]\nDISTRIBUTED_STORAGE_PREFERENCE: [us, eu]\n';
    const nowhere = await file('replication-nowhere.yaml', `${locations}FEATURE_STORAGE_REPLICATION: true\n`);
    const result = await quayside('config', 'validate', nowhere);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stderr.split('\n').filter((line) => line !== ''), [
      'warning: FEATURE_STORAGE_REPLICATION is true but DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS is empty: pushed blobs are not replicated',
    ]);
    const complete = await file('replication-ok.yaml', `${locations}FEATURE_STORAGE_REPLICATION: true\nDISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [us, eu]\n`);
    const ok = await quayside('config', 'validate', complete);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, '');
    const shortLease = await file('replication-lease.yaml', `${locations}STORAGE_REPLICATION_LEASE_S: 1\n`);
    assertOneLineFailure(await quayside('config', 'validate', shortLease), 1, /STORAGE_REPLICATION_LEASE_S/);
    const unknownTarget = await file('replication-target.yaml', `${locations}DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [ap]\n`);
    assertOneLineFailure(await quayside('config', 'validate', unknownTarget), 1, /storage location "ap" is not in DISTRIBUTED_STORAGE_CONFIG/);
  });

  it('warns by name about what it accepts but does not use, and fails under --strict', async () => {
    const path = await file(
      'unused.yaml',
      [
        'FEATURE_BUILD_SUPPORT: true',
        'DB_CONNECTION_ARGS: {max_connections: 5, threadlocals: true}',
        'DISTRIBUTED_STORAGE_CONFIG:',
        '  here: [LocalStorage, {storage_path: /srv/here}]',
        '  there: [LocalStorage, {storage_path: /srv/there}]',
        'DISTRIBUTED_STORAGE_PREFERENCE: [here, there]',
        'DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [there]',
        '',
      ].join('\n'),
    );
    const lenient = await quayside('config', 'validate', path);
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.match(lenient.stdout, /: valid$/m);
    assert.deepEqual(lenient.stderr.split('\n').filter((line) => line !== ''), [
      'warning: FEATURE_BUILD_SUPPORT is a Quay key Quayside does not use yet',
      'warning: DB_CONNECTION_ARGS.max_connections has no effect on SQLite (one connection serves each process)',
      'warning: DB_CONNECTION_ARGS.threadlocals is a Quay (peewee) setting that has no effect in Quayside',
      'warning: DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS (there) has no effect while FEATURE_STORAGE_REPLICATION is false: pushed blobs are not replicated',
    ]);

    const strict = await quayside('config', 'validate', path, '--strict');
    assert.notEqual(strict.code, 0, strict.stdout);
    assert.doesNotMatch(strict.stdout, /valid/);
    assert.match(strict.stderr, /unused\.yaml: 4 warning\(s\) under --strict/);
    assert.ok(!strict.stderr.includes('    at '), strict.stderr);
  });

  for (const [name, yaml, pattern] of [
    ['S3Storage without storage_path', 'DISTRIBUTED_STORAGE_CONFIG:\n  s3: [S3Storage, {s3_bucket: b}]\nDISTRIBUTED_STORAGE_PREFERENCE: [s3]\n', /DISTRIBUTED_STORAGE_CONFIG\.s3: S3Storage: storage_path: required \(expected a string\)$/],
    ['SwiftStorage without its keys (not preferred)', 'DISTRIBUTED_STORAGE_CONFIG:\n  local: [LocalStorage, {storage_path: /srv/x}]\n  swift: [SwiftStorage, {}]\nDISTRIBUTED_STORAGE_PREFERENCE: [local]\n', /DISTRIBUTED_STORAGE_CONFIG\.swift: SwiftStorage: auth_url: required/],
    ['AzureStorage (not in this build)', 'DISTRIBUTED_STORAGE_CONFIG:\n  az: [AzureStorage, {azure_container: c}]\nDISTRIBUTED_STORAGE_PREFERENCE: [az]\n', /DISTRIBUTED_STORAGE_CONFIG\.az: storage driver AzureStorage is not available in this version of Quayside \(available: LocalStorage, S3Storage, GoogleCloudStorage, RadosGWStorage, SwiftStorage\)$/],
    ['an unknown driver', 'DISTRIBUTED_STORAGE_CONFIG:\n  x: [FloppyStorage, {}]\nDISTRIBUTED_STORAGE_PREFERENCE: [x]\n', /DISTRIBUTED_STORAGE_CONFIG\.x: unknown storage driver "FloppyStorage"/],
    ['a mongodb DB_URI', 'DB_URI: mongodb://db.example.com/quay\n', /DB_URI scheme "mongodb" is not supported/],
    ['a DB_CONNECTION_ARGS key of another dialect', 'DB_URI: postgresql://quay@db.example.com/quay\nDB_CONNECTION_ARGS: {ssl: {ca: x}}\n', /DB_CONNECTION_ARGS: "ssl" is not supported for postgres/],
  ] as const) {
    it(`refuses ${name} with the same line as serve`, async () => {
      const path = await file(`refused-${name.replace(/\W+/g, '-')}.yaml`, yaml);
      const validated = assertOneLineFailure(await quayside('config', 'validate', path), 1, pattern);
      const dataDir = join(work, `refused-data-${name.replace(/\W+/g, '-')}`);
      const served = assertOneLineFailure(await quayside('serve', '--port', '0', '--config', path, '--data-dir', dataDir), 1, pattern);
      assert.equal(served, validated, 'serve and config validate say the same');
      assert.equal(existsSync(dataDir), false, 'serve created nothing');
    });
  }

  const invalid: { name: string; text?: string; patterns: RegExp[] }[] = [
    { name: 'invalid YAML', text: 'SERVER_HOSTNAME: [unclosed\nDB_URI: x\n', patterns: [/invalid YAML/, /line \d+/] },
    { name: 'a duplicate key', text: 'DB_URI: sqlite:///a.db\nDB_URI: sqlite:///b.db\n', patterns: [/invalid YAML/, /DB_URI is given twice/, /line 2\b/] },
    { name: 'a wrong type', text: 'FEATURE_REFERRERS_API: maybe\n', patterns: [/FEATURE_REFERRERS_API/, /"maybe"/] },
    { name: 'a malformed size', text: 'MAXIMUM_LAYER_SIZE: huge\n', patterns: [/MAXIMUM_LAYER_SIZE/] },
    { name: 'a malformed DB_URI', text: 'DB_URI: not a uri\n', patterns: [/DB_URI/] },
    {
      name: 'a preference naming an unknown location',
      text: 'DISTRIBUTED_STORAGE_CONFIG:\n  local: [LocalStorage, {storage_path: /tmp/x}]\nDISTRIBUTED_STORAGE_PREFERENCE: [nowhere]\n',
      patterns: [/DISTRIBUTED_STORAGE_PREFERENCE/, /"nowhere"/],
    },
    {
      name: 'a signing key that would expire before the tokens it signs',
      text: 'INSTANCE_SERVICE_KEY_EXPIRATION: 60\nINSTANCE_SERVICE_KEY_REFRESH: 55\nREGISTRY_TOKEN_LIFETIME_S: 3600\n',
      patterns: [/INSTANCE_SERVICE_KEY_EXPIRATION/, /115 minutes/],
    },
    { name: 'a token lifetime out of bounds', text: 'REGISTRY_TOKEN_LIFETIME_S: 5\n', patterns: [/REGISTRY_TOKEN_LIFETIME_S/] },
    { name: 'SUPER_USERS that is not a list', text: 'SUPER_USERS: admin\n', patterns: [/SUPER_USERS/] },
    { name: 'a top level that is not a mapping', text: '- just\n- a list\n', patterns: [/top level/] },
    { name: 'an empty file', text: '', patterns: [/empty/] },
    { name: 'a missing file', patterns: [/no such file/] },
  ];
  for (const [index, { name, text, patterns }] of invalid.entries()) {
    it(`refuses ${name}: non-zero exit, one stderr line naming the file`, async () => {
      const fileName = `invalid-${index}.yaml`;
      const path = text === undefined ? join(work, fileName) : await file(fileName, text);
      const result = await quayside('config', 'validate', path);
      assertOneLineFailure(result, 'non-zero', new RegExp(fileName.replace('.', '\\.')), ...patterns);
      assert.doesNotMatch(result.stdout, /valid/);
    });
  }

  it('refuses a directory given as the file', async () => {
    const dir = join(work, 'a-directory.yaml');
    await mkdir(dir, { recursive: true });
    assertOneLineFailure(await quayside('config', 'validate', dir), 'non-zero', /a-directory\.yaml/, /directory/);
  });
});
