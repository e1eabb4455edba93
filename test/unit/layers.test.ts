// The house in stage order: each folder of src/ imports only from its own layer or the ones
// below it (core <- kube <- target, agentpod, inject, collect, analysis <- run <- report <- cli;
// the entry points at src/ itself above all), so that the pipeline reads downwards. Read from
// the sources' import lines, static and dynamic.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../support/cli.js';

const LAYERS: Record<string, number> = {
  core: 0,
  kube: 1,
  target: 2,
  agentpod: 2,
  inject: 2,
  collect: 2,
  analysis: 2,
  run: 3,
  report: 4,
  cli: 5,
  '.': 6,
};
const SRC = path.join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'client' ? [] : sources(full); // the page's script: a browser bundle of its own
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}
const folderOf = (file: string) => (path.relative(SRC, file).split(path.sep).length === 1 ? '.' : path.relative(SRC, file).split(path.sep)[0]!);

describe('layers', () => {
  it('every folder of src/ has a layer', () => {
    const folders = new Set(sources(SRC).map(folderOf));
    assert.deepEqual(
      [...folders].filter((f) => !(f in LAYERS)),
      [],
    );
  });

  it('imports go downwards (or sideways within a layer), never up', () => {
    const up: string[] = [];
    for (const file of sources(SRC)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = path.resolve(path.dirname(file), m[1]!);
        const from = folderOf(file);
        const to = folderOf(target);
        if (LAYERS[to]! > LAYERS[from]!) up.push(`${path.relative(ROOT, file)} (${from}) imports ${m[1]} (${to})`);
      }
    }
    assert.deepEqual(up, []);
  });

  it('the check sees imports at all', () => {
    const text = readFileSync(path.join(SRC, 'cli', 'main.ts'), 'utf8');
    assert.match(text, /from '\.\.\/core\/errors\.js'/);
  });
});
