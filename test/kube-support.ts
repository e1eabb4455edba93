// Shared by the kube-*.test.ts files: the CLI run against an emulated cluster, the agent pods a
// run must not leave behind, and the checks that a target came out of a run unharmed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { ClusterHandle } from '../tools/cluster/index.js';
import { CLI, runCli, type CliResult } from './support/cli.js';
import { call, exec, fromKubeconfig, podRunning, type Kube } from './support/kube.js';
import { healthy, tmpEntries } from './support/proc.js';

type Obj = Record<string, any>;

export const AGENT_LABEL = 'app.kubernetes.io/managed-by=kubectl-pyheap';

export interface KubeFixture {
  cluster: ClusterHandle;
  k: Kube;
  scratch: string;
  out(): string;
}

export function fixture(cluster: ClusterHandle, scratch: string): KubeFixture {
  let n = 0;
  return { cluster, k: fromKubeconfig(cluster.kubeconfigPath), scratch, out: () => path.join(scratch, `out-${++n}`) };
}

/** kubectl-pyheap against the cluster, results in a fresh directory of the scratch dir. */
export function pyheap(f: KubeFixture, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const own = args.includes('--out-dir') ? [] : ['--out-dir', f.out()];
  return runCli(['--kubeconfig', f.cluster.kubeconfigPath, ...own, ...args], { timeoutMs: 90_000, ...opts });
}

/** Every agent pod in the cluster (there must be none after a run). */
export async function agentPods(k: Kube): Promise<string[]> {
  const r = await call(k, 'GET', `/api/v1/pods?labelSelector=${encodeURIComponent(AGENT_LABEL)}`);
  return (r.body.items as Obj[]).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
}

export async function assertNoAgentPods(f: KubeFixture): Promise<void> {
  assert.deepEqual(await agentPods(f.k), [], 'an agent pod was left behind');
  const agents = (await f.cluster.containers()).filter((c) => c.agent);
  assert.deepEqual(
    agents.map((c) => c.pod),
    [],
    'an agent container is still running',
  );
}

/** The host PID of a pod's container. */
export async function containerPid(f: KubeFixture, pod: string, container?: string): Promise<number> {
  const c = (await f.cluster.containers()).find((x) => x.pod === pod && (!container || x.container === container));
  assert.ok(c?.pid, `no running container for pod ${pod}`);
  return c.pid;
}

/** gdb leaves the child of its ptrace self-check to init, a zombie for a second or two; in an
 * agent pod's cgroup it would look like a leftover to the harness: wait until init reaped it. */
export async function settleZombies(timeoutMs = 5000): Promise<void> {
  const zombies = () =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return /^State:\s+Z/m.test(readFileSync(`/proc/${p}/status`, 'utf8')) && /\/kubepods[/.]/.test(readFileSync(`/proc/${p}/cgroup`, 'utf8'));
        } catch {
          return false;
        }
      });
  for (const end = Date.now() + timeoutMs; zombies().length && Date.now() < end; ) await new Promise((r) => setTimeout(r, 200));
}

const threads = (pid: number) => readdirSync(`/proc/${pid}/task`).length;

/** The payload thread lingers until the agent removed its directory: give it time to go, then
 * the target must have `baseThreads` threads, be running and untraced, and have a clean /tmp. */
export async function assertUnharmed(pid: number, baseThreads: number, waitMs = 10_000): Promise<void> {
  for (const end = Date.now() + waitMs; Date.now() < end && (tmpEntries(pid).length > 0 || threads(pid) > baseThreads); ) await new Promise((r) => setTimeout(r, 100));
  assert.equal(healthy(pid), null);
  assert.equal(threads(pid), baseThreads, 'the payload thread is still there');
  assert.deepEqual(tmpEntries(pid), [], 'something was left in the target /tmp');
}

export function pods(k: Kube, ns: string, selector: string): Promise<string[]> {
  return call(k, 'GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`).then((r) => (r.body.items as Obj[]).map((p) => p.metadata.name as string).sort());
}

/** The CLI as a child whose stderr lines can be waited for (to interrupt it mid-run). */
export function startPyheap(f: KubeFixture, args: string[]) {
  const child = spawn(process.execPath, [CLI, '--kubeconfig', f.cluster.kubeconfigPath, '--out-dir', f.out(), ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  const stderr: string[] = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => {
    stderr.push(l);
    for (const w of [...waiters])
      if (w.re.test(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
  });
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr: stderr.join('\n') })));
  return {
    child,
    done,
    line(re: RegExp, timeoutMs = 30_000): Promise<void> {
      if (stderr.some((l) => re.test(l))) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no stderr line ${re} in ${timeoutMs} ms:\n${stderr.join('\n')}`)), timeoutMs);
        waiters.push({
          re,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
    },
  };
}

/** The bundle directories that the runs named in this output left in the agent pods' /tmp:
 * `agentTmp`, the cluster's agentTmpDir switch (bind-mounted as every agent container's /tmp,
 * so it outlives the pods). */
export function bundleDirsLeft(stderr: string, agentTmp: string): string[] {
  const runs = new Set([...stderr.matchAll(/pyheap-agent-([a-z0-9]{8})\b/g)].map((m) => m[1]!));
  return readdirSync(agentTmp).filter((n) => [...runs].some((r) => n.startsWith(`pyheap-agent.bundle-${r}.`)));
}

/** A fresh directory for the agentTmpDir switch (an agent container's /tmp, mode 1777). */
export function agentTmpDir(scratch: string): string {
  const dir = path.join(scratch, 'agent-tmp');
  mkdirSync(dir);
  chmodSync(dir, 0o1777);
  return dir;
}

/** One line starting with "error:", no stack trace. */
export function oneLineError(stderr: string, pattern: RegExp): void {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
  assert.equal(errors.length, 1, `expected one error line in:\n${stderr}`);
  assert.match(errors[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace without -v');
}

/** The gdb version of an image as the cluster runs it (`gdb --version` in a pod of it, node's
 * PID namespace like an agent pod's), to compare with what a run's document says injected. */
export async function gdbVersionOf(f: KubeFixture, image: string): Promise<string> {
  const name = `gdb-probe-${Math.random().toString(36).slice(2, 8)}`;
  const created = await call(f.k, 'POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { restartPolicy: 'Never', hostPID: true, containers: [{ name: 'probe', image, command: ['sleep', '600'], securityContext: { privileged: true } }] },
  });
  assert.equal(created.code, 201, created.text);
  try {
    await podRunning(f.k, 'default', name, 120_000);
    const r = await exec(f.k, 'default', name, ['gdb', '--version']);
    const version = /^GNU gdb .* (\d[\w.+~-]*)$/m.exec(r.stdout)?.[1];
    assert.ok(version, `no gdb version in: ${r.stdout}${r.stderr}`);
    return version;
  } finally {
    await call(f.k, 'DELETE', `/api/v1/namespaces/default/pods/${name}?gracePeriodSeconds=0`);
  }
}
