// The side-by-side census of several runs (--all-pods, --all-processes): one column pair
// (objects, size) per run, types ordered by their largest size in any run. Pure.
import { humanSize } from '../core/units.js';
import type { Census } from '../collect/files.js';

export interface ComparedRun {
  label: string;
  detail: string;
  census?: Census;
}

const group = (n: number) => n.toLocaleString('en-US');

export function comparisonTable(runs: ComparedRun[], top: number): string {
  const letters = runs.map((_, i) => (i < 26 ? String.fromCharCode(65 + i) : `R${i + 1}`));
  const lines = runs.map((r, i) => {
    const c = r.census;
    const sum = c ? `${group(c.total.count)} objects, ${humanSize(c.total.size)}` : 'no census';
    return `${letters[i]} = ${r.label} (${r.detail}): ${sum}`;
  });
  const sizes = new Map<string, number>();
  for (const r of runs) for (const t of r.census?.types ?? []) sizes.set(t.name, Math.max(sizes.get(t.name) ?? 0, t.size));
  const names = [...sizes]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, top)
    .map(([n]) => n);
  const w = Math.max(28, ...names.map((n) => n.length));
  const cell = (s: string, width: number) => s.padStart(width);
  const head = [`${'types'.padStart(w)}`, ...letters.map((l) => `${cell(`${l} # objects`, 11)} | ${cell(`${l} size`, 12)}`)].join(' | ');
  const rule = [`${'='.repeat(w)}`, ...letters.map(() => `${'='.repeat(11)} | ${'='.repeat(12)}`)].join(' | ');
  const rows = names.map((n) =>
    [
      n.padStart(w),
      ...runs.map((r) => {
        const t = r.census?.types.find((x) => x.name === n);
        return t ? `${cell(String(t.count), 11)} | ${cell(humanSize(t.size), 12)}` : `${cell('-', 11)} | ${cell('-', 12)}`;
      }),
    ].join(' | '),
  );
  const more = sizes.size > names.length ? [`(${sizes.size - names.length} more types; --top to show more, -o json for all)`] : [];
  return [...lines, '', head, rule, ...rows, ...more].join('\n');
}
