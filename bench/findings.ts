// The leak-finding options: snapshot throughput out of the target (objects per second, bytes
// per object, extra peak memory in the target) against a census of the same target, and the
// cost of --growth against two plain censuses, all in the same run.
import { statSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES } from '../test/support/cli.js';
import { startContainer } from '../test/support/container.js';
import type { Interpreter } from '../test/support/pythons.js';
import { cli, extraPeak, mb, median, sec, table } from './support.js';

type Obj = Record<string, any>;

export async function runFindingsBench(python: Interpreter): Promise<string> {
  const t = await startContainer({ python, script: path.join(FIXTURES, 'heap_target.py'), args: ['1000000'], uid: 1000 });
  try {
    const census = async () => {
      const { result, extraBytes } = await extraPeak(t.pid, () => cli([`pid/${t.pid}`, '-o', 'json', '--timeout', '5m']));
      if (result.code !== 0) throw new Error(result.stderr);
      return { doc: JSON.parse(result.stdout) as Obj, extraBytes };
    };
    await census(); // warm-up
    const c = await census();
    const s = await extraPeak(t.pid, () => cli([`pid/${t.pid}`, '--snapshot', '-o', 'json', '--timeout', '5m']));
    if (s.result.code !== 0) throw new Error(s.result.stderr);
    const sd = JSON.parse(s.result.stdout) as Obj;
    const file = statSync(path.join(s.result.outDir, 'snapshot.pyheap')).size;
    const objects = sd.snapshot.objects as number;
    const snapshotRows = [
      ['', 'objects', 'time in target', 'objects per second', 'bytes per object', 'extra peak in target', 'time vs census'],
      ['census', String(c.doc.total.count), sec(c.doc.census_seconds), `${Math.round(c.doc.total.count / c.doc.census_seconds).toLocaleString('en-US')}`, '-', mb(c.extraBytes), '1.00x'],
      [
        'snapshot (streamed to the agent)',
        String(objects),
        sec(sd.snapshot.seconds),
        `${Math.round(objects / sd.snapshot.seconds).toLocaleString('en-US')}`,
        (file / objects).toFixed(1),
        mb(s.extraBytes),
        `${(sd.snapshot.seconds / c.doc.census_seconds).toFixed(2)}x`,
      ],
      ['retained sizes (dominator tree, on this machine)', String(objects), sec(sd.analysis_seconds), `${Math.round(objects / sd.analysis_seconds).toLocaleString('en-US')}`, '-', '-', '-'],
    ];
    // --growth W: two censuses W apart; its cost beyond the window, against two plain runs
    const W = 1;
    const plain: number[] = [];
    const growth: number[] = [];
    for (let i = 0; i < 3; i++) {
      const a = performance.now();
      await census();
      await census();
      plain.push((performance.now() - a) / 1000);
      const b = performance.now();
      const g = await cli([`pid/${t.pid}`, '--growth', `${W}s`, '-o', 'json', '--timeout', '5m']);
      if (g.code !== 0) throw new Error(g.stderr);
      growth.push((performance.now() - b) / 1000 - W);
    }
    const growthRows = [
      ['', 'wall time (median of 3)', 'ratio'],
      ['two plain censuses (two runs)', sec(median(plain)), '1.00x'],
      [`one --growth ${W}s run, minus its ${W} s window`, sec(median(growth)), `${(median(growth) / median(plain)).toFixed(2)}x`],
    ];
    return `Snapshot out of the target (${python.label}, ${objects.toLocaleString('en-US')} objects, ${(file / 1e6).toFixed(1)} MB file)\n${table(snapshotRows)}\n\nGrowth overhead\n${table(growthRows)}`;
  } finally {
    await t.stop();
  }
}
