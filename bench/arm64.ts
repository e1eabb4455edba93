// npm run bench -- arm64: the target's pause for `--exec pass` on the emulated arm64 machine,
// the release's linux/arm64 executable against gdb attaching with all symbols (the stock
// recipe's first step), both measured in this run by a ticker thread in the target.
import { GUEST_PYTHONS, startSession, type GuestTarget, type Session } from '../test/arm64/support.js';
import { median, table } from './support.js';

const RUNS = 3;

/** The longest freeze the ticker reported while `fn` ran, in milliseconds. */
async function freeze(s: Session, t: GuestTarget, fn: () => Promise<void>): Promise<number> {
  const settle = async () => {
    await s.vm.sh('sleep 1');
  }; // lets earlier gaps drain through ssh
  await settle();
  const from = t.output.length;
  await fn();
  await settle();
  const gaps = t.output
    .slice(from)
    .filter((l) => l.startsWith('gap '))
    .map((l) => Number(l.slice(4)));
  return Math.max(0, ...gaps);
}

export async function runArm64Bench(): Promise<string> {
  const t0 = performance.now();
  const s = await startSession((l) => process.stderr.write(`${l}\n`));
  try {
    const py = GUEST_PYTHONS[0];
    const t = await s.target(py, 'many_libs.py');
    const libs = t.output.find((l) => l.startsWith('libs '))?.slice(5) ?? '?';
    const idle = await freeze(s, t, async () => {
      await s.vm.sh('true');
    });
    const methods: [string, () => Promise<void>][] = [
      [
        'ours: kubectl-pyheap --exec pass',
        async () => {
          const r = await s.pyheap([`pid/${t.pid}`, '--exec', 'pass']);
          if (r.code !== 0) throw new Error(r.stderr);
        },
      ],
      [
        'gdb attach + all symbols',
        async () => {
          const r = await s.vm.sh(`gdb -nx -batch -p ${t.pid} -ex 'set scheduler-locking off' -ex 'info sharedlibrary'`);
          if (r.code !== 0) throw new Error(r.stderr);
        },
      ],
    ];
    const results: [string, number[]][] = [];
    for (let i = 0; i < RUNS; i++) {
      for (const [name, fn] of methods) {
        // interleaved: load on the machine hits both alike
        let row = results.find((r) => r[0] === name);
        if (!row) results.push((row = [name, []]));
        row[1].push(await freeze(s, t, fn));
      }
    }
    await t.stop();
    const ours = median(results[0]![1]);
    const rows = [
      ['method', 'median freeze', 'max freeze', 'ratio to ours'],
      ...results.map(([name, xs]) => [name, `${median(xs).toFixed(0)} ms`, `${Math.max(...xs).toFixed(0)} ms`, `${(median(xs) / ours).toFixed(1)}x`]),
    ];
    return `arm64 (qemu-system-aarch64, software emulation): target pause per injection (${py.label}, ${libs} shared libraries mapped, ${RUNS} runs each, longest ticker gap; an idle second shows ${idle.toFixed(0)} ms)\n${table(rows)}\n(machine booted in ${s.vm.bootSeconds.toFixed(0)} s; bench took ${((performance.now() - t0) / 1000).toFixed(0)} s)`;
  } finally {
    await s.close();
  }
}
