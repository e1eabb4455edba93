// The emulated cluster (tools/cluster) as real kubectl sees it: get, exec with stdout, stderr,
// stdin and exit codes; workload pods with their names, labels and ownerReferences; label and
// field selectors; containers in kubelet-named cgroups; and a stop that leaves nothing behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES_DIR, startCluster, type ClusterHandle } from '../tools/cluster/index.js';
import { spawnCluster } from '../tools/cluster/spawn.js';
import { hierarchies } from '../tools/cluster/cgroups.js';
import { call, fromKubeconfig, waitFor, type Kube } from './support/kube.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-cluster-test-'));
const WORKLOADS = path.join(FIXTURES_DIR, 'cluster-workloads.yaml');
let cluster: ClusterHandle;
let k: Kube;

function kubectl(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', cluster.kubeconfigPath, '--cache-dir', path.join(scratch, 'kube-cache'), ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch } },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

const pods = async (ns: string, query = '') => (await call(k, 'GET', `/api/v1/namespaces/${ns}/pods${query}`)).body.items as Record<string, any>[];

before(async () => {
  cluster = await startCluster({ manifests: [WORKLOADS], cgroupLayout: 'cgroupfs' });
  k = fromKubeconfig(cluster.kubeconfigPath);
});
after(async () => {
  await cluster?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('real kubectl against the emulated cluster', () => {
  it('kubectl get pods lists every pod of a namespace, Running and Ready', async () => {
    const r = await kubectl(['get', 'pods', '-n', 'shop']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    const rows = lines.slice(1).map((l) => l.split(/\s+/));
    assert.equal(rows.length, 4, r.stdout);
    for (const row of rows) assert.equal(row[2], 'Running', r.stdout);
    assert.ok(
      rows.some((row) => /^web-[a-z0-9]+-[a-z0-9]{5}$/.test(row[0]!) && row[1] === '2/2'),
      r.stdout,
    );
  });

  it('kubectl exec: stdout, stderr and a non-zero exit code, as the container sees itself', async () => {
    const web = (await pods('shop', '?labelSelector=app%3Dweb'))[0]!.metadata.name;
    const r = await kubectl(['exec', '-n', 'shop', web, '-c', 'app', '--', 'sh', '-c', 'echo out; id -u; echo err >&2; cat /proc/1/cmdline | tr "\\0" " "; exit 7']);
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, 'out\n1000\npython /app/leaky_service.py 50 ');
    assert.match(r.stderr, /^err\n/);
    const ok = await kubectl(['exec', '-n', 'shop', web, '-c', 'app', '--', 'python', '-c', 'import sys; print(sys.version_info[:2])']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, '(3, 12)\n', 'python:3.12-slim is pyenv 3.12');
  });

  it('kubectl exec -i passes stdin; a missing command fails like a runtime', async () => {
    const r = await kubectl(['exec', '-i', '-n', 'default', 'solo', '--', 'sh', '-c', 'tr a-z A-Z; exit 0'], 'hello\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'HELLO\n');
    const missing = await kubectl(['exec', '-n', 'default', 'solo', '--', 'no-such-command']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /executable file not found in \$PATH/);
  });

  it('kubectl get deployments, nodes, and a missing pod (NotFound)', async () => {
    const d = await kubectl(['get', 'deployments', '-n', 'shop', 'web']);
    assert.match(d.stdout, /web\s+2\/2\s+2\s+2/, d.stdout + d.stderr);
    const n = await kubectl(['get', 'nodes']);
    assert.match(n.stdout, /emulated-node-1\s+Ready/, n.stderr);
    const missing = await kubectl(['get', 'pod', '-n', 'shop', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /pods "nope" not found/);
  });
});

describe('workloads', () => {
  it('a Deployment owns a ReplicaSet that owns its pods, named and labelled like the real ones', async () => {
    const deploy = (await call(k, 'GET', '/apis/apps/v1/namespaces/shop/deployments/web')).body;
    const rss = (await call(k, 'GET', '/apis/apps/v1/namespaces/shop/replicasets')).body.items as Record<string, any>[];
    assert.equal(rss.length, 1);
    const rs = rss[0]!;
    assert.deepEqual(rs.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: deploy.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    const hash = rs.metadata.labels['pod-template-hash'];
    assert.equal(rs.metadata.name, `web-${hash}`);
    const webPods = await pods('shop', '?labelSelector=app%3Dweb');
    assert.equal(webPods.length, 2);
    for (const p of webPods) {
      assert.match(p.metadata.name, new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      assert.equal(p.metadata.labels['pod-template-hash'], hash);
      assert.equal(p.metadata.ownerReferences[0].kind, 'ReplicaSet');
      assert.equal(p.metadata.ownerReferences[0].uid, rs.metadata.uid);
      assert.equal(p.status.phase, 'Running');
      assert.equal(p.status.qosClass, 'Burstable');
      assert.ok(p.status.conditions.some((c: Record<string, string>) => c.type === 'Ready' && c.status === 'True'));
      assert.match(p.status.podIP, /^10\.244\.0\.\d+$/);
      assert.equal(p.status.hostIP, '172.18.0.2');
      assert.equal(p.spec.nodeName, 'emulated-node-1');
      for (const s of p.status.containerStatuses) assert.match(s.containerID, /^containerd:\/\/[0-9a-f]{64}$/);
    }
    assert.equal(deploy.status.readyReplicas, 2);
  });

  it('StatefulSet and DaemonSet pods; a container holding several Python processes', async () => {
    const sts = await pods('shop', '?labelSelector=app%3Dworkers');
    assert.deepEqual(
      sts.map((p) => p.metadata.name),
      ['workers-0'],
    );
    assert.equal(sts[0]!.metadata.ownerReferences[0].kind, 'StatefulSet');
    assert.equal(sts[0]!.metadata.labels['statefulset.kubernetes.io/pod-name'], 'workers-0');
    const ds = await pods('shop', '?labelSelector=app%3Dnode-agent');
    assert.equal(ds.length, 1);
    assert.match(ds[0]!.metadata.name, /^node-agent-[a-z0-9]{5}$/);
    assert.equal(ds[0]!.metadata.ownerReferences[0].kind, 'DaemonSet');
    const info = (await cluster.containers()).find((c) => c.pod === 'workers-0')!;
    const procs = path.join(hierarchies()[0]!.base, info.cgroup, 'cgroup.procs');
    await waitFor('the parent and two forked workers', async () => readFileSync(procs, 'utf8').trim().split('\n').length === 3);
    await waitFor('the log line', async () => (await kubectl(['logs', '-n', 'shop', 'workers-0'])).stdout === 'ready 2 workers\n');
  });
});

describe('selectors', () => {
  it('label selectors: =, !=, in, notin, exists, !exists', async () => {
    const names = async (sel: string) => (await pods('shop', `?labelSelector=${encodeURIComponent(sel)}`)).map((p) => p.metadata.labels.app).sort();
    assert.deepEqual(await names('app=web'), ['web', 'web']);
    assert.deepEqual(await names('app!=web'), ['node-agent', 'workers']);
    assert.deepEqual(await names('app in (workers,node-agent)'), ['node-agent', 'workers']);
    assert.deepEqual(await names('app notin (web),app'), ['node-agent', 'workers']);
    assert.deepEqual(await names('tier'), ['web', 'web']);
    assert.deepEqual(await names('!tier'), ['node-agent', 'workers']);
  });

  it('field selectors: metadata.name, spec.nodeName, status.phase; unknown fields are refused', async () => {
    const all = (q: string) => call(k, 'GET', `/api/v1/pods?fieldSelector=${encodeURIComponent(q)}`);
    assert.deepEqual(
      (await all('metadata.name=solo')).body.items.map((p: Record<string, any>) => p.metadata.name),
      ['solo'],
    );
    assert.equal((await all('spec.nodeName=emulated-node-1,status.phase=Running')).body.items.length, 5);
    assert.equal((await all('spec.nodeName=elsewhere')).body.items.length, 0);
    assert.equal((await all('status.phase!=Running')).body.items.length, 0);
    const bad = await all('spec.bogus=1');
    assert.equal(bad.code, 400);
    assert.deepEqual([bad.body.kind, bad.body.apiVersion, bad.body.status, bad.body.reason], ['Status', 'v1', 'Failure', 'BadRequest']);
    assert.match(bad.body.message, /field label not supported: spec.bogus/);
  });
});

describe('containers', () => {
  it('cgroupfs layout: /proc/PID/cgroup carries kubepods/burstable/pod<uid>/<id> in every hierarchy', async () => {
    const web = (await pods('shop', '?labelSelector=app%3Dweb'))[0]!;
    const id = web.status.containerStatuses.find((s: Record<string, string>) => s.name === 'app').containerID.replace('containerd://', '');
    const info = (await cluster.containers()).find((c) => c.containerID === `containerd://${id}`)!;
    const lines = readFileSync(`/proc/${info.pid}/cgroup`, 'utf8').trim().split('\n');
    assert.equal(lines.length, hierarchies().length);
    for (const l of lines) assert.ok(l.endsWith(`/kubepods/burstable/pod${web.metadata.uid}/${id}`), l);
    const status = readFileSync(`/proc/${info.pid}/status`, 'utf8');
    assert.match(status, /^NSpid:\s+\d+\s+1$/m, 'PID 1 of its own PID namespace');
    assert.match(status, /^Uid:\s+1000\s/m);
    assert.ok(existsSync(`/proc/${info.pid}/root/app/leaky_service.py`));
  });
});

describe('stopping', () => {
  it('SIGTERM to `cluster` stops every process and removes its cgroups, mounts and files', async () => {
    const c = await spawnCluster({ manifests: [WORKLOADS], cgroupLayout: 'systemd' });
    let infos;
    try {
      infos = await c.containers();
      assert.equal(infos.length, 7, 'web 2x2, workers-0, node-agent, solo');
      const kube = fromKubeconfig(c.kubeconfigPath);
      assert.equal((await call(kube, 'GET', '/version')).body.gitVersion, 'v1.32.0-pyheap-emulator');
      assert.ok(existsSync(c.tempDir));
    } finally {
      await c.stop();
    }
    const pids = infos.map((i) => i.pid!);
    const alive = pids.filter((p) => existsSync(`/proc/${p}`));
    assert.deepEqual(alive, [], 'container processes survived');
    for (const h of hierarchies()) for (const i of infos) assert.ok(!existsSync(path.join(h.mount, i.cgroup)), `${h.mount}${i.cgroup} left`);
    assert.ok(!existsSync(c.tempDir), 'temp dir left');
    assert.ok(!existsSync(c.kubeconfigPath), 'kubeconfig left');
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(c.tempDir), 'mount left');
  });
});
