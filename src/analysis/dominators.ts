// The dominator tree of the object graph (Lengauer-Tarjan with path compression, O(E log V)),
// on typed arrays and without recursion: a heap of millions of objects has chains (linked
// lists, deep trees) far deeper than the JS stack.

export interface Digraph {
  n: number;
  edgeStart: Uint32Array;
  edgeTarget: Int32Array;
}

export interface DominatorTree {
  /** Immediate dominator of each node, or -1 when it is the virtual root. */
  idom: Int32Array;
  /** Nodes in depth-first preorder from the virtual root: every dominator comes before what it dominates. */
  order: Int32Array;
  /** Position of each node in `order`. */
  preorder: Int32Array;
  /** order[0 .. reachedFromRoots) are the nodes the roots reach; the rest were reached only from nodes that became roots. */
  reachedFromRoots: number;
}

/**
 * A virtual root has an edge to every node of `roots`, in that order, and then, so that every
 * node is reachable, to each node that nothing before it reached, in node order: objects only
 * C code holds, and garbage cycles, become their own roots.
 */
export function dominators(g: Digraph, roots: Int32Array): DominatorTree {
  const n = g.n;
  const m = n + 1; // vertices in preorder numbering; 0 is the virtual root
  const dfn = new Int32Array(n).fill(-1);
  const vertex = new Int32Array(m).fill(-1);
  const parent = new Int32Array(m);
  const entry = new Uint8Array(m); // the virtual root has an edge to it
  const dfs = new Dfs(g, dfn, vertex, parent);
  for (const r of roots) {
    if (dfn[r]! < 0) dfs.from(r);
    entry[dfn[r]!] = 1;
  }
  const reachedFromRoots = dfs.count - 1;
  for (let v = 0; v < n; v++) {
    if (dfn[v]! < 0) {
      dfs.from(v);
      entry[dfn[v]!] = 1;
    }
  }
  const { predStart, preds } = predecessors(g, dfn, m);
  const idomD = lengauerTarjan(m, parent, entry, predStart, preds, dfs.stackNode);
  const idom = new Int32Array(n);
  for (let w = 1; w < m; w++) {
    const d = idomD[w]!;
    idom[vertex[w]!] = d === 0 ? -1 : vertex[d]!;
  }
  for (let v = 0; v < n; v++) dfn[v]!--;
  return { idom, order: vertex.subarray(1), preorder: dfn, reachedFromRoots };
}

/** Iterative depth-first search numbering vertices in preorder (1, 2, ...), recording tree parents. */
class Dfs {
  count = 1;
  readonly stackNode: Int32Array;
  private readonly stackEdge: Uint32Array;

  constructor(
    private readonly g: Digraph,
    private readonly dfn: Int32Array,
    private readonly vertex: Int32Array,
    private readonly parent: Int32Array,
  ) {
    this.stackNode = new Int32Array(Math.max(1, g.n));
    this.stackEdge = new Uint32Array(Math.max(1, g.n));
  }

  from(s: number): void {
    const { edgeStart, edgeTarget } = this.g;
    const { dfn, vertex, parent, stackNode, stackEdge } = this;
    let count = this.count;
    dfn[s] = count;
    vertex[count] = s;
    parent[count] = 0;
    count++;
    let sp = 0;
    stackNode[0] = s;
    stackEdge[0] = edgeStart[s]!;
    while (sp >= 0) {
      const u = stackNode[sp]!;
      const end = edgeStart[u + 1]!;
      let e = stackEdge[sp]!;
      while (e < end && dfn[edgeTarget[e]!]! >= 0) e++;
      if (e === end) {
        sp--;
        continue;
      }
      const v = edgeTarget[e]!;
      stackEdge[sp] = e + 1;
      dfn[v] = count;
      vertex[count] = v;
      parent[count] = dfn[u]!;
      count++;
      sp++;
      stackNode[sp] = v;
      stackEdge[sp] = edgeStart[v]!;
    }
    this.count = count;
  }
}

/** Predecessor lists in preorder numbers (what the semidominator step walks), as CSR. */
function predecessors(g: Digraph, dfn: Int32Array, m: number): { predStart: Uint32Array; preds: Int32Array } {
  const { n, edgeStart, edgeTarget } = g;
  const predStart = new Uint32Array(m + 1);
  for (let e = 0; e < edgeTarget.length; e++) predStart[dfn[edgeTarget[e]!]! + 1]!++;
  for (let w = 0; w < m; w++) predStart[w + 1]! += predStart[w]!;
  const fill = predStart.slice(0, m);
  const preds = new Int32Array(edgeTarget.length);
  for (let u = 0; u < n; u++) {
    const du = dfn[u]!;
    for (let e = edgeStart[u]!, end = edgeStart[u + 1]!; e < end; e++) preds[fill[dfn[edgeTarget[e]!]!]!++] = du;
  }
  return { predStart, preds };
}

/** Immediate dominators in preorder numbers; `stack` is scratch of at least m - 1 entries. */
function lengauerTarjan(m: number, parent: Int32Array, entry: Uint8Array, predStart: Uint32Array, preds: Int32Array, stack: Int32Array): Int32Array {
  const semi = new Int32Array(m);
  const label = new Int32Array(m);
  const ancestor = new Int32Array(m).fill(-1); // the link-eval forest
  const idom = new Int32Array(m);
  const bucketHead = new Int32Array(m).fill(-1); // vertices whose semidominator is this one
  const bucketNext = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    semi[i] = i;
    label[i] = i;
  }

  // eval: the vertex of smallest semidominator on the forest path above v, compressing the path
  // (iteratively: paths are as long as the deepest chain of objects)
  const evaluate = (v: number): number => {
    if (ancestor[v]! < 0) return v;
    let sp = 0;
    let x = v;
    while (ancestor[ancestor[x]!]! >= 0) {
      stack[sp++] = x;
      x = ancestor[x]!;
    }
    while (sp > 0) {
      x = stack[--sp]!;
      const a = ancestor[x]!;
      if (semi[label[a]!]! < semi[label[x]!]!) label[x] = label[a]!;
      ancestor[x] = ancestor[a]!;
    }
    return label[v]!;
  };

  for (let w = m - 1; w > 0; w--) {
    let s = w;
    if (entry[w])
      s = 0; // an edge from the virtual root: nothing can be smaller
    else {
      for (let i = predStart[w]!, end = predStart[w + 1]!; i < end; i++) {
        const v = preds[i]!;
        // a predecessor numbered before w is not linked yet: it is its own candidate
        const c = v < w ? v : semi[evaluate(v)]!;
        if (c < s) s = c;
      }
    }
    semi[w] = s;
    bucketNext[w] = bucketHead[s]!;
    bucketHead[s] = w;
    const p = parent[w]!;
    ancestor[w] = p;
    for (let v = bucketHead[p]!; v >= 0; v = bucketNext[v]!) {
      const u = evaluate(v);
      idom[v] = semi[u]! < semi[v]! ? u : p;
    }
    bucketHead[p] = -1;
  }
  for (let w = 1; w < m; w++) if (idom[w] !== semi[w]) idom[w] = idom[idom[w]!]!;
  idom[0] = 0;
  return idom;
}
