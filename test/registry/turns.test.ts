import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Turns } from '../../src/registry/turns.js';

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('Turns', () => {
  it('runs work one at a time in arrival order, also after a failure', async () => {
    const turns = new Turns();
    const events: string[] = [];
    const gates = [gate(), gate(), gate()];
    const started = [gate(), gate(), gate()];
    const results = gates.map((g, i) =>
      turns.run(async () => {
        events.push(`start ${i}`);
        started[i]?.open();
        await g.opened;
        events.push(`end ${i}`);
        if (i === 1) throw new Error('second failed');
        return i;
      }),
    );
    await started[0]?.opened;
    // The first holds its turn: nothing else may start until it ends.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, ['start 0']);
    gates[1]?.open();
    gates[2]?.open();
    assert.deepEqual(events, ['start 0'], 'later work does not start while the first is running');
    gates[0]?.open();
    assert.equal(await results[0], 0);
    await assert.rejects(results[1] as Promise<number>, /second failed/);
    assert.equal(await results[2], 2);
    assert.deepEqual(events, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });
});
