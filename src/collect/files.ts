// The files a payload run leaves in the output directory (its status, stdout and stderr under
// .pyheap/, census.json and what PYHEAP_OUT held), their shapes, and how they are read.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { EXIT, PyheapError } from '../core/errors.js';

export interface PythonInfo {
  version: string;
  implementation: string;
  pid: number;
  executable: string;
}
export interface TypeRow {
  name: string;
  count: number;
  size: number;
}
export interface Largest {
  type: string;
  size: number;
  id: number;
}

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

// what the leak-finding options add to census.json (growth, referrer chains, thread stacks,
// allocation sites, the snapshot's numbers)
export interface GrowthRow {
  name: string;
  count_delta: number;
  size_delta: number;
  count: number;
  size: number;
}
export interface Referrers {
  type: string;
  chains: string[][];
}
export interface Frame {
  file: string;
  line: number;
  function: string;
}
export interface Thread {
  name: string;
  ident: number;
  daemon: boolean | null;
  frames: Frame[];
}
export interface Site {
  file: string;
  line: number;
  size_delta: number;
  count_delta: number;
  size: number;
  count: number;
}
export interface Trace {
  seconds: number;
  by_size: Site[];
  by_count: Site[];
  note: string;
}
export interface SnapshotInfo {
  objects: number;
  references: number;
  seconds: number;
  types: number;
}

/** The optional parts of census.json. */
export interface Findings {
  growth?: GrowthRow[];
  growth_seconds?: number;
  growth_total?: { count_delta: number; size_delta: number };
  referrers?: Referrers[];
  threads?: Thread[];
  trace?: Trace;
  snapshot?: SnapshotInfo;
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
