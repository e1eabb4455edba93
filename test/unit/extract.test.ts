// The results archive is untrusted (it comes from a target and an agent pod): nothing may be
// written outside the output directory, and damaged or oversized archives are refused.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import tar from 'tar-stream';
import { extractResults, safeMemberName } from '../../src/collect/extract.js';
import { PyheapError } from '../../src/core/errors.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-results-'));
// a writer left blocked on its pipe (the bug the test below is for) fails that test at its
// timeout and is stopped here, instead of holding the test process open for ever
const writers: ChildProcess[] = [];
after(() => {
  for (const w of writers) w.kill(); // does nothing to one that has exited
  rmSync(scratch, { recursive: true, force: true });
});
let n = 0;
const fresh = () => path.join(scratch, `out-${++n}`);
const asIs = { place: (name: string) => name, maxBytes: 1 << 20 };

type Entry = { name: string; type?: tar.Header['type']; data?: string; linkname?: string; size?: number };

async function archive(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve) => {
    pack.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    pack.on('end', () => resolve());
  });
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? 'file', ...(e.linkname ? { linkname: e.linkname } : {}) } as tar.Header;
    if ((e.type ?? 'file') === 'file') pack.entry({ ...header, size: Buffer.byteLength(e.data ?? '') }, e.data ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function refused(buf: Buffer, pattern: RegExp, opts = asIs): Promise<string> {
  const out = fresh();
  await assert.rejects(extractResults(Readable.from([buf]), out, opts), (e: unknown) => {
    assert.ok(e instanceof PyheapError);
    assert.match(e.message, pattern);
    return true;
  });
  return out;
}

describe('results archive', () => {
  it('extracts files and directories, and reports size, hash and completeness', async () => {
    const buf = await archive([
      { name: 'out/', type: 'directory' },
      { name: 'out/a.txt', data: 'hello' },
      { name: 'status.json', data: '{}' },
    ]);
    const out = fresh();
    const x = await extractResults(Readable.from([buf]), out, asIs);
    assert.equal(readFileSync(path.join(out, 'out', 'a.txt'), 'utf8'), 'hello');
    assert.deepEqual(x.files.sort(), ['out/a.txt', 'status.json']);
    assert.equal(x.bytes, buf.length);
    assert.equal(x.complete, true);
  });

  it('refuses absolute paths', async () => {
    await refused(await archive([{ name: '/etc/evil', data: 'x' }]), /absolute path/);
  });
  it('refuses ..', async () => {
    const out = await refused(await archive([{ name: 'out/../../evil', data: 'x' }]), /path with \.\./);
    assert.equal(existsSync(path.join(out, '..', 'evil')), false);
  });
  it('refuses symlinks', async () => {
    await refused(await archive([{ name: 'link', type: 'symlink', linkname: '/etc/passwd' }]), /symlink entry/);
  });
  it('refuses hard links', async () => {
    await refused(await archive([{ name: 'hard', type: 'link', linkname: 'etc/passwd' }]), /link entry/);
  });
  it('refuses devices and FIFOs', async () => {
    await refused(await archive([{ name: 'dev', type: 'character-device' }]), /character-device entry/);
    await refused(await archive([{ name: 'fifo', type: 'fifo' }]), /fifo entry/);
  });
  it('refuses more than the size cap', async () => {
    await refused(await archive([{ name: 'big', data: 'x'.repeat(5000) }]), /more than 1000 bytes/, { ...asIs, maxBytes: 1000 });
  });
  it('refuses to overwrite or to write through a symlink in the output directory', async () => {
    const out = fresh();
    mkdirSync(out);
    symlinkSync('/tmp', path.join(out, 'sub'));
    await assert.rejects(extractResults(Readable.from([await archive([{ name: 'sub/x', data: 'x' }])]), out, asIs), /non-directory/);
    assert.equal(existsSync('/tmp/x'), false);
  });
  it('a refused member early in a large archive: the writer is never left blocked on a full pipe', { timeout: 300_000 }, async () => {
    // as the agent does: a process writes the archive into a pipe; the second member collides
    // with a file already there, and 8 MiB follow (far more than a pipe holds)
    const tarFile = path.join(scratch, 'big.tar');
    writeFileSync(
      tarFile,
      await archive([
        { name: 'status.json', data: '{}' },
        { name: 'snapshot', data: 'z'.repeat(8 << 20) },
      ]),
    );
    const out = fresh();
    mkdirSync(out);
    writeFileSync(path.join(out, 'status.json'), 'an earlier run');
    const writer = spawn('cat', [tarFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    writers.push(writer);
    const exited = once(writer, 'close');
    await assert.rejects(extractResults(writer.stdout, out, { ...asIs, maxBytes: 64 << 20 }), /status\.json already exists/);
    assert.deepEqual(await exited, [0, null], 'the writer ran to its end');
    assert.equal(readFileSync(path.join(out, 'status.json'), 'utf8'), 'an earlier run');
  });
  it('a truncated stream is an error, or at least not complete', async () => {
    const buf = await archive([{ name: 'a', data: 'y'.repeat(3000) }]);
    const out = fresh();
    const cut = buf.subarray(0, 1536);
    try {
      const x = await extractResults(Readable.from([cut]), out, asIs);
      assert.equal(x.complete, false);
    } catch (e) {
      assert.ok(e instanceof PyheapError);
      assert.match(e.message, /damaged or truncated/);
    }
  });
  it('names: normalises ./ and empty segments', () => {
    assert.equal(safeMemberName('./out//a'), 'out/a');
    assert.throws(() => safeMemberName('a/../../b'));
  });
  it('wrote nothing outside the scratch directory', () => {
    assert.deepEqual(
      readdirSync(scratch).filter((f) => !f.startsWith('out-') && f !== 'big.tar'),
      [],
    );
  });
});
