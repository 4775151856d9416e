import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity } from '../../src/auth/identity.js';
import { actionsForRole, decideRole, strongestRole, type RoleInputs } from '../../src/auth/policy.js';

const alice: Identity = { kind: 'user', id: 1, name: 'alice', superuser: false };
const root: Identity = { kind: 'user', id: 2, name: 'root', superuser: true };
const robot: Identity = { kind: 'robot', id: 3, name: 'acme+ci', ownerId: 4, ownerName: 'acme' };
const anonymous: Identity = { kind: 'anonymous' };

function inputs(overrides: Partial<RoleInputs>): RoleInputs {
  return { identity: alice, namespace: 'acme', visibility: 'private', repositoryRoles: [], teamRoles: [], anonymousAccess: true, ...overrides };
}

describe('decideRole', () => {
  it('gives superusers and namespace owners admin', () => {
    assert.equal(decideRole(inputs({ identity: root })), 'admin');
    assert.equal(decideRole(inputs({ namespace: 'alice' })), 'admin');
  });

  it('never gives a robot ownership of the namespace named like it', () => {
    assert.equal(decideRole(inputs({ identity: robot, namespace: 'acme+ci' })), undefined);
    assert.equal(decideRole(inputs({ identity: robot, namespace: 'acme' })), undefined);
  });

  it('gives an admin team admin, other team roles nothing by themselves', () => {
    assert.equal(decideRole(inputs({ teamRoles: ['admin'] })), 'admin');
    assert.equal(decideRole(inputs({ identity: robot, teamRoles: ['admin'] })), 'admin');
    assert.equal(decideRole(inputs({ teamRoles: ['creator', 'member'] })), undefined);
  });

  it('takes the strongest grant, and read from a public repository', () => {
    assert.equal(decideRole(inputs({ repositoryRoles: ['read', 'write'] })), 'write');
    assert.equal(decideRole(inputs({ visibility: 'public' })), 'read');
    assert.equal(decideRole(inputs({ visibility: 'public', repositoryRoles: ['write'] })), 'write');
    assert.equal(decideRole(inputs({ identity: robot, visibility: 'public' })), 'read');
  });

  it('gives anonymous callers read of public repositories only with anonymous access', () => {
    assert.equal(decideRole(inputs({ identity: anonymous, visibility: 'public' })), 'read');
    assert.equal(decideRole(inputs({ identity: anonymous, visibility: 'public', anonymousAccess: false })), undefined);
    assert.equal(decideRole(inputs({ identity: anonymous, repositoryRoles: ['admin'], teamRoles: ['admin'] })), undefined);
  });
});

describe('role helpers', () => {
  it('maps roles to actions, keeping the request order', () => {
    assert.deepEqual(actionsForRole('read', ['push', 'pull']), ['pull']);
    assert.deepEqual(actionsForRole('write', ['*', 'delete', 'push', 'pull', 'pull']), ['delete', 'push', 'pull']);
    assert.deepEqual(actionsForRole('admin', ['*', 'pull']), ['*', 'pull']);
    assert.deepEqual(actionsForRole(undefined, ['pull']), []);
    assert.equal(strongestRole([]), undefined);
    assert.equal(strongestRole(['read', 'admin', 'write']), 'admin');
  });
});
