// Our exec client (src/kube/exec.ts) against the emulated API server: v5 and v4, exit codes from
// the status frame, the bundle protocol without half-closing stdin (v4 cannot), a slow reader
// (backpressure), refused upgrades as parsed Status, a command that does not exist, and a
// session cut without a status frame.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AGENT_IMAGE, startCluster, withFixtures, type ClusterHandle } from '../tools/cluster/index.js';
import { podRunning, fromKubeconfig } from './support/kube.js';
import { PAYLOADS } from './support/cli.js';
import { ApiRefusal } from '../src/kube/api.js';
import { apiError } from '../src/kube/apiErrors.js';
import { KubeApi } from '../src/kube/api.js';
import { loadKubeSettings } from '../src/kube/kubeconfig.js';
import { agentPodManifest } from '../src/agentpod/manifest.js';
import { createAgentPod, deletePod } from '../src/agentpod/lifecycle.js';
import { findPidsFiles, packBundle, sessionCommand } from '../src/inject/bundle.js';
import { openExec, type ExecSession } from '../src/kube/exec.js';
import { parseProcesses } from '../src/inject/pids.js';

const skip = process.getuid?.() === 0 ? false : 'needs root';
let cluster: ClusterHandle;
let api: KubeApi;
const agent = { namespace: 'default', pod: 'pyheap-agent-exectest', container: 'agent' };

before(async () => {
  if (skip) return;
  cluster = await startCluster({
    switches: { agentStartDelayMs: 50 },
    objects: [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'target', namespace: 'default' },
        spec: withFixtures({ containers: [{ name: 'py', image: 'python:3.12', command: ['python', '/app/census_target.py', '1', '1'] }] }),
      },
    ],
  });
  api = new KubeApi(await loadKubeSettings({ kubeconfig: cluster.kubeconfigPath }));
  await createAgentPod(api, agentPodManifest({ name: agent.pod, namespace: 'default', node: 'emulated-node-1', image: AGENT_IMAGE, runId: 'exectest', deadlineSeconds: 600, targets: [] }), () => {});
  await podRunning(fromKubeconfig(cluster.kubeconfigPath), 'default', agent.pod);
});
after(async () => {
  if (api) await deletePod(api, 'default', agent.pod);
  await cluster?.stop();
});

async function collect(s: ExecSession): Promise<{ out: Buffer; err: string; code: number | null; dropped: boolean }> {
  const out: Buffer[] = [];
  let err = '';
  s.stdout.on('data', (d: Buffer) => out.push(d));
  s.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exit = await s.done;
  return { out: Buffer.concat(out), err, code: exit.code, dropped: exit.dropped };
}

describe('exec over WebSocket, our client', { skip, timeout: 120_000 }, () => {
  for (const protocol of ['v5.channel.k8s.io', 'v4.channel.k8s.io']) {
    it(`${protocol}: stdin, stdout, stderr and the exit code, stdin never half-closed`, async () => {
      const s = await openExec(api, agent, ['sh', '-c', 'head -c 5; echo; echo oops >&2; exit 3'], { protocols: [protocol] });
      assert.equal(s.protocol, protocol);
      await s.write(Buffer.from('hello, and more that is never read'));
      const r = await collect(s);
      assert.deepEqual([r.out.toString(), r.err, r.code, r.dropped], ['hello\n', 'oops\n', 3, false]);
    });

    it(`${protocol}: a session bundle (length on the command line, tar on stdin) runs find_pids.sh`, async () => {
      const id = (await cluster.containers()).find((c) => c.pod === 'target')!.containerID.replace('containerd://', '');
      const bundle = await packBundle(await findPidsFiles(PAYLOADS));
      const s = await openExec(api, agent, sessionCommand(bundle.length, 'exectest', 'find-pids', [id]), { protocols: [protocol] });
      await s.write(bundle);
      const r = await collect(s);
      assert.equal(r.code, 0, r.err);
      const procs = parseProcesses(r.out.toString());
      assert.deepEqual(
        procs?.map((p) => [p.pid, p.python, p.command]),
        [[1, true, 'python /app/census_target.py 1 1']],
      );
    });
  }

  it('a slow reader: 32 MiB arrive whole while the socket is paused and resumed', async () => {
    const s = await openExec(api, agent, ['head', '-c', String(32 << 20), '/dev/zero']);
    let bytes = 0;
    s.stderr.resume();
    for await (const chunk of s.stdout) {
      bytes += (chunk as Buffer).length;
      if (bytes < 4 << 20) await new Promise((r) => setTimeout(r, 20)); // slower than the sender at first
    }
    const exit = await s.done;
    assert.deepEqual([bytes, exit.code], [32 << 20, 0]);
  });

  it("refused upgrades come back as the server's Status; RBAC names verb and resource", async () => {
    await assert.rejects(openExec(api, { ...agent, pod: 'nope' }, ['true']), (e: unknown) => e instanceof ApiRefusal && e.code === 404 && e.status.message === 'pods "nope" not found');
    await cluster.setSwitches({ forbidden: ['get pods/exec'] });
    try {
      const e = await openExec(api, agent, ['true']).then(
        () => undefined,
        (x: unknown) => x,
      );
      assert.ok(e instanceof ApiRefusal && e.code === 403, String(e));
      assert.equal(apiError(e, 'inject', 'exec').message, 'cannot get pods/exec in namespace default: RBAC refuses it to user "pyheap-tester"');
    } finally {
      await cluster.setSwitches({ forbidden: [] });
    }
  });

  it("a command that is not there: no exit code, the runtime's message", async () => {
    const s = await openExec(api, agent, ['no-such-command']);
    const exit = await s.done;
    assert.equal(exit.code, null);
    assert.equal(exit.dropped, false);
    assert.match(exit.status?.message ?? '', /executable file not found in \$PATH/);
  });

  it('a session cut without a status frame is "dropped", with the bytes that came', async () => {
    await cluster.setSwitches({ execDropAfterBytes: 10000 });
    try {
      const r = await collect(await openExec(api, agent, ['head', '-c', '100000', '/dev/zero']));
      // the emulator cuts the socket right after queueing the last bytes: some may not make it
      assert.ok(r.out.length <= 10000, String(r.out.length));
      assert.deepEqual([r.code, r.dropped], [null, true]);
    } finally {
      await cluster.setSwitches({ execDropAfterBytes: null });
    }
  });
});
