// Waits for the agent pod to run by polling it (a watch ends after 30 s of silence, and an image
// pull can take longer), shows each new waiting reason as it appears, and gives up at once on
// what will not heal: a missing image, refused credentials, a kubelet that rejected the pod.
import { EXIT, PyheapError } from '../core/errors.js';
import type { Api } from '../kube/api.js';
import { apiError } from '../kube/apiErrors.js';

type Obj = Record<string, any>;

export interface Waiting {
  reason: string;
  message?: string;
}

/** Container states that a retry will not fix. */
const FATAL_WAITING = new Set(['InvalidImageName', 'ErrImageNeverPull', 'ImagePullBackOff', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff']);
/** ErrImagePull messages of pulls that will fail again the same way. */
const FATAL_PULL = /not found|manifest unknown|unauthorized|denied|forbidden|invalid reference|no such host|repository does not exist/i;

export type PodCheck = { state: 'running' } | { state: 'waiting'; waiting: Waiting } | { state: 'failed'; error: PyheapError };

/** What a pod's status means for us. Pure. */
export function checkAgentPod(pod: Obj, container: string, image: string): PodCheck {
  const name = pod.metadata?.name;
  const node = pod.spec?.nodeName;
  const fail = (message: string, hint: string) => ({ state: 'failed' as const, error: new PyheapError('agent', message, { hint, exitCode: EXIT.kube }) });
  const phase = pod.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') {
    const why = [pod.status?.reason, pod.status?.message].filter(Boolean).join(': ') || `phase ${phase}`;
    return fail(
      `the agent pod ${name} on node ${node} ended before it could be used (${why})`,
      /OutOf|Evict|NodeAffinity|Predicate/.test(String(pod.status?.reason)) ? 'the node has no room for it; free resources on the node and retry' : 'see kubectl describe pod, then retry',
    );
  }
  const s = (pod.status?.containerStatuses ?? []).find((c: Obj) => c.name === container) as Obj | undefined;
  if (s?.state?.running) return { state: 'running' };
  if (s?.state?.terminated) {
    const t = s.state.terminated;
    return fail(`the agent container in pod ${name} exited (${t.reason ?? 'Error'}, code ${t.exitCode})${t.message ? `: ${t.message}` : ''}`, 'the image must have a `sleep` command; check --image');
  }
  const w = s?.state?.waiting as Waiting | undefined;
  if (w && (FATAL_WAITING.has(w.reason) || (w.reason === 'ErrImagePull' && FATAL_PULL.test(w.message ?? '')))) {
    const pull = /Image|Pull/.test(w.reason);
    return fail(
      `the agent pod ${name} on node ${node} cannot start: ${w.reason}${w.message ? ` (${w.message})` : ''}`,
      pull ? `check --image ${image} (does it exist for this node's architecture?), or give --image-pull-secret for a private registry` : 'see kubectl describe pod, then retry',
    );
  }
  if (w) return { state: 'waiting', waiting: w };
  const sched = (pod.status?.conditions ?? []).find((c: Obj) => c.type === 'PodScheduled' && c.status === 'False');
  if (sched) return { state: 'waiting', waiting: { reason: sched.reason ?? 'Unschedulable', ...(sched.message ? { message: sched.message } : {}) } };
  return { state: 'waiting', waiting: { reason: phase ?? 'Pending' } };
}

export interface WaitOptions {
  namespace: string;
  name: string;
  container: string;
  image: string;
  timeoutMs: number;
  pollMs?: number;
  onWaiting(w: Waiting): void;
}

export async function waitForAgentPod(api: Api, o: WaitOptions): Promise<Obj> {
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  let last = '';
  let lastWaiting: Waiting | undefined;
  for (;;) {
    let pod: Obj;
    try {
      pod = await api.request('GET', `/api/v1/namespaces/${o.namespace}/pods/${o.name}`);
    } catch (e) {
      const err = apiError(e, 'agent', `get the agent pod ${o.name}`);
      if (err.exitCode === EXIT.notFound)
        throw new PyheapError('agent', `the agent pod ${o.name} was deleted while starting`, { hint: 'someone (or kubectl pyheap --cleanup) deleted it; retry', exitCode: EXIT.kube });
      throw err;
    }
    const c = checkAgentPod(pod, o.container, o.image);
    if (c.state === 'running') return pod;
    if (c.state === 'failed') throw c.error;
    const key = `${c.waiting.reason}\n${c.waiting.message ?? ''}`;
    if (key !== last) {
      last = key;
      lastWaiting = c.waiting;
      o.onWaiting(c.waiting);
    }
    if (Date.now() >= deadline) {
      throw new PyheapError(
        'agent',
        `the agent pod ${o.name} did not start within ${Math.round(o.timeoutMs / 1000)}s (last state: ${lastWaiting?.reason}${lastWaiting?.message ? `: ${lastWaiting.message}` : ''})`,
        { hint: 'see kubectl describe pod; a slow image pull needs a longer --start-timeout', exitCode: EXIT.kube },
      );
    }
    // often at first (an agent pod on a node that has the image starts in a second), then gently
    const every = o.pollMs ?? (Date.now() - started < 3000 ? 100 : 500);
    await new Promise((r) => setTimeout(r, Math.min(every, Math.max(0, deadline - Date.now()))));
  }
}
