// The checks a run's results must pass before they are read: the agent's own verdict (stuck past
// its bound, an error it reported, a failed status), the archive as announced (end marker, size,
// sha256), and the run id the payload wrote. Each throws the one error that says what broke.
import { EXIT, PyheapError } from '../core/errors.js';
import type { AgentExit } from '../inject/protocol.js';
import type { Extracted } from './extract.js';
import type { Status } from './files.js';

/** The agent's verdict; `stuck`: the watchdog stopped it after `boundMs`. */
export function verifyExit(exit: AgentExit, stuck: boolean, boundMs: number): void {
  // (a session cut off after the bound was cut off by us)
  if (stuck && (!exit.error || exit.error.exitCode === EXIT.transfer)) {
    throw new PyheapError('collect', `the agent gave no result within ${Math.round(boundMs / 1000)}s and was stopped`, {
      hint: 'the node may be overloaded, or the agent stuck; retry (with a longer --timeout if the payload needs the time)',
      exitCode: EXIT.timeout,
    });
  }
  if (exit.error) throw exit.error;
  if (exit.code !== 0) {
    throw new PyheapError('inject', `the agent failed with status ${exit.code}${exit.stray.length ? `: ${exit.stray.at(-1)}` : ''}`, {
      hint: 'run again with -v',
      exitCode: EXIT.internal,
    });
  }
}

/** The archive arrived whole: its end marker, and the size and sha256 the agent announced. */
export function verifyTransfer(x: Extracted | undefined, exit: AgentExit): asserts x is Extracted {
  const broken = (why: string) =>
    new PyheapError('collect', `the results arrived incomplete: ${why}`, {
      hint: 'run again; if it persists, run with -v',
      exitCode: EXIT.transfer,
    });
  if (!x) throw broken('no archive');
  if (!x.complete) throw broken(`the archive has no end marker after ${x.bytes} bytes`);
  if (!exit.result) throw broken('the agent did not announce the archive size');
  if (exit.result.bytes !== x.bytes) throw broken(`received ${x.bytes} of ${exit.result.bytes} bytes`);
  if (exit.result.sha256 !== x.sha256) throw broken('the sha256 of the archive does not match');
}

/** status.json is this run's: the payload wrote the run id the agent gave it. */
export function verifyRunId(status: Status, exit: AgentExit): void {
  if (exit.runId && status.run_id !== exit.runId) {
    throw new PyheapError('collect', `the results belong to another run (${status.run_id ?? 'none'}, not ${exit.runId})`, {
      hint: 'something in the target rewrote our files; run again',
      exitCode: EXIT.transfer,
    });
  }
}
