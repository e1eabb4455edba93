// The dominator tree (src/analysis/dominators.ts) against a naive reference, on classic graphs and
// on hundreds of random ones: d dominates v iff v is unreachable from the virtual root once d is
// removed; the immediate dominator is the strict dominator that all the others dominate.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dominators, type Digraph } from '../../src/analysis/dominators.js';
import { retainedByType, retainedSizes } from '../../src/analysis/retained.js';

function digraph(n: number, adj: number[][]): Digraph {
  const edgeStart = new Uint32Array(n + 1);
  for (let u = 0; u < n; u++) edgeStart[u + 1] = edgeStart[u]! + (adj[u]?.length ?? 0);
  return { n, edgeStart, edgeTarget: Int32Array.from(adj.flat()) };
}

/** Nodes reachable from `from` (the virtual root's successors) without passing through `removed`. */
function reach(n: number, adj: number[][], from: number[], removed = -1): Uint8Array {
  const seen = new Uint8Array(n);
  const stack = from.filter((s) => s !== removed);
  for (const s of stack) seen[s] = 1;
  while (stack.length) {
    for (const v of adj[stack.pop()!] ?? [])
      if (!seen[v] && v !== removed) {
        seen[v] = 1;
        stack.push(v);
      }
  }
  return seen;
}

/** The reference: the virtual root's successors as the spec defines them, then dominance by removal. */
function naiveDominators(n: number, adj: number[][], roots: number[]): number[][] {
  const entries = [...new Set(roots)];
  let seen = reach(n, adj, entries);
  for (let v = 0; v < n; v++)
    if (!seen[v]) {
      entries.push(v);
      seen = reach(n, adj, entries);
    }
  const doms: number[][] = Array.from({ length: n }, () => []); // strict dominators of each node
  for (let d = 0; d < n; d++) {
    const without = reach(n, adj, entries, d);
    for (let v = 0; v < n; v++) if (v !== d && !without[v]) doms[v]!.push(d);
  }
  return doms;
}

function check(n: number, adj: number[][], roots: number[], what: string, rnd = Math.random): void {
  const doms = naiveDominators(n, adj, roots);
  // the immediate dominator is the strict dominator with the most dominators of its own
  const naiveIdom = doms.map((ds) => (ds.length ? ds.reduce((a, b) => (doms[a]!.length >= doms[b]!.length ? a : b)) : -1));
  const dom = dominators(digraph(n, adj), Int32Array.from(roots));
  assert.deepEqual([...dom.idom], naiveIdom, what);
  // retained size: everything the node dominates; by type: only nodes no same-type node dominates
  const sizes = Float64Array.from({ length: n }, () => 1 + Math.floor(rnd() * 1000));
  const types = Uint32Array.from({ length: n }, () => Math.floor(rnd() * 4));
  const naiveRetained = Array.from({ length: n }, (_, d) => sizes[d]! + doms.reduce((sum, ds, v) => sum + (ds.includes(d) ? sizes[v]! : 0), 0));
  const retained = retainedSizes(sizes, dom);
  assert.deepEqual([...retained], naiveRetained, `${what}: retained sizes`);
  const naiveByType = [0, 0, 0, 0];
  for (let v = 0; v < n; v++) if (!doms[v]!.some((d) => types[d] === types[v])) naiveByType[types[v]!]! += retained[v]!;
  assert.deepEqual([...retainedByType(types, 4, retained, dom).retained], naiveByType, `${what}: retained by type`);
  // every dominator comes before what it dominates in `order`, and `preorder` inverts it
  dom.order.forEach((v, i) => {
    assert.equal(dom.preorder[v], i);
    if (dom.idom[v]! >= 0) assert.ok(dom.preorder[dom.idom[v]!]! < i);
  });
}

/** Deterministic pseudo-random numbers (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('dominators', () => {
  it('the Lengauer-Tarjan paper graph', () => {
    // R=0, A..L = 1..12 as in the paper's figure
    const names = 'RABCDEFGHIJKL';
    const at = (c: string) => names.indexOf(c);
    const edges = 'RA RB RC AD BA BD BE CF CG DL EH FI GI GJ HE HK IK JI KI KR LH';
    const adj: number[][] = Array.from({ length: 13 }, () => []);
    for (const e of edges.split(' ')) adj[at(e[0]!)]!.push(at(e[1]!));
    const dom = dominators(digraph(13, adj), Int32Array.from([0]));
    const idom = Object.fromEntries([...names].map((c, i) => [c, dom.idom[i]! < 0 ? '-' : names[dom.idom[i]!]]));
    assert.deepEqual(idom, { R: '-', A: 'R', B: 'R', C: 'R', D: 'R', E: 'R', F: 'C', G: 'C', H: 'R', I: 'R', J: 'G', K: 'R', L: 'D' });
    check(13, adj, [0], 'paper');
  });

  it('classic shapes: diamond, self loop, cycle, ladder, two roots, nothing rooted', () => {
    check(4, [[1, 2], [3], [3], []], [0], 'diamond');
    check(3, [[0, 1], [1, 2], [2]], [0], 'self loops');
    check(4, [[1], [2], [3], [1]], [0], 'cycle entered once');
    check(6, [[1, 2], [3], [4], [4, 5], [5], []], [0], 'ladder');
    check(5, [[2], [3], [4], [4], []], [0, 1], 'two roots');
    check(5, [[1], [0], [3], [4], [2]], [], 'garbage cycles only: each becomes a root at its first node');
    check(3, [[1], [2], []], [2, 0], 'a root reached from an earlier root still hangs from the virtual root');
    assert.deepEqual([...dominators(digraph(0, []), new Int32Array(0)).idom], []);
  });

  it('matches the naive reference on 400 random graphs of 50-200 nodes (idom, retained sizes, by type)', () => {
    const rnd = random(20240611);
    for (let g = 0; g < 400; g++) {
      const n = 50 + Math.floor(rnd() * 151);
      const shape = g % 4;
      const adj: number[][] = Array.from({ length: n }, () => []);
      if (shape === 0) {
        // sparse random
        const degree = 0.5 + rnd() * 2.5;
        for (let u = 0; u < n; u++) for (let k = 0; k < degree * 2 * rnd(); k++) adj[u]!.push(Math.floor(rnd() * n));
      } else {
        // a heap: a tree in file order, plus back edges (cycles), cross edges (sharing), a few unreached pieces
        for (let v = 1; v < n; v++) if (rnd() < 0.95) adj[Math.floor(rnd() * v)]!.push(v);
        for (let k = 0; k < n * (shape === 1 ? 0.1 : shape === 2 ? 0.5 : 1.5); k++) adj[Math.floor(rnd() * n)]!.push(Math.floor(rnd() * n));
      }
      const roots = Array.from({ length: Math.floor(rnd() * 4) }, () => Math.floor(rnd() * n));
      check(n, adj, roots, `graph ${g} (${n} nodes, shape ${shape}, roots ${roots.join(',')})`, rnd);
    }
  });

  it('retained size: own size plus what the node dominates', () => {
    const adj = [[1, 2], [3], [3], [4], [3]]; // 3 and 4 form a cycle reached from two sides
    const dom = dominators(digraph(5, adj), Int32Array.from([0]));
    assert.deepEqual([...retainedSizes(Float64Array.from([1, 10, 100, 1000, 10000]), dom)], [11111, 10, 100, 11000, 10000]);
  });
});
