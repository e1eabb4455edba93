// Server-side printing: kubectl asks for `as=Table` and prints the columns it gets back, so
// `kubectl get pods` shows READY, STATUS, RESTARTS and AGE computed the way the real printer does.
type Obj = Record<string, any>;

interface Column {
  name: string;
  type: string;
  format?: string;
  description: string;
  priority: number;
}

const col = (name: string, type = 'string', priority = 0, format?: string): Column => ({ name, type, ...(format ? { format } : {}), description: name, priority });

export function age(ts: string | undefined): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** The STATUS column: the phase, unless a container or the pod has a more telling reason. */
export function podStatusText(p: Obj): string {
  let reason: string = p.status?.reason ?? p.status?.phase ?? 'Unknown';
  let running = false;
  // from the last container to the first, as kubectl's printer does: the first one wins
  for (const c of [...((p.status?.containerStatuses ?? []) as Obj[])].reverse()) {
    if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
    else if (c.state?.terminated) reason = c.state.terminated.reason ?? `ExitCode:${c.state.terminated.exitCode}`;
    else if (c.ready && c.state?.running) running = true;
  }
  if (reason === 'Completed' && running) reason = 'Running';
  if (p.metadata?.deletionTimestamp) reason = 'Terminating';
  return reason;
}

const KINDS: Record<string, { columns: Column[]; cells(o: Obj): unknown[] }> = {
  Pod: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready'),
      col('Status'),
      col('Restarts'),
      col('Age'),
      col('IP', 'string', 1),
      col('Node', 'string', 1),
      col('Nominated Node', 'string', 1),
      col('Readiness Gates', 'string', 1),
    ],
    cells: (p) => {
      const cs: Obj[] = p.status?.containerStatuses ?? [];
      return [
        p.metadata.name,
        `${cs.filter((c) => c.ready).length}/${p.spec?.containers?.length ?? 0}`,
        podStatusText(p),
        String(cs.reduce((n, c) => n + (c.restartCount ?? 0), 0)),
        age(p.metadata.creationTimestamp),
        p.status?.podIP ?? '<none>',
        p.spec?.nodeName ?? '<none>',
        '<none>',
        '<none>',
      ];
    },
  },
  Node: {
    columns: [col('Name', 'string', 0, 'name'), col('Status'), col('Roles'), col('Age'), col('Version'), col('Internal-IP', 'string', 1)],
    cells: (n) => [n.metadata.name, 'Ready', '<none>', age(n.metadata.creationTimestamp), n.status?.nodeInfo?.kubeletVersion ?? '', n.status?.addresses?.[0]?.address ?? ''],
  },
  Namespace: {
    columns: [col('Name', 'string', 0, 'name'), col('Status'), col('Age')],
    cells: (n) => [n.metadata.name, n.status?.phase ?? 'Active', age(n.metadata.creationTimestamp)],
  },
  Deployment: {
    columns: [col('Name', 'string', 0, 'name'), col('Ready'), col('Up-to-date', 'integer'), col('Available', 'integer'), col('Age')],
    cells: (d) => [d.metadata.name, `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`, d.status?.updatedReplicas ?? 0, d.status?.availableReplicas ?? 0, age(d.metadata.creationTimestamp)],
  },
};
const GENERIC = { columns: [col('Name', 'string', 0, 'name'), col('Age')], cells: (o: Obj) => [o.metadata.name, age(o.metadata.creationTimestamp)] };

export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '');
}

export function table(kind: string, items: Obj[], resourceVersion: string, includeObject: string | null, withColumns = true): Obj {
  const k = KINDS[kind] ?? GENERIC;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    ...(withColumns ? { columnDefinitions: k.columns } : {}),
    rows: items.map((o) => ({
      cells: k.cells(o),
      object: includeObject === 'Object' ? o : includeObject === 'None' ? null : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
