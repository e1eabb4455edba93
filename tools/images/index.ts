// ensureImage(image): the root filesystem of an image named as in a manifest (python:3.14-slim,
// ghcr.io/kubectl-pyheap/agent:0.1.0, ...) or by recipe name, from the cache on this machine,
// built first if missing. Progress goes to stderr, one line per step (rewritten in place on a
// terminal); an image without a recipe is a clear error.
import { ensureRecipe, type Entry } from './cache.js';
import { recipeNameFor } from './names.js';
import { recipes, type Recipe } from './recipes.js';

export { cacheDir, listCache, keyOf } from './cache.js';
export { recipeNameFor } from './names.js';
export { recipes } from './recipes.js';
export { BuildError } from './chroot.js';

export class UnknownImage extends Error {}

export function findRecipe(image: string, extra: Recipe[] = []): Recipe {
  const all = [...recipes(), ...extra];
  const name = all.some((r) => r.name === image) ? image : recipeNameFor(image);
  const recipe = all.find((r) => r.name === name);
  if (!recipe) {
    throw new UnknownImage(
      `no image recipe makes "${image}": the images are ${all.map((r) => r.name).join(', ')} (python:3.8 ... python:3.15 with any suffix, debian:12, debian:bookworm, robustadev/debug-toolkit:v6.0, ghcr.io/kubectl-pyheap/agent:TAG); see tools/cluster/README.md`,
    );
  }
  return recipe;
}

/** One progress line on stderr: rewritten in place on a terminal, a line per step otherwise. */
export function stderrReporter(): (text: string) => void {
  const tty = process.stderr.isTTY;
  let last = '';
  let shown = 0;
  return (text) => {
    const line = `images: ${text}`;
    if (line === last) return;
    last = line;
    if (tty) return void process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 100) - 1)}`);
    // a log gets a line every few seconds, and every line that is news (done, waiting, a lock)
    if (!/built in|waiting for|stale lock|holding until|copying the|apt-get install|checking/.test(text) && Date.now() - shown < 5000) return;
    shown = Date.now();
    process.stderr.write(`${line}\n`);
  };
}

const pending = new Map<string, Promise<Entry>>();

/** The cache entry of an image (rootfs, image.json), built if missing. */
export function ensureEntry(image: string, o: { extra?: Recipe[]; say?: (text: string) => void } = {}): Promise<Entry> {
  const recipe = findRecipe(image, o.extra);
  const say = o.say ?? stderrReporter();
  let p = pending.get(recipe.name);
  if (!p) {
    p = ensureRecipe(recipe, say)
      .then((e) => {
        if (e.built) say(`${recipe.name}: built in ${e.info.buildSeconds.toFixed(1)} s, ${(e.info.bytes / 2 ** 20).toFixed(0)} MiB${process.stderr.isTTY ? '\n' : ''}`);
        return e;
      })
      .finally(() => pending.delete(recipe.name));
    pending.set(recipe.name, p);
  }
  return p;
}

/** The root filesystem path of an image, built if missing. Never write into it: it is shared. */
export async function ensureImage(image: string): Promise<string> {
  return (await ensureEntry(image)).rootfs;
}
