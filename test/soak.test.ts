// A short injection soak (npm run bench runs the full 200): every injection succeeds, the busy
// multithreaded target never hangs or dies, and its open files and memory come back.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';
import { percentile, soak } from './support/soak.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-soak-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const python =
  findInterpreters()
    .filter((p) => p.label.startsWith('pyenv'))
    .at(-1) ?? findInterpreters()[0]!;

describe('injection soak (short)', { skip }, () => {
  it(`20 injections into a target allocating in C with the GIL released (${python.label})`, async () => {
    const r = await soak(python, 20, scratch);
    assert.deepEqual(r.failures, []);
    assert.equal(r.health, null);
    assert.deepEqual(r.leftInTmp, []);
    assert.equal(r.fdsEnd, r.fdsStart, 'open file descriptors back to their starting number');
    assert.ok(r.rssEnd < r.rssStart + 32 * 1024 * 1024, `RSS ${r.rssStart} -> ${r.rssEnd}: within 32 MB of the start`);
    process.stderr.write(
      `soak: pauses p50 ${percentile(r.pausesMs, 50)} ms, p99 ${percentile(r.pausesMs, 99)} ms, max ${Math.max(...r.pausesMs)} ms; RSS ${(r.rssStart / 1e6).toFixed(1)} -> ${(r.rssEnd / 1e6).toFixed(1)} MB\n`,
    );
  });
});
