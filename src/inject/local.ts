// Runs the agent as a local process: the `pid/N` mode, where this machine is the node.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { AgentListener, agentArgs, type AgentHooks, type AgentRequest, type AgentSession } from './protocol.js';
import { EXIT, PyheapError } from '../core/errors.js';

export type { AgentExit, AgentHooks, AgentSession } from './protocol.js';

export function startLocalAgent(req: AgentRequest, payloads: string, hooks: AgentHooks): AgentSession {
  const child = spawn('sh', [path.join(payloads, 'shell', 'agent.sh'), ...agentArgs(req, payloads)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  const listener = new AgentListener(hooks);
  const lines = createInterface({ input: child.stderr });
  lines.on('line', (line) => listener.line(line));
  const done = new Promise<ReturnType<AgentListener['exit']>>((resolve, reject) => {
    child.on('error', (e) =>
      reject(
        new PyheapError('inject', `cannot run the agent: ${e.message}`, {
          hint: 'a POSIX sh must be installed',
          exitCode: EXIT.internal,
          cause: e,
        }),
      ),
    );
    child.on('close', (code, signal) => {
      lines.close();
      resolve(listener.exit(code ?? (signal ? 128 : 1)));
    });
  });
  return {
    stdout: child.stdout,
    done,
    // SIGCONT too: a frozen agent (SIGSTOP, a job-control stop) would never act on the SIGTERM
    interrupt: () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        child.kill('SIGCONT');
      }
    },
  };
}
