// What `kubectl krew install --manifest M --archive A` does with one platform of a manifest,
// step for step (krew's internal/installation): check the archive's sha256, extract it, apply
// `files` (a direct file, or a glob, moved under `to`), find `bin`, link it as
// $KREW_ROOT/bin/kubectl-<name>; then krew-index's check that a LICENSE was installed.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { readZip } from './archive.js';
import type { KrewPlatform } from './krew.js';

const LICENSE_FILES = new Set(['license', 'license.txt', 'license.md', 'licenses', 'licenses.txt', 'licenses.md', 'copying', 'copying.txt']);

function safeName(name: string): string {
  const clean = path.posix.normalize(name);
  if (clean.startsWith('/') || clean.startsWith('../') || clean === '..') throw new Error(`archive member ${name} points outside`);
  return clean;
}

export async function extractArchive(archive: string, dir: string): Promise<void> {
  if (archive.endsWith('.zip')) {
    for (const m of await readZip(archive)) {
      const dest = path.join(dir, safeName(m.name));
      await fs.mkdir(path.dirname(dest), { recursive: true });
      await fs.writeFile(dest, m.data, { mode: m.mode || 0o644 });
    }
    return;
  }
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    const dest = path.join(dir, safeName(h.name));
    const done = (p: Promise<unknown>) => p.then(() => next(), next);
    if (h.type === 'directory') {
      stream.resume();
      done(fs.mkdir(dest, { recursive: true }));
      return;
    }
    if (h.type !== 'file') {
      stream.resume();
      next(new Error(`archive member ${h.name} is a ${h.type}`));
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    stream.on('end', () => done(fs.mkdir(path.dirname(dest), { recursive: true }).then(() => fs.writeFile(dest, Buffer.concat(chunks), { mode: h.mode ?? 0o644 }))));
  });
  await pipeline(createReadStream(archive), createGunzip(), extract);
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('')
      .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
  );
}

async function applyFiles(from: string, to: string, files: { from: string; to: string }[]): Promise<void> {
  for (const op of files) {
    const direct = path.join(from, op.from);
    const isFile = await fs.stat(direct).then(
      () => true,
      () => false,
    );
    let moves: [string, string][];
    if (isFile) {
      moves = [[direct, path.join(to, op.to === '.' ? path.basename(direct) : op.to)]];
    } else {
      const dir = path.join(from, path.posix.dirname(op.from));
      const re = globToRegExp(path.posix.basename(op.from));
      const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => re.test(n));
      if (names.length === 0) throw new Error(`no files in the plugin archive matched the glob pattern=${op.from}`);
      moves = names.map((n) => [path.join(dir, n), path.join(to, op.to, n)]);
    }
    for (const [src, dest] of moves) {
      if (!dest.startsWith(to + path.sep) || !src.startsWith(from + path.sep)) throw new Error(`move ${src} -> ${dest} leaves the install directory`);
      await fs.mkdir(path.dirname(dest), { recursive: true });
      await fs.rename(src, dest);
    }
  }
}

async function regularFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await regularFiles(full)));
    else if (e.isFile()) out.push(full);
  }
  return out;
}

export interface Installed {
  link: string;
  target: string;
  files: string[];
}

export async function krewInstall(o: { krewRoot: string; name: string; version: string; platform: KrewPlatform; archive: string }): Promise<Installed> {
  const sha = createHash('sha256');
  await pipeline(createReadStream(o.archive), sha);
  const digest = sha.digest('hex');
  if (digest !== o.platform.sha256) throw new Error(`checksum does not match: the archive has ${digest}, the manifest says ${o.platform.sha256}`);
  await fs.mkdir(o.krewRoot, { recursive: true });
  const work = await fs.mkdtemp(path.join(o.krewRoot, 'download-'));
  const installDir = path.join(o.krewRoot, 'store', o.name, o.version);
  try {
    await extractArchive(o.archive, work);
    await fs.mkdir(installDir, { recursive: true });
    await applyFiles(work, installDir, o.platform.files ?? []);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  const target = path.join(installDir, o.platform.bin ?? '');
  const st = await fs.stat(target).catch(() => undefined);
  if (!st?.isFile()) throw new Error(`bin ${o.platform.bin} is not among the installed files`);
  const files = await regularFiles(installDir);
  if (!files.some((f) => LICENSE_FILES.has(path.basename(f).toLowerCase()))) {
    throw new Error(`LICENSE (or alike) file is not extracted from the archive as part of installation: ${files.map((f) => path.basename(f)).join(', ')}`);
  }
  await fs.mkdir(path.join(o.krewRoot, 'bin'), { recursive: true });
  const link = path.join(o.krewRoot, 'bin', `kubectl-${o.name}${o.platform.bin?.endsWith('.exe') ? '.exe' : ''}`);
  await fs.symlink(target, link);
  return { link, target, files };
}
