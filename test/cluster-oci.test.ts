// The OCI pieces of the emulated kubelet (tools/cluster/bundle.ts, oci.ts), on their own: real
// runc containers from bundles of the test images, in the cgroups containerd's CRI plugin asks
// runc for (cgroupfs and systemd naming), with hostPath, emptyDir and a read-only root; pid/N
// counts a target in one; `runc exec` in the agent image (hostPID, privileged) runs the image's
// own gdb 16 and sees the node's /proc. The kubelet (runtime.ts) runs every pod with them.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FIXTURES, runCli } from './support/cli.js';
import { ptraceSkip } from './support/ptrace.js';
import { makeBundle, removeBundle, type BundleSpec } from '../tools/cluster/bundle.js';
import { initPid, ociCgroup, ociCgroupPids, removeOciCgroups, runcDelete, runcExec, runcKill, runcRun } from '../tools/cluster/oci.js';
import type { CgroupLayout } from '../tools/cluster/cgroups.js';
import { ensureImage } from '../tools/images/index.js';

const noRunc = (() => {
  try {
    execFileSync('runc', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'runc is not installed (apt-get install runc)';
  }
})();
const skip = ptraceSkip() || noRunc;
if (noRunc && process.env.CI === 'true') throw new Error(noRunc);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-oci-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
let n = 0;

interface Running {
  pid: number;
  id: string;
  state: string;
  cg: string;
  runc: ChildProcess;
  stop(): Promise<void>;
}

async function run(image: string, layout: CgroupLayout, spec: Partial<BundleSpec>): Promise<Running> {
  const id = `${++n}`.padStart(64, '0');
  const dir = path.join(scratch, `c${n}`);
  const state = path.join(scratch, 'state');
  const cg = ociCgroup(layout, 'Burstable', `0000-${n}`, id);
  makeBundle(path.join(dir, 'bundle'), await ensureImage(image), {
    args: ['sleep', '600'],
    env: { PATH, HOME: '/' },
    cwd: '/',
    uid: 0,
    gid: 0,
    hostname: `pod-${n}`,
    readOnlyRoot: false,
    hostPID: false,
    privileged: false,
    cgroupsPath: cg.cgroupsPath,
    mounts: [],
    ...spec,
  });
  const r = runcRun(state, path.join(dir, 'bundle'), id);
  let err = '';
  r.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const closed = new Promise((res) => r.once('close', res));
  const stop = async () => {
    await runcKill(state, id, 'KILL');
    await closed;
    await runcDelete(state, id);
    assert.deepEqual(ociCgroupPids(cg.dir), []);
    removeOciCgroups(cg.dir);
    removeBundle(path.join(dir, 'bundle'));
  };
  try {
    return { pid: await initPid(path.join(dir, 'bundle'), r, () => err), id, state, cg: cg.dir, runc: r, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

function exec(c: Running, argv: string[], uid = 0): Promise<{ code: number | null; out: string }> {
  const p = runcExec(c.state, c.id, argv, { uid, gid: uid, env: { PATH }, cwd: '/', stdin: false });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  p.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((res) => p.once('close', (code) => res({ code, out })));
}

describe('runc containers from image bundles', { skip, timeout: 1_800_000 }, () => {
  it('cgroupsPath of each driver, as containerd asks runc', () => {
    const id = 'f'.repeat(64);
    assert.equal(ociCgroup('cgroupfs', 'Burstable', 'u-1', id).cgroupsPath, `/kubepods/burstable/podu-1/${id}`);
    assert.equal(ociCgroup('cgroupfs', 'Guaranteed', 'u-1', id).cgroupsPath, `/kubepods/podu-1/${id}`);
    assert.equal(ociCgroup('systemd', 'BestEffort', 'u-1', id).dir, `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podu_1.slice/cri-containerd-${id}.scope`);
  });

  for (const layout of ['cgroupfs', 'systemd'] as const) {
    it(`python:3.14 in runc (${layout}): its own root, hostPath code, emptyDir, read-only root; pid/N counts it`, async () => {
      const c = await run('python:3.14', layout, {
        args: ['python3', '-u', '/app/census_target.py', '321', '2'],
        uid: 1000,
        gid: 1000,
        readOnlyRoot: true,
        mounts: [
          { destination: '/app', kind: 'bind', source: FIXTURES, readOnly: true },
          { destination: '/scratch', kind: 'tmpfs' },
        ],
      });
      try {
        // the cgroup is runc's, named for the driver, in every hierarchy
        assert.ok(
          readFileSync(`/proc/${c.pid}/cgroup`, 'utf8')
            .split('\n')
            .filter(Boolean)
            .every((l) => l.endsWith(c.cg)),
          readFileSync(`/proc/${c.pid}/cgroup`, 'utf8'),
        );
        const ready = await new Promise<void>((res) =>
          c.runc.stdout!.on('data', (d: Buffer) => {
            if (d.toString().includes('ready')) res();
          }),
        );
        void ready;
        const e = await exec(c, ['sh', '-c', 'id -u; cat /etc/debian_version; touch /x 2>&1 || echo read-only; touch /scratch/y && echo scratch-ok; ls /proc | grep -c "^[0-9]"'], 1000);
        assert.equal(e.code, 0, e.out);
        assert.match(e.out, /^1000\n(forky|trixie)\/sid\n[\s\S]*read-only\nscratch-ok\n/);
        const r = await runCli([`pid/${c.pid}`, '-o', 'json', '--out-dir', path.join(scratch, `out-${n}`)]);
        assert.equal(r.code, 0, r.stderr);
        const doc = JSON.parse(r.stdout) as { python: { version: string }; types: { name: string; count: number }[] };
        assert.match(doc.python.version, /^3\.14\./);
        assert.equal(doc.types.find((t) => t.name === '__main__.Marker')?.count, 321);
      } finally {
        await c.stop();
      }
    });
  }

  it("the agent image, hostPID and privileged: exec runs its own gdb 16, sh, tar, and sees the node's /proc", async () => {
    const c = await run('ghcr.io/kubectl-pyheap/agent:0.1.0', 'cgroupfs', { hostPID: true, privileged: true });
    try {
      const e = await exec(c, ['sh', '-c', `gdb --version | head -n 1; command -v tar; test -d /proc/${process.pid} && echo sees-node; ls /usr/bin/python* 2>/dev/null | wc -l`]);
      assert.equal(e.code, 0, e.out);
      assert.match(e.out, /^GNU gdb \(Debian 16\.[\d.-]+\) 16\.[\d.]+\n\/usr\/bin\/tar\nsees-node\n0\n$/);
    } finally {
      await c.stop();
    }
  });
});
