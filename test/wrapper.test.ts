// The safe wrapper, through real injections: whatever the injected code does (exit, raise,
// never return, fail to compile), the target lives on, unstopped, untraced, and without a
// trace of us: no file, no module, no global, no thread.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, runCli } from './support/cli.js';
import { liveTargets, startContainer, type ContainerTarget } from './support/container.js';
import { gate, healthy, tmpEntries } from './support/proc.js';
import { findInterpreters, type Interpreter } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';
import { checkInjectedFailure, INJECTED_FAILURES } from './support/checks.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-wrapper-'));
const all = findInterpreters();
// the oldest, the newest, and Debian's static build cover the version-specific paths
const pick = (pred: (p: Interpreter) => boolean) => all.filter(pred);
const pythons = [...new Set([...pick((p) => p.label.startsWith('pyenv')).slice(0, 1), ...pick((p) => p.label.startsWith('pyenv')).slice(-1), ...pick((p) => p.label.startsWith('debian'))])];

let n = 0;
const outDir = () => path.join(scratch, `out-${++n}`);
const threads = (pid: number) => readdirSync(`/proc/${pid}/task`).length;

async function settled(t: ContainerTarget, baseThreads: number): Promise<void> {
  for (let i = 0; i < 60 && (tmpEntries(t.pid).length > 0 || threads(t.pid) > baseThreads); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(healthy(t.pid), null);
  assert.deepEqual(tmpEntries(t.pid), [], 'nothing of ours left in the target /tmp');
  assert.equal(threads(t.pid), baseThreads, 'the payload thread has ended');
}

const SNAPSHOT = `import sys
main = sys.modules['__main__']
print(repr(sorted(sys.modules)))
print(repr(sorted(vars(main))))
print(getattr(sys.gettrace(), '__qualname__', None), repr(sys.stdout), repr(sys.stderr), len(sys.meta_path), repr(sys.meta_path[1:]))`;

after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    liveTargets().map((t) => t.pid),
    [],
    'a test left a target running',
  );
});

for (const py of pythons) {
  describe(`safe wrapper on ${py.label}`, { skip }, () => {
    let t: ContainerTarget;
    let base = 0;
    before(async () => {
      t = await startContainer({ python: py, script: path.join(FIXTURES, 'census_target.py'), args: ['10', '1'], uid: 1000 });
      base = threads(t.pid);
    });
    after(async () => {
      await t?.stop();
    });

    for (const c of INJECTED_FAILURES) {
      it(c.what, async () => {
        await checkInjectedFailure(t.pid, c, scratch, outDir());
        await settled(t, base);
      });
    }

    it("the application's globals: a NameError says how to reach them, and import __main__ does", async () => {
      const r = await runCli([`pid/${t.pid}`, '--exec', 'print(len(markers))', '--out-dir', outDir()]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /^error: the injected code raised NameError: name 'markers' is not defined; the target is unharmed; injected code runs in a namespace of its own, not in __main__'s: reach the application's globals with import __main__ \(__main__\.NAME\) or sys\.modules\["app\.module"\]\.NAME$/m,
      );
      const ok = await runCli([`pid/${t.pid}`, '--exec', 'import __main__\nprint(len(__main__.markers))', '--out-dir', outDir()]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), '10');
      await settled(t, base);
    });

    it('--script runs with PYHEAP_OUT, its files and output come back', async () => {
      const script = path.join(scratch, 'leak.py');
      writeFileSync(
        script,
        'import os, sys\nprint("hello from", os.getpid())\nprint("to stderr", file=sys.stderr)\nos.makedirs(os.path.join(PYHEAP_OUT, "sub"))\nopen(os.path.join(PYHEAP_OUT, "sub", "report.txt"), "w").write("r" * 100000)\n',
      );
      const dir = outDir();
      const r = await runCli([`pid/${t.pid}`, '--script', script, '--out-dir', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /hello from 1\n/, 'PID 1: the target is PID 1 of its namespace');
      assert.match(r.stderr, /to stderr/);
      assert.equal(readFileSync(path.join(dir, 'sub', 'report.txt'), 'utf8').length, 100000);
      await settled(t, base);
    });

    it('leaves no module, global, trace function, stream or finder behind', async () => {
      const snap = async () => {
        const r = await runCli([`pid/${t.pid}`, '--exec', SNAPSHOT, '--out-dir', outDir()]);
        assert.equal(r.code, 0, r.stderr);
        await settled(t, base);
        return r.stdout;
      };
      const first = await snap();
      const r = await runCli([`pid/${t.pid}`, '--exec', 'import json, colorsys, sys\nsys.modules["json"].dumps([1])\nglobals()["x"] = 1', '--out-dir', outDir()]);
      assert.equal(r.code, 0, r.stderr);
      await settled(t, base);
      const second = await snap();
      assert.equal(second, first);
      assert.doesNotMatch(first.split('\n').slice(0, 2).join('\n'), /pyheap/, 'no module or global of ours');
    });

    it('code running past --timeout is stopped, and the target goes on', async () => {
      const r = await runCli([`pid/${t.pid}`, '--exec', 'while True:\n    pass', '--timeout', '2s', '--out-dir', outDir()]);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /error: the injected code ran past --timeout and was stopped/);
      await settled(t, base);
    });

    it('code blocked past --timeout: the agent gives up and cleans the target', async () => {
      // blocked until the run has ended (a --timeout with room for a slow machine to start it)
      const g = gate(t.pid);
      try {
        const r = await runCli([`pid/${t.pid}`, '--exec', g.code, '--timeout', '10s', '--out-dir', outDir()]);
        assert.equal(r.code, 6, r.stderr);
        assert.match(r.stderr, /did not finish within 10s/);
        assert.equal(healthy(t.pid), null);
        assert.deepEqual(tmpEntries(t.pid), []);
        g.open();
        await settled(t, base); // the released thread ends by itself
      } finally {
        g.close();
      }
    });
  });
}
