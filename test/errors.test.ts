// Each way an injection can be refused or fail: a one-line error naming cause and fix, the
// documented exit code, no stack trace, and a target exactly as it was (state, tracer, /tmp).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CLI, FIXTURES, ROOT, runCli } from './support/cli.js';
import { liveTargets, startContainer } from './support/container.js';
import { healthy, procState, tmpEntries } from './support/proc.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';

const skip = ptraceSkip();
const py =
  findInterpreters()
    .filter((p) => p.label.startsWith('pyenv'))
    .at(-1) ?? findInterpreters()[0]!;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-errors-'));
let n = 0;
const outDir = () => path.join(scratch, `out-${++n}`);
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    liveTargets().map((t) => t.pid),
    [],
    'a test left a target running',
  );
});

/** One line starting with "error:", no Node stack trace. */
function oneLineError(stderr: string, pattern: RegExp): void {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
  assert.equal(errors.length, 1, `expected one error line in:\n${stderr}`);
  assert.match(errors[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace without -v');
}

describe('refusals and failures', { skip, timeout: 300_000 }, () => {
  it('no such process', async () => {
    const r = await runCli(['pid/999999', '--out-dir', outDir()]);
    assert.equal(r.code, 3);
    oneLineError(r.stderr, /no process with PID 999999; check the PID/);
  });

  it('a process that is not CPython', async () => {
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const r = await runCli([`pid/${sleeper.pid}`, '--out-dir', outDir()]);
      assert.equal(r.code, 3);
      oneLineError(r.stderr, /does not export the CPython C API; point it at the CPython process itself/);
      assert.equal(procState(sleeper.pid!)?.tracerPid, 0);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('ptrace refused: names the capability and setting that allow it', async () => {
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'census_target.py'), args: ['1', '1'], uid: 0 });
    try {
      // an unprivileged user may not trace root's process. nobody may not enter where the clone
      // lies (a mktemp -d directory, root's home): it runs the clone (and the Node inside it)
      // bound at a directory of its own, in a mount namespace of its own
      const view = mkdtempSync(path.join(os.tmpdir(), 'pyheap-nobody-view-'));
      chmodSync(view, 0o755);
      const inView = (p: string) => (p.startsWith(`${ROOT}/`) ? path.join(view, path.relative(ROOT, p)) : p);
      const nobody = [
        'setpriv',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--',
        inView(process.execPath),
        inView(CLI),
        `pid/${t.pid}`,
        '--out-dir',
        path.join(os.tmpdir(), `pyheap-nobody-${process.pid}`),
      ];
      const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'sh', ROOT, view, ...nobody], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
      rmSync(view, { recursive: true });
      assert.equal(r.status, 4, r.stderr);
      oneLineError(r.stderr, /refused ptrace.*CAP_SYS_PTRACE.*ptrace_scope/);
      assert.equal(healthy(t.pid), null);
    } finally {
      await t.stop();
    }
  });

  it('a stopped target is refused and left stopped, untraced', async () => {
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'census_target.py'), args: ['1', '1'] });
    try {
      process.kill(t.pid, 'SIGSTOP');
      for (let i = 0; i < 50 && procState(t.pid)?.state !== 'T'; i++) await new Promise((r) => setTimeout(r, 20));
      const r = await runCli([`pid/${t.pid}`, '--out-dir', outDir()]);
      assert.equal(r.code, 5);
      oneLineError(r.stderr, /is stopped .*kill -CONT/);
      assert.equal(procState(t.pid)?.state, 'T', 'we do not resume what the user stopped');
      assert.equal(procState(t.pid)?.tracerPid, 0);
      assert.deepEqual(tmpEntries(t.pid), []);
      process.kill(t.pid, 'SIGCONT');
    } finally {
      await t.stop();
    }
  });

  it('a target traced by another debugger is refused, and that debugger keeps it', async () => {
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'census_target.py'), args: ['1', '1'] });
    const other = spawn('gdb', ['-nx', '-batch', '-p', String(t.pid), '-ex', 'shell exec sleep 20'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && procState(t.pid)?.tracerPid !== other.pid; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(procState(t.pid)?.tracerPid, other.pid, 'the other debugger attached');
      const r = await runCli([`pid/${t.pid}`, '--out-dir', outDir()]);
      assert.equal(r.code, 5);
      oneLineError(r.stderr, new RegExp(`already traced by PID ${other.pid} \\(gdb`));
      assert.equal(procState(t.pid)?.tracerPid, other.pid);
    } finally {
      spawnSync('pkill', ['-P', String(other.pid), 'sleep']);
      await new Promise((r) => other.once('exit', r));
      assert.equal(healthy(t.pid), null);
      await t.stop();
    }
  });

  it('a target looping without any safe point: a clear error, target unharmed', async () => {
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'busy_loop.py') });
    try {
      const r = await runCli([`pid/${t.pid}`, '--safepoint-wait', '1s', '--out-dir', outDir()]);
      assert.equal(r.code, 5, r.stderr);
      oneLineError(r.stderr, /no thread of \d+ reached a safe point within 1s/);
      assert.equal(healthy(t.pid), null);
      assert.equal(procState(t.pid)?.state, 'R', 'still computing');
      assert.deepEqual(tmpEntries(t.pid), []);
    } finally {
      await t.stop();
    }
  });

  it('a target holding the GIL in C code: the payload never runs, a clear error, target unharmed', async () => {
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'busy_c.py') });
    try {
      const r = await runCli([`pid/${t.pid}`, '--safepoint-wait', '1s', '--timeout', '2s', '--out-dir', outDir()]);
      // Depending on the version sum() allocates (the thread is borrowed at PyObject_Malloc and
      // the payload thread then waits for the GIL) or not (no safe point at all).
      if (r.code === 6) oneLineError(r.stderr, /never got the GIL within 2s: a thread of process \d+ holds it/);
      else {
        assert.equal(r.code, 5, r.stderr);
        oneLineError(r.stderr, /reached a safe point/);
      }
      assert.equal(healthy(t.pid), null);
      assert.deepEqual(tmpEntries(t.pid), []);
    } finally {
      await t.stop();
    }
  });

  it('a target busy in Python code, with no idle thread: injected at a safe point', async () => {
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'busy_python.py') });
    try {
      const r = await runCli([`pid/${t.pid}`, '--out-dir', outDir()]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /at the entry of PyObject_Malloc/);
      assert.match(r.stdout, /\bstr \|/);
      for (let i = 0; i < 50 && tmpEntries(t.pid).length > 0; i++) await new Promise((res) => setTimeout(res, 100));
      assert.equal(healthy(t.pid), null);
      assert.deepEqual(tmpEntries(t.pid), []);
    } finally {
      await t.stop();
    }
  });

  it('no writable directory in the target: refused before anything is injected', async () => {
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'census_target.py'), args: ['1', '1'], readOnlyRoot: true, noTmp: true, readOnlyShm: true });
    try {
      const r = await runCli([`pid/${t.pid}`, '--out-dir', outDir()]);
      assert.equal(r.code, 8, r.stderr);
      oneLineError(r.stderr, /no writable directory in the target.*emptyDir/);
      assert.equal(healthy(t.pid), null);
    } finally {
      await t.stop();
    }
  });
});
