// Dominator-tree time for a 5-million-object snapshot: a synthetic heap written to a file, then
// reading, graph building, the dominator tree and the views timed apart in a child process (whose
// peak RSS is the analysis alone), against two baselines of the same run: reading the file
// without keeping anything, and Cooper-Harvey-Kennedy on a 200k-object subgraph.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { mb, scratch, sec, table } from './support.js';
import { writeSyntheticHeap } from './syntheticHeap.js';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Time {
  wall: number;
  cpu: number;
}
interface ChildReport {
  objects: number;
  references: number;
  fileBytes: number;
  unrooted: number;
  top: string[];
  times: Record<'readOnly' | 'read' | 'build' | 'dominators' | 'views' | 'lt' | 'chk', Time>;
  rssAfterReadOnly: number;
  peakRss: number;
  baseline: { nodes: number; edges: number; passes: number; agree: boolean };
}

export async function runDominatorBench(objects = Number(process.env.PYHEAP_BENCH_OBJECTS ?? 5_000_000)): Promise<string> {
  const file = path.join(scratch, 'synthetic.pyheap');
  const t = performance.now();
  const shape = writeSyntheticHeap(file, objects);
  const written = (performance.now() - t) / 1000;
  const out = execFileSync(process.execPath, [path.join(here, 'dominatorsChild.js'), file, '200000'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  rmSync(file, { force: true });
  const r = JSON.parse(out) as ChildReport;
  const x = r.times;
  const whole: Time = { wall: x.read.wall + x.build.wall + x.dominators.wall + x.views.wall, cpu: x.read.cpu + x.build.cpu + x.dominators.cpu + x.views.cpu };
  const row = (name: string, m: Time, base: Time, n = r.objects) => [name, sec(m.wall), sec(m.cpu), `${(n / m.cpu / 1e6).toFixed(2)} M/s`, `${(m.cpu / base.cpu).toFixed(1)}x`];
  const b = r.baseline;
  return [
    `dominators: synthetic heap of ${r.objects.toLocaleString('en-US')} objects, ${r.references.toLocaleString('en-US')} references ` +
      `(${shape.roots} roots, ${r.unrooted.toLocaleString('en-US')} objects unrooted); file ${mb(r.fileBytes)}, written in ${sec(written)}`,
    table([
      ['phase', 'wall', 'CPU', 'objects per CPU s', 'CPU vs reading alone'],
      row('reading alone (baseline: parse and check, keep nothing)', x.readOnly, x.readOnly),
      row('reading into typed arrays', x.read, x.readOnly),
      row('graph: ids -> indexes (hash table), edges', x.build, x.readOnly),
      row('dominator tree (Lengauer-Tarjan)', x.dominators, x.readOnly),
      row('retained sizes, by type, top 25 with chains', x.views, x.readOnly),
      row('whole analysis', whole, x.readOnly),
    ]),
    `peak RSS of the analysis process: ${mb(r.peakRss)} (${mb(r.rssAfterReadOnly)} after reading alone)`,
    '',
    table([
      [`same-run baseline: the first ${b.nodes.toLocaleString('en-US')} objects (${b.edges.toLocaleString('en-US')} references)`, 'wall', 'CPU', 'CPU vs ours'],
      ['ours (Lengauer-Tarjan)', sec(x.lt.wall), sec(x.lt.cpu), '1x'],
      [`Cooper-Harvey-Kennedy, ${b.passes} passes (${b.agree ? 'same tree' : 'A DIFFERENT TREE'})`, sec(x.chk.wall), sec(x.chk.cpu), `${(x.chk.cpu / x.lt.cpu).toFixed(1)}x`],
    ]),
    `largest retainers: ${r.top.join('; ')}`,
  ].join('\n');
}
