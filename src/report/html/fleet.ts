// Replicas side by side, and which one stands out: for every type, each replica's size against
// the median of the others. A replica that leaks holds far more of some type than its siblings
// that serve the same traffic; that type and that replica are what the on-call engineer needs.
import type { RunDoc } from './document.js';
import { LIMITS, type Bounded, type FleetView, type Outlier } from './pageData.js';

export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Below this excess a difference is noise of the interpreter (caches, interned strings). */
const MIN_EXCESS = 256 * 1024;

/**
 * The outliers of a fleet, largest excess first. A type in replica i is one when its size is at
 * least twice the others' median, exceeds it by at least 256 KiB and 1% of the median replica's
 * heap, and by at least 3 robust deviations (1.4826 x the MAD of the others, floored at a tenth
 * of their median, so that identical siblings do not make every byte an outlier).
 */
export function findOutliers(runs: Pick<RunDoc, 'types' | 'total'>[]): Outlier[] {
  if (runs.length < 2) return [];
  const names = new Set<string>();
  const maps = runs.map((r) => {
    const m = new Map<string, { size: number; count: number }>();
    for (const t of r.types ?? []) {
      m.set(t.name, { size: t.size, count: t.count });
      names.add(t.name);
    }
    return m;
  });
  const floor = Math.max(MIN_EXCESS, 0.01 * median(runs.map((r) => r.total?.size ?? 0)));
  const out: Outlier[] = [];
  for (const type of names) {
    const sizes = maps.map((m) => m.get(type)?.size ?? 0);
    const counts = maps.map((m) => m.get(type)?.count ?? 0);
    for (let i = 0; i < runs.length; i++) {
      const others = sizes.filter((_, j) => j !== i);
      const med = median(others);
      const excess = sizes[i]! - med;
      if (excess < floor || sizes[i]! < 2 * med) continue;
      const mad = median(others.map((x) => Math.abs(x - med)));
      const scale = Math.max(1.4826 * mad, 0.1 * med, 1);
      const score = excess / scale;
      if (score < 3) continue;
      out.push({ type, replica: i, size: sizes[i]!, count: counts[i]!, median: med, medianCount: median(counts.filter((_, j) => j !== i)), excess, score });
    }
  }
  return out.sort((a, b) => b.excess - a.excess || (a.type < b.type ? -1 : 1));
}

/**
 * The order the page shows them in: the replica that stands out most (the largest excess in all)
 * first, and within a replica the types of the application before the builtins: a leak of
 * `app.Order` objects shows as more bytes, lists and ints too, and the class names the code.
 */
export function rankOutliers(all: Outlier[]): Outlier[] {
  const byReplica = new Map<number, number>();
  for (const o of all) byReplica.set(o.replica, (byReplica.get(o.replica) ?? 0) + o.excess);
  const app = (o: Outlier) => (o.type.includes('.') ? 0 : 1);
  return [...all].sort((a, b) => byReplica.get(b.replica)! - byReplica.get(a.replica)! || a.replica - b.replica || app(a) - app(b) || b.excess - a.excess);
}

export function replicaLabel(r: RunDoc, all: RunDoc[]): string {
  if (!r.pod) return r.python ? `pid ${r.python.pid}` : r.target;
  const twin = all.some((x) => x !== r && x.pod === r.pod);
  return `${r.pod}${twin && r.process ? ` pid ${r.process.pid}` : ''}`;
}

export function fleetView(target: string, runs: RunDoc[], failures: { target: string; error: string; exit_code: number }[]): FleetView {
  const all = rankOutliers(findOutliers(runs));
  const outliers: Bounded<Outlier> = { rows: all.slice(0, LIMITS.outliers), omitted: Math.max(0, all.length - LIMITS.outliers) };
  // the types that matter side by side: the outliers' first, then the largest in any replica
  const best = new Map<string, number>();
  for (const r of runs) for (const t of r.types ?? []) best.set(t.name, Math.max(best.get(t.name) ?? 0, t.size));
  const order = [...new Set([...all.map((o) => o.type), ...[...best].sort((a, b) => b[1] - a[1]).map(([n]) => n)])];
  const types = order.slice(0, LIMITS.fleetTypes);
  const maps = runs.map((r) => new Map((r.types ?? []).map((t) => [t.name, t])));
  const sizes = types.map((n) => maps.map((m) => m.get(n)?.size ?? 0));
  const counts = types.map((n) => maps.map((m) => m.get(n)?.count ?? 0));
  const pods = new Set(runs.map((r) => r.pod ?? r.target));
  return {
    target,
    unit: runs.length > 1 && pods.size === 1 ? 'processes' : 'replicas',
    replicas: runs.map((r) => ({
      label: replicaLabel(r, runs),
      detail: [r.node && `node ${r.node}`, r.process && `pid ${r.process.pid}`, r.python && `Python ${r.python.version}`].filter(Boolean).join(', '),
      status: r.status,
      total: r.total ?? null,
    })),
    failures: failures.map((f) => ({ target: f.target, error: f.error, exitCode: f.exit_code })),
    outliers,
    matrix: { types, sizes, counts, medians: sizes.map(median), omitted: Math.max(0, order.length - types.length) },
  };
}
