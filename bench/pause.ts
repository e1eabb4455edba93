// How long the target is frozen by an injection: ours against the stock gdb recipe, on a
// process that maps ~120 shared libraries. A ticker thread in the target measures its longest
// freeze around each injection.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { FIXTURES } from '../test/support/cli.js';
import { startContainer, type ContainerTarget } from '../test/support/container.js';
import type { Interpreter } from '../test/support/pythons.js';
import { cli, median, table } from './support.js';

const RUNS = 5;

/** The longest freeze the ticker reported while `fn` ran, in milliseconds. */
async function freeze(t: ContainerTarget, fn: () => Promise<void> | void): Promise<number> {
  await new Promise((r) => setTimeout(r, 300)); // let earlier gaps drain
  const from = t.output.length;
  await fn();
  await new Promise((r) => setTimeout(r, 300));
  const gaps = t.output
    .slice(from)
    .filter((l) => l.startsWith('gap '))
    .map((l) => Number(l.slice(4)));
  return Math.max(0, ...gaps);
}

function gdb(pid: number, args: string[]): void {
  const r = spawnSync('gdb', ['-nx', '-batch', '-p', String(pid), ...args], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`gdb failed: ${r.stderr}`);
}

export async function runPauseBench(python: Interpreter): Promise<string> {
  const t = await startContainer({ python, script: path.join(FIXTURES, 'many_libs.py'), uid: 1000 });
  try {
    const libs = t.output.find((l) => l.startsWith('libs '))?.slice(5) ?? '?';
    const methods: [string, () => Promise<void> | void][] = [
      [
        'ours: kubectl-pyheap --exec pass',
        async () => {
          const r = await cli([`pid/${t.pid}`, '--exec', 'pass']);
          if (r.code !== 0) throw new Error(r.stderr);
        },
      ],
      // The seed's recipe: gdb -p PID reading the symbols of every mapped library, then three
      // `call`s. Only the attach and symbol loading are run here: on this CPU (AMX) gdb 13's
      // `call` cannot restore the registers and kills the target, so the figure is a lower
      // bound of the stock recipe's pause.
      ['stock recipe (attach + all symbols)', () => gdb(t.pid, ['-ex', 'set scheduler-locking off', '-ex', 'info sharedlibrary'])],
      // memray's way: no automatic symbol loading, then only libpython's symbols.
      ['memray-style (libpython symbols only)', () => gdb(t.pid, ['-iex', 'set auto-solib-add off', '-ex', 'sharedlibrary libpython', '-ex', 'info sharedlibrary'])],
    ];
    const results: [string, number[]][] = [];
    for (const [name, fn] of methods) {
      const xs: number[] = [];
      for (let i = 0; i < RUNS; i++) xs.push(await freeze(t, fn));
      results.push([name, xs]);
    }
    const ours = median(results[0]![1]);
    const rows = [
      ['method', 'median freeze', 'max freeze', 'ratio to ours'],
      ...results.map(([name, xs]) => [name, `${median(xs).toFixed(0)} ms`, `${Math.max(...xs).toFixed(0)} ms`, `${(median(xs) / ours).toFixed(1)}x`]),
    ];
    return `Target pause per injection (${python.label}, ${libs} shared libraries mapped, ${RUNS} runs each, measured by a ticker thread in the target)\n${table(rows)}`;
  } finally {
    await t.stop();
  }
}
