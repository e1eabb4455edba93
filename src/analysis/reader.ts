// Streaming reader of a heap snapshot file (payloads/SNAPSHOT.md): checks every record and
// hands the contents to a sink in pieces, so that memory stays at one buffer whatever the size.
import { promises as fs } from 'node:fs';
import { EXIT, PyheapError } from '../core/errors.js';
import { END_BYTES, HEADER_BYTES, KIND, MAGIC, MAX_HIGH_WORD, OBJECT_BYTES, REFERENCE_BYTES, TWO_32, VERSION } from './format.js';

/** Receives a snapshot record by record. Pieces are views into a reused buffer: copy them. */
export interface SnapshotSink {
  /** What the end record promises, when the file looks complete: lets the sink size its arrays once. */
  expect?(objects: number, references: number): void;
  type(index: number, name: string): void;
  /** An objects record begins; then come its ids, type indexes, sizes, counts and referents, each in pieces. */
  chunk(objects: number, references: number): void;
  ids(piece: Float64Array): void;
  typeIndexes(piece: Uint32Array): void;
  sizes(piece: Float64Array): void;
  referenceCounts(piece: Uint32Array): void;
  referents(piece: Float64Array): void;
  root(id: number, label: string): void;
}

export interface SnapshotTotals {
  objects: number;
  references: number;
  types: number;
  roots: number;
  seconds: number;
  bytes: number;
}

const TRUNCATED_HINT = 'the snapshot was cut short (the payload or the copy stopped early); take a new one with --snapshot';
const CORRUPT_HINT = 'the file is damaged or is not a kubectl-pyheap snapshot; take a new one with --snapshot';
const utf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

/** Reads the snapshot at `file` into `sink`; throws a PyheapError naming the byte offset of any damage. */
export async function readSnapshot(file: string, sink: SnapshotSink, opts: { bufferBytes?: number } = {}): Promise<SnapshotTotals> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (e) {
    throw new PyheapError('parse', `cannot open the snapshot ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      exitCode: EXIT.usage,
      cause: e,
      hint: 'give the path of a snapshot.pyheap file',
    });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new PyheapError('parse', `the snapshot ${file} is not a file`, { exitCode: EXIT.usage, hint: 'give the path of a snapshot.pyheap file' });
    const r = new Reader(file, fh, st.size, opts.bufferBytes ?? 4 << 20);
    await r.expectTail(sink);
    return await r.all(sink);
  } finally {
    await fh.close();
  }
}

class Reader {
  private buf: Buffer;
  private dv: DataView;
  private pos = 0; // next unread byte in buf
  private end = 0; // end of valid data in buf
  private base = 0; // file offset of buf[0]
  private f64: Float64Array;
  private u32: Uint32Array;

  constructor(
    private readonly file: string,
    private readonly fh: fs.FileHandle,
    private readonly size: number,
    bufferBytes: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(64, bufferBytes & ~7));
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.f64 = new Float64Array(this.buf.length / 8);
    this.u32 = new Uint32Array(this.buf.length / 4);
  }

  private get offset(): number {
    return this.base + this.pos;
  }

  private fail(message: string, truncated = false): PyheapError {
    return new PyheapError('report', `the snapshot ${this.file} is ${truncated ? 'truncated' : 'corrupt'}: ${message}`, { exitCode: EXIT.transfer, hint: truncated ? TRUNCATED_HINT : CORRUPT_HINT });
  }

  /** Makes at least `min` bytes available; refills (as much as fits) when fewer than `want` are. */
  private async fill(min: number, what: string, want = min): Promise<void> {
    const have = this.end - this.pos;
    if (have >= min && have >= Math.min(want, this.size - this.offset)) return;
    if (min > this.buf.length) this.grow(min);
    this.buf.copyWithin(0, this.pos, this.end);
    this.base += this.pos;
    this.end -= this.pos;
    this.pos = 0;
    while (this.end < this.buf.length && this.base + this.end < this.size) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.fh.read(this.buf, this.end, this.buf.length - this.end, this.base + this.end));
      } catch (e) {
        throw new PyheapError('report', `cannot read the snapshot ${this.file} at byte ${this.base + this.end}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
          exitCode: EXIT.transfer,
          cause: e,
          hint: 'check the disk, or copy the file elsewhere and analyze the copy',
        });
      }
      if (bytesRead === 0) break;
      this.end += bytesRead;
    }
    if (this.end - this.pos < min) throw this.fail(`the file ends at byte ${this.base + this.end} inside ${what}`, true);
  }

  private grow(min: number): void {
    const next = Buffer.allocUnsafe(min);
    this.buf.copy(next, 0, this.pos, this.end);
    this.end -= this.pos;
    this.base += this.pos;
    this.pos = 0;
    this.buf = next;
    this.dv = new DataView(next.buffer, next.byteOffset, next.length);
  }

  private u8(): number {
    return this.buf[this.pos++]!;
  }
  private u16(): number {
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  private u32v(): number {
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private f64v(): number {
    const v = this.dv.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  private u64(what: string): number {
    const lo = this.dv.getUint32(this.pos, true);
    const hi = this.dv.getUint32(this.pos + 4, true);
    if (hi > MAX_HIGH_WORD) throw this.fail(`${what} (byte ${this.offset}: 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}) does not fit in 53 bits`);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  private async text(what: string, field: string): Promise<string> {
    await this.fill(2, what);
    const n = this.u16();
    await this.fill(n, what);
    const at = this.offset;
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8.decode(bytes);
    } catch {
      // the payload cuts names at 65535 bytes, possibly inside a character: only that is forgiven
      if (n === 0xffff) return lenientUtf8.decode(bytes);
      throw this.fail(`${what} has a ${field} that is not valid UTF-8 (byte ${at})`);
    }
  }

  /** Peeks at the last bytes: if they are a plausible end record, the sink learns the totals early. */
  async expectTail(sink: SnapshotSink): Promise<void> {
    if (!sink.expect || this.size < HEADER_BYTES + END_BYTES) return;
    const tail = Buffer.alloc(END_BYTES);
    await this.fh.read(tail, 0, END_BYTES, this.size - END_BYTES);
    if (tail[0] !== KIND.end) return;
    const objects = tail.readUInt32LE(1) + tail.readUInt32LE(5) * TWO_32;
    const references = tail.readUInt32LE(9) + tail.readUInt32LE(13) * TWO_32;
    if (objects * OBJECT_BYTES + references * REFERENCE_BYTES <= this.size) sink.expect(objects, references);
  }

  async all(sink: SnapshotSink): Promise<SnapshotTotals> {
    // a file that does not even start like one is no snapshot, however short
    if (this.size > 0) await this.fill(Math.min(HEADER_BYTES, this.size), 'the header');
    const start = this.buf.subarray(0, Math.min(MAGIC.length, this.end));
    if (this.size === 0 || !start.equals(MAGIC.subarray(0, start.length))) {
      throw new PyheapError('report', `${this.file} is not a kubectl-pyheap snapshot (bad magic at byte 0: it does not start with PYHEAPSNAP1)`, {
        exitCode: EXIT.transfer,
        hint: 'give the snapshot.pyheap that a --snapshot run saved in its output directory',
      });
    }
    await this.fill(HEADER_BYTES, 'the header');
    this.pos = MAGIC.length;
    const version = this.u32v();
    if (version !== VERSION) {
      throw new PyheapError('report', `the snapshot ${this.file} has format version ${version} (byte ${MAGIC.length}); this kubectl-pyheap reads version ${VERSION}`, {
        exitCode: EXIT.transfer,
        hint: 'analyze it with the kubectl-pyheap that took it',
      });
    }
    const t: SnapshotTotals = { objects: 0, references: 0, types: 0, roots: 0, seconds: 0, bytes: this.size };
    for (;;) {
      if (this.offset >= this.size) throw this.fail(`the file ends at byte ${this.size} without an end record`, true);
      await this.fill(1, 'a record');
      const at = this.offset;
      const kind = this.u8();
      if (kind === KIND.type) {
        await this.fill(4, `the type record at byte ${at}`);
        const index = this.u32v();
        if (index !== t.types) throw this.fail(`the type record at byte ${at} has index ${index}, expected ${t.types} (types are numbered in order)`);
        sink.type(index, await this.text(`the type record at byte ${at}`, 'name'));
        t.types++;
      } else if (kind === KIND.objects) {
        await this.objects(sink, at, t);
      } else if (kind === KIND.root) {
        await this.fill(8, `the root record at byte ${at}`);
        const id = this.u64(`the root id of the record at byte ${at}`);
        sink.root(id, await this.text(`the root record at byte ${at}`, 'label'));
        t.roots++;
      } else if (kind === KIND.end) {
        await this.fill(END_BYTES - 1, `the end record at byte ${at}`);
        const objects = this.u64(`the object count of the end record at byte ${at}`);
        const references = this.u64(`the reference count of the end record at byte ${at}`);
        t.seconds = this.f64v();
        if (objects !== t.objects || references !== t.references) {
          throw this.fail(`the end record at byte ${at} says ${objects} objects and ${references} references were written, but the file holds ${t.objects} and ${t.references}`);
        }
        if (this.offset !== this.size) throw this.fail(`${this.size - this.offset} bytes follow the end record at byte ${at}`);
        return t;
      } else {
        throw this.fail(`unknown record kind ${kind} at byte ${at}`);
      }
    }
  }

  private async objects(sink: SnapshotSink, at: number, t: SnapshotTotals): Promise<void> {
    const what = `the objects record at byte ${at}`;
    await this.fill(8, what);
    const k = this.u32v();
    const r = this.u32v();
    const body = k * OBJECT_BYTES + r * REFERENCE_BYTES;
    if (this.offset + body > this.size) {
      throw this.fail(`${what} declares ${k} objects and ${r} references (${body} bytes) but the file ends ${this.size - this.offset} bytes after its header`, true);
    }
    sink.chunk(k, r);
    await this.u64s(k, `an object id in ${what}`, what, (p) => sink.ids(p));
    const types = t.types;
    await this.u32s(k, what, (p, first, offset) => {
      for (let i = 0; i < p.length; i++) {
        if (p[i]! >= types) throw this.fail(`object ${first + i} of ${what} has type index ${p[i]} (byte ${offset + 4 * i}), but only ${types} types were declared before it`);
      }
      sink.typeIndexes(p);
    });
    await this.u64s(k, `an object size in ${what}`, what, (p) => sink.sizes(p));
    let sum = 0;
    await this.u32s(k, what, (p) => {
      for (let i = 0; i < p.length; i++) sum += p[i]!;
      sink.referenceCounts(p);
    });
    if (sum !== r) throw this.fail(`${what}: its reference counts add up to ${sum}, but it declares ${r} references`);
    await this.u64s(r, `a referent id in ${what}`, what, (p) => sink.referents(p));
    t.objects += k;
    t.references += r;
  }

  /** `count` u64s, decoded into the scratch array and emitted a buffer's worth at a time. */
  private async u64s(count: number, what: string, where: string, emit: (piece: Float64Array) => void): Promise<void> {
    for (let left = count; left > 0; ) {
      await this.fill(8, where, Math.min(left * 8, this.buf.length));
      const n = Math.min(left, (this.end - this.pos) >>> 3, this.f64.length);
      const out = this.f64;
      const dv = this.dv;
      let p = this.pos;
      for (let i = 0; i < n; i++, p += 8) {
        const hi = dv.getUint32(p + 4, true);
        if (hi > MAX_HIGH_WORD) {
          this.pos = p;
          this.u64(what);
        } // throws, naming the byte
        out[i] = hi * TWO_32 + dv.getUint32(p, true);
      }
      this.pos = p;
      emit(out.subarray(0, n));
      left -= n;
    }
  }

  private async u32s(count: number, where: string, emit: (piece: Uint32Array, first: number, offset: number) => void): Promise<void> {
    for (let left = count; left > 0; ) {
      await this.fill(4, where, Math.min(left * 4, this.buf.length));
      const n = Math.min(left, (this.end - this.pos) >>> 2, this.u32.length);
      const out = this.u32;
      const dv = this.dv;
      let p = this.pos;
      const offset = this.offset;
      for (let i = 0; i < n; i++, p += 4) out[i] = dv.getUint32(p, true);
      this.pos = p;
      emit(out.subarray(0, n), count - left, offset);
      left -= n;
    }
  }
}
