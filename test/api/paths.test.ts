import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTimeBound } from '../../src/api/logs.js';
import { parseRepositoryPath, splitRepositoryName } from '../../src/api/paths.js';
import { readCookie, sessionCookie } from '../../src/api/session.js';

describe('api paths: repository paths parsed from the right', () => {
  const cases: Array<[string, ReturnType<typeof parseRepositoryPath>]> = [
    ['acme/app', { repository: 'acme/app', resource: { kind: 'repository' } }],
    ['acme/app/', { repository: 'acme/app', resource: { kind: 'repository' } }],
    ['acme/tools/app', { repository: 'acme/tools/app', resource: { kind: 'repository' } }],
    ['acme/tools/app/tag/', { repository: 'acme/tools/app', resource: { kind: 'tags' } }],
    ['acme/tools/app/tag', { repository: 'acme/tools/app', resource: { kind: 'tags' } }],
    ['acme/tools/app/tag/v1.0', { repository: 'acme/tools/app', resource: { kind: 'tag', tag: 'v1.0' } }],
    ['acme/app/tag/latest/restore', { repository: 'acme/app', resource: { kind: 'restore', tag: 'latest' } }],
    ['acme/app/tag/restore', { repository: 'acme/app', resource: { kind: 'tag', tag: 'restore' } }],
    ['acme/app/permissions/user/', { repository: 'acme/app', resource: { kind: 'permissions', delegate: 'user' } }],
    ['acme/app/permissions/team', { repository: 'acme/app', resource: { kind: 'permissions', delegate: 'team' } }],
    ['acme/a/b/permissions/user/bob', { repository: 'acme/a/b', resource: { kind: 'permission', delegate: 'user', name: 'bob' } }],
    ['acme/app/permissions/team/devs', { repository: 'acme/app', resource: { kind: 'permission', delegate: 'team', name: 'devs' } }],
    ['acme/tools/app/tag/v1/pull_statistics', { repository: 'acme/tools/app', resource: { kind: 'tag_pull_statistics', tag: 'v1' } }],
    ['acme/app/manifest/sha256:ab/pull_statistics', { repository: 'acme/app', resource: { kind: 'manifest_pull_statistics', digest: 'sha256:ab' } }],
    // A tag named pull_statistics is still a tag.
    ['acme/app/tag/pull_statistics', { repository: 'acme/app', resource: { kind: 'tag', tag: 'pull_statistics' } }],
    ['acme/app/changevisibility', { repository: 'acme/app', resource: { kind: 'changevisibility' } }],
    ['acme/app/logs', { repository: 'acme/app', resource: { kind: 'logs' } }],
    // Too short to split: the whole path is the repository.
    ['acme/logs', { repository: 'acme/logs', resource: { kind: 'repository' } }],
    ['acme/tag/x', { repository: 'acme/tag/x', resource: { kind: 'repository' } }],
    ['acme//logs', { repository: 'acme//logs', resource: { kind: 'repository' } }],
    ['', { repository: '', resource: { kind: 'repository' } }],
  ];
  for (const [path, expected] of cases) {
    it(`parses ${JSON.stringify(path)}`, () => {
      assert.deepEqual(parseRepositoryPath(path), expected);
    });
  }

  it('splits a repository name into Quay namespace and name', () => {
    assert.deepEqual(splitRepositoryName('acme/tools/app'), { namespace: 'acme', name: 'tools/app' });
  });
});

describe('api logs: time bounds', () => {
  it('reads MM/DD/YYYY as a UTC day, an end date including the whole day', () => {
    assert.equal(parseTimeBound('01/31/2024', 'start')?.toISOString(), '2024-01-31T00:00:00.000Z');
    assert.equal(parseTimeBound('01/31/2024', 'end')?.toISOString(), '2024-02-01T00:00:00.000Z');
    assert.equal(parseTimeBound('2024-01-31', 'start')?.toISOString(), '2024-01-31T00:00:00.000Z');
    assert.equal(parseTimeBound('2024-01-31T10:20:30+02:00', 'end')?.toISOString(), '2024-01-31T08:20:30.000Z');
  });
  it('refuses impossible dates and other formats', () => {
    for (const bad of ['02/30/2024', '13/01/2024', '2024-13-01', 'yesterday', '1706659200', '2024-01-31T10:20', '']) {
      assert.equal(parseTimeBound(bad, 'start'), undefined, bad);
    }
  });
});

describe('api session: cookies', () => {
  it('reads one cookie among several', () => {
    assert.equal(readCookie('a=1; quayside_session=abc; b=2', 'quayside_session'), 'abc');
    assert.equal(readCookie('a=1', 'quayside_session'), undefined);
    assert.equal(readCookie(undefined, 'quayside_session'), undefined);
  });
  it('writes the session cookie with its attributes', () => {
    assert.equal(sessionCookie('v', 10, true), 'quayside_session=v; Path=/; Max-Age=10; HttpOnly; SameSite=Strict; Secure');
  });
});
