import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuditLog } from '../../src/audit/audit-log.js';
import { ANONYMOUS, type Identity } from '../../src/auth/identity.js';
import { defaultAuthOptions } from '../../src/auth/options.js';
import { PolicyService } from '../../src/auth/policy.js';
import { RepositoryCreatorService } from '../../src/auth/repository-creator.js';
import type { AccountMetadata, AccountRecord } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { RegistryError } from '../../src/registry/errors.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { auditRows, createRobot, createTeam, createUser, MemoryLog, robotIdentity, userIdentity } from './fixtures.js';

for (const dialect of ALL_DIALECTS) {
  describe(`repository creator on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    let metadata: Metadata;
    let audit: AuditLog;
    let acme: AccountRecord;
    let creatorUser: Identity;
    let orgadmin: Identity;
    let robot: Identity;
    let watcher: AccountRecord;
    let readersTeamId: number;

    const build = (overrides: { createPrivateRepoOnPush?: boolean; createNamespaceOnPush?: boolean } = {}) => {
      const options = defaultAuthOptions(overrides);
      return new RepositoryCreatorService(accounts, metadata, new PolicyService(accounts, metadata, options), audit, options);
    };

    /** The repository's permissions as "name:role" strings. */
    const permissions = async (name: string) => {
      const repository = await metadata.repositories.getRepository(name);
      assert.ok(repository, `${name} exists`);
      return (await accounts.permissions.listPermissions(repository.id)).map((p) => `${p.delegate.kind}:${p.delegateName}:${p.role}`);
    };

    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database);
      metadata = createMetadata(fresh.database);
      audit = new AuditLog(accounts.audit, new MemoryLog(), { flushIntervalMs: 10 });
      const owner = await createUser(accounts, 'orgadmin');
      const creator = await createUser(accounts, 'creator');
      watcher = await createUser(accounts, 'watcher');
      acme = await accounts.accounts.createOrganization({ name: 'acme', email: null, ownerId: owner.id });
      const builder = await createRobot(accounts, acme, 'builder', 'token');
      await createTeam(accounts, acme, 'builders', 'creator', [creator, builder]);
      readersTeamId = (await createTeam(accounts, acme, 'readers', 'member', [])).id;
      await accounts.permissions.addPrototype(acme.id, { kind: 'team', id: readersTeamId }, 'read');
      await accounts.permissions.addPrototype(acme.id, { kind: 'account', id: watcher.id }, 'write');
      // A prototype naming the creator must not lower the admin role it gets.
      await accounts.permissions.addPrototype(acme.id, { kind: 'account', id: creator.id }, 'read');
      creatorUser = userIdentity(creator);
      orgadmin = userIdentity(owner);
      robot = robotIdentity(builder, acme);
    });
    after(async () => {
      await audit.close();
      await fresh.drop();
    });

    it('creates a private repository with the creator as admin and the prototypes applied, once', async () => {
      const creator = build();
      const repository = await creator.ensure(creatorUser, 'acme/app', { clientAddress: '192.0.2.1' });
      assert.equal(repository.name, 'acme/app');
      assert.equal(repository.visibility, 'private');
      assert.deepEqual(await permissions('acme/app'), ['account:creator:admin', 'account:watcher:write', 'team:readers:read']);
      const again = await creator.ensure(orgadmin, 'acme/app', { visibility: 'public', clientAddress: '192.0.2.2' });
      assert.deepEqual(again, repository, 'an existing repository is returned as it is');
      const rows = (await auditRows(audit, ['create_repo'])).filter((r) => r.repository === 'acme/app');
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.namespace, 'acme');
      assert.equal(rows[0]?.clientAddress, '192.0.2.1');
      assert.deepEqual(rows[0]?.performer, { id: creatorUser.kind === 'user' ? creatorUser.id : -1, name: 'creator', kind: 'user' });
      assert.deepEqual(rows[0]?.metadata, { repo: 'acme/app', namespace: 'acme', visibility: 'private' });
    });

    it('gives no extra grant to an organization admin, and honours visibility choices', async () => {
      assert.equal((await build().ensure(orgadmin, 'acme/by-admin', { visibility: 'public', clientAddress: 'x' })).visibility, 'public');
      assert.deepEqual(await permissions('acme/by-admin'), ['account:creator:read', 'account:watcher:write', 'team:readers:read']);
      assert.equal((await build({ createPrivateRepoOnPush: false }).ensure(orgadmin, 'acme/pub', { clientAddress: 'x' })).visibility, 'public');
      assert.equal((await build({ createPrivateRepoOnPush: false }).ensure(orgadmin, 'acme/priv', { visibility: 'private', clientAddress: 'x' })).visibility, 'private');
    });

    it('grants a creating robot admin', async () => {
      await build().ensure(robot, 'acme/by-robot', { clientAddress: 'x' });
      assert.deepEqual(await permissions('acme/by-robot'), ['account:acme+builder:admin', 'account:creator:read', 'account:watcher:write', 'team:readers:read']);
    });

    it('applies the creation rules once under concurrent pushes', async () => {
      const creator = build();
      const results = await Promise.all(Array.from({ length: 8 }, () => creator.ensure(creatorUser, 'acme/race', { clientAddress: 'race' })));
      assert.equal(new Set(results.map((r) => r.id)).size, 1);
      const rows = (await auditRows(audit, ['create_repo'])).filter((r) => r.repository === 'acme/race');
      assert.equal(rows.length, 1);
      assert.deepEqual(await permissions('acme/race'), ['account:creator:admin', 'account:watcher:write', 'team:readers:read']);
    });

    it('creates the namespace organization with CREATE_NAMESPACE_ON_PUSH', async () => {
      const newbie = userIdentity(await createUser(accounts, 'newbie'));
      const repository = await build({ createNamespaceOnPush: true }).ensure(newbie, 'fresh-ns/app', { clientAddress: '192.0.2.9' });
      assert.equal(repository.namespace, 'fresh-ns');
      const org = await accounts.accounts.getAccount('fresh-ns');
      assert.equal(org?.kind, 'organization');
      const owners = await accounts.teams.getTeam(org?.id ?? -1, 'owners');
      assert.equal(owners?.role, 'admin');
      assert.deepEqual((await accounts.teams.listMembers(owners?.id ?? -1)).map((m) => m.name), ['newbie']);
      assert.deepEqual(await permissions('fresh-ns/app'), [], 'the owner administers the namespace already');
      const orgRows = (await auditRows(audit, ['org_create'])).filter((r) => r.namespace === 'fresh-ns');
      assert.equal(orgRows.length, 1);
      assert.equal(orgRows[0]?.clientAddress, '192.0.2.9');
      assert.equal(orgRows[0]?.performer?.name, 'newbie');
    });

    it('creates a namespace once when one user pushes several repositories into it at once', async () => {
      const pusher = userIdentity(await createUser(accounts, 'pusher'));
      const creator = build({ createNamespaceOnPush: true });
      const names = ['race-ns/a', 'race-ns/b', 'race-ns/c', 'race-ns/a'];
      await Promise.all(names.map((name) => creator.ensure(pusher, name, { clientAddress: 'x' })));
      assert.equal((await auditRows(audit, ['org_create'])).filter((r) => r.namespace === 'race-ns').length, 1);
      assert.equal((await auditRows(audit, ['create_repo'])).filter((r) => r.namespace === 'race-ns').length, 3);
    });

    it('tolerates losing the race for a namespace, refusing a loser who is not in it', async () => {
      const first = userIdentity(await createUser(accounts, 'first'));
      const second = userIdentity(await createUser(accounts, 'second'));
      // Both pushers looked before the organization existed; "first" created it in the meantime.
      await accounts.accounts.createOrganization({ name: 'contested', email: null, ownerId: first.kind === 'user' ? first.id : -1 });
      const stale: AccountMetadata = {
        ...accounts,
        accounts: Object.assign(Object.create(accounts.accounts) as AccountMetadata['accounts'], {
          getAccount: async (name: string) => (name === 'contested' ? undefined : accounts.accounts.getAccount(name)),
        }),
      };
      const options = defaultAuthOptions({ createNamespaceOnPush: true });
      const creator = new RepositoryCreatorService(stale, metadata, new PolicyService(accounts, metadata, options), audit, options);
      await assert.rejects(creator.ensure(second, 'contested/b', { clientAddress: 'x' }), (error: unknown) => {
        assert.ok(error instanceof RegistryError);
        assert.equal(error.code, 'DENIED');
        assert.match(error.message, /created by someone else/);
        return true;
      });
      assert.equal(await metadata.repositories.getRepository('contested/b'), undefined);
      const won = await creator.ensure(first, 'contested/a', { clientAddress: 'x' });
      assert.equal(won.name, 'contested/a');
      assert.equal((await auditRows(audit, ['org_create'])).filter((r) => r.namespace === 'contested').length, 0);
    });

    it('refuses a repository in a namespace that does not exist, saying how to create it', async () => {
      const user = userIdentity(await createUser(accounts, 'lonely'));
      // Robots never create namespaces, even with CREATE_NAMESPACE_ON_PUSH.
      for (const [creator, who] of [[build(), user], [build({ createNamespaceOnPush: true }), robot]] as const) {
        await assert.rejects(creator.ensure(who, 'missing-ns/app', { clientAddress: 'x' }), (error: unknown) => {
          assert.ok(error instanceof RegistryError);
          assert.equal(error.code, 'DENIED');
          assert.match(error.message, /^namespace "missing-ns" does not exist: create it with `quayside org create missing-ns --owner <user>`, or set CREATE_NAMESPACE_ON_PUSH/);
          return true;
        });
      }
      await assert.rejects(build().ensure(user, 'app', { clientAddress: 'x' }), /repository names need a namespace/);
      assert.equal(await metadata.repositories.getRepository('missing-ns/app'), undefined);
      assert.equal(await accounts.accounts.getAccount('missing-ns'), undefined);
    });

    it('refuses anonymous callers', async () => {
      await assert.rejects(build().ensure(ANONYMOUS, 'acme/anon', { clientAddress: 'x' }), (error: unknown) => error instanceof RegistryError && error.code === 'DENIED');
      assert.equal(await metadata.repositories.getRepository('acme/anon'), undefined);
    });
  });
}
