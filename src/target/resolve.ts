// Resolves a Kubernetes target (POD, pod/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME,
// -l SELECTOR) into pods, and each pod into the container to inspect, its runtime ID and its
// node. A workload or selector picks one pod and says which, unless every pod is asked for.
import { EXIT, PyheapError, usageError } from '../core/errors.js';
import { describeTarget, type Target } from './target.js';
import type { Api } from '../kube/api.js';
import { apiError } from '../kube/apiErrors.js';

type Obj = Record<string, any>;

export interface ResolvedPod {
  namespace: string;
  name: string;
  node: string;
  container: string;
  /** The runtime's ID of the container, without its scheme (containerd://, cri-o://, docker://). */
  containerID: string;
}

export interface Resolution {
  pods: ResolvedPod[];
  notice?: string;
}

export interface ResolveOptions {
  target: Exclude<Target, { kind: 'pid' }>;
  namespace: string;
  container?: string;
  allPods: boolean;
  /** Asks the user to pick one of `choices` (interactive runs only). */
  ask?: (question: string, choices: string[]) => Promise<string | undefined>;
}

const DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';

/** metav1.LabelSelector as the labelSelector query parameter. */
export function selectorString(sel: Obj | undefined): string {
  const parts = Object.entries((sel?.matchLabels ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`);
  for (const e of (sel?.matchExpressions ?? []) as Obj[]) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(String(e.key));
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

const ready = (p: Obj) => (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');

/** Which pod kubectl would pick first: running and ready ones, then the oldest, then by name. */
export function rankPods(pods: Obj[]): Obj[] {
  const score = (p: Obj) => (p.status?.phase === 'Running' ? 0 : 2) + (ready(p) ? 0 : 1);
  return [...pods].sort(
    (a, b) =>
      score(a) - score(b) || String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')) || String(a.metadata.name).localeCompare(String(b.metadata.name)),
  );
}

async function matchingPods(api: Api, o: ResolveOptions): Promise<{ pods: Obj[]; what: string }> {
  const ns = o.namespace;
  const t = o.target;
  const what = describeTarget(t);
  if (t.kind === 'pod') {
    try {
      return { pods: [await api.request('GET', `/api/v1/namespaces/${ns}/pods/${t.name}`)], what };
    } catch (e) {
      const err = apiError(e, 'resolve', `get pod ${t.name} in namespace ${ns}`);
      if (err.exitCode !== EXIT.notFound) throw err;
      throw new PyheapError('resolve', `pod "${t.name}" not found in namespace ${ns}`, { hint: `check the name and -n (kubectl get pods -n ${ns})`, exitCode: EXIT.notFound, cause: e });
    }
  }
  let selector: string;
  if (t.kind === 'workload') {
    let w: Obj;
    try {
      w = await api.request('GET', `/apis/apps/v1/namespaces/${ns}/${t.resource}/${t.name}`);
    } catch (e) {
      const err = apiError(e, 'resolve', `get ${t.resource} ${t.name} in namespace ${ns}`);
      if (err.exitCode !== EXIT.notFound) throw err;
      throw new PyheapError('resolve', `${what} not found in namespace ${ns}`, { hint: `check the name and -n (kubectl get ${t.resource} -n ${ns})`, exitCode: EXIT.notFound, cause: e });
    }
    selector = selectorString(w.spec?.selector);
    if (!selector) throw new PyheapError('resolve', `${what} has an empty selector`, { hint: 'name a pod instead', exitCode: EXIT.notFound });
  } else selector = t.selector;
  let list: Obj;
  try {
    list = await api.request('GET', `/api/v1/namespaces/${ns}/pods`, { query: { labelSelector: selector } });
  } catch (e) {
    throw apiError(e, 'resolve', `list pods with selector ${selector} in namespace ${ns}`);
  }
  const live = (list.items as Obj[]).filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  if (live.length === 0) {
    throw new PyheapError('resolve', `${what} matches no live pod in namespace ${ns}`, { hint: `check with kubectl get pods -n ${ns} -l '${selector}'`, exitCode: EXIT.notFound });
  }
  return { pods: rankPods(live), what };
}

/** The container to inspect: -c, else the default-container annotation, else the only one. */
export async function pickContainer(pod: Obj, wanted: string | undefined, ask: ResolveOptions['ask']): Promise<string> {
  const names = (pod.spec?.containers ?? []).map((c: Obj) => String(c.name)) as string[];
  if (wanted !== undefined) {
    if (names.includes(wanted)) return wanted;
    throw new PyheapError('resolve', `pod ${pod.metadata.name} has no container "${wanted}"`, { hint: `pick one of: ${names.join(', ')}`, exitCode: EXIT.notFound });
  }
  const annotated = pod.metadata?.annotations?.[DEFAULT_CONTAINER];
  if (annotated && names.includes(annotated)) return annotated;
  if (names.length === 1) return names[0]!;
  const chosen = await ask?.(`pod ${pod.metadata.name} has ${names.length} containers; which one?`, names);
  if (chosen && names.includes(chosen)) return chosen;
  throw usageError(`pod ${pod.metadata.name} has ${names.length} containers (${names.join(', ')}) and none is marked as default`, `pick one with -c, e.g. -c ${names[0]}`);
}

function runningContainer(pod: Obj, container: string): ResolvedPod {
  const where = `container ${container} of pod ${pod.metadata.name}`;
  const s = (pod.status?.containerStatuses ?? []).find((c: Obj) => c.name === container) as Obj | undefined;
  if (!s?.state?.running || !s.containerID) {
    const state = s?.state ?? {};
    const why = state.waiting
      ? `waiting: ${state.waiting.reason}`
      : state.terminated
        ? `terminated: ${state.terminated.reason ?? `exit ${state.terminated.exitCode}`}`
        : `pod phase ${pod.status?.phase ?? 'unknown'}`;
    throw new PyheapError('resolve', `${where} is not running (${why})`, { hint: `wait until it runs (kubectl get pod ${pod.metadata.name} -n ${pod.metadata.namespace})`, exitCode: EXIT.notFound });
  }
  const id = String(s.containerID).replace(/^[a-z-]+:\/\//, '');
  if (!/^[0-9a-f]{12,128}$/i.test(id)) {
    throw new PyheapError('resolve', `${where} has a container ID this tool does not understand (${s.containerID})`, {
      hint: 'containerd, CRI-O and Docker runtimes are supported',
      exitCode: EXIT.notFound,
    });
  }
  if (!pod.spec?.nodeName) throw new PyheapError('resolve', `pod ${pod.metadata.name} has no node`, { hint: 'it is not scheduled yet', exitCode: EXIT.notFound });
  return { namespace: pod.metadata.namespace, name: pod.metadata.name, node: pod.spec.nodeName, container, containerID: id };
}

export async function resolveTarget(api: Api, o: ResolveOptions): Promise<Resolution> {
  const { pods, what } = await matchingPods(api, o);
  const chosen = o.allPods ? pods : pods.slice(0, 1);
  const container = await pickContainer(chosen[0]!, o.container, o.ask);
  const resolved = chosen.map((p) => runningContainer(p, container));
  let notice: string | undefined;
  if (o.target.kind !== 'pod' && pods.length > 1) {
    notice = o.allPods
      ? `${what}: ${pods.length} pods (${pods.map((p) => p.metadata.name).join(', ')})`
      : `${what}: ${pods.length} pods match; using ${pods[0]!.metadata.name} (--all-pods for every one)`;
  } else if (o.target.kind !== 'pod') notice = `${what}: using pod ${pods[0]!.metadata.name}`;
  return { pods: resolved, ...(notice ? { notice } : {}) };
}
