// The scheduler and the kubelets of every emulated node: moves each new pod from Pending to
// Running (or to the failure a switch asks for), runs its containers through the runtime,
// enforces activeDeadlineSeconds, and kills everything of a pod when it is deleted.
import type { Interpreter } from '../support/pythons.js';
import { agentPath, HOST_PATH, interpreterFor, normaliseImage } from './images.js';
import { imageMatches } from './switches.js';
import { nodeObject, pickNode, type NodeInfo } from './nodes.js';
import { allWaiting, containerStatus, notReady, now, setCondition, unschedulableMessage } from './podstatus.js';
import { byResource } from './resources.js';
import { NotFoundInPath, type ContainerPlan, type RunningContainer, type Runtime } from './runtime.js';
import type { Store } from './store.js';
import type { Switches } from './switches.js';

type Obj = Record<string, any>;
const POD = byResource('', 'pods')!;

export interface KubeletContext {
  store: Store;
  runtime: Runtime;
  switches(): Switches;
  pythons: Interpreter[];
  scratch: string;
  appDir: string;
  nodes: NodeInfo[];
}

interface PodRun {
  ns: string;
  name: string;
  uid: string;
  containers: Map<string, RunningContainer>;
  timers: Set<NodeJS.Timeout>;
  gone: boolean;
  /** Resolves when the pod is Running or in a state that only a switch or time can change. */
  settled: Promise<void>;
  /** Kills in progress (an eviction, a deadline): a delete waits for them. */
  killing?: Promise<unknown>;
}

const sleep = (ms: number, run: PodRun) => new Promise<void>((r) => { const t = setTimeout(() => { run.timers.delete(t); r(); }, ms); run.timers.add(t); });

export class Kubelet {
  private runs = new Map<string, PodRun>();
  private podIps = new Map<number, number>();

  constructor(readonly ctx: KubeletContext) {}

  /** An agent pod: hostPID with a nodeName given at creation. Its container command is not run;
   * commands exec'd in it run on the host as root. */
  static isAgent(pod: Obj): boolean {
    return pod.spec?.hostPID === true && Boolean(pod.spec?.nodeName);
  }

  created(pod: Obj): void {
    let settle!: () => void;
    const run: PodRun = { ns: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, containers: new Map(), timers: new Set(), gone: false, settled: new Promise((r) => { settle = r; }) };
    this.runs.set(run.uid, run);
    this.sync(run, pod, Kubelet.isAgent(pod), this.ctx.switches(), settle).catch((e) => {
      this.update(run, (p) => { p.status.phase = 'Failed'; p.status.reason = 'EmulatorError'; p.status.message = String((e as Error).message); });
    }).finally(settle);
  }

  private update(run: PodRun, fn: (p: Obj) => void): Obj | undefined {
    return run.gone ? undefined : this.ctx.store.mutate(POD, run.ns, run.name, fn);
  }

  private async sync(run: PodRun, pod: Obj, agent: boolean, sw: Switches, settle: () => void): Promise<void> {
    const nodes = this.ctx.nodes;
    let node = nodes.find((n) => n.name === pod.spec.nodeName);
    if (!pod.spec.nodeName) {
      const picked = sw.unschedulable ? undefined : pickNode(pod, nodes);
      if (!picked) {
        const why = sw.unschedulable ? `node(s) had untolerated taint {node.kubernetes.io/unschedulable: }` : `node(s) didn't match Pod's node affinity/selector`;
        this.update(run, (p) => setCondition(p, 'PodScheduled', false, 'Unschedulable', unschedulableMessage(nodes.length, why)));
        return;
      }
      node = picked;
      pod = this.update(run, (p) => { p.spec.nodeName = picked.name; setCondition(p, 'PodScheduled', true); }) ?? pod;
    } else if (sw.unschedulable) {
      // a pod with nodeName bypasses the scheduler; the switch still holds it back, for tests
      this.update(run, (p) => setCondition(p, 'PodScheduled', false, 'Unschedulable', unschedulableMessage(nodes.length, 'node(s) had untolerated taint {node.kubernetes.io/unschedulable: }')));
      return;
    }
    if (!node) return; // a node that does not exist has no kubelet: Pending for ever
    const startTime = now();
    this.update(run, (p) => {
      p.status.hostIP = node.ip;
      p.status.hostIPs = [{ ip: node.ip }];
      p.status.startTime = startTime;
      setCondition(p, 'PodReadyToStartContainers', false);
      setCondition(p, 'Initialized', true);
      setCondition(p, 'PodScheduled', true);
      allWaiting(p, 'ContainerCreating');
    });
    if (pod.spec.activeDeadlineSeconds) {
      const t = setTimeout(() => { run.timers.delete(t); void this.deadline(run); }, pod.spec.activeDeadlineSeconds * 1000);
      run.timers.add(t);
    }
    const failing = (pod.spec.containers as Obj[]).filter((c) => imageMatches(sw.imagePullFailure, c.image) || (!agent && typeof interpreterFor(this.ctx.pythons, c.image) === 'string'));
    if (failing.length) {
      settle();
      return this.pullBackOff(run, pod, failing);
    }
    if (sw.slowStartSeconds > 0) {
      settle();
      await sleep(sw.slowStartSeconds * 1000, run);
    }
    if (agent) await sleep(sw.agentStartDelayMs, run);
    if (run.gone) return;
    this.update(run, (p) => setCondition(p, 'PodReadyToStartContainers', true));
    const statuses: Obj[] = [];
    for (const c of pod.spec.containers as Obj[]) {
      try {
        const rc = await this.ctx.runtime.start(this.plan(pod, c, agent, sw));
        if (run.gone) return void (await this.ctx.runtime.stop(rc, 0));
        run.containers.set(c.name, rc);
        statuses.push(containerStatus(c, { running: { startedAt: now() } }, rc.id));
        void rc.exited.then((x) => this.exited(run, c.name, x.code, x.signal));
      } catch (e) {
        statuses.push(containerStatus(c, { terminated: { exitCode: 128, reason: 'StartError', message: (e as Error).message, finishedAt: now() } }));
      }
    }
    const ip = this.podIp(node);
    this.update(run, (p) => {
      p.status.phase = 'Running';
      p.status.podIP = ip;
      p.status.podIPs = [{ ip }];
      p.status.containerStatuses = statuses;
      const ok = statuses.every((s) => s.ready);
      if (ok) { setCondition(p, 'ContainersReady', true); setCondition(p, 'Ready', true); } else notReady(p, 'ContainersNotReady', `containers with unready status: [${statuses.filter((s) => !s.ready).map((s) => s.name).join(' ')}]`);
    });
  }

  /** ErrImagePull, then ImagePullBackOff, then again, as a kubelet retrying a pull does. */
  private async pullBackOff(run: PodRun, pod: Obj, failing: Obj[]): Promise<void> {
    const names = new Set(failing.map((c) => c.name));
    for (let backoff = 2; !run.gone; backoff = Math.min(backoff * 2, 10)) {
      this.update(run, (p) => allWaiting(p, 'ContainerCreating'));
      this.update(run, (p) => {
        p.status.containerStatuses = (p.spec.containers as Obj[]).map((c) => {
          if (!names.has(c.name)) return containerStatus(c, { waiting: { reason: 'ContainerCreating' } });
          const ref = normaliseImage(c.image);
          const why = typeof interpreterFor(this.ctx.pythons, c.image) === 'string' && !Kubelet.isAgent(pod) ? interpreterFor(this.ctx.pythons, c.image) as string : `${ref}: not found`;
          return containerStatus(c, { waiting: { reason: 'ErrImagePull', message: `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${why}` } });
        });
      });
      await sleep(1000, run);
      this.update(run, (p) => {
        p.status.containerStatuses = (p.spec.containers as Obj[]).map((c) => containerStatus(c, { waiting: names.has(c.name) ? { reason: 'ImagePullBackOff', message: `Back-off pulling image "${normaliseImage(c.image)}"` } : { reason: 'ContainerCreating' } }));
      });
      await sleep(backoff * 1000, run);
    }
  }

  private plan(pod: Obj, c: Obj, agent: boolean, sw: Switches): ContainerPlan {
    const sc = { ...pod.spec.securityContext, ...c.securityContext };
    const python = agent ? undefined : (interpreterFor(this.ctx.pythons, c.image) as Interpreter);
    const uid = Number(sc.runAsUser ?? 0);
    const emptyDirNames = new Set((pod.spec.volumes ?? []).filter((v: Obj) => v.emptyDir).map((v: Obj) => v.name));
    const field = (path: string) => ({ 'metadata.name': pod.metadata.name, 'metadata.namespace': pod.metadata.namespace, 'spec.nodeName': pod.spec.nodeName, 'status.podIP': '', 'metadata.uid': pod.metadata.uid }[path] ?? '');
    const env: Record<string, string> = { PATH: agent ? HOST_PATH : `/root/.image-bin:${HOST_PATH}`, HOSTNAME: pod.metadata.name, HOME: uid === 0 ? '/root' : '/', LANG: 'C.UTF-8' };
    for (const e of c.env ?? []) env[e.name] = e.value ?? (e.valueFrom?.fieldRef ? field(e.valueFrom.fieldRef.fieldPath) : '');
    // the agent container's own /tmp, for its own process as for its exec sessions
    if (agent && sw.agentTmpDir) env.TMPDIR = sw.agentTmpDir;
    return {
      namespace: pod.metadata.namespace, podUid: pod.metadata.uid, podName: pod.metadata.name, containerName: c.name, qos: pod.status?.qosClass ?? 'BestEffort', agent,
      ...(agent ? { agentPath: agentPath(!imageMatches(sw.imagesWithoutGdb, c.image), this.ctx.scratch) } : {}),
      ...(python ? { python } : {}),
      command: [...(c.command ?? []), ...(c.args ?? [])], env, uid, gid: Number(sc.runAsGroup ?? 0),
      readOnlyRoot: sc.readOnlyRootFilesystem === true,
      emptyDirs: (c.volumeMounts ?? []).filter((m: Obj) => emptyDirNames.has(m.name)).map((m: Obj) => m.mountPath),
      ...(c.workingDir ? { workingDir: c.workingDir } : {}), appDir: this.ctx.appDir,
    };
  }

  private exited(run: PodRun, name: string, code: number, signal: NodeJS.Signals | null): void {
    const rc = run.containers.get(name);
    if (run.gone || !rc) return;
    const exitCode = signal ? 128 + (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 } as Record<string, number>)[signal] ?? 1) : code;
    this.update(run, (p) => {
      const i = (p.status.containerStatuses as Obj[]).findIndex((s) => s.name === name);
      const s = p.status.containerStatuses[i];
      const terminated = { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: s.state.running?.startedAt, finishedAt: now(), containerID: s.containerID };
      const policy = p.spec.restartPolicy;
      // no restarts are emulated: a container that would be restarted shows CrashLoopBackOff
      const stays = policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
      p.status.containerStatuses[i] = { ...s, ready: false, started: false, ...(stays ? { state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=${name} pod=${p.metadata.name}_${p.metadata.namespace}(${p.metadata.uid})` } }, lastState: { terminated } } : { state: { terminated } }) };
      const all = (p.status.containerStatuses as Obj[]).every((x) => x.state.terminated);
      if (all) p.status.phase = (p.status.containerStatuses as Obj[]).every((x) => x.state.terminated.exitCode === 0) ? 'Succeeded' : 'Failed';
      notReady(p, all ? 'PodCompleted' : 'ContainersNotReady', all ? undefined : `containers with unready status: [${name}]`);
    });
  }

  private async deadline(run: PodRun): Promise<void> {
    if (run.gone) return;
    await this.killAll(run, this.graceMs());
    this.update(run, (p) => {
      p.status.phase = 'Failed';
      p.status.reason = 'DeadlineExceeded';
      p.status.message = 'Pod was active on the node longer than the specified deadline';
      p.status.containerStatuses = (p.status.containerStatuses ?? []).map((s: Obj) => ({ ...s, ready: false, started: false, state: s.containerID ? { terminated: { exitCode: 137, reason: 'Error', startedAt: s.state.running?.startedAt, finishedAt: now(), containerID: s.containerID } } : s.state }));
      notReady(p, 'PodFailed');
    });
  }

  /** Evicts a running pod, as a kubelet under node pressure does: its processes are killed
   * (exec sessions included), the pod stays, Failed with reason Evicted. */
  async evict(uid: string): Promise<void> {
    const run = this.runs.get(uid);
    if (!run || run.gone) return;
    await this.killAll(run, this.graceMs(0));
    this.update(run, (p) => {
      p.status.phase = 'Failed';
      p.status.reason = 'Evicted';
      p.status.message = 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. ';
      p.status.containerStatuses = (p.status.containerStatuses ?? []).map((s: Obj) => ({ ...s, ready: false, started: false, state: s.containerID ? { terminated: { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated', startedAt: s.state.running?.startedAt, finishedAt: now(), containerID: s.containerID } } : s.state }));
      notReady(p, 'PodFailed');
      setCondition(p, 'DisruptionTarget', true, 'TerminationByKubelet', 'The node was low on resource: memory.');
    });
  }

  /** How long a kill waits between SIGTERM and SIGKILL: the delete's grace period (else the
   * pod's), never under 2 s, as kubelets give (minimumGracePeriodInSeconds, even to a forced
   * delete or a hard eviction), capped by a switch to keep tests short; 0 under hardKill (an
   * older kubelet's hard eviction, the kernel's OOM killer). */
  private graceMs(seconds = Infinity): number {
    const sw = this.ctx.switches();
    return sw.hardKill ? 0 : Math.max(2, Math.min(seconds, sw.maxGraceSeconds)) * 1000;
  }

  private async killAll(run: PodRun, graceMs: number): Promise<void> {
    for (const t of run.timers) clearTimeout(t);
    run.timers.clear();
    const rcs = [...run.containers.values()];
    run.containers.clear();
    const killing = Promise.all([run.killing, ...rcs.map((rc) => this.ctx.runtime.stop(rc, graceMs))]);
    run.killing = killing;
    await killing;
  }

  /** Deletes a pod: processes killed (SIGTERM, the grace period, then SIGKILL), then gone. */
  async delete(pod: Obj, graceSeconds: number): Promise<void> {
    const run = this.runs.get(pod.metadata.uid);
    if (run) {
      run.gone = true; // first: a container still starting is stopped as soon as it is up
      this.runs.delete(run.uid);
      await this.killAll(run, this.graceMs(graceSeconds));
    }
    this.ctx.store.remove(POD, pod.metadata.namespace, pod.metadata.name);
  }

  /** The running container an exec targets, or why there is none. */
  container(pod: Obj, name: string): RunningContainer | undefined {
    return this.runs.get(pod.metadata.uid)?.containers.get(name);
  }

  async settled(): Promise<void> {
    await Promise.all([...this.runs.values()].map((r) => r.settled));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.runs.values()].map(async (r) => { await this.killAll(r, 0); r.gone = true; }));
    this.runs.clear();
    await this.ctx.runtime.stopAll();
  }

  private podIp(node: NodeInfo): string {
    const next = (this.podIps.get(node.index) ?? 1) + 1;
    this.podIps.set(node.index, next);
    return `10.244.${node.index}.${next}`;
  }
}

export { NotFoundInPath, nodeObject };
