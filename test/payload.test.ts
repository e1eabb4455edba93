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

type Counts = Record<string, number>;

/** The types whose counts in walks A and B (named by `labels`) differ by more than `allowed`
 * of them, each as a line naming both counts. */
function differing(a: Counts, b: Counts, labels: [string, string], allowed: (name: string) => number): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((n) => Math.abs((a[n] ?? 0) - (b[n] ?? 0)) > allowed(n)).map((n) => `${n}: ${labels[0]} ${a[n] ?? 0}, ${labels[1]} ${b[n] ?? 0}`);
}

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
      } = JSON.parse(out) as Record<'census' | 'reference' | 'census_sizes' | 'reference_sizes' | 'again', Counts>;
      const ours = (n: string) => n.startsWith('__main__.');
      assert.deepEqual(
        differing(census, reference, ['census', 'reference'], (n) => (ours(n) ? 0 : Math.max(30, 0.001 * (reference[n] ?? 0)))),
        [],
      );
      assert.equal(census['__main__.Record'], 100000);
      // this file's own types (instances in every state the census sizes apart): the same bytes
      // as the reference's one-object-at-a-time sizes (README, "What size means")
      assert.deepEqual(sizes, referenceSizes);
      assert.deepEqual(Object.keys(sizes).sort(), ['__main__.Mixed', '__main__.Record']);
      // nothing ran in between: a second census (as --growth takes it) counts the same heap, and
      // the first one's rows (a dict, ints and strs per type, ~115 types) are ours, not growth
      assert.deepEqual(
        differing(census, again, ['census', 'again'], (n) => (ours(n) ? 0 : 10)),
        [],
      );
      assert.ok((census.str ?? 0) >= 200000 && (census.bytes ?? 0) >= 100000 - 2000, 'untracked objects are counted');
    });
  }
});
