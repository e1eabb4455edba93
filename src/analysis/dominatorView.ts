// The top of the dominator tree, for a treemap that drills down: the `k` objects that retain the
// most, each with its immediate dominator among them. Since an object's retained size exceeds
// each of its dominator-tree children's (its own size counts too), the k largest are closed
// under "dominated by": every listed object's dominator is listed (or is the virtual root).
// Siblings retain disjoint sets, so the areas of a treemap of this tree add up exactly.
import type { DominatorTree } from './dominators.js';
import type { HeapGraph } from './graph.js';
import { topNodes } from './views.js';

export interface DominatorNode {
  /** Index of the immediate dominator in `nodes`, or -1: a root (or held by several roots). */
  parent: number;
  type: string;
  id: number;
  size: number;
  retained_size: number;
  /** How many objects it dominates directly (listed or not). */
  children: number;
  /** The root record that names it (a module, a running frame). */
  root?: string;
}

export interface DominatorTreeView {
  total_size: number;
  objects: number;
  nodes: DominatorNode[];
}

export const DOMINATOR_NODES = 500;

export function dominatorTreeView(g: HeapGraph, dom: DominatorTree, retained: Float64Array, k = DOMINATOR_NODES): DominatorTreeView {
  const { idom, preorder } = dom;
  const picked = topNodes(retained, k).sort((a, b) => preorder[a]! - preorder[b]!);
  const index = new Map<number, number>(picked.map((v, i) => [v, i]));
  const children = new Uint32Array(g.n);
  let total = 0;
  for (let v = 0; v < g.n; v++) {
    total += g.sizes[v]!;
    if (idom[v]! >= 0) children[idom[v]!]!++;
  }
  const nodes = picked.map((v): DominatorNode => {
    // (objects of size 0 could tie with their dominator: then the nearest listed ancestor)
    let p = idom[v]!;
    while (p >= 0 && !index.has(p)) p = idom[p]!;
    const root = g.rootLabels.get(v);
    return {
      parent: p >= 0 ? index.get(p)! : -1,
      type: g.typeNames[g.types[v]!]!,
      id: g.ids[v]!,
      size: g.sizes[v]!,
      retained_size: retained[v]!,
      children: children[v]!,
      ...(root !== undefined ? { root } : {}),
    };
  });
  return { total_size: total, objects: g.n, nodes };
}
