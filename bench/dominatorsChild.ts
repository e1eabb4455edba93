// The measured side of the dominator benchmark, run in a child process of its own so that its
// peak RSS is the analysis alone: times each phase on a snapshot file and prints JSON.
import { performance } from 'node:perf_hooks';
import { dominators } from '../src/analysis/dominators.js';
import { GraphBuilder } from '../src/analysis/graph.js';
import { readSnapshot, type SnapshotSink } from '../src/analysis/reader.js';
import { retainedByType, retainedSizes } from '../src/analysis/retained.js';
import { views } from '../src/analysis/views.js';
import { cooperHarveyKennedy, inducedSubgraph, sameIdom } from './chk.js';

const file = process.argv[2]!;
const baselineNodes = Number(process.argv[3] ?? 200_000);
/** Wall-clock and CPU seconds: the machine is shared, CPU time is the steadier figure. */
const now = () => performance.now() / 1000;
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const timers = new Map<string, { wall: number; cpu: number }>();
let mark = { wall: now(), cpu: cpu() };
const lap = (name: string) => {
  const m = { wall: now(), cpu: cpu() };
  timers.set(name, { wall: m.wall - mark.wall, cpu: m.cpu - mark.cpu });
  mark = m;
};
const rssBytes = () => process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB

const ignore = () => {};
const nullSink: SnapshotSink = { type: ignore, chunk: ignore, ids: ignore, typeIndexes: ignore, sizes: ignore, referenceCounts: ignore, referents: ignore, root: ignore };
mark = { wall: now(), cpu: cpu() };
await readSnapshot(file, nullSink);
lap('readOnly');
const rssAfterReadOnly = rssBytes();

const builder = new GraphBuilder();
const totals = await readSnapshot(file, builder);
lap('read');
const graph = builder.finish();
lap('build');
const dom = dominators(graph, graph.roots);
lap('dominators');
const retained = retainedSizes(graph.sizes, dom);
const byType = retainedByType(graph.types, graph.typeNames.length, retained, dom);
const v = views({ file, fileBytes: totals.bytes, writtenSeconds: totals.seconds, graph, dom, retained, byType, top: 25 });
lap('views');
const peakRss = rssBytes();

// the same-run baseline: the iterative data-flow algorithm on the first objects of the file
const sub = inducedSubgraph(graph, baselineNodes);
lap('subgraph');
const lt = dominators(sub, sub.roots);
lap('lt');
const chk = cooperHarveyKennedy(sub, sub.roots);
lap('chk');

process.stdout.write(
  `${JSON.stringify({
    objects: graph.n,
    references: graph.edgeTarget.length,
    fileBytes: totals.bytes,
    times: Object.fromEntries(timers),
    rssAfterReadOnly,
    peakRss,
    top: v.retainers.slice(0, 3).map((r) => `${r.type} ${(r.retained_size / 2 ** 20).toFixed(1)} MiB: ${r.chain.join(' > ')}`),
    unrooted: v.snapshot.unrooted_objects,
    baseline: { nodes: sub.n, edges: sub.edgeTarget.length, passes: chk.passes, agree: sameIdom(lt.idom, chk.idom) },
  })}\n`,
);
