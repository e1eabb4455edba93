// Finding a container's processes from the node: payloads/shell/find_pids.sh against real processes
// in kubelet-named cgroups (containerd with the cgroupfs and systemd drivers, CRI-O with its
// conmon beside it, Docker), the choice among several Python processes, and the in-pod session
// wrapper (payloads/shell/pod_session.sh): exact-length bundle on stdin, stop on one more byte or on
// the end of stdin, and its directory removed whatever happens.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createCgroup, killCgroup, removeCgroup } from '../tools/cluster/cgroups.js';
import { FIXTURES, PAYLOADS } from './support/cli.js';
import { liveTargets, startContainer } from './support/container.js';
import { findInterpreters } from './support/pythons.js';
import { chooseProcesses, parseProcesses, type ProcessInfo } from '../src/inject/pids.js';
import { packBundle, sessionCommand } from '../src/inject/bundle.js';

const root = process.getuid?.() === 0;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-kube-pids-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    liveTargets().map((t) => t.pid),
    [],
    'a test left a target running',
  );
});

const findPids = (id: string) => parseProcesses(execFileSync('sh', [path.join(PAYLOADS, 'shell', 'find_pids.sh'), id], { encoding: 'utf8' }))!;

describe('find_pids.sh: the processes of a container, from the node', { skip: root ? false : 'needs root (cgroups)' }, () => {
  const py = findInterpreters().at(-1)!;
  const layouts: [string, (uid: string, id: string) => string][] = [
    ['containerd, cgroupfs driver (v1 and v2)', (uid, id) => `kubepods/burstable/pod${uid}/${id}`],
    ['containerd, systemd driver', (uid, id) => `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replace(/-/g, '_')}.slice/cri-containerd-${id}.scope`],
    ['CRI-O, systemd driver', (uid, id) => `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid.replace(/-/g, '_')}.slice/crio-${id}.scope`],
    ['Docker, systemd driver', (uid, id) => `kubepods.slice/kubepods-pod${uid.replace(/-/g, '_')}.slice/docker-${id}.scope`],
  ];
  for (const [name, layout] of layouts) {
    it(name, async () => {
      const uid = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
      const id = randomBytes(32).toString('hex');
      const rel = layout(uid, id);
      const conmonRel = path.join(path.dirname(rel), `crio-conmon-${id}.scope`);
      const dirs = createCgroup(rel);
      const conmonDirs = createCgroup(conmonRel);
      const conmon = spawn('sh', ['-c', 'for d in "$@"; do echo $$ > "$d/cgroup.procs"; done; exec sleep 60', 'sh', ...conmonDirs], { stdio: 'ignore' });
      const t = await startContainer({ python: py, script: path.join(FIXTURES, 'forking_workers.py'), args: ['2'], uid: 1000, cgroups: dirs, readyLine: 'ready 2 workers' });
      try {
        const procs = findPids(id);
        assert.equal(procs.length, 3, JSON.stringify(procs));
        const main = procs.find((p) => p.hostPid === t.pid)!;
        assert.equal(main.pid, 1, 'PID 1 of its namespace (from NSpid)');
        assert.ok(
          procs.every((p) => p.python && p.rssKiB > 1000 && /forking_workers\.py 2$/.test(p.command)),
          JSON.stringify(procs),
        );
        assert.ok(
          procs.every((p) => p.hostPid === t.pid || (p.pid > 1 && p.pid < 1000 && p.pid !== p.hostPid)),
          'the workers, by their PIDs inside',
        );
        assert.ok(!procs.some((p) => p.hostPid === conmon.pid), 'crio-conmon-ID.scope is not the container');
        assert.deepEqual(findPids(randomBytes(32).toString('hex')), [], 'another ID: nothing');
      } finally {
        await t.stop();
        conmon.kill('SIGKILL');
        await killCgroup([...dirs, ...conmonDirs]);
        removeCgroup(conmonRel);
        removeCgroup(rel);
      }
    });
  }

  it('a container ID that is not hex is refused', () => {
    assert.throws(() => execFileSync('sh', [path.join(PAYLOADS, 'shell', 'find_pids.sh'), 'abc;rm'], { stdio: 'pipe' }), /Command failed/);
  });
});

const proc = (pid: number, rssKiB: number, python = true, command = `python app.py ${pid}`): ProcessInfo => ({ hostPid: 1000 + pid, pid, rssKiB, python, command });

describe('choosing among the processes of a container', () => {
  const all = [proc(1, 20000), proc(7, 90000), proc(8, 60000), proc(9, 500, false, 'sleep 100')];
  it('the largest Python process by RSS, and says so, listing them', () => {
    const c = chooseProcesses(all, 'container app of pod web', { allProcesses: false });
    assert.deepEqual(
      c.chosen.map((p) => p.pid),
      [7],
    );
    assert.match(c.notice!, /runs 3 Python processes; inspecting the largest \(pid 7\), --pid N for another, --all-processes for all/);
    assert.match(c.notice!, /pid {6}7 {2}rss {2}87\.89 MiB {2}python app\.py 7/);
  });
  it('--pid picks by the PID inside the container; a wrong one lists what there is', () => {
    assert.deepEqual(
      chooseProcesses(all, 'c', { pid: 8, allProcesses: false }).chosen.map((p) => p.hostPid),
      [1008],
    );
    assert.throws(() => chooseProcesses(all, 'c', { pid: 42, allProcesses: false }), /no process with PID 42 in c/);
  });
  it('--all-processes: every Python process, largest first', () => {
    assert.deepEqual(
      chooseProcesses(all, 'c', { allProcesses: true }).chosen.map((p) => p.pid),
      [7, 8, 1],
    );
  });
  it('one Python process: no notice; none: an error naming what runs there', () => {
    assert.equal(chooseProcesses([proc(1, 5), proc(2, 9, false)], 'c', { allProcesses: false }).notice, undefined);
    assert.throws(() => chooseProcesses([proc(1, 5, false, 'nginx')], 'container web', { allProcesses: false }), /no Python process in container web \(1 process: 1 nginx\)/);
  });
  it('an incomplete listing is refused', () => {
    assert.equal(parseProcesses('PYHEAP proc 10 1 100 yes python\n'), undefined);
    assert.deepEqual(parseProcesses('PYHEAP proc 10 1 100 yes python a.py\nPYHEAP procs 1\n'), [{ hostPid: 10, pid: 1, rssKiB: 100, python: true, command: 'python a.py' }]);
  });
});

describe('pod_session.sh: one exec session in the agent pod', () => {
  // a stand-in agent.sh: reports its arguments, then waits to be stopped
  const fakeAgent = Buffer.from(
    ['echo "PYHEAP args $*" >&2', 'trap \'echo "PYHEAP stopped" >&2; exit 143\' TERM', 'echo ready >&2', 'i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done'].join('\n'),
  );
  const runId = `tst${randomBytes(3).toString('hex')}`;
  const bundleDirs = () => readdirSync(os.tmpdir()).filter((f) => f.startsWith(`pyheap-agent.bundle-${runId}.`));

  async function session(stopWith: 'byte' | 'eof') {
    const bundle = await packBundle([
      { name: 'shell/pod_session.sh', data: execFileSync('cat', [path.join(PAYLOADS, 'shell', 'pod_session.sh')]) },
      { name: 'shell/agent.sh', data: fakeAgent },
    ]);
    const [cmd, ...args] = sessionCommand(bundle.length, runId, 'agent', ['--payloads', '@BUNDLE@', '--script', '@BUNDLE@/user/script.py', '42']);
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: os.tmpdir() } });
    let stderr = '';
    const ready = new Promise<void>((r) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('ready')) r();
      }),
    );
    child.stdin.write(bundle);
    await ready;
    assert.equal(bundleDirs().length, 1, 'the bundle is unpacked in its own directory');
    if (stopWith === 'byte') child.stdin.write('\n');
    else child.stdin.end();
    const code = await new Promise<number | null>((r) => child.on('close', r));
    return { code, stderr };
  }

  it('reads exactly the bundle, passes the bundle directory, stops the agent on one more byte, removes everything', async () => {
    const { code, stderr } = await session('byte');
    assert.equal(code, 143);
    const dir = /PYHEAP args --payloads (\S+) --script (\S+) 42/.exec(stderr);
    assert.ok(dir, stderr);
    assert.equal(dir[2], `${dir[1]}/user/script.py`);
    assert.match(dir[1]!, new RegExp(`/pyheap-agent\\.bundle-${runId}\\.`));
    assert.match(stderr, /PYHEAP stopped/);
    assert.deepEqual(bundleDirs(), []);
    assert.equal(existsSync(dir[1]!), false);
  });

  it('the end of stdin (the client went away) stops the agent too', async () => {
    const { code, stderr } = await session('eof');
    assert.equal(code, 143);
    assert.match(stderr, /PYHEAP stopped/);
    assert.deepEqual(bundleDirs(), []);
  });
});
