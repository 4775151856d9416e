import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namespaceNameProblem, parseRobotName, robotFullName, robotShortNameProblem, teamNameProblem } from '../../src/auth/names.js';
import { constantTimeEqual, hashSecret, newSecretToken } from '../../src/auth/secrets.js';

describe('namespace names', () => {
  for (const name of ['ab', 'alice', 'acme-corp', 'a.b_c-d', 'x9', '0day', 'a'.repeat(255)]) {
    it(`accepts ${name.length > 20 ? `${name.length} characters` : name}`, () => assert.equal(namespaceNameProblem(name), undefined));
  }
  const refused: Array<[string, RegExp]> = [
    ['a', /2 to 255/],
    ['', /2 to 255/],
    ['a'.repeat(256), /2 to 255/],
    ['Alice', /lower-case/],
    ['al ice', /lower-case/],
    ['-alice', /lower-case/],
    ['alice-', /lower-case/],
    ['al--ice', /lower-case/],
    ['al..ice', /lower-case/],
    ['al/ice', /lower-case/],
    ['alice+ci', /"\+"/],
    ['ali\u0000ce', /lower-case/],
    ['álice', /lower-case/],
  ];
  for (const [name, pattern] of refused) {
    it(`refuses ${JSON.stringify(name.slice(0, 20))}`, () => {
      const problem = namespaceNameProblem(name);
      assert.ok(problem !== undefined);
      assert.match(problem, pattern);
      assert.ok(!problem.includes('\n'));
    });
  }
});

describe('robot names', () => {
  it('checks short names', () => {
    assert.equal(robotShortNameProblem('ci'), undefined);
    assert.equal(robotShortNameProblem('deploy_bot2'), undefined);
    for (const bad of ['c', '2ci', 'Ci', 'ci-bot', 'ci.bot', '', 'c'.repeat(256), '_ci']) {
      assert.match(robotShortNameProblem(bad) ?? '', /robot name must be/, bad);
    }
  });

  it('builds and parses full names', () => {
    assert.equal(robotFullName('acme', 'ci'), 'acme+ci');
    assert.deepEqual(parseRobotName('acme+ci'), { owner: 'acme', short: 'ci' });
    assert.deepEqual(parseRobotName('alice.b+deploy_1'), { owner: 'alice.b', short: 'deploy_1' });
    for (const bad of ['acme', 'acme+', '+ci', 'acme+ci+x', 'Acme+ci', 'acme+Ci', 'a+ci', `${'a'.repeat(200)}+${'b'.repeat(60)}`]) {
      assert.equal(parseRobotName(bad), undefined, bad);
    }
  });
});

describe('team names', () => {
  it('follows Quay: the namespace expression, 2..255 characters', () => {
    for (const good of ['owners', 'dev-team', 'ops.eu', 'qa_1']) assert.equal(teamNameProblem(good), undefined, good);
    for (const bad of ['o', 'Owners', 'dev team', '-dev', 'dev+x', 'x'.repeat(256)]) assert.ok(teamNameProblem(bad), bad);
  });
});

describe('secrets', () => {
  it('makes long, distinct, url-safe tokens', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => newSecretToken()));
    assert.equal(tokens.size, 100);
    for (const token of tokens) assert.match(token, /^[A-Za-z0-9_-]{64}$/);
  });

  it('hashes to hex sha256 and compares exactly', () => {
    assert.equal(hashSecret('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(constantTimeEqual('abc', 'abc'), true);
    assert.equal(constantTimeEqual('abc', 'abd'), false);
    assert.equal(constantTimeEqual('abc', 'abcd'), false);
    assert.equal(constantTimeEqual('', ''), true);
  });
});
