import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseYamlSource } from '../../src/lb/sources/yaml-file.js';
import { buildModel } from '../../src/lb/validate.js';
import { layoutFromModel, planBackendChanges, type RuntimeOp } from '../../src/lb/runtime-layout.js';
import type { LoadBalancerModel } from '../../src/lb/model.js';

function modelOf(backends: string[], spareSlots: number): LoadBalancerModel {
  const text = [
    'load_balancer: { name: lb, http_ports: [8080] }',
    'services:',
    '  web:',
    '    internal_port: 80',
    `    spare_slots: ${spareSlots}`,
    `    backends: [${backends.map((b) => `{ name: ${b}, address: 127.0.0.1, port: ${8000 + Number(b.slice(1))} }`).join(', ')}]`,
    '  api:',
    '    internal_port: 81',
    '    virtual_paths: [/api]',
    `    spare_slots: ${spareSlots}`,
    '    backends: [{ name: a1, address: 127.0.0.1, port: 9001 }]',
  ].join('\n');
  return buildModel(parseYamlSource(text, 'test.yaml'));
}

const describeOp = (op: RuntimeOp) => (op.op === 'state' ? `${op.server} ${op.state}` : `${op.server} addr ${op.port}`);

describe('planBackendChanges', () => {
  it('swapping the only backend puts the new one in service before the old one leaves (no moment without a server)', () => {
    const live = modelOf(['w1'], 2);
    const wanted = modelOf(['w2'], 2);
    const w1 = live.services.find((s) => s.name === 'web')!.backends[0]!;
    const w2 = wanted.services.find((s) => s.name === 'web')!.backends[0]!;
    const plan = planBackendChanges(layoutFromModel(live), [
      { kind: 'remove', service: 'web', backend: w1 },
      { kind: 'add', service: 'web', backend: w2 },
    ], wanted);
    assert.ok(plan.ok);
    assert.deepEqual(plan.ops.map(describeOp), ['slot-1 addr 8002', 'slot-1 ready', 'w1 maint']);
  });

  it('an addition that can only reuse the slot a removal frees waits for that removal', () => {
    const live = modelOf(['w1'], 0);
    const wanted = modelOf(['w2'], 0);
    const w1 = live.services.find((s) => s.name === 'web')!.backends[0]!;
    const w2 = wanted.services.find((s) => s.name === 'web')!.backends[0]!;
    const plan = planBackendChanges(layoutFromModel(live), [
      { kind: 'add', service: 'web', backend: w2 },
      { kind: 'remove', service: 'web', backend: w1 },
    ], wanted);
    assert.ok(plan.ok);
    assert.deepEqual(plan.ops.map(describeOp), ['w1 maint', 'w1 addr 8002', 'w1 ready']);
  });

  it('free slots are counted per service, and a full service asks for a reload', () => {
    const live = modelOf(['w1'], 1);
    const wanted = modelOf(['w1', 'w2', 'w3'], 1);
    const [, w2, w3] = wanted.services.find((s) => s.name === 'web')!.backends;
    const plan = planBackendChanges(layoutFromModel(live), [
      { kind: 'add', service: 'web', backend: w2! },
      { kind: 'add', service: 'web', backend: w3! },
    ], wanted);
    assert.equal(plan.ok, false);
    assert.match(plan.ok ? '' : plan.reason, /no spare slot left in web/);
  });
});
