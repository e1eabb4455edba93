// What an image means on this machine, where nothing is pulled: a Python image is one of the
// local interpreters (python:3.12-slim -> pyenv 3.12; python:3, python:latest, unknown images
// -> the newest; debian:* -> Debian's static /usr/bin/python3), and an agent image is a PATH
// (the host's, or a directory of symlinks to common tools but not gdb).
import { existsSync, lstatSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { Interpreter } from '../../test/support/pythons.js';

/** The PATH a node's root sees; kept clean of the test runner's node_modules/.bin. */
export const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What a slim agent image would have: enough for payloads/shell/agent.sh, no gdb, no Python. */
const SLIM_TOOLS = ['sh', 'bash', 'awk', 'od', 'tar', 'sha256sum', 'md5sum', 'base64', 'mkdir', 'mktemp', 'chown', 'chmod', 'rm', 'rmdir', 'cat',
  'cp', 'mv', 'ln', 'ls', 'sleep', 'kill', 'ps', 'head', 'tail', 'sed', 'grep', 'tr', 'cut', 'wc', 'date', 'env', 'id', 'stat', 'readlink', 'dd',
  'printf', 'echo', 'test', '[', 'true', 'false', 'touch', 'sort', 'uniq', 'xargs', 'find', 'dirname', 'basename', 'uname', 'gzip', 'timeout',
  'expr', 'seq', 'tee', 'nsenter', 'df', 'du'];

export interface ImageRef { name: string; tag: string }

export function parseImage(image: string): ImageRef {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const hasTag = colon > slash;
  const repo = hasTag ? noDigest.slice(0, colon) : noDigest;
  return { name: repo.slice(repo.lastIndexOf('/') + 1), tag: hasTag ? noDigest.slice(colon + 1) : 'latest' };
}

/** docker.io/library/python:3.12 as containerd reports it in status.image. */
export function normaliseImage(image: string): string {
  let ref = image.includes(':') || image.includes('@') ? image : `${image}:latest`;
  const first = ref.split('/')[0]!;
  if (!ref.includes('/')) ref = `docker.io/library/${ref}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') ref = `docker.io/${ref}`;
  return ref;
}

const newest = (pythons: Interpreter[]) =>
  [...pythons].sort((a, b) => b.version[0] - a.version[0] || b.version[1] - a.version[1] || (a.label.startsWith('pyenv') ? -1 : 1))[0];

/** The interpreter an image stands for, or why there is none (reported as a pull failure). */
export function interpreterFor(pythons: Interpreter[], image: string): Interpreter | string {
  const { name, tag } = parseImage(image);
  if (pythons.length === 0) return 'no Python interpreter on this machine';
  if (name === 'debian') return pythons.find((p) => p.label.startsWith('debian-')) ?? newest(pythons)!;
  const m = /^(\d+)\.(\d+)/.exec(tag);
  if (name.startsWith('python') && m) {
    const want = [Number(m[1]), Number(m[2])];
    const found = pythons.filter((p) => p.version[0] === want[0] && p.version[1] === want[1]);
    return found.find((p) => p.label.startsWith('pyenv')) ?? found[0] ?? `no Python ${want.join('.')} on this machine (have ${pythons.map((p) => p.label).join(', ')})`;
  }
  return newest(pythons)!;
}

/** PATH for commands exec'd in an agent pod: the host's, or (image without gdb) a directory of
 * symlinks to SLIM_TOOLS, made once per cluster. */
export function agentPath(withGdb: boolean, scratch: string): string {
  if (withGdb) return HOST_PATH;
  const dir = path.join(scratch, 'slim-agent-bin');
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    for (const tool of SLIM_TOOLS) {
      const found = HOST_PATH.split(':').map((d) => path.join(d, tool)).find((p) => existsSync(p));
      if (found) symlinkSync(found, path.join(dir, tool));
    }
  }
  return dir;
}

/** Looks a command up the way execvp would, under a root (a container's /proc/PID/root). */
export function lookPath(cmd: string, pathVar: string, root = ''): string | undefined {
  // lstat: a symlink's absolute target would be resolved against our root, not the container's
  const there = (p: string) => { try { lstatSync(root + p); return true; } catch { return false; } };
  if (cmd.includes('/')) return there(cmd) ? cmd : undefined;
  return pathVar.split(':').map((dir) => path.join(dir, cmd)).find(there);
}
