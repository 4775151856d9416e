import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ANONYMOUS, type Identity, type RepositoryAction } from '../../src/auth/identity.js';
import { defaultAuthOptions } from '../../src/auth/options.js';
import { PolicyService } from '../../src/auth/policy.js';
import type { AccountMetadata } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { createRepository, createRobot, createTeam, createUser, grant, robotIdentity, userIdentity } from './fixtures.js';

/**
 * THE PERMISSION MATRIX. Each cell is what allowedActions(actor, repository, [pull, push, delete]) returns.
 * "ppd" = pull push delete, "p" = pull only, "-" = nothing.
 *
 * The organization "acme" has: owners team (orgadmin, role admin); leads (teamadmin, role admin, no grants);
 * builders (creator and the robot acme+builder, role creator, no grants); readers (reader, role member,
 * granted read on both acme repositories); writers (writer, role member, granted write on both).
 * Robots acme+reader and acme+writer hold direct read / write grants on both acme repositories.
 * The user namespace "alice" has alice/public and alice/private, with no grants. "new" repositories do not
 * exist yet (a push would create them); the namespace "ghost" does not exist at all.
 * The policy runs with FEATURE_ANONYMOUS_ACCESS on and CREATE_NAMESPACE_ON_PUSH off.
 */
const COLUMNS = ['acme/public', 'acme/private', 'acme/new', 'alice/public', 'alice/private', 'alice/new', 'ghost/new'] as const;
const MATRIX: Record<string, string> = {
  //                  acme/public acme/private acme/new  alice/public alice/private alice/new ghost/new
  'alice (owner)':   'p           -            -         ppd          ppd           ppd       -',
  'orgadmin':        'ppd         ppd          ppd       p            -             -         -',
  'teamadmin':       'ppd         ppd          ppd       p            -             -         -',
  'creator':         'p           -            ppd       p            -             -         -',
  'reader (member)': 'p           p            -         p            -             -         -',
  'writer (member)': 'ppd         ppd          -         p            -             -         -',
  'robot read':      'p           p            -         p            -             -         -',
  'robot write':     'ppd         ppd          -         p            -             -         -',
  'robot creator':   'p           -            ppd       p            -             -         -',
  'other':           'p           -            -         p            -             -         -',
  'anonymous':       'p           -            -         p            -             -         -',
  'superuser':       'ppd         ppd          ppd       ppd          ppd           ppd       -',
};

const CODES: Record<string, RepositoryAction[]> = { ppd: ['pull', 'push', 'delete'], p: ['pull'], '-': [] };
const REQUESTED: RepositoryAction[] = ['pull', 'push', 'delete'];

function expectedRow(actor: string): RepositoryAction[][] {
  const codes = (MATRIX[actor] as string).trim().split(/\s+/);
  assert.equal(codes.length, COLUMNS.length, `row ${actor} has ${COLUMNS.length} cells`);
  return codes.map((code) => {
    const actions = CODES[code];
    assert.ok(actions, `unknown cell ${code}`);
    return actions;
  });
}

for (const dialect of ALL_DIALECTS) {
  describe(`access policy on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    let metadata: Metadata;
    let policy: PolicyService;
    const actors = new Map<string, Identity>();

    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database);
      metadata = createMetadata(fresh.database);
      policy = new PolicyService(accounts, metadata, defaultAuthOptions({ anonymousAccess: true, createNamespaceOnPush: false }));

      const alice = await createUser(accounts, 'alice');
      const orgadmin = await createUser(accounts, 'orgadmin');
      const teamadmin = await createUser(accounts, 'teamadmin');
      const creator = await createUser(accounts, 'creator');
      const reader = await createUser(accounts, 'reader');
      const writer = await createUser(accounts, 'writer');
      const other = await createUser(accounts, 'other');
      const root = await createUser(accounts, 'root');
      const acme = await accounts.accounts.createOrganization({ name: 'acme', email: null, ownerId: orgadmin.id });
      const robotRead = await createRobot(accounts, acme, 'reader', 'r-token');
      const robotWrite = await createRobot(accounts, acme, 'writer', 'w-token');
      const robotBuilder = await createRobot(accounts, acme, 'builder', 'b-token');

      await createTeam(accounts, acme, 'leads', 'admin', [teamadmin]);
      await createTeam(accounts, acme, 'builders', 'creator', [creator, robotBuilder]);
      const readers = await createTeam(accounts, acme, 'readers', 'member', [reader]);
      const writers = await createTeam(accounts, acme, 'writers', 'member', [writer]);

      for (const [name, visibility] of [['acme/public', 'public'], ['acme/private', 'private']] as const) {
        const repository = await createRepository(metadata, name, visibility);
        await grant(accounts, repository, { kind: 'team', id: readers.id }, 'read');
        await grant(accounts, repository, { kind: 'team', id: writers.id }, 'write');
        await grant(accounts, repository, { kind: 'account', id: robotRead.id }, 'read');
        await grant(accounts, repository, { kind: 'account', id: robotWrite.id }, 'write');
      }
      await createRepository(metadata, 'alice/public', 'public');
      await createRepository(metadata, 'alice/private', 'private');

      actors.set('alice (owner)', userIdentity(alice));
      actors.set('orgadmin', userIdentity(orgadmin));
      actors.set('teamadmin', userIdentity(teamadmin));
      actors.set('creator', userIdentity(creator));
      actors.set('reader (member)', userIdentity(reader));
      actors.set('writer (member)', userIdentity(writer));
      actors.set('robot read', robotIdentity(robotRead, acme));
      actors.set('robot write', robotIdentity(robotWrite, acme));
      actors.set('robot creator', robotIdentity(robotBuilder, acme));
      actors.set('other', userIdentity(other));
      actors.set('anonymous', ANONYMOUS);
      actors.set('superuser', userIdentity(root, true));
    });
    after(() => fresh.drop());

    for (const actor of Object.keys(MATRIX)) {
      it(`matrix row: ${actor}`, async () => {
        const identity = actors.get(actor);
        assert.ok(identity);
        const expected = expectedRow(actor);
        const actual = await Promise.all(COLUMNS.map((repository) => policy.allowedActions(identity, repository, REQUESTED)));
        for (const [index, repository] of COLUMNS.entries()) {
          assert.deepEqual(actual[index], expected[index], `${actor} on ${repository}`);
        }
      });
    }

    it('grants "*" to admins only', async () => {
      const all: RepositoryAction[] = ['pull', 'push', 'delete', '*'];
      assert.deepEqual(await policy.allowedActions(actors.get('orgadmin') as Identity, 'acme/private', all), all);
      assert.deepEqual(await policy.allowedActions(actors.get('superuser') as Identity, 'alice/private', all), all);
      assert.deepEqual(await policy.allowedActions(actors.get('creator') as Identity, 'acme/new', all), all);
      assert.deepEqual(await policy.allowedActions(actors.get('writer (member)') as Identity, 'acme/private', all), ['pull', 'push', 'delete']);
      assert.deepEqual(await policy.allowedActions(actors.get('robot write') as Identity, 'acme/private', ['*']), []);
    });

    it('grants nothing for invalid names or an empty request', async () => {
      const root = actors.get('superuser') as Identity;
      assert.deepEqual(await policy.allowedActions(root, 'acme//x', REQUESTED), []);
      assert.deepEqual(await policy.allowedActions(root, 'ACME/x', REQUESTED), []);
      assert.deepEqual(await policy.allowedActions(root, 'acme/private', []), []);
    });

    it('refuses anonymous pulls of public repositories without FEATURE_ANONYMOUS_ACCESS', async () => {
      const closed = new PolicyService(accounts, metadata, defaultAuthOptions({ anonymousAccess: false }));
      assert.deepEqual(await closed.allowedActions(ANONYMOUS, 'acme/public', REQUESTED), []);
      assert.deepEqual(await closed.allowedActions(actors.get('other') as Identity, 'acme/public', REQUESTED), ['pull']);
    });

    it('lets users (not robots, not anonymous) create a missing namespace with CREATE_NAMESPACE_ON_PUSH', async () => {
      const open = new PolicyService(accounts, metadata, defaultAuthOptions({ createNamespaceOnPush: true }));
      assert.deepEqual(await open.allowedActions(actors.get('other') as Identity, 'ghost/new', REQUESTED), REQUESTED);
      assert.deepEqual(await open.allowedActions(actors.get('superuser') as Identity, 'ghost/new', REQUESTED), REQUESTED);
      assert.deepEqual(await open.allowedActions(actors.get('robot creator') as Identity, 'ghost/new', REQUESTED), []);
      assert.deepEqual(await open.allowedActions(ANONYMOUS, 'ghost/new', REQUESTED), []);
      // Existing namespaces keep their rules.
      assert.deepEqual(await open.allowedActions(actors.get('other') as Identity, 'acme/new', REQUESTED), []);
      // A namespace name that could never be an account (one character) is not created.
      assert.deepEqual(await open.allowedActions(actors.get('other') as Identity, 'g/new', REQUESTED), []);
    });

    it('reports repository roles', async () => {
      const repository = await metadata.repositories.getRepository('acme/private');
      assert.ok(repository);
      const roles = await Promise.all(
        ['orgadmin', 'teamadmin', 'creator', 'reader (member)', 'writer (member)', 'robot read', 'other', 'anonymous', 'superuser'].map((actor) =>
          policy.repositoryRole(actors.get(actor) as Identity, repository),
        ),
      );
      assert.deepEqual(roles, ['admin', 'admin', undefined, 'read', 'write', 'read', undefined, undefined, 'admin']);
    });

    it('answers canCreateIn and administersNamespace', async () => {
      const ask = async (actor: string, namespace: string) => {
        const identity = actors.get(actor) as Identity;
        return [await policy.canCreateIn(identity, namespace), await policy.administersNamespace(identity, namespace)];
      };
      assert.deepEqual(await ask('alice (owner)', 'alice'), [true, true]);
      assert.deepEqual(await ask('alice (owner)', 'acme'), [false, false]);
      assert.deepEqual(await ask('orgadmin', 'acme'), [true, true]);
      assert.deepEqual(await ask('teamadmin', 'acme'), [true, true]);
      assert.deepEqual(await ask('creator', 'acme'), [true, false]);
      assert.deepEqual(await ask('robot creator', 'acme'), [true, false]);
      assert.deepEqual(await ask('writer (member)', 'acme'), [false, false]);
      assert.deepEqual(await ask('robot write', 'acme'), [false, false]);
      assert.deepEqual(await ask('anonymous', 'acme'), [false, false]);
      assert.deepEqual(await ask('superuser', 'acme'), [true, true]);
      assert.deepEqual(await ask('superuser', 'alice'), [true, true]);
      assert.deepEqual(await ask('superuser', 'ghost'), [false, true]);
      assert.deepEqual(await ask('orgadmin', 'acme+reader'), [false, false]);
    });
  });
}
