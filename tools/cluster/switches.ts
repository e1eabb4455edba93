// Fault switches for tests: each makes the emulated cluster misbehave the way a real one does
// (a pull that fails, a pod that is never scheduled, an exec cut mid-stream, RBAC refusing a
// verb). Set at start (flags, a JSON file) or at run time (POST /__emulator/switches).
import type { Access } from './rbac.js';
import { ApiError, badRequest, qualified } from './status.js';

export interface Switches {
  /** Images whose pull fails: exact references, or prefixes ending in "*". */
  imagePullFailure: string[];
  /** Pods created from now on are never scheduled (Pending, PodScheduled=False, Unschedulable). */
  unschedulable: boolean;
  /** Pods created from now on stay Pending in ContainerCreating this long before starting. */
  slowStartSeconds: number;
  /** Exec sessions are cut (socket destroyed, no status frame) after this many stdout bytes. */
  execDropAfterBytes: number | null;
  /** Requests refused by "RBAC": "VERB RESOURCE[/SUB]" or "VERB RESOURCE in NAMESPACE",
   * e.g. "create pods/exec", "list pods", "delete pods in team-a", "get deployments". */
  forbidden: string[];
  /** How long an agent pod (hostPID with a nodeName) takes to become Running. */
  agentStartDelayMs: number;
  /** Longest grace period honoured on delete (SIGTERM first, SIGKILL after it); never under 2. */
  maxGraceSeconds: number;
  /** Deletions and evictions SIGKILL at once, with no SIGTERM (an older kubelet's hard
   * eviction, the OOM killer): what no agent can clean up after. */
  hardKill: boolean;
  /** Exec sessions send at most this many stdout bytes per second (a slow link). */
  execBytesPerSecond: number | null;
  /** When an exec session's stderr shows `text`: "drop" cuts it as execDropAfterBytes does;
   * "evict" evicts its pod (processes killed, phase Failed, reason Evicted). */
  execStderrFault: { text: string; action: 'drop' | 'evict' } | null;
  /** Agent containers get this host directory as their /tmp (bind-mounted), so that a test can
   * check what an agent left there after its pod is gone (null: a /tmp of their own). */
  agentTmpDir: string | null;
  /** A validating admission webhook that denies every hostPID pod with this message, on real
   * creates only (its dry-run answer was yes, or a quota ran out in between). */
  webhookDenies: string | null;
}

export const DEFAULT_SWITCHES: Switches = {
  imagePullFailure: [],
  unschedulable: false,
  slowStartSeconds: 0,
  execDropAfterBytes: null,
  forbidden: [],
  agentStartDelayMs: 300,
  maxGraceSeconds: 2,
  hardKill: false,
  execBytesPerSecond: null,
  execStderrFault: null,
  agentTmpDir: null,
  webhookDenies: null,
};

const KINDS: Record<keyof Switches, 'strings' | 'boolean' | 'number' | 'number|null' | 'path|null' | 'text|null' | 'fault|null'> = {
  imagePullFailure: 'strings',
  unschedulable: 'boolean',
  slowStartSeconds: 'number',
  execDropAfterBytes: 'number|null',
  forbidden: 'strings',
  agentStartDelayMs: 'number',
  maxGraceSeconds: 'number',
  hardKill: 'boolean',
  execBytesPerSecond: 'number|null',
  execStderrFault: 'fault|null',
  agentTmpDir: 'path|null',
  webhookDenies: 'text|null',
};

function isFault(v: unknown): boolean {
  const f = v as { text?: unknown; action?: unknown };
  return typeof v === 'object' && v !== null && typeof f.text === 'string' && f.text !== '' && (f.action === 'drop' || f.action === 'evict') && Object.keys(v).length === 2;
}

/** Checks a partial update (from JSON): unknown names and wrong types are refused. */
export function validateSwitches(u: unknown): Partial<Switches> {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) throw badRequest('switches must be a JSON object');
  for (const [k, v] of Object.entries(u)) {
    const kind = KINDS[k as keyof Switches];
    if (!kind) throw badRequest(`unknown switch "${k}"; known: ${Object.keys(KINDS).join(', ')}`);
    const ok =
      kind === 'strings'
        ? Array.isArray(v) && v.every((s) => typeof s === 'string')
        : kind === 'boolean'
          ? typeof v === 'boolean'
          : kind === 'number'
            ? typeof v === 'number' && v >= 0
            : kind === 'path|null'
              ? v === null || (typeof v === 'string' && v.startsWith('/'))
              : kind === 'text|null'
                ? v === null || (typeof v === 'string' && v !== '')
                : kind === 'fault|null'
                  ? v === null || isFault(v)
                  : v === null || (typeof v === 'number' && v >= 0);
    if (!ok)
      throw badRequest(
        `switch "${k}" must be ${kind === 'fault|null' ? '{"text": "...", "action": "drop" | "evict"} or null' : kind === 'path|null' ? 'an absolute path or null' : kind === 'text|null' ? 'a text or null' : kind}`,
      );
    if (k === 'forbidden') (v as string[]).forEach(parseRule);
  }
  return u as Partial<Switches>;
}

export function imageMatches(patterns: string[], image: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? image.startsWith(p.slice(0, -1)) : p === image));
}

interface Rule {
  verb: string;
  resource: string;
  sub: string;
  namespace?: string;
}

function parseRule(s: string): Rule {
  const m = /^\s*(\w+)\s+([\w.-]+?)(?:\.apps)?(?:\/(\w+))?(?:\s+in\s+([\w.-]+))?\s*$/.exec(s);
  if (!m) throw badRequest(`forbidden rule "${s}" is not "VERB RESOURCE[/SUBRESOURCE] [in NAMESPACE]"`);
  return { verb: m[1]!, resource: m[2]!, sub: m[3] ?? '', ...(m[4] ? { namespace: m[4] } : {}) };
}

/** The 403 a real RBAC authorizer would give for this access, if a rule refuses it. */
export function denied(s: Switches, user: string, a: Access): ApiError | undefined {
  const hit = s.forbidden.map(parseRule).find((r) => r.verb === a.verb && r.resource === a.resource && r.sub === (a.sub ?? '') && (!r.namespace || r.namespace === a.namespace));
  if (!hit) return undefined;
  const full = a.sub ? `${a.resource}/${a.sub}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return new ApiError(403, 'Forbidden', `${qualified(a.resource, a.group, a.name)} is forbidden: User "${user}" cannot ${a.verb} resource "${full}" in API group "${a.group}" ${scope}`, {
    ...(a.name ? { name: a.name } : {}),
    ...(a.group ? { group: a.group } : {}),
    kind: a.resource,
  });
}
