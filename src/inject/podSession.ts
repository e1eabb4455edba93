// Runs payloads/shell/agent.sh in the agent pod over one exec session: the counterpart of
// inject/local.ts for Kubernetes. The bundle goes in on stdin, the results tar comes back on
// stdout and the agent's events on stderr; interrupting sends one more stdin byte, which makes
// pod_session.sh stop the agent the gentle way (it cleans the target up, gdb is never killed).
import { createInterface } from 'node:readline';
import { AgentListener, agentArgs, type AgentExit, type AgentHooks, type AgentRequest, type AgentSession } from './protocol.js';
import { EXIT, PyheapError } from '../core/errors.js';
import type { Api } from '../kube/api.js';
import { defaultAgentImage } from '../agentpod/manifest.js';
import { apiError } from '../kube/apiErrors.js';
import { BUNDLE_DIR, sessionCommand } from './bundle.js';
import { openExec, type ExecTarget } from '../kube/exec.js';
import { agentPodGone } from '../agentpod/lifecycle.js';

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
    const sending = await sent.then(
      () => undefined,
      (e: unknown) => e,
    );
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
      return {
        ...result,
        error: new PyheapError('collect', `the exec session with agent pod ${agentPod.pod} dropped after ${exit.stdoutBytes} bytes of results, without an exit status`, {
          hint: 'the connection to the API server was interrupted; run again',
          exitCode: EXIT.transfer,
          cause: sending,
        }),
      };
    }
    if (result.error?.reason === 'gdb-missing') {
      return {
        ...result,
        error: new PyheapError('inject', `the agent image ${image} has no gdb`, {
          hint: `use an agent image with gdb: the default, ${defaultAgentImage()} (gdb 16), needs no --image; robustadev/debug-toolkit images built after October 2024 have no gdb (v6.0 had gdb 13.1)`,
          exitCode: result.error.exitCode,
        }),
      };
    }
    if (exit.code === null && !result.error) {
      const msg = exit.status?.message ?? 'no exit code';
      return {
        ...result,
        error: new PyheapError('inject', `the agent pod ${agentPod.pod} could not run the agent: ${msg}`, {
          hint: /not found/.test(msg) ? 'the agent image needs sh, head, tar, awk and gdb; check --image' : 'run again with -v',
          exitCode: EXIT.kube,
        }),
      };
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
