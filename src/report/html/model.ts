// From a run's JSON document(s) to what the page embeds: each view cut to its bound (LIMITS),
// the rest counted, so that the page of a five-million-object heap is as light as a small one.
import type { AnalysisDoc, DominatorTreeDoc, ReportInput, RunDoc } from './document.js';
import { fleetView, replicaLabel } from './fleet.js';
import { LIMITS, type Bounded, type Header, type PageData, type RunView } from './pageData.js';

/** The first `n` rows, the number left out, and (with `size`) what those add up to. */
export function bound<T>(xs: T[], n: number, size?: (x: T) => number, count?: (x: T) => number): Bounded<T> {
  const rows = xs.slice(0, n);
  const rest = xs.slice(n);
  return {
    rows,
    omitted: rest.length,
    ...(size ? { omittedSize: rest.reduce((s, x) => s + size(x), 0) } : {}),
    ...(count ? { omittedCount: rest.reduce((s, x) => s + count(x), 0) } : {}),
  };
}

function header(d: RunDoc): Header {
  const where: [string, string][] = [];
  const add = (k: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== '') where.push([k, String(v)]);
  };
  add('namespace', d.namespace);
  add('pod', d.pod);
  add('container', d.container);
  add('node', d.node);
  if (d.process) {
    add('PID in the container', d.process.pid);
    add('command', d.process.command);
  }
  add(d.pod ? 'host PID' : 'PID', d.python?.pid ?? d.process?.host_pid);
  add('executable', d.python?.executable);
  add('agent pod', d.agent_pod);
  add('agent image', d.agent ? (d.agent.image ?? (d.pod ? null : "none: this machine's gdb (pid/N)")) : d.agent_image);
  add('gdb', d.agent ? d.agent.gdb_version : d.gdb);
  add('run id', d.run_id);
  return {
    target: d.target,
    where,
    python: d.python ? `${d.python.implementation === 'cpython' || !d.python.implementation ? 'Python' : d.python.implementation} ${d.python.version}` : null,
    status: d.status,
    exception: d.exception ? `${d.exception.type}: ${d.exception.message}` : null,
    total: d.total ?? null,
    gc: d.gc ? { tracked: d.gc.tracked, frozen: d.gc.frozen } : null,
    censusSeconds: d.census_seconds ?? null,
    elapsedSeconds: d.elapsed_seconds ?? null,
    memory: d.memory ?? null,
    notes: (d.notes ?? []).slice(0, LIMITS.notes),
    outDir: d.out_dir ?? null,
  };
}

export function runView(d: RunDoc, label: string, typeLimit: number = LIMITS.types): RunView {
  const growthRows = (d.growth ?? []).filter((r) => r.count_delta !== 0 || r.size_delta !== 0);
  return {
    label,
    header: header(d),
    types: d.types
      ? bound(
          d.types,
          typeLimit,
          (t) => t.size,
          (t) => t.count,
        )
      : null,
    largest: d.largest ? bound(d.largest, LIMITS.largest, (l) => l.size) : null,
    retained:
      d.retained_by_type && d.snapshot_analysis
        ? {
            byType: bound(
              d.retained_by_type,
              LIMITS.retainedTypes,
              (t) => t.retained_size,
              (t) => t.count,
            ),
            retainers: bound(d.retainers ?? [], LIMITS.retainers),
            snapshot: d.snapshot_analysis,
            analysisSeconds: d.analysis_seconds ?? 0,
            tree: d.dominator_tree ? treeBound(d.dominator_tree) : null,
          }
        : null,
    growth:
      d.growth || d.referrers
        ? {
            seconds: d.growth_seconds ?? null,
            total: d.growth_total ?? null,
            rows: bound(growthRows, LIMITS.growth),
            referrers: bound(
              (d.referrers ?? []).map((r) => ({ type: r.type, chains: bound(r.chains, LIMITS.chains) })),
              LIMITS.referrerTypes,
            ),
          }
        : null,
    threads: d.threads
      ? bound(
          d.threads.map((t) => ({ name: t.name, daemon: t.daemon, frames: bound(t.frames, LIMITS.frames) })),
          LIMITS.threads,
        )
      : null,
    trace: d.trace
      ? {
          seconds: d.trace.seconds,
          bySize: bound(d.trace.by_size, LIMITS.sites),
          byCount: bound(d.trace.by_count, LIMITS.sites),
          note: d.trace.note,
        }
      : null,
  };
}

/** At most LIMITS.dominatorNodes of the tree: the largest, which keep their dominators (an
 * object retains more than anything it dominates), parents re-indexed. */
export function treeBound(t: DominatorTreeDoc, limit: number = LIMITS.dominatorNodes): DominatorTreeDoc {
  if (t.nodes.length <= limit) return t;
  const keep = new Set(
    t.nodes
      .map((n, i) => [n.retained_size, i] as const)
      .sort((x, y) => y[0] - x[0] || x[1] - y[1])
      .slice(0, limit)
      .map(([, i]) => i),
  );
  const at = new Map<number, number>();
  const nodes: DominatorTreeDoc['nodes'] = [];
  t.nodes.forEach((n, i) => {
    if (!keep.has(i)) return;
    let p = n.parent;
    while (p >= 0 && !keep.has(p)) p = t.nodes[p]!.parent;
    at.set(i, nodes.length);
    nodes.push({ ...n, parent: p >= 0 ? (at.get(p) ?? -1) : -1 });
  });
  return { ...t, nodes };
}

function analysisRun(a: AnalysisDoc): RunDoc {
  return {
    target: a.snapshot.file,
    run_id: null,
    python: null,
    status: 'ok',
    retainers: a.retainers,
    retained_by_type: a.retained_by_type,
    snapshot_analysis: a.snapshot,
    analysis_seconds: a.analysis_seconds,
    ...(a.dominator_tree ? { dominator_tree: a.dominator_tree } : {}),
    notes: [],
  };
}

export interface BuildOptions {
  generated: Date;
  tool?: string;
}

/** The page's data for one document. Pure: the same input and time give the same page. */
export function pageData(input: ReportInput, o: BuildOptions): PageData {
  const base = { generated: o.generated.toISOString(), tool: o.tool ?? 'kubectl-pyheap' };
  if (input.kind === 'fleet') {
    const runs = input.doc.runs;
    const fleet = fleetView(input.doc.target, runs, input.doc.failures ?? []);
    return {
      ...base,
      kind: 'fleet',
      title: `${input.doc.target}: ${runs.length} ${fleet.unit}`,
      runs: runs.map((r) => runView(r, replicaLabel(r, runs), LIMITS.fleetRunTypes)),
      fleet,
    };
  }
  if (input.kind === 'analysis') {
    return { ...base, kind: 'analysis', title: `snapshot ${input.doc.snapshot.file}`, runs: [runView(analysisRun(input.doc), 'snapshot')], fleet: null };
  }
  return { ...base, kind: 'run', title: input.doc.target, runs: [runView(input.doc, input.doc.target)], fleet: null };
}
