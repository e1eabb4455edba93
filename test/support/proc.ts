// Reads what the kernel says about a process (state, tracer, files in its /tmp), and gates a payload.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';

export interface ProcState {
  state: string;
  tracerPid: number;
  uid: number;
}

export function procState(pid: number): ProcState | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1] ?? '';
  return { state: field('State'), tracerPid: Number(field('TracerPid')), uid: Number(field('Uid')) };
}

/** Alive, running or sleeping (not stopped, not a zombie), and not traced. */
export function healthy(pid: number): string | null {
  const s = procState(pid);
  if (!s) return `process ${pid} is gone`;
  if (!['S', 'R', 'D'].includes(s.state)) return `process ${pid} is in state ${s.state}`;
  if (s.tracerPid !== 0) return `process ${pid} is traced by ${s.tracerPid}`;
  return null;
}

/** Entries of the process's own /tmp, seen through its mount namespace. */
export function tmpEntries(pid: number, dir = '/tmp'): string[] {
  return readdirSync(`/proc/${pid}/root${dir}`);
}

let gates = 0;
/** Python code for a payload that stays blocked in C (open of a FIFO) until open() is called: a
 * payload stuck past --timeout, without betting on how long a sleep outlasts the timeout on a
 * slow machine. The FIFO is in the target's /dev/shm (its /tmp must stay ours to check);
 * close() removes it. */
export function gate(pid: number): { code: string; open(): void; close(): void } {
  const name = `gate-${process.pid}-${++gates}`;
  const file = `/proc/${pid}/root/dev/shm/${name}`;
  execFileSync('mkfifo', ['-m', '0666', file]);
  return {
    code: `open('/dev/shm/${name}').read()\n`,
    open: () => {
      try {
        closeSync(openSync(file, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENXIO') throw e; // no reader: nothing blocked
      }
    },
    close: () => rmSync(file, { force: true }),
  };
}

/** The version of this machine's gdb (what pid/N injects with), as `gdb --version` ends its first line. */
export function localGdbVersion(): string {
  const first = execFileSync('gdb', ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
  return first.slice(first.lastIndexOf(' ') + 1);
}
