// The report page of a 5-million-object snapshot: its size and the time until the browser has
// drawn it (Debian's chromium, headless), against a baseline of the same run: the page of a
// ten-type census. A worst case too (50,000 types, 50,000 growth rows, 2,000 threads): what the
// page embeds is bounded (pageData.LIMITS), whatever the heap.
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { analyzeFile } from '../src/analysis/command.js';
import { DOMINATOR_NODES } from '../src/analysis/dominatorView.js';
import { writeReportFile } from '../src/report/html/write.js';
import type { RunDoc } from '../src/report/html/document.js';
import { launchBrowser, openReport, whyNoBrowser } from '../test/support/browser.js';
import { mb, scratch, sec, table } from './support.js';
import { writeSyntheticHeap } from './syntheticHeap.js';

const RUNS = 5;
const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function tinyCensus(): RunDoc {
  return {
    target: 'pid/1',
    run_id: 'bench',
    status: 'ok',
    python: { version: '3.12.1', implementation: 'cpython', pid: 1, executable: 'python' },
    total: { count: 1000, size: 100_000 },
    types: Array.from({ length: 10 }, (_, i) => ({ name: `t${i}`, count: 100, size: 10_000 })),
    largest: [],
    notes: [],
  };
}

function worstCase(): RunDoc {
  const types = Array.from({ length: 50_000 }, (_, i) => ({ name: `pkg${i % 300}.mod${i % 17}.T${i}`, count: 50_000 - i, size: (50_000 - i) * 64 }));
  return {
    ...tinyCensus(),
    types,
    total: { count: 1e9, size: 1e11 },
    largest: Array.from({ length: 5000 }, (_, i) => ({ type: 'bytes', size: 1e6 - i, id: 0x7f0000000000 + i * 16 })),
    growth: types.map((t) => ({ name: t.name, count_delta: 10, size_delta: 640, count: t.count, size: t.size })),
    growth_seconds: 60,
    growth_total: { count_delta: 5e5, size_delta: 3.2e7 },
    threads: Array.from({ length: 2000 }, (_, i) => ({
      name: `worker-${i}`,
      ident: i,
      daemon: true,
      frames: Array.from({ length: 200 }, (_, j) => ({ file: `/app/mod${j}.py`, line: j, function: `f${j}` })),
    })),
  };
}

/** Median time from navigation to drawn, and to the treemap drawn after a click on its tab. */
async function timePage(file: string): Promise<{ drawn: number; map: number }> {
  const browser = await launchBrowser();
  try {
    const drawn: number[] = [];
    const map: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const p = await openReport(browser, `file://${file}`);
      if (p.errors.length) throw new Error(`the page of ${file} logged errors: ${p.errors.join('; ')}`);
      drawn.push(Number(await p.page.evaluate(() => document.documentElement.dataset.drawn)));
      map.push(
        await p.page.evaluate(
          () =>
            new Promise<number>((resolve) => {
              const t0 = performance.now();
              location.hash = document.querySelector('a[data-tab=map]') ? '#map' : '#types';
              requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
            }),
        ),
      );
      await p.page.context().close();
    }
    return { drawn: median(drawn), map: median(map) };
  } finally {
    await browser.close();
  }
}

export async function runReportBench(objects = Number(process.env.PYHEAP_BENCH_OBJECTS ?? 5_000_000)): Promise<string> {
  const why = whyNoBrowser();
  if (why) return `report: cannot run: ${why}`;
  const snap = path.join(scratch, 'report.pyheap');
  writeSyntheticHeap(snap, objects);
  const t = performance.now();
  const analysis = await analyzeFile(snap, { top: 25, dominatorNodes: DOMINATOR_NODES });
  const analysed = (performance.now() - t) / 1000;
  rmSync(snap, { force: true });
  const pages = [
    { name: 'baseline: a census of 10 types', doc: tinyCensus() as unknown },
    { name: `analyze of a ${(objects / 1e6).toFixed(0)}M-object snapshot`, doc: analysis as unknown },
    { name: 'worst case: 50,000 types and growth rows, 2,000 threads', doc: worstCase() as unknown },
  ];
  const rows: string[][] = [['page', 'JSON document', 'report.html', 'render (Node)', 'drawn after', 'vs baseline', 'treemap/tab drawn']];
  let base = 0;
  for (const [i, pg] of pages.entries()) {
    const file = path.join(scratch, `report-${i}.html`);
    const r0 = performance.now();
    writeReportFile(file, pg.doc);
    const render = (performance.now() - r0) / 1000;
    const tm = await timePage(file);
    if (i === 0) base = tm.drawn;
    rows.push([pg.name, mb(JSON.stringify(pg.doc).length), kib(statSync(file).size), sec(render), `${tm.drawn.toFixed(0)} ms`, `${(tm.drawn / base).toFixed(2)}x`, `${tm.map.toFixed(0)} ms`]);
  }
  return [
    `report: page size and time until chromium has drawn it (median of ${RUNS} loads from the file; snapshot analysed in ${sec(analysed)}, ${analysis.snapshot.objects.toLocaleString('en-US')} objects)`,
    table(rows),
    'bounds: 1,000 types, 100 largest objects, 1,000 retained types, 200 retainers, 500 growth rows, 50 referrer types x 10 chains, 200 threads x 60 frames, 200 allocation sites, 500 dominator-tree nodes; the rest is counted on the page',
  ].join('\n');
}
