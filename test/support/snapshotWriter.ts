// Writes heap snapshots in the format of payloads/SNAPSHOT.md, as the Python payload does, for the
// tests (small graphs, damaged files) and the benchmark (millions of objects, streamed to a file).
import { closeSync, openSync, writeSync } from 'node:fs';
import { END_BYTES, KIND, MAGIC, OBJECT_BYTES, REFERENCE_BYTES, TWO_32, VERSION } from '../../src/analysis/format.js';

export interface ObjectSpec {
  id: number;
  type: number;
  size: number;
  refs: readonly number[];
}

function setU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v % TWO_32, true);
  dv.setUint32(at + 4, Math.floor(v / TWO_32), true);
}

function text(kind: number, head: Buffer, s: string | Buffer): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(2);
  len.writeUInt16LE(bytes.length);
  return Buffer.concat([Buffer.from([kind]), head, len, bytes]);
}

export class SnapshotWriter {
  private typeCount = 0;
  objects = 0;
  references = 0;

  constructor(
    private readonly out: (b: Buffer) => void,
    opts: { version?: number } = {},
  ) {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(opts.version ?? VERSION);
    out(Buffer.concat([MAGIC, v]));
  }

  /** Declares a type (a name, or its bytes as the payload wrote them); returns its index. */
  type(name: string | Buffer): number {
    const i = Buffer.alloc(4);
    i.writeUInt32LE(this.typeCount);
    this.out(text(KIND.type, i, name));
    return this.typeCount++;
  }

  root(id: number, label: string): void {
    const b = Buffer.alloc(8);
    setU64(new DataView(b.buffer, b.byteOffset, 8), 0, id);
    this.out(text(KIND.root, b, label));
  }

  /** One objects record. */
  chunk(ids: ArrayLike<number>, types: ArrayLike<number>, sizes: ArrayLike<number>, counts: ArrayLike<number>, refs: ArrayLike<number>): void {
    const k = ids.length;
    const r = refs.length;
    const b = Buffer.allocUnsafe(9 + k * OBJECT_BYTES + r * REFERENCE_BYTES);
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    b[0] = KIND.objects;
    dv.setUint32(1, k, true);
    dv.setUint32(5, r, true);
    let p = 9;
    for (let i = 0; i < k; i++, p += 8) setU64(dv, p, ids[i]!);
    for (let i = 0; i < k; i++, p += 4) dv.setUint32(p, types[i]!, true);
    for (let i = 0; i < k; i++, p += 8) setU64(dv, p, sizes[i]!);
    for (let i = 0; i < k; i++, p += 4) dv.setUint32(p, counts[i]!, true);
    for (let i = 0; i < r; i++, p += 8) setU64(dv, p, refs[i]!);
    this.out(b);
    this.objects += k;
    this.references += r;
  }

  objectsRecord(objs: readonly ObjectSpec[]): void {
    this.chunk(
      objs.map((o) => o.id),
      objs.map((o) => o.type),
      objs.map((o) => o.size),
      objs.map((o) => o.refs.length),
      objs.flatMap((o) => o.refs),
    );
  }

  /** The end record; `claim` overrides the counts it states (to write a lying file). */
  end(seconds = 0.25, claim: { objects?: number; references?: number } = {}): void {
    const b = Buffer.alloc(END_BYTES);
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    b[0] = KIND.end;
    setU64(dv, 1, claim.objects ?? this.objects);
    setU64(dv, 9, claim.references ?? this.references);
    dv.setFloat64(17, seconds, true);
    this.out(b);
  }
}

/** A whole snapshot in memory. */
export function snapshotBytes(write: (w: SnapshotWriter) => void, opts: { version?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  write(new SnapshotWriter((b) => parts.push(b), opts));
  return Buffer.concat(parts);
}

/** A snapshot streamed to `file` (for snapshots too large to hold in memory twice). */
export function writeSnapshotFile(file: string, write: (w: SnapshotWriter) => void): void {
  const fd = openSync(file, 'w');
  try {
    let pending: Buffer[] = [];
    let size = 0;
    const flush = () => {
      if (size) writeSync(fd, Buffer.concat(pending));
      pending = [];
      size = 0;
    };
    write(
      new SnapshotWriter((b) => {
        pending.push(b);
        size += b.length;
        if (size >= 1 << 22) flush();
      }),
    );
    flush();
  } finally {
    closeSync(fd);
  }
}

/**
 * A graph given by node (index = position in `nodes`), as a snapshot: node i gets id
 * 0x7f0000001000 + 16 i, like an address; `roots` name nodes; `chunkSize` splits the objects.
 */
export interface GraphSpec {
  types: string[];
  nodes: { type: number; size: number; refs: number[] }[];
  roots: { node: number; label: string }[];
  chunkSize?: number;
  /** Extra referent ids that name no object (the walk's own bookkeeping). */
  dangling?: boolean;
}

export const nodeId = (i: number) => 0x7f0000001000 + 16 * i;

export function graphSnapshot(spec: GraphSpec): Buffer {
  return snapshotBytes((w) => {
    for (const t of spec.types) w.type(t);
    for (const r of spec.roots) w.root(nodeId(r.node), r.label);
    const step = spec.chunkSize ?? 1000;
    for (let s = 0; s < spec.nodes.length; s += step) {
      w.objectsRecord(
        spec.nodes.slice(s, s + step).map((o, j) => ({
          id: nodeId(s + j),
          type: o.type,
          size: o.size,
          refs: [...o.refs.map(nodeId), ...(spec.dangling ? [0x10] : [])],
        })),
      );
    }
    w.end();
  });
}
