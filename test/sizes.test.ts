// Sizes that are what objects occupy: on every interpreter of the machine, and on 3.14 and 3.15
// in their images (tools/images), the census injected into a real process (pid/N) against tracemalloc's bytes per instance for classes of several
// shapes (test/fixtures/sizes_target.py), and no __dict__ made by counting
// (test/fixtures/sizes_dicts.py). What the census says N instances take is how much its total
// grows when the target builds them (instances and the dicts, values and item arrays that only
// they own, which the census counts under their own types).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { FIXTURES, runCli } from './support/cli.js';
import { liveTargets, startContainer } from './support/container.js';
import { liveImageTargets, startImageTarget } from './support/imageTarget.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';

const skip = ptraceSkip();
const N = 20000;
const SHAPES = ['Plain', 'Slotted', 'Wide', 'Materialised', 'ReadTracked', 'DictSub', 'ListSub', 'Probe'];
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-sizes-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    [...liveTargets(), ...liveImageTargets()].map((t) => t.pid),
    [],
    'a test left a target running',
  );
});
let outCount = 0;
const outDir = () => path.join(scratch, `out-${++outCount}`);

/** What the checks need of a target, wherever it runs (a container-like view of this machine, an image). */
interface Target {
  pid: number;
  child: ChildProcess;
  output: string[];
}
type Version = [number, number];

interface Census {
  total: { size: number };
  types: { name: string; count: number; size: number }[];
}

async function census(t: Target): Promise<Census> {
  const r = await runCli([`pid/${t.pid}`, '-o', 'json', '--out-dir', outDir(), '--timeout', '120s']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Census;
}

/** The Probe dicts the target has, counted by sizes_dicts.py inside it. */
async function probeDicts(t: Target, control = false): Promise<{ dicts: number; referents: number; probes: number }> {
  let file = path.join(FIXTURES, 'sizes_dicts.py');
  if (control) {
    file = path.join(scratch, 'sizes_dicts_control.py');
    writeFileSync(file, `CONTROL = True\n${readFileSync(path.join(FIXTURES, 'sizes_dicts.py'), 'utf8')}`);
  }
  const r = await runCli([`pid/${t.pid}`, '--script', file, '--out-dir', outDir(), '--timeout', '120s']);
  assert.equal(r.code, 0, r.stderr);
  const num = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(r.stdout)?.[1]);
  return { dicts: num('dicts'), referents: num('referents'), probes: num('probes') };
}

/** Sends a signal to the target and waits for the line it answers with, starting with `word`. */
function ask(t: Target, signal: NodeJS.Signals, word: string): Promise<string> {
  const seen = t.output.length;
  process.kill(t.pid, signal);
  return new Promise<string>((resolve, reject) => {
    const poll = () => {
      const l = t.output.slice(seen).find((x) => x.startsWith(word));
      if (l !== undefined) {
        t.child.stdout!.off('data', poll);
        resolve(l);
      }
    };
    t.child.stdout!.on('data', poll);
    t.child.once('exit', (code) => reject(new Error(`the target exited (${code}) before saying "${word}"`)));
    setImmediate(poll);
  });
}

/** Has the target build the next shape; returns what tracemalloc saw allocated for it. */
async function buildNext(t: Target, name: string): Promise<number> {
  const [, got, n, bytes] = (await ask(t, 'SIGUSR1', 'built ')).split(' ');
  assert.equal(got, name);
  assert.equal(Number(n), N);
  return Number(bytes);
}

/** Bytes per instance the census may differ from tracemalloc by, and why. */
function allowance(version: Version, shape: string): { expected: number; within: number } {
  const [major, minor] = version;
  const v313 = major === 3 && minor === 13;
  // tracemalloc does not see memory handed out again by CPython's free lists (up to 80 dicts and
  // 80 dict-keys objects, ~30 KB, for a shape with dicts: 1.5 bytes per instance of 20,000, and
  // DictSub has two dicts each), and the census's own runs leave a few hundred bytes of caches.
  let within = 4;
  // 3.13+: a class with more attribute names than its shared keys hold (30) keeps unused inline
  // values in every instance, whose capacity (29 or 30 slots) no Python API shows: one slot.
  if (shape === 'Wide' && (major > 3 || minor >= 13)) within += 8;
  // 3.13 traverses the inline values, not the dict, while they are valid: a dict made from them
  // holding only untracked values is seen by no walk (3.14 traverses the dict). What is missed
  // is that dict object itself (its values are the instance's): dict.__basicsize__ + GC header.
  const expected = shape === 'Materialised' && v313 ? -(48 + 16) : 0;
  return { expected, within };
}

async function check(version: Version, t: Target, say: (s: string) => void): Promise<void> {
  await census(t); // the first injections warm interpreter caches once
  await probeDicts(t);
  await ask(t, 'SIGUSR2', 'collected'); // what a --script leaves for the GC (3.15), gone
  await census(t);
  const noDicts = version[0] === 3 && version[1] >= 11; // before 3.11 every instance has a dict
  let prev = await census(t);
  const rows: string[] = [];
  const failures: string[] = [];
  for (const shape of SHAPES) {
    const traced = await buildNext(t, shape);
    if (shape === 'Probe' && noDicts) {
      const before = await probeDicts(t);
      assert.deepEqual(before, { dicts: 0, referents: 0, probes: N }, 'Probes have no __dict__ before the census');
      await ask(t, 'SIGUSR2', 'collected');
    }
    const next = await census(t);
    const row = next.types.find((r) => r.name === `__main__.${shape}`);
    assert.equal(row?.count, N, `${shape}: every instance counted once`);
    const ours = (next.total.size - prev.total.size) / N;
    const theirs = traced / N;
    const { expected, within } = allowance(version, shape);
    rows.push(`${shape}: census ${ours.toFixed(1)} (the instance itself ${(row.size / N).toFixed(1)}), tracemalloc ${theirs.toFixed(1)} bytes per instance`);
    if (Math.abs(ours - theirs - expected) > within)
      failures.push(`${shape}: census ${ours.toFixed(2)} vs tracemalloc ${theirs.toFixed(2)} bytes per instance (expected a difference of ${expected} +- ${within})`);
    prev = next;
  }
  for (const r of rows) say(r);
  assert.deepEqual(failures, [], rows.join('\n'));
  if (noDicts) {
    assert.deepEqual(await probeDicts(t), { dicts: 0, referents: 0, probes: N }, 'after the census no Probe has a __dict__');
    const control = await probeDicts(t, true);
    assert.equal(control.dicts, 1, 'the check sees a __dict__ read on purpose');
  }
}

describe('sizes: the census against tracemalloc, every interpreter of this machine', { skip }, () => {
  const pythons = findInterpreters();
  it('found interpreters to test', () => {
    assert.ok(pythons.length >= 2, `expected pyenv interpreters and Debian's python3, found ${pythons.map((p) => p.label).join(', ')}`);
  });
  for (const py of pythons) {
    it(`${py.label}: bytes per instance as tracemalloc counts them, no __dict__ made`, async (tc) => {
      const t = await startContainer({ python: py, script: path.join(FIXTURES, 'sizes_target.py'), args: [String(N)], uid: 1000 });
      try {
        await check(py.version, t, (m) => tc.diagnostic(m));
      } finally {
        await t.stop();
      }
    });
  }
});

describe('sizes: the census against tracemalloc, 3.14 and 3.15 in their images', { skip }, () => {
  for (const [image, minor] of [
    ['python:3.14', 14],
    ['python:3.15', 15],
  ] as const) {
    it(`${image}: bytes per instance as tracemalloc counts them, no __dict__ made`, { timeout: 1_800_000 }, async (tc) => {
      const t = await startImageTarget({ image, command: ['python3', '-u', '/app/sizes_target.py', String(N)], appDir: FIXTURES, uid: 1000 });
      try {
        await check([3, minor], t, (m) => tc.diagnostic(m));
      } finally {
        await t.stop();
      }
    });
  }
});
