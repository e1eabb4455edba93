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
import { healthy, tmpEntries } from './support/proc.js';
import { checkCensus } from './support/checks.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';

const skip = ptraceSkip();
const pythons = findInterpreters();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-engine-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    liveTargets().map((t) => t.pid),
    [],
    'a test left a target running',
  );
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

interface Doc {
  types: { name: string; count: number }[];
  [k: string]: any;
}

async function census(t: ContainerTarget): Promise<Doc> {
  const r = await runCli([`pid/${t.pid}`, '-o', 'json', '--out-dir', outDir(), '--timeout', '60s', '--largest', '40']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'with -o json, stderr carries nothing but errors');
  await assertUnharmed(t);
  return JSON.parse(r.stdout) as Doc;
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
        checkCensus(doc, py.version[1], { markers: 1234, k: K, pid: t.pid });
        // The first injections warm a few caches of the interpreter once (codecs, interned
        // names; 3.10 settles one tuple later than the others); from then on, censuses of the
        // idle target must agree exactly: a run leaves nothing behind, not even garbage.
        await census(t);
        const third = await census(t);
        const fourth = await census(t);
        assert.deepEqual(
          fourth.types.map((x) => [x.name, x.count]),
          third.types.map((x) => [x.name, x.count]),
        );
      } finally {
        await t.stop();
      }
    });
  }
});
