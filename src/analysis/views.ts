// What a person asks of a snapshot, as one JSON-ready value: the objects that retain the most
// (with the dominator path that holds each), retained size by type, and totals.
import type { DominatorTree } from './dominators.js';
import type { HeapGraph } from './graph.js';
import type { TypeTotals } from './retained.js';
import type { DominatorTreeView } from './dominatorView.js';

export interface Retainer {
  type: string;
  id: number;
  retained_size: number;
  size: number;
  chain: string[];
}
/** retained_size counts objects no object of the same type dominates; count is every object of the type. */
export interface TypeRetained {
  name: string;
  retained_size: number;
  count: number;
}
export interface SnapshotInfo {
  file: string;
  objects: number;
  /** References between objects of the file (edges of the graph). */
  references: number;
  /** References to objects the file does not hold (dropped). */
  dangling_references: number;
  /** Objects named by root records (modules, running frames). */
  roots: number;
  /** Objects no root reaches: held only by C code, or garbage cycles. */
  unrooted_objects: number;
  types: number;
  /** Objects whose id an earlier object already had (the walk is not atomic: an address can be reused). */
  duplicate_ids: number;
  /** Total shallow size of all objects. */
  bytes: number;
  file_bytes: number;
  /** How long the payload took to write it. */
  written_seconds: number;
}
/** `retainers` leaves out objects whose immediate dominator has their type (see `views`). */
export interface Analysis {
  retainers: Retainer[];
  retained_by_type: TypeRetained[];
  snapshot: SnapshotInfo;
  analysis_seconds: number;
  dominator_tree?: DominatorTreeView;
}

/** Chains longer than this keep their ends and say how many steps were left out. */
export const MAX_CHAIN = 24;
export const SEVERAL_ROOTS = '(several roots)';
export const UNROOTED = '(unrooted)';

/** The `k` nodes of largest retained size that `listed` accepts, largest first (ties: file order). */
export function topNodes(retained: Float64Array, k: number, listed: (v: number) => boolean = () => true): number[] {
  const best: number[] = [];
  if (k <= 0) return best;
  let floor = -Infinity;
  for (let v = 0; v < retained.length; v++) {
    const r = retained[v]!;
    if ((best.length === k && r <= floor) || !listed(v)) continue;
    let i = best.length;
    while (i > 0 && retained[best[i - 1]!]! < r) i--;
    best.splice(i, 0, v);
    if (best.length > k) best.pop();
    if (best.length === k) floor = retained[best[k - 1]!]!;
  }
  return best;
}

/**
 * The dominator-tree path from the virtual root to `v`: where it starts (a root record's label,
 * or SEVERAL_ROOTS / UNROOTED followed by the type of the first object), then type names.
 */
export function chain(g: HeapGraph, dom: DominatorTree, v: number): string[] {
  const path: number[] = [];
  for (let x = v; x >= 0; x = dom.idom[x]!) path.push(x);
  path.reverse();
  const typeOf = (x: number) => g.typeNames[g.types[x]!]!;
  const first = path[0]!;
  const label = g.rootLabels.get(first);
  const steps = label !== undefined ? [label, ...path.slice(1).map(typeOf)] : [dom.preorder[first]! < dom.reachedFromRoots ? SEVERAL_ROOTS : UNROOTED, ...path.map(typeOf)];
  if (steps.length <= MAX_CHAIN) return steps;
  const head = Math.ceil((MAX_CHAIN - 1) / 2);
  const tail = MAX_CHAIN - 1 - head;
  return [...steps.slice(0, head), `... ${steps.length - head - tail} more ...`, ...steps.slice(steps.length - tail)];
}

export interface ViewInput {
  file: string;
  fileBytes: number;
  writtenSeconds: number;
  graph: HeapGraph;
  dom: DominatorTree;
  retained: Float64Array;
  byType: TypeTotals;
  top: number;
}

export function views(x: ViewInput): Omit<Analysis, 'analysis_seconds'> {
  const { graph: g, dom, retained, byType } = x;
  // The links of a linked list or the nodes of a tree of one type would fill the list with
  // near-copies of the first: an object whose immediate dominator has its type is left out.
  const { idom } = dom;
  const types = g.types;
  const listed = (v: number) => idom[v]! < 0 || types[idom[v]!] !== types[v];
  const retainers = topNodes(retained, x.top, listed).map((v) => ({
    type: g.typeNames[g.types[v]!]!,
    id: g.ids[v]!,
    retained_size: retained[v]!,
    size: g.sizes[v]!,
    chain: chain(g, dom, v),
  }));
  const retained_by_type = g.typeNames
    .map((name, t) => ({ name, retained_size: byType.retained[t]!, count: byType.count[t]! }))
    .filter((r) => r.count > 0)
    .sort((a, b) => b.retained_size - a.retained_size || b.count - a.count || (a.name < b.name ? -1 : 1));
  let bytes = 0;
  for (let v = 0; v < g.n; v++) bytes += g.sizes[v]!;
  return {
    retainers,
    retained_by_type,
    snapshot: {
      file: x.file,
      objects: g.n,
      references: g.edgeTarget.length,
      dangling_references: g.danglingReferences,
      roots: g.roots.length,
      unrooted_objects: g.n - dom.reachedFromRoots,
      types: g.typeNames.length,
      duplicate_ids: g.duplicateIds,
      bytes,
      file_bytes: x.fileBytes,
      written_seconds: x.writtenSeconds,
    },
  };
}
