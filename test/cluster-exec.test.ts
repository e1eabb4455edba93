// Exec on the emulated cluster, frame by frame with `ws`: v5 and v4 subprotocols, the empty
// first frame, stdin on channel 0, v5's [255, 0], the status frame and exit codes, refusals as
// Status bodies; agent pods (host PID namespace, images with and without gdb); the exec
// switches (dropped mid-stream, forbidden).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AGENT_IMAGE, startCluster, withFixtures, type ClusterHandle } from '../tools/cluster/index.js';
import { call, exec, fromKubeconfig, podRunning, waitFor, type Kube } from './support/kube.js';

let cluster: ClusterHandle;
let k: Kube;
let targetPid: number;

const agentPod = (name: string, image = AGENT_IMAGE) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels: { 'app.kubernetes.io/name': 'pyheap-agent' } },
  spec: {
    nodeName: 'emulated-node-1',
    hostPID: true,
    restartPolicy: 'Never',
    activeDeadlineSeconds: 600,
    containers: [{ name: 'agent', image, command: ['sleep', 'infinity'], securityContext: { privileged: true } }],
  },
});

before(async () => {
  cluster = await startCluster({
    objects: [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'target', namespace: 'default' },
        spec: withFixtures({ containers: [{ name: 'py', image: 'python:3.11', command: ['python', '/app/census_target.py', '10', '1'], securityContext: { runAsUser: 1000 } }] }),
      },
    ],
    switches: { agentStartDelayMs: 100 },
  });
  k = fromKubeconfig(cluster.kubeconfigPath);
  targetPid = (await cluster.containers()).find((c) => c.pod === 'target')!.pid!;
});
after(() => cluster?.stop());

describe('exec over WebSocket', () => {
  it('v5: an empty first frame, stdout and stderr, Success, then a normal close', async () => {
    const r = await exec(k, 'default', 'target', ['sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.protocol, 'v5.channel.k8s.io');
    assert.equal(r.channels[0], 1, 'the empty frame on the lowest writable channel comes first');
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.deepEqual(r.status, { metadata: {}, status: 'Success' });
    assert.equal(r.channels.at(-1), 3, 'the status frame comes last');
    assert.equal(r.closeCode, 1000);
  });

  it('a non-zero exit code is a NonZeroExitCode status with the code as its ExitCode cause', async () => {
    const r = await exec(k, 'default', 'target', ['sh', '-c', 'exit 5']);
    assert.deepEqual(r.status, {
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 5], exit code 5',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '5' }] },
    });
  });

  it('v5: stdin on channel 0, and [255, 0] closes it', async () => {
    const r = await exec(k, 'default', 'target', ['sh', '-c', 'wc -c; cat /proc/self/status | grep ^Uid'], { stdin: 'x'.repeat(70000) });
    assert.match(r.stdout, /^70000\nUid:\s+1000\s/);
    assert.equal(r.status?.status, 'Success');
  });

  it('v4: negotiated when only v4 is offered; closing the socket kills the command', async () => {
    const r = await exec(k, 'default', 'target', ['head', '-c', '3'], { protocols: ['v4.channel.k8s.io'], stdin: 'abcdef' });
    assert.equal(r.protocol, 'v4.channel.k8s.io');
    assert.equal(r.stdout, 'abc');
    assert.equal(r.status?.status, 'Success');
    let pids: number[] = [];
    const done = exec(k, 'default', 'target', ['sleep', '1000'], {
      protocols: ['v4.channel.k8s.io'],
      stdin: '',
      onOpen: (ws) => void waitFor('the exec process', async () => (pids = (await cluster.containers()).find((c) => c.pod === 'target')!.execPids).length > 0).then(() => ws.close()),
    });
    await done;
    await waitFor('the command to be killed', async () => (await cluster.containers()).find((c) => c.pod === 'target')!.execPids.length === 0);
    assert.equal(pids.length, 1);
  });

  it('refusals are JSON Status bodies: no such pod, no such container, no supported protocol', async () => {
    const missing = await exec(k, 'default', 'nope', ['true']);
    assert.deepEqual(
      { ...missing.refused!.body, details: undefined },
      { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'pods "nope" not found', reason: 'NotFound', code: 404, details: undefined },
    );
    const container = await exec(k, 'default', 'target', ['true'], { container: 'other' });
    assert.equal(container.refused!.code, 400);
    assert.equal(container.refused!.body.message, 'container other is not valid for pod target');
    const proto = await exec(k, 'default', 'target', ['true'], { protocols: ['channel.k8s.io'] });
    assert.equal(proto.refused!.code, 400);
    assert.match(proto.refused!.body.message, /not supported/);
  });
});

describe('agent pods', () => {
  it("a hostPID pod with a nodeName runs exec in the agent image: the node's PIDs, /proc/PID/root, the image's gdb 16", async () => {
    const created = await call(k, 'POST', '/api/v1/namespaces/default/pods', agentPod('agent-gdb'));
    assert.equal(created.code, 201, created.text);
    assert.equal(created.body.status.phase, 'Pending');
    await podRunning(k, 'default', 'agent-gdb');
    const r = await exec(k, 'default', 'agent-gdb', [
      'sh',
      '-c',
      `id -u; command -v gdb; grep NSpid /proc/${targetPid}/status; ls /proc/${targetPid}/root/app/census_target.py; gdb --version | head -n 1; cat /etc/debian_version`,
    ]);
    assert.match(r.stdout, new RegExp(`^0\n/usr/bin/gdb\nNSpid:\t${targetPid}\t1\n/proc/${targetPid}/root/app/census_target\\.py\nGNU gdb \\(Debian 16\\.[^\n]*\n13\\.`), r.stderr);
    assert.equal((await call(k, 'DELETE', '/api/v1/namespaces/default/pods/agent-gdb', { gracePeriodSeconds: 0 })).code, 200);
  });

  it('an image without gdb (debian:12 as the agent image): its own tools, no gdb', async () => {
    await call(k, 'POST', '/api/v1/namespaces/default/pods', agentPod('agent-slim', 'debian:12'));
    await podRunning(k, 'default', 'agent-slim');
    // the image's own: Debian 12's tools and static python3, never this machine's gdb
    const r = await exec(k, 'default', 'agent-slim', ['sh', '-c', 'command -v tar awk od >/dev/null && echo tools; command -v gdb || echo no-gdb; command -v python3; cat /etc/debian_version']);
    assert.match(r.stdout, /^tools\nno-gdb\n\/usr\/bin\/python3\n12\.\d+\n$/);
    const direct = await exec(k, 'default', 'agent-slim', ['gdb', '--version']);
    assert.equal(direct.status?.reason, 'InternalError');
    assert.match(direct.status?.message, /exec: "gdb": executable file not found in \$PATH/);
    await call(k, 'DELETE', '/api/v1/namespaces/default/pods/agent-slim?gracePeriodSeconds=0');
  });

  it('deleting an agent pod kills its exec sessions', async () => {
    await call(k, 'POST', '/api/v1/namespaces/default/pods', agentPod('agent-del'));
    await podRunning(k, 'default', 'agent-del');
    const session = exec(k, 'default', 'agent-del', ['sleep', '1000']);
    const pid = await waitFor('the exec process', async () => (await cluster.containers()).find((c) => c.pod === 'agent-del')?.execPids[0]);
    const del = await call(k, 'DELETE', '/api/v1/namespaces/default/pods/agent-del', { gracePeriodSeconds: 0 });
    assert.equal(del.code, 200);
    assert.ok(del.body.metadata.deletionTimestamp);
    const r = await session;
    assert.notEqual(r.status?.status, 'Success');
    await waitFor('the exec process to be gone', async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    assert.equal((await call(k, 'GET', '/api/v1/namespaces/default/pods/agent-del')).code, 404);
  });
});

describe('exec switches', () => {
  it('execDropAfterBytes: exactly N bytes of stdout, then the socket dies without a status', async () => {
    await cluster.setSwitches({ execDropAfterBytes: 1000 });
    try {
      const r = await exec(k, 'default', 'target', ['head', '-c', '100000', '/dev/zero']);
      assert.equal(r.stdout.length, 1000);
      assert.equal(r.status, undefined);
      assert.equal(r.closeCode, 1006, 'abnormal closure: no close frame');
    } finally {
      await cluster.setSwitches({ execDropAfterBytes: null });
    }
    assert.equal((await exec(k, 'default', 'target', ['true'])).status?.status, 'Success');
  });

  it('forbidden "create pods/exec": 403 with the RBAC message', async () => {
    await cluster.setSwitches({ forbidden: ['create pods/exec'] });
    try {
      const r = await exec(k, 'default', 'target', ['true']);
      assert.equal(r.refused!.code, 403);
      assert.equal(r.refused!.body.reason, 'Forbidden');
      assert.equal(r.refused!.body.message, 'pods "target" is forbidden: User "pyheap-tester" cannot create resource "pods/exec" in API group "" in the namespace "default"');
    } finally {
      await cluster.setSwitches({ forbidden: [] });
    }
  });
});
