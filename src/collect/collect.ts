// The second half of every run, wherever the agent runs: receive the results archive, check it
// (collect/verify.ts), then read what the payload wrote (collect/files.ts) and, for a snapshot,
// compute retained sizes.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AgentExit, AgentSession, Memory } from '../inject/protocol.js';
import { verifyExit, verifyRunId, verifyTransfer } from './verify.js';
import type { Cleanup } from '../core/cleanup.js';
import type { Progress } from '../core/progress.js';
import { agentBoundMs, SNAPSHOT_FILE, type RunSettings } from '../inject/request.js';
import { extractResults, type Extracted } from './extract.js';
import { placeMember, readCensus, readStatus, readText, type Census, type Status } from './files.js';
import type { Analysis } from '../analysis/command.js';

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

/** The second half of every run, wherever the agent runs: receive and check the results
 * archive (end marker, size and sha256 as announced), then read what the payload wrote. */
/** Where a run's results go. */
export interface OutDir {
  outDir: string;
  /** The directory is ours (new): remove it if the run fails. */
  ownsOutDir: boolean;
}

export async function collectResults(agent: AgentSession, cfg: RunSettings & OutDir, deps: RunDeps, started: number): Promise<RunResult> {
  let keepOutDir = false;
  deps.cleanup.add('remove an incomplete output directory', async () => {
    if (!keepOutDir && cfg.ownsOutDir) await fs.rm(cfg.outDir, { recursive: true, force: true });
  });

  // past its bound the agent is stuck or gone silent (a node under load, a frozen agent pod):
  // it is asked to stop, the gentle way, and the run fails as timed out
  let stuck = false;
  const watchdog = setTimeout(() => {
    stuck = true;
    agent.interrupt();
  }, agentBoundMs(cfg));
  let extracted: Extracted | undefined;
  let extractError: unknown;
  let exit: AgentExit;
  try {
    const extraction = extractResults(agent.stdout, cfg.outDir, {
      place: placeMember,
      maxBytes: cfg.maxResultBytes,
      onProgress: (bytes) => deps.progress.emit({ kind: 'copying', bytes }),
    }).then(
      (x) => {
        extracted = x;
      },
      (e: unknown) => {
        extractError = e;
        agent.stdout.resume();
      },
    );
    exit = await agent.done;
    await extraction;
  } finally {
    clearTimeout(watchdog);
  }
  verifyExit(exit, stuck, agentBoundMs(cfg));
  if (extractError) throw extractError;
  verifyTransfer(extracted, exit);

  const status = await readStatus(cfg.outDir);
  verifyRunId(status, exit);
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
      const { analyzeFile } = await import('../analysis/command.js');
      const { DOMINATOR_NODES } = await import('../analysis/dominatorView.js');
      result.retained = await analyzeFile(path.join(cfg.outDir, SNAPSHOT_FILE), { top: cfg.top ?? 25, dominatorNodes: DOMINATOR_NODES });
    }
  }
  keepOutDir = true;
  return result;
}
