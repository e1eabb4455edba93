// A synthetic snapshot shaped like a Python heap, for the dominator benchmark: modules fanning out
// into a tree (a quarter of the objects are containers with 2-10 children, the rest leaves),
// containers sharing interned strings, small ints and types, back edges (cycles), a session
// retaining a 40 MB ring of nodes, garbage cycles no root reaches, and addresses in no order.
import { writeSnapshotFile } from '../test/support/snapshotWriter.js';

export interface HeapShape {
  objects: number;
  references: number;
  roots: number;
}

const TYPES = ['module', 'dict', 'list', 'tuple', 'set', 'str', 'int', 'float', 'bytes', 'function', 'type', '__main__.Session', '__main__.Node', 'cell'];
const T = Object.fromEntries(TYPES.map((t, i) => [t, i])) as Record<string, number>;
const CONTAINERS = [T.dict!, T.list!, T.tuple!, T.set!, T.function!];
const LEAVES = [T.str!, T.str!, T.str!, T.int!, T.int!, T.float!, T.bytes!, T.cell!];

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes `n` objects to `file`; node i's address is a bijective scramble of i. */
export function writeSyntheticHeap(file: string, n: number, seed = 1): HeapShape {
  let bits = 4;
  while (1 << bits < n) bits++;
  const mask = 2 ** bits - 1;
  const addr = (i: number) => 0x7f0000000000 + (Math.imul(i, 0x9e3779b1) & mask) * 16;
  const rnd = mulberry32(seed);
  const pick = (xs: number[]) => xs[Math.floor(rnd() * xs.length)]!;
  const R = 200; // modules
  const S = Math.min(20_000, Math.floor(n / 50)); // shared: interned strings, small ints, types, functions
  const G = Math.floor(n / 100); // garbage, in cycles of 5
  const RING = Math.min(100_000, Math.floor(n / 50)); // a session and the ring of nodes it retains
  const ringStart = n - G - RING;
  const garbageStart = n - G;
  const parent = new Int32Array(n).fill(-1);
  let next = R + S; // the next tree node without a parent (breadth-first)
  let references = 0;

  const CHUNK = 65536;
  const ids = new Float64Array(CHUNK);
  const types = new Uint32Array(CHUNK);
  const sizes = new Float64Array(CHUNK);
  const counts = new Uint32Array(CHUNK);
  let refs = new Float64Array(CHUNK * 16);
  let r = 0;
  const ref = (i: number) => {
    if (r === refs.length) {
      const more = new Float64Array(refs.length * 2);
      more.set(refs);
      refs = more;
    }
    refs[r++] = i < 0 ? 0x10 + 8 * Math.floor(rnd() * 64) : addr(i); // i < 0: an object the walk never wrote
  };
  const shared = () => ref(R + Math.floor(rnd() * S));

  writeSnapshotFile(file, (w) => {
    for (const t of TYPES) w.type(t);
    w.root(addr(0), 'module app');
    for (let m = 1; m < R; m++) w.root(addr(m), `module m${m}`);
    w.root(addr(R + S + 1000), 'running frame');
    w.root(addr(R + S + 5000), 'running frame');
    for (let start = 0; start < n; start += CHUNK) {
      const k = Math.min(CHUNK, n - start);
      r = 0;
      for (let j = 0; j < k; j++) {
        const i = start + j;
        const before = r;
        ids[j] = addr(i);
        let type: number;
        let size: number;
        if (i < R + S || i >= ringStart) {
          if (i < R) {
            type = T.module!;
            size = 72;
          } else if (i < R + S) {
            type = pick([T.str!, T.str!, T.int!, T.type!, T.function!]);
            size = type === T.type ? 904 : type === T.function ? 136 : 28 + Math.floor(rnd() * 40);
          } else if (i < garbageStart) {
            type = i === ringStart ? T['__main__.Session']! : T['__main__.Node']!;
            size = i === ringStart ? 56 : 400;
          } else {
            type = pick([T.dict!, T.list!]);
            size = 100;
          }
          if (i < R) {
            // a module: its dict's contents, straight from the module for brevity
            const c = 2 + Math.floor(rnd() * 9);
            for (let x = 0; x < c && next < ringStart; x++) {
              parent[next] = i;
              ref(next++);
            }
            if (i === 0) ref(ringStart);
            shared();
          } else if (i >= garbageStart) {
            const g = i - garbageStart;
            ref(g % 5 === 4 || i === n - 1 ? i - (g % 5) : i + 1); // cycles of 5 nothing else points to
          } else if (i >= ringStart) {
            ref(i + 1 < garbageStart ? i + 1 : ringStart); // the ring closes on the session
            shared();
          }
        } else if (rnd() < 0.25) {
          // a container
          type = pick(CONTAINERS);
          const c = 2 + Math.floor(rnd() * 9);
          for (let x = 0; x < c && next < ringStart; x++) {
            parent[next] = i;
            ref(next++);
          }
          const s = 2 + Math.floor(rnd() * 11); // keys and values: interned strings, small ints, types
          for (let x = 0; x < s; x++) shared();
          if (rnd() < 0.1 && parent[i]! >= 0) ref(parent[i]!); // a back reference: a cycle
          if (rnd() < 0.3) ref(R + S + Math.floor(rnd() * (ringStart - R - S))); // shared with another part of the tree
          if (rnd() < 0.01) ref(-1);
          const len = r - before;
          size = type === T.dict ? (len < 6 ? 232 : len < 11 ? 360 : 640) : type === T.set ? 216 : type === T.function ? 136 : 56 + 8 * len;
        } else {
          // a leaf
          type = pick(LEAVES);
          size = type === T.str ? 49 + Math.floor(rnd() * 150) : type === T.bytes ? 33 + Math.floor(rnd() * 2000) : type === T.cell ? 40 : type === T.float ? 24 : 28;
          if (type === T.cell || rnd() < 0.2) shared();
        }
        types[j] = type;
        sizes[j] = size;
        counts[j] = r - before;
      }
      w.chunk(ids.subarray(0, k), types.subarray(0, k), sizes.subarray(0, k), counts.subarray(0, k), refs.subarray(0, r));
      references += r;
    }
    w.end(0);
  });
  return { objects: n, references, roots: R + 2 };
}
