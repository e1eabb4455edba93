// Starts a Python process the way a container looks from a hostPID pod: its own mount and PID
// namespaces (it is PID 1 there), a private tmpfs /tmp, a non-root uid, optionally a
// read-only root and a cgroup named like a kubelet's. pyenv's interpreters live in root's
// private home, so the target gets a view of them: a tmpfs over /root with pyenv bound in.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Interpreter } from './pythons.js';

export interface ContainerOptions {
  python: Interpreter;
  /** A Python file on this machine; the target sees its directory at /app. */
  script: string;
  args?: string[];
  uid?: number;
  gid?: number;
  readOnlyRoot?: boolean;
  /** Writable mounts inside the target (like emptyDir volumes), besides /tmp. */
  emptyDirs?: string[];
  /** No tmpfs on /tmp (with readOnlyRoot: no writable /tmp at all). */
  noTmp?: boolean;
  /** cgroup directories (absolute, in the cgroup filesystem) the target joins. */
  cgroups?: string[];
  env?: Record<string, string>;
  /** Wait for this line on stdout before returning (default "ready"). */
  readyLine?: string;
}

export interface ContainerTarget {
  /** The target's PID as the host (and a hostPID pod) sees it. */
  pid: number;
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

const live = new Set<ContainerTarget>();

/** Every target still running: the harness fails a run that leaks one. */
export function liveTargets(): ContainerTarget[] {
  return [...live];
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function setupScript(o: ContainerOptions): string {
  const uid = o.uid ?? 1000;
  const gid = o.gid ?? uid;
  const appDir = path.dirname(path.resolve(o.script));
  const lines = [
    'set -e',
    ...(o.cgroups ?? []).map((cg) => `echo $$ > ${q(path.join(cg, 'cgroup.procs'))}`),
    `exec 3<${q(appDir)}`,
    ...o.python.roots.map((r, i) => `exec ${4 + i}<${q(r)}`),
    // private /root (root's home is mode 700 on the host) holding only the interpreter roots
    'mount -t tmpfs -o mode=755 pyheap-root /root',
    ...o.python.roots.map((r, i) => `mkdir -p ${q(r)} && mount --no-canonicalize --bind /proc/self/fd/${4 + i} ${q(r)}`),
    'mkdir -p /root/app && mount --no-canonicalize --bind /proc/self/fd/3 /root/app',
    'exec 3<&-',
    ...o.python.roots.map((_, i) => `exec ${4 + i}<&-`),
    ...(o.noTmp ? [] : ['mount -t tmpfs -o mode=1777 pyheap-tmp /tmp']),
    ...(o.emptyDirs ?? []).map((d) => `mkdir -p ${q(d)} && mount -t tmpfs -o mode=1777 pyheap-empty ${q(d)}`),
    ...(o.readOnlyRoot ? ['mount -o remount,bind,ro /'] : []),
    'cd /',
    `exec setpriv --reuid=${uid} --regid=${gid} --clear-groups -- ${q(o.python.exe)} -u ${q(`/root/app/${path.basename(o.script)}`)} ${(o.args ?? []).map(q).join(' ')}`,
  ];
  return lines.join('\n');
}

export async function startContainer(o: ContainerOptions): Promise<ContainerTarget> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', PYTHONDONTWRITEBYTECODE: '1', LC_ALL: 'C.UTF-8', ...o.env };
  const child = spawn('unshare', ['--mount', '--pid', '--fork', '--mount-proc', 'sh', '-c', setupScript(o)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const output: string[] = [];
  const ready = o.readyLine ?? 'ready';
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => { stderr.push(d.toString()); });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`target ${o.script} not ready after 20s: ${stderr.join('')}`)), 20000);
    lines.on('line', (l) => {
      output.push(l);
      if (l === ready) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`target ${o.script} exited with ${code}: ${stderr.join('')}`)); });
  });
  const pid = childPid(child.pid!);
  const target: ContainerTarget = {
    pid,
    child,
    output,
    async stop() {
      live.delete(target);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await exited;
    },
  };
  live.add(target);
  return target;
}

/** The host PID of unshare's child: the target, PID 1 of its namespace. */
function childPid(unsharePid: number): number {
  const children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  if (children.length !== 1 || !children[0]) throw new Error(`expected one child of unshare ${unsharePid}, found ${children.join(',')}`);
  return children[0];
}
