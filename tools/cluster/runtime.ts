// The container runtime: starts a pod's containers as real local processes (own mount, PID
// and UTS namespaces, kubelet-named cgroups, uid, read-only root, emptyDirs), runs exec'd
// commands in them (or, for agent pods, on the host as root), and kills and cleans up.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startContainer, type ContainerTarget } from '../../test/support/container.js';
import type { Interpreter } from '../../test/support/pythons.js';
import { containerCgroup, createCgroup, killCgroup, removeCgroup, type CgroupLayout, type QosClass } from './cgroups.js';
import { lookPath } from './images.js';

export interface ContainerPlan {
  namespace: string;
  podUid: string;
  podName: string;
  containerName: string;
  qos: QosClass;
  /** Agent container (hostPID pod): no process of its own; exec runs on the host as root. */
  agent: boolean;
  /** For agent containers: the PATH its image stands for. */
  agentPath?: string;
  python?: Interpreter;
  command: string[];
  env: Record<string, string>;
  uid: number;
  gid: number;
  readOnlyRoot: boolean;
  emptyDirs: string[];
  workingDir?: string;
  appDir?: string;
}

export interface RunningContainer {
  id: string;
  cgroupRel: string;
  cgroupDirs: string[];
  plan: ContainerPlan;
  target?: ContainerTarget;
  /** stdout and stderr as `kubectl logs` shows them (bounded). */
  log: Buffer[];
  execs: Set<ChildProcess>;
  /** An agent container's own process (a target container's is `target`). */
  main?: ChildProcess;
  /** Resolves when the container's own process exits. */
  exited: Promise<{ code: number; signal: NodeJS.Signals | null }>;
}

const LOG_LIMIT = 1 << 20;

/** The container's log as `kubectl logs` shows it: its own process's output, bounded. */
function logKeeper(rc: RunningContainer): (d: Buffer) => void {
  let size = 0;
  return (d) => {
    rc.log.push(d);
    for (size += d.length; size > LOG_LIMIT && rc.log.length > 1;) size -= rc.log.shift()!.length;
  };
}

function watchExit(rc: RunningContainer, child: ChildProcess): void {
  rc.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code: code ?? 128, signal })));
}
// joins the exec'd process to the container's cgroups (as kubelet's runtime does), then runs it
const JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 126; shift; done; shift; exec "$@"';

export class NotFoundInPath extends Error {}

export class Runtime {
  private running = new Set<RunningContainer>();

  constructor(private layout: CgroupLayout) {}

  containers(): RunningContainer[] {
    return [...this.running];
  }

  async start(plan: ContainerPlan): Promise<RunningContainer> {
    const id = randomBytes(32).toString('hex');
    const cgroupRel = containerCgroup(this.layout, plan.qos, plan.podUid, id);
    const cgroupDirs = createCgroup(cgroupRel);
    const rc: RunningContainer = { id, cgroupRel, cgroupDirs, plan, log: [], execs: new Set(), exited: new Promise(() => {}) };
    this.running.add(rc);
    if (plan.agent) {
      // the agent container's own process (its command), root on the host, in its cgroup
      rc.main = this.exec(rc, plan.command, false);
      rc.execs.delete(rc.main);
      const keep = logKeeper(rc);
      rc.main.stdout!.on('data', keep);
      rc.main.stderr!.on('data', keep);
      watchExit(rc, rc.main);
      return rc;
    }
    try {
      rc.target = await startContainer({
        python: plan.python!, command: plan.command, env: plan.env, uid: plan.uid, gid: plan.gid, readOnlyRoot: plan.readOnlyRoot,
        emptyDirs: plan.emptyDirs, cgroups: cgroupDirs, hostname: plan.podName, readyLine: null, onOutput: logKeeper(rc),
        ...(plan.workingDir ? { workingDir: plan.workingDir } : {}), ...(plan.appDir ? { appDir: plan.appDir } : {}),
      });
    } catch (e) {
      await this.stop(rc, 0);
      throw e;
    }
    watchExit(rc, rc.target.child);
    return rc;
  }

  /** Starts an exec'd command; throws NotFoundInPath as the runtime would refuse it. */
  exec(rc: RunningContainer, argv: string[], stdin: boolean, extraEnv: Record<string, string> = {}): ChildProcess {
    const p = rc.plan;
    const pathVar = p.agent ? p.agentPath! : p.env.PATH!;
    const root = p.agent ? '' : `/proc/${rc.target!.pid}/root`;
    if (!argv[0] || !lookPath(argv[0], pathVar, root)) throw new NotFoundInPath(`exec: "${argv[0] ?? ''}": executable file not found in $PATH`);
    const inner = p.agent
      ? argv
      : ['nsenter', '-t', String(rc.target!.pid), '-m', '-p', '-u', '-w', '--',
        'setpriv', `--reuid=${p.uid}`, `--regid=${p.gid}`, '--clear-groups', '--', ...argv];
    const env = { ...(p.agent ? { ...p.env, PATH: pathVar, HOME: '/root' } : p.env), ...extraEnv };
    const child = spawn('sh', ['-c', JOIN, 'sh', ...rc.cgroupDirs, '--', ...inner], {
      env, cwd: '/', detached: true, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    rc.execs.add(child);
    child.once('exit', () => rc.execs.delete(child));
    return child;
  }

  /** Stops a container: SIGTERM to its main process and up to graceMs for it to go, then
   * SIGKILL to everything in its cgroup (exec'd commands included); removes the cgroup. */
  async stop(rc: RunningContainer, graceMs: number): Promise<void> {
    if (!this.running.has(rc)) return;
    const main = rc.target?.pid ?? rc.main?.pid;
    if (main && graceMs > 0) {
      try { process.kill(main, 'SIGTERM'); } catch { /* gone */ }
      await Promise.race([rc.exited, new Promise((r) => setTimeout(r, graceMs))]);
    }
    for (const e of [...rc.execs, ...(rc.main ? [rc.main] : [])]) try { process.kill(-e.pid!, 'SIGKILL'); } catch { /* gone */ }
    await rc.target?.stop();
    await killCgroup(rc.cgroupDirs);
    removeCgroup(rc.cgroupRel);
    this.running.delete(rc);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((rc) => this.stop(rc, 0)));
  }
}
