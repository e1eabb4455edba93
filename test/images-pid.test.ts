// pid/N, every feature on every current interpreter, each target in an image of its own
// (tools/images): python:3.8 ... python:3.13 (the official layout: pyenv's build at /usr/local,
// shared libpython), Debian's 3.14 and 3.15 (static, sid's glibc), and Debian 12's static 3.11.
// On each: the exact census with untracked objects and the memory report (test/support/checks.ts,
// as for this machine's interpreters), --exec and --script (sys.exit, KeyboardInterrupt, syntax
// errors), the leak-finding options, the snapshot and analyze, and the refusals.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, runCli } from './support/cli.js';
import { liveImageTargets, startImageTarget, type ImageTarget } from './support/imageTarget.js';
import { healthy, procState, tmpEntries } from './support/proc.js';
import { ptraceSkip } from './support/ptrace.js';
import { ensureImage } from '../tools/images/index.js';
import { checkCensus, checkFindings, checkInjectedFailure, INJECTED_FAILURES } from './support/checks.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-images-pid-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    liveImageTargets().map((t) => t.pid),
    [],
    'a test left a target running',
  );
});
let n = 0;
const outDir = () => path.join(scratch, `out-${++n}`);
const threads = (pid: number) => readdirSync(`/proc/${pid}/task`).length;
type Obj = Record<string, any>;

/** layout: a mapping of the interpreter's own file in /proc/PID/maps */
const official = (minor: number) => ({ image: `python:3.${minor}`, minor, layout: new RegExp(`/usr/local/lib/libpython3\\.${minor}\\.so\\.1\\.0 *$`, 'm') });
const IMAGES: { image: string; minor: number; layout: RegExp }[] = [
  ...[8, 9, 10, 11, 12, 13].map(official),
  { image: 'python:3.14', minor: 14, layout: /\/usr\/bin\/python3\.14 *$/m },
  { image: 'python:3.15-slim', minor: 15, layout: /\/usr\/bin\/python3\.15 *$/m },
  { image: 'debian:12', minor: 11, layout: /\/usr\/bin\/python3\.11 *$/m },
];

/** The `sleep` that a `gdb -ex 'shell exec sleep N'` runs, once it runs it. */
function sleeperOf(gdbPid: number): number | undefined {
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${gdbPid}/task/${gdbPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return undefined;
  }
  for (const c of children) {
    try {
      if (readFileSync(`/proc/${c}/cmdline`, 'utf8').startsWith('sleep\0')) return Number(c);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

const start = (image: string, script: string, args: string[] = []) => startImageTarget({ image, command: ['python3', '-u', `/app/${script}`, ...args], appDir: FIXTURES, uid: 1000 });

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

for (const img of IMAGES) {
  describe(`pid/N in the image ${img.image} (Python 3.${img.minor})`, { skip }, () => {
    before(
      async () => {
        await ensureImage(img.image);
      },
      { timeout: 1_800_000 },
    );

    describe('census and injected code', () => {
      let t: ImageTarget;
      let base = 0;
      before(async () => {
        t = await start(img.image, 'census_target.py', ['1234', '5']);
        base = threads(t.pid);
      });
      after(async () => {
        await t?.stop();
      });

      const census = async () => {
        const r = await runCli([`pid/${t.pid}`, '-o', 'json', '--out-dir', outDir(), '--timeout', '60s', '--largest', '40']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, '');
        await settled(t, base);
        return JSON.parse(r.stdout) as Obj;
      };

      it("exact counts of tracked and untracked objects; the image's own interpreter; a memory report", async () => {
        const doc = await census();
        checkCensus(doc, img.minor, { markers: 1234, k: 5, pid: t.pid });
        // the interpreter of the image: Debian's static executable, or the official shared libpython
        assert.match(readFileSync(`/proc/${t.pid}/maps`, 'utf8'), img.layout);
        // after a run or two have warmed the interpreter's caches, censuses of the idle target agree
        await census();
        const third = await census();
        const fourth = await census();
        assert.deepEqual(
          fourth.types.map((x: Obj) => [x.name, x.count]),
          third.types.map((x: Obj) => [x.name, x.count]),
        );
      });

      for (const c of INJECTED_FAILURES) {
        it(c.what, async () => {
          await checkInjectedFailure(t.pid, c, scratch, outDir());
          await settled(t, base);
        });
      }

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
        checkFindings(doc);
        for (const p of (doc.threads as Obj[]).filter((x) => /^parker-\d$/.test(x.name))) {
          assert.ok(
            (p.frames as Obj[]).some((fr) => fr.file === '/app/leak_target.py'),
            'the file as the target sees it',
          );
        }
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
        const gdbPid = other.pid!;
        try {
          // attached, its symbols read, and idle in its shell command, whose sleep is ended below
          // (gdb's other child, its mount namespace helper, comes and goes before)
          for (let i = 0; i < 600 && !(procState(t.pid)?.tracerPid === other.pid && sleeperOf(gdbPid)); i++) await new Promise((r) => setTimeout(r, 100));
          assert.equal(procState(t.pid)?.tracerPid, other.pid, 'the other debugger attached');
          assert.ok(sleeperOf(gdbPid), 'the other debugger runs its shell command');
          const r = await runCli([`pid/${t.pid}`, '--out-dir', outDir()]);
          assert.equal(r.code, 5, r.stderr);
          oneLineError(r.stderr, new RegExp(`already traced by PID ${other.pid} \\(gdb`));
          assert.equal(procState(t.pid)?.tracerPid, other.pid);
        } finally {
          // gdb's shell child (the sleep) is ended by PID; gdb then detaches and exits
          const sleeper = sleeperOf(gdbPid);
          if (sleeper)
            try {
              process.kill(sleeper, 'SIGKILL');
            } catch {
              /* gone */
            }
          else other.kill('SIGTERM');
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
