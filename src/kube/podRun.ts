// The pipeline of a Kubernetes run, top to bottom: target -> pods, container and node ->
// agent pod on each node -> exec: find the container's Python process -> exec: agent.sh
// (gdb, payload) -> results tar over the exec channel -> the same checks and files as pid/N.
// Every agent pod is deleted when its node's work ends, and by the cleanup stage on failure,
// SIGINT or SIGTERM (registered before it is created).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ProcessInfo } from './pids.js';
import { chooseProcesses, listContainerProcesses } from './pids.js';
import { AGENT_CONTAINER, agentPodManifest, createAgentPod, deletePod } from './agentPod.js';
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
  process: ProcessInfo;
  /** Every process of the container, when there was a choice to make. */
  processes: ProcessInfo[];
}

export interface KubeRunOutcome {
  results: PodRunResult[];
  failures: { label: string; error: unknown }[];
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
  const multi = cfg.allPods || cfg.allProcesses;
  const { files, scriptPath } = await agentFiles(payloadDir(), cfg.mode === 'script' ? cfg.scriptFile : undefined);
  const bundle = await packBundle(files);
  const findFiles = await findPidsFiles(payloadDir());
  const outcome: KubeRunOutcome = { results: [], failures: [] };
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
    const agent: ExecTarget = { namespace, pod: name, container: AGENT_CONTAINER };
    const remove = async () => {
      if (deleted) return;
      deleted = true;
      if (unclean) await waitForAgentsToFinish(deps.api, agent, runId);
      progress.emit({ kind: 'deleting-agent', pod: name });
      await deletePod(deps.api, namespace, name);
    };
    progress.emit({ kind: 'agent-starting', pod: name, node: plan.node, image: cfg.image });
    try {
      await createAgentPod(deps.api, plan.manifest, () => registerOrRun(deps.cleanup, `delete agent pod ${namespace}/${name}`, remove));
      if (deleted) { // interrupted while the create was on its way: the delete came too early
        await deletePod(deps.api, namespace, name);
        throw new Error('interrupted');
      }
      await waitForAgentPod(deps.api, { namespace, name, container: AGENT_CONTAINER, image: cfg.image, timeoutMs: cfg.startTimeoutMs, onWaiting: (w) => progress.emit({ kind: 'agent-waiting', pod: name, ...w }) });
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
      await remove().catch((e: unknown) => { outcome.failures.push({ label: `agent pod ${namespace}/${name}`, error: e }); });
    }
  }

  async function onPod(pod: ResolvedPod, agent: ExecTarget, agentName: string): Promise<void> {
    const progress = cfg.allPods ? scoped(deps.progress, pod.name) : deps.progress;
    progress.emit({ kind: 'finding-process', pod: pod.name, container: pod.container });
    const processes = await listContainerProcesses(deps.api, agent, pod.containerID, findFiles, runId, 30_000);
    const choice = chooseProcesses(processes, `container ${pod.container} of pod ${pod.name}`, { ...(cfg.pid !== undefined ? { pid: cfg.pid } : {}), allProcesses: cfg.allProcesses });
    if (choice.notice) progress.emit({ kind: 'notice', text: choice.notice });
    for (const proc of choice.chosen) {
      const label = choice.chosen.length > 1 ? `${pod.name} pid ${proc.pid}` : pod.name;
      const outDir = multi ? path.join(cfg.outDir, choice.chosen.length > 1 || cfg.allProcesses ? `${pod.name}-pid${proc.pid}` : pod.name) : cfg.outDir;
      try {
        const r = await onProcess(proc, agent, outDir, multi ? scoped(deps.progress, label) : progress);
        outcome.results.push({ ...r, pod, agentPod: agentName, process: proc, processes: processes.length > 1 ? processes : [] });
      } catch (e) {
        outcome.failures.push({ label: `pod ${pod.namespace}/${pod.name} pid ${proc.pid}`, error: e });
      }
    }
  }

  async function onProcess(proc: ProcessInfo, agent: ExecTarget, outDir: string, progress: RunDeps['progress']): Promise<RunResult> {
    const started = performance.now();
    const session = await startPodAgent(deps.api, agent, bundle, agentRequest(cfg, proc.hostPid, scriptPath), runId, cfg.image, {
      onEvent: (e) => progress.emit(e), onTranscript: deps.transcript,
    });
    let exited = false;
    void session.done.then(() => { exited = true; }, () => { exited = true; });
    registerOrRun(deps.cleanup, 'stop the agent', async () => {
      if (exited) return;
      session.interrupt();
      await session.done.catch(() => undefined);
    });
    return collectResults(session, { ...cfg, outDir, ownsOutDir: multi ? true : cfg.ownsOutDir }, { ...deps, progress }, started);
  }
}
