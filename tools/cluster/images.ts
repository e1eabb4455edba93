// Image names as containerd reports them, the default PATH of the test images, command lookup
// under a container's root, and (for pid/N tests of an agent without gdb) a PATH of common
// tools without gdb. What an image holds is tools/images' business (the kubelet pulls from it).
import { existsSync, lstatSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';

/** The PATH a node's root sees; kept clean of the test runner's node_modules/.bin. */
export const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What a slim agent image would have: enough for payloads/shell/agent.sh, no gdb, no Python. */
const SLIM_TOOLS = [
  'sh',
  'bash',
  'awk',
  'od',
  'tar',
  'sha256sum',
  'md5sum',
  'base64',
  'mkdir',
  'mktemp',
  'chown',
  'chmod',
  'rm',
  'rmdir',
  'cat',
  'cp',
  'mv',
  'ln',
  'ls',
  'sleep',
  'kill',
  'ps',
  'head',
  'tail',
  'sed',
  'grep',
  'tr',
  'cut',
  'wc',
  'date',
  'env',
  'id',
  'stat',
  'readlink',
  'dd',
  'printf',
  'echo',
  'test',
  '[',
  'true',
  'false',
  'touch',
  'sort',
  'uniq',
  'xargs',
  'find',
  'dirname',
  'basename',
  'uname',
  'gzip',
  'timeout',
  'expr',
  'seq',
  'tee',
  'nsenter',
  'df',
  'du',
];

/** docker.io/library/python:3.12 as containerd reports it in status.image. */
export function normaliseImage(image: string): string {
  let ref = image.includes(':') || image.includes('@') ? image : `${image}:latest`;
  const first = ref.split('/')[0]!;
  if (!ref.includes('/')) ref = `docker.io/library/${ref}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') ref = `docker.io/${ref}`;
  return ref;
}

/** PATH for a pid/N run as from an agent image: the host's, or (withGdb false) a directory of
 * symlinks to SLIM_TOOLS under `scratch`, made once. */
export function agentPath(withGdb: boolean, scratch: string): string {
  if (withGdb) return HOST_PATH;
  const dir = path.join(scratch, 'slim-agent-bin');
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    for (const tool of SLIM_TOOLS) {
      const found = HOST_PATH.split(':')
        .map((d) => path.join(d, tool))
        .find((p) => existsSync(p));
      if (found) symlinkSync(found, path.join(dir, tool));
    }
  }
  return dir;
}

/** Looks a command up the way execvp would, under a root (a container's /proc/PID/root). */
export function lookPath(cmd: string, pathVar: string, root = ''): string | undefined {
  // lstat: a symlink's absolute target would be resolved against our root, not the container's
  const there = (p: string) => {
    try {
      lstatSync(root + p);
      return true;
    } catch {
      return false;
    }
  };
  if (cmd.includes('/')) return there(cmd) ? cmd : undefined;
  return pathVar
    .split(':')
    .map((dir) => path.join(dir, cmd))
    .find(there);
}
