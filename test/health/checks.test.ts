import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runHealthChecks } from '../../src/health/checks.js';

describe('runHealthChecks', () => {
  it('reports every service healthy when every check resolves', async () => {
    const report = await runHealthChecks({ database: async () => undefined, storage: async () => undefined }, 1000);
    assert.deepEqual(report, { services: { database: true, storage: true }, failures: {}, healthy: true });
  });

  it('marks a rejecting check failed with its reason', async () => {
    const report = await runHealthChecks(
      {
        database: async () => undefined,
        storage: async () => {
          throw new Error('disk gone');
        },
      },
      1000,
    );
    assert.equal(report.healthy, false);
    assert.deepEqual(report.services, { database: true, storage: false });
    assert.deepEqual(report.failures, { storage: 'disk gone' });
  });

  it('marks a check that throws synchronously failed', async () => {
    const report = await runHealthChecks({
      database: () => {
        throw new Error('sync');
      },
    });
    assert.deepEqual(report.services, { database: false });
  });

  it('gives up on a check that does not answer in time', async () => {
    // The check never settles: that runHealthChecks returns at all is the proof that it gave up.
    const report = await runHealthChecks(
      { database: () => new Promise<void>(() => undefined), storage: async () => undefined },
      200,
    );
    assert.deepEqual(report.services, { database: false, storage: true });
    assert.match(report.failures.database ?? '', /200 ms/);
  });

  it('is healthy with no checks at all', async () => {
    assert.equal((await runHealthChecks({})).healthy, true);
  });
});
