// The pipeline of a Kubernetes run, top to bottom: target -> pods, container and node ->
// agent pod on each node -> exec: find the container's Python process -> exec: agent.sh
// (gdb, payload) -> results tar over the exec channel -> the same checks and files as pid/N.
// Every agent pod is deleted when its node's work ends, and by the cleanup stage on failure,
// SIGINT or SIGTERM (registered before it is created).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ProcessInfo } from './pids.js';
import { chooseProcesses, listContainerProcesses } from './pids.js';
import { AGENT_CONTAINER, agentPodManifest, checkAgentAccess, createAgentPod, deletePod } from './agentPod.js';
import { apiError } from './apiErrors.js';
import { EXIT, PyheapError } from '../errors.js';
import { agentFiles, findPidsFiles, packBundle } from './bundle.js';
import { startPodAgent, waitForAgentsToFinish } from './podAgent.js';
import { resolveTarget, type ResolvedPod, type ResolveOptions } from './resolve.js';
import { waitForAgentPod } from './waitPod.js';
import type { Cleanup } from '../cleanup.js';
import type { Api } from './api.js';
import type { ExecTarget } from './exec.js';
import { payloadDir } from '../payloads.js';
import { scoped } from '../progress.js';
import { agentBoundMs, agentRequest, collectResults, type RunDeps, type RunResult, type RunSettings } from '../run.js';
import { describeTarget, type Target } from '../target.js';

type Obj = Record<string, any>;

export interface KubeRunConfig extends RunSettings {
  target: Exclude<Target, { kind: 'pid' }>;
  namespace: string;
  container?: string;
  allPods: boolean;
  /** A PID as seen inside the container. */
  pid?: number;
  allProcesses: boolean;
  image: string;
  agentNamespace?: string;
  imagePullSecret?: string;
  startTimeoutMs: number;
  outDir: string;
  ownsOutDir: boolean;
}

export interface PodRunResult extends RunResult {
  pod: ResolvedPod;
  agentPod: string;
  agentImage?: string;
  process: ProcessInfo;
  /** Every process of the container, when there was a choice to make. */
  processes: ProcessInfo[];
}

export interface KubeRunOutcome {
  results: PodRunResult[];
  /** leftBehind: an agent pod that could not be deleted. */
  failures: { label: string; error: unknown; leftBehind?: boolean }[];
}

export interface KubeDeps extends RunDeps {
  api: Api;
  ask?: ResolveOptions['ask'];
}

export interface AgentPlan { manifest: Obj; node: string; pods: ResolvedPod[] }

/** Registers a cleanup step; if cleanup already ran (an interrupt came meanwhile), runs it now. */
function registerOrRun(cleanup: Cleanup, name: string, fn: () => Promise<void>): void {
  try {
    cleanup.add(name, fn);
  } catch {
    void fn().catch(() => undefined);
  }
}

/** The agent pod could not be deleted: say so, why, and how it goes away. */
export function leftBehindError(e: unknown, namespace: string, name: string, deadlineSeconds: number): PyheapError {
  const err = apiError(e, 'cleanup', `delete pod ${name} in namespace ${namespace}`);
  return new PyheapError('cleanup', `the agent pod ${namespace}/${name} could not be deleted (${err.message}) and is left behind until its activeDeadlineSeconds (${deadlineSeconds}s) ends it`, {
    hint: `delete it with kubectl pyheap --cleanup -n ${namespace}, as someone who may delete pods there`, exitCode: EXIT.kube, cause: err });
}

export function newRunId(): string {
  return BigInt(`0x${randomBytes(6).toString('hex')}`).toString(36).padStart(8, '0').slice(-8);
}

/** Resolves the target and builds one agent pod manifest per node. Reads, never writes. */
export async function planKubeRun(cfg: KubeRunConfig, deps: KubeDeps, runId: string): Promise<AgentPlan[]> {
  deps.progress.emit({ kind: 'resolving', target: describeTarget(cfg.target) });
  const r = await resolveTarget(deps.api, { target: cfg.target, namespace: cfg.namespace, allPods: cfg.allPods, ...(cfg.container !== undefined ? { container: cfg.container } : {}), ...(deps.ask ? { ask: deps.ask } : {}) });
  if (r.notice) deps.progress.emit({ kind: 'notice', text: r.notice });
  for (const p of r.pods) deps.progress.emit({ kind: 'resolved', pod: `${p.namespace}/${p.name}`, container: p.container, node: p.node }, cfg.allPods ? p.name : undefined);
  const byNode = new Map<string, ResolvedPod[]>();
  for (const p of r.pods) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p]);
  const deadline = Math.ceil((cfg.startTimeoutMs + agentBoundMs(cfg) * (cfg.allProcesses ? 8 : 1)) / 1000) + 120;
  return [...byNode].map(([node, pods], i) => ({
    node,
    pods,
    manifest: agentPodManifest({
      name: byNode.size > 1 ? `pyheap-agent-${runId}-${i + 1}` : `pyheap-agent-${runId}`,
      namespace: cfg.agentNamespace ?? pods[0]!.namespace,
      node, image: cfg.image, runId, deadlineSeconds: deadline,
      targets: pods.map((p) => `${p.namespace}/${p.name}`),
      ...(cfg.imagePullSecret ? { imagePullSecret: cfg.imagePullSecret } : {}),
    }),
  }));
}

export async function runKube(cfg: KubeRunConfig, deps: KubeDeps): Promise<KubeRunOutcome> {
  const runId = newRunId();
  const plans = await planKubeRun(cfg, deps, runId);
  // nothing is created unless it can also be deleted
  for (const ns of new Set(plans.map((p) => p.manifest.metadata.namespace as string))) await checkAgentAccess(deps.api, ns);
  const multi = cfg.allPods || cfg.allProcesses;
  const { files, scriptPath } = await agentFiles(payloadDir(), cfg.mode === 'script' ? cfg.scriptFile : undefined);
  const bundle = await packBundle(files);
  const findFiles = await findPidsFiles(payloadDir());
  const outcome: KubeRunOutcome = { results: [], failures: [] };
  /** Cleanup has begun (an interrupt): start no new agent session. */
  let stopping = false;
  /** Exec sessions being opened or at work that no cleanup step stops yet: awaited before an
   * agent pod is deleted, so that no session is killed with its pod in the middle. */
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    void p.then(() => inflight.delete(p), () => inflight.delete(p));
    return p;
  };
  await Promise.all(plans.map(async (plan) => {
    try {
      await onNode(plan);
    } catch (e) {
      for (const p of plan.pods) outcome.failures.push({ label: `pod ${p.namespace}/${p.name}`, error: e });
    }
  }));
  return outcome;

  async function onNode(plan: AgentPlan): Promise<void> {
    const { name, namespace } = plan.manifest.metadata as { name: string; namespace: string };
    const progress = multi ? scoped(deps.progress, `node ${plan.node}`) : deps.progress;
    let deleted = false;
    let unclean = false;
    let running = false;
    /** The create was sent (an answer may still be on its way), and whether it was refused. */
    let sent = false;
    let refused = false;
    const agent: ExecTarget = { namespace, pod: name, container: AGENT_CONTAINER };
    const remove = async () => {
      if (deleted) return;
      deleted = true;
      if (!sent || refused) return; // never created: nothing to delete, nothing to say
      if (unclean) await waitForAgentsToFinish(deps.api, agent, runId);
      progress.emit({ kind: 'deleting-agent', pod: name });
      await deletePod(deps.api, namespace, name);
    };
    // As a cleanup step (an interrupt, or a failure elsewhere) the run is cut short: whatever
    // session is still at work in the pod (finding the process, an agent being stopped) ends
    // before the pod goes, and no new one starts.
    const stop = async () => {
      stopping = true;
      if (running) unclean = true;
      await Promise.allSettled([...inflight]);
      await remove();
    };
    progress.emit({ kind: 'agent-starting', pod: name, node: plan.node, image: cfg.image });
    try {
      await createAgentPod(deps.api, plan.manifest, () => { sent = true; registerOrRun(deps.cleanup, `delete agent pod ${namespace}/${name}`, stop); })
        .catch((e: unknown) => { refused = e instanceof PyheapError && e.reason === 'api-refused'; throw e; });
      if (deleted) { // interrupted while the create was on its way: the delete came too early
        await deletePod(deps.api, namespace, name);
        throw new Error('interrupted');
      }
      await waitForAgentPod(deps.api, { namespace, name, container: AGENT_CONTAINER, image: cfg.image, timeoutMs: cfg.startTimeoutMs, onWaiting: (w) => progress.emit({ kind: 'agent-waiting', pod: name, ...w }) });
      running = true;
      progress.emit({ kind: 'agent-ready', pod: name, node: plan.node });
      const before = outcome.failures.length;
      await Promise.all(plan.pods.map(async (pod) => {
        try {
          await onPod(pod, agent, name);
        } catch (e) {
          outcome.failures.push({ label: `pod ${pod.namespace}/${pod.name}`, error: e });
        }
      }));
      unclean = outcome.failures.length > before;
    } finally {
      await remove().catch((e: unknown) => {
        outcome.failures.push({ label: `agent pod ${namespace}/${name}`, error: leftBehindError(e, namespace, name, plan.manifest.spec.activeDeadlineSeconds), leftBehind: true });
      });
    }
  }

  async function onPod(pod: ResolvedPod, agent: ExecTarget, agentName: string): Promise<void> {
    const progress = cfg.allPods ? scoped(deps.progress, pod.name) : deps.progress;
    progress.emit({ kind: 'finding-process', pod: pod.name, container: pod.container });
    const processes = await track(listContainerProcesses(deps.api, agent, pod.containerID, findFiles, runId, 30_000));
    const choice = chooseProcesses(processes, `container ${pod.container} of pod ${pod.name}`, { ...(cfg.pid !== undefined ? { pid: cfg.pid } : {}), allProcesses: cfg.allProcesses });
    if (choice.notice) progress.emit({ kind: 'notice', text: choice.notice });
    for (const proc of choice.chosen) {
      const label = choice.chosen.length > 1 ? `${pod.name} pid ${proc.pid}` : pod.name;
      const outDir = multi ? path.join(cfg.outDir, choice.chosen.length > 1 || cfg.allProcesses ? `${pod.name}-pid${proc.pid}` : pod.name) : cfg.outDir;
      try {
        const r = await onProcess(proc, agent, outDir, multi ? scoped(deps.progress, label) : progress);
        outcome.results.push({ ...r, pod, agentPod: agentName, agentImage: cfg.image, process: proc, processes: processes.length > 1 ? processes : [] });
      } catch (e) {
        outcome.failures.push({ label: `pod ${pod.namespace}/${pod.name} pid ${proc.pid}`, error: e });
      }
    }
  }

  async function onProcess(proc: ProcessInfo, agent: ExecTarget, outDir: string, progress: RunDeps['progress']): Promise<RunResult> {
    const started = performance.now();
    if (stopping) throw new Error('interrupted');
    const session = await track((async () => {
      const s = await startPodAgent(deps.api, agent, bundle, agentRequest(cfg, proc.hostPid, scriptPath), runId, cfg.image, {
        onEvent: (e) => progress.emit(e), onTranscript: deps.transcript,
      });
      let exited = false;
      void s.done.then(() => { exited = true; }, () => { exited = true; });
      // (at once, if cleanup has begun meanwhile)
      registerOrRun(deps.cleanup, 'stop the agent', async () => {
        if (exited) return;
        s.interrupt();
        await s.done.catch(() => undefined);
      });
      return s;
    })());
    return collectResults(session, { ...cfg, outDir, ownsOutDir: multi ? true : cfg.ownsOutDir }, { ...deps, progress }, started);
  }
}
