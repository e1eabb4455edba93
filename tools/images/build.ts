// Builds one root filesystem from its recipe into a fresh directory: the base (a copy of the
// suite's debootstrap minbase, itself cached, or of a host directory), the packages (apt-get in
// the root, lists and archives removed after, as image builds do), the steps, then the checks.
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BuildError, inRoot, run } from './chroot.js';
import { MIRROR, type Recipe, type Step, type Suite } from './recipes.js';
import { pyenvBuild } from './pyenv.js';

export type Reporter = (text: string) => void;

/** debootstrap --variant=minbase SUITE into dir (which must not exist). */
export async function debootstrap(suite: Suite, dir: string, say: Reporter): Promise<void> {
  await run(['debootstrap', '--variant=minbase', '--components=main', suite, dir, MIRROR], {
    onLine: (l) => {
      if (/^I: (Retrieving|Validating|Extracting|Installing|Configuring|Unpacking|Base system)/.test(l)) say(`debootstrap ${suite}: ${l.slice(3)}`);
    },
  });
}

/** The root filesystem of `recipe` in `dir/rootfs`; `base` is the suite's cached minbase. */
export async function buildRoot(recipe: Recipe, rootfs: string, base: string, say: Reporter): Promise<void> {
  say(`copying the ${'suite' in recipe.base ? `${recipe.base.suite} base` : 'base directory'}`);
  await run(['cp', '-a', '--reflink=auto', base, rootfs]);
  if (recipe.packages.length) await installPackages(rootfs, recipe.packages, say);
  for (const step of recipe.steps) await applyStep(rootfs, step, say);
  for (const check of recipe.checks) {
    say(`checking: ${check.slice(0, 60)}`);
    try {
      await inRoot(rootfs, check);
    } catch (e) {
      throw new BuildError(`image ${recipe.name} fails its check \`${check}\`: ${(e as Error).message}`);
    }
  }
}

async function installPackages(root: string, packages: string[], say: Reporter): Promise<void> {
  // no service may start inside a build (a package's postinst asks invoke-rc.d)
  const policy = path.join(root, 'usr/sbin/policy-rc.d');
  writeFileSync(policy, '#!/bin/sh\nexit 101\n');
  chmodSync(policy, 0o755);
  writeFileSync(path.join(root, 'etc/resolv.conf'), await run(['cat', '/etc/resolv.conf']));
  const apt = 'apt-get -o Acquire::Check-Valid-Until=false -o Acquire::Check-Date=false -o Dpkg::Use-Pty=0';
  say(`apt-get install ${packages.join(' ')}`);
  await inRoot(root, `${apt} update && ${apt} install -y --no-install-recommends ${packages.join(' ')} && apt-get clean`, {
    onLine: (l) => {
      if (/^(Get|Unpacking|Setting up)/.test(l)) say(`apt-get: ${l.slice(0, 70)}`);
    },
  });
  rmSync(policy);
  for (const d of ['var/lib/apt/lists', 'var/cache/apt/archives']) {
    for (const e of readdirSync(path.join(root, d))) if (e !== 'partial' && e !== 'lock') rmSync(path.join(root, d, e), { recursive: true, force: true });
  }
}

async function applyStep(root: string, step: Step, say: Reporter): Promise<void> {
  switch (step.kind) {
    case 'pyenv': {
      const build = pyenvBuild(step.version);
      say(`copying pyenv ${build.full} to /usr/local`);
      // what the official images keep: no tests, no bytecode, no static libpython, and none of
      // the packages installed on this machine's build (site-packages holds pip there)
      const excludes = ['test', 'tests', 'idle_test', '__pycache__', '*.pyc', 'libpython*.a', '*/site-packages/*'].map((e) => `--exclude=${e}`);
      const dest = path.join(root, 'usr/local');
      await run(['sh', '-c', 'set -e; src=$1; dest=$2; shift 2; tar -C "$src" -cf - "$@" bin lib include | tar -C "$dest" -xf -', 'sh', build.dir, dest, ...excludes]);
      // pyenv's pip, idle, 2to3 scripts start with its own path: only the interpreters stay
      for (const f of readdirSync(path.join(dest, 'bin'))) if (!/^python/.test(f)) rmSync(path.join(dest, 'bin', f));
      await inRoot(root, 'ldconfig');
      return;
    }
    case 'alias':
      say(`${step.names.join(', ')} -> ${step.target}`);
      mkdirSync(path.join(root, 'usr/local/bin'), { recursive: true });
      for (const n of step.names) {
        const link = path.join(root, 'usr/local/bin', n);
        if (existsSync(link)) rmSync(link);
        symlinkSync(step.target, link);
      }
      return;
    case 'write':
      mkdirSync(path.dirname(path.join(root, step.path)), { recursive: true });
      writeFileSync(path.join(root, step.path), step.text);
      return;
  }
}
