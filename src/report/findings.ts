// How what the leak-finding options add to a census (growth, referrer chains, thread stacks,
// allocation sites) is shown to a person; their shapes are in collect/files.ts, and the JSON
// document carries them as the payload wrote them.
import { humanSize } from '../core/units.js';
import type { Findings } from '../collect/files.js';

const signed = (n: number) => (n > 0 ? `+${n}` : String(n));
const signedSize = (n: number) => (n > 0 ? `+${humanSize(n)}` : n < 0 ? `-${humanSize(-n)}` : '0 B');

export function growthTable(f: Findings, top: number): string {
  const rows = (f.growth ?? []).filter((r) => r.count_delta !== 0 || r.size_delta !== 0).slice(0, top);
  const w = Math.max(28, ...rows.map((r) => r.name.length));
  const total = f.growth_total;
  return [
    `growth over ${f.growth_seconds ?? '?'} s: ${total ? `${signed(total.count_delta)} objects, ${signedSize(total.size_delta)}` : ''}`,
    `${'types'.padStart(w)} | ${'count +/-'.padStart(11)} | ${'size +/-'.padStart(13)} | ${'# objects'.padStart(11)} | ${'total size'.padStart(12)}`,
    `${'='.repeat(w)} | ${'='.repeat(11)} | ${'='.repeat(13)} | ${'='.repeat(11)} | ${'='.repeat(12)}`,
    ...rows.map(
      (r) => `${r.name.padStart(w)} | ${signed(r.count_delta).padStart(11)} | ${signedSize(r.size_delta).padStart(13)} | ${String(r.count).padStart(11)} | ${humanSize(r.size).padStart(12)}`,
    ),
  ].join('\n');
}

export function referrersText(f: Findings): string {
  const out: string[] = [];
  for (const r of f.referrers ?? []) {
    out.push(`what holds ${r.type}:`);
    if (r.chains.length === 0) out.push('  (no sample reached from a module global or a running frame: held by C code, or a garbage cycle)');
    for (const chain of r.chains) out.push(`  ${chain.join(' ')}`);
  }
  return out.join('\n');
}

export function threadsText(f: Findings): string {
  const out: string[] = [];
  for (const t of f.threads ?? []) {
    out.push(`thread ${t.name}${t.daemon ? ' (daemon)' : ''}:`);
    for (const fr of t.frames) out.push(`  File "${fr.file}", line ${fr.line}, in ${fr.function}`);
  }
  return out.join('\n');
}

export function traceText(f: Findings, top: number): string {
  const t = f.trace;
  if (!t) return '';
  const rows = t.by_size.slice(0, Math.min(top, 15));
  return [
    `allocation sites that grew over ${t.seconds} s (tracemalloc, live allocations by size):`,
    ...rows.map((s) => `  ${signedSize(s.size_delta).padStart(13)} ${signed(s.count_delta).padStart(9)} blocks  ${s.file}:${s.line}`),
    ...(rows.length === 0 ? ['  (none)'] : []),
    `note: ${t.note}`,
  ].join('\n');
}

/** Every section the census carries, in the order an engineer reads them. */
export function findingsText(f: Findings, top: number): string {
  const parts: string[] = [];
  if (f.growth) parts.push(growthTable(f, top));
  if (f.referrers?.length) parts.push(referrersText(f));
  if (f.trace) parts.push(traceText(f, top));
  if (f.threads) parts.push(threadsText(f));
  return parts.join('\n\n');
}
