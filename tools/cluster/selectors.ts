// Label and field selectors as the apiserver parses them (`?labelSelector=app=x,tier!=db`,
// `?fieldSelector=spec.nodeName=n1`), so that clients filtering on the server get what they
// would get from a real one, and an unsupported field is refused the same way.
import { badRequest } from './status.js';

type Obj = Record<string, any>;
export type Predicate = (obj: Obj) => boolean;

interface Requirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!exists' | '=' | '!=';
  values: string[];
}

/** Splits on commas that are not inside parentheses. */
function terms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter(Boolean);
}

function parseLabelTerm(t: string): Requirement {
  let m = /^([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(t);
  if (m)
    return {
      key: m[1]!,
      op: m[2] as 'in' | 'notin',
      values: m[3]!
        .split(',')
        .map((v) => v.trim())
        .filter((v, _i, a) => v !== '' || a.length === 1),
    };
  m = /^!\s*([^\s!=()]+)$/.exec(t);
  if (m) return { key: m[1]!, op: '!exists', values: [] };
  m = /^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(t);
  if (m) return { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] };
  m = /^([^\s!=()]+)$/.exec(t);
  if (m) return { key: m[1]!, op: 'exists', values: [] };
  throw badRequest(`unable to parse requirement: found '${t}', expected: in, notin, =, ==, !=, gt, lt`);
}

function matches(r: Requirement, value: string | undefined): boolean {
  switch (r.op) {
    case 'exists':
      return value !== undefined;
    case '!exists':
      return value === undefined;
    case '=':
    case 'in':
      return value !== undefined && r.values.includes(value);
    case '!=':
    case 'notin':
      return value === undefined || !r.values.includes(value);
  }
}

export function labelSelector(s: string | null): Predicate {
  if (!s) return () => true;
  const reqs = terms(s).map(parseLabelTerm);
  return (obj) => reqs.every((r) => matches(r, obj.metadata?.labels?.[r.key]));
}

/** A selector object from a workload (`matchLabels`, `matchExpressions`). */
export function selectorObject(sel: Obj | undefined): Predicate {
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) reqs.push({ key: k, op: '=', values: [String(v)] });
  for (const e of sel?.matchExpressions ?? []) {
    const op = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!exists' }[e.operator as string] as Requirement['op'] | undefined;
    if (op) reqs.push({ key: e.key, op, values: e.values ?? [] });
  }
  return (obj) => reqs.every((r) => matches(r, obj.metadata?.labels?.[r.key]));
}

/** Fields each kind can be selected on; everything supports metadata.name and metadata.namespace. */
const FIELDS: Record<string, Record<string, (o: Obj) => string | undefined>> = {
  pods: {
    'spec.nodeName': (o) => o.spec?.nodeName ?? '',
    'spec.restartPolicy': (o) => o.spec?.restartPolicy,
    'spec.schedulerName': (o) => o.spec?.schedulerName,
    'spec.serviceAccountName': (o) => o.spec?.serviceAccountName,
    'spec.hostNetwork': (o) => String(Boolean(o.spec?.hostNetwork)),
    'status.phase': (o) => o.status?.phase,
    'status.podIP': (o) => o.status?.podIP ?? '',
    'status.nominatedNodeName': (o) => o.status?.nominatedNodeName ?? '',
  },
  namespaces: { 'status.phase': (o) => o.status?.phase },
  nodes: { 'spec.unschedulable': (o) => String(Boolean(o.spec?.unschedulable)) },
  replicasets: { 'status.replicas': (o) => String(o.status?.replicas ?? 0) },
};

export function fieldSelector(resource: string, s: string | null): Predicate {
  if (!s) return () => true;
  const reqs = terms(s).map((t) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(t);
    if (!m) throw badRequest(`invalid selector: '${s}'; can't understand '${t}'`);
    const field = m[1]!.trim();
    const get = field === 'metadata.name' ? (o: Obj) => o.metadata?.name : field === 'metadata.namespace' ? (o: Obj) => o.metadata?.namespace ?? '' : FIELDS[resource]?.[field];
    if (!get) throw badRequest(`field label not supported: ${field}`);
    return { get, negate: m[2] === '!=', value: m[3]!.trim() };
  });
  return (obj) => reqs.every((r) => (r.get(obj) === r.value) !== r.negate);
}
