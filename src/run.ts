// The pipeline of a local run, top to bottom: target -> agent (gdb) -> payload -> results ->
// report. Each stage is a call; cleanup is registered as soon as something exists.
import { promises as fs } from 'node:fs';
import { startLocalAgent, type AgentExit } from './agentLocal.js';
import type { AgentRequest } from './agentProtocol.js';
import type { Cleanup } from './cleanup.js';
import { EXIT, PyheapError } from './errors.js';
import { payloadDir } from './payloads.js';
import type { Progress } from './progress.js';
import { extractResults, type Extracted } from './results.js';
import { placeMember, readCensus, readStatus, readText, type Census, type Status } from './report.js';
import type { Target } from './target.js';

export interface RunConfig {
  target: Target;
  mode: 'census' | 'script';
  /** The user's code, a file on this machine (mode script). */
  scriptFile?: string;
  scriptName?: string;
  timeoutMs: number;
  largest: number;
  safepointWaitSeconds: number;
  outDir: string;
  /** The directory is ours (new): remove it if the run fails. */
  ownsOutDir: boolean;
  maxResultBytes: number;
  verbose: boolean;
}

export interface RunResult {
  status: Status;
  census?: Census;
  stdout: string;
  stderr: string;
  files: string[];
  outDir: string;
  elapsedMs: number;
}

export interface RunDeps {
  progress: Progress;
  cleanup: Cleanup;
  transcript(line: string): void;
}

export async function runLocal(cfg: RunConfig, deps: RunDeps): Promise<RunResult> {
  const started = performance.now();
  deps.progress.emit({ kind: 'resolving', target: `pid/${cfg.target.pid}` });
  const req: AgentRequest = {
    pid: cfg.target.pid,
    mode: cfg.mode,
    ...(cfg.scriptFile ? { scriptPath: cfg.scriptFile, scriptName: cfg.scriptName ?? 'script.py' } : {}),
    timeoutSeconds: Math.max(1, Math.ceil(cfg.timeoutMs / 1000)),
    largest: cfg.largest,
    safepointWaitSeconds: cfg.safepointWaitSeconds,
    verbose: cfg.verbose,
  };
  const agent = startLocalAgent(req, payloadDir(), { onEvent: (e) => deps.progress.emit(e), onTranscript: deps.transcript });
  let agentExited = false;
  deps.cleanup.add('stop the agent', async () => {
    if (agentExited) return;
    agent.interrupt();
    await agent.done.catch(() => undefined);
  });
  let keepOutDir = false;
  deps.cleanup.add('remove an incomplete output directory', async () => {
    if (!keepOutDir && cfg.ownsOutDir) await fs.rm(cfg.outDir, { recursive: true, force: true });
  });

  // The agent's own deadline is --timeout plus its waits; this one only catches a stuck agent.
  const watchdog = setTimeout(() => agent.interrupt(), cfg.timeoutMs + (cfg.safepointWaitSeconds + 60) * 1000);
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
    agentExited = true;
    await extraction;
  } finally {
    clearTimeout(watchdog);
  }
  if (exit.error) throw exit.error;
  if (exit.code !== 0) {
    throw new PyheapError('inject', `the agent failed with status ${exit.code}${exit.stray.length ? `: ${exit.stray.at(-1)}` : ''}`, {
      hint: 'run again with -v', exitCode: EXIT.internal });
  }
  if (extractError) throw extractError;
  checkTransfer(extracted, exit);

  const status = await readStatus(cfg.outDir);
  const result: RunResult = {
    status,
    stdout: await readText(cfg.outDir, 'stdout.txt'),
    stderr: await readText(cfg.outDir, 'stderr.txt'),
    files: (extracted?.files ?? []).filter((f) => !f.startsWith('.pyheap/')),
    outDir: cfg.outDir,
    elapsedMs: performance.now() - started,
  };
  if (cfg.mode === 'census' && status.status === 'ok') result.census = await readCensus(cfg.outDir);
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
