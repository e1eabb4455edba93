// Shared pieces of the benchmarks: targets, the CLI, and what the kernel says about a target's
// memory. Every figure is measured in the same run as the baseline it is compared with.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, type CliResult } from '../test/support/cli.js';

export const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-bench-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
let outs = 0;

/** Runs the CLI with a fresh output directory, returned as `outDir`. */
export async function cli(args: string[]): Promise<CliResult & { outDir: string }> {
  const outDir = path.join(scratch, `out-${++outs}`);
  return { ...(await runCli([...args, '--out-dir', outDir], { timeoutMs: 30 * 60_000 })), outDir };
}

function statusField(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Runs `fn` and returns how far the target's resident memory peaked above where it was. */
export async function extraPeak<T>(pid: number, fn: () => Promise<T>): Promise<{ result: T; extraBytes: number }> {
  writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
  const before = statusField(pid, 'VmRSS');
  const result = await fn();
  return { result, extraBytes: statusField(pid, 'VmHWM') - before };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
export const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
export const sec = (s: number) => `${s.toFixed(3)} s`;

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}
