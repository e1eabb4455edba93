// --out-dir reused: a directory that already holds files (an earlier run's) is refused with one
// line before anything touches the target, in every mode, pid/N and pods alike; no run hangs on
// it, and what was there stays as it was. A new or an empty directory is used as given.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, withFixtures } from '../tools/cluster/index.js';
import { FIXTURES, runCli } from './support/cli.js';
import { startContainer, type ContainerTarget } from './support/container.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';
import { assertNoAgentPods, fixture, oneLineError, pyheap, settleZombies, type KubeFixture } from './kube-support.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-out-dir-'));
const py =
  findInterpreters()
    .filter((p) => p.label.startsWith('pyenv'))
    .at(-1) ?? findInterpreters()[0]!;
const script = path.join(scratch, 'leak.py');
writeFileSync(script, 'import os\nopen(os.path.join(PYHEAP_OUT, "found.txt"), "w").write("x")\nprint("hello")\n');
let target: ContainerTarget | undefined;
let f: KubeFixture | undefined;

/** Every file below dir, with its contents: what a second run must leave exactly as it was. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out[path.relative(dir, path.join(e.parentPath, e.name))] = readFileSync(path.join(e.parentPath, e.name), 'latin1');
  }
  return out;
}

before(async () => {
  if (skip) return;
  target = await startContainer({ python: py, script: path.join(FIXTURES, 'census_target.py'), args: ['10', '1'], uid: 1000 });
  const cluster = await startCluster({
    cgroupLayout: 'cgroupfs',
    switches: { agentStartDelayMs: 50 },
    objects: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: withFixtures({ containers: [{ name: 'app', image: `python:3.${py.version[1]}`, command: ['python', '/app/census_target.py', '5', '1'] }] }),
          },
        },
      },
    ],
  });
  f = fixture(cluster, scratch);
});
after(async () => {
  await target?.stop();
  await f?.cluster.stop();
  await settleZombies();
  rmSync(scratch, { recursive: true, force: true });
});

const MODES: { name: string; args: string[] }[] = [
  { name: 'census', args: [] },
  { name: '--script', args: ['--script', script] },
  { name: '--snapshot', args: ['--snapshot'] },
  { name: '--growth', args: ['--growth', '1s'] },
];

describe('--out-dir reused', { skip, timeout: 300_000 }, () => {
  for (const m of MODES) {
    it(`pid/N ${m.name}: the second run into the same directory is refused before it starts, the first one's files stay`, async () => {
      const dir = path.join(scratch, `pid-${m.name.replace(/\W/g, '')}`);
      const first = await runCli([`pid/${target!.pid}`, '--out-dir', dir, ...m.args]);
      assert.equal(first.code, 0, first.stderr);
      const kept = tree(dir);
      assert.ok(Object.keys(kept).length > 0);
      const second = await runCli([`pid/${target!.pid}`, '--out-dir', dir, ...m.args]);
      assert.equal(second.code, 2, second.stderr);
      oneLineError(second.stderr, new RegExp(`error: --out-dir ${dir.replace(/[/.]/g, '\\$&')} already holds files \\(.+\\).*; give a new or empty directory`));
      assert.equal(second.stderr.trim().split('\n').length, 1, `nothing but the error: no progress, no injection:\n${second.stderr}`);
      assert.deepEqual(tree(dir), kept);
    });
  }

  it('an empty existing directory is used as given', async () => {
    const dir = path.join(scratch, 'empty');
    mkdirSync(dir);
    const r = await runCli([`pid/${target!.pid}`, '--out-dir', dir, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).out_dir, dir);
    assert.ok(readdirSync(dir).includes('census.json'));
  });

  it('a file given as --out-dir is refused', async () => {
    const r = await runCli([`pid/${target!.pid}`, '--out-dir', script]);
    assert.equal(r.code, 2, r.stderr);
    oneLineError(r.stderr, /error: --out-dir .*leak\.py is a file, not a directory; give a new or empty directory/);
  });

  it('pods: --all-pods into a reused directory is refused before any agent pod exists', async () => {
    const dir = path.join(scratch, 'fleet');
    const first = await pyheap(f!, ['deploy/web', '--all-pods', '--out-dir', dir]);
    assert.equal(first.code, 0, first.stderr);
    const kept = tree(dir);
    const second = await pyheap(f!, ['deploy/web', '--all-pods', '--out-dir', dir]);
    assert.equal(second.code, 2, second.stderr);
    oneLineError(second.stderr, /error: --out-dir .*fleet already holds files \(.*web-.*\).*; give a new or empty directory/);
    assert.doesNotMatch(second.stderr, /agent pod/);
    assert.deepEqual(tree(dir), kept);
    await assertNoAgentPods(f!);
  });
});
