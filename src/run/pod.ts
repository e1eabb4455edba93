// The pipeline of a Kubernetes run, top to bottom: target -> pods, container and node ->
// agent pod on each node -> exec: find the container's Python process -> exec: agent.sh
// (gdb, payload) -> results tar over the exec channel -> the same checks and files as pid/N.
// Every agent pod is deleted when its node's work ends, and by the cleanup stage on failure,
// SIGINT or SIGTERM (registered before it is created).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ProcessInfo } from '../inject/pids.js';
import { chooseProcesses, listContainerProcesses } from '../inject/pids.js';
import { AGENT_CONTAINER, agentPodManifest } from '../agentpod/manifest.js';
import { checkAgentAccess } from '../agentpod/access.js';
import { createAgentPod, deletePod, leftBehindError, waitForAgentsToFinish } from '../agentpod/lifecycle.js';
import { refusedByApi } from '../core/errors.js';
import { agentFiles, findPidsFiles, packBundle, type BundleFile } from '../inject/bundle.js';
import { startPodAgent } from '../inject/podSession.js';
import { resolveTarget, type ResolvedPod, type ResolveOptions } from '../target/resolve.js';
import { waitForAgentPod } from '../agentpod/wait.js';
import type { Cleanup } from '../core/cleanup.js';
import type { Api } from '../kube/api.js';
import type { ExecTarget } from '../kube/exec.js';
import { payloadDir } from '../inject/payloads.js';
import { scoped, type Progress } from '../core/progress.js';
import { agentBoundMs, agentRequest, type RunSettings } from '../inject/request.js';
import { collectResults, type OutDir, type RunDeps, type RunResult } from '../collect/collect.js';
import { describeTarget, type Target } from '../target/target.js';

type Obj = Record<string, any>;

export interface KubeRunConfig extends RunSettings, OutDir {
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

export interface AgentPlan {
  manifest: Obj;
  node: string;
  pods: ResolvedPod[];
}

/** Registers a cleanup step; if cleanup already ran (an interrupt came meanwhile), runs it now. */
function registerOrRun(cleanup: Cleanup, name: string, fn: () => Promise<void>): void {
  try {
    cleanup.add(name, fn);
  } catch {
    void fn().catch(() => undefined);
  }
}

export function newRunId(): string {
  return BigInt(`0x${randomBytes(6).toString('hex')}`)
    .toString(36)
    .padStart(8, '0')
    .slice(-8);
}

/** Resolves the target and builds one agent pod manifest per node. Reads, never writes. */
export async function planKubeRun(cfg: KubeRunConfig, deps: KubeDeps, runId: string): Promise<AgentPlan[]> {
  deps.progress.emit({ kind: 'resolving', target: describeTarget(cfg.target) });
  const r = await resolveTarget(deps.api, {
    target: cfg.target,
    namespace: cfg.namespace,
    allPods: cfg.allPods,
    ...(cfg.container !== undefined ? { container: cfg.container } : {}),
    ...(deps.ask ? { ask: deps.ask } : {}),
  });
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
      node,
      image: cfg.image,
      runId,
      deadlineSeconds: deadline,
      targets: pods.map((p) => `${p.namespace}/${p.name}`),
      ...(cfg.imagePullSecret ? { imagePullSecret: cfg.imagePullSecret } : {}),
    }),
  }));
}

/** What the nodes of one run share: its settings, the bundles, the outcome so far, and the exec
 * sessions at work that no cleanup step stops yet (awaited before an agent pod is deleted, so
 * that no session is killed with its pod in the middle). */
interface Run {
  cfg: KubeRunConfig;
  deps: KubeDeps;
  runId: string;
  /** Several results (--all-pods, --all-processes): each in a directory of its own. */
  multi: boolean;
  bundle: Buffer;
  scriptPath: string | undefined;
  findFiles: BundleFile[];
  outcome: KubeRunOutcome;
  /** Cleanup has begun (an interrupt): start no new agent session. */
  stopping: boolean;
  inflight: Set<Promise<unknown>>;
}

/** One node's agent pod, and how far its life has come. */
interface AgentPod {
  plan: AgentPlan;
  name: string;
  namespace: string;
  exec: ExecTarget;
  progress: Progress;
  /** The create was sent (an answer may still be on its way), and whether it was refused. */
  sent: boolean;
  refused: boolean;
  running: boolean;
  /** A session may still be at work in it: wait for the agents to clean up before deleting it. */
  unclean: boolean;
  deleted: boolean;
}

/** The pod run: plan, check access, pack the bundles, then every node at once. */
export async function runKube(cfg: KubeRunConfig, deps: KubeDeps): Promise<KubeRunOutcome> {
  const runId = newRunId();
  const plans = await planKubeRun(cfg, deps, runId);
  // nothing is created unless it can also be deleted
  for (const ns of new Set(plans.map((p) => p.manifest.metadata.namespace as string))) await checkAgentAccess(deps.api, ns);
  const run = await prepare(cfg, deps, runId);
  await Promise.all(
    plans.map(async (plan) => {
      try {
        await onNode(run, plan);
      } catch (e) {
        for (const p of plan.pods) run.outcome.failures.push({ label: `pod ${p.namespace}/${p.name}`, error: e });
      }
    }),
  );
  return run.outcome;
}

async function prepare(cfg: KubeRunConfig, deps: KubeDeps, runId: string): Promise<Run> {
  const { files, scriptPath } = await agentFiles(payloadDir(), cfg.mode === 'script' ? cfg.scriptFile : undefined);
  return {
    cfg,
    deps,
    runId,
    multi: cfg.allPods || cfg.allProcesses,
    bundle: await packBundle(files),
    scriptPath,
    findFiles: await findPidsFiles(payloadDir()),
    outcome: { results: [], failures: [] },
    stopping: false,
    inflight: new Set(),
  };
}

/** One node: its agent pod started, every target pod on it inspected, the agent pod deleted. */
async function onNode(run: Run, plan: AgentPlan): Promise<void> {
  const { name, namespace } = plan.manifest.metadata as { name: string; namespace: string };
  const pod: AgentPod = {
    plan,
    name,
    namespace,
    exec: { namespace, pod: name, container: AGENT_CONTAINER },
    progress: run.multi ? scoped(run.deps.progress, `node ${plan.node}`) : run.deps.progress,
    sent: false,
    refused: false,
    running: false,
    unclean: false,
    deleted: false,
  };
  try {
    await startAgentPod(run, pod);
    const before = run.outcome.failures.length;
    await Promise.all(
      plan.pods.map(async (target) => {
        try {
          await onPod(run, pod, target);
        } catch (e) {
          run.outcome.failures.push({ label: `pod ${target.namespace}/${target.name}`, error: e });
        }
      }),
    );
    pod.unclean = run.outcome.failures.length > before;
  } finally {
    await removeAgentPod(run, pod).catch((e: unknown) => {
      run.outcome.failures.push({ label: `agent pod ${namespace}/${name}`, error: leftBehindError(e, namespace, name, plan.manifest.spec.activeDeadlineSeconds), leftBehind: true });
    });
  }
}

/** Creates the agent pod (its deletion registered before the create is sent) and waits until it runs. */
async function startAgentPod(run: Run, pod: AgentPod): Promise<void> {
  const { api, cleanup } = run.deps;
  pod.progress.emit({ kind: 'agent-starting', pod: pod.name, node: pod.plan.node, image: run.cfg.image });
  await createAgentPod(api, pod.plan.manifest, () => {
    pod.sent = true;
    registerOrRun(cleanup, `delete agent pod ${pod.namespace}/${pod.name}`, () => stopAgentPod(run, pod));
  }).catch((e: unknown) => {
    pod.refused = refusedByApi(e);
    throw e;
  });
  if (pod.deleted) {
    // interrupted while the create was on its way: the delete came too early
    await deletePod(api, pod.namespace, pod.name);
    throw new Error('interrupted');
  }
  await waitForAgentPod(api, {
    namespace: pod.namespace,
    name: pod.name,
    container: AGENT_CONTAINER,
    image: run.cfg.image,
    timeoutMs: run.cfg.startTimeoutMs,
    onWaiting: (w) => pod.progress.emit({ kind: 'agent-waiting', pod: pod.name, ...w }),
  });
  pod.running = true;
  pod.progress.emit({ kind: 'agent-ready', pod: pod.name, node: pod.plan.node });
}

/** As a cleanup step (an interrupt, or a failure elsewhere) the run is cut short: whatever
 * session is still at work in the pod (finding the process, an agent being stopped) ends
 * before the pod goes, and no new one starts. */
async function stopAgentPod(run: Run, pod: AgentPod): Promise<void> {
  run.stopping = true;
  if (pod.running) pod.unclean = true;
  await Promise.allSettled([...run.inflight]);
  await removeAgentPod(run, pod);
}

/** Deletes the agent pod once; one that was never created needs nothing, and says nothing. */
async function removeAgentPod(run: Run, pod: AgentPod): Promise<void> {
  if (pod.deleted) return;
  pod.deleted = true;
  if (!pod.sent || pod.refused) return;
  if (pod.unclean) await waitForAgentsToFinish(run.deps.api, pod.exec, run.runId);
  pod.progress.emit({ kind: 'deleting-agent', pod: pod.name });
  await deletePod(run.deps.api, pod.namespace, pod.name);
}

/** A session that no cleanup step stops yet: awaited before an agent pod is deleted. */
function track<T>(run: Run, p: Promise<T>): Promise<T> {
  run.inflight.add(p);
  void p.then(
    () => run.inflight.delete(p),
    () => run.inflight.delete(p),
  );
  return p;
}

/** One target pod: find its container's Python process(es), then inspect each. */
async function onPod(run: Run, agentPod: AgentPod, pod: ResolvedPod): Promise<void> {
  const { cfg, deps } = run;
  const progress = cfg.allPods ? scoped(deps.progress, pod.name) : deps.progress;
  progress.emit({ kind: 'finding-process', pod: pod.name, container: pod.container });
  const processes = await track(run, listContainerProcesses(deps.api, agentPod.exec, pod.containerID, run.findFiles, run.runId, 30_000));
  const choice = chooseProcesses(processes, `container ${pod.container} of pod ${pod.name}`, { ...(cfg.pid !== undefined ? { pid: cfg.pid } : {}), allProcesses: cfg.allProcesses });
  if (choice.notice) progress.emit({ kind: 'notice', text: choice.notice });
  for (const proc of choice.chosen) {
    const label = choice.chosen.length > 1 ? `${pod.name} pid ${proc.pid}` : pod.name;
    const outDir = run.multi ? path.join(cfg.outDir, choice.chosen.length > 1 || cfg.allProcesses ? `${pod.name}-pid${proc.pid}` : pod.name) : cfg.outDir;
    try {
      const r = await onProcess(run, agentPod, proc, outDir, run.multi ? scoped(deps.progress, label) : progress);
      run.outcome.results.push({ ...r, pod, agentPod: agentPod.name, agentImage: cfg.image, process: proc, processes: processes.length > 1 ? processes : [] });
    } catch (e) {
      run.outcome.failures.push({ label: `pod ${pod.namespace}/${pod.name} pid ${proc.pid}`, error: e });
    }
  }
}

/** One process: the agent over an exec session (stopped by cleanup), then the results. */
async function onProcess(run: Run, agentPod: AgentPod, proc: ProcessInfo, outDir: string, progress: Progress): Promise<RunResult> {
  const { cfg, deps } = run;
  const started = performance.now();
  if (run.stopping) throw new Error('interrupted');
  const session = await track(
    run,
    (async () => {
      const s = await startPodAgent(deps.api, agentPod.exec, run.bundle, agentRequest(cfg, proc.hostPid, run.scriptPath), run.runId, cfg.image, {
        onEvent: (e) => progress.emit(e),
        onTranscript: deps.transcript,
      });
      let exited = false;
      void s.done.then(
        () => {
          exited = true;
        },
        () => {
          exited = true;
        },
      );
      // (at once, if cleanup has begun meanwhile)
      registerOrRun(deps.cleanup, 'stop the agent', async () => {
        if (exited) return;
        s.interrupt();
        await s.done.catch(() => undefined);
      });
      return s;
    })(),
  );
  return collectResults(session, { ...cfg, outDir, ownsOutDir: run.multi ? true : cfg.ownsOutDir }, { ...deps, progress }, started);
}
