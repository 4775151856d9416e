import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NameTakenError, StillInUseError, type AccountMetadata } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const HASH = 'a'.repeat(64);

for (const dialect of ALL_DIALECTS) {
  describe(`accounts on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    let metadata: Metadata;
    let clock = 1_700_000_000_000;
    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database, { now: () => clock });
      metadata = createMetadata(fresh.database, { now: () => clock });
    });
    after(() => fresh.drop());

    it('creates a user and reads it by name and id, secrets only through getSecrets', async () => {
      const alice = await accounts.accounts.createUser({ name: 'alice', email: 'alice@example.com', passwordHash: '$2b$hash' });
      assert.deepEqual(alice, {
        id: alice.id,
        name: 'alice',
        kind: 'user',
        email: 'alice@example.com',
        enabled: true,
        ownerId: null,
        description: null,
        createdAt: new Date(clock),
        superuser: false,
      });
      assert.equal(typeof alice.id, 'number');
      assert.deepEqual(await accounts.accounts.getAccount('alice'), alice);
      assert.deepEqual(await accounts.accounts.getAccountById(alice.id), alice);
      assert.equal(await accounts.accounts.getAccount('Alice'), undefined, 'names are case-sensitive');
      assert.equal(await accounts.accounts.getAccountById(alice.id + 1000), undefined);
      assert.deepEqual(await accounts.accounts.getSecrets(alice.id), { passwordHash: '$2b$hash', tokenHash: null });
      assert.equal(await accounts.accounts.getSecrets(alice.id + 1000), undefined);
    });

    it('stores the superuser flag of a user, and only of a user', async () => {
      const boss = await accounts.accounts.createUser({ name: 'boss', email: null, passwordHash: null });
      await accounts.accounts.setSuperuser(boss.id, true);
      assert.equal((await accounts.accounts.getAccount('boss'))?.superuser, true);
      await accounts.accounts.setSuperuser(boss.id, false);
      assert.equal((await accounts.accounts.getAccount('boss'))?.superuser, false);
      const org = await accounts.accounts.createOrganization({ name: 'bossorg', email: null, ownerId: boss.id });
      await accounts.accounts.setSuperuser(org.id, true);
      assert.equal((await accounts.accounts.getAccount('bossorg'))?.superuser, false, 'an organization is never a superuser');
      // Gone again, so the listing tests below see only their own accounts.
      assert.ok(await accounts.accounts.deleteAccount(org.id));
      assert.ok(await accounts.accounts.deleteAccount(boss.id));
    });

    it('refuses a taken name whatever kind holds it', async () => {
      const owner = await accounts.accounts.createUser({ name: 'taken', email: null, passwordHash: null });
      await assert.rejects(accounts.accounts.createUser({ name: 'taken', email: null, passwordHash: null }), (error: unknown) => {
        assert.ok(error instanceof NameTakenError);
        assert.equal(error.what, 'user');
        assert.equal(error.takenName, 'taken');
        assert.equal(error.message, 'user "taken" already exists');
        return true;
      });
      await assert.rejects(
        accounts.accounts.createOrganization({ name: 'taken', email: null, ownerId: owner.id }),
        (error: unknown) => error instanceof NameTakenError && error.what === 'organization',
      );
      await assert.rejects(
        accounts.accounts.createRobot({ name: 'taken', ownerId: owner.id, description: null, tokenHash: HASH }),
        (error: unknown) => error instanceof NameTakenError && error.what === 'robot',
      );
      // The failed organization left no owners team behind.
      assert.deepEqual(await accounts.teams.listTeams(owner.id), []);
      assert.equal((await accounts.accounts.createUser({ name: 'Taken', email: null, passwordHash: null })).name, 'Taken');
    });

    it('lets exactly one of ten concurrent creators of a name win', async () => {
      const users = await Promise.allSettled(
        Array.from({ length: 10 }, () => accounts.accounts.createUser({ name: 'race-user', email: null, passwordHash: null })),
      );
      assert.equal(users.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of users) if (r.status === 'rejected') assert.ok(r.reason instanceof NameTakenError, String(r.reason));

      const owner = await accounts.accounts.createUser({ name: 'race-owner', email: null, passwordHash: null });
      const orgs = await Promise.allSettled(
        Array.from({ length: 10 }, () => accounts.accounts.createOrganization({ name: 'race-org', email: null, ownerId: owner.id })),
      );
      const won = orgs.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1);
      for (const r of orgs) if (r.status === 'rejected') assert.ok(r.reason instanceof NameTakenError, String(r.reason));
      const org = await accounts.accounts.getAccount('race-org');
      assert.ok(org);
      assert.deepEqual((await accounts.teams.listTeams(org.id)).map((t) => t.name), ['owners']);
    });

    it('creates an organization with an owners team holding its owner, atomically', async () => {
      const owner = await accounts.accounts.createUser({ name: 'olivia', email: null, passwordHash: null });
      clock += 1000;
      const org = await accounts.accounts.createOrganization({ name: 'acme', email: 'ops@acme.test', ownerId: owner.id });
      assert.equal(org.kind, 'organization');
      assert.equal(org.email, 'ops@acme.test');
      assert.deepEqual(org.createdAt, new Date(clock));
      const teams = await accounts.teams.listTeams(org.id);
      assert.deepEqual(
        teams.map((t) => [t.name, t.role, t.organizationId, t.createdAt.getTime()]),
        [['owners', 'admin', org.id, clock]],
      );
      assert.deepEqual((await accounts.teams.listMembers(teams[0]!.id)).map((m) => m.name), ['olivia']);

      // An owner that does not exist fails the whole transaction: no organization is left behind.
      await assert.rejects(accounts.accounts.createOrganization({ name: 'ghost-org', email: null, ownerId: owner.id + 10_000 }));
      assert.equal(await accounts.accounts.getAccount('ghost-org'), undefined);
    });

    it('creates robots, lists them per owner and rotates their tokens', async () => {
      const owner = await accounts.accounts.createUser({ name: 'rob', email: null, passwordHash: 'pw' });
      const b = await accounts.accounts.createRobot({ name: 'rob+b', ownerId: owner.id, description: 'builds', tokenHash: HASH });
      await accounts.accounts.createRobot({ name: 'rob+a', ownerId: owner.id, description: null, tokenHash: HASH });
      assert.equal(b.kind, 'robot');
      assert.equal(b.ownerId, owner.id);
      assert.equal(b.description, 'builds');
      assert.deepEqual((await accounts.accounts.listRobots(owner.id)).map((r) => r.name), ['rob+a', 'rob+b']);
      assert.deepEqual(await accounts.accounts.listRobots(b.id), []);

      await accounts.accounts.setRobotTokenHash(b.id, 'b'.repeat(64));
      assert.deepEqual(await accounts.accounts.getSecrets(b.id), { passwordHash: null, tokenHash: 'b'.repeat(64) });
      // Each setter only touches its own kind of account.
      await accounts.accounts.setPasswordHash(b.id, 'not-for-robots');
      await accounts.accounts.setRobotTokenHash(owner.id, 'c'.repeat(64));
      assert.deepEqual(await accounts.accounts.getSecrets(b.id), { passwordHash: null, tokenHash: 'b'.repeat(64) });
      assert.deepEqual(await accounts.accounts.getSecrets(owner.id), { passwordHash: 'pw', tokenHash: null });
      await accounts.accounts.setPasswordHash(owner.id, 'pw2');
      assert.equal((await accounts.accounts.getSecrets(owner.id))?.passwordHash, 'pw2');
    });

    it('changes email and enabled', async () => {
      const user = await accounts.accounts.createUser({ name: 'eve', email: 'eve@a.test', passwordHash: null });
      await accounts.accounts.setEmail(user.id, null);
      await accounts.accounts.setEnabled(user.id, false);
      let read = await accounts.accounts.getAccountById(user.id);
      assert.equal(read?.email, null);
      assert.equal(read?.enabled, false);
      await accounts.accounts.setEmail(user.id, 'eve@b.test');
      await accounts.accounts.setEnabled(user.id, true);
      read = await accounts.accounts.getAccountById(user.id);
      assert.equal(read?.email, 'eve@b.test');
      assert.equal(read?.enabled, true);
    });

    it('lists users and organizations by name, by kind, in pages, without robots', async () => {
      const all = await accounts.accounts.listAccounts({ limit: 1000 });
      assert.ok(all.length > 5);
      assert.ok(all.every((a) => a.kind !== 'robot'));
      assert.deepEqual(all.map((a) => a.name), [...all.map((a) => a.name)].sort());
      const paged: string[] = [];
      let last: string | undefined;
      for (;;) {
        const page = await accounts.accounts.listAccounts({ limit: 2, ...(last === undefined ? {} : { last }) });
        assert.ok(page.length <= 2);
        if (page.length === 0) break;
        paged.push(...page.map((a) => a.name));
        last = page[page.length - 1]!.name;
      }
      assert.deepEqual(paged, all.map((a) => a.name));
      const orgs = await accounts.accounts.listAccounts({ limit: 1000 }, 'organization');
      assert.deepEqual(orgs.map((o) => o.name), ['acme', 'race-org']);
      const users = await accounts.accounts.listAccounts({ limit: 1000, last: 'olivia' }, 'user');
      assert.ok(users.every((u) => u.kind === 'user' && u.name > 'olivia'));
      assert.ok(users.some((u) => u.name === 'rob'));
    });

    it('refuses to delete a namespace that still has repositories', async () => {
      const user = await accounts.accounts.createUser({ name: 'keeper', email: null, passwordHash: null });
      const repo = await metadata.repositories.ensureRepository('keeper/app');
      await metadata.repositories.ensureRepository('keeper/other');
      await assert.rejects(accounts.accounts.deleteAccount(user.id), (error: unknown) => {
        assert.ok(error instanceof StillInUseError);
        assert.equal(error.message, 'namespace "keeper" still has 2 repositories; delete them first');
        return true;
      });
      assert.ok(await accounts.accounts.getAccountById(user.id));
      await metadata.repositories.deleteRepository(repo.id);
      await assert.rejects(accounts.accounts.deleteAccount(user.id), /still has 1 repository;/);
    });

    it('deletes a user with its robots, memberships, grants, tokens and sessions', async () => {
      const owner = await accounts.accounts.createUser({ name: 'otto', email: null, passwordHash: null });
      const org = await accounts.accounts.createOrganization({ name: 'ottoorg', email: null, ownerId: owner.id });
      const user = await accounts.accounts.createUser({ name: 'gone', email: null, passwordHash: null });
      const robot = await accounts.accounts.createRobot({ name: 'gone+ci', ownerId: user.id, description: null, tokenHash: HASH });
      const team = await accounts.teams.upsertTeam(org.id, 'devs', 'member', null);
      await accounts.teams.addMember(team.id, user.id);
      await accounts.teams.addMember(team.id, robot.id);
      const repo = await metadata.repositories.ensureRepository('ottoorg/app');
      await accounts.permissions.setPermission(repo.id, { kind: 'account', id: user.id }, 'write');
      await accounts.permissions.setPermission(repo.id, { kind: 'account', id: robot.id }, 'read');
      await accounts.permissions.addPrototype(org.id, { kind: 'account', id: user.id }, 'read');
      await accounts.appTokens.create(user.id, 'laptop', 'd'.repeat(64), null);
      await accounts.sessions.create('e'.repeat(64), user.id, new Date(clock + 60_000));

      assert.equal(await accounts.accounts.deleteAccount(user.id), true);
      assert.equal(await accounts.accounts.getAccountById(user.id), undefined);
      assert.equal(await accounts.accounts.getAccountById(robot.id), undefined, 'robots go with their owner');
      assert.deepEqual((await accounts.teams.listMembers(team.id)).map((m) => m.name), []);
      assert.deepEqual(await accounts.permissions.listPermissions(repo.id), []);
      assert.deepEqual(await accounts.permissions.listPrototypes(org.id), []);
      assert.equal(await accounts.appTokens.findByHash('d'.repeat(64)), undefined);
      assert.equal(await accounts.sessions.get('e'.repeat(64)), undefined);
      assert.equal(await accounts.accounts.deleteAccount(user.id), false);
    });

    it('deletes an organization with its teams and robots, and a robot alone without looking at repositories', async () => {
      const owner = await accounts.accounts.createUser({ name: 'ursula', email: null, passwordHash: null });
      const org = await accounts.accounts.createOrganization({ name: 'doomed', email: null, ownerId: owner.id });
      const robot = await accounts.accounts.createRobot({ name: 'doomed+ci', ownerId: org.id, description: null, tokenHash: HASH });
      const team = await accounts.teams.upsertTeam(org.id, 'readers', 'member', null);
      await accounts.teams.addMember(team.id, owner.id);
      const ownRobot = await accounts.accounts.createRobot({ name: 'ursula+x', ownerId: owner.id, description: null, tokenHash: HASH });
      await metadata.repositories.ensureRepository('ursula/app');
      assert.equal(await accounts.accounts.deleteAccount(ownRobot.id), true, 'a robot has no namespace of its own');

      assert.equal(await accounts.accounts.deleteAccount(org.id), true);
      assert.equal(await accounts.accounts.getAccount('doomed'), undefined);
      assert.equal(await accounts.accounts.getAccountById(robot.id), undefined);
      assert.equal(await accounts.teams.getTeam(org.id, 'readers'), undefined);
      assert.deepEqual(await accounts.teams.listMembers(team.id), []);
      assert.ok(await accounts.accounts.getAccountById(owner.id), 'members are not deleted with the organization');
    });
  });
}
