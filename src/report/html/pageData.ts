// What the page embeds: every view already cut to its bound, with the counts of what was left
// out. Shared by the builder (model.ts, in Node) and the script in the page (client/), so it
// holds types and limits only.
import type { DominatorTreeDoc, FrameRow, GrowthRow, LargestRow, MemoryDoc, RetainedTypeRow, RetainerRow, SiteRow, SnapshotAnalysisDoc, TypeRow } from './document.js';

/** At most this many rows of each view are embedded; the rest is counted. */
export const LIMITS = {
  types: 1000,
  largest: 100,
  retainedTypes: 1000,
  retainers: 200,
  growth: 500,
  referrerTypes: 50,
  chains: 10,
  threads: 200,
  frames: 60,
  sites: 200,
  fleetTypes: 100,
  fleetRunTypes: 300,
  outliers: 50,
  notes: 50,
  dominatorNodes: 500,
} as const;

/** Rows kept, and what the rows left out add up to. */
export interface Bounded<T> {
  rows: T[];
  omitted: number;
  omittedSize?: number;
  omittedCount?: number;
}

export interface Header {
  target: string;
  /** pod, namespace, container, node, agent pod, image, gdb, PIDs: whatever the run knows. */
  where: [string, string][];
  python: string | null;
  status: 'ok' | 'error' | 'timeout';
  exception: string | null;
  total: { count: number; size: number } | null;
  gc: { tracked: number; frozen: number } | null;
  censusSeconds: number | null;
  elapsedSeconds: number | null;
  memory: MemoryDoc | null;
  notes: string[];
  outDir: string | null;
}

export interface RetainedView {
  byType: Bounded<RetainedTypeRow>;
  retainers: Bounded<RetainerRow>;
  snapshot: SnapshotAnalysisDoc;
  analysisSeconds: number;
  /** The top of the dominator tree (at most LIMITS.dominatorNodes objects), when the run has it. */
  tree: DominatorTreeDoc | null;
}

export interface GrowthView {
  seconds: number | null;
  total: { count_delta: number; size_delta: number } | null;
  rows: Bounded<GrowthRow>;
  referrers: Bounded<{ type: string; chains: Bounded<string[]> }>;
}

export interface ThreadView {
  name: string;
  daemon: boolean | null;
  frames: Bounded<FrameRow>;
}
export interface TraceView {
  seconds: number;
  bySize: Bounded<SiteRow>;
  byCount: Bounded<SiteRow>;
  note: string;
}

export interface RunView {
  label: string;
  header: Header;
  types: Bounded<TypeRow> | null;
  largest: Bounded<LargestRow> | null;
  retained: RetainedView | null;
  growth: GrowthView | null;
  threads: Bounded<ThreadView> | null;
  trace: TraceView | null;
}

/** A type whose size in one replica stands far from the median of the others. */
export interface Outlier {
  type: string;
  replica: number;
  size: number;
  count: number;
  /** Median over the other replicas (a replica without the type counts 0). */
  median: number;
  medianCount: number;
  excess: number;
  /** How many robust deviations (scaled MAD of the others, floored) the excess is. */
  score: number;
}

export interface FleetView {
  target: string;
  /** What the columns are: the replicas of a workload (--all-pods), or the processes of one container (--all-processes). */
  unit: 'replicas' | 'processes';
  replicas: { label: string; detail: string; status: string; total: { count: number; size: number } | null }[];
  failures: { target: string; error: string; exitCode: number }[];
  outliers: Bounded<Outlier>;
  /** Side by side: the types largest in any replica; sizes[type][replica], counts likewise. */
  matrix: { types: string[]; sizes: number[][]; counts: number[][]; medians: number[]; omitted: number };
}

export interface PageData {
  kind: 'run' | 'fleet' | 'analysis';
  title: string;
  generated: string;
  tool: string;
  runs: RunView[];
  fleet: FleetView | null;
}
