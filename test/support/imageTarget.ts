// Starts a process inside an image's root filesystem (tools/images), the way a container of
// that image looks from the node: own mount and PID namespaces (it is PID 1), the image as its
// root through an overlay (the cached image is never written; the writable layer is thrown
// away at stop), its own /proc, a minimal /dev, private tmpfs /tmp and /dev/shm, a non-root
// uid, and a host directory at /app for the code it runs. Every mount lives in the target's
// mount namespace and goes with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ensureImage } from '../../tools/images/index.js';

export interface ImageTargetOptions {
  /** An image name as manifests use it (python:3.14, debian:12) or a recipe name. */
  image: string;
  /** argv run inside the image (looked up on the image's PATH). */
  command: string[];
  /** Host directory seen read-only at /app. */
  appDir?: string;
  uid?: number;
  gid?: number;
  /** Wait for this line on stdout (default "ready"); null: only for the process to start. */
  readyLine?: string | null;
}

export interface ImageTarget {
  pid: number;
  rootfs: string;
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

const live = new Set<ImageTarget>();
export const liveImageTargets = () => [...live];

const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// $1 rootfs, $2 scratch, $3 app dir ('' for none), $4 uid:gid, then the command
const SETUP = `set -e
lower=$1 s=$2 app=$3 user=$4; shift 4
mount --make-rprivate /
r=$s/root
mount -t overlay pyheap-image -o "lowerdir=$lower,upperdir=$s/upper,workdir=$s/work" "$r"
if [ -n "$app" ]; then mkdir -p "$r/app"; mount --bind "$app" "$r/app"; mount -o remount,bind,ro "$r/app"; fi
mount -t proc proc "$r/proc"
mount -t tmpfs -o mode=755,nosuid pyheap-dev "$r/dev"
for d in null zero full random urandom tty; do touch "$r/dev/$d"; mount --bind "/dev/$d" "$r/dev/$d"; done
ln -s /proc/self/fd "$r/dev/fd"; ln -s /proc/self/fd/0 "$r/dev/stdin"; ln -s /proc/self/fd/1 "$r/dev/stdout"; ln -s /proc/self/fd/2 "$r/dev/stderr"
mkdir "$r/dev/shm"; mount -t tmpfs -o mode=1777 pyheap-shm "$r/dev/shm"
mount -t tmpfs -o mode=1777 pyheap-tmp "$r/tmp"
echo started >&9
exec 9>&-
exec chroot --userspec="$user" --groups="\${user#*:}" "$r" "$@"`;

export async function startImageTarget(o: ImageTargetOptions): Promise<ImageTarget> {
  const rootfs = await ensureImage(o.image);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-image-target-'));
  for (const d of ['root', 'upper', 'work']) mkdirSync(path.join(scratch, d));
  const uid = o.uid ?? 1000;
  const gid = o.gid ?? uid;
  const child = spawn('unshare', ['--mount', '--pid', '--fork', '--', 'sh', '-c', SETUP, 'sh', rootfs, scratch, o.appDir ?? '', `${uid}:${gid}`, ...o.command], {
    stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', 'ignore', 'ignore', 'ignore', 'pipe'],
    env: { PATH: IMAGE_PATH, HOME: '/tmp', LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' },
  });
  const output: string[] = [];
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    stderr.push(d.toString());
    if (stderr.length > 200) stderr.shift();
  });
  const exited = new Promise((r) => child.once('exit', r));
  let pid = 0;
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid || child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      await exited;
    }
    rmSync(scratch, { recursive: true, force: true });
  };
  const want = o.readyLine === undefined ? 'ready' : o.readyLine;
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) => reject(new Error(`target ${o.command.join(' ')} in ${o.image} ${why}: ${stderr.join('')}`));
      // startup, not a speed limit: a target that never comes up must not hang the test run
      const timer = setTimeout(() => fail('not ready after 60 s'), 60_000);
      const started = () => {
        pid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim());
        if (want === null) {
          clearTimeout(timer);
          resolve();
        }
      };
      (child.stdio as unknown as NodeJS.ReadableStream[])[9]!.once('data', started);
      createInterface({ input: child.stdout! }).on('line', (l) => {
        output.push(l);
        if (output.length > 10000) output.shift();
        if (want !== null && l === want) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(`exited with ${code}`);
      });
    });
  } catch (e) {
    await cleanup();
    throw e;
  }
  const target: ImageTarget = {
    pid,
    rootfs,
    child,
    output,
    async stop() {
      live.delete(target);
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
      await cleanup();
    },
  };
  live.add(target);
  return target;
}
