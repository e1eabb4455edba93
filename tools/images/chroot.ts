// Runs commands for the builder: on the host (debootstrap, cp, tar) and inside a root
// filesystem (chroot in a mount namespace of its own with /proc mounted, so nothing stays
// mounted on the host when the command ends, however it ends). Output is kept for the error
// and its last line goes to the progress line.
import { spawn } from 'node:child_process';

export class BuildError extends Error {}

export interface RunOptions {
  /** Gets each line of output (progress). */
  onLine?: (line: string) => void;
  env?: Record<string, string>;
}

export function run(argv: string[], o: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', ...o.env } });
    const tail: string[] = [];
    let partial = '';
    const take = (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        tail.push(l);
        if (tail.length > 40) tail.shift();
        if (l.trim()) o.onLine?.(l.trim());
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => reject(new BuildError(`${argv[0]}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (partial) tail.push(partial);
      if (code === 0) resolve(tail.join('\n'));
      else reject(new BuildError(`${argv.slice(0, 3).join(' ')} ... failed (${signal ?? `exit ${code}`}):\n${tail.slice(-15).join('\n')}`));
    });
  });
}

/** `sh -c script` inside `root`, as root, with /proc and the host's /dev mounted there. */
export function inRoot(root: string, script: string, o: RunOptions = {}): Promise<string> {
  const setup = 'set -e; mount --make-rprivate /; mount -t proc proc "$1/proc"; mount --rbind /dev "$1/dev"; r=$1; shift; exec chroot "$r" /bin/sh -c "$@"';
  return run(['unshare', '--mount', '--pid', '--fork', '--', 'sh', '-c', setup, 'sh', root, script], {
    ...o,
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', DEBIAN_FRONTEND: 'noninteractive', ...o.env },
  });
}
