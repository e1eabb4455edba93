// This machine's pyenv builds: the newest installed patch release of a major.minor, which the
// python:3.8 ... python:3.13 images carry at /usr/local.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BuildError } from './chroot.js';

export interface PyenvBuild {
  full: string;
  dir: string;
}

export function pyenvBuild(minor: string): PyenvBuild {
  let root = '';
  let versions: string[] = [];
  try {
    root = execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
    versions = execFileSync('pyenv', ['versions', '--bare'], { encoding: 'utf8' })
      .split('\n')
      .map((s) => s.trim());
  } catch {
    throw new BuildError(`the python:${minor} images copy pyenv's build of Python ${minor}, but pyenv is not installed; install pyenv and \`pyenv install ${minor}\``);
  }
  const patch = (v: string) => Number(v.split('.')[2]);
  const full = versions.filter((v) => /^\d+\.\d+\.\d+$/.test(v) && v.startsWith(`${minor}.`)).sort((a, b) => patch(b) - patch(a))[0];
  const dir = full ? path.join(root, 'versions', full) : '';
  if (!full || !existsSync(path.join(dir, 'bin', `python${minor}`))) {
    throw new BuildError(`no pyenv build of Python ${minor} on this machine (have ${versions.filter(Boolean).join(', ') || 'none'}); run \`pyenv install ${minor}\``);
  }
  return { full, dir };
}
