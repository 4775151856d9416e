import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, defaultConfig, loadConfigFile, parseConfig } from '../../src/config/load.js';
import { CONFIG_KEYS, configSchema } from '../../src/config/schema.js';
import { sharedTokenLinkFor } from '../../src/cli/runtime.js';

const GiB = 1024 ** 3;

/** A configuration as a Quay operator writes it: many of Quay's keys, geo-replicated storage. */
const QUAY_CONFIG = `
AUTHENTICATION_TYPE: Database
AVATAR_KIND: local
BUILDLOGS_REDIS:
    host: redis.example.com
    port: 6379
DATABASE_SECRET_KEY: 0ce4f796-c295-415b-bf9d-b315114704b8
DB_CONNECTION_ARGS:
    autorollback: true
    threadlocals: true
DB_URI: postgresql://quayuser:quaypass@db.example.com:5432/quay
DEFAULT_TAG_EXPIRATION: 2w
DISTRIBUTED_STORAGE_CONFIG:
    default:
        - LocalStorage
        - storage_path: /datastorage/registry
    us-east:
        - S3Storage
        - host: s3.us-east-1.amazonaws.com
          s3_access_key: AKIAEXAMPLE
          s3_secret_key: secret
          s3_bucket: quay-us-east
          storage_path: /datastorage/registry
DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [us-east]
DISTRIBUTED_STORAGE_PREFERENCE:
    - default
FEATURE_ACI_CONVERSION: false
FEATURE_ANONYMOUS_ACCESS: true
FEATURE_APP_REGISTRY: false
FEATURE_APP_SPECIFIC_TOKENS: true
FEATURE_BUILD_SUPPORT: false
FEATURE_CHANGE_TAG_EXPIRATION: true
FEATURE_DIRECT_LOGIN: true
FEATURE_MAILING: false
FEATURE_PARTIAL_USER_AUTOCOMPLETE: true
FEATURE_REPO_MIRROR: false
FEATURE_REQUIRE_TEAM_INVITE: true
FEATURE_RESTRICTED_V1_PUSH: true
FEATURE_SECURITY_SCANNER: false
FEATURE_STORAGE_REPLICATION: true
FEATURE_USER_CREATION: no
GITHUB_LOGIN_CONFIG: {}
MAXIMUM_LAYER_SIZE: 100G
PREFERRED_URL_SCHEME: https
REGISTRY_TITLE: Project Quay
REGISTRY_TITLE_SHORT: Project Quay
SECRET_KEY: e9bd34f4-900c-436a-979e-7530e5d74ac8
SERVER_HOSTNAME: quay.example.com:8443
SETUP_COMPLETE: true
SUPER_USERS:
    - quayadmin
TAG_EXPIRATION_OPTIONS:
    - 0s
    - 1d
    - 1w
    - 2w
    - 4w
USERFILES_LOCATION: default
USERFILES_PATH: userfiles/
USER_EVENTS_REDIS:
    host: redis.example.com
    port: 6379
RHSSO_LOGIN_CONFIG:
    CLIENT_ID: quay
`;

/** The ConfigError message for `yaml`, failing the test when it parses. */
function errorOf(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(yaml, 'config.yaml', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message;
  }
  assert.fail(`parsed without error:\n${yaml}`);
}

const LOCAL = 'DISTRIBUTED_STORAGE_CONFIG:\n  default: [LocalStorage, {storage_path: /data}]\n';

describe('parseConfig: a real Quay configuration', () => {
  test('loads with typed values and defaults', () => {
    const { config } = parseConfig(QUAY_CONFIG, 'config.yaml', {});
    assert.equal(config.SERVER_HOSTNAME, 'quay.example.com:8443');
    assert.equal(config.PREFERRED_URL_SCHEME, 'https');
    assert.equal(config.DB_URI, 'postgresql://quayuser:quaypass@db.example.com:5432/quay');
    assert.deepEqual(config.DB_CONNECTION_ARGS, { autorollback: true, threadlocals: true });
    assert.deepEqual(config.DISTRIBUTED_STORAGE_CONFIG.default, ['LocalStorage', { storage_path: '/datastorage/registry' }]);
    assert.equal(config.DISTRIBUTED_STORAGE_CONFIG['us-east']?.[0], 'S3Storage');
    assert.deepEqual(config.DISTRIBUTED_STORAGE_PREFERENCE, ['default']);
    assert.deepEqual(config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, ['us-east']);
    assert.equal(config.FEATURE_ANONYMOUS_ACCESS, true);
    assert.equal(config.FEATURE_REFERRERS_API, true, 'default');
    assert.equal(config.FEATURE_USER_CREATION, false, 'YAML 1.1 "no", as PyYAML reads it');
    assert.equal(config.MAXIMUM_LAYER_SIZE, 100 * GiB);
    assert.deepEqual(config.SUPER_USERS, ['quayadmin']);
  });

  test('warns once per unused Quay key, and drops them', () => {
    const { config, warnings } = parseConfig(QUAY_CONFIG, 'config.yaml', {});
    assert.ok(warnings.includes('FEATURE_BUILD_SUPPORT is a Quay key Quayside does not use yet'));
    assert.ok(!warnings.some((w) => w.startsWith('BUILDLOGS_REDIS') || w.startsWith('USER_EVENTS_REDIS')), 'the Redis keys are read');
    assert.ok(warnings.includes('RHSSO_LOGIN_CONFIG is a Quay key Quayside does not use yet'));
    assert.ok(!warnings.some((w) => w.includes('SERVER_HOSTNAME ') || w.includes('DB_URI')), 'used keys are not reported');
    // FEATURE_APP_SPECIFIC_TOKENS is read since accounts landed, so it is not among them.
    assert.ok(!warnings.some((w) => w.startsWith('FEATURE_APP_SPECIFIC_TOKENS')));
    // FEATURE_CHANGE_TAG_EXPIRATION and TAG_EXPIRATION_OPTIONS are read since tag expiration landed.
    assert.ok(!warnings.some((w) => w.startsWith('FEATURE_CHANGE_TAG_EXPIRATION') || w.startsWith('TAG_EXPIRATION_OPTIONS')));
    // FEATURE_STORAGE_REPLICATION is read since geo-replication landed.
    assert.ok(!warnings.some((w) => w.startsWith('FEATURE_STORAGE_REPLICATION')));
    assert.equal(warnings.length, 21, 'one line for each of the 21 unused Quay keys');
    assert.equal(new Set(warnings).size, warnings.length);
    assert.ok(!('SECRET_KEY' in config));
  });

  test('refuses keys that are neither Quayside\'s nor Quay\'s, naming the closest known key', () => {
    // A misspelt key must not start an instance that quietly ignores it (DB_URl would mean its own SQLite file).
    assert.equal(errorOf(`${QUAY_CONFIG}SERVER_HOSTNAM: typo.example.com\n`), 'config.yaml: unknown key SERVER_HOSTNAM (did you mean SERVER_HOSTNAME?)');
    assert.equal(errorOf('DB_URl: postgresql://q@db/quay\n'), 'config.yaml: unknown key DB_URl (did you mean DB_URI?)');
    assert.equal(errorOf('FEATURE_ANONYMOUS_ACCES: false\n'), 'config.yaml: unknown key FEATURE_ANONYMOUS_ACCES (did you mean FEATURE_ANONYMOUS_ACCESS?)');
    // Close to a Quay key Quayside does not read yet: that is what it names.
    assert.equal(errorOf('BUILDLOG_REDIS: {}\n'), 'config.yaml: unknown key BUILDLOG_REDIS (did you mean BUILDLOGS_REDIS?)');
    // Nothing close: no guess; several unknown keys: each named, on one line.
    assert.equal(errorOf('FEATURE_TURBO_MODE: true\nXYZ: 1\n'), 'config.yaml: unknown key FEATURE_TURBO_MODE; unknown key XYZ');
  });

  test('every key of the schema is known, so a key added to it needs no other list', () => {
    for (const key of CONFIG_KEYS) {
      let message = '';
      try {
        parseConfig(`${key}: null\n`, 'c.yaml', {});
      } catch (error) {
        message = error instanceof Error ? error.message : String(error);
      }
      assert.doesNotMatch(message, /unknown key/, key);
    }
  });

  test('the storage read timeout and circuit breaker keys: today\'s values by default, checked, fractions of a second allowed', () => {
    const defaults = parseConfig('SERVER_HOSTNAME: localhost\n', 'config.yaml', {}).config;
    assert.equal(defaults.STORAGE_READ_TIMEOUT_S, 10);
    assert.equal(defaults.STORAGE_BREAKER_FAILURES, 2);
    assert.equal(defaults.STORAGE_BREAKER_OPEN_S, 30);
    const { config, warnings } = parseConfig('STORAGE_READ_TIMEOUT_S: 0.5\nSTORAGE_BREAKER_FAILURES: 1\nSTORAGE_BREAKER_OPEN_S: 600\n', 'config.yaml', {});
    assert.deepEqual(warnings, []);
    assert.deepEqual([config.STORAGE_READ_TIMEOUT_S, config.STORAGE_BREAKER_FAILURES, config.STORAGE_BREAKER_OPEN_S], [0.5, 1, 600]);
    for (const bad of ['STORAGE_READ_TIMEOUT_S: 0', 'STORAGE_READ_TIMEOUT_S: fast', 'STORAGE_READ_TIMEOUT_S: 601', 'STORAGE_BREAKER_FAILURES: 0', 'STORAGE_BREAKER_FAILURES: 1.5', 'STORAGE_BREAKER_OPEN_S: -1']) {
      assert.match(errorOf(`${bad}\n`), new RegExp(`^config\\.yaml: ${bad.split(':')[0]}: `), bad);
    }
  });

  test('STORAGE_SWIFT_SHARED_TOKEN: the fleet shares its Swift token by default; false turns it off; not a boolean is refused', () => {
    assert.equal(parseConfig('SERVER_HOSTNAME: localhost\n', 'config.yaml', {}).config.STORAGE_SWIFT_SHARED_TOKEN, true);
    const off = parseConfig('STORAGE_SWIFT_SHARED_TOKEN: false\n', 'config.yaml', {});
    assert.deepEqual(off.warnings, []);
    assert.equal(off.config.STORAGE_SWIFT_SHARED_TOKEN, false);
    assert.equal(sharedTokenLinkFor(off.config), undefined, 'no link: every store keeps its own token');
    assert.ok(sharedTokenLinkFor(parseConfig('SERVER_HOSTNAME: localhost\n', 'config.yaml', {}).config) !== undefined);
    assert.match(errorOf('STORAGE_SWIFT_SHARED_TOKEN: sometimes\n'), /^config\.yaml: STORAGE_SWIFT_SHARED_TOKEN: /);
  });

  test('FEATURE_PROXY_STORAGE is read, not reported as a Quay key without effect', () => {
    const { config, warnings } = parseConfig('FEATURE_PROXY_STORAGE: true\n', 'config.yaml', {});
    assert.equal(config.FEATURE_PROXY_STORAGE, true);
    assert.deepEqual(warnings, []);
  });

  test('a minimal file takes Quay\'s defaults', () => {
    const { config, warnings } = parseConfig('SERVER_HOSTNAME: localhost\n', 'config.yaml', {});
    assert.deepEqual(warnings, []);
    assert.equal(config.PREFERRED_URL_SCHEME, 'http');
    assert.equal(config.DB_URI, undefined);
    assert.deepEqual(config.DB_CONNECTION_ARGS, {});
    assert.deepEqual(config.DISTRIBUTED_STORAGE_CONFIG, {});
    assert.deepEqual(config.DISTRIBUTED_STORAGE_PREFERENCE, []);
    assert.deepEqual(config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, []);
    assert.equal(config.FEATURE_ANONYMOUS_ACCESS, true);
    assert.equal(config.FEATURE_REFERRERS_API, true);
    assert.equal(config.FEATURE_USER_CREATION, true);
    assert.equal(config.FEATURE_PROXY_STORAGE, false, 'blob GETs redirect to signed storage URLs by default, as in Quay');
    assert.deepEqual(config.SUPER_USERS, []);
    assert.equal(config.MAXIMUM_LAYER_SIZE, 20 * GiB);
  });

  test('MAXIMUM_LAYER_SIZE accepts Quay\'s sizes and plain bytes', () => {
    const cases: [string, number][] = [
      ['20G', 20 * GiB],
      ['500M', 500 * 1024 ** 2],
      ['1024K', 1024 * 1024],
      ['1T', 1024 ** 4],
      ['2g', 2 * GiB],
      ['"12345"', 12345],
      ['12345', 12345],
      ['10GB', 10 * GiB],
    ];
    for (const [value, bytes] of cases) {
      assert.equal(parseConfig(`MAXIMUM_LAYER_SIZE: ${value}\n`, 'c', {}).config.MAXIMUM_LAYER_SIZE, bytes, value);
    }
  });

  test('server hostnames with and without port, IPv6 included', () => {
    for (const host of ['quay.example.com', 'quay.example.com:8443', 'localhost:5000', '10.0.0.5:443', '"[::1]:8443"', 'registry']) {
      assert.ok(parseConfig(`SERVER_HOSTNAME: ${host}\n`, 'c', {}).config.SERVER_HOSTNAME, host);
    }
  });
});

describe('parseConfig: QUAY_DISTRIBUTED_STORAGE_PREFERENCE', () => {
  const geo = `DISTRIBUTED_STORAGE_CONFIG:
  eu: [LocalStorage, {storage_path: /eu}]
  us: [LocalStorage, {storage_path: /us}]
  ap: [LocalStorage, {storage_path: /ap}]
DISTRIBUTED_STORAGE_PREFERENCE: [eu]
`;

  test('overrides the file, space or comma separated', () => {
    for (const value of ['us ap', 'us,ap', ' us , ap ', 'us\tap']) {
      const { config } = parseConfig(geo, 'c', { QUAY_DISTRIBUTED_STORAGE_PREFERENCE: value });
      assert.deepEqual(config.DISTRIBUTED_STORAGE_PREFERENCE, ['us', 'ap'], JSON.stringify(value));
    }
  });

  test('blank or absent leaves the file\'s preference', () => {
    assert.deepEqual(parseConfig(geo, 'c', {}).config.DISTRIBUTED_STORAGE_PREFERENCE, ['eu']);
    assert.deepEqual(parseConfig(geo, 'c', { QUAY_DISTRIBUTED_STORAGE_PREFERENCE: '  ' }).config.DISTRIBUTED_STORAGE_PREFERENCE, ['eu']);
  });

  test('a location the file does not define is an error naming the variable', () => {
    assert.equal(
      errorOf(geo, { QUAY_DISTRIBUTED_STORAGE_PREFERENCE: 'us mars' }),
      'config.yaml: DISTRIBUTED_STORAGE_PREFERENCE[1] (from QUAY_DISTRIBUTED_STORAGE_PREFERENCE): storage location "mars" is not in DISTRIBUTED_STORAGE_CONFIG (one of eu, us, ap)',
    );
  });
});

describe('parseConfig: bad YAML', () => {
  test('a syntax error names the line', () => {
    assert.match(errorOf('SERVER_HOSTNAME: a: b\n'), /^config\.yaml: invalid YAML: .*line 1, column \d+$/);
    assert.match(errorOf('DB_URI: "unterminated\n'), /^config\.yaml: invalid YAML: .*line \d+/);
    assert.match(errorOf('A:\n  - x\n y: 1\n'), /^config\.yaml: invalid YAML: /);
  });

  test('a duplicate key is refused', () => {
    assert.match(errorOf('DB_URI: postgresql://a/b\nDB_URI: postgresql://c/d\n'), /^config\.yaml: invalid YAML: DB_URI is given twice \(Map keys must be unique at line 2/);
    assert.match(errorOf('FEATURE_REFERRERS_API: true\nDB_URI: x\n"FEATURE_REFERRERS_API": false\n'), /invalid YAML: FEATURE_REFERRERS_API is given twice/);
  });

  test('an empty file or one with only comments is refused', () => {
    for (const text of ['', '\n\n', '# nothing here\n', '---\n']) {
      assert.equal(errorOf(text), 'config.yaml: the file is empty (expected a mapping of Quay configuration keys)');
    }
  });

  test('a top level that is not a mapping is refused', () => {
    assert.equal(errorOf('- a\n- b\n'), 'config.yaml: the top level must be a mapping of Quay configuration keys, got a list');
    assert.equal(errorOf('just a string\n'), 'config.yaml: the top level must be a mapping of Quay configuration keys, got the string "just a string"');
    assert.equal(errorOf('42\n'), 'config.yaml: the top level must be a mapping of Quay configuration keys, got the number 42');
  });

  test('alias bombs are refused', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i += 1) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    assert.match(errorOf(`${lines.join('\n')}\n`), /^config\.yaml: invalid YAML: /);
  });

  test('a __proto__ key anywhere is refused', () => {
    assert.equal(
      errorOf('DISTRIBUTED_STORAGE_CONFIG:\n  __proto__: [LocalStorage, {storage_path: /x}]\n'),
      'config.yaml: DISTRIBUTED_STORAGE_CONFIG.__proto__: the key __proto__ is not allowed',
    );
    assert.match(errorOf('DB_CONNECTION_ARGS: {__proto__: {polluted: true}}\n'), /DB_CONNECTION_ARGS\.__proto__: the key __proto__ is not allowed$/);
  });
});

describe('parseConfig: bad values', () => {
  const cases: [string, string][] = [
    ['DB_URI: 5', 'config.yaml: DB_URI: expected a string, got the number 5'],
    ['DB_URI:', 'config.yaml: DB_URI: expected a string, got an empty value'],
    ['DB_URI: not a uri', 'config.yaml: DB_URI: expected a database URI such as postgresql://user:password@host/db or sqlite:///path/to/file.db'],
    ['SERVER_HOSTNAME: https://quay.example.com', 'config.yaml: SERVER_HOSTNAME: expected host[:port] without scheme or path, e.g. quay.example.com or quay.example.com:8443'],
    ['SERVER_HOSTNAME: quay.example.com/path', 'config.yaml: SERVER_HOSTNAME: expected host[:port] without scheme or path, e.g. quay.example.com or quay.example.com:8443'],
    ['SERVER_HOSTNAME: quay:99999', 'config.yaml: SERVER_HOSTNAME: expected host[:port] without scheme or path, e.g. quay.example.com or quay.example.com:8443'],
    ['SERVER_HOSTNAME: [a]', 'config.yaml: SERVER_HOSTNAME: expected a string, got a list'],
    ['PREFERRED_URL_SCHEME: ftp', 'config.yaml: PREFERRED_URL_SCHEME: expected one of "http", "https", got the string "ftp"'],
    ['DB_CONNECTION_ARGS: [a]', 'config.yaml: DB_CONNECTION_ARGS: expected a mapping, got a list'],
    ['FEATURE_ANONYMOUS_ACCESS: maybe', 'config.yaml: FEATURE_ANONYMOUS_ACCESS: expected true or false, got the string "maybe"'],
    ['FEATURE_REFERRERS_API: 1', 'config.yaml: FEATURE_REFERRERS_API: expected true or false, got the number 1'],
    ['FEATURE_PROXY_STORAGE: yes please', 'config.yaml: FEATURE_PROXY_STORAGE: expected true or false, got the string "yes please"'],
    ['SUPER_USERS: admin', 'config.yaml: SUPER_USERS: expected a list, got the string "admin"'],
    ['SUPER_USERS: [admin, ""]', 'config.yaml: SUPER_USERS[1]: must not be empty'],
    ['MAXIMUM_LAYER_SIZE: 20X', 'config.yaml: MAXIMUM_LAYER_SIZE: expected a positive size such as 20G, 500M, 1024K or a number of bytes, got "20X"'],
    ['MAXIMUM_LAYER_SIZE: 0', 'config.yaml: MAXIMUM_LAYER_SIZE: expected a positive size such as 20G, 500M, 1024K or a number of bytes, got 0'],
    ['MAXIMUM_LAYER_SIZE: -5G', 'config.yaml: MAXIMUM_LAYER_SIZE: expected a positive size such as 20G, 500M, 1024K or a number of bytes, got "-5G"'],
    ['MAXIMUM_LAYER_SIZE: 1.5', 'config.yaml: MAXIMUM_LAYER_SIZE: expected a positive size such as 20G, 500M, 1024K or a number of bytes, got 1.5'],
    ['MAXIMUM_LAYER_SIZE: true', 'config.yaml: MAXIMUM_LAYER_SIZE: expected a size such as 20G, 500M, 1024K or a number of bytes'],
    ['DISTRIBUTED_STORAGE_CONFIG: 5', 'config.yaml: DISTRIBUTED_STORAGE_CONFIG: expected a mapping, got the number 5'],
    ['DISTRIBUTED_STORAGE_CONFIG: {default: LocalStorage}', 'config.yaml: DISTRIBUTED_STORAGE_CONFIG.default: expected a list [driverName, {parameters}], got the string "LocalStorage"'],
    ['DISTRIBUTED_STORAGE_CONFIG: {default: [LocalStorage]}', 'config.yaml: DISTRIBUTED_STORAGE_CONFIG.default: must have at least 2 item(s)'],
    ['DISTRIBUTED_STORAGE_CONFIG: {default: [LocalStorage, /data]}', 'config.yaml: DISTRIBUTED_STORAGE_CONFIG.default[1]: expected a mapping, got the string "/data"'],
    ['DISTRIBUTED_STORAGE_CONFIG: {default: [5, {}]}', 'config.yaml: DISTRIBUTED_STORAGE_CONFIG.default[0]: expected a string, got the number 5'],
    ['DISTRIBUTED_STORAGE_CONFIG: {"bad name": [LocalStorage, {}]}', 'config.yaml: DISTRIBUTED_STORAGE_CONFIG.bad name: invalid key: expected a storage location name of letters, digits, "_", "." or "-" (at most 64)'],
    ['DISTRIBUTED_STORAGE_PREFERENCE: default', 'config.yaml: DISTRIBUTED_STORAGE_PREFERENCE: expected a list, got the string "default"'],
    ['BUILDLOGS_REDIS: redis.example.com', 'config.yaml: BUILDLOGS_REDIS: expected a mapping, got the string "redis.example.com"'],
    ['BUILDLOGS_REDIS: {host: redis.example.com, port: 99999}', 'config.yaml: BUILDLOGS_REDIS.port: expected a port number from 1 to 65535'],
    ['BUILDLOGS_REDIS: {host: "redis example"}', 'config.yaml: BUILDLOGS_REDIS.host: expected a Redis host name or address'],
    ['USER_EVENTS_REDIS: {host: redis, port: "6379x"}', 'config.yaml: USER_EVENTS_REDIS.port: expected a number, got the string "6379x"'],
    ['USER_EVENTS_REDIS: {host: redis, ssl: maybe}', 'config.yaml: USER_EVENTS_REDIS.ssl: expected true or false, got the string "maybe"'],
    ['USER_EVENTS_REDIS: {host: redis, hots: x}', 'config.yaml: USER_EVENTS_REDIS: expected {host, port, password, ssl}'],
    ['USER_EVENTS_REDIS: {port: 6379}', 'config.yaml: USER_EVENTS_REDIS.host: is required (expected a string)'],
    ['DATA_MODEL_CACHE_CONFIG: {engine: memcached}', 'config.yaml: DATA_MODEL_CACHE_CONFIG.engine: expected {engine: redis | inmemory | none}; redis needs redis_config: {primary: {host, port}}'],
    ['DATA_MODEL_CACHE_CONFIG: {engine: redis}', 'config.yaml: DATA_MODEL_CACHE_CONFIG.redis_config: is required (expected a mapping)'],
    ['DATA_MODEL_CACHE_CONFIG: {engine: redis, redis_config: {primary: {host: redis, port: 0}}}', 'config.yaml: DATA_MODEL_CACHE_CONFIG.redis_config.primary.port: expected a port number from 1 to 65535'],
    ['DATA_MODEL_CACHE_CONFIG: redis', 'config.yaml: DATA_MODEL_CACHE_CONFIG: expected a mapping, got the string "redis"'],
  ];
  for (const [yaml, message] of cases) {
    test(yaml, () => assert.equal(errorOf(`${yaml}\n`), message));
  }

  test('several problems are reported on the same line', () => {
    assert.equal(
      errorOf('DB_URI: 5\nPREFERRED_URL_SCHEME: ftp\n'),
      'config.yaml: PREFERRED_URL_SCHEME: expected one of "http", "https", got the string "ftp"; DB_URI: expected a string, got the number 5',
    );
  });
});

describe('parseConfig: storage locations across keys', () => {
  test('a preferred location must be configured', () => {
    assert.equal(
      errorOf(`${LOCAL}DISTRIBUTED_STORAGE_PREFERENCE: [default, backup]\n`),
      'config.yaml: DISTRIBUTED_STORAGE_PREFERENCE[1]: storage location "backup" is not in DISTRIBUTED_STORAGE_CONFIG (one of default)',
    );
  });

  test('a default location must be configured', () => {
    assert.equal(
      errorOf(`${LOCAL}DISTRIBUTED_STORAGE_PREFERENCE: [default]\nDISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [elsewhere]\n`),
      'config.yaml: DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS[0]: storage location "elsewhere" is not in DISTRIBUTED_STORAGE_CONFIG (one of default)',
    );
  });

  test('a preference without any storage configured is refused', () => {
    assert.equal(
      errorOf('DISTRIBUTED_STORAGE_PREFERENCE: [default]\n'),
      'config.yaml: DISTRIBUTED_STORAGE_PREFERENCE[0]: storage location "default" is not in DISTRIBUTED_STORAGE_CONFIG (none are configured)',
    );
  });

  test('storage without a preference is refused', () => {
    for (const extra of ['', 'DISTRIBUTED_STORAGE_PREFERENCE: []\n']) {
      assert.equal(
        errorOf(`${LOCAL}${extra}`),
        'config.yaml: DISTRIBUTED_STORAGE_PREFERENCE: must name at least one storage location when DISTRIBUTED_STORAGE_CONFIG is set (one of default)',
      );
    }
  });
});

describe('loadConfigFile', () => {
  async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'quayside-config-'));
    try {
      await body(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  test('reads, validates and applies the environment', () =>
    withDir(async (dir) => {
      const file = path.join(dir, 'config.yaml');
      await writeFile(file, `${LOCAL}  other: [LocalStorage, {storage_path: /o}]\nDISTRIBUTED_STORAGE_PREFERENCE: [default]\nBRANDING: {}\n`);
      const loaded = await loadConfigFile(file, { QUAY_DISTRIBUTED_STORAGE_PREFERENCE: 'other' });
      assert.deepEqual(loaded.config.DISTRIBUTED_STORAGE_PREFERENCE, ['other']);
      assert.deepEqual(loaded.warnings, ['BRANDING is a Quay key Quayside does not use yet']);
    }));

  test('errors name the file', () =>
    withDir(async (dir) => {
      const file = path.join(dir, 'config.yaml');
      await writeFile(file, 'DB_URI: 5\n');
      await assert.rejects(loadConfigFile(file, {}), { name: 'ConfigError', message: `${file}: DB_URI: expected a string, got the number 5` });
    }));

  test('a missing file, a directory or an unreadable file is a ConfigError', () =>
    withDir(async (dir) => {
      const missing = path.join(dir, 'nope.yaml');
      await assert.rejects(loadConfigFile(missing, {}), (e: unknown) =>
        e instanceof ConfigError && e.message === `${missing}: cannot read the configuration: no such file`);
      await assert.rejects(loadConfigFile(dir, {}), (e: unknown) =>
        e instanceof ConfigError && e.message === `${dir}: cannot read the configuration: is a directory`);
      if (process.getuid?.() !== 0) {
        const locked = path.join(dir, 'locked.yaml');
        await writeFile(locked, 'DB_URI: sqlite:///x\n');
        await chmod(locked, 0o000);
        await assert.rejects(loadConfigFile(locked, {}), (e: unknown) =>
          e instanceof ConfigError && e.message === `${locked}: cannot read the configuration: permission denied`);
      }
    }));
});

describe('defaultConfig', () => {
  test('SQLite and local storage in the data directory, valid under the schema', () => {
    const config = defaultConfig('/var/lib/quayside');
    assert.equal(config.DB_URI, 'sqlite:////var/lib/quayside/quayside.db');
    assert.deepEqual(config.DISTRIBUTED_STORAGE_CONFIG, { local: ['LocalStorage', { storage_path: '/var/lib/quayside/storage' }] });
    assert.deepEqual(config.DISTRIBUTED_STORAGE_PREFERENCE, ['local']);
    assert.deepEqual(config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, []);
    assert.equal(config.MAXIMUM_LAYER_SIZE, 20 * GiB);
    assert.equal(config.FEATURE_ANONYMOUS_ACCESS, true);
    assert.ok(configSchema.safeParse(config).success);
  });

  test('a relative data directory becomes absolute', () => {
    const config = defaultConfig('data');
    assert.equal(config.DISTRIBUTED_STORAGE_CONFIG.local?.[1].storage_path, path.resolve('data', 'storage'));
    assert.equal(config.DB_URI, `sqlite:///${path.resolve('data', 'quayside.db')}`);
  });
});
