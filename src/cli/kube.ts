// The Kubernetes side of the command: connect (kubeconfig and flags), then one of --cleanup,
// --dry-run or a run, each printing through the printer. cli.ts decides which and owns errors.
import type { Cleanup } from '../core/cleanup.js';
import type { Printer } from '../core/printer.js';
import type { Progress } from '../core/progress.js';
import { describeTarget } from '../target/target.js';
import { PyheapError } from '../core/errors.js';
import { KubeApi } from '../kube/api.js';
import { cleanupLeftovers } from '../agentpod/leftovers.js';
import { loadKubeSettings, type KubeFlags } from '../kube/kubeconfig.js';
import { reportRun, reportRuns } from '../report/print.js';
import { podSubject } from '../report/document.js';
import { newRunId, planKubeRun, runKube, type KubeRunConfig, type KubeRunOutcome } from '../run/pod.js';
import type { ResolveOptions } from '../target/resolve.js';

export interface KubeCommandContext {
  printer: Printer;
  progress: Progress;
  cleanup: Cleanup;
  json: boolean;
  top: number;
  verbose: boolean;
  ask?: ResolveOptions['ask'];
}

export async function connect(flags: KubeFlags): Promise<{ api: KubeApi; namespace: string }> {
  const settings = await loadKubeSettings(flags);
  return { api: new KubeApi(settings), namespace: settings.namespace };
}

export async function cleanupCommand(flags: KubeFlags, c: KubeCommandContext): Promise<number> {
  const { api, namespace } = await connect(flags);
  const { deleted, scope } = await cleanupLeftovers(api, namespace);
  if (c.json) {
    c.printer.json({ scope, deleted: deleted.map((d) => ({ namespace: d.namespace, pod: d.name, node: d.node, run_id: d.runId, phase: d.phase, created: d.created })) });
    return 0;
  }
  if (deleted.length === 0) c.printer.result(`no kubectl-pyheap agent pods found in ${scope}`);
  for (const d of deleted) c.printer.result(`pod/${d.name} deleted (namespace ${d.namespace}, node ${d.node || '-'}, run ${d.runId || '-'}, ${d.phase || 'unknown'} since ${d.created || '?'})`);
  return 0;
}

/** A pod run as the command line gives it: all but the namespace, which the kubeconfig decides. */
export type KubeRunInput = Omit<KubeRunConfig, 'namespace'>;

export async function dryRunCommand(flags: KubeFlags, input: KubeRunInput, c: KubeCommandContext): Promise<number> {
  const { api, namespace } = await connect(flags);
  const plans = await planKubeRun({ ...input, namespace }, { api, progress: c.progress, cleanup: c.cleanup, transcript: () => {} }, newRunId());
  c.progress.stop(true);
  const manifests = plans.map((p) => p.manifest);
  if (c.json) c.printer.json(manifests.length === 1 ? manifests[0] : { apiVersion: 'v1', kind: 'List', items: manifests });
  else {
    const { dumpYaml } = await import('@kubernetes/client-node');
    c.printer.result(manifests.map((m) => dumpYaml(m)).join('---\n'));
  }
  return 0;
}

/** Why a single-pod run failed, and the agent pod it left behind if it could not delete it. */
function singleRunError(outcome: KubeRunOutcome): unknown {
  const left = outcome.failures.find((f) => f.leftBehind)?.error as PyheapError | undefined;
  const first = outcome.failures.find((f) => !f.leftBehind)?.error;
  if (!left) return first ?? new Error('a single-pod run produced no result');
  if (first === undefined) return left;
  const p = first instanceof PyheapError ? first : undefined;
  return new PyheapError(p?.stage ?? left.stage, `${first instanceof Error ? first.message : String(first)}; and ${left.message}`, {
    hint: [p?.hint, left.hint].filter(Boolean).join('; then '),
    exitCode: p?.exitCode ?? left.exitCode,
    cause: first,
  });
}

export async function runCommand(flags: KubeFlags, input: KubeRunInput, c: KubeCommandContext, transcript: (l: string) => void): Promise<number> {
  const { api, namespace } = await connect(flags);
  const cfg: KubeRunConfig = { ...input, namespace };
  const outcome = await runKube(cfg, { api, progress: c.progress, cleanup: c.cleanup, transcript, ...(c.ask ? { ask: c.ask } : {}) });
  c.progress.stop(outcome.failures.length === 0);
  const target = describeTarget(input.target);
  const single = !cfg.allPods && !cfg.allProcesses;
  if (single) {
    if (outcome.failures.length || outcome.results.length !== 1) throw singleRunError(outcome);
    const r = outcome.results[0]!;
    return reportRun(r, podSubject(r, target), { mode: cfg.mode, json: c.json, top: c.top }, c.printer);
  }
  if (outcome.results.length === 0 && outcome.failures.length) throw outcome.failures[0]!.error;
  return reportRuns(outcome, target, { mode: cfg.mode, json: c.json, top: c.top }, c.printer, c.verbose);
}
