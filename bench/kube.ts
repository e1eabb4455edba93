// The Kubernetes path against the emulated cluster, each figure a ratio to a baseline measured in
// the same run: a pod run against a pid/N run on the same process (what the agent pod, the exec
// sessions and the API cost), and the results channel (our exec client receiving, hashing and
// extracting a 64 MiB archive) against `kubectl exec ... cat` of the same file.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import tar from 'tar-stream';
import { AGENT_IMAGE, withFixtures } from '../tools/cluster/index.js';
import { spawnCluster } from '../tools/cluster/spawn.js';
import { podRunning, fromKubeconfig } from '../test/support/kube.js';
import { KubeApi } from '../src/kube/api.js';
import { loadKubeSettings } from '../src/kube/kubeconfig.js';
import { agentPodManifest } from '../src/agentpod/manifest.js';
import { createAgentPod, deletePod } from '../src/agentpod/lifecycle.js';
import { openExec } from '../src/kube/exec.js';
import { extractResults } from '../src/collect/extract.js';
import { cli, median, table } from './support.js';

const RUNS = 7;
const SIZE = 64 * 1024 * 1024;

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** A results-like archive with one SIZE-byte member of random bytes. */
async function bigArchive(file: string): Promise<void> {
  const pack = tar.pack();
  const out = createWriteStream(file);
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', () => resolve());
    out.on('error', reject);
  });
  pack.pipe(out as unknown as NodeJS.WritableStream);
  pack.entry({ name: 'out/blob.bin', size: SIZE }, randomBytes(SIZE));
  pack.finalize();
  await done;
}

/** kubectl exec ... cat FILE, its stdout into `dest` (a file, or /dev/null). */
function kubectlCat(kubeconfig: string, ns: string, pod: string, file: string, dest: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'kubectl --kubeconfig "$1" exec -n "$2" "$3" -c agent -- cat "$4" > "$5" && wc -c < "$5"', 'sh', kubeconfig, ns, pod, file, dest], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Number(out.trim()) || (dest === '/dev/null' ? SIZE : 0)) : reject(new Error(`kubectl exec failed (${code}): ${err}`))));
  });
}

export async function runKubeBench(): Promise<string> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-bench-kube-'));
  // the cluster in a process of its own, as an apiserver is: our exec client and kubectl then
  // compete with it on equal terms
  const manifest = path.join(scratch, 'target.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'target', namespace: 'default' },
      spec: withFixtures({ containers: [{ name: 'py', image: 'python:3.12', command: ['python', '/app/census_target.py', '20000', '5'], securityContext: { runAsUser: 1000 } }] }),
    }),
  );
  const cluster = await spawnCluster({ manifests: [manifest], switches: { agentStartDelayMs: 300 } });
  try {
    const pid = (await cluster.containers()).find((c) => c.pod === 'target')!.pid!;
    const kc = ['--kubeconfig', cluster.kubeconfigPath];

    // 1. a whole run: pod (agent pod, two exec sessions, delete) against pid/N, interleaved
    const pod: number[] = [];
    const local: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      pod.push(
        await timed(async () => {
          const r = await cli([...kc, 'target', '-o', 'json']);
          if (r.code !== 0) throw new Error(r.stderr);
        }),
      );
      local.push(
        await timed(async () => {
          const r = await cli([`pid/${pid}`, '-o', 'json']);
          if (r.code !== 0) throw new Error(r.stderr);
        }),
      );
    }

    // 2. 64 MiB of results over exec: our client (receive, sha256, extract) against kubectl exec cat
    const archive = path.join(scratch, 'results.tar');
    await bigArchive(archive);
    const api = new KubeApi(await loadKubeSettings({ kubeconfig: cluster.kubeconfigPath }));
    const agent = agentPodManifest({ name: 'pyheap-agent-bench', namespace: 'default', node: 'emulated-node-1', image: AGENT_IMAGE, runId: 'bench', deadlineSeconds: 600, targets: [] });
    await createAgentPod(api, agent, () => {});
    try {
      await podRunning(fromKubeconfig(cluster.kubeconfigPath), 'default', 'pyheap-agent-bench');
      const ours: number[] = [];
      const theirs: number[] = [];
      const oursRaw: number[] = [];
      const theirsRaw: number[] = [];
      const target = { namespace: 'default', pod: 'pyheap-agent-bench', container: 'agent' };
      for (let i = 0; i < RUNS; i++) {
        ours.push(
          await timed(async () => {
            const s = await openExec(api, target, ['cat', archive]);
            s.stderr.resume();
            const out = path.join(scratch, `x-${i}`);
            const x = await extractResults(s.stdout, out, { place: (n) => n, maxBytes: 2 * SIZE });
            const exit = await s.done;
            if (exit.code !== 0 || !x.complete || x.files.length !== 1) throw new Error(`copy failed: ${JSON.stringify(exit)}`);
            rmSync(out, { recursive: true, force: true });
          }),
        );
        theirs.push(
          await timed(async () => {
            const dest = path.join(scratch, `k-${i}.tar`);
            if ((await kubectlCat(cluster.kubeconfigPath, 'default', 'pyheap-agent-bench', archive, dest)) < SIZE) throw new Error('short read');
            rmSync(dest);
          }),
        );
        oursRaw.push(
          await timed(async () => {
            const s = await openExec(api, target, ['cat', archive]);
            s.stderr.resume();
            s.stdout.resume();
            if ((await s.done).stdoutBytes < SIZE) throw new Error('short read');
          }),
        );
        theirsRaw.push(
          await timed(async () => {
            await kubectlCat(cluster.kubeconfigPath, 'default', 'pyheap-agent-bench', archive, '/dev/null');
          }),
        );
      }
      const mibs = (s: number) => `${(SIZE / 1024 / 1024 / s).toFixed(0)} MiB/s`;
      return [
        `kube: the Kubernetes path on the emulated cluster, medians of ${RUNS} runs (ratios < 1 favour kubectl-pyheap's side)`,
        table([
          ['', 'ours', 'baseline', 'ratio'],
          ['census of a pod vs pid/N of the same process (wall time)', `${median(pod).toFixed(2)} s`, `${median(local).toFixed(2)} s`, (median(pod) / median(local)).toFixed(2)],
          [
            '64 MiB of results to disk: ours (exec, sha256, tar checks) vs kubectl exec cat > file',
            `${median(ours).toFixed(2)} s (${mibs(median(ours))})`,
            `${median(theirs).toFixed(2)} s (${mibs(median(theirs))})`,
            (median(ours) / median(theirs)).toFixed(2),
          ],
          [
            '64 MiB over exec, bytes discarded: our exec client vs kubectl exec cat > /dev/null',
            `${median(oursRaw).toFixed(2)} s (${mibs(median(oursRaw))})`,
            `${median(theirsRaw).toFixed(2)} s (${mibs(median(theirsRaw))})`,
            (median(oursRaw) / median(theirsRaw)).toFixed(2),
          ],
        ]),
      ].join('\n');
    } finally {
      await deletePod(api, 'default', 'pyheap-agent-bench');
    }
  } finally {
    await cluster.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.stdout.write(`${await runKubeBench()}\n`);
