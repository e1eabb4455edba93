// The shape of what the report page reads: the JSON documents that `-o json` prints (one run,
// several runs side by side, or `analyze FILE`). Defined here, field by field, so that the page
// depends on the documented output and not on the modules that produce it.

export interface TypeRow {
  name: string;
  count: number;
  size: number;
}
export interface LargestRow {
  type: string;
  size: number;
  id: number;
}
export interface GrowthRow {
  name: string;
  count_delta: number;
  size_delta: number;
  count: number;
  size: number;
}
export interface ReferrerRow {
  type: string;
  chains: string[][];
}
export interface FrameRow {
  file: string;
  line: number;
  function: string;
}
export interface ThreadRow {
  name: string;
  ident: number;
  daemon: boolean | null;
  frames: FrameRow[];
}
export interface SiteRow {
  file: string;
  line: number;
  size_delta: number;
  count_delta: number;
  size: number;
  count: number;
}
export interface TraceDoc {
  seconds: number;
  by_size: SiteRow[];
  by_count: SiteRow[];
  note: string;
}
export interface RetainerRow {
  type: string;
  id: number;
  retained_size: number;
  size: number;
  chain: string[];
}
export interface RetainedTypeRow {
  name: string;
  retained_size: number;
  count: number;
}
/** One object of the top of the dominator tree; `parent` indexes the same list (-1: a root). */
export interface DominatorNodeRow {
  parent: number;
  type: string;
  id: number;
  size: number;
  retained_size: number;
  children: number;
  root?: string;
}
export interface DominatorTreeDoc {
  total_size: number;
  objects: number;
  nodes: DominatorNodeRow[];
}

/** `snapshot_analysis` of a run, `snapshot` of `analyze FILE -o json`. */
export interface SnapshotAnalysisDoc {
  file: string;
  objects: number;
  references: number;
  dangling_references: number;
  roots: number;
  unrooted_objects: number;
  types: number;
  duplicate_ids: number;
  bytes: number;
  file_bytes: number;
  written_seconds: number;
}

export interface MemoryDoc {
  rss_before: number;
  rss_after: number;
  rss_peak: number;
  extra_peak: number;
}

/** One run (`runDocument`): pid/N, or a pod with where it ran. */
export interface RunDoc {
  target: string;
  namespace?: string;
  pod?: string;
  container?: string;
  node?: string;
  agent_pod?: string;
  /** The agent that injected: its image (null for pid/N: this machine's gdb) and gdb's version. */
  agent?: { image: string | null; gdb_version: string | null };
  /** What 0.1.0 printed before `agent`; still shown from documents saved then. */
  agent_image?: string;
  gdb?: string;
  process?: { pid: number; host_pid: number; rss_bytes: number; command: string };
  run_id: string | null;
  python: { version: string; implementation: string; pid: number; executable: string; namespace_pid?: number } | null;
  status: 'ok' | 'error' | 'timeout';
  total?: { count: number; size: number };
  types?: TypeRow[];
  largest?: LargestRow[];
  gc?: { tracked: number; frozen: number; enabled: boolean };
  census_seconds?: number;
  notes?: string[];
  growth?: GrowthRow[];
  growth_seconds?: number;
  growth_total?: { count_delta: number; size_delta: number };
  referrers?: ReferrerRow[];
  threads?: ThreadRow[];
  trace?: TraceDoc;
  retainers?: RetainerRow[];
  retained_by_type?: RetainedTypeRow[];
  snapshot_analysis?: SnapshotAnalysisDoc;
  dominator_tree?: DominatorTreeDoc;
  analysis_seconds?: number;
  memory?: MemoryDoc;
  exception?: { type: string; message: string; traceback: string };
  out_dir?: string;
  elapsed_seconds?: number;
}

/** `--all-pods`, `--all-processes`: every run, and the ones that failed. */
export interface FleetDoc {
  target: string;
  runs: RunDoc[];
  failures: { target: string; error: string; exit_code: number; stage?: string | null }[];
}

/** `kubectl pyheap analyze FILE -o json`. */
export interface AnalysisDoc {
  retainers: RetainerRow[];
  retained_by_type: RetainedTypeRow[];
  snapshot: SnapshotAnalysisDoc;
  dominator_tree?: DominatorTreeDoc;
  analysis_seconds: number;
}

export type ReportInput = { kind: 'run'; doc: RunDoc } | { kind: 'fleet'; doc: FleetDoc } | { kind: 'analysis'; doc: AnalysisDoc };

/** Which document this is, by its fields. */
export function classify(doc: unknown): ReportInput {
  const d = doc as Record<string, unknown>;
  if (d && Array.isArray(d.runs)) return { kind: 'fleet', doc: d as unknown as FleetDoc };
  if (d && Array.isArray(d.retained_by_type) && d.snapshot && typeof d.snapshot === 'object' && 'objects' in d.snapshot && !('target' in d))
    return { kind: 'analysis', doc: d as unknown as AnalysisDoc };
  if (d && typeof d.target === 'string') return { kind: 'run', doc: d as unknown as RunDoc };
  throw new Error('not a kubectl-pyheap JSON document (no target, runs or retained_by_type)');
}
