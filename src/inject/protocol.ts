// What the agent (payloads/shell/agent.sh) says on stderr, and how its arguments are written.
// Shared by every way of running the agent: a local process for pid/N, an exec session in
// the agent pod for Kubernetes.
import type { Readable } from 'node:stream';
import { EXIT, PyheapError, type ExitCode, type Stage } from '../core/errors.js';
import type { ProgressEvent } from '../core/progress.js';

export interface AgentRequest {
  pid: number;
  mode: 'census' | 'script';
  /** Path of the user's code where the agent runs (mode script). */
  scriptPath?: string;
  scriptName?: string;
  timeoutSeconds: number;
  largest: number;
  safepointWaitSeconds: number;
  verbose: boolean;
  /** Options for the payload, KEY=VALUE (growth=30, referrers=T1,T2, stacks=1, trace=10). */
  jobs?: string[];
  /** A FIFO the payload streams the snapshot into; saved as out/<stream>. */
  stream?: string;
  /** Proceed with a forked worker that shares its heap with its parent. */
  allowShared?: boolean;
  /** The agent refuses result files larger than this. */
  maxResultMb?: number;
}

export function agentArgs(req: AgentRequest, payloadDir: string): string[] {
  const args = ['--payloads', payloadDir, '--mode', req.mode, '--timeout', String(req.timeoutSeconds), '--largest', String(req.largest), '--safepoint-wait', String(req.safepointWaitSeconds)];
  if (req.mode === 'script' && req.scriptPath) {
    args.push('--script', req.scriptPath, '--script-name', req.scriptName ?? 'script.py');
  }
  for (const job of req.jobs ?? []) args.push('--job', job);
  if (req.stream) args.push('--stream', req.stream);
  if (req.allowShared) args.push('--allow-shared');
  if (req.maxResultMb !== undefined) args.push('--max-result-mb', String(req.maxResultMb));
  if (req.verbose) args.push('--verbose');
  args.push(String(req.pid));
  return args;
}

export type ErrorInfo = { exit: ExitCode; stage: Stage; hint: string };

export const AGENT_ERRORS: Record<string, ErrorInfo> = {
  usage: { exit: EXIT.internal, stage: 'inject', hint: 'this is a bug in kubectl-pyheap, please report it' },
  'no-such-process': { exit: EXIT.notFound, stage: 'resolve', hint: 'check the PID with ps -ef (the process may have exited or restarted)' },
  'not-python': { exit: EXIT.notFound, stage: 'resolve', hint: 'point it at the CPython process itself (for gunicorn or celery, one of the worker PIDs)' },
  'ptrace-refused': { exit: EXIT.permission, stage: 'inject', hint: 'run as root or with CAP_SYS_PTRACE, and check kernel.yama.ptrace_scope (3 forbids attaching) and seccomp' },
  'target-stopped': { exit: EXIT.targetBusy, stage: 'resolve', hint: 'resume it with kill -CONT <PID>, then retry' },
  'target-traced': { exit: EXIT.targetBusy, stage: 'resolve', hint: 'detach the other debugger (or let the other kubectl-pyheap run finish), then retry' },
  'no-safe-point': { exit: EXIT.targetBusy, stage: 'inject', hint: 'retry when the process is less busy, or give it longer with --safepoint-wait' },
  'payload-timeout': { exit: EXIT.timeout, stage: 'payload', hint: 'raise --timeout, or make the injected code do less' },
  'no-writable-dir': { exit: EXIT.internal, stage: 'inject', hint: 'the target needs a writable /tmp, /var/tmp or /dev/shm (an emptyDir volume works)' },
  'gdb-missing': { exit: EXIT.internal, stage: 'inject', hint: 'install gdb where the agent runs (apt-get install gdb), or pick an agent image that has it' },
  'gdb-failed': { exit: EXIT.internal, stage: 'inject', hint: 'run again with -v to see the gdb transcript' },
  'unsupported-arch': { exit: EXIT.internal, stage: 'inject', hint: 'x86_64 and aarch64 targets are supported, with gdb of the same architecture' },
  'unsupported-python': { exit: EXIT.notFound, stage: 'inject', hint: 'Python 3.6 processes must have started a thread; 3.7 and later always work' },
  'no-libc': { exit: EXIT.notFound, stage: 'resolve', hint: 'statically linked interpreters without libc are not supported' },
  'shared-pages': { exit: EXIT.targetBusy, stage: 'resolve', hint: 'add --allow-shared to count it anyway (the worker may grow by that much), or inspect the parent process' },
  'results-too-big': { exit: EXIT.transfer, stage: 'collect', hint: 'write less into PYHEAP_OUT' },
  internal: { exit: EXIT.internal, stage: 'collect', hint: 'run again with -v and report the output' },
};

export interface AgentExit {
  code: number;
  /** The error the agent reported, if it reported one. */
  error?: PyheapError;
  /** Last lines that were not protocol lines, for diagnostics. */
  stray: string[];
  /** Size and sha256 of the results archive, as the agent announced them. */
  result?: { bytes: number; sha256: string };
  /** The run id the agent gave the payload: status.json must carry the same. */
  runId?: string;
  /** The version of the gdb that injected, as it says it. */
  gdb?: string;
  /** The target's resident memory before, after and at its sampled peak, in bytes. */
  memory?: Memory;
}

export interface Memory {
  rssBefore: number;
  rssAfter: number;
  rssPeak: number;
}

/** A running agent, wherever it runs (a local process, an exec session in the agent pod). */
export interface AgentSession {
  /** The tar stream of results. */
  stdout: Readable;
  done: Promise<AgentExit>;
  /** Asks the agent to stop (it cleans the target up and never kills gdb mid-call). */
  interrupt(): void;
}

export interface AgentHooks {
  onEvent(e: ProgressEvent): void;
  onTranscript(line: string): void;
}

/** Reads the agent's stderr line by line: events go to the hooks, the rest is kept for exit(). */
export class AgentListener {
  private error: PyheapError | undefined;
  private result: { bytes: number; sha256: string } | undefined;
  private readonly stray: string[] = [];
  private runId: string | undefined;
  private memory: Memory | undefined;
  private gdb: string | undefined;

  constructor(private readonly hooks: AgentHooks) {}

  line(line: string): void {
    const parsed = parseAgentLine(line);
    if (parsed.kind === 'event') {
      if (parsed.event.kind === 'injecting' && parsed.event.gdb) this.gdb = parsed.event.gdb;
      this.hooks.onEvent(parsed.event);
    } else if (parsed.kind === 'error') this.error = parsed.error;
    else if (parsed.kind === 'result') this.result = { bytes: parsed.bytes, sha256: parsed.sha256 };
    else if (parsed.kind === 'run') this.runId = parsed.id;
    else if (parsed.kind === 'memory') this.memory = parsed.memory;
    else if (parsed.kind === 'gdb') this.hooks.onTranscript(`gdb: ${parsed.text}`);
    else {
      this.stray.push(parsed.text);
      if (this.stray.length > 20) this.stray.shift();
    }
  }

  exit(code: number): AgentExit {
    return {
      code,
      ...(this.error ? { error: this.error } : {}),
      ...(this.result ? { result: this.result } : {}),
      ...(this.runId ? { runId: this.runId } : {}),
      ...(this.memory ? { memory: this.memory } : {}),
      ...(this.gdb ? { gdb: this.gdb } : {}),
      stray: [...this.stray],
    };
  }
}

export type AgentLine =
  | { kind: 'event'; event: ProgressEvent }
  | { kind: 'error'; error: PyheapError }
  | { kind: 'result'; bytes: number; sha256: string }
  | { kind: 'run'; id: string }
  | { kind: 'memory'; memory: Memory }
  | { kind: 'gdb'; text: string }
  | { kind: 'other'; text: string };

/** Parses one stderr line of the agent. */
export function parseAgentLine(line: string): AgentLine {
  if (line.startsWith('gdb: ')) return { kind: 'gdb', text: line.slice(5) };
  const m = /^PYHEAP (\S+) ?(.*)$/.exec(line);
  if (!m) return { kind: 'other', text: line };
  const [, word, rest = ''] = m;
  switch (word) {
    case 'python':
      return { kind: 'event', event: { kind: 'python', file: rest } };
    case 'staged':
      return { kind: 'event', event: { kind: 'staged', dir: rest } };
    case 'injecting':
      return { kind: 'event', event: { kind: 'injecting', ...(/^\d[\w.+~-]*$/.test(rest) ? { gdb: rest } : {}) } };
    case 'injected':
      return { kind: 'event', event: { kind: 'injected', detail: describeThread(rest) } };
    case 'finished':
      return { kind: 'event', event: { kind: 'running' } };
    case 'error':
      return { kind: 'error', error: agentError(rest) };
    case 'run':
      return { kind: 'run', id: rest.trim() };
    case 'memory': {
      const [rssBefore = 0, rssAfter = 0, rssPeak = 0] = rest.split(' ').map(Number);
      return { kind: 'memory', memory: { rssBefore, rssAfter, rssPeak } };
    }
    case 'shared-heap': {
      const [bytes = 0, ppid = 0] = rest.split(' ').map(Number);
      return {
        kind: 'event',
        event: { kind: 'notice', text: `warning: this process shares ${(bytes / 1048576).toFixed(0)} MiB of heap with its parent ${ppid} (a forked worker): counting its objects copies those pages` },
      };
    }
    case 'result': {
      const [bytes, sha256] = rest.split(' ');
      return { kind: 'result', bytes: Number(bytes), sha256: sha256 ?? '' };
    }
    default:
      return { kind: 'other', text: line };
  }
}

// system call numbers differ by architecture (aarch64 has the asm-generic ones)
const SYSCALLS: Record<string, Record<string, string>> = {
  x86_64: {
    0: 'read',
    1: 'write',
    7: 'poll',
    23: 'select',
    35: 'nanosleep',
    43: 'accept',
    45: 'recvfrom',
    61: 'wait4',
    202: 'futex',
    230: 'clock_nanosleep',
    232: 'epoll_wait',
    270: 'pselect6',
    271: 'ppoll',
    281: 'epoll_pwait',
    288: 'accept4',
  },
  aarch64: {
    22: 'epoll_pwait',
    63: 'read',
    64: 'write',
    72: 'pselect6',
    73: 'ppoll',
    98: 'futex',
    101: 'nanosleep',
    115: 'clock_nanosleep',
    202: 'accept',
    207: 'recvfrom',
    242: 'accept4',
    260: 'wait4',
  },
};

function describeThread(rest: string): string {
  const [thread, syscall = '', arch = 'x86_64'] = rest.split(' ');
  return syscall === '-1' ? `borrowed thread ${thread} at the entry of PyObject_Malloc` : `borrowed thread ${thread}, idle in ${SYSCALLS[arch]?.[syscall] ?? `syscall ${syscall}`}`;
}

/** "CODE NAME DETAIL..." from an agent error line. */
export function agentError(rest: string): PyheapError {
  const m = /^(\d+) (\S+) ?(.*)$/.exec(rest);
  const name = m?.[2] ?? 'internal';
  const detail = m?.[3] || rest;
  const info = AGENT_ERRORS[name] ?? AGENT_ERRORS.internal!;
  return new PyheapError(info.stage, detail, { hint: info.hint, exitCode: info.exit, ...(name === 'gdb-missing' ? { reason: 'gdb-missing' as const } : {}) });
}
