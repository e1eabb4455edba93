// The interpreter matrix through pods: python:3.8 ... python:3.15 (3.14 and 3.15 Debian's, from
// their images; 3.8-3.13 the official layout, shared libpython under /usr/local), each pod in its
// own image under runc. The census is exact (tracked and untracked objects) and --script runs
// (output, PYHEAP_OUT files back, sys.exit), with the default agent image (gdb 16) and with the
// debug-toolkit stand-in robustadev/debug-toolkit:v6.0 (gdb 13) by --image. The code comes in as
// real manifests bring it: a hostPath volume, and for one pod a ConfigMap made with the real
// `kubectl create configmap --from-file`. With the default agent image, each interpreter's pod
// also finds the leak of leak_target.py (--growth, --referrers, --stacks, --trace, --snapshot:
// the findings pid/N checks, test/support/checks.ts) and reports injected code that fails
// (sys.exit, KeyboardInterrupt, syntax errors, by --exec and by --script).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES_DIR, startCluster, withFixtures } from '../tools/cluster/index.js';
import { agentTmpDir, assertNoAgentPods, assertUnharmed, bundleDirsLeft, containerPid, fixture, pyheap, settleZombies, type KubeFixture } from './kube-support.js';
import { call, podRunning } from './support/kube.js';
import { checkFindings, checkInjectedResult, injectedArgs, INJECTED_FAILURES } from './support/checks.js';
import { ptraceSkip } from './support/ptrace.js';

type Obj = Record<string, any>;
const KUBECTL = '/usr/bin/kubectl';
const skip = ptraceSkip() || (!existsSync(KUBECTL) && `no kubectl at ${KUBECTL}`);
if (skip && process.env.CI === 'true') throw new Error(`kube-images cannot run: ${skip}`);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-kube-images-'));
let f: KubeFixture;
let agentTmp = '';

/** image, its minor version, and where its code comes from */
const PODS = [8, 9, 10, 11, 12, 13, 14, 15].map((minor) => ({ name: `py3${minor}`, image: minor === 15 ? 'python:3.15-slim' : `python:3.${minor}`, minor, configMap: minor === 14 }));
const MARKERS = 321;
const K = 2;
const AGENTS = [
  { image: undefined, label: 'the default agent image', gdb: /injecting with gdb 16\.\d/ },
  { image: 'robustadev/debug-toolkit:v6.0', label: 'robustadev/debug-toolkit:v6.0', gdb: /injecting with gdb 13\.1/ },
];

const kubectl = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(KUBECTL, ['--kubeconfig', f.cluster.kubeconfigPath, ...args], (e, stdout, stderr) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });

before(async () => {
  if (skip) return;
  const cluster = await startCluster({
    switches: { agentStartDelayMs: 50, agentTmpDir: (agentTmp = agentTmpDir(scratch)) },
    objects: PODS.filter((p) => !p.configMap).map((p) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: p.name, namespace: 'default' },
      spec: withFixtures({
        restartPolicy: 'Never',
        containers: [{ name: 'py', image: p.image, command: ['python3', '/app/census_target.py', String(MARKERS), String(K)], securityContext: { runAsUser: 1000, runAsGroup: 1000 } }],
      }),
    })),
  });
  f = fixture(cluster, scratch);
  // the configMap pod, as a user would make it: kubectl create configmap --from-file, then the pod
  const cm = await kubectl(['create', 'configmap', 'census-code', `--from-file=${path.join(FIXTURES_DIR, 'census_target.py')}`]);
  assert.equal(cm.code, 0, cm.stderr);
  assert.equal(cm.stdout.trim(), 'configmap/census-code created');
  const p = PODS.find((x) => x.configMap)!;
  const created = await call(f.k, 'POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: 'default' },
    spec: withFixtures(
      {
        restartPolicy: 'Never',
        containers: [{ name: 'py', image: p.image, command: ['python3', '/app/census_target.py', String(MARKERS), String(K)], securityContext: { runAsUser: 1000, runAsGroup: 1000 } }],
      },
      { configMap: 'census-code' },
    ),
  });
  assert.equal(created.code, 201, created.text);
  await podRunning(f.k, 'default', p.name);
});
after(async () => {
  await f?.cluster.stop();
  await settleZombies();
  rmSync(scratch, { recursive: true, force: true });
});

const largest = (doc: Obj, type: string, min: number, max = min * 1.01 + 200) => (doc.largest as Obj[]).filter((l) => l.type === type && l.size >= min && l.size <= max).length;

describe('the interpreter matrix through pods', { skip, timeout: 900_000 }, () => {
  it('kubectl create configmap --from-file: the ConfigMap through the API, its file in the pod (read-only)', async () => {
    const got = await kubectl(['get', 'configmap', 'census-code', '-o', 'json']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(JSON.parse(got.stdout).data['census_target.py'], readFileSync(path.join(FIXTURES_DIR, 'census_target.py'), 'utf8'));
    const e = await kubectl(['exec', 'py314', '--', 'sh', '-c', 'cat /app/census_target.py | wc -c; touch /app/x 2>/dev/null || echo read-only']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, `${readFileSync(path.join(FIXTURES_DIR, 'census_target.py')).length}\nread-only\n`);
  });

  for (const p of PODS) {
    for (const agent of AGENTS) {
      const image = agent.image ? ['--image', agent.image] : [];
      it(`${p.image}: exact census with ${agent.label}`, async () => {
        const pid = await containerPid(f, p.name);
        const out = f.out();
        const r = await pyheap(f, [p.name, '--largest', '30', '--out-dir', out, ...image]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, agent.gdb, "the agent image's own gdb");
        // the table on stdout, progress on stderr (it names the gdb), the census saved in --out-dir
        const doc = JSON.parse(readFileSync(path.join(out, 'census.json'), 'utf8')) as Obj;
        assert.match(r.stdout, new RegExp(`^pod default/${p.name} \\(container py, node emulated-node-1\\): Python 3\\.${p.minor}\\.\\d+ `));
        assert.equal(doc.types.find((x: Obj) => x.name === '__main__.Marker')?.count, MARKERS, 'GC-tracked instances');
        assert.equal(largest(doc, 'bytes', 300007), K, 'untracked bytes');
        assert.equal(largest(doc, 'str', 200011), K, 'untracked str');
        assert.equal(largest(doc, 'tuple', 40009 * 8), K, 'untracked tuples held twice, counted once');
        assert.deepEqual(bundleDirsLeft(r.stderr, agentTmp), []);
        await assertNoAgentPods(f);
        await assertUnharmed(pid, 2);
      });

      it(`${p.image}: --script with ${agent.label}: output, PYHEAP_OUT files, sys.exit`, async () => {
        const pid = await containerPid(f, p.name);
        const script = path.join(scratch, `probe-${p.name}-${agent.image ? 'dt' : 'agent'}.py`);
        writeFileSync(script, 'import os, sys\nprint("uid", os.getuid(), sys.version_info[:2])\nopen(os.path.join(PYHEAP_OUT, "note.txt"), "w").write("hello " * 100)\nsys.exit(3)\n');
        const out = f.out();
        const r = await pyheap(f, [p.name, '--script', script, '--out-dir', out, ...image]);
        assert.equal(r.code, 1, `sys.exit in the script is exit 1: ${r.stderr}`);
        assert.match(r.stderr, /SystemExit: 3/);
        assert.match(r.stderr, agent.gdb);
        assert.equal(r.stdout, `uid 1000 (3, ${p.minor})\n`);
        assert.equal(readFileSync(path.join(out, 'note.txt'), 'utf8'), 'hello '.repeat(100));
        await assertNoAgentPods(f);
        await assertUnharmed(pid, 2);
      });
    }
  }

  for (const p of PODS) {
    it(`${p.image}: injected code that fails, through the pod (--exec and --script)`, async () => {
      const pid = await containerPid(f, p.name);
      for (const c of INJECTED_FAILURES) {
        const r = await pyheap(f, [p.name, ...injectedArgs(c, scratch), '--out-dir', f.out()]);
        try {
          checkInjectedResult(r, c);
        } catch (e) {
          throw new Error(`${c.what}: ${(e as Error).message}`);
        }
        await assertNoAgentPods(f);
      }
      await assertUnharmed(pid, 2);
    });

    it(`${p.image}: finding the leak through the pod: --growth, --referrers, --stacks, --trace, --snapshot`, async () => {
      // a pod of its own, made for this run and deleted after it (eight leaking targets at once
      // would only slow the others down)
      const name = `leak${p.minor}`;
      const created = await call(f.k, 'POST', '/api/v1/namespaces/default/pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default' },
        spec: withFixtures({
          restartPolicy: 'Never',
          containers: [{ name: 'app', image: p.image, command: ['python3', '/app/leak_target.py'], securityContext: { runAsUser: 1000, runAsGroup: 1000 } }],
        }),
      });
      assert.equal(created.code, 201, created.text);
      try {
        await podRunning(f.k, 'default', name);
        const out = f.out();
        const r = await pyheap(f, [name, '--growth', '2s', '--referrers', '__main__.Retainer', '--stacks', '--trace', '2s', '--snapshot', '-o', 'json', '--out-dir', out]);
        assert.equal(r.code, 0, r.stderr);
        const doc = JSON.parse(r.stdout) as Obj;
        assert.ok(doc.python.version.startsWith(`3.${p.minor}.`), doc.python.version);
        checkFindings(doc);
        for (const t of (doc.threads as Obj[]).filter((x) => /^parker-\d$/.test(x.name))) {
          assert.ok(
            (t.frames as Obj[]).some((fr) => fr.file === '/app/leak_target.py'),
            'the file as the container sees it',
          );
        }
        assert.ok(existsSync(path.join(out, 'snapshot.pyheap')), 'the snapshot is saved');
        assert.deepEqual(bundleDirsLeft(r.stderr, agentTmp), []);
        await assertNoAgentPods(f);
      } finally {
        await call(f.k, 'DELETE', `/api/v1/namespaces/default/pods/${name}?gracePeriodSeconds=0`);
      }
    });
  }
});
