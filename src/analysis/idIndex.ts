// Object id (an address) -> node index, for millions of ids: an open-addressing hash table in
// one Float64Array of (id, index) pairs, so that a lookup touches one cache line, where a JS Map
// of millions of entries would cost several times the memory and the time.
import { TWO_32 } from './format.js';

const EMPTY = -1; // ids are never negative

export class IdIndex {
  private readonly slots: Float64Array;
  private readonly mask: number;
  /** Ids met a second time: every object appears once, so these are damage or a reused address. */
  readonly duplicates: number;

  constructor(ids: Float64Array) {
    // load factor between 0.35 and 0.7: linear probing stays short, memory 16 bytes a slot
    let cap = 16;
    while (cap * 0.7 < ids.length) cap *= 2;
    this.mask = cap - 1;
    this.slots = new Float64Array(cap * 2).fill(EMPTY);
    let duplicates = 0;
    for (let i = 0; i < ids.length; i++) if (!this.insert(ids[i]!, i)) duplicates++;
    this.duplicates = duplicates;
  }

  /** The node index of `id`, or -1. */
  get(id: number): number {
    const s = this.slots;
    const mask = this.mask;
    for (let i = hash(id) & mask; ; i = (i + 1) & mask) {
      const k = s[2 * i]!;
      if (k === id) return s[2 * i + 1]!;
      if (k === EMPTY) return -1;
    }
  }

  /** False when the id is already there (the first one wins). */
  private insert(id: number, index: number): boolean {
    const s = this.slots;
    const mask = this.mask;
    for (let i = hash(id) & mask; ; i = (i + 1) & mask) {
      const k = s[2 * i]!;
      if (k === id) return false;
      if (k === EMPTY) {
        s[2 * i] = id;
        s[2 * i + 1] = index;
        return true;
      }
    }
  }
}

/** Mixes both halves of a 53-bit id; addresses share their low (alignment) and high bits. */
function hash(id: number): number {
  const lo = id >>> 0;
  const hi = (id / TWO_32) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}
