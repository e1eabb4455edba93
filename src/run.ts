// The pipeline of a local run, top to bottom: target -> agent (gdb) -> payload -> results ->
// report. Each stage is a call; cleanup is registered as soon as something exists. The second
// half (collectResults) is shared with pod runs (kube/podRun.ts), whose agent is an exec session.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startLocalAgent } from './agentLocal.js';
import type { AgentExit, AgentRequest, AgentSession, Memory } from './agentProtocol.js';
import type { Cleanup } from './cleanup.js';
import { EXIT, PyheapError } from './errors.js';
import { payloadDir } from './payloads.js';
import type { Progress } from './progress.js';
import { extractResults, type Extracted } from './results.js';
import { placeMember, readCensus, readStatus, readText, type Census, type Status } from './report.js';
import type { Target } from './target.js';
import type { Analysis } from './analysis/command.js';

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

export interface RunConfig extends RunSettings {
  target: Target;
  outDir: string;
  /** The directory is ours (new): remove it if the run fails. */
  ownsOutDir: boolean;
}

export interface RunResult {
  status: Status;
  census?: Census;
  stdout: string;
  stderr: string;
  files: string[];
  outDir: string;
  elapsedMs: number;
  /** Retained sizes, when a snapshot was taken. */
  retained?: Analysis;
  /** The target's resident memory around the run, as the agent sampled it. */
  memory?: Memory;
  /** The version of the agent's gdb. */
  gdb?: string;
}

export interface RunDeps {
  progress: Progress;
  cleanup: Cleanup;
  transcript(line: string): void;
}

export async function runLocal(cfg: RunConfig, deps: RunDeps): Promise<RunResult> {
  const started = performance.now();
  if (cfg.target.kind !== 'pid') throw new Error('runLocal needs a pid/N target');
  deps.progress.emit({ kind: 'resolving', target: `pid/${cfg.target.pid}` });
  const agent = startLocalAgent(agentRequest(cfg, cfg.target.pid, cfg.scriptFile), payloadDir(), { onEvent: (e) => deps.progress.emit(e), onTranscript: deps.transcript });
  let agentExited = false;
  void agent.done.then(() => { agentExited = true; }, () => { agentExited = true; });
  deps.cleanup.add('stop the agent', async () => {
    if (agentExited) return;
    agent.interrupt();
    await agent.done.catch(() => undefined);
  });
  return collectResults(agent, cfg, deps, started);
}

/** What the agent is asked to do; `scriptPath` is where the agent sees the user's code. */
export function agentRequest(cfg: RunSettings, pid: number, scriptPath: string | undefined): AgentRequest {
  const t = cfg.mode === 'census' ? cfg.tasks ?? {} : {};
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
  const t = cfg.mode === 'census' ? cfg.tasks ?? {} : {};
  return Math.ceil(Math.max(t.growthSeconds ?? 0, t.traceSeconds ?? 0));
}

/** The agent's own deadline is --timeout plus its waits; past this bound it is stuck. */
export function agentBoundMs(cfg: RunSettings): number {
  return cfg.timeoutMs + (windowSeconds(cfg) + cfg.safepointWaitSeconds + 60) * 1000;
}

/** The second half of every run, wherever the agent runs: receive and check the results
 * archive (end marker, size and sha256 as announced), then read what the payload wrote. */
export async function collectResults(agent: AgentSession, cfg: RunSettings & { outDir: string; ownsOutDir: boolean }, deps: RunDeps, started: number): Promise<RunResult> {
  let keepOutDir = false;
  deps.cleanup.add('remove an incomplete output directory', async () => {
    if (!keepOutDir && cfg.ownsOutDir) await fs.rm(cfg.outDir, { recursive: true, force: true });
  });

  // past its bound the agent is stuck or gone silent (a node under load, a frozen agent pod):
  // it is asked to stop, the gentle way, and the run fails as timed out
  let stuck = false;
  const watchdog = setTimeout(() => { stuck = true; agent.interrupt(); }, agentBoundMs(cfg));
  let extracted: Extracted | undefined;
  let extractError: unknown;
  let exit: AgentExit;
  try {
    const extraction = extractResults(agent.stdout, cfg.outDir, {
      place: placeMember,
      maxBytes: cfg.maxResultBytes,
      onProgress: (bytes) => deps.progress.emit({ kind: 'copying', bytes }),
    }).then((x) => { extracted = x; }, (e: unknown) => { extractError = e; agent.stdout.resume(); });
    exit = await agent.done;
    await extraction;
  } finally {
    clearTimeout(watchdog);
  }
  // (a session cut off after the bound was cut off by us)
  if (stuck && (!exit.error || exit.error.exitCode === EXIT.transfer)) {
    throw new PyheapError('collect', `the agent gave no result within ${Math.round(agentBoundMs(cfg) / 1000)}s and was stopped`, {
      hint: 'the node may be overloaded, or the agent stuck; retry (with a longer --timeout if the payload needs the time)', exitCode: EXIT.timeout });
  }
  if (exit.error) throw exit.error;
  if (exit.code !== 0) {
    throw new PyheapError('inject', `the agent failed with status ${exit.code}${exit.stray.length ? `: ${exit.stray.at(-1)}` : ''}`, {
      hint: 'run again with -v', exitCode: EXIT.internal });
  }
  if (extractError) throw extractError;
  checkTransfer(extracted, exit);

  const status = await readStatus(cfg.outDir);
  if (exit.runId && status.run_id !== exit.runId) {
    throw new PyheapError('collect', `the results belong to another run (${status.run_id ?? 'none'}, not ${exit.runId})`, {
      hint: 'something in the target rewrote our files; run again', exitCode: EXIT.transfer });
  }
  const result: RunResult = {
    status,
    stdout: await readText(cfg.outDir, 'stdout.txt'),
    stderr: await readText(cfg.outDir, 'stderr.txt'),
    files: (extracted?.files ?? []).filter((f) => !f.startsWith('.pyheap/')),
    outDir: cfg.outDir,
    elapsedMs: performance.now() - started,
    ...(exit.memory ? { memory: exit.memory } : {}),
    ...(exit.gdb ? { gdb: exit.gdb } : {}),
  };
  if (cfg.mode === 'census' && status.status === 'ok') {
    result.census = await readCensus(cfg.outDir);
    if (cfg.tasks?.snapshot) {
      deps.progress.emit({ kind: 'analysing', file: SNAPSHOT_FILE });
      const { analyzeFile } = await import('./analysis/command.js');
      const { DOMINATOR_NODES } = await import('./analysis/dominatorView.js');
      result.retained = await analyzeFile(path.join(cfg.outDir, SNAPSHOT_FILE), { top: cfg.top ?? 25, dominatorNodes: DOMINATOR_NODES });
    }
  }
  keepOutDir = true;
  return result;
}

function checkTransfer(x: Extracted | undefined, exit: AgentExit): asserts x is Extracted {
  const broken = (why: string) => new PyheapError('collect', `the results arrived incomplete: ${why}`, {
    hint: 'run again; if it persists, run with -v', exitCode: EXIT.transfer });
  if (!x) throw broken('no archive');
  if (!x.complete) throw broken(`the archive has no end marker after ${x.bytes} bytes`);
  if (!exit.result) throw broken('the agent did not announce the archive size');
  if (exit.result.bytes !== x.bytes) throw broken(`received ${x.bytes} of ${exit.result.bytes} bytes`);
  if (exit.result.sha256 !== x.sha256) throw broken('the sha256 of the archive does not match');
}
