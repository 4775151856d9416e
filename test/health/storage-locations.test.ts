import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { healthRoutes } from '../../src/health/routes.js';
import { LocalBlobStore } from '../../src/storage/local.js';

// /health/endtoend with several storage locations: every location is listed, only the preferred ones count.
describe('health of several storage locations', () => {
  let dir: string;
  let working: LocalBlobStore;
  let broken: LocalBlobStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quayside-health-geo-'));
    working = new LocalBlobStore(join(dir, 'us'));
    // A location whose directory is a regular file: its _verify marker cannot be written (ENOTDIR).
    await writeFile(join(dir, 'eu'), 'not a directory');
    broken = new LocalBlobStore(join(dir, 'eu'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function endtoend(preferred: LocalBlobStore) {
    const app = Fastify();
    await app.register(
      healthRoutes({
        checks: { database: async () => undefined, storage: () => preferred.ping() },
        informational: { 'storage:us': () => working.ping(), 'storage:eu': () => broken.ping() },
      }),
    );
    try {
      const endtoend = await app.inject({ method: 'GET', url: '/health/endtoend' });
      const instance = await app.inject({ method: 'GET', url: '/health/instance' });
      return { endtoend: { status: endtoend.statusCode, body: endtoend.json() as unknown }, instance: instance.json() as unknown };
    } finally {
      await app.close();
    }
  }

  it('stays healthy when a location that is not preferred fails, and lists it as false', async () => {
    const answer = await endtoend(working);
    assert.equal(answer.endtoend.status, 200);
    assert.deepEqual(answer.endtoend.body, { data: { services: { database: true, storage: true, 'storage:us': true, 'storage:eu': false } }, status_code: 200 });
    assert.deepEqual(answer.instance, { data: { services: { database: true } }, status_code: 200 });
  });

  it('fails when a preferred location fails', async () => {
    const answer = await endtoend(broken);
    assert.equal(answer.endtoend.status, 503);
    assert.deepEqual(answer.endtoend.body, { data: { services: { database: true, storage: false, 'storage:us': true, 'storage:eu': false } }, status_code: 503 });
  });
});
