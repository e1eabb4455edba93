// Census time and extra peak memory in the target per million objects: ours against a single
// pass over gc.get_objects() counting types, objgraph.typestats (where installed), and the
// seed's sample script at a size where it finishes. Baselines run in the same target, in the
// same run, through --script (with the trace function of the wrapper switched off).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, ROOT } from '../test/support/cli.js';
import { startContainer, type ContainerTarget } from '../test/support/container.js';
import type { Interpreter } from '../test/support/pythons.js';
import { cli, extraPeak, mb, scratch, sec, table } from './support.js';

interface Measure {
  seconds: number;
  extraBytes: number;
  objects: number;
  seen: number;
}

async function ours(t: ContainerTarget): Promise<Measure> {
  const { result, extraBytes } = await extraPeak(t.pid, () => cli([`pid/${t.pid}`, '-o', 'json', '--timeout', '10m']));
  if (result.code !== 0) throw new Error(result.stderr);
  const doc = JSON.parse(result.stdout) as { census_seconds: number; total: { count: number } };
  return { seconds: doc.census_seconds, extraBytes, objects: doc.total.count, seen: doc.total.count };
}

/** Runs `body` inside the target, timed there; `seen` says how many objects it counted. */
async function baseline(t: ContainerTarget, name: string, body: string, objects: number, seen: (stdout: string, outDir: string) => number): Promise<Measure> {
  const file = path.join(scratch, `${name}.py`);
  writeFileSync(file, `import sys, time\nsys.settrace(None)\n_t0 = time.perf_counter()\n${body}\nprint('elapsed', time.perf_counter() - _t0)\n`);
  const { result, extraBytes } = await extraPeak(t.pid, () => cli([`pid/${t.pid}`, '--script', file, '--timeout', '30m']));
  if (result.code !== 0) throw new Error(`${name}: ${result.stderr}`);
  const elapsed = Number(/^elapsed (\S+)$/m.exec(result.stdout)?.[1]);
  return { seconds: elapsed, extraBytes, objects, seen: seen(result.stdout, result.outDir) };
}

const printedSeen = (stdout: string) => Number(/^seen (\d+)$/m.exec(stdout)?.[1]);

const SINGLE_PASS = `import gc
counts = {}
for o in gc.get_objects():
    t = type(o)
    counts[t] = counts.get(t, 0) + 1
print('seen', sum(counts.values()))`;

const NAIVE_WALK = `import gc, sys
stack = gc.get_objects()  # first: the walk's own containers must not be in it
seen_ids = set(map(id, stack))
counts = {}
seen_ids.update((id(seen_ids), id(counts), id(stack)))  # never walk the walk's own containers
while stack:
    o = stack.pop()
    t = type(o)
    e = counts.get(t)
    s = sys.getsizeof(o)
    if e is None:
        counts[t] = [1, s]
    else:
        e[0] += 1
        e[1] += s
    for r in gc.get_referents(o):
        if id(r) not in seen_ids:
            seen_ids.add(id(r))
            stack.append(r)
print('seen', sum(c for c, s in counts.values()))`;

function rows(label: string, ms: [string, Measure][]): string {
  const base = ms[0]![1];
  const perM = (m: Measure) => 1e6 / m.objects;
  return `${label}\n${table([
    ['method', 'objects seen', 'time', 'extra peak', 'time per M objects', 'memory per M objects', 'time vs ours', 'memory vs ours'],
    ...ms.map(([name, m]) => [
      name,
      `${((100 * m.seen) / m.objects).toFixed(0)}%`,
      sec(m.seconds),
      mb(m.extraBytes),
      sec(m.seconds * perM(m)),
      mb(m.extraBytes * perM(m)),
      `${(m.seconds / base.seconds).toFixed(2)}x`,
      `${(m.extraBytes / Math.max(1, base.extraBytes)).toFixed(2)}x`,
    ]),
  ])}`;
}

export async function runCensusBench(python: Interpreter, debian: Interpreter | undefined, objgraph: boolean): Promise<string> {
  const out: string[] = [];
  const big = await startContainer({ python, script: path.join(FIXTURES, 'heap_target.py'), args: ['1000000'], uid: 1000 });
  try {
    await ours(big); // warm-up: the first injection warms interpreter caches once
    const o = await ours(big);
    const single = await baseline(big, 'single_pass', SINGLE_PASS, o.objects, printedSeen);
    const naive = await baseline(big, 'naive_walk', NAIVE_WALK, o.objects, printedSeen);
    out.push(
      rows(`Census of ${o.objects.toLocaleString('en-US')} objects (${python.label})`, [
        ['ours (every object, untracked included)', o],
        ['one pass over gc.get_objects() (tracked only)', single],
        ['complete walk with an id set', naive],
      ]),
    );
  } finally {
    await big.stop();
  }
  if (debian && objgraph) {
    const t = await startContainer({ python: debian, script: path.join(FIXTURES, 'heap_target.py'), args: ['1000000'], uid: 1000 });
    try {
      await ours(t);
      const o = await ours(t);
      const og = await baseline(t, 'objgraph', "import objgraph\nprint('seen', sum(objgraph.typestats().values()))", o.objects, printedSeen);
      out.push(
        rows(`Census of ${o.objects.toLocaleString('en-US')} objects (${debian.label}, objgraph from python3-objgraph)`, [
          ['ours', o],
          ['objgraph.typestats() (tracked only)', og],
        ]),
      );
    } finally {
      await t.stop();
    }
  } else {
    out.push("objgraph.typestats: skipped (python3-objgraph is not installed for Debian's python3)");
  }
  const small = await startContainer({ python, script: path.join(FIXTURES, 'heap_target.py'), args: ['40000'], uid: 1000 });
  try {
    await ours(small);
    const o = await ours(small);
    const seed = await baseline(small, 'seed', readFileSync(path.join(ROOT, 'bench', 'seed_census.py'), 'utf8'), o.objects, (_, dir) =>
      readFileSync(path.join(dir, 'heap_alloc.txt'), 'utf8')
        .trim()
        .split('\n')
        .reduce((n, l) => n + Number(l.split(' ')[2]), 0),
    );
    out.push(
      rows(`Census of ${o.objects.toLocaleString('en-US')} objects, where the seed's script finishes (${python.label})`, [
        ['ours', o],
        ["the seed's sample script (gc.get_referrers per object)", seed],
      ]),
    );
  } finally {
    await small.stop();
  }
  return out.join('\n\n');
}
