// Starts a Python process the way a container looks from a hostPID pod: its own mount and PID
// namespaces (it is PID 1 there), a private tmpfs /tmp, a non-root uid, optionally a
// read-only root and a cgroup named like a kubelet's. pyenv's interpreters live in root's
// private home, so the target gets a view of them: a tmpfs over /root with pyenv bound in.
// With `command`, it is resolved on a PATH where python, python3 and python3.X are the chosen
// interpreter. (The emulated cluster's containers are runc containers in images instead.)
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Interpreter } from './pythons.js';

export interface ContainerOptions {
  python: Interpreter;
  /** A Python file on this machine; the target sees its directory at /root/app and runs it. */
  script?: string;
  args?: string[];
  /** Run this argv instead of the script (looked up on PATH; /root/.image-bin comes first and
   * holds python, python3 and python3.X for `python`). */
  command?: string[];
  /** The host directory seen at /root/app (default: the script's directory; none without one). */
  appDir?: string;
  /** Working directory of the command (created if missing, like a runtime does). */
  workingDir?: string;
  /** Own UTS namespace with this hostname (a pod's name). */
  hostname?: string;
  uid?: number;
  gid?: number;
  readOnlyRoot?: boolean;
  /** Writable mounts inside the target (like emptyDir volumes), besides /tmp. */
  emptyDirs?: string[];
  /** No tmpfs on /tmp (with readOnlyRoot: no writable /tmp at all). */
  noTmp?: boolean;
  /** /dev/shm read-only (by default a private writable tmpfs, as container runtimes do). */
  readOnlyShm?: boolean;
  /** cgroup directories (absolute, in the cgroup filesystem) the target joins. */
  cgroups?: string[];
  env?: Record<string, string>;
  /** Wait for this line on stdout before returning (default "ready"); null: return as soon as
   * the command has been started (namespaces, mounts and cgroups in place). */
  readyLine?: string | null;
  /** Gets every chunk of stdout and stderr from the start (a container log misses nothing that
   * was printed before startContainer returned). */
  onOutput?: (d: Buffer) => void;
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
  const appDir = o.appDir ?? (o.script ? path.dirname(path.resolve(o.script)) : undefined);
  const bin = '/root/.image-bin';
  const aliases = ['python', 'python3', `python${o.python.version.join('.')}`];
  const run = o.command ? o.command.map(q).join(' ') : `${q(o.python.exe)} -u ${q(`/root/app/${path.basename(o.script ?? '')}`)} ${(o.args ?? []).map(q).join(' ')}`;
  const lines = [
    'set -e',
    ...(o.cgroups ?? []).map((cg) => `echo $$ > ${q(path.join(cg, 'cgroup.procs'))}`),
    ...(o.hostname ? [`hostname ${q(o.hostname)}`] : []),
    `exec 3<${q(appDir ?? '/')}`,
    ...o.python.roots.map((r, i) => `exec ${4 + i}<${q(r)}`),
    // private /root (root's home is mode 700 on the host) holding only the interpreter roots
    'mount -t tmpfs -o mode=755 pyheap-root /root',
    ...o.python.roots.map((r, i) => `mkdir -p ${q(r)} && mount --no-canonicalize --bind /proc/self/fd/${4 + i} ${q(r)}`),
    ...(appDir ? ['mkdir -p /root/app && mount --no-canonicalize --bind /proc/self/fd/3 /root/app'] : []),
    ...(o.command ? [`mkdir -p ${bin}`, ...aliases.map((a) => `ln -s ${q(o.python.exe)} ${bin}/${a}`)] : []),
    'exec 3<&-',
    ...o.python.roots.map((_, i) => `exec ${4 + i}<&-`),
    ...(o.noTmp ? [] : ['mount -t tmpfs -o mode=1777 pyheap-tmp /tmp']),
    `mount -t tmpfs -o mode=1777${o.readOnlyShm ? ',ro' : ''} pyheap-shm /dev/shm`,
    ...(o.emptyDirs ?? []).map((d) => `mkdir -p ${q(d)} && mount -t tmpfs -o mode=1777 pyheap-empty ${q(d)}`),
    ...(o.workingDir ? [`mkdir -p ${q(o.workingDir)}`] : []),
    ...(o.readOnlyRoot ? ['mount -o remount,bind,ro /'] : []),
    `cd ${q(o.workingDir ?? '/')}`,
    // fd 9: tells startContainer (readyLine null) that everything is in place
    ...(o.readyLine === null ? ['echo started >&9', 'exec 9>&-'] : []),
    `exec setpriv --reuid=${uid} --regid=${gid} --clear-groups -- ${run}`,
  ];
  return lines.join('\n');
}

export async function startContainer(o: ContainerOptions): Promise<ContainerTarget> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', PYTHONDONTWRITEBYTECODE: '1', LC_ALL: 'C.UTF-8', ...o.env };
  const started = o.readyLine === null;
  const child = spawn('unshare', ['--mount', '--pid', '--fork', '--mount-proc', ...(o.hostname ? ['--uts'] : []), 'sh', '-c', setupScript(o)], {
    stdio: started ? ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', 'ignore', 'ignore', 'ignore', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    env,
  });
  const output: string[] = [];
  const ready = o.readyLine ?? 'ready';
  const what = o.script ?? o.command?.join(' ');
  const stderr: string[] = [];
  if (o.onOutput) {
    child.stdout!.on('data', o.onOutput);
    child.stderr!.on('data', o.onOutput);
  }
  child.stderr!.on('data', (d: Buffer) => {
    stderr.push(d.toString());
    if (stderr.length > 1000) stderr.shift();
  });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // never leave a target that did not come up: its namespace dies with its PID 1
      try {
        process.kill(childPid(child.pid!), 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      reject(new Error(`target ${what} not ready after 20s: ${stderr.join('')}`));
    }, 20000);
    lines.on('line', (l) => {
      output.push(l);
      if (output.length > 10000) output.shift(); // a chatty container must not grow this forever
      if (!started && l === ready) {
        clearTimeout(timer);
        resolve();
      }
    });
    if (started)
      (child.stdio as unknown as NodeJS.ReadableStream[])[9]!.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`target ${what} exited with ${code}: ${stderr.join('')}`));
    });
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
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
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
