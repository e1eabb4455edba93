// Memory honesty: every run reports the target's resident memory before, after and at its peak
// while the payload ran; a forked worker whose heap is shared with its parent (pre-fork
// servers) is detected before the census, which would copy those pages, and counted only when
// the user says so; objects hidden by gc.freeze() are reported by number.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FIXTURES, runCli } from './support/cli.js';
import { liveTargets, startContainer } from './support/container.js';
import { healthy } from './support/proc.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';

const skip = ptraceSkip();
const py =
  findInterpreters()
    .filter((p) => p.label.startsWith('pyenv'))
    .at(-1) ?? findInterpreters()[0]!;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-memory-'));
let n = 0;
const outDir = () => path.join(scratch, `out-${++n}`);
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    liveTargets().map((t) => t.pid),
    [],
  );
});

const rss = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;

describe('memory honesty', { skip }, () => {
  it('a census reports RSS before, after and the peak it caused', async () => {
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'heap_target.py'), args: ['200000'], uid: 1000 });
    try {
      const r = await runCli([`pid/${t.pid}`, '-o', 'json', '--out-dir', outDir()]);
      assert.equal(r.code, 0, r.stderr);
      const m = (JSON.parse(r.stdout) as { memory: { rss_before: number; rss_after: number; rss_peak: number; extra_peak: number } }).memory;
      assert.ok(m.rss_before > 10e6 && m.rss_after > 10e6, JSON.stringify(m));
      assert.ok(m.rss_peak >= m.rss_before && m.rss_peak >= m.rss_after);
      assert.equal(m.extra_peak, m.rss_peak - m.rss_before);
      const text = await runCli([`pid/${t.pid}`, '--out-dir', outDir()]);
      assert.match(text.stderr, /target memory: RSS .* before, .* after; peak .* \(\+.*\) while the payload ran/);
    } finally {
      await t.stop();
    }
  });

  it('a forked worker sharing its heap: refused with the reason, counted with --allow-shared', async () => {
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'forked_worker.py'), uid: 1000 });
    try {
      const children = readFileSync(`/proc/${t.pid}/task/${t.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
      const worker = children[0]!;
      assert.ok(worker > 0);
      const refused = await runCli([`pid/${worker}`, '--out-dir', outDir()]);
      assert.equal(refused.code, 5, refused.stderr);
      assert.match(
        refused.stderr,
        /error: process \d+ is a forked worker sharing \d+ MiB of heap with its parent \d+: a census copies the pages it touches into the worker .*; add --allow-shared to count it anyway/,
      );
      const before = rss(worker);
      const r = await runCli([`pid/${worker}`, '--allow-shared', '-o', 'json', '--out-dir', outDir()]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as { memory: { rss_before: number; rss_after: number }; gc: { frozen: number }; total: { count: number } };
      // the parent froze its heap before forking: the worker's census says how much it cannot see
      assert.ok(doc.gc.frozen > 400000, `frozen: ${doc.gc.frozen}`);
      assert.ok(doc.memory.rss_before >= before * 0.9);
      assert.equal(healthy(worker), null);
      assert.equal(healthy(t.pid), null);
    } finally {
      await t.stop();
    }
  });
});
