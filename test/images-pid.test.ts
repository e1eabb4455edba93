// pid/N against targets that run in images of their own (tools/images): Debian's 3.14 and 3.15
// (static, sid's glibc), Debian 12's static 3.11, and the official layout of python:3.12
// (shared libpython under /usr/local). Each feature on each: the exact census with untracked
// objects, --exec and --script (sys.exit, KeyboardInterrupt, syntax errors), the leak-finding
// options, the snapshot and analyze, the memory report, and the refusals.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, runCli } from './support/cli.js';
import { liveImageTargets, startImageTarget, type ImageTarget } from './support/imageTarget.js';
import { healthy, localGdbVersion, procState, tmpEntries } from './support/proc.js';
import { ptraceSkip } from './support/ptrace.js';
import { ensureImage } from '../tools/images/index.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-images-pid-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(liveImageTargets().map((t) => t.pid), [], 'a test left a target running');
});
let n = 0;
const outDir = () => path.join(scratch, `out-${++n}`);
const threads = (pid: number) => readdirSync(`/proc/${pid}/task`).length;
const ALLOC_LINE = readFileSync(path.join(FIXTURES, 'leak_target.py'), 'utf8').split('\n').findIndex((l) => l.includes('# ALLOC_LINE')) + 1;
const MB = 1024 * 1024;
type Obj = Record<string, any>;

/** layout: a mapping of the interpreter's own file in /proc/PID/maps */
const IMAGES: { image: string; minor: number; layout: RegExp }[] = [
  { image: 'python:3.14', minor: 14, layout: /\/usr\/bin\/python3\.14 *$/m },
  { image: 'python:3.15-slim', minor: 15, layout: /\/usr\/bin\/python3\.15 *$/m },
  { image: 'debian:12', minor: 11, layout: /\/usr\/bin\/python3\.11 *$/m },
  { image: 'python:3.12', minor: 12, layout: /\/usr\/local\/lib\/libpython3\.12\.so\.1\.0 *$/m },
];

const start = (image: string, script: string, args: string[] = []) =>
  startImageTarget({ image, command: ['python3', '-u', `/app/${script}`, ...args], appDir: FIXTURES, uid: 1000 });

/** The payload thread lingers until the agent removed its directory: wait for it to go. */
async function settled(t: ImageTarget, baseThreads: number): Promise<void> {
  for (let i = 0; i < 60 && (tmpEntries(t.pid).length > 0 || threads(t.pid) > baseThreads); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(healthy(t.pid), null);
  assert.deepEqual(tmpEntries(t.pid), [], 'nothing of ours left in the target /tmp');
  assert.equal(threads(t.pid), baseThreads, 'the payload thread has ended');
}

function oneLineError(stderr: string, pattern: RegExp): void {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
  assert.equal(errors.length, 1, `expected one error line in:\n${stderr}`);
  assert.match(errors[0]!, pattern);
}

const largest = (doc: Obj, type: string, min: number, max = min * 1.01 + 200) =>
  (doc.largest as Obj[]).filter((l) => l.type === type && l.size >= min && l.size <= max).length;

for (const img of IMAGES) {
  describe(`pid/N in the image ${img.image} (Python 3.${img.minor})`, { skip }, () => {
    before(async () => { await ensureImage(img.image); }, { timeout: 1_800_000 });

    describe('census and injected code', () => {
      let t: ImageTarget;
      let base = 0;
      before(async () => {
        t = await start(img.image, 'census_target.py', ['1234', '5']);
        base = threads(t.pid);
      });
      after(async () => { await t?.stop(); });

      const census = async () => {
        const r = await runCli([`pid/${t.pid}`, '-o', 'json', '--out-dir', outDir(), '--timeout', '60s', '--largest', '40']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, '');
        await settled(t, base);
        return JSON.parse(r.stdout) as Obj;
      };

      it('exact counts of tracked and untracked objects; the image\'s own interpreter; a memory report', async () => {
        const doc = await census();
        assert.ok(doc.python.version.startsWith(`3.${img.minor}.`), doc.python.version);
        // the interpreter of the image: Debian's static executable, or the official shared libpython
        assert.match(readFileSync(`/proc/${t.pid}/maps`, 'utf8'), img.layout);
        assert.equal(doc.python.pid, t.pid);
        assert.deepEqual(doc.agent, { image: null, gdb_version: localGdbVersion() }, 'pid/N: this machine\'s gdb, whatever the image');
        assert.equal(doc.types.find((x: Obj) => x.name === '__main__.Marker')?.count, 1234, 'GC-tracked instances');
        assert.equal(largest(doc, 'bytes', 300007), 5, 'untracked bytes');
        assert.equal(largest(doc, 'str', 200011), 5, 'untracked str');
        assert.equal(largest(doc, 'tuple', 40009 * 8), 5, 'untracked tuples held twice, counted once');
        assert.ok(largest(doc, 'dict', 20011 * 8, 20011 * 80) >= 5, 'untracked dicts');
        assert.equal(largest(doc, 'bytes', 654321), img.minor >= 13 ? 1 : 0, 'held only by a running frame');
        for (const row of doc.types) assert.ok(!row.name.includes('pyheap'), `the census counted its own objects: ${row.name}`);
        const m = doc.memory as Obj;
        assert.ok(m.rss_before > 5e6 && m.rss_peak >= m.rss_before && m.rss_peak >= m.rss_after, JSON.stringify(m));
        assert.equal(m.extra_peak, m.rss_peak - m.rss_before);
        // after a run or two have warmed the interpreter's caches, censuses of the idle target agree
        await census();
        const third = await census();
        const fourth = await census();
        assert.deepEqual(fourth.types.map((x: Obj) => [x.name, x.count]), third.types.map((x: Obj) => [x.name, x.count]));
      });

      it('--exec: sys.exit() is reported, the target lives on', async () => {
        const r = await runCli([`pid/${t.pid}`, '--exec', 'import sys\nprint("before exit")\nsys.exit(3)', '--out-dir', outDir()]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stdout, /before exit/);
        assert.match(r.stderr, /error: the injected code raised SystemExit: 3/);
        await settled(t, base);
      });

      it('--exec: KeyboardInterrupt comes back with its traceback', async () => {
        const r = await runCli([`pid/${t.pid}`, '--exec', 'def f():\n    raise KeyboardInterrupt("stop")\nf()', '--out-dir', outDir()]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /File "<exec>", line 2, in f/);
        assert.match(r.stderr, /KeyboardInterrupt: stop/);
        await settled(t, base);
      });

      it('--exec: a syntax error is reported with its line', async () => {
        const r = await runCli([`pid/${t.pid}`, '--exec', 'x = 1\ndef (:\n', '--out-dir', outDir()]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /SyntaxError/);
        assert.match(r.stderr, /line 2/);
        await settled(t, base);
      });

      it('--script: runs with PYHEAP_OUT as PID 1 of the container, its files come back', async () => {
        const script = path.join(scratch, `script-${img.minor}.py`);
        writeFileSync(script, 'import os, sys\nprint("hello from", os.getpid(), sys.version_info[:2])\nopen(os.path.join(PYHEAP_OUT, "r.txt"), "w").write("r" * 100000)\n');
        const dir = outDir();
        const r = await runCli([`pid/${t.pid}`, '--script', script, '--out-dir', dir]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`hello from 1 \\(3, ${img.minor}\\)\\n`));
        assert.equal(readFileSync(path.join(dir, 'r.txt'), 'utf8').length, 100000);
        await settled(t, base);
      });
    });

    it('finding the leak: --growth, --referrers, --stacks, --trace, --snapshot, then analyze', async () => {
      const t = await start(img.image, 'leak_target.py');
      try {
        const dir = outDir();
        const r = await runCli([`pid/${t.pid}`, '--growth', '2s', '--referrers', '__main__.Retainer', '--stacks', '--trace', '2s', '--snapshot', '-o', 'json', '--out-dir', dir]);
        assert.equal(r.code, 0, r.stderr);
        const doc = JSON.parse(r.stdout) as Obj;
        const rec = (doc.growth as Obj[]).find((g) => g.name === '__main__.Record');
        assert.ok(rec && rec.count_delta >= 100 && rec.count_delta <= 260, `Record grew by ${rec?.count_delta} in 2 s (100 per second)`);
        const chains = (doc.referrers as Obj[]).find((x) => x.type === '__main__.Record')?.chains as string[][];
        assert.ok(chains?.length, 'chains for the top grower');
        for (const c of chains) assert.deepEqual([...c.slice(0, 3), c.at(-1)], ['module __main__', '.STORE', "['records']", '-> __main__.Record']);
        assert.deepEqual((doc.referrers as Obj[]).find((x) => x.type === '__main__.Retainer')?.chains[0], ['module __main__', '.RETAINER', '-> __main__.Retainer']);
        const parkers = (doc.threads as Obj[]).filter((x) => /^parker-\d$/.test(x.name));
        assert.equal(parkers.length, 2);
        for (const p of parkers) assert.ok((p.frames as Obj[]).some((fr) => fr.function === 'park_here' && fr.file === '/app/leak_target.py'));
        const site = (doc.trace.by_size as Obj[]).find((s) => s.file === '/app/leak_target.py' && s.line === ALLOC_LINE);
        assert.ok(site && site.size_delta > 100_000, `the allocation line grew: ${JSON.stringify(doc.trace.by_size.slice(0, 3))}`);
        const top = (doc.retainers as Obj[]).find((x) => x.type === '__main__.Retainer');
        assert.ok(top && top.retained_size >= 30 * MB && top.retained_size < 31 * MB, `retained ${top?.retained_size}`);
        const file = path.join(dir, 'snapshot.pyheap');
        assert.ok(existsSync(file));
        const a = await runCli(['analyze', file, '-o', 'json']);
        assert.equal(a.code, 0, a.stderr);
        assert.deepEqual((JSON.parse(a.stdout) as Obj).retainers, doc.retainers);
        for (let i = 0; i < 50 && tmpEntries(t.pid).length; i++) await new Promise((res) => setTimeout(res, 100));
        assert.equal(healthy(t.pid), null);
        assert.deepEqual(tmpEntries(t.pid), [], 'the snapshot never touched the target filesystem');
      } finally {
        await t.stop();
      }
    });

    describe('refusals', () => {
      it('a stopped target is refused and left stopped, untraced', async () => {
        const t = await start(img.image, 'census_target.py', ['1', '1']);
        try {
          process.kill(t.pid, 'SIGSTOP');
          for (let i = 0; i < 100 && procState(t.pid)?.state !== 'T'; i++) await new Promise((r) => setTimeout(r, 20));
          const r = await runCli([`pid/${t.pid}`, '--out-dir', outDir()]);
          assert.equal(r.code, 5, r.stderr);
          oneLineError(r.stderr, /is stopped .*kill -CONT/);
          assert.equal(procState(t.pid)?.state, 'T');
          assert.equal(procState(t.pid)?.tracerPid, 0);
          assert.deepEqual(tmpEntries(t.pid), []);
        } finally {
          await t.stop();
        }
      });

      it('a target traced by another debugger is refused, and that debugger keeps it', async () => {
        const t = await start(img.image, 'census_target.py', ['1', '1']);
        const other = spawn('gdb', ['-nx', '-batch', '-p', String(t.pid), '-ex', 'shell exec sleep 30'], { stdio: 'ignore' });
        const otherExit = new Promise((r) => other.once('exit', r));
        try {
          for (let i = 0; i < 300 && procState(t.pid)?.tracerPid !== other.pid; i++) await new Promise((r) => setTimeout(r, 100));
          assert.equal(procState(t.pid)?.tracerPid, other.pid, 'the other debugger attached');
          const r = await runCli([`pid/${t.pid}`, '--out-dir', outDir()]);
          assert.equal(r.code, 5, r.stderr);
          oneLineError(r.stderr, new RegExp(`already traced by PID ${other.pid} \\(gdb`));
          assert.equal(procState(t.pid)?.tracerPid, other.pid);
        } finally {
          // gdb's shell child (the sleep) is ended by PID; gdb then detaches and exits
          for (const c of readFileSync(`/proc/${other.pid}/task/${other.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
            try { process.kill(Number(c), 'SIGKILL'); } catch { /* gone */ }
          }
          await otherExit;
          assert.equal(healthy(t.pid), null);
          await t.stop();
        }
      });

      it('a process of the image that is not CPython is refused', async () => {
        const t = await startImageTarget({ image: img.image, command: ['sleep', '600'], uid: 1000, readyLine: null });
        try {
          const r = await runCli([`pid/${t.pid}`, '--out-dir', outDir()]);
          assert.equal(r.code, 3, r.stderr);
          oneLineError(r.stderr, /does not export the CPython C API; point it at the CPython process itself/);
          assert.equal(healthy(t.pid), null);
        } finally {
          await t.stop();
        }
      });
    });
  });
}
