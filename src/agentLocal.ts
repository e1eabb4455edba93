// Runs the agent as a local process: the `pid/N` mode, where this machine is the node.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { agentArgs, parseAgentLine, type AgentRequest } from './agentProtocol.js';
import { EXIT, PyheapError } from './errors.js';
import type { ProgressEvent } from './progress.js';

export interface AgentExit {
  code: number;
  /** The error the agent reported, if it reported one. */
  error?: PyheapError;
  /** Last lines that were not protocol lines, for diagnostics. */
  stray: string[];
  /** Size and sha256 of the results archive, as the agent announced them. */
  result?: { bytes: number; sha256: string };
}

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

export function startLocalAgent(req: AgentRequest, payloads: string, hooks: AgentHooks): AgentSession {
  const child = spawn('sh', [path.join(payloads, 'agent.sh'), ...agentArgs(req, payloads)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  let error: PyheapError | undefined;
  let result: { bytes: number; sha256: string } | undefined;
  const stray: string[] = [];
  const lines = createInterface({ input: child.stderr });
  lines.on('line', (line) => {
    const parsed = parseAgentLine(line);
    if (parsed.kind === 'event') hooks.onEvent(parsed.event);
    else if (parsed.kind === 'error') error = parsed.error;
    else if (parsed.kind === 'result') result = { bytes: parsed.bytes, sha256: parsed.sha256 };
    else if (parsed.kind === 'gdb') hooks.onTranscript(`gdb: ${parsed.text}`);
    else { stray.push(parsed.text); if (stray.length > 20) stray.shift(); }
  });
  const done = new Promise<AgentExit>((resolve, reject) => {
    child.on('error', (e) => reject(new PyheapError('inject', `cannot run the agent: ${e.message}`, {
      hint: 'a POSIX sh must be installed', exitCode: EXIT.internal, cause: e })));
    child.on('close', (code, signal) => {
      lines.close();
      resolve({ code: code ?? (signal ? 128 : 1), ...(error ? { error } : {}), ...(result ? { result } : {}), stray });
    });
  });
  return {
    stdout: child.stdout,
    done,
    interrupt: () => { if (child.exitCode === null) child.kill('SIGTERM'); },
  };
}
