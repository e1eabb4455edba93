// The one error type of kubectl-pyheap: a stage, a one-line message, a hint naming the fix,
// the exit code, and the original cause. Only cli.ts prints it (through printer.ts).

export const EXIT = {
  ok: 0,
  payloadRaised: 1, // the injected code raised (SystemExit included)
  usage: 2,
  notFound: 3, // no such process, pod or container / not a CPython process
  permission: 4, // ptrace refused
  targetBusy: 5, // stopped, traced, or no safe point reached
  timeout: 6,
  transfer: 7, // results could not be copied back intact
  internal: 8,
  kube: 9, // the Kubernetes API refused or failed (RBAC, Pod Security, credentials, unreachable), or the agent pod could not start
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export type Stage = 'parse' | 'connect' | 'resolve' | 'agent' | 'inject' | 'payload' | 'collect' | 'report' | 'cleanup';

/** What kind of failure it is, for the code that must tell failures apart (never the text):
 * - api-refused: the API server answered no (RBAC, admission, not found, conflict): the request
 *   changed nothing. */
export type Reason = 'api-refused';

export class PyheapError extends Error {
  readonly stage: Stage;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly reason: Reason | undefined;

  constructor(stage: Stage, message: string, opts: { hint?: string; exitCode?: ExitCode; cause?: unknown; reason?: Reason } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PyheapError';
    this.stage = stage;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? EXIT.internal;
    this.reason = opts.reason;
  }
}

export function usageError(message: string, hint?: string): PyheapError {
  return new PyheapError('parse', message, { hint, exitCode: EXIT.usage });
}

/** Exit codes as documented in --help. */
export const EXIT_CODES_HELP = [
  '  0  the heap was read (or the injected code ran) successfully',
  '  1  the injected code raised an exception (sys.exit() included)',
  '  2  bad command line, or a kubeconfig that cannot be read or lacks what the flags name',
  '  3  no such process, pod or container, or not a CPython process',
  '  4  permission denied (ptrace refused)',
  '  5  target stopped, already traced, or busy in C code holding the GIL',
  '  6  timed out (--timeout)',
  '  7  results could not be copied back intact',
  '  8  internal error (gdb failure, unexpected agent output)',
  '  9  Kubernetes API or agent pod failure (unreachable, credentials, RBAC, Pod Security, image)',
  '130  interrupted',
].join('\n');
