// The release build (scripts/release) and its linux/amd64 executable end to end: built from
// the pinned, verified Node binaries, every archive holds the executable and LICENSE, the
// manifest names exactly the archives built, and the executable, run with no Node on PATH,
// counts a Python target exactly (a container-like process of this machine, and a pod of the
// emulated cluster), runs --script with its files back, and refuses bad input, leaving neither
// the target nor /tmp touched (nor an agent pod); under its second name, kubectl_complete-pyheap,
// it completes `kubectl pyheap` for the real kubectl; its agent image carries its version.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readZip } from '../scripts/release/archive.js';
import { parseManifest, validateManifest } from '../scripts/release/krew.js';
import { extractArchive } from '../scripts/release/krewInstall.js';
import { fileDigest, readLock } from '../scripts/release/nodeBinaries.js';
import { COMPLETION_SCRIPT } from '../scripts/release/completion.js';
import { archiveName, platformId } from '../scripts/release/platforms.js';
import { release, ROOT, type ReleaseResult } from '../scripts/release/main.js';
import { sharedRelease } from '../scripts/release/shared.js';
import { EXTRACT_PREFIX } from '../src/inject/payloads.js';
import { startCluster, withFixtures } from '../tools/cluster/index.js';
import { assertNoAgentPods, fixture, settleZombies, type KubeFixture } from './kube-support.js';
import { FIXTURES } from './support/cli.js';
import { liveTargets, startContainer } from './support/container.js';
import { healthy, tmpEntries } from './support/proc.js';
import { findInterpreters, type Interpreter } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-release-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    liveTargets().map((t) => t.pid),
    [],
    'a test left a target running',
  );
});

let r: ReleaseResult;
before(async () => {
  r = await sharedRelease((s) => process.stderr.write(`${s}\n`));
});

const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1';

/** What an executable is, from its first bytes: [format, machine]. */
function binaryKind(b: Buffer): [string, string] {
  if (b.readUInt32BE(0) === 0x7f454c46) return ['elf', { 0x3e: 'amd64', 0xb7: 'arm64' }[b.readUInt16LE(18)] ?? '?'];
  if (b.readUInt32LE(0) === 0xfeedfacf) return ['macho', { 0x01000007: 'amd64', 0x0100000c: 'arm64' }[b.readUInt32LE(4)] ?? '?'];
  if (b.toString('latin1', 0, 2) === 'MZ') {
    const pe = b.readUInt32LE(0x3c);
    return [b.toString('latin1', pe, pe + 4) === 'PE\0\0' ? 'pe' : '?', { 0x8664: 'amd64', 0xaa64: 'arm64' }[b.readUInt16LE(pe + 4)] ?? '?'];
  }
  return ['?', '?'];
}

async function members(archive: string): Promise<Map<string, { mode: number; data: Buffer }>> {
  const m = new Map<string, { mode: number; data: Buffer }>();
  if (archive.endsWith('.zip')) {
    for (const e of await readZip(archive)) m.set(e.name, e);
    return m;
  }
  const dir = mkdtempSync(path.join(scratch, 'x-'));
  await extractArchive(archive, dir);
  for (const f of readdirSync(dir)) m.set(f, { mode: statSync(path.join(dir, f)).mode & 0o7777, data: readFileSync(path.join(dir, f)) });
  rmSync(dir, { recursive: true });
  return m;
}

describe('npm run release', () => {
  it('builds every supported platform from the pinned Node; Intel macOS is left out with its reason', async () => {
    const lock = await readLock(ROOT);
    assert.equal(r.node, lock.node);
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(r.version, version);
    const done = [...r.built.map((b) => platformId(b.platform)), ...r.pending.map((p) => platformId(p.platform))].sort();
    assert.deepEqual(done, ['darwin-arm64', 'linux-amd64', 'linux-arm64', 'windows-amd64']);
    const notes = readFileSync(path.join(r.out, 'RELEASE-NOTES.md'), 'utf8');
    assert.match(notes, /darwin\/amd64: Node\.js does not support single executable applications on Intel macOS/);
    for (const b of r.built) assert.match(notes, new RegExp(`${path.basename(b.archive).replace(/\./g, '\\.')} \\| [\\d.]+ MiB \\| \`${b.sha256}\``));
  });

  it('each archive is named for version, os and arch and holds exactly the executable, its completion and LICENSE', async () => {
    const license = readFileSync(path.join(ROOT, 'LICENSE'));
    for (const b of r.built) {
      assert.equal(path.basename(b.archive), archiveName(r.version, b.platform));
      assert.match(path.basename(b.archive), new RegExp(`^kubectl-pyheap_v${r.version.replace(/\./g, '\\.')}_${b.platform.os}_${b.platform.arch}\\.(tar\\.gz|zip)$`));
      assert.equal(b.sha256, await fileDigest(b.archive, 'sha256'));
      const m = await members(b.archive);
      assert.deepEqual([...m.keys()].sort(), [b.platform.exe, b.platform.completion.name, 'LICENSE'].sort());
      assert.deepEqual(m.get('LICENSE')!.data, license);
      assert.equal(m.get(b.platform.exe)!.mode, 0o755);
      const exe = m.get(b.platform.exe)!.data;
      // kubectl_complete-pyheap: the same executable (Windows), or a script that runs it
      const completion = m.get(b.platform.completion.name)!;
      assert.equal(completion.mode, 0o755);
      if (b.platform.completion.kind === 'copy') assert.ok(completion.data.equals(exe), `${platformId(b.platform)}: the completion is not a copy`);
      else assert.equal(completion.data.toString(), COMPLETION_SCRIPT);
      assert.deepEqual(binaryKind(exe), [b.platform.os === 'windows' ? 'pe' : 'elf', b.platform.arch], platformId(b.platform));
      assert.ok(exe.includes(SEA_FUSE), `${platformId(b.platform)}: the SEA blob was not injected`);
    }
  });

  it('darwin/arm64 is built but, unsigned, neither packed nor in the manifest', () => {
    const p = r.pending.find((x) => platformId(x.platform) === 'darwin-arm64');
    if (process.platform === 'darwin') {
      assert.equal(p, undefined);
      return;
    }
    assert.ok(p, 'darwin-arm64 should be pending here');
    const exe = readFileSync(p.executable);
    assert.deepEqual(binaryKind(exe), ['macho', 'arm64']);
    assert.ok(exe.includes(SEA_FUSE));
    assert.equal(existsSync(path.join(r.out, archiveName(r.version, p.platform))), false);
    assert.doesNotMatch(readFileSync(r.manifest, 'utf8'), /darwin/);
    assert.match(readFileSync(path.join(r.out, 'RELEASE-NOTES.md'), 'utf8'), /run `npm ci && npm run release` on an Apple silicon Mac/);
  });

  it('the manifest is valid for krew and names every archive with its sha256; SHA256SUMS agrees', () => {
    const doc = parseManifest(readFileSync(r.manifest, 'utf8'));
    assert.deepEqual(validateManifest('pyheap.yaml', doc), []);
    assert.equal(doc.spec?.version, `v${r.version}`);
    const listed = (doc.spec?.platforms ?? []).map((p) => [p.uri!.slice(p.uri!.lastIndexOf('/') + 1), p.sha256]);
    assert.deepEqual(listed.sort(), r.built.map((b) => [path.basename(b.archive), b.sha256]).sort());
    const sums = readFileSync(path.join(r.out, 'SHA256SUMS'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).reverse());
    assert.deepEqual(sums.sort(), listed.sort());
  });

  it('is reproducible: the linux/amd64 archive built again is byte for byte the same', async () => {
    const again = await release({ out: path.join(scratch, 'again'), platforms: ['linux-amd64'], updateKrew: false });
    assert.equal(again.built[0]?.sha256, r.built.find((b) => platformId(b.platform) === 'linux-amd64')?.sha256);
    rmSync(path.join(scratch, 'again'), { recursive: true, force: true });
  });
});

// linux/arm64 runs here only under user-mode emulation (apt-get install qemu-user
// libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross libatomic1-arm64-cross)
const ARM64_ROOT = '/usr/aarch64-linux-gnu';
const qemu = ['/usr/bin/qemu-aarch64', '/usr/bin/qemu-aarch64-static'].find((q) => existsSync(q));
const armSkip =
  !qemu || !existsSync(path.join(ARM64_ROOT, 'lib', 'libatomic.so.1'))
    ? 'no qemu-aarch64 with arm64 libraries here (qemu-user, libc6-arm64-cross, libstdc++6-arm64-cross, libgcc-s1-arm64-cross, libatomic1-arm64-cross)'
    : false;
describe('the linux/arm64 executable, emulated', { skip: armSkip }, () => {
  it('starts and shows its usage', async () => {
    const archive = r.built.find((b) => platformId(b.platform) === 'linux-arm64')!.archive;
    const dir = path.join(scratch, 'linux-arm64');
    mkdirSync(dir);
    await extractArchive(archive, dir);
    const help = await runExe(qemu!, ['-L', ARM64_ROOT, path.join(dir, 'kubectl-pyheap'), '--help'], { PATH: '/usr/bin:/bin', HOME: scratch });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: kubectl pyheap TARGET/);
    rmSync(dir, { recursive: true });
  });
});

// ---- the linux/amd64 executable, end to end, with no Node on PATH ---------------------------

/** A PATH with every program of this machine but Node's (node, nodejs, npm, npx, corepack). */
function pathWithoutNode(): string {
  const bin = path.join(scratch, 'no-node-bin');
  if (existsSync(bin)) return bin;
  mkdirSync(bin);
  const seen = new Set<string>();
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!existsSync(dir) || seen.has(realpathSync(dir))) continue;
    seen.add(realpathSync(dir));
    for (const name of readdirSync(dir)) {
      if (/^(node|nodejs|npm|npx|corepack)$/.test(name) || existsSync(path.join(bin, name))) continue;
      symlinkSync(path.join(dir, name), path.join(bin, name));
    }
  }
  return bin;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runExe(exe: string, args: string[], env: Record<string, string>, onSpawn?: () => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${exe} ${args.join(' ')} did not finish; stderr: ${stderr}`));
    }, 120000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A target reached one way: what to write on the command line, and the process behind it. */
interface Started {
  /** TARGET on the command line. */
  target: string;
  /** Arguments every run adds (the kubeconfig). */
  args: string[];
  /** The Python process, as this machine sees it. */
  pid: number;
  stop(): Promise<void>;
  /** Throws if a run left something of ours behind beyond the target (an agent pod). */
  clean?(): Promise<void>;
}

interface Context {
  exe: string;
  dir: string;
  env: Record<string, string>;
  t: Started;
  outDir(): string;
}

/**
 * How the end-to-end suite reaches a Python target: a process of this machine (pid/N), and a
 * pod of the emulated cluster (tools/cluster, started here; its API server runs in this process).
 * Each way gets the same checks, and may add its own (`more`).
 */
interface Way {
  name: string;
  skip: string | false;
  start(py: Interpreter, script: string, args: string[]): Promise<Started>;
  more?(ctx: () => Context): void;
}

const KUBECTL = '/usr/bin/kubectl';
let kube: KubeFixture | undefined;

const WAYS: Way[] = [
  {
    name: 'pid/N, a container-like process of this machine',
    skip: ptraceSkip(),
    async start(py, script, args) {
      const proc = await startContainer({ python: py, script, args, uid: 1000 });
      return { target: `pid/${proc.pid}`, args: [], pid: proc.pid, stop: () => proc.stop() };
    },
  },
  {
    name: 'a pod of the emulated cluster',
    skip: ptraceSkip() || (!existsSync(KUBECTL) && `no kubectl at ${KUBECTL}`),
    async start(py, script, args) {
      const image = py.label.startsWith('debian') ? 'debian:12' : `python:${py.version.join('.')}`;
      // the agent's own TMPDIR (its pod's /tmp), to check that nothing stays in it
      const agentTmp = path.join(scratch, 'agent-tmp');
      mkdirSync(agentTmp);
      const cluster = await startCluster({
        switches: { agentStartDelayMs: 50, agentTmpDir: agentTmp },
        objects: [
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'census', namespace: 'default', labels: { app: 'census' } },
            spec: withFixtures(
              {
                restartPolicy: 'Never',
                containers: [{ name: 'py', image, command: ['python3', `/app/${path.basename(script)}`, ...args], securityContext: { runAsUser: 1000, runAsGroup: 1000 } }],
              },
              path.dirname(script),
            ),
          },
        ],
      });
      kube = fixture(cluster, scratch);
      const pid = (await cluster.containers()).find((c) => c.pod === 'census')?.pid;
      assert.ok(pid, 'the census pod is not running');
      return {
        target: 'census',
        args: ['--kubeconfig', cluster.kubeconfigPath],
        pid,
        stop: async () => {
          await cluster.stop();
          await settleZombies();
        },
        clean: async () => {
          await assertNoAgentPods(kube!);
          assert.deepEqual(readdirSync(agentTmp), [], 'the agent left files in its /tmp');
        },
      };
    },
    more(ctx) {
      it('a pod that does not exist: exit 3, one line, no agent pod', async () => {
        const { exe, env, t, outDir } = ctx();
        const r = await runExe(exe, ['nosuchpod', ...t.args, '--out-dir', outDir()], env);
        assert.equal(r.code, 3, r.stderr);
        assert.deepEqual(
          r.stderr.split('\n').filter((l) => l.startsWith('error:')),
          ['error: pod "nosuchpod" not found in namespace default; check the name and -n (kubectl get pods -n default)'],
        );
        await t.clean!();
      });

      it('--dry-run: the agent pod manifest names the default image of this version', async () => {
        const { exe, env, t } = ctx();
        const res = await runExe(exe, [t.target, ...t.args, '--dry-run', '-o', 'json'], env);
        assert.equal(res.code, 0, res.stderr);
        const manifest = JSON.parse(res.stdout) as { spec: { containers: { image: string }[] } };
        assert.equal(manifest.spec.containers[0]!.image, `ghcr.io/kubectl-pyheap/agent:${r.version}`);
        await t.clean!();
      });

      it("kubectl_complete-pyheap (the archive's, and a link named so): kubectl completes pods, containers, namespaces, contexts and flags", async () => {
        const { exe, dir, env, t } = ctx();
        const kubeconfig = t.args[1]!;
        // the archive's: a script that runs the kubectl-pyheap next to it, also through a link
        const links = path.join(scratch, 'completion-links');
        mkdirSync(links);
        symlinkSync(path.join(dir, 'kubectl_complete-pyheap'), path.join(links, 'kubectl_complete-pyheap'));
        // and the executable itself under that name (what the README and the krew caveats say)
        const named = path.join(scratch, 'completion-named');
        mkdirSync(named);
        symlinkSync(exe, path.join(named, 'kubectl_complete-pyheap'));
        symlinkSync(exe, path.join(named, 'kubectl-pyheap'));
        for (const bin of [dir, `${links}:${dir}`, named]) {
          const complete = async (...words: string[]) => {
            const r = await runExe(KUBECTL, ['__complete', 'pyheap', ...words], { ...env, PATH: `${bin}:${env.PATH}`, KUBECONFIG: kubeconfig });
            assert.equal(r.code, 0, r.stderr);
            return r.stdout;
          };
          assert.equal(await complete(''), 'census\nanalyze\n:4\n', bin);
          assert.equal(await complete('census', '-c', ''), 'py\n:4\n');
          assert.equal(await complete('-n', 'kube-s'), 'kube-system\n:4\n');
          assert.equal(await complete('--context', ''), 'pyheap-emulator\n:4\n');
          assert.equal(await complete('-l', 'a'), 'app=census\n:4\n');
          assert.match(await complete('--all-p'), /^--all-pods\t.*\n--all-processes\t.*\n:4\n$/);
        }
        // straight, as kubectl runs it: the words are its arguments
        const direct = await runExe(path.join(dir, 'kubectl_complete-pyheap'), ['--kubeconfig', kubeconfig, 'pod/ce'], env);
        assert.deepEqual([direct.code, direct.stdout, direct.stderr], [0, 'pod/census\n:4\n', '']);
        // no cluster: nothing, exit 0
        const none = await runExe(path.join(named, 'kubectl_complete-pyheap'), ['-n', ''], { ...env, KUBECONFIG: path.join(scratch, 'none') });
        assert.deepEqual([none.code, none.stdout], [0, ':4\n']);
        await t.clean!();
      });
    },
  },
];

const pythons = findInterpreters();
const py = pythons.find((p) => p.label.startsWith('debian')) ?? pythons[0];

for (const way of WAYS) {
  describe(`the linux/amd64 executable with no Node on PATH: ${way.name}`, { skip: way.skip || (!py && 'no Python interpreter found') || (process.arch !== 'x64' && 'not an x86_64 machine') }, () => {
    let exe = '';
    let dir = '';
    let env: Record<string, string> = {};
    let tmp = '';
    let t: Started | undefined;
    let outs = 0;
    const outDir = () => path.join(scratch, `out-${WAYS.indexOf(way)}-${++outs}`);

    before(async () => {
      const archive = r.built.find((b) => platformId(b.platform) === 'linux-amd64')!.archive;
      dir = path.join(scratch, 'linux-amd64');
      if (!existsSync(dir)) {
        mkdirSync(dir);
        await extractArchive(archive, dir);
      }
      exe = path.join(dir, 'kubectl-pyheap');
      tmp = path.join(scratch, 'tmp');
      if (!existsSync(tmp)) mkdirSync(tmp, { mode: 0o1777 });
      env = { PATH: pathWithoutNode(), HOME: scratch, TMPDIR: tmp, NO_COLOR: '1', LC_ALL: 'C.UTF-8' };
      t = await way.start(py!, path.join(FIXTURES, 'census_target.py'), ['1234', '5']);
    });
    after(async () => {
      await t?.stop();
    });

    /** The target is alive, untraced, its /tmp clean; our extracted payloads are gone; no agent pod. */
    async function unharmed(): Promise<void> {
      for (let i = 0; i < 50 && tmpEntries(t!.pid).length > 0; i++) await new Promise((res) => setTimeout(res, 100));
      assert.equal(healthy(t!.pid), null);
      assert.deepEqual(tmpEntries(t!.pid), []);
      assert.deepEqual(readdirSync(tmp), [], 'the executable left files in TMPDIR');
      await t!.clean?.();
    }

    it('really has no node on its PATH', async () => {
      const probe = await runExe('/bin/sh', ['-c', 'command -v node || command -v nodejs || echo none'], env);
      assert.equal(probe.stdout.trim(), 'none');
      const help = await runExe(exe, ['--help'], env);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Usage: kubectl pyheap TARGET/);
      assert.equal(help.stderr, '');
    });

    it('counts the target exactly; payloads are extracted to a private directory, removed at exit', async () => {
      // watch TMPDIR while it runs: the payload directory must be 0700 and its files 0600
      const modes: number[] = [];
      let watching = true;
      const watch = (async () => {
        while (watching) {
          for (const e of readdirSync(tmp).filter((n) => n.startsWith(EXTRACT_PREFIX))) {
            try {
              const d = path.join(tmp, e);
              modes.push(statSync(d).mode & 0o777, statSync(path.join(d, 'shell', 'agent.sh')).mode & 0o777);
            } catch {
              /* not written yet, or already gone */
            }
          }
          await new Promise((res) => setTimeout(res, 10));
        }
      })();
      const res = await runExe(exe, [t!.target, ...t!.args, '-o', 'json', '--out-dir', outDir(), '--largest', '40', '--timeout', '60s'], env);
      watching = false;
      await watch;
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stderr, '');
      const doc = JSON.parse(res.stdout) as { types: { name: string; count: number }[]; largest: { type: string; size: number }[]; python: { pid: number } };
      assert.equal(doc.types.find((x) => x.name === '__main__.Marker')?.count, 1234);
      assert.equal(doc.largest.filter((l) => l.type === 'bytes' && l.size >= 300007 && l.size <= 300007 * 1.01 + 200).length, 5);
      assert.equal(doc.largest.filter((l) => l.type === 'str' && l.size >= 200011 && l.size <= 200011 * 1.01 + 200).length, 5);
      assert.equal(doc.python.pid, t!.pid);
      assert.ok(modes.length >= 2, 'the payload directory was never seen');
      for (let i = 0; i < modes.length; i += 2) assert.deepEqual([modes[i], modes[i + 1]], [0o700, 0o600]);
      await unharmed();
    });

    it('--script runs inside the target and its files come back', async () => {
      const script = path.join(scratch, 'probe.py');
      writeFileSync(script, 'import os\nprint("inside", os.getpid())\nopen(os.path.join(PYHEAP_OUT, "found.txt"), "w").write("m" * 5000)\n');
      const dir = outDir();
      const res = await runExe(exe, [t!.target, ...t!.args, '--script', script, '--out-dir', dir], env);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /inside 1\n/);
      assert.equal(readFileSync(path.join(dir, 'found.txt'), 'utf8'), 'm'.repeat(5000));
      await unharmed();
    });

    it('bad input: a one-line error and its exit code, nothing left behind', async () => {
      // payloads of a run killed by SIGKILL are swept by the next run; a live run's are not
      const stale = path.join(tmp, `${EXTRACT_PREFIX}999999999-x1`);
      const live = path.join(tmp, `${EXTRACT_PREFIX}${process.pid}-x2`);
      mkdirSync(stale, { mode: 0o700 });
      mkdirSync(live, { mode: 0o700 });
      const bad = await runExe(exe, ['pid/abc', ...t!.args], env);
      assert.equal(bad.code, 2);
      assert.equal(bad.stdout, '');
      assert.match(bad.stderr, /^error: target "pid\/abc" is not understood.*\n$/);
      const gone = await runExe(exe, ['pid/999999999', '--out-dir', outDir()], env);
      assert.equal(gone.code, 3, gone.stderr);
      assert.match(gone.stderr, /error: .*no process with PID 999999999/);
      assert.equal(existsSync(stale), false, 'the stale payload directory was not swept');
      assert.equal(existsSync(live), true, 'the payload directory of a live process was swept');
      rmSync(live, { recursive: true });
      await unharmed();
    });

    way.more?.(() => ({ exe, dir, env, t: t!, outDir }));
  });
}
