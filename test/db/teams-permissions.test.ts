import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AccountMetadata, AccountRecord, Viewer } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const HASH = 'f'.repeat(64);

for (const dialect of ALL_DIALECTS) {
  describe(`teams and permissions on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    let metadata: Metadata;
    let clock = 1_700_000_000_000;
    // Cast: alice owns org "acme"; bob is in acme's "devs" team (member); carol is in nothing; acme+ci is a robot.
    let alice: AccountRecord;
    let bob: AccountRecord;
    let carol: AccountRecord;
    let acme: AccountRecord;
    let robot: AccountRecord;
    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database, { now: () => clock });
      metadata = createMetadata(fresh.database, { now: () => clock });
      alice = await accounts.accounts.createUser({ name: 'alice', email: null, passwordHash: null });
      bob = await accounts.accounts.createUser({ name: 'bob', email: null, passwordHash: null });
      carol = await accounts.accounts.createUser({ name: 'carol', email: null, passwordHash: null });
      acme = await accounts.accounts.createOrganization({ name: 'acme', email: null, ownerId: alice.id });
      robot = await accounts.accounts.createRobot({ name: 'acme+ci', ownerId: acme.id, description: null, tokenHash: HASH });
    });
    after(() => fresh.drop());

    it('creates a team, then updates its role and description in place', async () => {
      const created = await accounts.teams.upsertTeam(acme.id, 'devs', 'member', 'developers');
      assert.deepEqual(created, {
        id: created.id,
        organizationId: acme.id,
        name: 'devs',
        role: 'member',
        description: 'developers',
        createdAt: new Date(clock),
      });
      clock += 1000;
      const updated = await accounts.teams.upsertTeam(acme.id, 'devs', 'creator', null);
      assert.equal(updated.id, created.id);
      assert.equal(updated.role, 'creator');
      assert.equal(updated.description, null);
      assert.deepEqual(updated.createdAt, created.createdAt, 'an update keeps the creation time');
      await accounts.teams.upsertTeam(acme.id, 'devs', 'member', 'developers');
      assert.deepEqual(await accounts.teams.getTeam(acme.id, 'devs'), created);
      assert.equal(await accounts.teams.getTeam(acme.id, 'DEVS'), undefined);
      assert.deepEqual((await accounts.teams.listTeams(acme.id)).map((t) => t.name), ['devs', 'owners']);
    });

    it('adds members idempotently, removes them and lists teams and members', async () => {
      const devs = (await accounts.teams.getTeam(acme.id, 'devs'))!;
      const owners = (await accounts.teams.getTeam(acme.id, 'owners'))!;
      await accounts.teams.addMember(devs.id, bob.id);
      await accounts.teams.addMember(devs.id, bob.id);
      await accounts.teams.addMember(devs.id, robot.id);
      await accounts.teams.addMember(devs.id, carol.id);
      await accounts.teams.addMember(devs.id, alice.id);
      assert.deepEqual((await accounts.teams.listMembers(devs.id)).map((m) => m.name), ['acme+ci', 'alice', 'bob', 'carol']);
      assert.equal(await accounts.teams.removeMember(devs.id, carol.id), true);
      assert.equal(await accounts.teams.removeMember(devs.id, carol.id), false);
      assert.equal(await accounts.teams.removeMember(devs.id, alice.id), true);
      assert.deepEqual((await accounts.teams.teamsOf(acme.id, alice.id)).map((t) => t.name), ['owners']);
      assert.deepEqual((await accounts.teams.teamsOf(acme.id, bob.id)).map((t) => t.id), [devs.id]);
      assert.deepEqual(await accounts.teams.teamsOf(acme.id, carol.id), []);
      assert.equal(owners.role, 'admin');
      const members = await accounts.teams.organizationMembers(acme.id);
      assert.deepEqual(members.map((m) => [m.name, m.kind]), [['acme+ci', 'robot'], ['alice', 'user'], ['bob', 'user']]);

      const temp = await accounts.teams.upsertTeam(acme.id, 'temp', 'member', null);
      await accounts.teams.addMember(temp.id, carol.id);
      assert.equal(await accounts.teams.deleteTeam(temp.id), true);
      assert.equal(await accounts.teams.deleteTeam(temp.id), false);
      assert.deepEqual(await accounts.teams.teamsOf(acme.id, carol.id), []);
    });

    it('sets, changes, lists and deletes repository permissions', async () => {
      const repo = await metadata.repositories.ensureRepository('acme/perm');
      const devs = (await accounts.teams.getTeam(acme.id, 'devs'))!;
      await accounts.permissions.setPermission(repo.id, { kind: 'account', id: carol.id }, 'read');
      await accounts.permissions.setPermission(repo.id, { kind: 'account', id: robot.id }, 'write');
      await accounts.permissions.setPermission(repo.id, { kind: 'team', id: devs.id }, 'read');
      await accounts.permissions.setPermission(repo.id, { kind: 'account', id: carol.id }, 'admin');
      await accounts.permissions.setPermission(repo.id, { kind: 'team', id: devs.id }, 'write');
      assert.deepEqual(await accounts.permissions.listPermissions(repo.id), [
        { repositoryId: repo.id, delegate: { kind: 'account', id: robot.id }, delegateName: 'acme+ci', accountKind: 'robot', role: 'write' },
        { repositoryId: repo.id, delegate: { kind: 'account', id: carol.id }, delegateName: 'carol', accountKind: 'user', role: 'admin' },
        { repositoryId: repo.id, delegate: { kind: 'team', id: devs.id }, delegateName: 'devs', accountKind: null, role: 'write' },
      ]);
      assert.equal(await accounts.permissions.deletePermission(repo.id, { kind: 'team', id: devs.id }), true);
      assert.equal(await accounts.permissions.deletePermission(repo.id, { kind: 'team', id: devs.id }), false);
      assert.equal(await accounts.permissions.deletePermission(repo.id, { kind: 'account', id: bob.id }), false);
      assert.deepEqual((await accounts.permissions.listPermissions(repo.id)).map((p) => p.delegateName), ['acme+ci', 'carol']);
    });

    it("lists an account's direct grants by repository, not those of its teams", async () => {
      const other = await metadata.repositories.ensureRepository('acme/another');
      await metadata.repositories.setVisibility(other.id, 'public');
      await accounts.permissions.setPermission(other.id, { kind: 'account', id: robot.id }, 'read');
      const perm = (await metadata.repositories.getRepository('acme/perm'))!;
      // acme/perm: the robot has write (previous test); devs' grant there was deleted, and team grants never count.
      assert.deepEqual(await accounts.permissions.listAccountPermissions(robot.id), [
        { repositoryId: other.id, repositoryName: 'acme/another', isPublic: true, role: 'read' },
        { repositoryId: perm.id, repositoryName: 'acme/perm', isPublic: false, role: 'write' },
      ]);
      assert.deepEqual(await accounts.permissions.listAccountPermissions(bob.id), []);
    });

    it('survives concurrent upserts of one grant', async () => {
      const repo = await metadata.repositories.ensureRepository('acme/upsert-race');
      await Promise.all(
        (['read', 'write', 'admin', 'read', 'write', 'admin'] as const).map((role) =>
          accounts.permissions.setPermission(repo.id, { kind: 'account', id: bob.id }, role),
        ),
      );
      const grants = await accounts.permissions.listPermissions(repo.id);
      assert.equal(grants.length, 1);
    });

    it('gathers access facts from direct grants, team grants and organization team roles', async () => {
      const repo = await metadata.repositories.ensureRepository('acme/facts');
      const devs = (await accounts.teams.getTeam(acme.id, 'devs'))!;
      // bob: direct read, plus write through devs; member role in acme through devs.
      await accounts.permissions.setPermission(repo.id, { kind: 'account', id: bob.id }, 'read');
      await accounts.permissions.setPermission(repo.id, { kind: 'team', id: devs.id }, 'write');
      const bobFacts = await accounts.permissions.accessFacts(bob.id, 'acme', repo.id);
      assert.deepEqual([...bobFacts.repositoryRoles].sort(), ['read', 'write']);
      assert.deepEqual(bobFacts.teamRoles, ['member']);
      // The robot gets the team grant too.
      assert.deepEqual(await accounts.permissions.accessFacts(robot.id, 'acme', repo.id), { repositoryRoles: ['write'], teamRoles: ['member'] });
      // alice: no grant on the repository, admin through owners.
      assert.deepEqual(await accounts.permissions.accessFacts(alice.id, 'acme', repo.id), { repositoryRoles: [], teamRoles: ['admin'] });
      // carol: nothing here.
      assert.deepEqual(await accounts.permissions.accessFacts(carol.id, 'acme', repo.id), { repositoryRoles: [], teamRoles: [] });
      // No repository yet: only the organization side.
      assert.deepEqual(await accounts.permissions.accessFacts(bob.id, 'acme', undefined), { repositoryRoles: [], teamRoles: ['member'] });
      // A user namespace, or one that does not exist, has no team roles.
      const own = await metadata.repositories.ensureRepository('bob/own');
      assert.deepEqual(await accounts.permissions.accessFacts(bob.id, 'bob', own.id), { repositoryRoles: [], teamRoles: [] });
      assert.deepEqual(await accounts.permissions.accessFacts(bob.id, 'nobody', undefined), { repositoryRoles: [], teamRoles: [] });
      // Grants on another repository do not leak.
      const other = await metadata.repositories.ensureRepository('acme/other-facts');
      assert.deepEqual((await accounts.permissions.accessFacts(bob.id, 'acme', other.id)).repositoryRoles, []);
    });

    it('lists the repositories each kind of viewer may see, in pages', async () => {
      // A separate organization keeps the expectations independent of the other tests' repositories.
      const dave = await accounts.accounts.createUser({ name: 'dave', email: null, passwordHash: null });
      const erin = await accounts.accounts.createUser({ name: 'erin', email: null, passwordHash: null });
      const vis = await accounts.accounts.createOrganization({ name: 'vis', email: null, ownerId: dave.id });
      const visBot = await accounts.accounts.createRobot({ name: 'vis+bot', ownerId: vis.id, description: null, tokenHash: HASH });
      const readers = await accounts.teams.upsertTeam(vis.id, 'readers', 'member', null);
      await accounts.teams.addMember(readers.id, erin.id);
      const repos: Record<string, number> = {};
      for (const name of ['vis/a-public', 'vis/b-private', 'vis/c-team', 'vis/d-robot', 'vis/e-erin', 'erin/own', 'dave/own']) {
        repos[name] = (await metadata.repositories.createRepository(name, name.endsWith('public') ? 'public' : 'private')).repository.id;
      }
      await accounts.permissions.setPermission(repos['vis/c-team']!, { kind: 'team', id: readers.id }, 'read');
      await accounts.permissions.setPermission(repos['vis/d-robot']!, { kind: 'account', id: visBot.id }, 'read');
      await accounts.permissions.setPermission(repos['vis/e-erin']!, { kind: 'account', id: erin.id }, 'write');
      const list = (viewer: Viewer, namespace = 'vis', limit = 100) =>
        accounts.permissions.listVisibleRepositories(viewer, { namespace, limit });

      assert.deepEqual(await list({ superuser: false, includePublic: true }), ['vis/a-public']);
      assert.deepEqual(await list({ superuser: false, includePublic: false }), []);
      assert.deepEqual(await list({ accountId: erin.id, superuser: false, includePublic: true }), ['vis/a-public', 'vis/c-team', 'vis/e-erin']);
      assert.deepEqual(await list({ accountId: erin.id, superuser: false, includePublic: false }), ['vis/c-team', 'vis/e-erin']);
      assert.deepEqual(await list({ accountId: erin.id, superuser: false, includePublic: false }, 'erin'), ['erin/own']);
      assert.deepEqual(await list({ accountId: visBot.id, superuser: false, includePublic: false }), ['vis/d-robot']);
      assert.deepEqual(await list({ accountId: carol.id, superuser: false, includePublic: false }), []);
      const all = ['vis/a-public', 'vis/b-private', 'vis/c-team', 'vis/d-robot', 'vis/e-erin'];
      assert.deepEqual(await list({ accountId: dave.id, superuser: false, includePublic: false }), all, 'an org admin sees everything in it');
      assert.deepEqual(await list({ accountId: dave.id, superuser: false, includePublic: false }, 'dave'), ['dave/own']);
      assert.deepEqual(await list({ accountId: carol.id, superuser: true, includePublic: false }), all);
      assert.deepEqual(await list({ superuser: true, includePublic: false }, 'erin'), ['erin/own']);

      // Without a namespace filter, paging through erin's view yields every visible name once, in order.
      const everything = await accounts.permissions.listVisibleRepositories(
        { accountId: erin.id, superuser: false, includePublic: false },
        { limit: 1000 },
      );
      assert.deepEqual(everything, ['erin/own', 'vis/c-team', 'vis/e-erin']);
      const paged: string[] = [];
      let last: string | undefined;
      for (;;) {
        const page = await accounts.permissions.listVisibleRepositories(
          { accountId: dave.id, superuser: false, includePublic: true },
          { limit: 2, ...(last === undefined ? {} : { last }) },
        );
        assert.ok(page.length <= 2);
        if (page.length === 0) break;
        paged.push(...page);
        last = page[page.length - 1];
      }
      assert.ok(paged.includes('dave/own') && paged.includes('vis/b-private'));
      assert.ok(!paged.includes('erin/own') && !paged.includes('acme/perm'));
      assert.deepEqual(paged, [...paged].sort());
      assert.equal(new Set(paged).size, paged.length);
      // The superuser's full list is a superset.
      const everyRepository = await accounts.permissions.listVisibleRepositories({ superuser: true, includePublic: true }, { limit: 1000 });
      assert.deepEqual(everyRepository, await metadata.repositories.listRepositories({ limit: 1000 }));
    });

    it('adds, lists and deletes permission prototypes', async () => {
      const devs = (await accounts.teams.getTeam(acme.id, 'devs'))!;
      clock += 1000;
      const first = await accounts.permissions.addPrototype(acme.id, { kind: 'team', id: devs.id }, 'write');
      clock += 1000;
      const second = await accounts.permissions.addPrototype(acme.id, { kind: 'account', id: robot.id }, 'read');
      assert.match(first.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.deepEqual(first, {
        id: first.id,
        organizationId: acme.id,
        delegate: { kind: 'team', id: devs.id },
        delegateName: 'devs',
        role: 'write',
        createdAt: new Date(clock - 1000),
      });
      assert.equal(second.delegateName, 'acme+ci');
      assert.deepEqual(await accounts.permissions.listPrototypes(acme.id), [first, second]);
      assert.equal(await accounts.permissions.deletePrototype(alice.id, first.id), false, 'another organization cannot delete it');
      assert.equal(await accounts.permissions.deletePrototype(acme.id, first.id), true);
      assert.equal(await accounts.permissions.deletePrototype(acme.id, first.id), false);
      assert.deepEqual(await accounts.permissions.listPrototypes(acme.id), [second]);
    });

    it('lists the organizations an account is in, by name, with its team roles in each (organizationsOf)', async () => {
      // Own cast, so that the other tests' memberships do not matter.
      const olga = await accounts.accounts.createUser({ name: 'olga', email: null, passwordHash: null });
      const pete = await accounts.accounts.createUser({ name: 'pete', email: null, passwordHash: null });
      const loner = await accounts.accounts.createUser({ name: 'loner', email: null, passwordHash: null });
      const zulu = await accounts.accounts.createOrganization({ name: 'zulu-org', email: 'z@example.com', ownerId: olga.id });
      const alpha = await accounts.accounts.createOrganization({ name: 'alpha-org', email: null, ownerId: pete.id });
      const other = await accounts.accounts.createOrganization({ name: 'mid-org', email: null, ownerId: pete.id });
      const alphaBot = await accounts.accounts.createRobot({ name: 'alpha-org+bot', ownerId: alpha.id, description: null, tokenHash: HASH });
      const makers = await accounts.teams.upsertTeam(alpha.id, 'makers', 'creator', null);
      const viewers = await accounts.teams.upsertTeam(alpha.id, 'viewers', 'member', null);
      const viewers2 = await accounts.teams.upsertTeam(alpha.id, 'viewers2', 'member', null);
      await accounts.teams.upsertTeam(other.id, 'empty', 'admin', null);
      for (const team of [makers, viewers, viewers2]) await accounts.teams.addMember(team.id, olga.id);
      await accounts.teams.addMember(viewers.id, alphaBot.id);

      const olgas = await accounts.teams.organizationsOf(olga.id);
      assert.deepEqual(olgas.map(({ organization, roles }) => [organization.name, roles]), [
        ['alpha-org', ['member', 'creator']],
        ['zulu-org', ['admin']],
      ], 'name order, one entry per organization, each role once in TEAM_ROLES order');
      assert.deepEqual(olgas[1]!.organization, await accounts.accounts.getAccountById(zulu.id), 'the full account record');
      assert.deepEqual((await accounts.teams.organizationsOf(pete.id)).map(({ organization, roles }) => [organization.name, roles]), [
        ['alpha-org', ['admin']],
        ['mid-org', ['admin']],
      ]);
      assert.deepEqual((await accounts.teams.organizationsOf(alphaBot.id)).map(({ organization, roles }) => [organization.id, roles]), [[alpha.id, ['member']]]);
      assert.deepEqual(await accounts.teams.organizationsOf(loner.id), []);
      assert.deepEqual(await accounts.teams.organizationsOf(987_654), []);

      await accounts.teams.removeMember(makers.id, olga.id);
      assert.deepEqual((await accounts.teams.organizationsOf(olga.id)).map(({ organization, roles }) => [organization.name, roles]), [
        ['alpha-org', ['member']],
        ['zulu-org', ['admin']],
      ]);
    });
  });
}
