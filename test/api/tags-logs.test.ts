import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, assertError, auditRows, startApi, type Api } from './harness.js';

interface TagEntry {
  name: string;
  manifest_digest: string;
  start_ts: number;
  end_ts?: number;
  last_modified: string;
}

describe('api: tags and logs', () => {
  let api: Api;
  let alice: string;
  let bob: string;
  let first: string;
  let second: string;
  before(async () => {
    api = await startApi('sqlite');
    await api.createUser('alice', 'alice-password-1');
    await api.createUser('bob', 'bob-password-1');
    alice = await api.signIn('alice', 'alice-password-1');
    bob = await api.signIn('bob', 'bob-password-1');
    assert.equal((await api.call('POST', '/repository', { cookie: alice, body: { namespace: 'alice', repository: 'app', visibility: 'public' } })).status, 201);
    first = await api.putManifest('alice/app', 'one');
    second = await api.putManifest('alice/app', 'two');
  });
  after(() => api.close());

  it('creates, moves, deletes and restores a tag, keeping its history', async () => {
    const create = await api.call('PUT', '/repository/alice/app/tag/latest', { cookie: alice, body: { manifest_digest: first } });
    assert.equal(create.status, 201);
    assert.equal(create.body, 'Updated');
    const move = await api.call('PUT', '/repository/alice/app/tag/latest', { cookie: alice, body: { manifest_digest: second } });
    assert.equal(move.status, 201);
    assert.equal((await api.services.metadata.tags.getTag((await api.services.metadata.repositories.getRepository('alice/app'))!.id, 'latest'))?.manifestDigest, second);

    const history = await api.call('GET', '/repository/alice/app/tag/?specificTag=latest');
    assert.equal(history.status, 200, 'a public repository lists its tags anonymously');
    const tags = history.json.tags as TagEntry[];
    assert.deepEqual(tags.map((t) => [t.manifest_digest, t.end_ts === undefined]), [[second, true], [first, false]]);
    assert.match(tags[0]!.last_modified, /-0000$/);
    assert.equal(history.json.has_additional, false);
    const active = await api.call('GET', '/repository/alice/app/tag?onlyActiveTags=true');
    assert.deepEqual((active.json.tags as TagEntry[]).map((t) => t.name), ['latest']);

    assert.equal((await api.call('DELETE', '/repository/alice/app/tag/latest', { cookie: alice })).status, 204);
    assertError(await api.call('DELETE', '/repository/alice/app/tag/latest', { cookie: alice }), 404, 'not_found');
    const restore = await api.call('POST', '/repository/alice/app/tag/latest/restore', { cookie: alice, body: { manifest_digest: first } });
    assert.equal(restore.status, 200);
    const now = await api.call('GET', '/repository/alice/app', { cookie: alice });
    assert.deepEqual(Object.keys(now.json.tags as object), ['latest']);
    assert.equal((now.json.tags as Record<string, TagEntry>).latest!.manifest_digest, first);

    const where = (kind: string) => auditRows(api, kind).then((rows) => rows.filter((r) => r.repository === 'alice/app' && r.metadata.tag === 'latest'));
    assert.equal((await where('create_tag'))[0]?.metadata.manifest_digest, first);
    assert.equal((await where('move_tag'))[0]?.metadata.original_manifest_digest, first);
    assert.equal((await where('delete_tag'))[0]?.metadata.manifest_digest, second);
    assert.equal((await where('revert_tag'))[0]?.metadata.manifest_digest, first);
  });

  it('pages the tag history', async () => {
    for (let i = 0; i < 5; i += 1) {
      assert.equal((await api.call('PUT', `/repository/alice/app/tag/v${i}`, { cookie: alice, body: { manifest_digest: second } })).status, 201);
    }
    const page1 = await api.call('GET', '/repository/alice/app/tag/?limit=2&page=1');
    const page2 = await api.call('GET', '/repository/alice/app/tag/?limit=2&page=2');
    assert.equal((page1.json.tags as unknown[]).length, 2);
    assert.equal(page1.json.has_additional, true);
    assert.equal(page2.json.page, 2);
    const names = [...(page1.json.tags as TagEntry[]), ...(page2.json.tags as TagEntry[])].map((t) => `${t.name}@${t.start_ts}`);
    assert.equal(new Set(names).size, 4, 'pages do not overlap');
    assertError(await api.call('GET', '/repository/alice/app/tag/?limit=0'), 400, 'invalid_request', /limit/);
    assertError(await api.call('GET', '/repository/alice/app/tag/?limit=1000'), 400, 'invalid_request', /limit/);
    assertError(await api.call('GET', '/repository/alice/app/tag/?page=abc'), 400, 'invalid_request', /page/);
    assertError(await api.call('GET', '/repository/alice/app/tag/?specificTag=bad%20tag'), 400, 'invalid_request', /specificTag/);
  });

  it('refuses tag changes without write access and bad tag input', async () => {
    assertError(await api.call('PUT', '/repository/alice/app/tag/evil', { cookie: bob, body: { manifest_digest: first } }), 403, 'insufficient_scope', /write/);
    assertError(await api.call('PUT', '/repository/alice/app/tag/evil', { body: { manifest_digest: first } }), 401);
    assertError(await api.call('DELETE', '/repository/alice/app/tag/v1', { cookie: bob }), 403);
    assertError(await api.call('PUT', '/repository/alice/app/tag/bad%20tag', { cookie: alice, body: { manifest_digest: first } }), 400, 'invalid_request', /invalid tag/);
    assertError(await api.call('PUT', '/repository/alice/app/tag/ok', { cookie: alice, body: { manifest_digest: 'sha256:nothex' } }), 400, 'invalid_request', /manifest_digest/);
    assertError(await api.call('PUT', '/repository/alice/app/tag/ok', { cookie: alice, body: { image: 'abc' } }), 400, 'invalid_request', /manifest_digest/);
    const unknown = `sha256:${'0'.repeat(64)}`;
    assertError(await api.call('PUT', '/repository/alice/app/tag/ok', { cookie: alice, body: { manifest_digest: unknown } }), 404, 'not_found', /manifest/);
    assertError(await api.call('POST', '/repository/alice/app/tag/ok/restore', { cookie: alice, body: { manifest_digest: unknown } }), 404, 'not_found', /manifest/);
    // Bob writes once granted.
    assert.equal((await api.call('PUT', '/repository/alice/app/permissions/user/bob', { cookie: alice, body: { role: 'write' } })).status, 200);
    assert.equal((await api.call('PUT', '/repository/alice/app/tag/bobs', { cookie: bob, body: { manifest_digest: first } })).status, 201);
    assertError(await api.call('GET', '/repository/alice/app/logs', { cookie: bob }), 403, 'insufficient_scope', /admin/);
  });

  it('lists repository, user, organization and superuser logs with filters and paging', async () => {
    const repo = await api.call('GET', '/repository/alice/app/logs', { cookie: alice });
    assert.equal(repo.status, 200);
    const logs = repo.json.logs as Array<Record<string, unknown>>;
    assert.ok(logs.length > 0);
    assert.ok(logs.every((l) => (l.namespace as { name: string }).name === 'alice'));
    const bobs = logs.find((l) => l.kind === 'create_tag' && (l.performer as { name: string }).name === 'bob');
    assert.ok(bobs, 'bob created a tag');
    assert.deepEqual(bobs.performer, { kind: 'user', name: 'bob', is_robot: false });
    assert.equal(bobs.ip, '127.0.0.1');
    assert.match(bobs.datetime as string, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} -0000$/);
    assert.match(repo.json.start_time as string, /-0000$/);

    const byPerformer = await api.call('GET', '/repository/alice/app/logs?performer=bob', { cookie: alice });
    assert.ok((byPerformer.json.logs as Array<{ performer: { name: string } }>).every((l) => l.performer.name === 'bob'));
    const byKind = await api.call('GET', '/repository/alice/app/logs?kind=move_tag,revert_tag', { cookie: alice });
    assert.deepEqual(new Set((byKind.json.logs as Array<{ kind: string }>).map((l) => l.kind)), new Set(['move_tag', 'revert_tag']));

    // Paging: 20 a page with an opaque cursor, no entry twice.
    for (let i = 0; i < 20; i += 1) {
      assert.equal((await api.call('PUT', `/repository/alice/app/tag/p${i}`, { cookie: alice, body: { manifest_digest: first } })).status, 201);
    }
    const seen = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await api.call('GET', `/user/logs${cursor === undefined ? '' : `?next_page=${cursor}`}`, { cookie: alice });
      assert.equal(res.status, 200);
      for (const l of res.json.logs as Array<Record<string, unknown>>) seen.add(JSON.stringify(l));
      cursor = res.json.next_page as string | undefined;
      pages += 1;
    } while (cursor !== undefined && pages < 10);
    assert.ok(pages >= 2, 'more than one page of alice logs');
    assert.ok(seen.size > 20);

    const today = new Date();
    const mmddyyyy = `${String(today.getUTCMonth() + 1).padStart(2, '0')}/${String(today.getUTCDate()).padStart(2, '0')}/${today.getUTCFullYear()}`;
    const ranged = await api.call('GET', `/repository/alice/app/logs?starttime=${encodeURIComponent(mmddyyyy)}&endtime=${encodeURIComponent(mmddyyyy)}`, { cookie: alice });
    assert.equal(ranged.status, 200);
    assert.ok((ranged.json.logs as unknown[]).length > 0, 'an end date includes the whole day');
    const past = await api.call('GET', '/repository/alice/app/logs?starttime=2001-01-01&endtime=2001-01-02T00:00:00Z', { cookie: alice });
    assert.deepEqual(past.json.logs, []);

    assertError(await api.call('GET', '/repository/alice/app/logs?starttime=13/45/2020', { cookie: alice }), 400, 'invalid_request', /starttime/);
    assertError(await api.call('GET', '/repository/alice/app/logs?endtime=yesterday', { cookie: alice }), 400, 'invalid_request', /endtime/);
    assertError(await api.call('GET', '/repository/alice/app/logs?starttime=2020-02-01&endtime=2020-01-01', { cookie: alice }), 400, 'invalid_request', /before/);
    assertError(await api.call('GET', '/repository/alice/app/logs?next_page=abc', { cookie: alice }), 400, 'invalid_request', /next_page/);
    assertError(await api.call('GET', '/repository/alice/app/logs?kind=DROP%20TABLE', { cookie: alice }), 400, 'invalid_request', /kind/);

    assertError(await api.call('GET', '/superuser/logs', { cookie: alice }), 403);
    const admin = await api.signIn(ADMIN.name, ADMIN.password);
    const all = await api.call('GET', '/superuser/logs?kind=login_success', { cookie: admin });
    const names = new Set((all.json.logs as Array<{ performer: { name: string } }>).map((l) => l.performer.name));
    assert.ok(names.has('alice') && names.has('bob') && names.has('admin'));

    assert.equal((await api.call('POST', '/organization/', { cookie: alice, body: { name: 'acme' } })).status, 201);
    const org = await api.call('GET', '/organization/acme/logs', { cookie: alice });
    assert.deepEqual((org.json.logs as Array<{ kind: string; namespace: { kind: string } }>).map((l) => [l.kind, l.namespace.kind]), [['org_create', 'org']]);
    assertError(await api.call('GET', '/organization/acme/logs', { cookie: bob }), 403);
    assertError(await api.call('GET', '/user/logs'), 401);
  });

  it("names the repository in every repository row's metadata, also for /v2 rows that do not store it", async () => {
    // As the registry records a push: no repo in the metadata, only the row's repository.
    api.audit.record({ kind: 'push_repo', performer: null, namespace: 'alice', repository: 'alice/app', clientAddress: '127.0.0.1', metadata: { tags: ['v9'] } });
    await api.audit.durable();
    const logs = (await api.call('GET', '/repository/alice/app/logs?kind=push_repo,create_repo', { cookie: alice })).json.logs as Array<{ kind: string; metadata: Record<string, unknown> }>;
    const push = logs.find((l) => l.kind === 'push_repo');
    assert.deepEqual(push?.metadata, { tags: ['v9'], repo: 'app' });
    assert.equal(logs.find((l) => l.kind === 'create_repo')?.metadata.repo, 'alice/app', 'a stored repo is kept as it was written');
  });
});
