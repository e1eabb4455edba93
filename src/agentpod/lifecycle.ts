// The agent pod's life after its manifest: created (after a server-side dry run), deleted with
// grace 0, told apart when it went away under a running agent (deleted, evicted, past its
// deadline), and waited for until its agents have cleaned up before it is deleted.
import { EXIT, PyheapError, refusedByApi } from '../core/errors.js';
import type { Api } from '../kube/api.js';
import { apiError } from '../kube/apiErrors.js';
import { openExec, type ExecTarget } from '../kube/exec.js';
import { elsewhere } from './access.js';

type Obj = Record<string, any>;

/** A server-side dry run (admission, Pod Security, RBAC, quota), then the real create. */
export async function createAgentPod(api: Api, manifest: Obj, onCreating: () => void): Promise<Obj> {
  const ns = manifest.metadata.namespace as string;
  const path = `/api/v1/namespaces/${ns}/pods`;
  try {
    await api.request('POST', path, { query: { dryRun: 'All' }, body: manifest });
  } catch (e) {
    const err = apiError(e, 'agent', `create the agent pod in namespace ${ns}`);
    throw err.reason === 'rbac-refused' ? elsewhere(err, e) : err;
  }
  onCreating(); // the deletion is registered before the create is sent: an interrupt may come in between
  try {
    return await api.request('POST', path, { body: manifest });
  } catch (e) {
    // refused after its dry run passed (a webhook that skips dry runs, a quota used up meanwhile)
    const err = apiError(e, 'agent', `create the agent pod in namespace ${ns}`);
    if (!refusedByApi(err)) throw err;
    throw new PyheapError('agent', `the agent pod was not created: ${err.message}`, {
      ...(err.hint ? { hint: err.hint } : {}),
      exitCode: err.exitCode,
      cause: e,
      ...(err.reason ? { reason: err.reason } : {}),
    });
  }
}

/** Deletes a pod at once; a pod that is already gone is fine. */
export async function deletePod(api: Api, namespace: string, name: string): Promise<boolean> {
  try {
    await api.request('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`, {
      query: { gracePeriodSeconds: '0' },
      body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, propagationPolicy: 'Background' },
    });
    return true;
  } catch (e) {
    const err = apiError(e, 'cleanup', `delete pod ${name} in namespace ${namespace}`);
    if (err.exitCode === EXIT.notFound) return false;
    throw err;
  }
}

/** Why the agent pod is no longer there to run the agent (deleted, evicted, past its deadline),
 * or undefined while it still runs (asked again for up to `waitMs`) or cannot be asked. */
export async function agentPodGone(api: Api, namespace: string, name: string, waitMs = 0): Promise<PyheapError | undefined> {
  let pod: Record<string, any>;
  for (const end = Date.now() + waitMs; ; ) {
    try {
      pod = await api.request('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
    } catch (e) {
      return apiError(e, 'agent', `get the agent pod ${name}`).exitCode === EXIT.notFound ? deletedError(name) : undefined;
    }
    if (pod.metadata?.deletionTimestamp || ['Failed', 'Succeeded'].includes(pod.status?.phase) || Date.now() >= end) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const phase = pod.status?.phase;
  if (pod.metadata?.deletionTimestamp) return deletedError(name);
  if (phase !== 'Failed' && phase !== 'Succeeded') return undefined;
  const reason = pod.status?.reason as string | undefined;
  const why = [reason, pod.status?.message?.trim()].filter(Boolean).join(': ') || `phase ${phase}`;
  const what = reason === 'Evicted' ? 'was evicted from its node' : reason === 'DeadlineExceeded' ? 'reached its activeDeadlineSeconds' : 'ended';
  return new PyheapError('agent', `the agent pod ${name} ${what} while the agent was at work (${why})`, {
    hint: reason === 'Evicted' ? `node ${pod.spec?.nodeName} is short of resources; retry when it has room` : 'retry',
    exitCode: EXIT.kube,
  });
}

function deletedError(name: string): PyheapError {
  return new PyheapError('agent', `the agent pod ${name} was deleted while the agent was at work`, {
    hint: 'someone (or kubectl pyheap --cleanup) deleted it; retry',
    exitCode: EXIT.kube,
  });
}

/** After a session broke, waits (bounded) until the agent in the pod has cleaned up after itself:
 * pod_session.sh saw its stdin end, stopped agent.sh gently and removed its bundle directory.
 * Deleting the pod before that could kill the agent in the middle of its cleanup. */
export async function waitForAgentsToFinish(api: Api, agentPod: ExecTarget, runId: string, timeoutMs = 15_000): Promise<void> {
  const tenths = String(Math.ceil(timeoutMs / 100));
  const script = 'i=0; while ls -d "${TMPDIR:-/tmp}"/pyheap-agent.bundle-"$1".* >/dev/null 2>&1; do [ "$i" -ge "$2" ] && exit 1; sleep 0.1; i=$((i + 1)); done';
  const session = await openExec(api, agentPod, ['sh', '-c', script, 'sh', runId, tenths]).catch(() => undefined);
  if (!session) return;
  session.stdout.resume();
  session.stderr.resume();
  const timer = setTimeout(() => session.close(), timeoutMs + 5000);
  await session.done;
  clearTimeout(timer);
  session.close();
}

/** The agent pod could not be deleted: say so, why, and how it goes away. */
export function leftBehindError(e: unknown, namespace: string, name: string, deadlineSeconds: number): PyheapError {
  const err = apiError(e, 'cleanup', `delete pod ${name} in namespace ${namespace}`);
  return new PyheapError('cleanup', `the agent pod ${namespace}/${name} could not be deleted (${err.message}) and is left behind until its activeDeadlineSeconds (${deadlineSeconds}s) ends it`, {
    hint: `delete it with kubectl pyheap --cleanup -n ${namespace}, as someone who may delete pods there`,
    exitCode: EXIT.kube,
    cause: err,
  });
}
