// The heap snapshot format of payloads/SNAPSHOT.md in numbers: shared by the reader and by the
// test and benchmark writer, so that both sides agree on every byte.

export const MAGIC = Buffer.from('PYHEAPSNAP1\n', 'latin1');
export const VERSION = 1;
export const HEADER_BYTES = MAGIC.length + 4;

export const KIND = { type: 1, objects: 2, root: 3, end: 4 } as const;

/** Bytes per object in an objects record (u64 id, u32 type, u64 size, u32 reference count). */
export const OBJECT_BYTES = 8 + 4 + 8 + 4;
/** Bytes per reference (u64 referent id). */
export const REFERENCE_BYTES = 8;
/** kind byte + u64 objects + u64 references + f64 seconds. */
export const END_BYTES = 1 + 8 + 8 + 8;

/** Ids are addresses: they fit in 53 bits, so a JS number holds them exactly. */
export const TWO_32 = 4294967296;
export const MAX_HIGH_WORD = 0x1fffff; // high 32 bits of Number.MAX_SAFE_INTEGER
