// The injector on aarch64, proven on an emulated arm64 machine (qemu-system-aarch64, Debian
// arm64): the real linux/arm64 release executable runs `pid/N` against Debian's static python3
// (3.11), a program embedding the shared libpython3.11, and sid's python3.14 and python3.15,
// each container-like (own namespaces, private /tmp, uid 1000): exact censuses, --exec and
// --script, the refusals, idle, busy and GIL-holding targets, and each target left as it was.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AGENT_GDB_DIR, GUEST_PYTHONS, startSession, whyNoArm64, type GuestTarget, type Session } from './support.js';

const why = whyNoArm64();
if (why && process.env.CI === 'true') throw new Error(`the arm64 tests cannot run here: ${why}`);
const skip = why ? `SKIPPED: ${why}` : false;
const [py311, embed311, , py315] = GUEST_PYTHONS;

interface Doc {
  python: { version: string; pid: number };
  total: { count: number; size: number };
  types: { name: string; count: number }[];
  largest: { type: string; size: number }[];
}
const largest = (doc: Doc, type: string, min: number, max = min * 1.01 + 200) => doc.largest.filter((l) => l.type === type && l.size >= min && l.size <= max).length;

describe('arm64 (emulated machine, release executable)', { skip }, () => {
  let s: Session;
  before(async () => {
    s = await startSession((l) => process.stderr.write(`# ${l}\n`));
  });
  after(async () => {
    await s?.close();
  });

  /** The target is left as it was: running, untraced, its threads back to `threads`, /tmp empty. */
  async function untouched(t: GuestTarget, threads: number | undefined, state = /^[SR]$/): Promise<void> {
    for (;;) {
      // the payload thread ends shortly after the run returned: wait for it, not a time
      const st = await s.state(t.pid);
      assert.match(st.state, state);
      assert.equal(st.tracer, 0, 'not traced');
      assert.deepEqual(st.tmp, [], 'nothing of ours in its /tmp');
      if (threads === undefined || st.threads === threads) return;
      assert.ok(st.threads === threads + 1, `threads: ${st.threads}, expected ${threads}`);
    }
  }

  for (const py of GUEST_PYTHONS) {
    it(`${py.label}: exact census with untracked objects, target untouched`, async () => {
      const K = 3;
      const t = await s.target(py, 'census_target.py', ['1234', String(K)]);
      try {
        const base = (await s.state(t.pid)).threads;
        assert.equal(base, 2, 'main thread and the idler');
        const r = await s.pyheap([`pid/${t.pid}`, '-o', 'json', '--largest', '40']);
        assert.equal(r.code, 0, r.stderr);
        const doc = JSON.parse(r.stdout) as Doc;
        assert.equal(doc.types.find((x) => x.name === '__main__.Marker')?.count, 1234, 'GC-tracked instances');
        assert.equal(largest(doc, 'bytes', 300007), K, 'untracked bytes');
        assert.equal(largest(doc, 'str', 200011), K, 'untracked str');
        assert.equal(largest(doc, 'tuple', 40009 * 8), K, 'untracked tuples held twice, counted once');
        assert.ok(largest(doc, 'dict', 20011 * 8, 20011 * 80) >= K, 'untracked dicts');
        assert.equal(doc.python.pid, t.pid);
        assert.match(doc.python.version, /^3\.(11|14|15)\./);
        for (const row of doc.types) assert.ok(!row.name.includes('pyheap'), `the census counted its own objects: ${row.name}`);
        await untouched(t, base);
      } finally {
        await t.stop();
      }
    });
  }

  describe("the agent image's gdb (trixie's, as an agent pod runs it)", () => {
    it("is not the machine's own gdb", async () => {
      const own = await s.vm.sh('gdb --version');
      const agent = await s.vm.sh(`${AGENT_GDB_DIR}/gdb --version`);
      assert.match(own.stdout, /^GNU gdb .* 13\./, "bookworm's gdb 13 is the default one");
      assert.match(agent.stdout, /^GNU gdb .* 1[6-9]\./, agent.stderr);
      assert.equal((await s.vm.sh('ls /srv/agent/usr/bin/python* /srv/agent/usr/local/bin/python* 2>/dev/null')).stdout, '', 'no python in the agent');
    });

    for (const py of [embed311!, py315!]) {
      it(`${py.label}: injects with gdb 16, exact census, target untouched`, async () => {
        const K = 2;
        const t = await s.target(py, 'census_target.py', ['321', String(K)]);
        try {
          const base = (await s.state(t.pid)).threads;
          const r = await s.pyheap([`pid/${t.pid}`, '--largest', '40', '--out-dir', 'out'], { agentGdb: true });
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stderr, /^injecting with gdb 1[6-9]\./m, r.stderr);
          const doc = JSON.parse((await s.vm.sh(`cat ${r.dir}/out/census.json`)).stdout) as Doc;
          assert.equal(doc.types.find((x) => x.name === '__main__.Marker')?.count, 321, 'GC-tracked instances');
          assert.equal(largest(doc, 'bytes', 300007), K, 'untracked bytes');
          assert.equal(largest(doc, 'str', 200011), K, 'untracked str');
          await untouched(t, base);
        } finally {
          await t.stop();
        }
      });
    }
  });

  describe('--exec and --script (python3.11)', () => {
    let t: GuestTarget;
    before(async () => {
      t = await s.target(py311, 'census_target.py', ['10', '1']);
    });
    after(async () => {
      await t?.stop();
    });

    it('--exec runs on aarch64 in the target; its output comes back', async () => {
      const r = await s.pyheap([`pid/${t.pid}`, '--exec', 'import os, platform\nprint("hello from", platform.machine(), os.getpid())']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /hello from aarch64 1\n/, 'PID 1 of its namespace');
      await untouched(t, 2);
    });

    it('sys.exit() is reported and does not end the target', async () => {
      const r = await s.pyheap([`pid/${t.pid}`, '--exec', 'import sys\nprint("before exit")\nsys.exit(3)']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /before exit/);
      assert.match(r.stderr, /error: the injected code raised SystemExit: 3/);
      await untouched(t, 2);
    });

    it('a syntax error is reported with its line', async () => {
      const r = await s.pyheap([`pid/${t.pid}`, '--exec', 'x = 1\ndef (:\n']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /SyntaxError/);
      assert.match(r.stderr, /line 2/);
      await untouched(t, 2);
    });

    it('--script: sys.exit() is reported and does not end the target', async () => {
      await s.vm.sh('cat > /root/exit.py', { input: 'import sys\nprint("script before exit")\nsys.exit("leaving")\n' });
      const r = await s.pyheap([`pid/${t.pid}`, '--script', '/root/exit.py']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /script before exit/);
      assert.match(r.stderr, /error: the injected code raised SystemExit: leaving/);
      await untouched(t, 2);
    });

    it('--script: a syntax error is reported with its line', async () => {
      await s.vm.sh('cat > /root/bad.py', { input: 'print("never")\n\nif True\n    pass\n' });
      const r = await s.pyheap([`pid/${t.pid}`, '--script', '/root/bad.py']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /SyntaxError/);
      assert.match(r.stderr, /line 3/);
      assert.doesNotMatch(r.stdout, /never/);
      await untouched(t, 2);
    });

    it('--script writes under PYHEAP_OUT; the files come back', async () => {
      const script = 'import os\nos.makedirs(os.path.join(PYHEAP_OUT, "sub"))\nopen(os.path.join(PYHEAP_OUT, "sub", "report.txt"), "w").write("r" * 100000)\nprint("wrote")\n';
      await s.vm.sh('cat > /root/leak.py', { input: script });
      const r = await s.pyheap([`pid/${t.pid}`, '--script', '/root/leak.py', '--out-dir', '/root/script-out']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /wrote/);
      const back = await s.vm.sh('wc -c < /root/script-out/sub/report.txt');
      assert.equal(back.stdout.trim(), '100000');
      await untouched(t, 2);
    });
  });

  describe('refusals, and targets that are not idle', () => {
    it('a stopped target is refused and left stopped, untraced', async () => {
      const t = await s.target(py311, 'census_target.py', ['1', '1']);
      try {
        await s.vm.sh(`kill -STOP ${t.pid}`);
        while ((await s.state(t.pid)).state !== 'T') {
          /* the stop is asynchronous */
        }
        const r = await s.pyheap([`pid/${t.pid}`]);
        assert.equal(r.code, 5, r.stderr);
        assert.match(r.stderr, /is stopped .*kill -CONT/);
        await untouched(t, 2, /^T$/);
        await s.vm.sh(`kill -CONT ${t.pid}`);
      } finally {
        await t.stop();
      }
    });

    it('a target traced by another gdb is refused, and that gdb keeps it', async () => {
      const t = await s.target(py311, 'census_target.py', ['1', '1']);
      const gdb = s.vm.spawn(`exec gdb -nx -batch -p ${t.pid} -ex 'shell exec sleep 3600'`);
      try {
        let tracer = 0;
        while (!tracer) tracer = (await s.state(t.pid)).tracer;
        const r = await s.pyheap([`pid/${t.pid}`]);
        assert.equal(r.code, 5, r.stderr);
        assert.match(r.stderr, new RegExp(`already traced by PID ${tracer} \\(gdb`));
        assert.equal((await s.state(t.pid)).tracer, tracer);
      } finally {
        await s.vm.sh(`pkill -KILL -x sleep; true`);
        await new Promise((r) => gdb.once('close', r));
        await t.stop();
      }
    });

    it('a process that is not CPython is refused, untraced', async () => {
      const r0 = await s.vm.sh('sleep 3600 >/dev/null 2>&1 & echo $!');
      const pid = Number(r0.stdout.trim());
      try {
        const r = await s.pyheap([`pid/${pid}`]);
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr, /does not export the CPython C API/);
        assert.equal((await s.state(pid)).tracer, 0);
      } finally {
        await s.vm.sh(`kill -KILL ${pid}`);
      }
    });

    // (Debian's static python3.11 is built with LTO: its busy loops never call the exported
    // PyObject_Malloc, so the safe point is tried where libpython is a shared library)
    it('a target busy in Python is counted (safe point: PyObject_Malloc)', async () => {
      const t = await s.target(embed311, 'busy_python.py');
      try {
        const r = await s.pyheap([`pid/${t.pid}`, '-o', 'json', '-v']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /PYHEAP waiting/, 'no idle thread: the breakpoint at PyObject_Malloc was used');
        assert.ok((JSON.parse(r.stdout) as Doc).total.count > 1000);
        await untouched(t, 1, /^R$/);
      } finally {
        await t.stop();
      }
    });

    it('a target looping without any safe point: bounded by --safepoint-wait, target unharmed', async () => {
      const t = await s.target(py311, 'busy_loop.py');
      try {
        const r = await s.pyheap([`pid/${t.pid}`, '--safepoint-wait', '1s']);
        assert.equal(r.code, 5, r.stderr);
        assert.match(r.stderr, /no thread of \d+ reached a safe point within 1s/);
        await untouched(t, 1, /^R$/);
      } finally {
        await t.stop();
      }
    });

    it('a target holding the GIL in C: bounded by --timeout, a clear error, target unharmed', async () => {
      const t = await s.target(embed311, 'busy_c.py');
      try {
        const r = await s.pyheap([`pid/${t.pid}`, '--safepoint-wait', '1s', '--timeout', '2s']);
        // sum() allocates here: the thread is borrowed at PyObject_Malloc and the payload thread
        // then waits for the GIL (it finds nothing to do when it gets it), as on x86_64
        if (r.code === 6) assert.match(r.stderr, /never got the GIL within 2s: a thread of process \d+ holds it/);
        else {
          assert.equal(r.code, 5, r.stderr);
          assert.match(r.stderr, /no thread of \d+ reached a safe point within 1s/);
        }
        await untouched(t, undefined, /^R$/);
      } finally {
        await t.stop();
      }
    });

    it('payloads/shell/find_pids.sh finds the target by a container-style cgroup', async () => {
      const id = 'a1b2c3d4'.repeat(8);
      const cgroup = `/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b.slice/cri-containerd-${id}.scope`;
      const t = await s.target(py311, 'census_target.py', ['1', '1'], { cgroup });
      try {
        const r = await s.vm.sh(`sh /host/payloads/shell/find_pids.sh ${id}`);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^PYHEAP proc ${t.pid} 1 \\d+ yes /usr/bin/python3\\.11 /host/fixtures/census_target\\.py 1 1$`, 'm'));
        assert.match(r.stdout, /^PYHEAP procs 1$/m);
        const none = await s.vm.sh(`sh /host/payloads/shell/find_pids.sh ${'f'.repeat(64)}`);
        assert.match(none.stdout, /^PYHEAP procs 0$/m);
      } finally {
        await t.stop();
        await s.vm.sh(`rmdir ${cgroup}`);
      }
    });
  });
});
