// Retained sizes from the dominator tree: what freeing an object would free, per object and per
// type (a type counts an object only when no object of the same type dominates it, so a tree
// of dicts is not counted once per level).
import type { DominatorTree } from './dominators.js';

/** Own size plus the retained sizes of the dominator-tree children, for every node. */
export function retainedSizes(sizes: Float64Array, dom: DominatorTree): Float64Array {
  const retained = sizes.slice();
  const { order, idom } = dom;
  // children come after their dominator in preorder: one backward pass adds each into its parent
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i]!;
    const p = idom[v]!;
    if (p >= 0) retained[p]! += retained[v]!;
  }
  return retained;
}

export interface TypeTotals {
  retained: Float64Array;
  count: Uint32Array;
}

/** Per type: the retained size of its objects not dominated by another object of that type, and how many objects it has. */
export function retainedByType(types: Uint32Array, typeCount: number, retained: Float64Array, dom: DominatorTree): TypeTotals {
  const n = types.length;
  const count = new Uint32Array(typeCount);
  for (let v = 0; v < n; v++) count[types[v]!]!++;

  // dominator-tree children as CSR; node n stands for the virtual root
  const childStart = new Uint32Array(n + 2);
  const { idom } = dom;
  for (let v = 0; v < n; v++) childStart[(idom[v]! < 0 ? n : idom[v]!) + 1]!++;
  for (let v = 0; v <= n; v++) childStart[v + 1]! += childStart[v]!;
  const fill = childStart.slice(0, n + 1);
  const children = new Int32Array(n);
  for (let v = 0; v < n; v++) children[fill[idom[v]! < 0 ? n : idom[v]!]!++] = v;

  // walk the tree keeping, per type, how many objects of that type are on the current path
  const onPath = new Uint32Array(typeCount);
  const out = new Float64Array(typeCount);
  const stackNode = new Int32Array(n + 1);
  const stackNext = new Uint32Array(n + 1);
  let sp = 0;
  stackNode[0] = n;
  stackNext[0] = childStart[n]!;
  while (sp >= 0) {
    const u = stackNode[sp]!;
    const next = stackNext[sp]!;
    if (next === childStart[u + 1]!) {
      if (u < n) onPath[types[u]!]!--;
      sp--;
      continue;
    }
    stackNext[sp] = next + 1;
    const v = children[next]!;
    const t = types[v]!;
    if (onPath[t] === 0) out[t]! += retained[v]!;
    onPath[t]!++;
    sp++;
    stackNode[sp] = v;
    stackNext[sp] = childStart[v]!;
  }
  return { retained: out, count };
}
