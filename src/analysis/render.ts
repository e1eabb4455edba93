// The text view of an analysis, in the style of the census table (report/tables.ts): types by retained
// size, then the objects that retain the most with the dominator path that holds each.
import { humanSize } from '../core/units.js';
import type { Analysis } from './views.js';

const group = (n: number) => n.toLocaleString('en-US');

export function analysisTable(a: Analysis, top: number): string {
  const s = a.snapshot;
  const rows = a.retained_by_type.slice(0, top);
  const w = Math.max(28, ...rows.map((r) => r.name.length));
  const lines = [
    `${s.file}: ${group(s.objects)} objects, ${group(s.references)} references, ${humanSize(s.bytes)} in total, ${group(s.types)} types` +
      `; ${group(s.roots)} root${s.roots === 1 ? '' : 's'}; analysed in ${a.analysis_seconds.toFixed(2)} s`,
    '',
    `${'types'.padStart(w)} | ${'# objects'.padStart(11)} | ${'retained size'.padStart(13)}`,
    `${'='.repeat(w)} | ${'='.repeat(11)} | ${'='.repeat(13)}`,
    ...rows.map((r) => `${r.name.padStart(w)} | ${String(r.count).padStart(11)} | ${humanSize(r.retained_size).padStart(13)}`),
  ];
  if (a.retained_by_type.length > rows.length) lines.push(`(${a.retained_by_type.length - rows.length} more types; --top to show more, -o json for all)`);
  if (a.retainers.length) {
    lines.push('', 'objects retaining the most (retained size, own size, type, id; then what holds it):');
    for (const r of a.retainers.slice(0, top)) {
      lines.push(`  ${humanSize(r.retained_size).padStart(12)}  ${humanSize(r.size).padStart(10)}  ${r.type}  id=0x${r.id.toString(16)}`);
      lines.push(`  ${' '.repeat(24)}${r.chain.join(' > ')}`);
    }
  }
  const notes = [
    'retained size: what freeing the object would free (its dominator subtree); a type counts an object only when no object of the same type holds it',
    'an object held only through another of its type (the rest of a linked list, a nested node) is not listed apart: the first one retains it',
  ];
  if (s.unrooted_objects)
    notes.push(
      `${group(s.unrooted_objects)} objects are not reachable from a module or a running frame (held only by C code, or garbage cycles): each group counts as its own root, shown as ${'(unrooted)'}`,
    );
  if (s.dangling_references) notes.push(`${group(s.dangling_references)} references point to objects the snapshot does not hold (its own bookkeeping, or objects created while it ran): ignored`);
  if (s.duplicate_ids) notes.push(`${group(s.duplicate_ids)} objects have the id of an earlier object (an address reused while the snapshot was written): references go to the first`);
  lines.push('', ...notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}
