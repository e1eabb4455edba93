// kubectl pyheap when things go wrong, on the emulated cluster with the systemd cgroup layout:
// Pod Security, an image that cannot be pulled (an error in seconds), an agent image without
// gdb, an exec cut mid-copy, RBAC refusing pods/exec, SIGINT mid-run; and --dry-run, --cleanup
// and the debug-toolkit image. Every error is one line naming cause and fix; no agent pod stays.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { AGENT_IMAGE, fixturesConfigMap, startCluster, withFixtures } from '../tools/cluster/index.js';
import { ptraceSkip } from './support/ptrace.js';
import { call } from './support/kube.js';
import {
  agentTmpDir,
  settleZombies,
  agentPods,
  assertNoAgentPods,
  bundleDirsLeft,
  assertUnharmed,
  containerPid,
  fixture,
  gdbVersionOf,
  oneLineError,
  pyheap,
  startPyheap,
  type KubeFixture,
} from './kube-support.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-kube-fail-'));
let f: KubeFixture;
let agentTmp = '';
const target = (name: string, namespace = 'default', extra: Record<string, any> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace },
  // a baseline namespace refuses hostPath volumes: the code comes in as a ConfigMap there
  spec: withFixtures(
    { restartPolicy: 'Never', containers: [{ name: 'py', image: 'python:3.13', command: ['python', '/app/census_target.py', '222', '1'], securityContext: { runAsUser: 1000 } }], ...extra },
    namespace === 'guarded' ? { configMap: 'app-code' } : undefined,
  ),
});

before(async () => {
  if (skip) return;
  const cluster = await startCluster({
    cgroupLayout: 'systemd',
    switches: { agentStartDelayMs: 50, agentTmpDir: (agentTmp = agentTmpDir(scratch)) },
    objects: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'guarded', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } } },
      target('app'),
      fixturesConfigMap('app-code', 'guarded', ['census_target.py']),
      target('guarded-app', 'guarded'),
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'two', namespace: 'default' },
        spec: withFixtures({
          containers: [
            { name: 'app', image: 'python:3.13', command: ['python', '/app/census_target.py', '1', '1'] },
            { name: 'proxy', image: 'debian:12', command: ['sleep', '3600'] },
          ],
        }),
      },
    ],
  });
  f = fixture(cluster, scratch);
});
afterEach(async () => {
  if (skip) return;
  await f.cluster.setSwitches({ forbidden: [], imagePullFailure: [], execDropAfterBytes: null, webhookDenies: null });
  await assertNoAgentPods(f);
});
after(async () => {
  await f?.cluster.stop();
  await settleZombies();
  rmSync(scratch, { recursive: true, force: true });
});

describe('kubectl pyheap failures and housekeeping', { skip, timeout: 240_000 }, () => {
  it('systemd cgroup layout: census of a pod, exact counts', async () => {
    const pid = await containerPid(f, 'app');
    const r = await pyheap(f, ['app', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).types.find((x: { name: string }) => x.name === '__main__.Marker')?.count, 222);
    await assertUnharmed(pid, 2);
  });

  it('robustadev/debug-toolkit:v6.0 (its last tag with gdb) works as the agent image', async () => {
    const r = await pyheap(f, ['app', '--image', 'robustadev/debug-toolkit:v6.0', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.node, 'emulated-node-1');
    // the document says which debugger touched the target: that image's gdb
    assert.deepEqual(doc.agent, { image: 'robustadev/debug-toolkit:v6.0', gdb_version: await gdbVersionOf(f, 'robustadev/debug-toolkit:v6.0') });
  });

  it('an agent image without gdb: a clear error', async () => {
    // debian:12: a real image, with sh, tar and awk but no gdb
    const r = await pyheap(f, ['app', '--image', 'debian:12']);
    assert.equal(r.code, 8, r.stderr);
    oneLineError(
      r.stderr,
      /error: the agent image debian:12 has no gdb; use an agent image with gdb: the default, ghcr\.io\/kubectl-pyheap\/agent:\d+\.\d+\.\d+ \(gdb 16\), needs no --image; robustadev\/debug-toolkit images built after October 2024 have no gdb \(v6\.0 had gdb 13\.1\)$/,
    );
  });

  it('Pod Security rejects the agent pod: the error names the namespace label; --agent-namespace gets around it', async () => {
    const r = await pyheap(f, ['guarded-app', '-n', 'guarded']);
    assert.equal(r.code, 9, r.stderr);
    oneLineError(
      r.stderr,
      /error: Pod Security "baseline:latest" in namespace guarded refuses the agent pod \(host namespaces \(hostPID=true\), privileged.*\); .*kubectl label namespace guarded pod-security\.kubernetes\.io\/enforce=privileged, or run the agent elsewhere with --agent-namespace/,
    );
    assert.doesNotMatch(r.stderr, /deleting agent pod/, 'no pod was created: none is said to be deleted');
    const ok = await pyheap(f, ['guarded-app', '-n', 'guarded', '--agent-namespace', 'default', '-o', 'json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).namespace, 'guarded');
  });

  it('a webhook refuses the real create after the dry run passed: said so, no pod to delete', async () => {
    await f.cluster.setSwitches({ webhookDenies: 'privileged pods need a ticket' });
    const r = await pyheap(f, ['app']);
    assert.equal(r.code, 9, r.stderr);
    oneLineError(
      r.stderr,
      /error: the agent pod was not created: forbidden: admission webhook "policy\.emulated\.example" denied the request: privileged pods need a ticket; ask your cluster administrator/,
    );
    assert.match(r.stderr, /starting agent pod pyheap-agent-\w+/);
    assert.doesNotMatch(r.stderr, /deleting agent pod/);
  });

  it('an agent image that cannot be pulled fails in seconds, not at the timeout', async () => {
    await f.cluster.setSwitches({ imagePullFailure: ['registry.invalid/*'] });
    const t0 = Date.now();
    const r = await pyheap(f, ['app', '--image', 'registry.invalid/agent:9', '--start-timeout', '2m']);
    const took = Date.now() - t0;
    assert.equal(r.code, 9, r.stderr);
    oneLineError(r.stderr, /error: the agent pod pyheap-agent-\w+ on node emulated-node-1 cannot start: ErrImagePull \(.*not found\); check --image registry\.invalid\/agent:9 .*--image-pull-secret/);
    assert.ok(took < 15_000, `took ${took} ms`);
  });

  it('an exec dropped mid-copy: a clear error, the target unharmed, the agent cleaned up before its pod went', async () => {
    const pid = await containerPid(f, 'app');
    await f.cluster.setSwitches({ execDropAfterBytes: 3000 });
    const r = await pyheap(f, ['app']);
    assert.equal(r.code, 7, r.stderr);
    oneLineError(r.stderr, /error: the exec session with agent pod pyheap-agent-\w+ dropped after (\d+) bytes of results, without an exit status; .*run again/);
    assert.ok(Number(/dropped after (\d+) bytes/.exec(r.stderr)![1]) <= 3000);
    assert.deepEqual(bundleDirsLeft(r.stderr, agentTmp), [], 'the agent cleaned up before its pod was deleted');
    await assertUnharmed(pid, 2);
  });

  it('RBAC refuses pods/exec: the message names the verb and the resource', async () => {
    await f.cluster.setSwitches({ forbidden: ['create pods/exec'] });
    const r = await pyheap(f, ['app']);
    assert.equal(r.code, 9, r.stderr);
    oneLineError(r.stderr, /error: cannot create pods\/exec in namespace default: RBAC refuses it to user "pyheap-tester"; ask for RBAC permission to create and get pods\/exec in namespace default/);
  });

  it('SIGINT mid-run: the agent stops, its pod is deleted, the target is unharmed with a clean /tmp', async () => {
    const pid = await containerPid(f, 'app');
    const script = path.join(scratch, 'slow.py');
    writeFileSync(script, 'import time\nwhile True:\n    time.sleep(0.01)\n');
    const run = startPyheap(f, ['app', '--script', script, '--timeout', '4s']);
    await run.line(/payload (thread started|running in the target)/);
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    oneLineError(r.stderr, /error: interrupted by SIGINT; the target was left running and untouched/);
    assert.deepEqual(bundleDirsLeft(r.stderr, agentTmp), []);
    await assertUnharmed(pid, 2, 15_000);
  });

  it('several containers and no default, not at a terminal: an error listing them and naming -c', async () => {
    const r = await pyheap(f, ['two']);
    assert.equal(r.code, 2, r.stderr);
    oneLineError(r.stderr, /error: pod two has 2 containers \(app, proxy\) and none is marked as default; pick one with -c, e.g. -c app/);
  });

  it('--dry-run prints the agent pod and creates nothing', async () => {
    const r = await pyheap(f, ['app', '--dry-run', '-o', 'json', '--image', 'example/agent:1']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.deepEqual(
      [m.kind, m.metadata.namespace, m.spec.nodeName, m.spec.hostPID, m.spec.containers[0].image, m.spec.containers[0].securityContext],
      ['Pod', 'default', 'emulated-node-1', true, 'example/agent:1', { privileged: true }],
    );
    const y = await pyheap(f, ['app', '--dry-run']);
    assert.match(y.stdout, /^apiVersion: v1\nkind: Pod\nmetadata:\n/);
    assert.match(y.stdout, /\n {2}hostPID: true\n/);
    assert.deepEqual(await agentPods(f.k), []);
  });

  it('--cleanup deletes the agent pods that killed runs left behind', async () => {
    const leftover = (name: string, ns: string) =>
      call(f.k, 'POST', `/api/v1/namespaces/${ns}/pods`, {
        metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'kubectl-pyheap', 'app.kubernetes.io/instance': 'deadbeef' } },
        spec: { nodeName: 'emulated-node-1', hostPID: true, restartPolicy: 'Never', containers: [{ name: 'agent', image: AGENT_IMAGE, command: ['sleep', '600'] }] },
      });
    assert.equal((await leftover('pyheap-agent-deadbeef', 'default')).code, 201);
    const r = await pyheap(f, ['--cleanup']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^pod\/pyheap-agent-deadbeef deleted \(namespace default, node emulated-node-1, run deadbeef, /);
    assert.deepEqual(await agentPods(f.k), []);
    const again = await pyheap(f, ['--cleanup', '-o', 'json']);
    assert.deepEqual(JSON.parse(again.stdout), { scope: 'all namespaces', deleted: [] });
  });
});
