// The full injection soak: 200 consecutive injections (every fifth a census) into a target
// whose threads allocate in C with the GIL released and busy themselves in Python.
import type { Interpreter } from '../test/support/pythons.js';
import { idleControl, percentile, soak } from '../test/support/soak.js';
import { scratch, table } from './support.js';

export async function runSoakBench(python: Interpreter, runs = 200): Promise<string> {
  const r = await soak(python, runs, scratch, (i) => {
    if ((i + 1) % 50 === 0) process.stderr.write(`soak: ${i + 1}/${runs}\n`);
  });
  // the baseline: the same target, left alone as long (its allocators drift on their own)
  process.stderr.write(`soak: the same target left alone for ${(r.elapsedMs / 1000).toFixed(0)} s (baseline)\n`);
  const c = await idleControl(python, r.elapsedMs);
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const mb = (a: number, b: number) => `${(a / 1e6).toFixed(1)} -> ${(b / 1e6).toFixed(1)} MB (${b >= a ? '+' : ''}${((b - a) / 1e6).toFixed(1)})`;
  return `Injection soak (${python.label}, ${runs} injections, threads in zlib/hashlib/json)\n${table([
    ['', 'failures', 'hangs or deaths', 'pause p50', 'pause p99', 'pause max', 'RSS start -> end', 'fds start -> end'],
    [
      `${runs} injections`,
      String(r.failures.length),
      r.health ?? '0',
      ms(percentile(r.pausesMs, 50)),
      ms(percentile(r.pausesMs, 99)),
      ms(Math.max(...r.pausesMs)),
      mb(r.rssStart, r.rssEnd),
      `${r.fdsStart} -> ${r.fdsEnd}`,
    ],
    [`baseline: left alone ${(r.elapsedMs / 1000).toFixed(0)} s`, '', '', '', '', '', mb(c.rssStart, c.rssEnd), `${c.fdsStart} -> ${c.fdsEnd}`],
  ])}
RSS after injection ${[1, 5, 10, 25, 50, 100, 150, 200]
    .filter((n) => n <= r.rssAfter.length)
    .map((n) => `${n}: ${(r.rssAfter[n - 1]! / 1e6).toFixed(1)}`)
    .join(', ')} MB (start ${(r.rssStart / 1e6).toFixed(1)})${r.failures.length ? `\n${r.failures.join('\n')}` : ''}`;
}
