// The baseline of the dominator benchmark: Cooper, Harvey and Kennedy's iterative data-flow
// algorithm ("A Simple, Fast Dominance Algorithm"), on the same virtual-root graph as ours, and
// the subgraph it runs on (it is quadratic in the worst case, so it gets the first objects only).
import type { Digraph } from '../src/analysis/dominators.js';
import type { HeapGraph } from '../src/analysis/graph.js';

/** Objects 0 .. k-1 of the file and the references among them. */
export function inducedSubgraph(g: HeapGraph, k: number): Digraph & { roots: Int32Array } {
  const n = Math.min(k, g.n);
  const edgeStart = new Uint32Array(n + 1);
  const targets: number[] = [];
  for (let u = 0; u < n; u++) {
    for (let e = g.edgeStart[u]!; e < g.edgeStart[u + 1]!; e++) if (g.edgeTarget[e]! < n) targets.push(g.edgeTarget[e]!);
    edgeStart[u + 1] = targets.length;
  }
  return { n, edgeStart, edgeTarget: Int32Array.from(targets), roots: g.roots.filter((r) => r < n) };
}

/** Immediate dominators (-1: the virtual root), and how many passes the fixed point took. */
export function cooperHarveyKennedy(g: Digraph, roots: Int32Array): { idom: Int32Array; passes: number } {
  const { n, edgeStart, edgeTarget } = g;
  const V = n; // the virtual root
  // its successors: the roots, then each node nothing before reached (as in src/analysis/dominators.ts)
  const seen = new Uint8Array(n);
  const entries: number[] = [];
  const stack: number[] = [];
  const enter = (s: number) => {
    entries.push(s);
    if (seen[s]) return;
    seen[s] = 1;
    stack.push(s);
    while (stack.length) {
      const u = stack.pop()!;
      for (let e = edgeStart[u]!; e < edgeStart[u + 1]!; e++)
        if (!seen[edgeTarget[e]!]) {
          seen[edgeTarget[e]!] = 1;
          stack.push(edgeTarget[e]!);
        }
    }
  };
  for (const r of roots) enter(r);
  for (let v = 0; v < n; v++) if (!seen[v]) enter(v);
  const succ = (u: number, i: number) => (u === V ? entries[i] : edgeTarget[edgeStart[u]! + i]);
  const degree = (u: number) => (u === V ? entries.length : edgeStart[u + 1]! - edgeStart[u]!);

  // postorder numbers by an iterative depth-first search from the virtual root
  const po = new Int32Array(n + 1).fill(-1);
  const rpo: number[] = [];
  const visited = new Uint8Array(n + 1);
  const sNode = [V];
  const sNext = [0];
  visited[V] = 1;
  while (sNode.length) {
    const top = sNode.length - 1;
    const u = sNode[top]!;
    if (sNext[top]! < degree(u)) {
      const v = succ(u, sNext[top]!++)!;
      if (!visited[v]) {
        visited[v] = 1;
        sNode.push(v);
        sNext.push(0);
      }
    } else {
      po[u] = rpo.length;
      rpo.push(u);
      sNode.pop();
      sNext.pop();
    }
  }
  rpo.reverse();

  const preds: number[][] = Array.from({ length: n + 1 }, () => []);
  for (let u = 0; u < n; u++) for (let e = edgeStart[u]!; e < edgeStart[u + 1]!; e++) preds[edgeTarget[e]!]!.push(u);
  for (const e of new Set(entries)) preds[e]!.push(V);

  const idom = new Int32Array(n + 1).fill(-1);
  idom[V] = V;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (po[a]! < po[b]!) a = idom[a]!;
      while (po[b]! < po[a]!) b = idom[b]!;
    }
    return a;
  };
  let passes = 0;
  for (let changed = true; changed; passes++) {
    changed = false;
    for (const b of rpo) {
      if (b === V) continue;
      let d = -1;
      for (const p of preds[b]!) if (idom[p] !== -1) d = d === -1 ? p : intersect(p, d);
      if (idom[b] !== d) {
        idom[b] = d;
        changed = true;
      }
    }
  }
  const out = new Int32Array(n);
  for (let v = 0; v < n; v++) out[v] = idom[v] === V ? -1 : idom[v]!;
  return { idom: out, passes };
}

export function sameIdom(a: Int32Array, b: Int32Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
