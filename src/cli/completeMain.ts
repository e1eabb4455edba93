// kubectl_complete-pyheap: shell completion of `kubectl pyheap` for kubectl >= 1.26, which runs
// this program with the words typed after `kubectl pyheap` and shows what it prints (see
// complete.ts). Names come from the live cluster, through the kubeconfig, context and namespace
// typed so far; every request is bounded, and anything that fails (no cluster, no kubeconfig,
// RBAC) gives no candidates: this program always exits 0, and quickly.
import { connectionFlags, DIRECTIVE, planFor, render, type Source } from './complete.js';
import type { KubeFlags } from '../kube/kubeconfig.js';
import { parseDuration } from '../core/duration.js';

/** Bound of each API request, and of the whole completion (2 s more). */
export const REQUEST_BOUND_MS = 3000;
export const TOTAL_BOUND_MS = 5000;

/** The bounds in force: KUBECTL_PYHEAP_COMPLETE_TIMEOUT (a duration: 10s) sets the request bound
 * for a slow machine or cluster; anything else there is ignored (a completion never fails). */
export function completionBounds(env: NodeJS.ProcessEnv = process.env): { requestMs: number; totalMs: number } {
  let requestMs = REQUEST_BOUND_MS;
  try {
    if (env.KUBECTL_PYHEAP_COMPLETE_TIMEOUT) requestMs = parseDuration(env.KUBECTL_PYHEAP_COMPLETE_TIMEOUT, 'KUBECTL_PYHEAP_COMPLETE_TIMEOUT');
  } catch {
    /* the default */
  }
  return { requestMs, totalMs: requestMs + TOTAL_BOUND_MS - REQUEST_BOUND_MS };
}

type Obj = Record<string, any>;

const names = (list: Obj) =>
  ((list?.items ?? []) as Obj[])
    .map((o) => String(o.metadata?.name ?? ''))
    .filter(Boolean)
    .sort();
const sorted = (s: Iterable<string>) => [...new Set(s)].sort();

async function kubeconfigNames(flags: KubeFlags, kind: 'contexts' | 'clusters' | 'users'): Promise<string[]> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { kubeconfigFiles, mergeKubeconfigs } = await import('../kube/kubeconfig.js');
  const parts = kubeconfigFiles(flags, process.env).map((f) => {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(f);
    } catch {
      /* a broken file: the others still count */
    }
    return kc;
  });
  const kc = mergeKubeconfigs(parts, () => new KubeConfig());
  const list = kind === 'contexts' ? kc.getContexts() : kind === 'clusters' ? kc.getClusters() : kc.getUsers();
  return sorted(list.map((x) => x.name));
}

/** Container names of a pod spec. */
const containersOf = (spec: Obj | undefined) => ((spec?.containers ?? []) as Obj[]).map((c) => String(c.name));

/** The names a plan's source stands for. Throws on any failure (the caller offers nothing). */
export async function fetchNames(source: Source, flags: KubeFlags): Promise<string[]> {
  if (source.kind === 'static') return source.values;
  if (source.kind === 'image') return [(await import('../agentpod/manifest.js')).defaultAgentImage()];
  if (source.kind === 'contexts' || source.kind === 'clusters' || source.kind === 'users') return kubeconfigNames(flags, source.kind);
  const { loadKubeSettings } = await import('../kube/kubeconfig.js');
  const { KubeApi } = await import('../kube/api.js');
  const { MANAGED_BY, MANAGER } = await import('../agentpod/manifest.js');
  const notAgents = `${MANAGED_BY}!=${MANAGER}`;
  const bound = completionBounds().requestMs;
  const timeout = flags.requestTimeoutMs && flags.requestTimeoutMs > 0 ? Math.min(flags.requestTimeoutMs, bound) : bound;
  const settings = await loadKubeSettings({ ...flags, requestTimeoutMs: timeout });
  const api = new KubeApi(settings);
  await api.connectOptions(); // once before the parallel requests: an exec credential plugin runs once
  const ns = encodeURIComponent(settings.namespace);
  const get = (p: string, query?: Record<string, string>) => api.request<Obj>('GET', p, query ? { query } : {});
  // pods that can be inspected: not finished, not being deleted, not our own agents
  const livePods = async (selector?: string) =>
    (((await get(`/api/v1/namespaces/${ns}/pods`, { labelSelector: selector ? `${selector},${notAgents}` : notAgents })).items ?? []) as Obj[]).filter(
      (p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed',
    );
  const workloads = (r: string) => get(`/apis/apps/v1/namespaces/${ns}/${r}`).then(names);
  switch (source.kind) {
    case 'namespaces':
      return names(await get('/api/v1/namespaces'));
    case 'targets': {
      // each list on its own: RBAC may allow pods and not deployments
      const [pods, deploy, sts, ds] = await Promise.allSettled([
        livePods().then((ps) => sorted(ps.map((p) => String(p.metadata.name)))),
        workloads('deployments'),
        workloads('statefulsets'),
        workloads('daemonsets'),
      ]);
      const ok = (r: PromiseSettledResult<string[]>, kind = '') => (r.status === 'fulfilled' ? r.value.map((n) => kind + n) : []);
      if ([pods, deploy, sts, ds].every((r) => r.status === 'rejected')) throw (pods as PromiseRejectedResult).reason;
      return [...ok(pods), ...ok(deploy, 'deploy/'), ...ok(sts, 'sts/'), ...ok(ds, 'ds/')];
    }
    case 'objects':
      return source.resource === 'pods' ? sorted((await livePods()).map((p) => String(p.metadata.name))) : workloads(source.resource);
    case 'labels': {
      const out: string[] = [];
      for (const p of await livePods()) for (const [k, v] of Object.entries((p.metadata?.labels ?? {}) as Record<string, string>)) out.push(`${k}=${v}`);
      return sorted(out);
    }
    case 'containers': {
      const t = source.target;
      if (t.kind === 'pod') return containersOf((await get(`/api/v1/namespaces/${ns}/pods/${encodeURIComponent(t.name)}`)).spec);
      if (t.kind === 'workload') return containersOf((await get(`/apis/apps/v1/namespaces/${ns}/${t.resource}/${encodeURIComponent(t.name)}`)).spec?.template?.spec);
      return sorted((await livePods(t.selector)).flatMap((p) => containersOf(p.spec)));
    }
  }
}

/** The text to print for these words (candidates and directive); never throws. */
export async function complete(words: string[]): Promise<string> {
  const { analysis, plan } = planFor(words);
  try {
    return render(plan, await fetchNames(plan.source, connectionFlags(analysis)));
  } catch (e) {
    if (process.env.PYHEAP_COMPLETE_DEBUG) process.stderr.write(`kubectl_complete-pyheap: ${e instanceof Error ? e.message : String(e)}\n`);
    return render({ ...plan, source: { kind: 'static', values: [] } }, []);
  }
}

/** The program: prints the completion of `words` and exits 0, within completionBounds().totalMs. */
export function completeMain(words: string[]): void {
  let done = false;
  const finish = (text: string) => {
    if (done) return;
    done = true;
    process.stdout.write(text, () => process.exit(0));
  };
  setTimeout(() => finish(`:${DIRECTIVE.noFileComp}\n`), completionBounds().totalMs).unref();
  void complete(words).then(finish, () => finish(`:${DIRECTIVE.noFileComp}\n`));
}
