// package.json says `engines: node ^20.19.0 || >=22.13.0` (the floor of Vite 8, which builds the web UI, and of
// its rolldown bindings), and DESIGN.md that nothing may break on 22 or 24: every package that package-lock.json
// installs must accept the oldest release of each line we support, or `npm ci` warns EBADENGINE (as cookie 2,
// through fastify's light-my-request, did on Node 20).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/processes.js';

type Version = [number, number, number];

/** One comparator of an engines range: `>=X.Y.Z` (with x/* wildcards and spaces), `X.x`, `^X`, `*`. */
function satisfiesComparator(version: Version, comparator: string): boolean {
  const text = comparator.replace(/\s+/g, '');
  if (text === '*' || text === '') return true;
  const match = /^(>=|\^|)(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?$/.exec(text);
  assert.ok(match, `an engines form this test does not know: ${JSON.stringify(comparator)} (extend it)`);
  const [, op, majorText, minorText, patchText] = match;
  const wanted = [Number(majorText), Number(minorText ?? 0) || 0, Number(patchText ?? 0) || 0] as Version;
  const wildcardMinor = minorText === undefined || minorText === 'x' || minorText === '*';
  if (op === '>=') {
    for (let i = 0; i < 3; i++) if (version[i] !== wanted[i]) return version[i]! > wanted[i]!;
    return true;
  }
  if (op === '^' || wildcardMinor) return version[0] === wanted[0] && (version[1] > wanted[1] || (version[1] === wanted[1] && version[2] >= wanted[2]));
  return version.join('.') === wanted.join('.');
}

function satisfies(version: Version, range: string): boolean {
  return range.split('||').some((alternative) => satisfiesComparator(version, alternative.trim()));
}

describe('engines of every installed package', () => {
  it('the range reader reads the forms found in the lock file', () => {
    assert.equal(satisfies([20, 0, 0], '>=22'), false);
    assert.equal(satisfies([22, 1, 0], '>=22'), true);
    assert.equal(satisfies([20, 5, 0], '^16 || ^18 || >=20'), true);
    assert.equal(satisfies([19, 0, 0], '^16 || ^18 || >=20'), false);
    assert.equal(satisfies([24, 0, 0], '20.x || 22.x || 23.x || 24.x'), true);
    assert.equal(satisfies([21, 0, 0], '20.x || 22.x || 23.x || 24.x'), false);
    assert.equal(satisfies([20, 0, 0], '6.* || 8.* || >= 10.*'), true);
    assert.equal(satisfies([20, 0, 0], '>= 12.13.0'), true);
  });

  for (const version of [[20, 19, 0], [22, 13, 0], [24, 0, 0]] as Version[]) {
    it(`accept Node ${version.join('.')}`, async () => {
      const lock = JSON.parse(await readFile(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { version?: string; engines?: unknown }>;
      };
      const refused: string[] = [];
      for (const [where, entry] of Object.entries(lock.packages)) {
        const engines = entry.engines;
        const node = typeof engines === 'object' && engines !== null ? (engines as { node?: unknown }).node : undefined;
        if (typeof node === 'string' && !satisfies(version, node)) refused.push(`${where || 'quayside'}@${entry.version ?? '?'} wants node ${node}`);
      }
      assert.deepEqual(refused, []);
    });
  }
});
