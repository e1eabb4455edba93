// The JSON document of a run: the same for pid/N and for a pod, a pod's adding where it ran
// (namespace, pod, container, node, process). Also what the table of a run is headed with.
import type { RunResult } from '../collect/collect.js';
import type { PodRunResult } from '../run/pod.js';

type Obj = Record<string, unknown>;

/** Who was inspected: the table's heading, and the pid/N fields of the document;
 * `agentImage`: the image the agent ran in (none for pid/N: this machine's gdb). */
export interface Subject {
  label: string;
  target: string;
  hostPid: number;
  agentImage?: string;
  fields?: Obj;
}

export function runDocument(r: RunResult, s: Subject, mode: 'census' | 'script'): Obj {
  return {
    target: s.target,
    ...s.fields,
    run_id: r.status.run_id,
    python: r.status.python ? { ...r.status.python, pid: s.hostPid, namespace_pid: r.status.python.pid } : null,
    status: r.status.status,
    ...(r.census ? { total: r.census.total, types: r.census.types, largest: r.census.largest, gc: r.census.gc, census_seconds: r.census.census_seconds, notes: r.census.notes } : {}),
    ...(r.census ? findingsDocument(r) : {}),
    ...(mode === 'script' ? { stdout: r.stdout, stderr: r.stderr, files: r.files } : {}),
    ...(r.status.exception ? { exception: r.status.exception } : {}),
    ...(r.memory ? { memory: { rss_before: r.memory.rssBefore, rss_after: r.memory.rssAfter, rss_peak: r.memory.rssPeak, extra_peak: Math.max(0, r.memory.rssPeak - r.memory.rssBefore) } } : {}),
    // which debugger touched the target: the agent image (null: pid/N, this machine) and its gdb
    agent: { image: s.agentImage ?? null, gdb_version: r.gdb ?? null },
    out_dir: r.outDir,
    elapsed_seconds: Number((r.elapsedMs / 1000).toFixed(3)),
  };
}

/** growth, referrers, threads, trace, snapshot and retained sizes, where they were asked for. */
function findingsDocument(r: RunResult): Obj {
  const c = r.census!;
  const pick = <K extends keyof typeof c>(k: K) => (c[k] !== undefined ? { [k]: c[k] } : {});
  return {
    ...pick('growth'),
    ...pick('growth_seconds'),
    ...pick('growth_total'),
    ...pick('referrers'),
    ...pick('threads'),
    ...pick('trace'),
    ...pick('snapshot'),
    ...(r.retained
      ? {
          retainers: r.retained.retainers,
          retained_by_type: r.retained.retained_by_type,
          snapshot_analysis: r.retained.snapshot,
          analysis_seconds: r.retained.analysis_seconds,
          ...(r.retained.dominator_tree ? { dominator_tree: r.retained.dominator_tree } : {}),
        }
      : {}),
  };
}

export function podSubject(r: PodRunResult, target: string): Subject {
  const p = r.pod;
  return {
    label: `pod ${p.namespace}/${p.name} (container ${p.container}, node ${p.node})`,
    target,
    hostPid: r.process.hostPid,
    ...(r.agentImage ? { agentImage: r.agentImage } : {}),
    fields: {
      namespace: p.namespace,
      pod: p.name,
      container: p.container,
      node: p.node,
      agent_pod: r.agentPod,
      process: { pid: r.process.pid, host_pid: r.process.hostPid, rss_bytes: r.process.rssKiB * 1024, command: r.process.command },
      ...(r.processes.length ? { processes: r.processes.map((x) => ({ pid: x.pid, host_pid: x.hostPid, rss_bytes: x.rssKiB * 1024, python: x.python, command: x.command })) } : {}),
    },
  };
}
