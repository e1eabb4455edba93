// The fault matrix through the emulated cluster: interrupts at every stage (agent pod pending,
// image pulling, exec open, gdb attached, ...), exec sessions cut, target-side faults; every row
// checked by assertAftermath() (no agent pod, clean agent /tmp, target unharmed) and tabled.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { startCluster, withFixtures, type Switches } from '../tools/cluster/index.js';
import { once } from 'node:events';
import { CLI, FIXTURES } from './support/cli.js';
import { ptraceSkip } from './support/ptrace.js';
import { gate, procState } from './support/proc.js';
import { containerPid, fixture, settleZombies, type KubeFixture } from './kube-support.js';
import { assertAftermath, oneOfTwoRuns, printMatrix, startCli, stopRuns, threadsOf, tracerOf, until, withOtherDebugger, type Aftermath } from './faults-support.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-faults-kube-'));
const agentTmp = path.join(scratch, 'agent-tmp');
const BIG = path.join(scratch, 'big.py');
let f: KubeFixture;
const pod = (name: string, script: string, args: string[] = []) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: withFixtures({ restartPolicy: 'Never', containers: [{ name: 'py', image: 'python:3.13', command: ['python', `/app/${script}`, ...args], securityContext: { runAsUser: 1000 } }] }),
});
const ACCEPT = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen(1)\ns.accept()";

/** A run against a pod, with its own --out-dir. */
function run(target: string, args: string[] = []) {
  const outDir = f.out();
  return { outDir, cli: startCli(['--kubeconfig', f.cluster.kubeconfigPath, target, '--out-dir', outDir, ...args]) };
}
/** The target pod's process and its thread count now (the baseline of the aftermath). */
async function target(name: string): Promise<{ pid: number; threads: number }> {
  const pid = await containerPid(f, name);
  return { pid, threads: threadsOf(pid) };
}
const check = (a: Omit<Aftermath, 'agentTmp' | 'kube'>) => assertAftermath({ agentTmp, kube: f, ...a });
async function withSwitches<T>(s: Partial<Switches>, fn: () => Promise<T>): Promise<T> {
  await f.cluster.setSwitches(s);
  try {
    return await fn();
  } finally {
    await f.cluster.setSwitches({ unschedulable: false, slowStartSeconds: 0, execDropAfterBytes: null, execBytesPerSecond: null, execStderrFault: null });
  }
}
/** The error of a run stopped by `sig` (a closed terminal says so). */
const interrupted = (sig: string) => new RegExp(`^error: interrupted by ${sig}${sig === 'SIGHUP' ? ' \\(the terminal closed\\)' : ''}; the target was left running and untouched`);

before(async () => {
  if (skip) return;
  mkdirSync(agentTmp);
  writeFileSync(BIG, 'import os\nwith open(os.path.join(PYHEAP_OUT, "big.bin"), "wb") as f:\n    f.write(b"x" * (50 << 20))\n');
  const cluster = await startCluster({
    switches: { agentStartDelayMs: 50, agentTmpDir: agentTmp },
    objects: [
      pod('app', 'census_target.py', ['10', '1']),
      pod('spin', 'busy_loop.py'),
      pod('doomed', 'busy_loop.py'),
      pod('cbusy', 'busy_c.py'),
      { ...pod('acceptor', ''), spec: { restartPolicy: 'Never', containers: [{ name: 'py', image: 'python:3.13', command: ['python', '-c', ACCEPT] }] } },
    ],
  });
  f = fixture(cluster, scratch);
  // running is not ready: the census target starts its idle thread, then says so
  const app = await containerPid(f, 'app');
  await until('the app pod to be ready', () => threadsOf(app) === 2);
});
afterEach(stopRuns);
after(async () => {
  await f?.cluster.stop();
  await settleZombies();
  printMatrix('fault matrix, emulated cluster (faults-kube.test.ts)');
  rmSync(scratch, { recursive: true, force: true });
});

describe('fault matrix through the emulated cluster', { skip, timeout: 240_000 }, () => {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) {
    /** Interrupts a run of `args` against `name` once `ready()` holds, under `switches`. */
    const interrupt = (stage: string, name: string, args: string[], ready: (r: ReturnType<typeof run>, t: { pid: number }) => Promise<void>, switches: Partial<Switches> = {}) =>
      it(`${sig} while ${stage}`, async () => {
        const t = await target(name);
        await withSwitches(switches, async () => {
          const r = run(name, args);
          await ready(r, t);
          r.cli.child.kill(sig);
          await check({ fault: sig, stage, result: await r.cli.done, code: 130, error: interrupted(sig), target: t, outDir: r.outDir });
        });
      });
    interrupt('resolving', 'app', [], (r) => r.cli.line(/^resolving target/));
    interrupt('agent pod pending', 'app', [], (r) => r.cli.line(/^agent pod \S+: Unschedulable/), { unschedulable: true });
    interrupt('image pulling', 'app', [], (r) => r.cli.line(/^agent pod \S+: pulling the image/), { slowStartSeconds: 5 });
    interrupt('exec open', 'app', [], (r) => r.cli.line(/^finding the Python process/));
    interrupt('gdb attached', 'spin', ['--safepoint-wait', '5s'], async (r, t) => {
      await r.cli.line(/^injecting with gdb/);
      await until('gdb to attach', () => tracerOf(t.pid) !== 0);
    });
    interrupt('payload running', 'app', ['--exec', 'import time; time.sleep(1)'], (r) => r.cli.line(/^payload thread started/));
    interrupt('result copying', 'app', ['--script', BIG], (r) => until('the results to start arriving', () => existsSync(r.outDir), 30_000, 5), { execBytesPerSecond: 20e6 });
  }

  it('the terminal closed (a real pty hangs up) while the payload runs', async () => {
    const t = await target('app');
    const outDir = f.out();
    // a real terminal (fixtures/hangup.py): closed once the payload has started
    const argv = [process.execPath, CLI, '--kubeconfig', f.cluster.kubeconfigPath, 'app', '--out-dir', outDir, '--exec', 'import time; time.sleep(1)'];
    const term = spawn('python3', [path.join(FIXTURES, 'hangup.py'), 'payload thread started', ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
    let out = '';
    let screen = '';
    term.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    term.stderr!.on('data', (d: Buffer) => {
      screen += d.toString();
    });
    const [status] = (await once(term, 'close')) as [number];
    assert.equal(status, 0, `the payload never started:\n${screen}`);
    assert.match(screen, /payload thread started/);
    const code = Number(/exit=(\d+)/.exec(out)?.[1] ?? -1);
    await check({ fault: 'terminal closed (pty hangup)', stage: 'payload running', result: { code, stdout: '', stderr: '' }, code: 130, target: t, outDir, note: 'agent pod deleted' });
  });

  it('the exec session dropped during the injection', async () => {
    const t = await target('app');
    await withSwitches({ execStderrFault: { text: 'PYHEAP injecting', action: 'drop' } }, async () => {
      const { cli, outDir } = run('app');
      await check({
        fault: 'exec dropped',
        stage: 'injection',
        result: await cli.done,
        code: 7,
        error: /the exec session with agent pod pyheap-agent-\w+ dropped after 0 bytes of results, without an exit status/,
        target: t,
        outDir,
      });
    });
  });

  it('the exec session dropped during the copy', async () => {
    const t = await target('app');
    await withSwitches({ execDropAfterBytes: 1 << 20 }, async () => {
      const { cli, outDir } = run('app', ['--script', BIG]);
      await check({
        fault: 'exec dropped',
        stage: 'result copying',
        result: await cli.done,
        code: 7,
        error: /the exec session with agent pod pyheap-agent-\w+ dropped after \d+ bytes of results, without an exit status/,
        target: t,
        outDir,
      });
    });
  });

  it('the target exits during the injection', async () => {
    const t = await target('doomed');
    const { cli, outDir } = run('doomed', ['--safepoint-wait', '5s']);
    await cli.line(/^injecting with gdb/);
    await until('gdb to attach', () => tracerOf(t.pid) !== 0);
    process.kill(t.pid, 'SIGKILL');
    await check({
      fault: 'target exits (SIGKILL)',
      stage: 'gdb attached',
      result: await cli.done,
      code: 3,
      error: /process \d+ exited during the injection/,
      target: { ...t, expect: 'gone' },
      outDir,
    });
  });

  it('the target was stopped (SIGSTOP) before the run: refused, left stopped', async () => {
    const t = await target('app');
    process.kill(t.pid, 'SIGSTOP');
    try {
      await until('the target to stop', () => procState(t.pid)?.state === 'T');
      const { cli, outDir } = run('app');
      await check({
        fault: 'target stopped (SIGSTOP)',
        stage: 'before the run',
        result: await cli.done,
        code: 5,
        error: /process \d+ is stopped \(state T\); resume it with kill -CONT/,
        target: { ...t, expect: 'stopped' },
        outDir,
        note: 'left stopped',
      });
    } finally {
      process.kill(t.pid, 'SIGCONT');
    }
  });

  it('the target is already traced by another debugger', async () => {
    const t = await target('app');
    await withOtherDebugger(t.pid, async (tracer) => {
      const { cli, outDir } = run('app');
      await check({
        fault: 'already traced (gdb)',
        stage: 'before the run',
        result: await cli.done,
        code: 5,
        error: new RegExp(`already traced by PID ${tracer} \\(gdb`),
        target: { ...t, expect: 'traced', tracer },
        outDir,
        note: 'the other debugger keeps it',
      });
    });
  });

  it('two runs against the same pod at once: one runs, the other is refused; never two gdbs', async () => {
    const t = await target('app');
    const refused = await oneOfTwoRuns(t.pid, [run('app', ['--exec', 'import time; time.sleep(2)']), run('app', ['--exec', 'import time; time.sleep(2)'])]);
    await check({
      fault: 'two runs at once',
      stage: 'second run',
      ...refused,
      code: 5,
      error: /process \d+ is being inspected by another kubectl-pyheap run/,
      target: t,
      note: 'the other: exit 0; never 2 gdbs',
    });
  });

  it('gdb missing from the agent image', async () => {
    const t = await target('app');
    // debian:12, a real image without gdb, as the agent image
    const { cli, outDir } = run('app', ['--image', 'debian:12']);
    await check({ fault: 'gdb missing', stage: 'before the run', result: await cli.done, code: 8, error: /the agent image debian:12 has no gdb; use an agent image with gdb/, target: t, outDir });
  });

  it('a payload blocked past --timeout: the agent gives up and cleans the target', async () => {
    const t = await target('app');
    // blocked until the run has ended (a --timeout with room for a slow machine to start it)
    const g = gate(t.pid);
    try {
      const { cli, outDir } = run('app', ['--exec', g.code, '--timeout', '10s']);
      const result = await cli.done;
      g.open();
      await check({
        fault: 'payload past --timeout',
        stage: 'payload running',
        result,
        code: 6,
        error: /the payload did not finish within 10s/,
        target: { ...t, waitMs: 15_000 },
        outDir,
        note: 'its thread ends once released',
      });
    } finally {
      g.close();
    }
  });

  it('an idle target blocked in one system call (accept)', async () => {
    const t = await target('acceptor');
    const { cli, outDir } = run('acceptor', ['--top', '3']);
    const r = await cli.done;
    assert.match(r.stderr, /idle in accept/);
    await check({ fault: 'idle target (blocked in accept)', stage: 'injection', result: r, code: 0, target: t, outDir, note: 'census taken' });
  });

  it('a target whose only thread is busy in C code', async () => {
    const t = await target('cbusy');
    const { cli, outDir } = run('cbusy', ['--safepoint-wait', '1s', '--timeout', '2s']);
    const r = await cli.done;
    await check({
      fault: 'main thread busy in C',
      stage: 'injection',
      result: r,
      code: [5, 6],
      error: /never got the GIL within 2s|reached a safe point within 1s/,
      target: { ...t, blockedThread: r.code === 6 },
      outDir,
      ...(r.code === 6 ? { note: 'payload thread left waiting for the GIL' } : {}),
    });
  });
});
