// Receives the agent's tar stream and extracts it into the output directory, refusing anything
// that could land outside it: absolute paths, "..", links, devices, FIFOs, overwrites, and
// more bytes than allowed. Counts bytes and hashes them so that the caller can compare them
// with what the agent announced, and checks that the archive really ended.
import { createHash } from 'node:crypto';
import { constants as C, promises as fs } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { EXIT, PyheapError } from '../core/errors.js';

export interface ExtractOptions {
  /** Where an archive member goes, relative to the output directory; null to skip it. */
  place(name: string): string | null;
  maxBytes: number;
  onProgress?(bytes: number): void;
}

export interface Extracted {
  files: string[];
  bytes: number;
  sha256: string;
  /** The archive ended with its end-of-archive marker (two zero blocks). */
  complete: boolean;
}

function refuse(message: string): PyheapError {
  return new PyheapError('collect', `refused the results archive: ${message}`, {
    hint: 'the agent or the target sent something unexpected; nothing was written outside the output directory',
    exitCode: EXIT.transfer,
  });
}

/** A member name, checked and normalised; throws for anything that could escape. */
export function safeMemberName(raw: string): string {
  if (raw.includes('\0')) throw refuse(`member name contains a NUL byte`);
  if (raw.startsWith('/')) throw refuse(`absolute path ${JSON.stringify(raw)}`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw refuse(`path with .. ${JSON.stringify(raw)}`);
  if (parts.length === 0) return '.';
  return parts.join('/');
}

async function ensureDirInside(root: string, rel: string): Promise<void> {
  let cur = root;
  for (const part of rel.split('/').filter(Boolean)) {
    cur = path.join(cur, part);
    const st = await fs.lstat(cur).catch(() => null);
    if (st === null) await fs.mkdir(cur, { mode: 0o755 });
    else if (!st.isDirectory()) throw refuse(`${JSON.stringify(rel)} would pass through a non-directory`);
  }
}

export async function extractResults(input: Readable, outDir: string, opts: ExtractOptions): Promise<Extracted> {
  const hash = createHash('sha256');
  let bytes = 0;
  let tail = Buffer.alloc(0);
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > opts.maxBytes + 64 * 1024) return cb(refuse(`more than ${opts.maxBytes} bytes`));
      hash.update(chunk);
      // the last 1024 bytes (the end-of-archive marker), without copying every chunk
      tail = chunk.length >= 1024 ? Buffer.from(chunk.subarray(-1024)) : Buffer.concat([tail, chunk]).subarray(-1024);
      opts.onProgress?.(bytes);
      cb(null, chunk);
    },
  });
  const files: string[] = [];
  let payloadBytes = 0;
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    stream.on('error', () => {
      /* reported through the iteration in handle() and by extract */
    });
    handle(header, stream).then(
      () => next(),
      (e: unknown) => {
        stream.resume();
        extract.destroy(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
  async function handle(header: tar.Header, stream: AsyncIterable<unknown>): Promise<void> {
    const name = safeMemberName(header.name);
    if (header.type !== 'file' && header.type !== 'directory') {
      throw refuse(`${JSON.stringify(header.name)} is a ${header.type ?? 'special'} entry (only files and directories are accepted)`);
    }
    const dest = name === '.' ? null : opts.place(name);
    if (dest === null) {
      for await (const _ of stream) {
        /* skipped member */
      }
      return;
    }
    const rel = safeMemberName(dest);
    if (header.type === 'directory') {
      await ensureDirInside(outDir, rel);
      for await (const _ of stream) {
        /* empty */
      }
      return;
    }
    payloadBytes += header.size ?? 0;
    if (payloadBytes > opts.maxBytes) throw refuse(`files add up to more than ${opts.maxBytes} bytes`);
    await ensureDirInside(outDir, path.posix.dirname(rel));
    const fh = await fs.open(path.join(outDir, rel), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o644).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'EEXIST' ? refuse(`${rel} already exists in ${outDir}`) : e;
    });
    try {
      // written in batches of about 1 MiB: one system call (and one await) per batch
      let batch: Buffer[] = [];
      let size = 0;
      for await (const chunk of stream) {
        batch.push(chunk as Buffer);
        size += (chunk as Buffer).length;
        if (size >= 1 << 20) {
          await fh.writev(batch);
          batch = [];
          size = 0;
        }
      }
      if (batch.length) await fh.writev(batch);
    } finally {
      await fh.close();
    }
    files.push(rel);
  }
  await fs.mkdir(outDir, { recursive: true });
  const extracted = new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', (e) => {
      // the rest of the archive still drains (and is counted), into nothing: an agent writing it
      // must never block on a full pipe because we stopped reading
      meter.unpipe();
      meter.resume();
      reject(e);
    });
    extract.on('close', () => resolve());
  });
  meter.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    await Promise.all([
      pipeline(input, meter).catch((e: unknown) => {
        extract.destroy(e as Error);
        throw e;
      }),
      extracted,
    ]);
  } catch (e) {
    if (e instanceof PyheapError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new PyheapError('collect', `the results archive is damaged or truncated (${msg})`, {
      hint: 'the connection may have dropped; run again',
      exitCode: EXIT.transfer,
      cause: e,
    });
  }
  const complete = bytes >= 1024 && bytes % 512 === 0 && tail.length === 1024 && tail.every((b) => b === 0);
  return { files, bytes, sha256: hash.digest('hex'), complete };
}
