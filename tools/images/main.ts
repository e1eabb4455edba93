// `node build/tools/images/main.js build [NAME...]`: builds the test images (all by default)
// into the cache, says for each whether it was built or cached, with time and size;
// `list` shows the cache, `path NAME` prints an image's root filesystem, `prune` removes
// entries that no current recipe makes.
import { rmSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { baseKey } from './cache.js';
import { BuildError, cacheDir, ensureEntry, findRecipe, keyOf, listCache, recipes, UnknownImage } from './index.js';
import type { Recipe } from './recipes.js';

const USAGE = `usage: node build/tools/images/main.js build [NAME...] | list | path NAME | prune
  NAME: a recipe name (${recipes()
    .map((r) => r.name)
    .join(', ')})
        or an image as manifests name it (python:3.14-slim, ghcr.io/kubectl-pyheap/agent:0.1.0)
  --recipes FILE   more recipes (a JSON array; the builder's tests use it)
  cache: $PYHEAP_IMAGE_CACHE, default /var/cache/kubectl-pyheap/images
`;

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { recipes: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const extra = values.recipes ? (JSON.parse(readFileSync(values.recipes, 'utf8')) as Recipe[]) : [];
  const [cmd, ...names] = positionals;
  if (cmd === 'build') {
    const wanted = names.length ? names.map((n) => findRecipe(n, extra)) : recipes();
    const t0 = Date.now();
    for (const r of wanted) {
      const e = await ensureEntry(r.name, { extra });
      process.stdout.write(`${r.name}\t${e.built ? `built in ${e.info.buildSeconds.toFixed(1)} s` : 'cached'}\t${MiB(e.info.bytes)}\t${e.rootfs}\n`);
    }
    process.stdout.write(`${wanted.length} image(s) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; cache ${cacheDir()}\n`);
    return 0;
  }
  if (cmd === 'list') {
    let total = 0;
    for (const e of listCache()) {
      total += e.info.bytes;
      process.stdout.write(`${e.key}\t${MiB(e.info.bytes)}\tbuilt ${e.info.builtAt} in ${e.info.buildSeconds.toFixed(1)} s\n`);
    }
    process.stdout.write(`total ${MiB(total)} in ${cacheDir()}\n`);
    return 0;
  }
  if (cmd === 'path' && names.length === 1) {
    process.stdout.write(`${(await ensureEntry(names[0]!, { extra })).rootfs}\n`);
    return 0;
  }
  if (cmd === 'prune') {
    const all = [...recipes(), ...extra];
    const current = new Set([...all.map(keyOf), ...all.flatMap((r) => ('suite' in r.base ? [baseKey(r.base.suite)] : []))]);
    for (const e of listCache()) {
      if (current.has(e.key)) continue;
      process.stdout.write(`removing ${e.key} (${MiB(e.info.bytes)})\n`);
      rmSync(e.dir, { recursive: true, force: true });
    }
    return 0;
  }
  process.stderr.write(USAGE);
  return 2;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UnknownImage || e instanceof BuildError) {
      process.stderr.write(`error: ${(e as Error).message}\n`);
      process.exit(e instanceof UnknownImage ? 2 : 1);
    }
    process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
