// Parses the TARGET argument into a value describing what to inspect. Pure.
import { usageError } from './errors.js';

export type Target = { kind: 'pid'; pid: number };

export function parseTarget(text: string): Target {
  const m = /^pid\/(\d+)$/.exec(text.trim());
  if (m) {
    const pid = Number(m[1]);
    if (pid > 0 && pid < 2 ** 31) return { kind: 'pid', pid };
  }
  if (/^\d+$/.test(text.trim())) {
    throw usageError(`target ${JSON.stringify(text)} is ambiguous`, `write pid/${text.trim()} for a local process`);
  }
  throw usageError(`target ${JSON.stringify(text)} is not understood`, 'use pid/<PID> for a process on this machine');
}

export function targetLabel(t: Target): string {
  return `pid-${t.pid}`;
}
