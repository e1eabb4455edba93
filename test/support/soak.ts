// The injection soak, shared by the test (a short run) and the benchmark (200 injections):
// many injections in a row into a busy multithreaded target, each bounded; afterwards the
// target must be alive, running, untraced, with its open files and memory back where they were.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, runCli } from './cli.js';
import { startContainer } from './container.js';
import { healthy, tmpEntries } from './proc.js';
import type { Interpreter } from './pythons.js';

export interface SoakResult {
  runs: number;
  failures: string[];
  pausesMs: number[];
  rssStart: number;
  rssEnd: number;
  fdsStart: number;
  fdsEnd: number;
  health: string | null;
  leftInTmp: string[];
  /** Wall time from the start measurement to the end one. */
  elapsedMs: number;
  /** The target's RSS after each injection. */
  rssAfter: number[];
}

const rss = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function soak(python: Interpreter, runs: number, outDir: string, onProgress?: (i: number) => void): Promise<SoakResult> {
  const t = await startContainer({ python, script: path.join(FIXTURES, 'soak_target.py'), uid: 1000 });
  try {
    await sleep(1500); // let the allocators reach their steady state
    const rssStart = rss(t.pid);
    const fdsStart = fds(t.pid);
    const started = Date.now();
    const failures: string[] = [];
    const pausesMs: number[] = [];
    const rssAfter: number[] = [];
    for (let i = 0; i < runs; i++) {
      const from = t.output.length;
      const args = i % 5 === 4 ? [`pid/${t.pid}`, '-o', 'json'] : [`pid/${t.pid}`, '--exec', 'pass'];
      const r = await runCli([...args, '--timeout', '60s', '--out-dir', path.join(outDir, `soak-${i}`)], { timeoutMs: 120_000 });
      if (r.code !== 0) failures.push(`run ${i}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-6).join(' | ')}`);
      await sleep(100);
      const gaps = t.output
        .slice(from)
        .filter((l) => l.startsWith('gap '))
        .map((l) => Number(l.slice(4)));
      pausesMs.push(Math.max(0, ...gaps));
      rssAfter.push(rss(t.pid));
      const h = healthy(t.pid);
      if (h) {
        failures.push(`after run ${i}: ${h}`);
        break;
      }
      onProgress?.(i);
    }
    for (let i = 0; i < 50 && (tmpEntries(t.pid).length > 0 || fds(t.pid) > fdsStart); i++) await sleep(100);
    await sleep(1000);
    return { runs, failures, pausesMs, rssStart, rssEnd: rss(t.pid), fdsStart, fdsEnd: fds(t.pid), health: healthy(t.pid), leftInTmp: tmpEntries(t.pid), elapsedMs: Date.now() - started, rssAfter };
  } finally {
    await t.stop();
  }
}

/** The baseline of the soak: the same target left alone for `ms`, its RSS and fds at both ends. */
export async function idleControl(python: Interpreter, ms: number): Promise<Pick<SoakResult, 'rssStart' | 'rssEnd' | 'fdsStart' | 'fdsEnd'>> {
  const t = await startContainer({ python, script: path.join(FIXTURES, 'soak_target.py'), uid: 1000 });
  try {
    await sleep(1500);
    const rssStart = rss(t.pid);
    const fdsStart = fds(t.pid);
    await sleep(ms);
    return { rssStart, rssEnd: rss(t.pid), fdsStart, fdsEnd: fds(t.pid) };
  } finally {
    await t.stop();
  }
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
