// The census payload, run directly (no injection, so no ptrace needed) in every interpreter of
// the machine, against an exact reference walk over the same frozen heap: user types must have
// exactly the same count, builtin types the same up to what each of the two walks keeps for its
// own bookkeeping (a few hundred objects out of ~700,000); the sizes of user types exactly; and a
// second census, taken as --growth takes it, counts the same heap again (not its first one's rows).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './support/cli.js';
import { findInterpreters } from './support/pythons.js';

describe('census payload against an exact reference walk', () => {
  for (const py of findInterpreters()) {
    it(py.label, () => {
      const out = execFileSync(py.exe, [path.join(ROOT, 'test', 'py', 'census_check.py'), '100000'], { encoding: 'utf8', timeout: 120_000 });
      const {
        census,
        reference,
        census_sizes: sizes,
        reference_sizes: referenceSizes,
        again,
      } = JSON.parse(out) as Record<'census' | 'reference' | 'census_sizes' | 'reference_sizes' | 'again', Record<string, number>>;
      const names = new Set([...Object.keys(census), ...Object.keys(reference)]);
      const differ: string[] = [];
      for (const n of names) {
        const d = Math.abs((census[n] ?? 0) - (reference[n] ?? 0));
        const allowed = n.startsWith('__main__.') ? 0 : Math.max(30, 0.001 * (reference[n] ?? 0));
        if (d > allowed) differ.push(`${n}: census ${census[n] ?? 0}, reference ${reference[n] ?? 0}`);
      }
      assert.deepEqual(differ, []);
      assert.equal(census['__main__.Record'], 100000);
      // this file's own types (instances in every state the census sizes apart): the same bytes
      // as the reference's one-object-at-a-time sizes (README, "What size means")
      assert.deepEqual(sizes, referenceSizes);
      assert.deepEqual(Object.keys(sizes).sort(), ['__main__.Mixed', '__main__.Record']);
      // nothing ran in between: a second census (as --growth takes it) counts the same heap, and
      // the first one's rows (a dict, ints and strs per type, ~115 types) are ours, not growth
      const grew = [...names].filter((n) => Math.abs((again[n] ?? 0) - (census[n] ?? 0)) > (n.startsWith('__main__.') ? 0 : 10));
      assert.deepEqual(
        grew.map((n) => `${n}: ${census[n] ?? 0} then ${again[n] ?? 0}`),
        [],
      );
      assert.ok((census.str ?? 0) >= 200000 && (census.bytes ?? 0) >= 100000 - 2000, 'untracked objects are counted');
    });
  }
});
