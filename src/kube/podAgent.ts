// Runs payloads/agent.sh in the agent pod over one exec session: the counterpart of
// agentLocal.ts for Kubernetes. The bundle goes in on stdin, the results tar comes back on
// stdout and the agent's events on stderr; interrupting sends one more stdin byte, which makes
// pod_session.sh stop the agent the gentle way (it cleans the target up, gdb is never killed).
import { createInterface } from 'node:readline';
import { AgentListener, agentArgs, type AgentExit, type AgentHooks, type AgentRequest, type AgentSession } from '../agentProtocol.js';
import { EXIT, PyheapError } from '../errors.js';
import type { Api } from './api.js';
import { defaultAgentImage } from './agentPod.js';
import { apiError } from './apiErrors.js';
import { BUNDLE_DIR, sessionCommand } from './bundle.js';
import { openExec, type ExecTarget } from './exec.js';

/** How long a stopping agent gets before the socket is closed under it. */
const STOP_GRACE_MS = 20_000;

export async function startPodAgent(api: Api, agentPod: ExecTarget, bundle: Buffer, req: AgentRequest, runId: string, image: string, hooks: AgentHooks): Promise<AgentSession> {
  const command = sessionCommand(bundle.length, runId, 'agent', agentArgs(req, BUNDLE_DIR));
  let session;
  try {
    session = await openExec(api, agentPod, command);
  } catch (e) {
    throw apiError(e, 'inject', `exec in the agent pod ${agentPod.pod}`);
  }
  const listener = new AgentListener(hooks);
  const lines = createInterface({ input: session.stderr });
  lines.on('line', (line) => listener.line(line));
  const linesDone = new Promise<void>((r) => lines.once('close', () => r()));
  const sent = session.write(bundle);
  const done = (async (): Promise<AgentExit> => {
    const sending = await sent.then(() => undefined, (e: unknown) => e);
    const exit = await session.done;
    await linesDone;
    const result = listener.exit(exit.code ?? -1);
    if ((exit.dropped || exit.code === null || exit.code >= 128) && !result.error) {
      // killed, or cut off without a word: did the pod itself go (deleted, evicted, deadline)?
      // A kubelet stops the containers first and reports after: a SIGTERM (the agent stopped
      // in the pod's grace period) or a SIGKILL gets a few seconds for the news.
      const gone = await agentPodGone(api, agentPod.namespace, agentPod.pod, exit.code === 137 || exit.code === 143 ? 5000 : 0);
      if (gone) return { ...result, error: gone };
    }
    if (exit.dropped) {
      // no status frame: the connection broke (or a proxy cut it); what arrived is not the whole
      return { ...result, error: new PyheapError('collect', `the exec session with agent pod ${agentPod.pod} dropped after ${exit.stdoutBytes} bytes of results, without an exit status`, {
        hint: 'the connection to the API server was interrupted; run again', exitCode: EXIT.transfer, cause: sending }) };
    }
    if (result.error?.message.startsWith('gdb is not installed')) {
      return { ...result, error: new PyheapError('inject', `the agent image ${image} has no gdb`, {
        hint: `use an agent image with gdb: the default, ${defaultAgentImage()} (gdb 16), needs no --image; robustadev/debug-toolkit images built after October 2024 have no gdb (v6.0 had gdb 13.1)`, exitCode: result.error.exitCode }) };
    }
    if (exit.code === null && !result.error) {
      const msg = exit.status?.message ?? 'no exit code';
      return { ...result, error: new PyheapError('inject', `the agent pod ${agentPod.pod} could not run the agent: ${msg}`, {
        hint: /not found/.test(msg) ? 'the agent image needs sh, head, tar, awk and gdb; check --image' : 'run again with -v', exitCode: EXIT.kube }) };
    }
    return result;
  })();
  let stopping = false;
  return {
    stdout: session.stdout,
    done,
    interrupt() {
      if (stopping) return;
      stopping = true;
      // after the bundle, never inside it: pod_session.sh reads exactly its length first
      void sent.then(() => session.write(Buffer.from('\n'))).catch(() => session.close());
      setTimeout(() => session.close(), STOP_GRACE_MS).unref();
    },
  };
}

/** Why the agent pod is no longer there to run the agent (deleted, evicted, past its deadline),
 * or undefined while it still runs (asked again for up to `waitMs`) or cannot be asked. */
export async function agentPodGone(api: Api, namespace: string, name: string, waitMs = 0): Promise<PyheapError | undefined> {
  let pod: Record<string, any>;
  for (const end = Date.now() + waitMs; ;) {
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
    hint: reason === 'Evicted' ? `node ${pod.spec?.nodeName} is short of resources; retry when it has room` : 'retry', exitCode: EXIT.kube });
}

function deletedError(name: string): PyheapError {
  return new PyheapError('agent', `the agent pod ${name} was deleted while the agent was at work`, {
    hint: 'someone (or kubectl pyheap --cleanup) deleted it; retry', exitCode: EXIT.kube });
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
