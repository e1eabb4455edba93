// `kubectl pyheap analyze FILE`: reads a snapshot, builds the graph and its dominator tree, and
// returns the views; the CLI prints them as text or JSON. Also used after `--snapshot`.
import { performance } from 'node:perf_hooks';
import { dominators } from './dominators.js';
import { GraphBuilder, type HeapGraph } from './graph.js';
import { readSnapshot } from './reader.js';
import { analysisTable } from './render.js';
import { retainedByType, retainedSizes } from './retained.js';
import { views, type Analysis } from './views.js';
import { dominatorTreeView } from './dominatorView.js';

export type { Analysis, Retainer, SnapshotInfo, TypeRetained } from './views.js';

/** dominatorNodes: also the top of the dominator tree (`dominator_tree`), for the report page. */
export interface AnalyzeOptions {
  top: number;
  dominatorNodes?: number;
}

export async function analyzeFile(file: string, opts: AnalyzeOptions): Promise<Analysis> {
  const started = performance.now();
  const builder = new GraphBuilder();
  const totals = await readSnapshot(file, builder);
  const graph = builder.finish();
  return analyzeGraph(graph, { file, fileBytes: totals.bytes, writtenSeconds: totals.seconds, top: opts.top, started, ...(opts.dominatorNodes ? { dominatorNodes: opts.dominatorNodes } : {}) });
}

/** The views of a graph already in memory; `started` (performance.now()) is when the analysis began. */
export function analyzeGraph(graph: HeapGraph, o: { file: string; fileBytes: number; writtenSeconds: number; top: number; started?: number; dominatorNodes?: number }): Analysis {
  const started = o.started ?? performance.now();
  const dom = dominators(graph, graph.roots);
  const retained = retainedSizes(graph.sizes, dom);
  const byType = retainedByType(graph.types, graph.typeNames.length, retained, dom);
  const v = views({ file: o.file, fileBytes: o.fileBytes, writtenSeconds: o.writtenSeconds, graph, dom, retained, byType, top: o.top });
  const tree = o.dominatorNodes ? { dominator_tree: dominatorTreeView(graph, dom, retained, o.dominatorNodes) } : {};
  return { ...v, ...tree, analysis_seconds: (performance.now() - started) / 1000 };
}

export function renderAnalysis(result: Analysis, top: number): string {
  return analysisTable(result, top);
}
