// Shared by the faults-*.test.ts files (the fault matrix): the CLI run as a child that can be
// interrupted at a stage, and assertAftermath(), the same checks for every row, which also
// records the row for the summary table that printMatrix() writes at the end.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { CLI, ROOT, type CliResult } from './support/cli.js';
import { procState, tmpEntries } from './support/proc.js';
import { assertNoAgentPods, type KubeFixture } from './kube-support.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 10): Promise<void> {
  for (const end = Date.now() + timeoutMs; !(await fn()); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** Resolves when a stderr line matches (a progress line: the start of a stage). */
  line(re: RegExp, timeoutMs?: number): Promise<void>;
}

const running = new Set<CliRun>();

/** Interrupts the runs a failed test left going, and waits for them (afterEach of each file). */
export async function stopRuns(): Promise<void> {
  for (const r of running) r.child.kill('SIGTERM');
  await Promise.all([...running].map((r) => r.done));
}

/** kubectl-pyheap as a child whose stderr lines can be waited for. A run that `outlivesTest`
 * (checked by a later test) is not stopped by stopRuns() when its test returns. */
export function startCli(args: string[], env: Record<string, string> = {}, opts: { outlivesTest?: boolean } = {}): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  const stderr: string[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => {
    stderr.push(l);
    for (const w of [...waiters])
      if (w.re.test(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 150_000);
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      running.delete(run);
      resolve({ code: code ?? (signal ? -1 : -2), stdout, stderr: stderr.join('\n') });
    }),
  );
  const run: CliRun = {
    child,
    done,
    line(re, timeoutMs = 30_000) {
      if (stderr.some((l) => re.test(l))) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no stderr line ${re} in ${timeoutMs} ms:\n${stderr.join('\n')}`)), timeoutMs);
        waiters.push({
          re,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
    },
  };
  if (!opts.outlivesTest) running.add(run);
  return run;
}

export const tracerOf = (pid: number) => procState(pid)?.tracerPid ?? 0;
export const threadsOf = (pid: number) => {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
};

/** gdb processes started against `pid` (`gdb ... -p PID`), wherever they came from; not the
 * child a gdb forks for its ptrace self-check (same command line, a gdb as its parent). */
export function gdbsOn(pid: number): number[] {
  const found = new Map<number, number>();
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (/(^|\/)gdb$/.test(argv[0] ?? '') && argv.some((a, i) => a === '-p' && argv[i + 1] === String(pid))) {
        found.set(Number(p), Number(/\) \S+ (\d+)/.exec(readFileSync(`/proc/${p}/stat`, 'utf8'))![1]));
      }
    } catch {
      /* exited */
    }
  }
  return [...found].filter(([, parent]) => !found.has(parent)).map(([p]) => p);
}

/** The first of `pids`' descendants whose argv passes `match`. */
export function descendant(pids: number[], match: (argv: string[]) => boolean): number | undefined {
  const all = readdirSync('/proc')
    .filter((x) => /^\d+$/.test(x))
    .map(Number);
  const parent = new Map<number, number>();
  for (const p of all) {
    try {
      parent.set(p, Number(/\) \S+ (\d+)/.exec(readFileSync(`/proc/${p}/stat`, 'utf8'))![1]));
    } catch {
      /* exited */
    }
  }
  const under = (p: number): boolean => {
    for (let q = parent.get(p); q; q = parent.get(q)) if (pids.includes(q)) return true;
    return false;
  };
  return all.find((p) => {
    try {
      return under(p) && match(readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0'));
    } catch {
      return false;
    }
  });
}

export interface Row {
  fault: string;
  stage: string;
  code: string;
  error: string;
  ok: string;
}
const rows: Row[] = [];

export interface Aftermath {
  fault: string;
  stage: string;
  result: CliResult;
  /** The documented exit code (several: any of them). */
  code: number | number[];
  /** The one error line; none when the run must succeed. */
  error?: RegExp;
  target?: {
    pid: number;
    /** Threads it had before the run: the payload thread must be gone. */
    threads: number;
    /** The payload thread may stay, blocked (waiting for a GIL the target never releases). */
    blockedThread?: boolean;
    /** running (default): alive, not stopped, untraced; stopped: as the user left it;
     * traced: still held by its other debugger (`tracer`); gone: it exited. */
    expect?: 'running' | 'stopped' | 'traced' | 'gone';
    tracer?: number;
    /** Writable directories of the target that must hold nothing of ours (default /tmp). */
    dirs?: string[];
    waitMs?: number;
  };
  /** The agent's own /tmp (its TMPDIR): no work, staging or bundle directory may stay. */
  agentTmp?: string;
  /** The agent was killed with its pod (deleted, evicted): what it had in its own /tmp went
   * with the pod's filesystem on a real node; here it is removed after the check of the rest. */
  agentKilled?: boolean;
  kube?: KubeFixture;
  /** The run's --out-dir: an interrupted run must not leave it, nor any run a partial one. */
  outDir?: string;
  /** Said in the table's last column when all is well (e.g. what the row waited for). */
  note?: string;
}

const firstError = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('error:')) ?? '';

/** Every row's checks: exit code, one error line and no stack trace or warning, no agent pod,
 * the target as it should be with nothing of ours in its directories, an empty agent /tmp, no
 * output directory left by a failed run. Records the row, failed or not. */
export async function assertAftermath(a: Aftermath): Promise<void> {
  const codes = Array.isArray(a.code) ? a.code : [a.code];
  const row: Row = {
    fault: a.fault,
    stage: a.stage,
    code: String(a.result.code),
    error: firstError(a.result.stderr)
      .replace(/^error: /, '')
      .split('; ')[0]!,
    ok: '',
  };
  rows.push(row);
  try {
    assert.ok(codes.includes(a.result.code), `exit code ${a.result.code}, expected ${codes.join(' or ')}:\n${a.result.stderr}`);
    const errors = a.result.stderr.split('\n').filter((l) => l.startsWith('error:'));
    if (a.error) {
      assert.equal(errors.length, 1, `expected one error line in:\n${a.result.stderr}`);
      assert.match(errors[0]!, a.error);
    } else assert.deepEqual(errors, [], 'no error expected');
    assert.doesNotMatch(a.result.stderr, /\n\s+at .*\(.*:\d+:\d+\)|^warning:/m, 'no stack trace, no cleanup warning');
    if (a.kube) await assertNoAgentPods(a.kube);
    if (a.target) await targetAftermath(a.target);
    if (a.agentTmp) {
      if (a.agentKilled) for (const e of readdirSync(a.agentTmp)) rmSync(`${a.agentTmp}/${e}`, { recursive: true, force: true });
      else {
        await until('the agent /tmp to be empty', () => readdirSync(a.agentTmp!).length === 0, 5000, 50).catch(() => undefined);
        assert.deepEqual(readdirSync(a.agentTmp), [], `${a.fault} (${a.stage}): the agent left something in its own /tmp`);
      }
    }
    if (a.outDir && existsSync(a.outDir)) {
      assert.notEqual(a.result.code, 130, `an interrupted run left its output directory ${a.outDir}`);
      assert.ok(existsSync(path.join(a.outDir, '.pyheap', 'status.json')), `a partial output directory was left: ${a.outDir}`);
    }
    row.ok = a.note ? `ok (${a.note})` : 'ok';
  } catch (e) {
    row.ok = `FAILED: ${(e as Error).message.split('\n')[0]}`;
    // the next rows are checked on their own
    if (a.agentTmp) for (const x of readdirSync(a.agentTmp)) rmSync(`${a.agentTmp}/${x}`, { recursive: true, force: true });
    throw e;
  }
}

async function targetAftermath(t: NonNullable<Aftermath['target']>): Promise<void> {
  const dirs = t.dirs ?? ['/tmp'];
  const expect = t.expect ?? 'running';
  if (expect === 'gone') {
    await until(
      `process ${t.pid} to be gone`,
      () => {
        const s = procState(t.pid);
        return !s || s.state === 'Z';
      },
      5000,
    );
    return;
  }
  const ours = () => dirs.flatMap((d) => tmpEntries(t.pid, d).map((e) => `${d}/${e}`));
  // the payload thread may still be finishing (a sleep it was given), and removes what it has
  const threads = t.threads + (t.blockedThread ? 1 : 0);
  await until('the payload thread to end and the target directories to be clean', () => ours().length === 0 && threadsOf(t.pid) <= threads, t.waitMs ?? 10_000, 50).catch(() => undefined);
  const s = procState(t.pid);
  assert.ok(s && s.state !== 'Z', `the target ${t.pid} is gone`);
  // a debugger holding a target keeps it in a tracing stop (t) while it does something else
  const states = { running: /^[SRD]$/, stopped: /^T$/, traced: /^[SRDt]$/ }[expect];
  assert.match(s.state, states, `the target is in state ${s.state}`);
  assert.equal(s.tracerPid, expect === 'traced' ? t.tracer : 0, 'tracer of the target');
  assert.deepEqual(
    gdbsOn(t.pid).filter((g) => g !== t.tracer),
    [],
    'a gdb of ours is still on the target',
  );
  assert.equal(threadsOf(t.pid), threads, 'the payload thread is still there');
  assert.deepEqual(ours(), [], 'something of ours stays in the target');
}

/** The summary table of the rows recorded so far, on stderr (after() of each file). */
export function printMatrix(title: string): void {
  const head: Row = { fault: 'fault', stage: 'stage', code: 'exit', error: 'error line', ok: 'aftermath' };
  const all = [head, ...rows];
  const cols = ['fault', 'stage', 'code', 'error', 'ok'] as const;
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...all.map((r) => r[c].length))])) as Record<(typeof cols)[number], number>;
  const line = (r: Row) => `| ${cols.map((c) => r[c].padEnd(width[c])).join(' | ')} |`;
  const out = [`\n${title}`, line(head), `|${cols.map((c) => '-'.repeat(width[c] + 2)).join('|')}|`, ...rows.map(line), ''];
  process.stderr.write(`${out.join('\n')}\n`);
}

/** Runs `fn` while another debugger (a plain gdb, settled in a `shell` command) holds `pid`;
 * then lets it go, and waits until it has detached. `fn` gets the debugger's PID. */
export async function withOtherDebugger(pid: number, fn: (tracer: number) => Promise<void>): Promise<void> {
  const other = spawn('gdb', ['-nx', '-batch', '-p', String(pid), '-ex', 'shell exec sleep 30'], { stdio: 'ignore' });
  const sleeper = () => descendant([other.pid!], (argv) => argv[0] === 'sleep');
  try {
    await until('the other debugger to attach and settle', () => tracerOf(pid) === other.pid && sleeper() !== undefined, 20_000, 50);
    await fn(other.pid!);
  } finally {
    await until('the other debugger to settle', () => sleeper() !== undefined || other.exitCode !== null, 20_000, 50).catch(() => undefined);
    const s = sleeper();
    if (s) process.kill(s, 'SIGKILL');
    await new Promise((r) => (other.exitCode === null ? other.once('exit', r) : r(null)));
    await until('the other debugger to detach', () => tracerOf(pid) === 0);
  }
}

/** Two runs started together against `pid`: one succeeds and the other is refused (exit 5),
 * with never more than one gdb on the target. Returns the refused run, for its aftermath. */
export async function oneOfTwoRuns(pid: number, runs: { cli: CliRun; outDir: string }[]): Promise<{ result: CliResult; outDir: string }> {
  let most = 0;
  const sampler = setInterval(() => {
    most = Math.max(most, gdbsOn(pid).length);
  }, 5);
  const results = await Promise.all(runs.map((r) => r.cli.done)).finally(() => clearInterval(sampler));
  const lost = results.findIndex((r) => r.code !== 0);
  assert.deepEqual(results.map((r) => r.code).sort(), [0, 5], results.map((r) => r.stderr).join('\n---\n'));
  assert.equal(most, 1, 'at most one gdb on the target at any moment');
  return { result: results[lost]!, outDir: runs[lost]!.outDir };
}
