// The image cache on this machine: <cache>/<name>-<hash>/ holds rootfs/ and image.json, where
// the hash is that of the recipe (and what it resolves to: the pyenv patch release, the base),
// so a changed recipe builds a new entry. An entry is built in a temporary directory next to
// it and renamed into place, under a lock (lock.ts): a reader sees a whole image or none.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildRoot, debootstrap, type Reporter } from './build.js';
import { BuildError, run } from './chroot.js';
import { acquire, startTime } from './lock.js';
import { pyenvBuild } from './pyenv.js';
import { MIRROR, type Recipe, type Suite } from './recipes.js';

/** Bump when the build itself changes in a way that makes older entries wrong (BASE_VERSION:
 * the debootstrap bases, BUILDER_VERSION: the images made from them). */
const BASE_VERSION = 1;
const BUILDER_VERSION = 2;
export const DEFAULT_CACHE = '/var/cache/kubectl-pyheap/images';

export interface ImageInfo {
  name: string;
  key: string;
  recipe: Recipe;
  resolved: Record<string, string>;
  builtAt: string;
  buildSeconds: number;
  bytes: number;
}
export interface Entry {
  key: string;
  dir: string;
  rootfs: string;
  built: boolean;
  info: ImageInfo;
}

export function cacheDir(): string {
  return process.env.PYHEAP_IMAGE_CACHE || DEFAULT_CACHE;
}

const hash = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12);

export function baseKey(suite: Suite): string {
  return `base-${suite}-${hash({ BASE_VERSION, suite, variant: 'minbase', MIRROR })}`;
}

/** What the recipe depends on besides itself. */
function resolve(recipe: Recipe): Record<string, string> {
  const r: Record<string, string> = {};
  for (const s of recipe.steps) if (s.kind === 'pyenv') r[`pyenv ${s.version}`] = pyenvBuild(s.version).full;
  if ('suite' in recipe.base) r.base = baseKey(recipe.base.suite);
  return r;
}

export function keyOf(recipe: Recipe): string {
  return `${recipe.name}-${hash({ BUILDER_VERSION, recipe, resolved: resolve(recipe) })}`;
}

async function du(dir: string): Promise<number> {
  return Number((await run(['du', '-sb', dir])).split('\t')[0]);
}

/** Removes temporary build directories whose builder is gone (a killed build). */
function sweepTemps(cache: string, key: string): void {
  for (const e of readdirSync(cache)) {
    const m = new RegExp(`^\\.tmp-${key}-(\\d+)-(\\d+)$`).exec(e);
    if (m && startTime(Number(m[1])) !== m[2]) rmSync(path.join(cache, e), { recursive: true, force: true });
  }
}

/** The cached entry `key`, built by `make(rootfs)` if missing. */
async function ensureEntry(key: string, what: Omit<ImageInfo, 'key' | 'builtAt' | 'buildSeconds' | 'bytes'>, say: Reporter, make: (rootfs: string) => Promise<void>): Promise<Entry> {
  const cache = cacheDir();
  const dir = path.join(cache, key);
  const found = (built: boolean): Entry => ({ key, dir, rootfs: path.join(dir, 'rootfs'), built, info: JSON.parse(readFileSync(path.join(dir, 'image.json'), 'utf8')) as ImageInfo });
  if (existsSync(path.join(dir, 'image.json'))) return found(false);
  mkdirSync(cache, { recursive: true });
  const release = await acquire(path.join(cache, `${key}.lock`), {
    waiting: (o) => say(`waiting for PID ${o.pid}, which is building ${key}`),
    stale: (o) => say(`removing the stale lock of ${o ? `PID ${o.pid}, which is gone` : 'a builder that never wrote its PID'}`),
  });
  try {
    if (existsSync(path.join(dir, 'image.json'))) return found(false);
    sweepTemps(cache, key);
    const tmp = path.join(cache, `.tmp-${key}-${process.pid}-${startTime(process.pid)}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const t0 = process.hrtime.bigint();
    try {
      await make(path.join(tmp, 'rootfs'));
      const info: ImageInfo = { ...what, key, builtAt: new Date().toISOString(), buildSeconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes: await du(path.join(tmp, 'rootfs')) };
      writeFileSync(path.join(tmp, 'image.json'), `${JSON.stringify(info, null, 2)}\n`);
      await holdForTests();
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    return found(true);
  } finally {
    release();
  }
}

/** PYHEAP_IMAGES_HOLD=FILE: a finished build waits for FILE before it is renamed into place,
 * so that a test can start a second builder (or kill this one) while the lock is held. */
async function holdForTests(): Promise<void> {
  const file = process.env.PYHEAP_IMAGES_HOLD;
  if (!file) return;
  process.stderr.write(`images: holding until ${file} exists\n`);
  while (!existsSync(file)) await new Promise((r) => setTimeout(r, 50));
}

/** The cached debootstrap minbase of a suite. */
export function ensureBase(suite: Suite, say: Reporter): Promise<Entry> {
  const key = baseKey(suite);
  const recipe: Recipe = { name: `base-${suite}`, what: `debootstrap --variant=minbase ${suite}`, base: { suite }, packages: [], steps: [], checks: [] };
  return ensureEntry(
    key,
    { name: recipe.name, recipe, resolved: {} },
    (t) => say(`${recipe.name}: ${t}`),
    (rootfs) => debootstrap(suite, rootfs, (t) => say(`${recipe.name}: ${t}`)),
  );
}

/** The cached image of a recipe, built (with its base) when missing. */
export async function ensureRecipe(recipe: Recipe, say: Reporter): Promise<Entry> {
  const key = keyOf(recipe);
  return ensureEntry(
    key,
    { name: recipe.name, recipe, resolved: resolve(recipe) },
    (t) => say(`${recipe.name}: ${t}`),
    async (rootfs) => {
      let base: string;
      if ('suite' in recipe.base) base = (await ensureBase(recipe.base.suite, say)).rootfs;
      else if (existsSync(recipe.base.dir)) base = recipe.base.dir;
      else throw new BuildError(`the base directory ${recipe.base.dir} of image ${recipe.name} does not exist`);
      await buildRoot(recipe, rootfs, base, (t) => say(`${recipe.name}: ${t}`));
    },
  );
}

/** Every complete entry in the cache. */
export function listCache(): Entry[] {
  const cache = cacheDir();
  if (!existsSync(cache)) return [];
  return readdirSync(cache)
    .filter((e) => !e.startsWith('.') && existsSync(path.join(cache, e, 'image.json')))
    .map((key) => ({
      key,
      dir: path.join(cache, key),
      rootfs: path.join(cache, key, 'rootfs'),
      built: false,
      info: JSON.parse(readFileSync(path.join(cache, key, 'image.json'), 'utf8')) as ImageInfo,
    }));
}
