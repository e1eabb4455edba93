// Finds the host PID of the Python process(es) of a container: runs payloads/shell/find_pids.sh in the
// agent pod (which sees the node's PIDs) and chooses among what it lists: --pid N (as seen
// inside the container), --all-processes, or else the largest Python process by RSS.
import { EXIT, PyheapError } from '../core/errors.js';
import { humanSize } from '../core/units.js';
import type { Api } from '../kube/api.js';
import { apiError } from '../kube/apiErrors.js';
import { packBundle, sessionCommand, type BundleFile } from './bundle.js';
import { openExec, type ExecTarget } from '../kube/exec.js';

export interface ProcessInfo {
  /** PID as the node (and the agent pod) sees it. */
  hostPid: number;
  /** PID inside the container's PID namespace. */
  pid: number;
  rssKiB: number;
  python: boolean;
  command: string;
}

/** The lines find_pids.sh prints. Pure. */
export function parseProcesses(text: string): ProcessInfo[] | undefined {
  const procs: ProcessInfo[] = [];
  let counted: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^PYHEAP proc (\d+) (\d+) (\d+) (yes|no) ?(.*)$/.exec(line);
    if (m) procs.push({ hostPid: Number(m[1]), pid: Number(m[2]), rssKiB: Number(m[3]), python: m[4] === 'yes', command: m[5] ?? '' });
    const c = /^PYHEAP procs (\d+)$/.exec(line);
    if (c) counted = Number(c[1]);
  }
  return counted === procs.length ? procs : undefined;
}

export interface Choice {
  chosen: ProcessInfo[];
  notice?: string;
}

/** Which process(es) to inspect. Pure. */
export function chooseProcesses(all: ProcessInfo[], where: string, o: { pid?: number; allProcesses: boolean }): Choice {
  const python = all.filter((p) => p.python).sort((a, b) => b.rssKiB - a.rssKiB || a.pid - b.pid);
  const list = (ps: ProcessInfo[]) => ps.map((p) => `  pid ${String(p.pid).padStart(6)}  rss ${humanSize(p.rssKiB * 1024).padStart(10)}  ${p.command}`).join('\n');
  if (o.pid !== undefined) {
    const p = all.find((x) => x.pid === o.pid);
    if (!p) {
      throw new PyheapError('resolve', `no process with PID ${o.pid} in ${where}`, {
        hint: `its processes, by PID inside the container: ${all.map((x) => `${x.pid} (${x.command.slice(0, 40)})`).join(', ') || 'none'}`,
        exitCode: EXIT.notFound,
      });
    }
    return { chosen: [p] };
  }
  if (python.length === 0) {
    throw new PyheapError(
      'resolve',
      `no Python process in ${where} (${all.length} process${all.length === 1 ? '' : 'es'}: ${all.map((p) => `${p.pid} ${p.command.slice(0, 40)}`).join('; ') || 'none'})`,
      { hint: all.length ? 'pick the container that runs Python with -c, or a process with --pid' : 'the container has no process: has it just restarted?', exitCode: EXIT.notFound },
    );
  }
  if (python.length === 1) return { chosen: python };
  if (o.allProcesses) return { chosen: python, notice: `${where} runs ${python.length} Python processes; inspecting all of them:\n${list(python)}` };
  return {
    chosen: [python[0]!],
    notice: `${where} runs ${python.length} Python processes; inspecting the largest (pid ${python[0]!.pid}), --pid N for another, --all-processes for all:\n${list(python)}`,
  };
}

/** Runs find_pids.sh for one container in the agent pod. */
export async function listContainerProcesses(api: Api, agent: ExecTarget, containerID: string, files: BundleFile[], runId: string, timeoutMs: number): Promise<ProcessInfo[]> {
  const bundle = await packBundle(files);
  let session;
  try {
    session = await openExec(api, agent, sessionCommand(bundle.length, runId, 'find-pids', [containerID]));
  } catch (e) {
    throw apiError(e, 'resolve', `exec in the agent pod ${agent.pod}`);
  }
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  session.stdout.on('data', (d: Buffer) => out.push(d));
  session.stderr.on('data', (d: Buffer) => err.push(d));
  const timer = setTimeout(() => session.close(), timeoutMs);
  try {
    await session.write(bundle);
    const exit = await session.done;
    const stderr = Buffer.concat(err).toString('utf8').trim();
    if (exit.code !== 0) {
      const why = exit.dropped
        ? 'the exec session dropped'
        : exit.code === null
          ? (exit.status?.message ?? 'no exit status')
          : `exit code ${exit.code}${stderr ? `: ${stderr.split('\n').at(-1)}` : ''}`;
      throw new PyheapError('resolve', `cannot list the processes of the container from agent pod ${agent.pod} (${why})`, {
        hint: /executable file not found|not found/.test(why) ? 'the agent image needs sh, head, tar, grep and awk; check --image' : 'run again with -v',
        exitCode: EXIT.kube,
      });
    }
    const procs = parseProcesses(Buffer.concat(out).toString('utf8'));
    if (!procs) throw new PyheapError('resolve', `the process list from agent pod ${agent.pod} is incomplete`, { hint: 'run again', exitCode: EXIT.transfer });
    return procs;
  } finally {
    clearTimeout(timer);
    session.close();
  }
}
