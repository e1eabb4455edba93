// kubectl pyheap against pods of the emulated cluster (cgroupfs layout), end to end with real
// CPython targets: exact census counts, --script with files back, deploy/ and -l targets,
// --all-pods, a multi-process container, a non-root target with a read-only root. After every
// run: no agent pod left, and the target alive, untraced, without our thread or files.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, withFixtures } from '../tools/cluster/index.js';
import { ptraceSkip } from './support/ptrace.js';
import { call } from './support/kube.js';
import { agentTmpDir, settleZombies, assertNoAgentPods, assertUnharmed, bundleDirsLeft, containerPid, fixture, gdbVersionOf, pods, pyheap, type KubeFixture } from './kube-support.js';
import { defaultAgentImage } from '../src/agentpod/manifest.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-kube-run-'));
let f: KubeFixture;
let agentTmp = '';

const pod = (name: string, spec: Record<string, any>, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels },
  spec: withFixtures({ restartPolicy: 'Never', ...spec }),
});
const K = 5;
const nodeOf = async (name: string) => (await call(f.k, 'GET', `/api/v1/namespaces/default/pods/${name}`)).body.spec.nodeName as string;

before(async () => {
  if (skip) return;
  const cluster = await startCluster({
    cgroupLayout: 'cgroupfs',
    nodes: ['emulated-node-1', 'emulated-node-2'],
    switches: { agentStartDelayMs: 50, agentTmpDir: (agentTmp = agentTmpDir(scratch)) },
    objects: [
      pod('census', { containers: [{ name: 'py', image: 'python:3.12', command: ['python', '/app/census_target.py', '1234', String(K)], securityContext: { runAsUser: 1000, runAsGroup: 1000 } }] }),
      // non-root, read-only root filesystem, /tmp an emptyDir
      pod('locked', {
        containers: [
          {
            name: 'app',
            image: 'python:3.11',
            command: ['python', '/app/census_target.py', '77', '1'],
            securityContext: { runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true },
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
          },
        ],
        volumes: [{ name: 'tmp', emptyDir: {} }],
      }),
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/default-container': 'app' } },
            spec: withFixtures({
              containers: [
                { name: 'app', image: 'python:3.12-slim', command: ['python', '/app/census_target.py', '321', '1'], securityContext: { runAsUser: 1000 } },
                { name: 'sidecar', image: 'debian:12', command: ['sleep', '3600'] },
              ],
            }),
          },
        },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'workers', namespace: 'default' },
        spec: {
          replicas: 1,
          serviceName: 'workers',
          selector: { matchLabels: { app: 'workers' } },
          template: {
            metadata: { labels: { app: 'workers' } },
            spec: withFixtures({ containers: [{ name: 'worker', image: 'python:3.10', workingDir: '/app', command: ['python3', 'forking_workers.py', '2'] }] }),
          },
        },
      },
    ],
  });
  f = fixture(cluster, scratch);
});
after(async () => {
  await f?.cluster.stop();
  await settleZombies();
  rmSync(scratch, { recursive: true, force: true });
});

interface Doc {
  [k: string]: any;
}
const json = (stdout: string) => JSON.parse(stdout) as Doc;
const largest = (doc: Doc, type: string, min: number, max = min * 1.01 + 200) => (doc.largest as Doc[]).filter((l) => l.type === type && l.size >= min && l.size <= max).length;

describe('kubectl pyheap POD', { skip, timeout: 240_000 }, () => {
  it('census of a pod: exact counts, the pid/N document plus where it ran, nothing left behind', async () => {
    const pid = await containerPid(f, 'census');
    const r = await pyheap(f, ['census', '-o', 'json', '--largest', '40']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'with -o json, stderr carries nothing but errors');
    const doc = json(r.stdout);
    assert.equal(doc.types.find((x: Doc) => x.name === '__main__.Marker')?.count, 1234, 'GC-tracked instances');
    assert.equal(largest(doc, 'bytes', 300007), K, 'untracked bytes');
    assert.equal(largest(doc, 'str', 200011), K, 'untracked str');
    assert.equal(largest(doc, 'tuple', 40009 * 8), K, 'untracked tuples held twice, counted once');
    assert.ok(largest(doc, 'dict', 20011 * 8, 20011 * 80) >= K, 'untracked dicts');
    assert.match(doc.python.version, /^3\.12\./);
    assert.equal(doc.python.pid, pid, 'the host PID, as for pid/N');
    assert.equal(doc.python.namespace_pid, 1);
    assert.deepEqual([doc.target, doc.namespace, doc.pod, doc.container, doc.node], ['pod/census', 'default', 'census', 'py', await nodeOf('census')]);
    assert.deepEqual({ ...doc.process, rss_bytes: undefined }, { pid: 1, host_pid: pid, rss_bytes: undefined, command: 'python /app/census_target.py 1234 5' });
    assert.match(doc.agent_pod, /^pyheap-agent-[a-z0-9]{8}$/);
    // which debugger touched the target: the default agent image, and the gdb it runs
    assert.deepEqual(doc.agent, { image: defaultAgentImage(), gdb_version: await gdbVersionOf(f, defaultAgentImage()) });
    assert.ok(existsSync(path.join(doc.out_dir, 'census.json')), 'the full results are saved locally');
    assert.deepEqual(bundleDirsLeft(doc.agent_pod, agentTmp), [], 'the session directories are gone from the agent pod');
    await assertNoAgentPods(f);
    await assertUnharmed(pid, 2);
  });

  it('the table, as for pid/N, headed by the pod; progress says what happens', async () => {
    const r = await pyheap(f, ['pod/census', '--top', '5']);
    assert.equal(r.code, 0, r.stderr);
    const node = await nodeOf('census');
    assert.match(r.stdout, new RegExp(`^pod default/census \\(container py, node ${node}\\): Python 3\\.12\\.\\d+ \\(pid 1 in its namespace, .*\\)\\n[\\d,]+ objects`));
    assert.match(r.stdout, /\n {23}types \| {3}# objects \| {3}total size\n/);
    for (const line of [
      new RegExp(`starting agent pod pyheap-agent-\\w+ on node ${node}`),
      /finding the Python process of container py in pod census/,
      /injecting with gdb/,
      /deleting agent pod/,
      /full results saved in /,
    ])
      assert.match(r.stderr, line);
    await assertNoAgentPods(f);
  });

  it("--script runs in the pod's process, its output and PYHEAP_OUT files come back", async () => {
    const script = path.join(scratch, 'probe.py');
    writeFileSync(
      script,
      'import os, sys\nprint("pid", os.getpid(), "uid", os.getuid())\nopen(os.path.join(PYHEAP_OUT, "note.txt"), "w").write("hello " * 1000)\nos.mkdir(os.path.join(PYHEAP_OUT, "sub"))\nopen(os.path.join(PYHEAP_OUT, "sub", "x.bin"), "wb").write(bytes(100000))\n',
    );
    const pid = await containerPid(f, 'census');
    const out = path.join(scratch, 'script-out');
    const r = await pyheap(f, ['census', '--script', script, '--out-dir', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'pid 1 uid 1000\n');
    assert.equal(readFileSync(path.join(out, 'note.txt'), 'utf8'), 'hello '.repeat(1000));
    assert.equal(readFileSync(path.join(out, 'sub', 'x.bin')).length, 100000);
    await assertNoAgentPods(f);
    await assertUnharmed(pid, 2);
  });

  it('a non-root target with a read-only root and an emptyDir /tmp', async () => {
    const pid = await containerPid(f, 'locked');
    const r = await pyheap(f, ['locked', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r.stdout).types.find((x: Doc) => x.name === '__main__.Marker')?.count, 77);
    await assertNoAgentPods(f);
    await assertUnharmed(pid, 2);
  });

  it('deploy/NAME and -l SELECTOR pick one pod and say which; the default-container annotation picks the container', async () => {
    const web = await pods(f.k, 'default', 'app=web');
    assert.equal(web.length, 2);
    const d = await pyheap(f, ['deploy/web', '-o', 'json']);
    assert.equal(d.code, 0, d.stderr);
    const doc = json(d.stdout);
    assert.equal(doc.container, 'app');
    assert.ok(web.includes(doc.pod));
    assert.equal(doc.types.find((x: Doc) => x.name === '__main__.Marker')?.count, 321);
    const l = await pyheap(f, ['-l', 'app=web', '--top', '3']);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stderr, /-l app=web: 2 pods match; using web-\S+ \(--all-pods for every one\)/);
    await assertNoAgentPods(f);
  });

  it('--all-pods: every pod in parallel, one agent pod per node, compared side by side', async () => {
    const r = await pyheap(f, ['deploy/web', '--all-pods', '--top', '500']);
    assert.equal(r.code, 0, r.stderr);
    const [a, b] = await pods(f.k, 'default', 'app=web');
    const nodes = new Set([await nodeOf(a!), await nodeOf(b!)]);
    assert.equal(nodes.size, 2, 'the scheduler spread the two replicas over the two nodes');
    assert.match(r.stdout, new RegExp(`^A = default/${a} \\(node ${await nodeOf(a!)}, pid 1, Python 3\\.12\\.\\d+\\): [\\d,]+ objects`, 'm'));
    assert.match(r.stdout, new RegExp(`^B = default/${b} `, 'm'));
    assert.match(r.stdout, /types \| A # objects \| +A size \| B # objects \| +B size\n/);
    assert.match(r.stdout, /__main__\.Marker \| {9}321 \| .* \| {9}321 \| /);
    assert.equal(r.stderr.match(/starting agent pod/g)?.length, nodes.size, 'one agent pod per node');
    const j = await pyheap(f, ['deploy/web', '--all-pods', '-o', 'json']);
    assert.equal(j.code, 0, j.stderr);
    const doc = json(j.stdout);
    assert.deepEqual(doc.runs.map((x: Doc) => x.pod).sort(), [a, b]);
    assert.deepEqual(doc.failures, []);
    await assertNoAgentPods(f);
  });

  it('a container with several Python processes: the largest by default, --pid, --all-processes', async () => {
    const r = await pyheap(f, ['sts/workers', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = json(r.stdout);
    assert.equal(doc.processes.length, 3);
    const biggest = [...doc.processes].sort((x: Doc, y: Doc) => y.rss_bytes - x.rss_bytes)[0];
    assert.equal(doc.process.pid, biggest.pid);
    const plain = await pyheap(f, ['sts/workers', '--top', '3']);
    assert.match(plain.stderr, /runs 3 Python processes; inspecting the largest \(pid \d+\), --pid N for another, --all-processes for all/);
    const worker = doc.processes.find((p: Doc) => p.pid !== 1).pid;
    const one = json((await pyheap(f, ['sts/workers', '--pid', String(worker), '-o', 'json'])).stdout);
    assert.equal(one.python.namespace_pid, worker);
    const all = await pyheap(f, ['sts/workers', '--all-processes', '-o', 'json']);
    assert.equal(all.code, 0, all.stderr);
    const runs = json(all.stdout).runs as Doc[];
    assert.deepEqual(runs.map((x) => x.python.namespace_pid).sort(), doc.processes.map((p: Doc) => p.pid).sort());
    // each worker holds its own Jobs: 1000 inherited plus 100 or 200 of its own
    assert.deepEqual(runs.map((x) => x.types.find((t: Doc) => t.name === '__main__.Job')?.count).sort(), [1000, 1100, 1200]);
    await assertNoAgentPods(f);
  });
});
