// The container runtime: every container of a pod is a real runc container (oci.ts) started
// from an OCI bundle of its image's root filesystem (bundle.ts, tools/images): own mount, PID
// (unless hostPID), IPC and UTS namespaces, /proc, /dev, a private /tmp, the pod's volumes,
// runAsUser, readOnlyRootFilesystem, and the cgroup containerd's CRI plugin asks runc for.
// Exec sessions are `runc exec`; stops are `runc kill`, then `runc kill --all` and `runc delete`.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { makeBundle, removeBundle, type BundleMount } from './bundle.js';
import type { CgroupLayout, QosClass } from './cgroups.js';
import { lookPath } from './images.js';
import { initPid, ociCgroup, ociCgroupPids, removeOciCgroups, runcDelete, runcExec, runcKill, runcRun } from './oci.js';

export interface ContainerPlan {
  namespace: string;
  podUid: string;
  podName: string;
  containerName: string;
  qos: QosClass;
  /** Agent container (hostPID pod with a nodeName): its exec sessions are the agent's. */
  agent: boolean;
  /** The image as the manifest names it, and its root filesystem (never written to). */
  image: string;
  rootfs: string;
  command: string[];
  env: Record<string, string>;
  uid: number;
  gid: number;
  readOnlyRoot: boolean;
  hostPID: boolean;
  privileged: boolean;
  mounts: BundleMount[];
  workingDir?: string;
}

export interface RunningContainer {
  id: string;
  /** The cgroup runc made for it (the same path in every hierarchy). */
  cgroupRel: string;
  plan: ContainerPlan;
  /** Host PID of the container's init (its command). */
  pid: number;
  /** stdout and stderr as `kubectl logs` shows them (bounded). */
  log: Buffer[];
  execs: Set<ChildProcess>;
  /** Resolves when the container's own process exits. */
  exited: Promise<{ code: number; signal: NodeJS.Signals | null }>;
}

const LOG_LIMIT = 1 << 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The container's log as `kubectl logs` shows it: its own process's output, bounded. */
function logKeeper(rc: { log: Buffer[] }): (d: Buffer) => void {
  let size = 0;
  return (d) => {
    rc.log.push(d);
    for (size += d.length; size > LOG_LIMIT && rc.log.length > 1; ) size -= rc.log.shift()!.length;
  };
}

/** A process and everything below it (by parent PID), as /proc shows them now. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(p)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  for (const todo = [root]; todo.length; ) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

export class NotFoundInPath extends Error {}

interface Internal {
  runc: ChildProcess;
  bundle: string;
  dir: string;
  execPidFiles: Map<ChildProcess, string>;
}

export class Runtime {
  private running = new Map<RunningContainer, Internal>();
  private n = 0;

  /** `state` holds runc's state (--root) and the bundles; the cluster's own temp dir. */
  constructor(
    private layout: CgroupLayout,
    private state: string,
  ) {}

  containers(): RunningContainer[] {
    return [...this.running.keys()];
  }

  private get runcRoot(): string {
    return path.join(this.state, 'runc');
  }

  async start(plan: ContainerPlan): Promise<RunningContainer> {
    const id = randomBytes(32).toString('hex');
    const cg = ociCgroup(this.layout, plan.qos, plan.podUid, id);
    const dir = path.join(this.state, 'containers', id.slice(0, 16));
    const bundle = path.join(dir, 'bundle');
    mkdirSync(dir, { recursive: true });
    makeBundle(bundle, plan.rootfs, {
      args: plan.command,
      env: plan.env,
      cwd: plan.workingDir ?? '/',
      uid: plan.uid,
      gid: plan.gid,
      hostname: plan.podName,
      readOnlyRoot: plan.readOnlyRoot,
      hostPID: plan.hostPID,
      privileged: plan.privileged,
      cgroupsPath: cg.cgroupsPath,
      mounts: plan.mounts,
    });
    const runc = runcRun(this.runcRoot, bundle, id);
    const rc: RunningContainer = { id, cgroupRel: cg.dir, plan, pid: 0, log: [], execs: new Set(), exited: new Promise(() => {}) };
    const keep = logKeeper(rc);
    let runcErr = '';
    runc.stdout!.on('data', keep);
    runc.stderr!.on('data', (d: Buffer) => {
      keep(d);
      runcErr = (runcErr + d.toString()).slice(-4096);
    });
    rc.exited = new Promise((resolve) => runc.once('exit', (code, signal) => resolve({ code: code ?? 128, signal })));
    const internal: Internal = { runc, bundle, dir, execPidFiles: new Map() };
    this.running.set(rc, internal);
    try {
      rc.pid = await initPid(bundle, runc, () => runcErr);
    } catch (e) {
      await this.stop(rc, 0);
      throw e;
    }
    return rc;
  }

  /** Starts an exec'd command (`runc exec`); throws NotFoundInPath as the runtime would. */
  exec(rc: RunningContainer, argv: string[], stdin: boolean): ChildProcess {
    const p = rc.plan;
    if (!argv[0] || !lookPath(argv[0], p.env.PATH ?? '', `/proc/${rc.pid}/root`)) throw new NotFoundInPath(`exec: "${argv[0] ?? ''}": executable file not found in $PATH`);
    const pidFile = path.join(this.running.get(rc)!.dir, `exec-${++this.n}.pid`);
    const child = runcExec(this.runcRoot, rc.id, argv, { uid: p.uid, gid: p.gid, env: p.env, cwd: p.workingDir ?? '/', stdin, pidFile });
    rc.execs.add(child);
    this.running.get(rc)!.execPidFiles.set(child, pidFile);
    child.once('exit', () => {
      rc.execs.delete(child);
      this.running.get(rc)?.execPidFiles.delete(child);
      rmSync(pidFile, { force: true });
    });
    return child;
  }

  /** Host PIDs of the commands exec'd in the container (once runc has started them). */
  execPids(rc: RunningContainer): number[] {
    return [...(this.running.get(rc)?.execPidFiles.values() ?? [])].flatMap((f) => {
      try {
        const pid = Number(readFileSync(f, 'utf8').trim());
        return pid > 0 ? [pid] : [];
      } catch {
        return [];
      }
    });
  }

  /** Kills an exec session's command and everything it started (a client that went away). */
  killExec(rc: RunningContainer, child: ChildProcess): void {
    const pidFile = this.running.get(rc)?.execPidFiles.get(child);
    let pid = 0;
    try {
      pid = Number(readFileSync(pidFile ?? '', 'utf8').trim());
    } catch {
      /* not started yet */
    }
    for (const p of pid > 0 ? processTree(pid) : [])
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }

  /** Stops a container: SIGTERM to its init and up to graceMs for it to go, then SIGKILL to
   * everything in its cgroup (exec sessions included); deletes it, its cgroups and its bundle. */
  async stop(rc: RunningContainer, graceMs: number): Promise<void> {
    const internal = this.running.get(rc);
    if (!internal) return;
    this.running.delete(rc);
    const done = internal.runc.exitCode !== null || internal.runc.signalCode !== null;
    const exited = done ? Promise.resolve() : rc.exited;
    if (rc.pid && graceMs > 0 && !done) {
      try {
        process.kill(rc.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      await Promise.race([exited, sleep(graceMs)]);
    }
    await runcKill(this.runcRoot, rc.id, 'KILL');
    // what runc could not reach (a container whose init is gone keeps its other processes)
    for (let left = ociCgroupPids(rc.cgroupRel); left.length; left = ociCgroupPids(rc.cgroupRel)) {
      for (const p of left)
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      await sleep(20);
    }
    if (rc.pid === 0) internal.runc.kill('SIGKILL');
    await exited;
    await runcDelete(this.runcRoot, rc.id);
    removeOciCgroups(rc.cgroupRel);
    removeBundle(internal.bundle);
    rmSync(internal.dir, { recursive: true, force: true });
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((rc) => this.stop(rc, 0)));
  }
}
