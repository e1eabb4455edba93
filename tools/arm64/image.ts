// The arm64 test machine's files (kernel, initrd, root disk, ssh key), built once by
// build-image.sh and cached under ~/.cache/kubectl-pyheap/arm64/<digest of the recipe>/: built
// in a temporary directory and renamed into place, under a lock directory so that two test
// processes never build it twice at once. `node build/tools/arm64/image.js` builds it ahead.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** tools/arm64 of the source tree (this file runs from build/tools/arm64). */
export const SOURCE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tools', 'arm64');
// (the agent's root filesystem is made of the packages the agent image ships)
const RECIPE = ['build-image.sh', 'guest-init.py', 'embed-aarch64.S', '../../manifests/agent-packages.txt'];

export interface Image {
  dir: string;
  kernel: string;
  initrd: string;
  disk: string;
  key: string;
  versions: string;
}

export function cacheRoot(): string {
  return process.env.PYHEAP_ARM64_CACHE ?? path.join(os.homedir(), '.cache', 'kubectl-pyheap', 'arm64');
}

async function recipeDigest(): Promise<string> {
  const h = createHash('sha256');
  for (const f of RECIPE)
    h.update(`${f}\0`)
      .update(await fs.readFile(path.join(SOURCE, f)))
      .update('\0');
  return h.digest('hex').slice(0, 16);
}

function files(dir: string): Image {
  return {
    dir,
    kernel: path.join(dir, 'vmlinuz'),
    initrd: path.join(dir, 'initrd.img'),
    disk: path.join(dir, 'disk.img'),
    key: path.join(dir, 'id_ed25519'),
    versions: path.join(dir, 'versions.txt'),
  };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Why the machine cannot be built here, or undefined. */
export async function whyNoBuild(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'building the arm64 machine needs root (debootstrap, chroot)';
  const need: [string, string][] = [
    ['/usr/sbin/debootstrap', 'debootstrap'],
    ['/usr/bin/qemu-aarch64-static', 'qemu-user-static'],
    ['/usr/bin/aarch64-linux-gnu-as', 'binutils-aarch64-linux-gnu'],
    ['/usr/sbin/mke2fs', 'e2fsprogs'],
  ];
  const missing = [];
  for (const [f, pkg] of need) if (!(await fs.stat(f).catch(() => undefined))) missing.push(pkg);
  return missing.length ? `missing: apt-get install ${missing.join(' ')}` : undefined;
}

/** The cached machine, built first when it is not there yet (about half an hour emulated). */
export async function ensureImage(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<Image> {
  const root = cacheRoot();
  const key = await recipeDigest();
  const out = path.join(root, key);
  const lock = path.join(root, `${key}.lock`);
  await fs.mkdir(root, { recursive: true });
  let waited = false;
  for (;;) {
    if (await fs.stat(path.join(out, 'disk.img')).catch(() => undefined)) return files(out);
    try {
      await fs.mkdir(lock);
    } catch {
      const owner = Number(await fs.readFile(path.join(lock, 'pid'), 'utf8').catch(() => '0'));
      if (owner && !alive(owner)) await fs.rm(lock, { recursive: true, force: true });
      else if (!waited) {
        log(`arm64-image: waiting for the build by process ${owner || '?'} (${lock})`);
        waited = true;
      }
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    try {
      await fs.writeFile(path.join(lock, 'pid'), String(process.pid));
      const why = await whyNoBuild();
      if (why) throw new Error(`cannot build the arm64 test machine: ${why}`);
      const tmp = path.join(root, `.build-${key}-${process.pid}`);
      for (const e of await fs.readdir(root)) if (e.startsWith(`.build-${key}-`)) await fs.rm(path.join(root, e), { recursive: true, force: true });
      const t0 = performance.now();
      log(`arm64-image: building ${out} (Debian arm64 under emulation; cached afterwards)`);
      await runBuilder(tmp, log);
      await fs.rename(tmp, out);
      log(`arm64-image: built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      // machines of older recipes are of no use any more
      for (const e of await fs.readdir(root)) {
        if (/^[0-9a-f]{16}$/.test(e) && e !== key) await fs.rm(path.join(root, e), { recursive: true, force: true });
      }
      return files(out);
    } finally {
      await fs.rm(lock, { recursive: true, force: true });
    }
  }
}

function runBuilder(tmp: string, log: (s: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // its own process group: a stop reaches debootstrap and the emulated programs under it too
    const child = spawn('sh', [path.join(SOURCE, 'build-image.sh'), tmp], { stdio: ['ignore', 'inherit', 'pipe'], detached: true });
    let tail = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      for (const line of d.split('\n')) if (line.startsWith('arm64-image: ')) log(line);
      tail = (tail + d).slice(-4000);
    });
    // the builder unregisters what it registered when it is told to stop
    const stop = () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
    };
    process.once('SIGINT', stop).once('SIGTERM', stop);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      process.off('SIGINT', stop).off('SIGTERM', stop);
      if (code === 0) resolve();
      else {
        void fs.rm(tmp, { recursive: true, force: true });
        reject(new Error(`build-image.sh failed (${signal ?? code}):\n${tail.trim()}`));
      }
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureImage().then(
    async (i) => process.stderr.write(`arm64-image: ready in ${i.dir}\n${await fs.readFile(i.versions, 'utf8')}`),
    (e: Error) => {
      process.stderr.write(`error: ${e.message}\n`);
      process.exit(1);
    },
  );
}
