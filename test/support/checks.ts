// What a run of a known fixture must report, shared by the tests that run it on each
// interpreter (pid/N on this machine's and in images): the census of census_target.py, exact,
// and the findings of leak_target.py (a type growing at a known rate, a module global holding a
// dict holding a list of records, one object retaining 30 MB through a cycle, named threads
// parked in a known function, an allocation loop at a known line).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, runCli } from './cli.js';
import { localGdbVersion } from './proc.js';

type Obj = Record<string, any>;
const MB = 1024 * 1024;
export const ALLOC_LINE =
  readFileSync(path.join(FIXTURES, 'leak_target.py'), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes('# ALLOC_LINE')) + 1;

/** How many of the largest objects have this type and a size in [min, max]. */
export const largest = (doc: Obj, type: string, min: number, max = min * 1.01 + 200): number => (doc.largest as Obj[]).filter((l) => l.type === type && l.size >= min && l.size <= max).length;

/** The pid/N census of `census_target.py MARKERS K` on Python 3.MINOR (run with --largest 40). */
export function checkCensus(doc: Obj, minor: number, o: { markers: number; k: number; pid: number }): void {
  const K = o.k;
  assert.equal(doc.types.find((x: Obj) => x.name === '__main__.Marker')?.count, o.markers, 'GC-tracked instances');
  assert.equal(largest(doc, 'bytes', 300007), K, 'untracked bytes');
  assert.equal(largest(doc, 'str', 200011), K, 'untracked str');
  assert.equal(largest(doc, 'tuple', 40009 * 8), K, 'untracked tuples held twice, counted once');
  assert.ok(largest(doc, 'dict', 20011 * 8, 20011 * 80) >= K, 'untracked dicts');
  const framesWalked = minor <= 10 || minor >= 13;
  assert.equal(largest(doc, 'bytes', 654321), framesWalked ? 1 : 0, 'held only by a running frame');
  assert.ok(doc.python.version.startsWith(`3.${minor}.`), doc.python.version);
  assert.equal(doc.python.pid, o.pid);
  assert.deepEqual(doc.agent, { image: null, gdb_version: localGdbVersion() }, "pid/N: no agent image, this machine's gdb");
  assert.ok(doc.total.count > o.markers && doc.total.size > K * (300007 + 200011) && doc.elapsed_seconds > 0);
  for (const row of doc.types) assert.ok(!row.name.includes('pyheap'), `the census counted its own objects: ${row.name}`);
  // the memory report: what the run cost the target
  const m = doc.memory as Obj;
  assert.ok(m.rss_before > 5e6 && m.rss_peak >= m.rss_before && m.rss_peak >= m.rss_after, JSON.stringify(m));
  assert.equal(m.extra_peak, m.rss_peak - m.rss_before);
}

/** Every finding of one run, checked against the fixture's known shape. */
export function checkFindings(doc: Obj): void {
  // growth: one Record every 10 ms, for 2 s
  const rec = (doc.growth as Obj[]).find((g) => g.name === '__main__.Record');
  assert.ok(rec, 'Record grew');
  assert.ok(rec.count_delta >= 100 && rec.count_delta <= 260, `Record grew by ${rec.count_delta} in 2 s (100 per second)`);
  // the totals are the rows' sums, and what the leak adds is more than any collection of the
  // garbage a payload's import leaves frees (the object count may fall by that: a real change)
  const sum = (k: string) => (doc.growth as Obj[]).reduce((a, g) => a + (g[k] as number), 0);
  assert.equal(doc.growth_total.count_delta, sum('count_delta'));
  assert.equal(doc.growth_total.size_delta, sum('size_delta'));
  assert.ok(doc.growth_total.size_delta > 0);
  // the chain names each step from the module global down to the record
  const chains = (doc.referrers as Obj[]).find((r) => r.type === '__main__.Record')?.chains as string[][];
  assert.ok(chains?.length, 'chains for the top grower');
  for (const c of chains) {
    assert.deepEqual(c.slice(0, 3), ['module __main__', '.STORE', "['records']"]);
    assert.match(c[3]!, /^\[\d+\]$/);
    assert.equal(c.at(-1), '-> __main__.Record');
  }
  const retainer = (doc.referrers as Obj[]).find((r) => r.type === '__main__.Retainer')?.chains as string[][];
  assert.deepEqual(retainer[0], ['module __main__', '.RETAINER', '-> __main__.Retainer']);
  // threads parked in a known function
  const parkers = (doc.threads as Obj[]).filter((t) => /^parker-\d$/.test(t.name));
  assert.equal(parkers.length, 2);
  for (const t of parkers) assert.ok((t.frames as Obj[]).some((fr) => fr.function === 'park_here' && fr.file.endsWith('leak_target.py')));
  assert.ok((doc.threads as Obj[]).some((t) => t.name === 'grower' && (t.frames as Obj[]).some((fr) => fr.function === 'grow')));
  // the allocation loop, seen by tracemalloc
  const site = (doc.trace.by_size as Obj[]).find((s) => s.file.endsWith('leak_target.py') && s.line === ALLOC_LINE);
  assert.ok(site && site.size_delta > 100_000, `the allocation line ${ALLOC_LINE} grew: ${JSON.stringify(doc.trace.by_size.slice(0, 3))}`);
  // retained size through a cycle: the Retainer holds the 30 MB bytearray (above it, only the
  // namespaces that hold everything: a module's dict, the main frame)
  const top = (doc.retainers as Obj[]).find((x) => x.type === '__main__.Retainer');
  assert.ok(top, `the Retainer is among the top retainers: ${JSON.stringify(doc.retainers.slice(0, 3))}`);
  assert.ok(top.retained_size >= 30 * MB && top.retained_size < 31 * MB, `retained ${top.retained_size}`);
  const byType = (doc.retained_by_type as Obj[]).find((t) => t.name === '__main__.Retainer');
  assert.ok(byType && byType.retained_size >= 30 * MB);
  assert.ok(doc.snapshot.objects > 1000 && doc.snapshot.references > doc.snapshot.objects);
}

/** Injected code that fails in each way a user's code can (--exec and --script): exit code 1,
 * what it printed and its traceback come back, and the target lives on (the caller checks). */
export interface InjectedFailure {
  what: string;
  source: string;
  script?: string;
  stdout?: RegExp;
  stderr: RegExp[];
}
export const INJECTED_FAILURES: InjectedFailure[] = [
  {
    what: '--exec: sys.exit() is reported, the target lives on',
    source: 'import sys\nprint("before exit")\nsys.exit(3)',
    stdout: /before exit/,
    stderr: [/error: the injected code raised SystemExit: 3/],
  },
  { what: '--exec: KeyboardInterrupt comes back with its traceback', source: 'def f():\n    raise KeyboardInterrupt("stop")\nf()', stderr: [/File "<exec>", line 2, in f/, /KeyboardInterrupt: stop/] },
  { what: '--exec: a syntax error is reported with its line', source: 'x = 1\ndef (:\n', stderr: [/SyntaxError/, /line 2/] },
  {
    what: '--script: sys.exit() is reported, the target lives on',
    script: 'exits.py',
    source: 'import sys\nprint("before exit")\nsys.exit("bye")\n',
    stdout: /before exit/,
    stderr: [/error: the injected code raised SystemExit: bye/],
  },
  {
    what: '--script: KeyboardInterrupt comes back with its traceback, named by the file',
    script: 'interrupted.py',
    source: 'def f():\n    raise KeyboardInterrupt("stop")\nf()\n',
    stderr: [/File "<interrupted\.py>", line 2, in f/, /KeyboardInterrupt: stop/],
  },
  { what: '--script: a syntax error is reported with its file and line', script: 'broken.py', source: 'x = 1\ndef (:\n', stderr: [/SyntaxError/, /broken\.py.*line 2|line 2.*broken\.py/s] },
];

/** The command-line arguments that inject one InjectedFailure (a --script is written into `scratch`). */
export function injectedArgs(c: InjectedFailure, scratch: string): string[] {
  if (!c.script) return ['--exec', c.source];
  const file = path.join(scratch, c.script);
  writeFileSync(file, c.source);
  return ['--script', file];
}

/** What a run of one InjectedFailure must have said, wherever it ran (pid/N or a pod). */
export function checkInjectedResult(r: { code: number; stdout: string; stderr: string }, c: InjectedFailure): void {
  assert.equal(r.code, 1, r.stderr);
  if (c.stdout) assert.match(r.stdout, c.stdout);
  for (const re of c.stderr) assert.match(r.stderr, re);
}

/** Runs one InjectedFailure against pid/PID (a --script is written into `scratch`). */
export async function checkInjectedFailure(pid: number, c: InjectedFailure, scratch: string, outDir: string): Promise<void> {
  checkInjectedResult(await runCli([`pid/${pid}`, ...injectedArgs(c, scratch), '--out-dir', outDir]), c);
}
