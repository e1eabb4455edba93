// The arm64 machine of the arm64 tests: the cached image booted under qemu-system-aarch64 with
// the real linux/arm64 release executable, the test fixtures and the guest helpers shared at
// /host; targets started in it like containers (tools/arm64/guest/target.sh).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { extractArchive } from '../../scripts/release/krewInstall.js';
import { platformId } from '../../scripts/release/platforms.js';
import { sharedRelease } from '../../scripts/release/shared.js';
import { ensureImage, SOURCE, type Image } from '../../tools/arm64/image.js';
import { onInterrupt, QEMU, startVm, type RunResult, type Vm } from '../../tools/arm64/vm.js';
import { FIXTURES, PAYLOADS } from '../support/cli.js';

/** Why the arm64 tests cannot run here (under CI=true they fail instead of skipping). */
export function whyNoArm64(): string | undefined {
  if (!existsSync(QEMU)) return `${QEMU} is missing (apt-get install --no-install-recommends qemu-system-arm)`;
  try {
    execFileSync('ssh', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'ssh is missing (apt-get install openssh-client)';
  }
  return undefined;
}

export const GUEST_PYTHONS = [
  { label: 'python3.11 (static libpython)', argv: ['/usr/bin/python3.11'], sid: false },
  { label: 'embed311 (shared libpython3.11)', argv: ['/usr/local/bin/embed311'], sid: false },
  { label: 'python3.14 (sid)', argv: ['/usr/bin/python3.14'], sid: true },
  { label: 'python3.15 (sid)', argv: ['/usr/bin/python3.15'], sid: true },
] as const;
export type GuestPython = (typeof GUEST_PYTHONS)[number];

export interface GuestTarget {
  pid: number;
  output: string[];
  stop(): Promise<void>;
}
export interface Session {
  vm: Vm;
  image: Image;
  /** kubectl-pyheap (the release's linux/arm64 executable) in the guest, in a fresh directory;
   * with agentGdb, the gdb on its PATH is the agent image's (trixie's gdb 16, in /srv/agent). */
  pyheap(args: string[], o?: { agentGdb?: boolean }): Promise<RunResult & { dir: string }>;
  /** A fixture (test/fixtures/NAME) under a guest Python, container-like; waits for "ready". */
  target(py: GuestPython, fixture: string, args?: string[], o?: { cgroup?: string; ready?: string }): Promise<GuestTarget>;
  /** state, tracer, threads and /tmp of a guest process. */
  state(pid: number): Promise<{ state: string; tracer: number; threads: number; tmp: string[] }>;
  close(): Promise<void>;
}

/** Where the guest keeps its wrapper `gdb` that runs the agent image's gdb (build-image.sh). */
export const AGENT_GDB_DIR = '/usr/local/lib/pyheap-agent';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export async function startSession(log: (s: string) => void): Promise<Session> {
  const image = await ensureImage(log);
  const share = mkdtempSync(path.join(os.tmpdir(), 'arm64-share-'));
  chmodSync(share, 0o755); // the guest's targets run as uid 1000 and read their scripts from it
  const forget = onInterrupt(() => rmSync(share, { recursive: true, force: true }));
  let vm: Vm | undefined;
  try {
    const release = await sharedRelease(log);
    const built = release.built.find((b) => platformId(b.platform) === 'linux-arm64');
    if (!built) throw new Error('the release built no linux/arm64 archive');
    mkdirSync(path.join(share, 'bin'));
    await extractArchive(built.archive, path.join(share, 'bin'));
    cpSync(FIXTURES, path.join(share, 'fixtures'), { recursive: true });
    cpSync(PAYLOADS, path.join(share, 'payloads'), { recursive: true });
    cpSync(path.join(SOURCE, 'guest'), path.join(share, 'guest'), { recursive: true });
    const t0 = performance.now();
    vm = await startVm(image, share);
    log(`arm64 machine up in ${vm.bootSeconds.toFixed(1)} s (ssh ready in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    forget();
    rmSync(share, { recursive: true, force: true });
    throw e;
  }
  const machine = vm;
  let runs = 0;
  const targets = new Set<GuestTarget>();
  return {
    vm: machine,
    image,
    async pyheap(args, o = {}) {
      const dir = `/root/runs/${++runs}`;
      const path = o.agentGdb ? `PATH=${AGENT_GDB_DIR}:$PATH ` : '';
      const r = await machine.sh(`mkdir -p ${dir} && cd ${dir} && ${path}exec /host/bin/kubectl-pyheap ${args.map(q).join(' ')}`);
      return { ...r, dir };
    },
    async target(py, fixture, args = [], o = {}) {
      const flags = [...(py.sid ? ['--sid'] : []), ...(o.cgroup ? ['--cgroup', o.cgroup] : [])];
      const child: ChildProcess = machine.spawn(`exec sh /host/guest/target.sh ${flags.map(q).join(' ')} -- ${[...py.argv, `/host/fixtures/${fixture}`, ...args].map(q).join(' ')}`);
      const output: string[] = [];
      const ready = o.ready ?? 'ready';
      const closed = new Promise<void>((r) => child.on('close', () => r()));
      const pid = await new Promise<number>((resolve, reject) => {
        let p = 0;
        createInterface({ input: child.stdout! }).on('line', (line) => {
          output.push(line);
          const m = /^PID (\d+)$/.exec(line);
          if (m) p = Number(m[1]);
          else if (line === ready && p) resolve(p);
        });
        child.stderr!.setEncoding('utf8').on('data', (d: string) => output.push(d));
        void closed.then(() => reject(new Error(`the guest target ended before "${ready}":\n${output.join('\n')}`)));
      });
      const t: GuestTarget = {
        pid,
        output,
        async stop() {
          targets.delete(t);
          await machine.sh(`kill -KILL ${pid}`);
          await closed;
        },
      };
      targets.add(t);
      return t;
    },
    async state(pid) {
      const r = await machine.sh(`sh /host/guest/state.sh ${pid}`);
      const m = /^state=(\S+) tracer=(\d+) threads=(\d+) tmp=(.*)$/.exec(r.stdout.trim());
      if (!m) throw new Error(`state.sh ${pid}: ${r.stdout}${r.stderr}`);
      return { state: m[1]!, tracer: Number(m[2]), threads: Number(m[3]), tmp: m[4]!.split(',').filter(Boolean) };
    },
    async close() {
      for (const t of [...targets]) await t.stop().catch(() => undefined);
      await machine.stop();
      forget();
      rmSync(share, { recursive: true, force: true });
    },
  };
}
