import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_NAME_LENGTH, isValidTag, repositoryNameProblem } from '../../src/oci/names.js';

describe('repositoryNameProblem', () => {
  const good = [
    'a',
    'library/ubuntu',
    'my-org/my-repo',
    'a/b/c/d/e/f',
    'foo.bar',
    'foo_bar',
    'foo__bar',
    'foo---bar',
    'foo-bar.baz_qux__quux',
    '0',
    '123/456',
    'x'.repeat(MAX_NAME_LENGTH),
    ('abcdefghi/'.repeat(25) + 'abcde').slice(0, MAX_NAME_LENGTH),
  ];
  for (const name of good) {
    it(`accepts ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}... (${name.length})` : name)}`, () => {
      assert.equal(repositoryNameProblem(name), undefined);
    });
  }

  // [label, name, a fragment the message must contain]
  const bad: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['256 characters', 'x'.repeat(256), /256 characters.*maximum is 255/],
    ['far too long', 'ab/'.repeat(1000) + 'a', /maximum is 255/],
    ['double dot', 'foo/../bar', /component 2.*"\.\."/],
    ['double dot inside a component', 'foo..bar', /"\.\."/],
    ['only dots', '..', /"\.\."/],
    ['upper case', 'Library/ubuntu', /upper-case/],
    ['upper case in a later component', 'library/Ubuntu', /component 2.*upper-case/],
    ['double slash', 'foo//bar', /empty path component/],
    ['trailing slash', 'foo/bar/', /must not end with "\/"/],
    ['leading slash', '/foo', /must not start with "\/"/],
    ['only a slash', '/', /must not start/],
    ['leading separator', '-foo', /start and end/],
    ['trailing separator', 'foo-', /start and end/],
    ['leading dot', '.foo', /start and end/],
    ['trailing underscore', 'foo_', /start and end/],
    ['triple underscore', 'foo___bar', /start and end|"__"/],
    ['dot then dash', 'foo.-bar', /start and end|between/],
    ['space', 'foo bar', /characters other than/],
    ['colon (a tag in the name)', 'foo:latest', /characters other than/],
    ['at sign', 'foo@sha256', /characters other than/],
    ['percent-encoding', 'foo%2fbar', /characters other than/],
    ['backslash', 'foo\\bar', /characters other than/],
    ['unicode letter', 'café', /characters other than/],
    ['emoji', 'repo🐳', /characters other than/],
    ['full-width letters', 'ｆｏｏ', /characters other than/],
    ['NUL byte', 'foo\u0000bar', /control character/],
    ['newline', 'foo\nbar', /control character/],
    ['DEL', 'foo\u007f', /control character/],
    ['C1 control', 'foo\u0085', /control character/],
  ];
  for (const [label, name, message] of bad) {
    it(`rejects ${label}`, () => {
      const problem = repositoryNameProblem(name);
      assert.equal(typeof problem, 'string');
      assert.match(problem as string, message);
    });
  }

  it('reports a non-string instead of throwing', () => {
    assert.match(repositoryNameProblem(undefined as unknown as string) ?? '', /string/);
  });
});

describe('isValidTag', () => {
  const good = ['latest', 'v1.2.3', '_private', '1', 'A', 'a-b_c.d', 'x'.repeat(128), 'sha256-' + 'a'.repeat(64)];
  for (const tag of good) {
    it(`accepts ${JSON.stringify(tag.slice(0, 40))}`, () => assert.equal(isValidTag(tag), true));
  }
  const bad: Array<[string, string]> = [
    ['empty', ''],
    ['129 characters', 'x'.repeat(129)],
    ['leading dot', '.hidden'],
    ['leading dash', '-v1'],
    ['colon', 'v1:2'],
    ['slash', 'v1/2'],
    ['plus (semver build metadata)', '1.0+build'],
    ['space', 'v 1'],
    ['digest-looking', `sha256:${'a'.repeat(64)}`],
    ['unicode', 'vé'],
    ['newline', 'v1\n'],
    ['NUL', 'v1\u0000'],
  ];
  for (const [label, tag] of bad) {
    it(`rejects ${label}`, () => assert.equal(isValidTag(tag), false));
  }
  it('returns false for non-strings', () => assert.equal(isValidTag(7 as unknown as string), false));
});
