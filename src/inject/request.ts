// How to run the payload, whatever the target (the settings a run's flags give), and the agent
// request made of them: the agent's arguments, its window and the bound past which it is stuck.
import type { AgentRequest } from './protocol.js';

/** The leak-finding options of a census run. */
export interface Tasks {
  growthSeconds?: number;
  traceSeconds?: number;
  referrers?: string[];
  samples?: number;
  stacks?: boolean;
  snapshot?: boolean;
}

export const SNAPSHOT_FILE = 'snapshot.pyheap';

/** How to run the payload, whatever the target. */
export interface RunSettings {
  mode: 'census' | 'script';
  /** The user's code, a file on this machine (mode script). */
  scriptFile?: string;
  scriptName?: string;
  timeoutMs: number;
  largest: number;
  safepointWaitSeconds: number;
  maxResultBytes: number;
  verbose: boolean;
  tasks?: Tasks;
  /** Count a forked worker that shares its heap with its parent anyway (copies those pages). */
  allowShared?: boolean;
  /** Rows of the retained-size views computed from a snapshot. */
  top?: number;
}

/** What the agent is asked to do; `scriptPath` is where the agent sees the user's code. */
export function agentRequest(cfg: RunSettings, pid: number, scriptPath: string | undefined): AgentRequest {
  const t = cfg.mode === 'census' ? (cfg.tasks ?? {}) : {};
  const jobs = [
    ...(t.growthSeconds ? [`growth=${t.growthSeconds}`] : []),
    ...(t.traceSeconds ? [`trace=${t.traceSeconds}`] : []),
    ...(t.referrers?.length ? [`referrers=${t.referrers.join(',')}`] : []),
    ...(t.samples ? [`samples=${t.samples}`] : []),
    ...(t.stacks ? ['stacks=1'] : []),
  ];
  return {
    pid,
    mode: cfg.mode,
    ...(cfg.mode === 'script' && scriptPath ? { scriptPath, scriptName: cfg.scriptName ?? 'script.py' } : {}),
    ...(jobs.length ? { jobs } : {}),
    ...(t.snapshot ? { stream: SNAPSHOT_FILE } : {}),
    ...(cfg.allowShared ? { allowShared: true } : {}),
    maxResultMb: Math.max(1, Math.floor(cfg.maxResultBytes / 1048576)),
    // --timeout bounds the work; a growth or trace window comes on top of it
    timeoutSeconds: Math.max(1, Math.ceil(cfg.timeoutMs / 1000) + windowSeconds(cfg)),
    largest: cfg.largest,
    safepointWaitSeconds: cfg.safepointWaitSeconds,
    verbose: cfg.verbose,
  };
}

/** The growth or trace window of a census run, in seconds. */
export function windowSeconds(cfg: RunSettings): number {
  const t = cfg.mode === 'census' ? (cfg.tasks ?? {}) : {};
  return Math.ceil(Math.max(t.growthSeconds ?? 0, t.traceSeconds ?? 0));
}

/** The agent's own deadline is --timeout plus its waits; past this bound it is stuck. */
export function agentBoundMs(cfg: RunSettings): number {
  return cfg.timeoutMs + (windowSeconds(cfg) + cfg.safepointWaitSeconds + 60) * 1000;
}
