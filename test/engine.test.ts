// The engine against real CPython processes that look like containers: every interpreter of
// the machine, exact object counts, and after every run a target that is alive, running,
// untraced, and has nothing of ours in its /tmp.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, FIXTURES } from './support/cli.js';
import { liveTargets, startContainer, type ContainerTarget } from './support/container.js';
import { healthy, localGdbVersion, tmpEntries } from './support/proc.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';

const skip = ptraceSkip();
const pythons = findInterpreters();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-engine-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(liveTargets().map((t) => t.pid), [], 'a test left a target running');
});

let outCount = 0;
const outDir = () => path.join(scratch, `out-${++outCount}`);

const threads = (pid: number) => readdirSync(`/proc/${pid}/task`).length;
const baseline = new Map<number, number>();

/** The payload thread lingers until the agent removed its directory: give it a moment to go,
 * then the target must have exactly the threads it had before, and a clean /tmp. */
async function assertUnharmed(t: ContainerTarget): Promise<void> {
  if (!baseline.has(t.pid)) baseline.set(t.pid, 2);
  for (let i = 0; i < 50 && (tmpEntries(t.pid).length > 0 || threads(t.pid) > baseline.get(t.pid)!); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(threads(t.pid), baseline.get(t.pid), 'the payload thread is still there');
  assert.equal(healthy(t.pid), null);
  assert.deepEqual(tmpEntries(t.pid), [], 'something was left in the target /tmp');
}

interface TypeRow { name: string; count: number; size: number }

interface Doc {
  types: TypeRow[];
  largest: { type: string; size: number }[];
  python: { version: string; pid: number };
  total: { count: number; size: number };
  elapsed_seconds: number;
  agent: { image: string | null; gdb_version: string | null };
}

async function census(t: ContainerTarget): Promise<Doc> {
  const r = await runCli([`pid/${t.pid}`, '-o', 'json', '--out-dir', outDir(), '--timeout', '60s', '--largest', '40']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'with -o json, stderr carries nothing but errors');
  await assertUnharmed(t);
  return JSON.parse(r.stdout) as Doc;
}

/** How many of the largest objects have this type and a size in [min, max]. */
function largest(doc: Doc, type: string, min: number, max = min * 1.01 + 200): number {
  return doc.largest.filter((l) => l.type === type && l.size >= min && l.size <= max).length;
}

describe('census, every interpreter of this machine', { skip }, () => {
  it('found interpreters to test', () => {
    assert.ok(pythons.length >= 2, `expected pyenv interpreters and Debian's python3, found ${pythons.map((p) => p.label).join(', ')}`);
  });
  for (const py of pythons) {
    it(`${py.label}: exact counts of tracked and untracked objects, target unharmed`, async () => {
      const K = 5;
      const t = await startContainer({ python: py, script: path.join(FIXTURES, 'census_target.py'), args: ['1234', String(K)], uid: 1000 });
      try {
        const doc = await census(t);
        assert.equal(doc.types.find((x) => x.name === '__main__.Marker')?.count, 1234, 'GC-tracked instances');
        assert.equal(largest(doc, 'bytes', 300007), K, 'untracked bytes');
        assert.equal(largest(doc, 'str', 200011), K, 'untracked str');
        assert.equal(largest(doc, 'tuple', 40009 * 8), K, 'untracked tuples held twice, counted once');
        assert.ok(largest(doc, 'dict', 20011 * 8, 20011 * 80) >= K, 'untracked dicts');
        const framesWalked = py.version[1] <= 10 || py.version[1] >= 13;
        assert.equal(largest(doc, 'bytes', 654321), framesWalked ? 1 : 0, 'held only by a running frame');
        assert.ok(doc.python.version.startsWith(`${py.version[0]}.${py.version[1]}.`));
        assert.equal(doc.python.pid, t.pid);
        assert.deepEqual(doc.agent, { image: null, gdb_version: localGdbVersion() }, 'pid/N: no agent image, this machine\'s gdb');
        assert.ok(doc.total.count > 1234 && doc.total.size > K * (300007 + 200011) && doc.elapsed_seconds > 0);
        for (const row of doc.types) assert.ok(!row.name.includes('pyheap'), `the census counted its own objects: ${row.name}`);
        // The first injections warm a few caches of the interpreter once (codecs, interned
        // names; 3.10 settles one tuple later than the others); from then on, censuses of the
        // idle target must agree exactly: a run leaves nothing behind, not even garbage.
        await census(t);
        const third = await census(t);
        const fourth = await census(t);
        assert.deepEqual(fourth.types.map((x) => [x.name, x.count]), third.types.map((x) => [x.name, x.count]));
      } finally {
        await t.stop();
      }
    });
  }
});
