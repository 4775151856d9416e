import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asDatabaseUnavailable, DatabaseUnavailableError, isDatabaseUnavailable } from '../../src/db/unavailable.js';

function coded(code: string | number, message = 'driver error', extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

describe('database unavailable classification', () => {
  it('recognises connection-level failures of every driver', () => {
    const unavailable = [
      coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      coded('ECONNRESET'),
      coded('ETIMEDOUT'),
      coded('EPIPE'),
      coded('57P01', 'terminating connection due to administrator command'),
      coded('57P02'),
      coded('57P03', 'the database system is starting up'),
      coded('08006'),
      coded('08001'),
      coded('08P01'),
      coded('53300', 'sorry, too many clients already'),
      coded('57014', 'canceling statement due to statement timeout'),
      coded('PROTOCOL_CONNECTION_LOST'),
      coded('PROTOCOL_SEQUENCE_TIMEOUT'),
      coded('ER_CON_COUNT_ERROR'),
      coded('ER_SERVER_SHUTDOWN'),
      Object.assign(new Error('Connection was killed'), { errno: 1927 }),
      coded('SQLITE_BUSY'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated due to connection timeout'),
      new Error('timeout exceeded when trying to connect'),
      new Error("Can't add new command when connection is in closed state"),
      new DatabaseUnavailableError('database unavailable: no answer within 500 ms'),
    ];
    for (const error of unavailable) assert.equal(isDatabaseUnavailable(error), true, String(error));
  });

  it('leaves statement errors alone: constraint violations, syntax, deadlocks, anything else', () => {
    const other = [
      coded('23505', 'duplicate key value violates unique constraint'),
      coded('40P01', 'deadlock detected'),
      coded('42601', 'syntax error'),
      coded('ER_DUP_ENTRY'),
      coded('ER_LOCK_DEADLOCK'),
      coded('SQLITE_CONSTRAINT_UNIQUE'),
      coded('ENOENT'),
      new TypeError('x is not a function'),
      'ECONNREFUSED',
      undefined,
      null,
    ];
    for (const error of other) assert.equal(isDatabaseUnavailable(error), false, String(error));
  });

  it('looks through causes and AggregateError (a host with several addresses)', () => {
    assert.equal(isDatabaseUnavailable(new Error('query failed', { cause: coded('ECONNRESET') })), true);
    assert.equal(isDatabaseUnavailable(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], '')), true);
    assert.equal(isDatabaseUnavailable(new AggregateError([coded('ECONNREFUSED'), coded('23505')], '')), false);
    assert.equal(isDatabaseUnavailable(new AggregateError([], '')), false);
    const loop: Error & { cause?: unknown } = new Error('loop');
    loop.cause = loop;
    assert.equal(isDatabaseUnavailable(loop), false);
  });

  it('wraps unavailable errors once, keeping the driver error as cause, and passes others through', () => {
    const driver = coded('57P01', 'terminating connection due to administrator command');
    const wrapped = asDatabaseUnavailable(driver);
    assert.ok(wrapped instanceof DatabaseUnavailableError);
    assert.equal(wrapped.cause, driver);
    assert.match(wrapped.message, /^database unavailable: 57P01 terminating connection/);
    assert.equal(wrapped.retryAfterS, 1);
    assert.equal(asDatabaseUnavailable(wrapped), wrapped);
    const duplicate = coded('23505');
    assert.equal(asDatabaseUnavailable(duplicate), duplicate);
  });
});
