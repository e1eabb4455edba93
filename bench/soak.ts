// The full injection soak: 200 consecutive injections (every fifth a census) into a target
// whose threads allocate in C with the GIL released and busy themselves in Python.
import type { Interpreter } from '../test/support/pythons.js';
import { percentile, soak } from '../test/support/soak.js';
import { scratch, table } from './support.js';

export async function runSoakBench(python: Interpreter, runs = 200): Promise<string> {
  const r = await soak(python, runs, scratch, (i) => { if ((i + 1) % 50 === 0) process.stderr.write(`soak: ${i + 1}/${runs}\n`); });
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  return `Injection soak (${python.label}, ${runs} injections, threads in zlib/hashlib/json)\n${table([
    ['failures', 'hangs or deaths', 'pause p50', 'pause p99', 'pause max', 'RSS start -> end', 'fds start -> end'],
    [String(r.failures.length), r.health ?? '0', ms(percentile(r.pausesMs, 50)), ms(percentile(r.pausesMs, 99)), ms(Math.max(...r.pausesMs)),
      `${(r.rssStart / 1e6).toFixed(1)} -> ${(r.rssEnd / 1e6).toFixed(1)} MB`, `${r.fdsStart} -> ${r.fdsEnd}`],
  ])}${r.failures.length ? `\n${r.failures.join('\n')}` : ''}`;
}
