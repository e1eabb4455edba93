// The scheduler and the kubelets of every emulated node: moves each new pod from Pending to
// Running (or to the failure a switch asks for), "pulls" its images (the cached root
// filesystems of tools/images; an image without a recipe is ErrImagePull), sets up its volumes
// (emptyDir, hostPath, configMap), runs its containers through the runtime (runc), enforces
// activeDeadlineSeconds, and kills everything of a pod when it is deleted.
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureImage, recipeNameFor } from '../images/index.js';
import { HOST_PATH, normaliseImage } from './images.js';
import { imageMatches } from './switches.js';
import { nodeObject, pickNode, type NodeInfo } from './nodes.js';
import { allWaiting, containerStatus, notReady, now, setCondition, unschedulableMessage } from './podstatus.js';
import { byResource } from './resources.js';
import { NotFoundInPath, type ContainerPlan, type RunningContainer, type Runtime } from './runtime.js';
import type { BundleMount } from './bundle.js';
import type { Store } from './store.js';
import type { Switches } from './switches.js';

type Obj = Record<string, any>;
const POD = byResource('', 'pods')!;
const CONFIGMAP = byResource('', 'configmaps')!;

/** What a container runs when its manifest gives no command: the image's CMD. */
function imageCmd(image: string): string[] {
  const recipe = recipeNameFor(image) ?? '';
  return recipe === 'agent' ? ['sleep', '3600'] : recipe.startsWith('python-') ? ['python3'] : ['bash'];
}

class PullError extends Error {}
class MountError extends Error {}

export interface KubeletContext {
  store: Store;
  runtime: Runtime;
  switches(): Switches;
  /** The cluster's temp dir: pod volumes live under it. */
  scratch: string;
  nodes: NodeInfo[];
  /** The root filesystem of an image (built into the cache if missing); throws when no recipe
   * makes it or the build fails, which the pod shows as ErrImagePull. */
  pullImage?: (image: string) => Promise<string>;
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

const sleep = (ms: number, run: PodRun) =>
  new Promise<void>((r) => {
    const t = setTimeout(() => {
      run.timers.delete(t);
      r();
    }, ms);
    run.timers.add(t);
  });

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
    const run: PodRun = {
      ns: pod.metadata.namespace,
      name: pod.metadata.name,
      uid: pod.metadata.uid,
      containers: new Map(),
      timers: new Set(),
      gone: false,
      settled: new Promise((r) => {
        settle = r;
      }),
    };
    this.runs.set(run.uid, run);
    this.sync(run, pod, Kubelet.isAgent(pod), this.ctx.switches(), settle)
      .catch((e) => {
        this.update(run, (p) => {
          p.status.phase = 'Failed';
          p.status.reason = 'EmulatorError';
          p.status.message = String((e as Error).message);
        });
      })
      .finally(settle);
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
      pod =
        this.update(run, (p) => {
          p.spec.nodeName = picked.name;
          setCondition(p, 'PodScheduled', true);
        }) ?? pod;
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
      const t = setTimeout(() => {
        run.timers.delete(t);
        void this.deadline(run);
      }, pod.spec.activeDeadlineSeconds * 1000);
      run.timers.add(t);
    }
    // the pull: every image a recipe makes, from the cache (built first if missing)
    const roots = new Map<string, string>();
    const why = new Map<string, string>();
    await Promise.all(
      (pod.spec.containers as Obj[]).map(async (c) => {
        if (imageMatches(sw.imagePullFailure, c.image)) return void why.set(c.name, `${normaliseImage(c.image)}: not found`);
        try {
          roots.set(c.name, await this.pull(c.image));
        } catch (e) {
          why.set(c.name, e instanceof PullError ? e.message : `${normaliseImage(c.image)}: ${(e as Error).message}`);
        }
      }),
    );
    if (why.size) {
      settle();
      return this.pullBackOff(run, pod, why);
    }
    if (sw.slowStartSeconds > 0) {
      settle();
      await sleep(sw.slowStartSeconds * 1000, run);
    }
    if (agent) await sleep(sw.agentStartDelayMs, run);
    if (run.gone) return;
    // volumes: a configMap that does not exist yet holds the pod in ContainerCreating, as the
    // kubelet's FailedMount retries do
    let volumes: Map<string, string>;
    for (;;) {
      try {
        volumes = this.volumes(run, pod);
        break;
      } catch (e) {
        if (!(e instanceof MountError)) throw e;
        settle();
        this.update(run, (p) => {
          p.status.message = e.message;
        });
        await sleep(1000, run);
        if (run.gone) return;
      }
    }
    this.update(run, (p) => {
      delete p.status.message;
      setCondition(p, 'PodReadyToStartContainers', true);
    });
    const statuses: Obj[] = [];
    for (const c of pod.spec.containers as Obj[]) {
      try {
        const rc = await this.ctx.runtime.start(this.plan(pod, c, agent, sw, roots.get(c.name)!, volumes));
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
      if (ok) {
        setCondition(p, 'ContainersReady', true);
        setCondition(p, 'Ready', true);
      } else
        notReady(
          p,
          'ContainersNotReady',
          `containers with unready status: [${statuses
            .filter((s) => !s.ready)
            .map((s) => s.name)
            .join(' ')}]`,
        );
    });
  }

  /** The image's root filesystem; PullError when no recipe makes it. */
  private pull(image: string): Promise<string> {
    if (!recipeNameFor(image)) {
      const ref = normaliseImage(image);
      return Promise.reject(new PullError(`${ref}: not found`));
    }
    return (this.ctx.pullImage ?? ensureImage)(image);
  }

  /** ErrImagePull, then ImagePullBackOff, then again, as a kubelet retrying a pull does. */
  private async pullBackOff(run: PodRun, _pod: Obj, why: Map<string, string>): Promise<void> {
    for (let backoff = 2; !run.gone; backoff = Math.min(backoff * 2, 10)) {
      this.update(run, (p) => allWaiting(p, 'ContainerCreating'));
      this.update(run, (p) => {
        p.status.containerStatuses = (p.spec.containers as Obj[]).map((c) => {
          if (!why.has(c.name)) return containerStatus(c, { waiting: { reason: 'ContainerCreating' } });
          const ref = normaliseImage(c.image);
          return containerStatus(c, {
            waiting: { reason: 'ErrImagePull', message: `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${why.get(c.name)}` },
          });
        });
      });
      await sleep(1000, run);
      this.update(run, (p) => {
        p.status.containerStatuses = (p.spec.containers as Obj[]).map((c) =>
          containerStatus(c, { waiting: why.has(c.name) ? { reason: 'ImagePullBackOff', message: `Back-off pulling image "${normaliseImage(c.image)}"` } : { reason: 'ContainerCreating' } }),
        );
      });
      await sleep(backoff * 1000, run);
    }
  }

  private podDir(run: PodRun): string {
    return path.join(this.ctx.scratch, 'pods', run.uid);
  }

  /** The host directory of each volume of the pod: emptyDir a fresh directory (mode 0777),
   * hostPath the path itself, configMap its keys written as files (mode 0644, or defaultMode /
   * items). MountError when a configMap is missing or a hostPath fails its type check. */
  private volumes(run: PodRun, pod: Obj): Map<string, string> {
    const dirs = new Map<string, string>();
    for (const v of (pod.spec.volumes ?? []) as Obj[]) {
      const dir = path.join(this.podDir(run), 'volumes', v.emptyDir ? 'empty-dir' : 'configmap', v.name);
      if (v.emptyDir) {
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, 0o777);
        dirs.set(v.name, dir);
      } else if (v.hostPath) {
        const p = String(v.hostPath.path ?? '');
        const type = v.hostPath.type ?? '';
        if (type === 'DirectoryOrCreate' && !existsSync(p)) mkdirSync(p, { recursive: true, mode: 0o755 });
        const st = existsSync(p) ? statSync(p) : undefined;
        if ((type === 'Directory' || type === 'DirectoryOrCreate') && !st?.isDirectory())
          throw new MountError(`MountVolume.SetUp failed for volume "${v.name}" : hostPath type check failed: ${p} is not a directory`);
        if (type === 'File' && !st?.isFile()) throw new MountError(`MountVolume.SetUp failed for volume "${v.name}" : hostPath type check failed: ${p} is not a file`);
        if (!st) throw new MountError(`MountVolume.SetUp failed for volume "${v.name}" : mount failed: ${p}: no such file or directory`);
        dirs.set(v.name, p);
      } else if (v.configMap) {
        const cm = this.ctx.store.get(CONFIGMAP, run.ns, v.configMap.name);
        if (!cm && v.configMap.optional !== true) throw new MountError(`MountVolume.SetUp failed for volume "${v.name}" : configmap "${v.configMap.name}" not found`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true, mode: 0o755 });
        const data: Record<string, Buffer> = {
          ...Object.fromEntries(Object.entries(cm?.data ?? {}).map(([k, x]) => [k, Buffer.from(String(x))])),
          ...Object.fromEntries(Object.entries(cm?.binaryData ?? {}).map(([k, x]) => [k, Buffer.from(String(x), 'base64')])),
        };
        const items: { key: string; path: string; mode?: number }[] = v.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
        for (const it of items) {
          if (!data[it.key]) throw new MountError(`MountVolume.SetUp failed for volume "${v.name}" : configmap references non-existent config key: ${it.key}`);
          const file = path.join(dir, it.path);
          mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
          writeFileSync(file, data[it.key]!);
          chmodSync(file, it.mode ?? v.configMap.defaultMode ?? 0o644);
        }
        dirs.set(v.name, dir);
      } else {
        throw new Error(`volume "${v.name}": only emptyDir, hostPath and configMap volumes are emulated`);
      }
    }
    return dirs;
  }

  private plan(pod: Obj, c: Obj, agent: boolean, sw: Switches, rootfs: string, volumes: Map<string, string>): ContainerPlan {
    const sc = { ...pod.spec.securityContext, ...c.securityContext };
    const uid = Number(sc.runAsUser ?? 0);
    const configMaps = new Set(((pod.spec.volumes ?? []) as Obj[]).filter((v) => v.configMap).map((v) => v.name));
    const field = (path: string) =>
      ({ 'metadata.name': pod.metadata.name, 'metadata.namespace': pod.metadata.namespace, 'spec.nodeName': pod.spec.nodeName, 'status.podIP': '', 'metadata.uid': pod.metadata.uid })[path] ?? '';
    const env: Record<string, string> = { PATH: HOST_PATH, HOSTNAME: pod.metadata.name, HOME: uid === 0 ? '/root' : '/', LANG: 'C.UTF-8' };
    for (const e of c.env ?? []) env[e.name] = e.value ?? (e.valueFrom?.fieldRef ? field(e.valueFrom.fieldRef.fieldPath) : '');
    const mounts: BundleMount[] = ((c.volumeMounts ?? []) as Obj[]).map((m) => {
      const dir = volumes.get(m.name);
      if (!dir) throw new Error(`volumeMounts: no volume named "${m.name}"`);
      return { destination: m.mountPath, kind: 'bind', source: m.subPath ? path.join(dir, m.subPath) : dir, readOnly: m.readOnly === true || configMaps.has(m.name) };
    });
    // a private /tmp: a tmpfs of its own, unless a volume is mounted there; an agent
    // container's /tmp is the agentTmpDir switch's directory when set (a test checks it)
    if (!mounts.some((m) => m.destination === '/tmp')) {
      if (agent && sw.agentTmpDir) mounts.push({ destination: '/tmp', kind: 'bind', source: sw.agentTmpDir });
      else if (!agent) mounts.push({ destination: '/tmp', kind: 'tmpfs' });
    }
    const command = [...(c.command ?? imageCmd(c.image)), ...(c.args ?? [])];
    return {
      namespace: pod.metadata.namespace,
      podUid: pod.metadata.uid,
      podName: pod.metadata.name,
      containerName: c.name,
      qos: pod.status?.qosClass ?? 'BestEffort',
      agent,
      image: c.image,
      rootfs,
      command,
      env,
      uid,
      gid: Number(sc.runAsGroup ?? 0),
      readOnlyRoot: sc.readOnlyRootFilesystem === true,
      hostPID: pod.spec.hostPID === true,
      privileged: sc.privileged === true,
      mounts,
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
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
      p.status.containerStatuses[i] = {
        ...s,
        ready: false,
        started: false,
        ...(stays
          ? {
              state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=${name} pod=${p.metadata.name}_${p.metadata.namespace}(${p.metadata.uid})` } },
              lastState: { terminated },
            }
          : { state: { terminated } }),
      };
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
      p.status.containerStatuses = (p.status.containerStatuses ?? []).map((s: Obj) => ({
        ...s,
        ready: false,
        started: false,
        state: s.containerID ? { terminated: { exitCode: 137, reason: 'Error', startedAt: s.state.running?.startedAt, finishedAt: now(), containerID: s.containerID } } : s.state,
      }));
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
      p.status.containerStatuses = (p.status.containerStatuses ?? []).map((s: Obj) => ({
        ...s,
        ready: false,
        started: false,
        state: s.containerID
          ? {
              terminated: {
                exitCode: 137,
                reason: 'ContainerStatusUnknown',
                message: 'The container could not be located when the pod was terminated',
                startedAt: s.state.running?.startedAt,
                finishedAt: now(),
                containerID: s.containerID,
              },
            }
          : s.state,
      }));
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
      rmSync(this.podDir(run), { recursive: true, force: true });
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
    await Promise.all(
      [...this.runs.values()].map(async (r) => {
        await this.killAll(r, 0);
        r.gone = true;
      }),
    );
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
