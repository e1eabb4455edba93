// Reads what the kernel says about a process: state, tracer, files in its /tmp.
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcState { state: string; tracerPid: number; uid: number }

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
