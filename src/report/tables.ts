// The census as a table for people: a pympler-like list of types by total size, the largest
// objects, and the payload's notes.
import { humanSize } from '../core/units.js';
import type { Census, PythonInfo } from '../collect/files.js';

const group = (n: number) => n.toLocaleString('en-US');

export function censusTable(c: Census, python: PythonInfo | undefined, label: string, top: number): string {
  const rows = c.types.slice(0, top);
  const w = Math.max(28, ...rows.map((r) => r.name.length));
  const head = python ? `${label}: Python ${python.version} (pid ${python.pid} in its namespace, ${python.executable})` : label;
  const lines = [
    head,
    `${group(c.total.count)} objects, ${humanSize(c.total.size)} in total; ${group(c.gc.tracked)} tracked by the GC` +
      (c.gc.frozen ? `, ${group(c.gc.frozen)} frozen (gc.freeze) and not counted` : '') +
      `; counted in ${c.census_seconds.toFixed(2)} s`,
    '',
    `${'types'.padStart(w)} | ${'# objects'.padStart(11)} | ${'total size'.padStart(12)}`,
    `${'='.repeat(w)} | ${'='.repeat(11)} | ${'='.repeat(12)}`,
    ...rows.map((r) => `${r.name.padStart(w)} | ${String(r.count).padStart(11)} | ${humanSize(r.size).padStart(12)}`),
  ];
  if (c.types.length > rows.length) lines.push(`(${c.types.length - rows.length} more types; --top to show more, -o json for all)`);
  if (c.largest.length) {
    lines.push('', 'largest objects:');
    for (const l of c.largest.slice(0, Math.min(10, top))) lines.push(`  ${humanSize(l.size).padStart(12)}  ${l.type}  id=0x${l.id.toString(16)}`);
  }
  lines.push('', ...c.notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}
