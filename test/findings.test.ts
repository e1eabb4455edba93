// Finding the leak, on a target with a leak of known shape (test/fixtures/leak_target.py): a
// type growing at a known rate, a module global holding a dict holding a list of records, one
// object retaining 30 MB through a cycle, named threads parked in a known function, and an
// allocation loop at a known line. Locally (pid/N) on an old and a new interpreter, and once
// through the emulated cluster.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster } from './cluster/index.js';
import { FIXTURES, runCli } from './support/cli.js';
import { liveTargets, startContainer, type ContainerTarget } from './support/container.js';
import { healthy, tmpEntries } from './support/proc.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';
import { assertNoAgentPods, fixture, pyheap, settleZombies, type KubeFixture } from './kube-support.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-findings-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const outDir = () => path.join(scratch, `out-${++n}`);
const ALLOC_LINE = readFileSync(path.join(FIXTURES, 'leak_target.py'), 'utf8').split('\n').findIndex((l) => l.includes('# ALLOC_LINE')) + 1;
const MB = 1024 * 1024;

type Obj = Record<string, any>;

/** Every finding of one run, checked against the fixture's known shape. */
function checkFindings(doc: Obj, opts: { framesHaveLocals: boolean }): void {
  // growth: one Record every 10 ms, for 2 s
  const rec = (doc.growth as Obj[]).find((g) => g.name === '__main__.Record');
  assert.ok(rec, 'Record grew');
  assert.ok(rec.count_delta >= 100 && rec.count_delta <= 260, `Record grew by ${rec.count_delta} in 2 s (100 per second)`);
  // the totals are the rows' sums, and what the leak adds is more than any collection of the
  // garbage a payload's import leaves frees (the object count may fall by that: a real change)
  const sum = (k: string) => (doc.growth as Obj[]).reduce((a, g) => a + (g[k] as number), 0);
  assert.equal(doc.growth_total.count_delta, sum('count_delta'));
  assert.equal(doc.growth_total.size_delta, sum('size_delta'));
  assert.ok(doc.growth_total.size_delta > 0);
  // the chain names each step from the module global down to the record
  const chains = (doc.referrers as Obj[]).find((r) => r.type === '__main__.Record')?.chains as string[][];
  assert.ok(chains?.length, 'chains for the top grower');
  for (const c of chains) {
    assert.deepEqual(c.slice(0, 3), ['module __main__', '.STORE', "['records']"]);
    assert.match(c[3]!, /^\[\d+\]$/);
    assert.equal(c.at(-1), '-> __main__.Record');
  }
  const retainer = (doc.referrers as Obj[]).find((r) => r.type === '__main__.Retainer')?.chains as string[][];
  assert.deepEqual(retainer[0], ['module __main__', '.RETAINER', '-> __main__.Retainer']);
  // threads parked in a known function
  const parkers = (doc.threads as Obj[]).filter((t) => /^parker-\d$/.test(t.name));
  assert.equal(parkers.length, 2);
  for (const t of parkers) assert.ok((t.frames as Obj[]).some((fr) => fr.function === 'park_here' && fr.file.endsWith('leak_target.py')));
  assert.ok((doc.threads as Obj[]).some((t) => t.name === 'grower' && (t.frames as Obj[]).some((fr) => fr.function === 'grow')));
  // the allocation loop, seen by tracemalloc
  const site = (doc.trace.by_size as Obj[]).find((s) => s.file.endsWith('leak_target.py') && s.line === ALLOC_LINE);
  assert.ok(site && site.size_delta > 100_000, `the allocation line ${ALLOC_LINE} grew: ${JSON.stringify(doc.trace.by_size.slice(0, 3))}`);
  // retained size through a cycle: the Retainer holds the 30 MB bytearray (above it, only the
  // namespaces that hold everything: a module's dict, the main frame)
  const top = (doc.retainers as Obj[]).find((x) => x.type === '__main__.Retainer');
  assert.ok(top, `the Retainer is among the top retainers: ${JSON.stringify(doc.retainers.slice(0, 3))}`);
  assert.ok(top.retained_size >= 30 * MB && top.retained_size < 31 * MB, `retained ${top.retained_size}`);
  const byType = (doc.retained_by_type as Obj[]).find((t) => t.name === '__main__.Retainer');
  assert.ok(byType && byType.retained_size >= 30 * MB);
  assert.ok(doc.snapshot.objects > 1000 && doc.snapshot.references > doc.snapshot.objects);
  void opts;
}

const ARGS = ['--growth', '2s', '--referrers', '__main__.Retainer', '--stacks', '--trace', '2s', '--snapshot', '-o', 'json'];

const pythons = findInterpreters().filter((p) => p.label.startsWith('pyenv'));
const picks = [pythons.find((p) => p.version[1] <= 10), pythons.at(-1)].filter((p) => p !== undefined);

describe('finding the leak, pid/N', { skip }, () => {
  after(() => assert.deepEqual(liveTargets().map((t) => t.pid), []));
  for (const py of picks) {
    it(`${py.label}: growth, chains, stacks, allocation sites, retained sizes`, async () => {
      const t: ContainerTarget = await startContainer({ python: py, script: path.join(FIXTURES, 'leak_target.py'), uid: 1000 });
      try {
        const dir = outDir();
        const r = await runCli([`pid/${t.pid}`, ...ARGS, '--out-dir', dir]);
        assert.equal(r.code, 0, r.stderr);
        const doc = JSON.parse(r.stdout) as Obj;
        checkFindings(doc, { framesHaveLocals: py.version[1] <= 10 });
        // the snapshot is kept, and analyze re-opens it offline with the same views
        const file = path.join(dir, 'snapshot.pyheap');
        assert.ok(existsSync(file));
        const a = await runCli(['analyze', file, '-o', 'json']);
        assert.equal(a.code, 0, a.stderr);
        const offline = JSON.parse(a.stdout) as Obj;
        assert.deepEqual(offline.retainers, doc.retainers);
        const text = await runCli(['analyze', file, '--top', '5']);
        assert.match(text.stdout, /__main__\.Retainer/);
        for (let i = 0; i < 50 && tmpEntries(t.pid).length; i++) await new Promise((res) => setTimeout(res, 100));
        assert.equal(healthy(t.pid), null);
        assert.deepEqual(tmpEntries(t.pid), [], 'the snapshot never touched the target filesystem');
      } finally {
        await t.stop();
      }
    });
  }

  it('the table shows every section', async () => {
    const py = picks.at(-1)!;
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'leak_target.py'), uid: 1000 });
    try {
      const r = await runCli([`pid/${t.pid}`, '--growth', '1s', '--stacks', '--trace', '1s', '--snapshot', '--top', '5', '--out-dir', outDir()]);
      assert.equal(r.code, 0, r.stderr);
      for (const re of [/growth over 1 s/, /what holds __main__\.Record:\n {2}module __main__ \.STORE \['records'\] \[\d+\] -> __main__\.Record/,
        /allocation sites that grew over 1 s/, /thread parker-1 \(daemon\):/, /retained size/, /only allocations made after/i]) {
        assert.match(r.stdout, re);
      }
    } finally {
      await t.stop();
    }
  });

  it('rejects leak options with --script or --exec', async () => {
    const r = await runCli(['pid/1', '--growth', '1s', '--exec', 'pass']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /error: --growth goes with a census, not with --script or --exec/);
  });

  it('analyze: a damaged file is one clear error', async () => {
    const r = await runCli(['analyze', path.join(FIXTURES, 'leak_target.py')]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /^error: .*(magic|PYHEAPSNAP)/m);
  });
});

describe('finding the leak, through the emulated cluster', { skip }, () => {
  let f: KubeFixture;
  before(async () => {
    if (skip) return;
    const cluster = await startCluster({
      cgroupLayout: 'systemd',
      switches: { agentStartDelayMs: 50 },
      objects: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'leaky', namespace: 'default' }, spec: { restartPolicy: 'Never', containers: [
        { name: 'app', image: `python:3.${picks.at(-1)!.version[1]}`, command: ['python', '/root/app/leak_target.py'], securityContext: { runAsUser: 1000, runAsGroup: 1000 } }] } }],
    });
    f = fixture(cluster, mkdtempSync(path.join(scratch, 'kube-')));
  });
  after(async () => { await f?.cluster.stop(); });

  it('the same findings for a pod, and no agent pod left', async () => {
    const r = await pyheap(f, ['leaky', ...ARGS]);
    assert.equal(r.code, 0, r.stderr);
    checkFindings(JSON.parse(r.stdout) as Obj, { framesHaveLocals: false });
    await settleZombies();
    await assertNoAgentPods(f);
  });
});
