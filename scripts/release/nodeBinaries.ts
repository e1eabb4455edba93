// Node's official binaries, taken from the npm registry with npm itself (which checks the
// tarball against the registry's integrity), checked again against our lock file
// (node-binaries.json: the tarball's sha512 integrity and the binary's own sha256), and cached
// under .cache/release/ so that a second release downloads nothing.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Platform } from './platforms.js';

export interface LockEntry {
  /** The tarball's integrity as the registry publishes it (sha512, base64). */
  integrity: string;
  /** sha256 (hex) of the node binary inside it. */
  sha256: string;
}

export interface NodeLock {
  note?: string;
  node: string;
  packages: Record<string, LockEntry>;
}

export const LOCK_FILE = 'scripts/release/node-binaries.json';

export async function readLock(root: string): Promise<NodeLock> {
  return JSON.parse(await fs.readFile(path.join(root, LOCK_FILE), 'utf8')) as NodeLock;
}

export async function fileDigest(file: string, algorithm: 'sha256' | 'sha512', encoding: 'hex' | 'base64' = 'hex'): Promise<string> {
  const h = createHash(algorithm);
  await pipeline(createReadStream(file), h);
  return h.digest(encoding);
}

/** The npm command line: the one running this script (npm run), else npm on PATH. */
function npmCommand(): [string, string[]] {
  const cli = process.env.npm_execpath;
  return cli && /\.(c?js)$/.test(cli) ? [process.execPath, [cli]] : ['npm', []];
}

function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(cmd)} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Downloads <pkg>@<version> with `npm pack` into dir; returns the tarball and its integrity. */
async function npmPack(spec: string, dir: string): Promise<{ file: string; integrity: string }> {
  const [cmd, pre] = npmCommand();
  const out = await run(cmd, [...pre, 'pack', spec, '--json', '--ignore-scripts', '--pack-destination', dir], dir);
  const info = (JSON.parse(out) as { filename: string; integrity: string }[])[0];
  if (!info) throw new Error(`npm pack ${spec} reported nothing`);
  return { file: path.join(dir, info.filename), integrity: info.integrity };
}

async function extractMember(tarball: string, member: string, dest: string): Promise<void> {
  const extract = tar.extract();
  let found = false;
  const tmp = `${dest}.part`;
  extract.on('entry', (header, stream, next) => {
    if (header.name === member && header.type === 'file') {
      found = true;
      pipeline(stream, createWriteStream(tmp, { mode: 0o755 })).then(() => next(), next);
    } else {
      stream.on('end', () => next());
      stream.resume();
    }
  });
  await pipeline(createReadStream(tarball), createGunzip(), extract);
  if (!found) throw new Error(`${path.basename(tarball)} has no ${member}`);
  await fs.rename(tmp, dest);
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

export interface BaseBinary {
  file: string;
  sha256: string;
  downloaded: boolean;
}

/**
 * The verified node binary of a platform, from the cache or the registry. Throws when the
 * registry's tarball or the binary in it differ from the lock file.
 */
export async function baseBinary(cacheDir: string, lock: NodeLock, p: Platform, log: (s: string) => void): Promise<BaseBinary> {
  const want = lock.packages[p.nodePackage];
  if (!want) throw new Error(`${LOCK_FILE} has no entry for ${p.nodePackage}; run npm run release -- lock ${lock.node}`);
  const dir = path.join(cacheDir, `${p.nodePackage}-${lock.node}`);
  const bin = path.join(dir, path.basename(p.nodeBinary));
  if (await exists(bin)) {
    const sha = await fileDigest(bin, 'sha256');
    if (sha === want.sha256) return { file: bin, sha256: sha, downloaded: false };
    log(`  cached ${p.nodePackage} binary has sha256 ${sha}, not ${want.sha256}: fetching it again`);
    await fs.rm(bin, { force: true });
  }
  await fs.mkdir(dir, { recursive: true });
  const spec = `${p.nodePackage}@${lock.node}`;
  log(`  downloading ${spec} from the npm registry`);
  const { file: tgz, integrity } = await npmPack(spec, dir);
  const actual = `sha512-${await fileDigest(tgz, 'sha512', 'base64')}`;
  if (integrity !== want.integrity || actual !== want.integrity) {
    throw new Error(`${spec}: the tarball's integrity is ${actual} (registry says ${integrity}), the lock file says ${want.integrity}`);
  }
  await extractMember(tgz, p.nodeBinary, bin);
  await fs.rm(tgz, { force: true });
  const sha = await fileDigest(bin, 'sha256');
  if (sha !== want.sha256) {
    await fs.rm(bin, { force: true });
    throw new Error(`${spec}: ${p.nodeBinary} has sha256 ${sha}, the lock file says ${want.sha256}`);
  }
  return { file: bin, sha256: sha, downloaded: true };
}

/** Records integrity and binary sha256 of every platform's package at `version` (trust on first use). */
export async function lockVersion(cacheDir: string, version: string, platforms: Platform[], log: (s: string) => void): Promise<NodeLock> {
  const lock: NodeLock = {
    note: "Node.js official binaries from the npm registry. integrity: the registry's sha512 of the package tarball (npm checks it too); sha256: of the node binary inside. Written by npm run release -- lock VERSION; a release refuses anything else.",
    node: version,
    packages: {},
  };
  for (const p of platforms) {
    const dir = path.join(cacheDir, `${p.nodePackage}-${version}`);
    await fs.mkdir(dir, { recursive: true });
    log(`  ${p.nodePackage}@${version}`);
    const { file, integrity } = await npmPack(`${p.nodePackage}@${version}`, dir);
    const actual = `sha512-${await fileDigest(file, 'sha512', 'base64')}`;
    if (actual !== integrity) throw new Error(`${p.nodePackage}@${version}: downloaded ${actual}, the registry says ${integrity}`);
    const bin = path.join(dir, path.basename(p.nodeBinary));
    await extractMember(file, p.nodeBinary, bin);
    await fs.rm(file, { force: true });
    lock.packages[p.nodePackage] = { integrity, sha256: await fileDigest(bin, 'sha256') };
  }
  return lock;
}
