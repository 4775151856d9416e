// `quayside serve` with a Redis of its own (a private redis-server): logins and token requests in a loop keep
// working while Redis is SIGKILLed and started again; /health/endtoend follows Redis, /health/instance does not.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import IORedis from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { startQuayside, E2E_USER, type RegistryServer } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

describe('quayside serve with Redis that dies and comes back', () => {
  let work: string;
  let redis: PrivateRedis;
  let server: RegistryServer;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-serve-redis-'));
    redis = await startPrivateRedis();
    const config = join(work, 'config.yaml');
    await writeFile(config, `USER_EVENTS_REDIS: {host: 127.0.0.1, port: ${redis.port}}\n`);
    server = await startQuayside({ dataDir: join(work, 'data'), config });
  });
  after(async () => {
    await server?.stop();
    await redis?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const endtoend = async () => {
    const res = await fetch(`${server.url}/health/endtoend`);
    return { status: res.status, redis: ((await res.json()) as { data: { services: { redis?: boolean } } }).data.services.redis };
  };
  const basic = `Basic ${Buffer.from(`${E2E_USER.username}:${E2E_USER.password}`).toString('base64')}`;

  it('serves every request through the outage and uses Redis again once it is back', async () => {
    await waitUntil('redis in /health/endtoend', async () => (await endtoend()).redis === true);

    let stop = false;
    let served = 0;
    const failures: string[] = [];
    const load = (async () => {
      while (!stop) {
        const token = await fetch(`${server.url}/v2/auth?service=${server.hostPort}&scope=repository:e2e/app:pull,push`, { headers: { authorization: basic } });
        const body = await token.text();
        if (token.status !== 200) failures.push(`token: ${token.status} ${body}`);
        const pull = await fetch(`${server.url}/v2/e2e/app/tags/list`, { headers: { authorization: `Bearer ${(JSON.parse(body) as { token?: string }).token}` } });
        await pull.arrayBuffer();
        // A repository nobody pushed yet: 404 is the right answer, a 5xx is not.
        if (pull.status >= 500) failures.push(`tags/list: ${pull.status}`);
        served += 2;
      }
    })();

    await waitUntil('some requests with Redis up', () => served >= 10);
    await redis.kill();
    await waitUntil('/health/endtoend to say redis: false (503)', async () => {
      const health = await endtoend();
      return health.status === 503 && health.redis === false;
    });
    assert.equal((await fetch(`${server.url}/health/instance`)).status, 200);
    const servedWhileDown = served;
    await waitUntil('requests while Redis is down', () => served >= servedWhileDown + 20);

    await redis.restart();
    await waitUntil('/health/endtoend to say redis: true again', async () => {
      const health = await endtoend();
      return health.status === 200 && health.redis === true;
    });
    // The login throttle's counters are in Redis again. A right password this instance has verified takes no
    // throttle reservation (docs/auth.md), so a wrong one is what writes a counter.
    const client = new IORedis.default({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
    const wrong = `Basic ${Buffer.from(`${E2E_USER.username}:not-the-password`).toString('base64')}`;
    try {
      await client.connect();
      await waitUntil('a throttle key in the restarted Redis', async () => {
        const refused = await fetch(`${server.url}/v2/auth?service=${server.hostPort}&scope=repository:e2e/app:pull`, { headers: { authorization: wrong } });
        await refused.arrayBuffer();
        return (await client.exists(`quayside:throttle:account:${E2E_USER.username}`)) === 1;
      });
    } finally {
      client.disconnect();
    }
    stop = true;
    await load;
    assert.deepEqual(failures, []);
    assert.ok(served >= servedWhileDown + 20);
  });
});
