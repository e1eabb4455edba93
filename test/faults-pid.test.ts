// The fault matrix through pid/N: interrupts at each stage, target-side faults, gdb missing,
// payloads past --timeout; every row checked by assertAftermath() and listed in the table.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { agentPath } from '../tools/cluster/images.js';
import { FIXTURES } from './support/cli.js';
import { liveTargets, startContainer, type ContainerTarget } from './support/container.js';
import { procState } from './support/proc.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';
import { assertAftermath, oneOfTwoRuns, printMatrix, startCli, stopRuns, threadsOf, tracerOf, until, withOtherDebugger, type Aftermath } from './faults-support.js';

const skip = ptraceSkip();
const py =
  findInterpreters()
    .filter((p) => p.label.startsWith('pyenv'))
    .at(-1) ?? findInterpreters()[0]!;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-faults-pid-'));
const agentTmp = path.join(scratch, 'agent-tmp'); // TMPDIR of the CLI and so of its agent
const BIG = path.join(scratch, 'big.py');
let n = 0;
let idle: ContainerTarget;

/** A run against pid/PID with its own --out-dir and TMPDIR. */
function run(pid: number, args: string[], env: Record<string, string> = {}) {
  const outDir = path.join(scratch, `out-${++n}`);
  return { outDir, cli: startCli([`pid/${pid}`, '--out-dir', outDir, ...args], { TMPDIR: agentTmp, ...env }) };
}
const busyTarget = (script = 'busy_loop.py') => startContainer({ python: py, script: path.join(FIXTURES, script) });
const check = (a: Omit<Aftermath, 'agentTmp'>) => assertAftermath({ agentTmp, ...a });
/** The error of a run stopped by `sig` (a closed terminal says so). */
const interrupted = (sig: string) => new RegExp(`^error: interrupted by ${sig}${sig === 'SIGHUP' ? ' \\(the terminal closed\\)' : ''}; the target was left running and untouched`);

before(async () => {
  mkdirSync(agentTmp);
  writeFileSync(BIG, 'import os\nwith open(os.path.join(PYHEAP_OUT, "big.bin"), "wb") as f:\n    f.write(b"x" * (50 << 20))\n');
  if (!skip) idle = await startContainer({ python: py, script: path.join(FIXTURES, 'census_target.py'), args: ['10', '1'], uid: 1000 });
});
afterEach(stopRuns);
after(async () => {
  await idle?.stop();
  printMatrix('fault matrix, pid/N (faults-pid.test.ts)');
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    liveTargets().map((t) => t.pid),
    [],
    'a test left a target running',
  );
});

describe('fault matrix through pid/N', { skip, timeout: 180_000 }, () => {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) {
    it(`${sig} while resolving`, async () => {
      const { cli, outDir } = run(idle.pid, []);
      await cli.line(/^resolving target/);
      cli.child.kill(sig);
      await check({ fault: sig, stage: 'resolving', result: await cli.done, code: 130, error: interrupted(sig), target: { pid: idle.pid, threads: 2 }, outDir });
    });

    it(`${sig} while gdb is attached (waiting for a safe point)`, async () => {
      const t = await busyTarget();
      try {
        const { cli, outDir } = run(t.pid, ['--safepoint-wait', '5s']);
        await cli.line(/^injecting with gdb/);
        await until('gdb to attach', () => tracerOf(t.pid) !== 0);
        cli.child.kill(sig);
        await check({ fault: sig, stage: 'gdb attached', result: await cli.done, code: 130, error: interrupted(sig), target: { pid: t.pid, threads: 1 }, outDir });
      } finally {
        await t.stop();
      }
    });

    it(`${sig} while the payload runs`, async () => {
      const { cli, outDir } = run(idle.pid, ['--exec', 'import time; time.sleep(1)']);
      await cli.line(/^payload thread started/);
      cli.child.kill(sig);
      await check({ fault: sig, stage: 'payload running', result: await cli.done, code: 130, error: interrupted(sig), target: { pid: idle.pid, threads: 2 }, outDir });
    });

    it(`${sig} while the results are copied`, async () => {
      const { cli, outDir } = run(idle.pid, ['--script', BIG]);
      await cli.line(/^payload running in the target/); // the payload is done: the tar comes next
      await until('the results to start arriving', () => existsSync(outDir), 20_000, 1);
      cli.child.kill(sig);
      await check({ fault: sig, stage: 'result copying', result: await cli.done, code: 130, error: interrupted(sig), target: { pid: idle.pid, threads: 2 }, outDir });
    });
  }

  it('the target exits during the injection', async () => {
    const t = await busyTarget();
    try {
      const { cli, outDir } = run(t.pid, ['--safepoint-wait', '5s']);
      await cli.line(/^injecting with gdb/);
      await until('gdb to attach', () => tracerOf(t.pid) !== 0);
      process.kill(t.pid, 'SIGKILL');
      await check({
        fault: 'target exits (SIGKILL)',
        stage: 'gdb attached',
        result: await cli.done,
        code: 3,
        error: /process \d+ exited during the injection/,
        target: { pid: t.pid, threads: 0, expect: 'gone' },
        outDir,
      });
    } finally {
      await t.stop();
    }
  });

  it('the target was stopped (SIGSTOP) before the run: refused, left stopped', async () => {
    process.kill(idle.pid, 'SIGSTOP');
    try {
      await until('the target to stop', () => procState(idle.pid)?.state === 'T');
      const { cli, outDir } = run(idle.pid, []);
      await check({
        fault: 'target stopped (SIGSTOP)',
        stage: 'before the run',
        result: await cli.done,
        code: 5,
        error: /process \d+ is stopped \(state T\); resume it with kill -CONT/,
        target: { pid: idle.pid, threads: 2, expect: 'stopped' },
        outDir,
        note: 'left stopped',
      });
    } finally {
      process.kill(idle.pid, 'SIGCONT');
    }
  });

  it('the target is already traced by another debugger', async () => {
    await withOtherDebugger(idle.pid, async (tracer) => {
      const { cli, outDir } = run(idle.pid, []);
      await check({
        fault: 'already traced (gdb)',
        stage: 'before the run',
        result: await cli.done,
        code: 5,
        error: new RegExp(`already traced by PID ${tracer} \\(gdb`),
        target: { pid: idle.pid, threads: 2, expect: 'traced', tracer },
        outDir,
        note: 'the other debugger keeps it',
      });
    });
  });

  it('two runs against the same target at once: one runs, the other is refused; never two gdbs', async () => {
    const refused = await oneOfTwoRuns(idle.pid, [run(idle.pid, ['--exec', 'import time; time.sleep(2)']), run(idle.pid, ['--exec', 'import time; time.sleep(2)'])]);
    await check({
      fault: 'two runs at once',
      stage: 'second run',
      ...refused,
      code: 5,
      error: /process \d+ is being inspected by another kubectl-pyheap run/,
      target: { pid: idle.pid, threads: 2 },
      note: 'the other: exit 0; never 2 gdbs',
    });
  });

  it('gdb missing where the agent runs', async () => {
    const { cli, outDir } = run(idle.pid, [], { PATH: agentPath(false, scratch) });
    await check({
      fault: 'gdb missing',
      stage: 'before the run',
      result: await cli.done,
      code: 8,
      error: /gdb is not installed where the agent runs; install gdb/,
      target: { pid: idle.pid, threads: 2 },
      outDir,
    });
  });

  it('a payload running past --timeout is stopped', async () => {
    const { cli, outDir } = run(idle.pid, ['--exec', 'while True:\n    pass', '--timeout', '2s']);
    await check({
      fault: 'payload past --timeout',
      stage: 'payload running',
      result: await cli.done,
      code: 6,
      error: /the injected code ran past --timeout and was stopped/,
      target: { pid: idle.pid, threads: 2 },
      outDir,
    });
  });

  it('an idle target blocked in one system call (accept)', async () => {
    const t = await startContainer({ python: py, command: ['python', '-c', "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen(1)\nprint('ready', flush=True)\ns.accept()"] });
    try {
      const { cli, outDir } = run(t.pid, ['--top', '3']);
      const r = await cli.done;
      assert.match(r.stderr, /idle in accept/);
      await check({ fault: 'idle target (blocked in accept)', stage: 'injection', result: r, code: 0, target: { pid: t.pid, threads: threadsOf(t.pid) }, outDir, note: 'census taken' });
    } finally {
      await t.stop();
    }
  });

  it('a target whose only thread is busy in C code', async () => {
    const t = await busyTarget('busy_c.py');
    try {
      const { cli, outDir } = run(t.pid, ['--safepoint-wait', '1s', '--timeout', '2s']);
      // sum() allocates on some versions (borrowed at PyObject_Malloc, the payload then waits
      // for the GIL: 6) and not on others (no safe point at all: 5)
      const r = await cli.done;
      await check({
        fault: 'main thread busy in C',
        stage: 'injection',
        result: r,
        code: [5, 6],
        error: /never got the GIL within 2s|reached a safe point within 1s/,
        target: { pid: t.pid, threads: 1, blockedThread: r.code === 6 },
        outDir,
        ...(r.code === 6 ? { note: 'payload thread left waiting for the GIL' } : {}),
      });
    } finally {
      await t.stop();
    }
  });
});
