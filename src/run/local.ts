// The pipeline of a local run, top to bottom: target -> agent (gdb) -> payload -> results ->
// report. Each stage is a call; cleanup is registered as soon as something exists. The second
// half (collect/collect.ts) is shared with pod runs (run/pod.ts), whose agent is an exec session.
import { collectResults, type OutDir, type RunDeps, type RunResult } from '../collect/collect.js';
import { startLocalAgent } from '../inject/local.js';
import { payloadDir } from '../inject/payloads.js';
import { agentRequest, type RunSettings } from '../inject/request.js';
import type { Target } from '../target/target.js';

export interface RunConfig extends RunSettings, OutDir {
  target: Target;
}

export async function runLocal(cfg: RunConfig, deps: RunDeps): Promise<RunResult> {
  const started = performance.now();
  if (cfg.target.kind !== 'pid') throw new Error('runLocal needs a pid/N target');
  deps.progress.emit({ kind: 'resolving', target: `pid/${cfg.target.pid}` });
  const agent = startLocalAgent(agentRequest(cfg, cfg.target.pid, cfg.scriptFile), payloadDir(), { onEvent: (e) => deps.progress.emit(e), onTranscript: deps.transcript });
  let agentExited = false;
  void agent.done.then(
    () => {
      agentExited = true;
    },
    () => {
      agentExited = true;
    },
  );
  deps.cleanup.add('stop the agent', async () => {
    if (agentExited) return;
    agent.interrupt();
    await agent.done.catch(() => undefined);
  });
  return collectResults(agent, cfg, deps, started);
}
