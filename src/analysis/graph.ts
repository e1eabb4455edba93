// The object graph of a snapshot in typed arrays (compressed sparse rows): a few bytes per object
// and per reference, so that a heap of millions of objects fits in a few hundred MB.
import { EXIT, PyheapError } from '../core/errors.js';
import { IdIndex } from './idIndex.js';
import type { SnapshotSink } from './reader.js';

export interface HeapGraph {
  /** Number of objects; node i is the i-th object of the file. */
  n: number;
  ids: Float64Array;
  types: Uint32Array;
  sizes: Float64Array;
  /** The references of node u are edgeTarget[edgeStart[u] .. edgeStart[u + 1]). */
  edgeStart: Uint32Array;
  edgeTarget: Int32Array;
  typeNames: string[];
  /** Nodes named by root records, in file order, each once. */
  roots: Int32Array;
  rootLabels: Map<number, string>;
  /** References to ids that are not in the file (dropped). */
  danglingReferences: number;
  /** Root records whose object is not in the file (ignored). */
  unknownRoots: number;
  /** Objects whose id was already taken (kept as nodes nothing refers to). */
  duplicateIds: number;
}

type Typed = Float64Array | Uint32Array;

/** An append-only typed array; sized once when the end record told the totals. */
class Grow<T extends Typed> {
  arr: T;
  len = 0;
  constructor(
    private readonly make: new (n: number) => T,
    capacity = 1 << 16,
  ) {
    this.arr = new make(capacity);
  }
  reserve(n: number): void {
    if (n <= this.arr.length) return;
    const next = new this.make(n);
    next.set(this.arr.subarray(0, this.len) as never);
    this.arr = next;
  }
  append(piece: Typed): void {
    if (this.len + piece.length > this.arr.length) this.reserve(Math.max(this.len + piece.length, Math.ceil(this.arr.length * 1.5)));
    this.arr.set(piece as never, this.len);
    this.len += piece.length;
  }
  done(): T {
    return (this.len === this.arr.length ? this.arr : this.arr.slice(0, this.len)) as T;
  }
}

/** A SnapshotSink that keeps the objects; `finish` resolves referent ids into node indexes. */
export class GraphBuilder implements SnapshotSink {
  private objIds = new Grow(Float64Array);
  private objTypes = new Grow(Uint32Array);
  private objSizes = new Grow(Float64Array);
  private refCounts = new Grow(Uint32Array);
  private refIds = new Grow(Float64Array);
  private readonly typeNames: string[] = [];
  private readonly rootIds: number[] = [];
  private readonly rootLabels: string[] = [];

  expect(objects: number, references: number): void {
    for (const g of [this.objIds, this.objTypes, this.objSizes, this.refCounts]) g.reserve(objects);
    this.refIds.reserve(references);
  }

  type(_index: number, name: string): void {
    this.typeNames.push(name);
  }
  chunk(): void {
    /* the pieces carry everything */
  }
  ids(piece: Float64Array): void {
    this.objIds.append(piece);
  }
  typeIndexes(piece: Uint32Array): void {
    this.objTypes.append(piece);
  }
  sizes(piece: Float64Array): void {
    this.objSizes.append(piece);
  }
  referenceCounts(piece: Uint32Array): void {
    this.refCounts.append(piece);
  }
  referents(piece: Float64Array): void {
    this.refIds.append(piece);
  }
  root(id: number, label: string): void {
    this.rootIds.push(id);
    this.rootLabels.push(label);
  }

  finish(): HeapGraph {
    const ids = this.objIds.done();
    const n = ids.length;
    const counts = this.refCounts.arr;
    const refs = this.refIds.arr;
    const written = this.refIds.len;
    if (written >= 2 ** 32) {
      throw new PyheapError('report', `the snapshot holds ${written} references, more than this analysis can index (2^32)`, { exitCode: EXIT.internal });
    }
    const index = new IdIndex(ids);
    // Referent ids become node indexes; ids of objects that are not in the file are dropped, so
    // the edges of a node are compacted in place and its start moves down.
    const edgeStart = new Uint32Array(n + 1);
    const targets = new Int32Array(written);
    let w = 0;
    let r = 0;
    for (let u = 0; u < n; u++) {
      edgeStart[u] = w;
      for (const end = r + counts[u]!; r < end; r++) {
        const t = index.get(refs[r]!);
        if (t >= 0) targets[w++] = t;
      }
    }
    edgeStart[n] = w;
    const roots: number[] = [];
    const rootLabels = new Map<number, string>();
    let unknownRoots = 0;
    this.rootIds.forEach((id, i) => {
      const node = index.get(id);
      if (node < 0) unknownRoots++;
      else if (!rootLabels.has(node)) {
        rootLabels.set(node, this.rootLabels[i]!);
        roots.push(node);
      }
    });
    const graph: HeapGraph = {
      n,
      ids,
      types: this.objTypes.done(),
      sizes: this.objSizes.done(),
      edgeStart,
      edgeTarget: w === targets.length ? targets : targets.slice(0, w),
      typeNames: this.typeNames,
      roots: Int32Array.from(roots),
      rootLabels,
      danglingReferences: written - w,
      unknownRoots,
      duplicateIds: index.duplicates,
    };
    // the builder may outlive this call: let the raw ids (8 bytes a reference) go now
    this.refIds = new Grow(Float64Array, 0);
    this.refCounts = new Grow(Uint32Array, 0);
    this.objIds = new Grow(Float64Array, 0);
    this.objTypes = new Grow(Uint32Array, 0);
    this.objSizes = new Grow(Float64Array, 0);
    return graph;
  }
}
