import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatScope, MAX_SCOPES, parseScope, parseScopes, ScopeError } from '../../src/auth/scope.js';

function scopeError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ScopeError, `expected a ScopeError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('parseScope', () => {
  it('parses a repository scope with several actions', () => {
    assert.deepEqual(parseScope('repository:acme/tools/app:pull,push'), { type: 'repository', name: 'acme/tools/app', actions: ['pull', 'push'] });
  });

  it('puts actions in canonical order and drops duplicates and unknown ones', () => {
    assert.deepEqual(parseScope('repository:a/b:*,push,pull,pull,frobnicate').actions, ['pull', 'push', '*']);
    assert.deepEqual(parseScope('repository:a/b:delete').actions, ['delete']);
    assert.deepEqual(parseScope('repository:a/b:frobnicate').actions, []);
  });

  it('strips a resource class and keeps the type', () => {
    assert.deepEqual(parseScope('repository(plugin):a/b:pull'), { type: 'repository', name: 'a/b', actions: ['pull'] });
  });

  it('parses the catalog scope and keeps unknown types', () => {
    assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
    assert.deepEqual(parseScope('thing:whatever/Name:pull'), { type: 'thing', name: 'whatever/Name', actions: ['pull'] });
  });

  const malformed: Array<[string, RegExp]> = [
    ['', /expected type:name:actions/],
    ['repository', /expected type:name:actions/],
    ['repository:a/b', /expected type:name:actions/],
    [':a/b:pull', /resource type is empty/],
    ['repository::pull', /resource name is empty/],
    ['repository:a/b:', /action list is empty/],
    ['repository:a/b:pull,,push', /empty entry/],
    ['Repository:a/b:pull', /resource type must be/],
    ['repo sitory:a/b:pull', /resource type must be/],
    ['repository(:a/b:pull', /resource type must be/],
    ['repository(a-b):a/b:pull', /resource type must be/],
    ['repository:localhost:5000/a:pull', /must not contain ":"/],
    ['repository:a//b:pull', /empty path component/],
    ['repository:A/b:pull', /upper-case/],
    ['repository:a/b/:pull', /must not end/],
    ['repository:a/../b:pull', /contains "\.\."/],
    ['repository:a/b\u0000:pull', /control character/],
    ['repository:a/b:pull\n', /control character/],
    ['repository:a/\u0085b:pull', /control character/],
    ['repository:a/é:pull', /characters other than/],
    ['repository:a/b%2fc:pull', /characters other than/],
    [`repository:${'a'.repeat(300)}:pull`, /maximum is 255/],
    [`repository:a/b:${'pull,'.repeat(300)}pull`, /longer than 1024/],
  ];
  for (const [scope, pattern] of malformed) {
    it(`refuses ${JSON.stringify(scope.length > 60 ? `${scope.slice(0, 60)}...` : scope)}`, () => {
      scopeError(() => parseScope(scope), pattern);
    });
  }

  it('keeps long scopes out of the message', () => {
    const scope = `repository:${'x'.repeat(2000)}:pull`;
    assert.throws(() => parseScope(scope), (error: unknown) => {
      assert.ok(error instanceof ScopeError);
      assert.ok(error.message.length < 200, error.message);
      assert.match(error.message, /^invalid scope "repository:x+\.\.\.": longer than 1024 characters$/);
      return true;
    });
  });
});

describe('parseScopes', () => {
  it('reads several parameters and space-separated scopes in one', () => {
    assert.deepEqual(parseScopes(['repository:a/b:pull repository:c/d:push', 'registry:catalog:*']), [
      { type: 'repository', name: 'a/b', actions: ['pull'] },
      { type: 'repository', name: 'c/d', actions: ['push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('merges duplicates into the union of their actions', () => {
    assert.deepEqual(parseScopes(['repository:a/b:push', 'repository:a/b:pull', 'repository:a/b:pull,delete']), [
      { type: 'repository', name: 'a/b', actions: ['pull', 'push', 'delete'] },
    ]);
  });

  it('ignores empty parameters and extra spaces, and drops entries with only unknown actions', () => {
    assert.deepEqual(parseScopes(['', '  repository:a/b:pull  ', 'repository:c/d:bogus']), [{ type: 'repository', name: 'a/b', actions: ['pull'] }]);
    assert.deepEqual(parseScopes([]), []);
  });

  it('refuses the whole request when one scope is malformed', () => {
    scopeError(() => parseScopes(['repository:a/b:pull', 'repository:a//b:pull']), /empty path component/);
    scopeError(() => parseScopes(['repository:a/b:pull\trepository:c/d:pull']), /control character/);
  });

  it('refuses more than MAX_SCOPES scopes', () => {
    const many = Array.from({ length: MAX_SCOPES + 1 }, (_, i) => `repository:r/n${i}:pull`);
    scopeError(() => parseScopes(many), /too many scopes/);
    assert.equal(parseScopes(many.slice(0, MAX_SCOPES)).length, MAX_SCOPES);
  });
});

describe('formatScope', () => {
  it('round-trips', () => {
    const entry = { type: 'repository', name: 'acme/app', actions: ['pull', 'push'] };
    assert.equal(formatScope(entry), 'repository:acme/app:pull,push');
    assert.deepEqual(parseScope(formatScope(entry)), entry);
  });
});
