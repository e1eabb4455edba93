// Finds the CPython interpreters of this machine: pyenv's (3.6 and later) and Debian's own
// statically linked /usr/bin/python3. Nothing is hard-coded but the Debian path.
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface Interpreter {
  label: string; // e.g. "pyenv-3.11.7", "debian-3.11"
  exe: string;
  version: [number, number];
  /** Directories the interpreter needs to see (mounted into a target's view). */
  roots: string[];
}

function version(exe: string): [number, number] | null {
  try {
    const out = execFileSync(exe, ['-c', 'import sys; print("%d %d" % sys.version_info[:2])'], { encoding: 'utf8', timeout: 10000 });
    const [a, b] = out.trim().split(' ').map(Number);
    return a !== undefined && b !== undefined ? [a, b] : null;
  } catch {
    return null;
  }
}

export function findInterpreters(): Interpreter[] {
  const found: Interpreter[] = [];
  let root = '';
  try {
    root = execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
  } catch {
    /* no pyenv */
  }
  if (root) {
    let versions: string[] = [];
    try {
      versions = execFileSync('pyenv', ['versions', '--bare'], { encoding: 'utf8' })
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
    } catch {
      /* none */
    }
    for (const v of versions) {
      const exe = path.join(root, 'versions', v, 'bin', 'python');
      if (!existsSync(exe)) continue;
      const ver = version(exe);
      if (!ver || ver[0] < 3 || (ver[0] === 3 && ver[1] < 6)) continue;
      found.push({ label: `pyenv-${v}`, exe, version: ver, roots: [root] });
    }
  }
  for (const exe of ['/usr/bin/python3']) {
    if (!existsSync(exe)) continue;
    const ver = version(exe);
    if (ver) found.push({ label: `debian-${ver.join('.')}`, exe: realpathSync(exe), version: ver, roots: [] });
  }
  return found;
}
