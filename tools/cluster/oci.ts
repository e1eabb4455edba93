// Containers run by runc (Debian's package; the runtime containerd and CRI-O drive), from OCI
// bundles (bundle.ts): `runc run` in the foreground stands for the shim (its exit is the
// container's), `runc exec` for exec sessions, `runc kill --all` and `runc delete` for stops.
// The cgroups are runc's, at the path containerd's CRI plugin gives it: cgroupfs
// `/kubepods/<qos>/pod<uid>/<id>`; for the systemd driver (`kubepods-<qos>-pod<uid_>.slice:
// cri-containerd:<id>`) the directories systemd makes of it, created by runc's cgroupfs driver,
// as this machine runs no systemd. State lives under the cluster's own temp dir (`runc --root`).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import type { CgroupLayout, QosClass } from './cgroups.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cgroup runc is asked for (cgroupsPath), and the directory it makes, by driver. */
export function ociCgroup(layout: CgroupLayout, qos: QosClass, podUid: string, id: string): { cgroupsPath: string; dir: string } {
  const q = qos === 'Guaranteed' ? '' : qos.toLowerCase();
  if (layout === 'cgroupfs') {
    const dir = ['', 'kubepods', ...(q ? [q] : []), `pod${podUid}`, id].join('/');
    return { cgroupsPath: dir, dir };
  }
  const uid = podUid.replace(/-/g, '_');
  const slice = q ? `kubepods-${q}` : 'kubepods';
  const pod = `${slice}-pod${uid}.slice`;
  const cri = `${pod}:cri-containerd:${id}`; // what containerd would hand runc --systemd-cgroup
  void cri;
  const dir = ['', 'kubepods.slice', ...(q ? [`${slice}.slice`] : []), pod, `cri-containerd-${id}.scope`].join('/');
  return { cgroupsPath: dir, dir };
}

export function runcRun(root: string, bundle: string, id: string): ChildProcess {
  return spawn('runc', ['--root', root, 'run', '--bundle', bundle, '--pid-file', path.join(bundle, 'pid'), id], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
}

/** The container's init PID, once runc has written it (or the reason runc gave up). */
export async function initPid(bundle: string, runc: ChildProcess, stderr: () => string): Promise<number> {
  const file = path.join(bundle, 'pid');
  for (;;) {
    if (existsSync(file)) {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid > 0) return pid;
    }
    if (runc.exitCode !== null || runc.signalCode !== null) throw new Error(`runc run failed: ${stderr().trim()}`);
    await sleep(20);
  }
}

export function runcExec(root: string, id: string, argv: string[], o: { uid: number; gid: number; env: Record<string, string>; cwd: string; stdin: boolean; pidFile?: string }): ChildProcess {
  const env = Object.entries(o.env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  const pidFile = o.pidFile ? ['--pid-file', o.pidFile] : [];
  return spawn('runc', ['--root', root, 'exec', '--user', `${o.uid}:${o.gid}`, '--additional-gids', String(o.gid), '--cwd', o.cwd, ...pidFile, ...env, id, ...argv], {
    stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true,
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
}

const runc = (root: string, ...args: string[]) => new Promise<void>((resolve) => execFile('runc', ['--root', root, ...args], () => resolve()));

/** Signals every process of the container (exec sessions too: runc kill --all). */
export function runcKill(root: string, id: string, signal: 'TERM' | 'KILL'): Promise<void> {
  return runc(root, 'kill', '--all', id, signal);
}

export function runcDelete(root: string, id: string): Promise<void> {
  return runc(root, 'delete', '--force', id);
}

/** Every mounted cgroup hierarchy's root (v1 controllers, name=systemd, the unified one). */
function mountRoots(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4]!);
}

/** PIDs still in the container's cgroup, in any hierarchy. */
export function ociCgroupPids(dir: string): number[] {
  const pids = new Set<number>();
  for (const m of mountRoots()) {
    try {
      for (const p of readFileSync(path.join(m, dir, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
    } catch {
      /* none there */
    }
  }
  return [...pids];
}

/** Removes what runc leaves: the pod and QoS directories above the container's (as a kubelet
 * does), each only once empty, in every hierarchy. */
export function removeOciCgroups(dir: string): void {
  for (const m of mountRoots()) {
    for (let d = dir; d !== '/' && d !== ''; d = path.dirname(d)) {
      const full = path.join(m, d);
      if (!existsSync(full)) continue;
      if (readdirSync(full, { withFileTypes: true }).some((e) => e.isDirectory())) break;
      try {
        rmdirSync(full);
      } catch {
        break;
      }
    }
  }
}
