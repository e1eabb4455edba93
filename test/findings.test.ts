// Finding the leak, on a target with a leak of known shape (test/fixtures/leak_target.py): a
// type growing at a known rate, a module global holding a dict holding a list of records, one
// object retaining 30 MB through a cycle, named threads parked in a known function, and an
// allocation loop at a known line. Locally (pid/N) on an old and a new interpreter, and once
// through the emulated cluster.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, withFixtures } from '../tools/cluster/index.js';
import { FIXTURES, runCli } from './support/cli.js';
import { liveTargets, startContainer, type ContainerTarget } from './support/container.js';
import { healthy, tmpEntries } from './support/proc.js';
import { checkFindings } from './support/checks.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';
import { assertNoAgentPods, fixture, pyheap, settleZombies, type KubeFixture } from './kube-support.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-findings-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const outDir = () => path.join(scratch, `out-${++n}`);

type Obj = Record<string, any>;

const ARGS = ['--growth', '2s', '--referrers', '__main__.Retainer', '--stacks', '--trace', '2s', '--snapshot', '-o', 'json'];

const pythons = findInterpreters().filter((p) => p.label.startsWith('pyenv'));
const picks = [pythons.find((p) => p.version[1] <= 10), pythons.at(-1)].filter((p) => p !== undefined);

describe('finding the leak, pid/N', { skip }, () => {
  after(() =>
    assert.deepEqual(
      liveTargets().map((t) => t.pid),
      [],
    ),
  );
  for (const py of picks) {
    it(`${py.label}: growth, chains, stacks, allocation sites, retained sizes`, async () => {
      const t: ContainerTarget = await startContainer({ python: py, script: path.join(FIXTURES, 'leak_target.py'), uid: 1000 });
      try {
        const dir = outDir();
        const r = await runCli([`pid/${t.pid}`, ...ARGS, '--out-dir', dir]);
        assert.equal(r.code, 0, r.stderr);
        const doc = JSON.parse(r.stdout) as Obj;
        checkFindings(doc);
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
      for (const re of [
        /growth over 1 s/,
        /what holds __main__\.Record:\n {2}module __main__ \.STORE \['records'\] \[\d+\] -> __main__\.Record/,
        /allocation sites that grew over 1 s/,
        /thread parker-1 \(daemon\):/,
        /retained size/,
        /only allocations made after/i,
      ]) {
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
      objects: [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'leaky', namespace: 'default' },
          spec: withFixtures({
            restartPolicy: 'Never',
            containers: [{ name: 'app', image: `python:3.${picks.at(-1)!.version[1]}`, command: ['python', '/app/leak_target.py'], securityContext: { runAsUser: 1000, runAsGroup: 1000 } }],
          }),
        },
      ],
    });
    f = fixture(cluster, mkdtempSync(path.join(scratch, 'kube-')));
  });
  after(async () => {
    await f?.cluster.stop();
  });

  it('the same findings for a pod, and no agent pod left', async () => {
    const r = await pyheap(f, ['leaky', ...ARGS]);
    assert.equal(r.code, 0, r.stderr);
    checkFindings(JSON.parse(r.stdout) as Obj);
    await settleZombies();
    await assertNoAgentPods(f);
  });
});
