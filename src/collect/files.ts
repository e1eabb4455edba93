// Turns the files the payload produced into the report: a pympler-like table for people and
// one JSON document for programs.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { EXIT, PyheapError } from '../core/errors.js';
import type { Findings } from '../report/findings.js';

export interface PythonInfo { version: string; implementation: string; pid: number; executable: string }
export interface TypeRow { name: string; count: number; size: number }
export interface Largest { type: string; size: number; id: number }

export interface Status {
  status: 'ok' | 'error' | 'timeout';
  run_id: string | null;
  python?: PythonInfo;
  elapsed_seconds?: number;
  exception?: { type: string; message: string; traceback: string };
}

export interface Census extends Findings {
  total: { count: number; size: number };
  types: TypeRow[];
  largest: Largest[];
  gc: { tracked: number; frozen: number; enabled: boolean };
  census_seconds: number;
  notes: string[];
}

export const CONTROL_DIR = '.pyheap';

/** Where each archive member goes: the payload's own files under .pyheap/, the rest as is. */
export function placeMember(name: string): string | null {
  if (name === 'status.json' || name === 'stdout.txt' || name === 'stderr.txt') return `${CONTROL_DIR}/${name}`;
  if (name === 'out') return null;
  if (name.startsWith('out/')) return name.slice(4);
  return null;
}

async function readJson<T>(file: string, what: string): Promise<T> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new PyheapError('report', `the payload did not produce ${what}`, { exitCode: EXIT.transfer, cause: e, hint: 'run again with -v' });
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new PyheapError('report', `${what} is not valid JSON`, { exitCode: EXIT.transfer, cause: e, hint: 'run again with -v' });
  }
}

export const readStatus = (outDir: string) => readJson<Status>(path.join(outDir, CONTROL_DIR, 'status.json'), 'a status');
export const readCensus = (outDir: string) => readJson<Census>(path.join(outDir, 'census.json'), 'a census');

export async function readText(outDir: string, name: string): Promise<string> {
  return fs.readFile(path.join(outDir, CONTROL_DIR, name), 'utf8').catch(() => '');
}

export function humanSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} B` : `${v.toFixed(2)} ${units[i]}`;
}

const group = (n: number) => n.toLocaleString('en-US');

export function censusTable(c: Census, python: PythonInfo | undefined, label: string, top: number): string {
  const rows = c.types.slice(0, top);
  const w = Math.max(28, ...rows.map((r) => r.name.length));
  const head = python
    ? `${label}: Python ${python.version} (pid ${python.pid} in its namespace, ${python.executable})`
    : label;
  const lines = [
    head,
    `${group(c.total.count)} objects, ${humanSize(c.total.size)} in total; ${group(c.gc.tracked)} tracked by the GC` +
      (c.gc.frozen ? `, ${group(c.gc.frozen)} frozen (gc.freeze) and not counted` : '') +
      `; counted in ${c.census_seconds.toFixed(2)} s`,
    '',
    `${'types'.padStart(w)} | ${'# objects'.padStart(11)} | ${'total size'.padStart(12)}`,
    `${'='.repeat(w)} | ${'='.repeat(11)} | ${'='.repeat(12)}`,
    ...rows.map((r) => `${r.name.padStart(w)} | ${String(r.count).padStart(11)} | ${humanSize(r.size).padStart(12)}`),
  ];
  if (c.types.length > rows.length) lines.push(`(${c.types.length - rows.length} more types; --top to show more, -o json for all)`);
  if (c.largest.length) {
    lines.push('', 'largest objects:');
    for (const l of c.largest.slice(0, Math.min(10, top))) lines.push(`  ${humanSize(l.size).padStart(12)}  ${l.type}  id=0x${l.id.toString(16)}`);
  }
  lines.push('', ...c.notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}
