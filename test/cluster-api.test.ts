// The emulated cluster's API behaviour that the plugin relies on: server-side dry-run, Pod
// Security Admission, the fault switches (pull failures, unschedulable, slow start, RBAC),
// activeDeadlineSeconds, deletion, watches, and the systemd cgroup layout.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { AGENT_IMAGE, startCluster, withFixtures, type ClusterHandle } from '../tools/cluster/index.js';
import { call, fromKubeconfig, getPod, podRunning, waitFor, type Kube } from './support/kube.js';

type Obj = Record<string, any>;
let cluster: ClusterHandle;
let k: Kube;

const pod = (name: string, ns = 'default', spec: Obj = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns },
  spec: { containers: [{ name: 'main', image: 'python:3.13', command: ['python', '-c', 'import time\nwhile True: time.sleep(1)'] }], ...spec },
});
const agent = (name: string, ns: string) =>
  pod(name, ns, {
    nodeName: 'emulated-node-1',
    hostPID: true,
    containers: [{ name: 'agent', image: AGENT_IMAGE, securityContext: { privileged: true } }],
  });
const create = (ns: string, body: Obj, q = '') => call(k, 'POST', `/api/v1/namespaces/${ns}/pods${q}`, body);
const waiting = (p: Obj) => p.status?.containerStatuses?.[0]?.state?.waiting;

before(async () => {
  cluster = await startCluster({
    cgroupLayout: 'systemd',
    objects: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'locked', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'strict', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'api', namespace: 'default' },
        spec: {
          selector: { matchLabels: { app: 'api' } },
          template: {
            metadata: { labels: { app: 'api' } },
            spec: withFixtures({ containers: [{ name: 'api', image: 'python:3.10', command: ['python', '/app/busy_python.py'], resources: { limits: { cpu: '100m', memory: '64Mi' } } }] }),
          },
        },
      },
    ],
  });
  k = fromKubeconfig(cluster.kubeconfigPath);
});
after(() => cluster?.stop());

describe('dry-run and admission', () => {
  it('?dryRun=All validates and admits but persists nothing', async () => {
    const r = await create('default', agent('dry', 'default'), '?dryRun=All');
    assert.equal(r.code, 201);
    assert.equal(r.body.metadata.name, 'dry');
    assert.ok(r.body.metadata.uid);
    assert.equal((await call(k, 'GET', '/api/v1/namespaces/default/pods/dry')).code, 404);
    const invalid = await create('default', { metadata: { name: 'bad' }, spec: { containers: [{ name: 'x' }] } }, '?dryRun=All');
    assert.equal(invalid.code, 422);
    assert.equal(invalid.body.message, 'Pod "bad" is invalid: spec.containers[0].image: Required value');
    assert.equal((await create('nowhere', pod('p', 'nowhere'), '?dryRun=All')).body.message, 'namespaces "nowhere" not found');
  });

  it('Pod Security Admission: baseline and restricted reject a hostPID privileged pod, dry-run too', async () => {
    for (const q of ['?dryRun=All', '']) {
      const r = await create('locked', agent('pyheap-agent', 'locked'), q);
      assert.equal(r.code, 403);
      assert.deepEqual([r.body.kind, r.body.apiVersion, r.body.status, r.body.reason, r.body.code], ['Status', 'v1', 'Failure', 'Forbidden', 403]);
      assert.equal(
        r.body.message,
        'pods "pyheap-agent" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostPID=true), privileged (container "agent" must not set securityContext.privileged=true)',
      );
    }
    const strict = await create('strict', agent('a', 'strict'));
    assert.match(
      strict.body.message,
      /^pods "a" is forbidden: violates PodSecurity "restricted:latest": host namespaces \(hostPID=true\), privileged .*, allowPrivilegeEscalation != false .*, runAsNonRoot != true .*, seccompProfile /,
    );
    assert.equal((await create('locked', pod('ordinary', 'locked'), '?dryRun=All')).code, 201, 'baseline admits an ordinary pod');
  });

  it('a wrong token gets 401 Unauthorized as a Status', async () => {
    const r = await call({ ...k, token: 'wrong' }, 'GET', '/api/v1/pods');
    assert.equal(r.code, 401);
    assert.deepEqual(r.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  });
});

describe('switches', () => {
  it('imagePullFailure: ErrImagePull, then ImagePullBackOff, with kubelet-like messages', async () => {
    await cluster.setSwitches({ imagePullFailure: ['registry.example/agent:*'] });
    await create('default', pod('pull', 'default', { containers: [{ name: 'c', image: 'registry.example/agent:2' }] }));
    const err = await waitFor('ErrImagePull', async () => {
      const p = await getPod(k, 'default', 'pull');
      return waiting(p)?.reason === 'ErrImagePull' && p;
    });
    assert.equal(err.status.phase, 'Pending');
    assert.match(waiting(err).message, /failed to pull and unpack image "registry\.example\/agent:2"/);
    const backoff = await waitFor('ImagePullBackOff', async () => {
      const p = await getPod(k, 'default', 'pull');
      return waiting(p)?.reason === 'ImagePullBackOff' && p;
    });
    assert.equal(waiting(backoff).message, 'Back-off pulling image "registry.example/agent:2"');
    await cluster.setSwitches({ imagePullFailure: [] });
  });

  it('unschedulable: Pending with PodScheduled=False, reason Unschedulable', async () => {
    await cluster.setSwitches({ unschedulable: true });
    await create('default', pod('never'));
    await cluster.setSwitches({ unschedulable: false });
    const p = await waitFor('PodScheduled=False', async () => {
      const x = await getPod(k, 'default', 'never');
      return x.status.conditions?.length && x;
    });
    const c = p.status.conditions.find((x: Obj) => x.type === 'PodScheduled');
    assert.deepEqual([p.status.phase, c.status, c.reason], ['Pending', 'False', 'Unschedulable']);
    assert.match(c.message, /^0\/1 nodes are available: 1 node\(s\) had untolerated taint/);
  });

  it('slowStartSeconds: ContainerCreating for that long, then Running', async () => {
    await cluster.setSwitches({ slowStartSeconds: 1 });
    const t0 = Date.now();
    await create('default', pod('slow'));
    await cluster.setSwitches({ slowStartSeconds: 0 });
    const p = await waitFor('ContainerCreating', async () => {
      const x = await getPod(k, 'default', 'slow');
      return waiting(x)?.reason === 'ContainerCreating' && x;
    });
    assert.equal(p.status.phase, 'Pending');
    await podRunning(k, 'default', 'slow');
    assert.ok(Date.now() - t0 >= 1000);
  });

  it('forbidden: create pods, delete pods, list pods, get deployments each get the RBAC 403', async () => {
    await cluster.setSwitches({ forbidden: ['create pods', 'delete pods', 'list pods', 'get deployments'] });
    try {
      const u = 'User "pyheap-tester"';
      assert.equal((await create('default', pod('x'))).body.message, `pods is forbidden: ${u} cannot create resource "pods" in API group "" in the namespace "default"`);
      assert.equal(
        (await call(k, 'DELETE', '/api/v1/namespaces/default/pods/slow')).body.message,
        `pods "slow" is forbidden: ${u} cannot delete resource "pods" in API group "" in the namespace "default"`,
      );
      const list = await call(k, 'GET', '/api/v1/namespaces/default/pods');
      assert.equal(list.code, 403);
      assert.equal(list.body.message, `pods is forbidden: ${u} cannot list resource "pods" in API group "" in the namespace "default"`);
      assert.equal(
        (await call(k, 'GET', '/apis/apps/v1/namespaces/default/deployments/api')).body.message,
        `deployments.apps "api" is forbidden: ${u} cannot get resource "deployments" in API group "apps" in the namespace "default"`,
      );
      assert.equal((await call(k, 'GET', '/api/v1/namespaces/default/pods/slow')).code, 200, 'get pods is still allowed');
    } finally {
      await cluster.setSwitches({ forbidden: [] });
    }
  });

  it('switches over HTTP: POST /__emulator/switches merges, unknown names are refused', async () => {
    const r = await call(k, 'POST', '/__emulator/switches', { slowStartSeconds: 0 });
    assert.equal(r.body.unschedulable, false);
    const bad = await call(k, 'POST', '/__emulator/switches', { nope: 1 });
    assert.equal(bad.code, 400);
    assert.match(bad.body.message, /unknown switch "nope"/);
  });
});

describe('pod lifecycle', () => {
  it('activeDeadlineSeconds: Failed with DeadlineExceeded, processes killed', async () => {
    await create('default', pod('deadline', 'default', { activeDeadlineSeconds: 1, restartPolicy: 'Never' }));
    await podRunning(k, 'default', 'deadline');
    const pid = (await cluster.containers()).find((c) => c.pod === 'deadline')!.pid!;
    const p = await waitFor(
      'DeadlineExceeded',
      async () => {
        const x = await getPod(k, 'default', 'deadline');
        return x.status.phase === 'Failed' && x;
      },
      10000,
    );
    assert.deepEqual([p.status.reason, p.status.message], ['DeadlineExceeded', 'Pod was active on the node longer than the specified deadline']);
    assert.equal(p.status.containerStatuses[0].state.terminated.exitCode, 137);
    assert.throws(() => process.kill(pid, 0), 'the container process is gone');
  });

  it('a watch sees a pod deleted; its processes are killed; a Deployment replaces its pod', async () => {
    const before = (await call(k, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dapi')).body;
    const victim = before.items[0].metadata.name;
    const pid = (await cluster.containers()).find((c) => c.pod === victim)!.pid!;
    const events: string[] = [];
    const req = request(
      `${k.server}/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dapi&resourceVersion=${before.metadata.resourceVersion}`,
      { ca: k.ca, headers: { Authorization: `Bearer ${k.token}` } },
      (res) => {
        res.on('data', (d: Buffer) => {
          for (const l of d.toString().split('\n').filter(Boolean)) {
            const e = JSON.parse(l);
            events.push(`${e.type} ${e.object.metadata.name}`);
          }
        });
      },
    );
    req.end();
    try {
      assert.equal((await call(k, 'DELETE', `/api/v1/namespaces/default/pods/${victim}`)).code, 200);
      assert.throws(() => process.kill(pid, 0), 'the container process is gone');
      await waitFor('DELETED and a replacement ADDED', async () => events.includes(`DELETED ${victim}`) && events.some((e) => e.startsWith('ADDED api-')));
      const after = await waitFor('a Running replacement', async () => {
        const l = (await call(k, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dapi&fieldSelector=status.phase%3DRunning')).body.items;
        return l.length === 1 && l[0].metadata.name !== victim && l;
      });
      assert.equal(after[0].status.qosClass, 'Guaranteed');
    } finally {
      req.destroy();
    }
  });

  it('systemd layout: kubepods.slice/kubepods-pod<uid_>.slice/cri-containerd-<id>.scope', async () => {
    const p = (await call(k, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dapi')).body.items[0];
    await podRunning(k, 'default', p.metadata.name);
    const id = (await getPod(k, 'default', p.metadata.name)).status.containerStatuses[0].containerID.replace('containerd://', '');
    const info = (await cluster.containers()).find((c) => c.containerID.endsWith(id))!;
    const uid = p.metadata.uid.replace(/-/g, '_');
    for (const line of readFileSync(`/proc/${info.pid}/cgroup`, 'utf8').trim().split('\n')) {
      assert.ok(line.endsWith(`/kubepods.slice/kubepods-pod${uid}.slice/cri-containerd-${id}.scope`), line);
    }
  });

  it('kubectl exec shows a forbidden exec as kubectl users see it', async () => {
    await cluster.setSwitches({ forbidden: ['create pods/exec'] });
    try {
      const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile('kubectl', ['--kubeconfig', cluster.kubeconfigPath, '--cache-dir', `${cluster.tempDir}/kcache`, 'exec', '-n', 'default', 'slow', '--', 'true'], (e, _o, stderr) =>
          resolve({ code: e ? Number(e.code) : 0, stderr }),
        ),
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /pods "slow" is forbidden: User "pyheap-tester" cannot create resource "pods\/exec" in API group "" in the namespace "default"/);
    } finally {
      await cluster.setSwitches({ forbidden: [] });
    }
  });
});
