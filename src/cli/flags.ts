// Every flag of kubectl pyheap, once, as data: the CLI's yargs parser (addFlags), the shell
// completion (cli/complete.ts) and the typed configuration (Flags, and kubeFlags() for the
// Kubernetes connection) all come from these tables. Pure.
import type { Argv, Options } from 'yargs';
import { parseDuration } from '../core/duration.js';
import type { KubeFlags } from '../kube/kubeconfig.js';

/** What the value of a flag is, for the completion (what to offer after it). */
export type ValueKind = 'namespace' | 'context' | 'cluster' | 'user' | 'container' | 'selector' | 'output' | 'python-file' | 'file' | 'dir' | 'image' | 'none';

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  /** One-letter alias (-n). */
  alias?: string;
  /** Repeatable, and greedy like yargs (--as-group a b takes both words). */
  array?: true;
  default?: string | number | boolean;
  /** The heading it is listed under in --help. */
  group?: string;
  /** '' for none. */
  describe: string;
  /** What the completion offers as its value (default: nothing). */
  value?: ValueKind;
}

const conn = 'Kubernetes connection (as kubectl):';
const pick = 'Kubernetes target:';
const agent = 'Agent pod:';
const leak = 'Finding the leak:';

/** The flags of a run, whatever the target. */
export const RUN_FLAGS = {
  script: {
    type: 'string',
    value: 'python-file',
    describe:
      "run this Python file inside the target (files it writes to PYHEAP_OUT come back); it runs in a namespace of its own: reach the application's globals with import __main__ (or sys.modules[...])",
  },
  exec: { type: 'string', describe: "run this Python code inside the target, in a namespace of its own (import __main__ for the application's globals)" },
  output: { alias: 'o', type: 'string', default: 'table', value: 'output', describe: 'table or json' },
  top: { type: 'number', default: 25, describe: 'rows of the type table' },
  largest: { type: 'number', default: 20, describe: 'how many of the largest objects to report' },
  timeout: { type: 'string', default: '30s', describe: 'bound for the whole injection and payload (30s, 2m)' },
  'safepoint-wait': { type: 'string', default: '2s', describe: 'how long to wait for a busy target to reach a safe point' },
  'out-dir': { type: 'string', value: 'dir', describe: 'where to save results (default ./pyheap-<target>-<time>/)' },
  verbose: { alias: 'v', type: 'boolean', default: false, describe: 'show the gdb transcript and stack traces' },
  'allow-shared': { type: 'boolean', default: false, describe: 'count a forked worker (gunicorn, celery) even though that copies the heap pages it shares with its parent' },
  growth: { type: 'string', group: leak, describe: 'two censuses this far apart (30s, 2m): what grew, and what holds the top growers' },
  referrers: { type: 'string', array: true, group: leak, describe: 'shortest chains from a module global or a running frame to a few objects of TYPE (repeatable)' },
  samples: { type: 'number', default: 3, group: leak, describe: 'objects per type for --referrers' },
  stacks: { type: 'boolean', default: false, group: leak, describe: "every thread's Python stack" },
  trace: { type: 'string', group: leak, describe: 'tracemalloc for this long: the allocation sites that grew (only allocations after the start are seen)' },
  snapshot: { type: 'boolean', default: false, group: leak, describe: 'stream the object graph out and compute retained sizes (dominator tree); saved as snapshot.pyheap' },
} as const satisfies Record<string, FlagSpec>;

/** The flags of Kubernetes runs: kubectl's connection flags, target selection, the agent pod. */
export const KUBE_FLAGS = {
  namespace: { alias: 'n', type: 'string', group: conn, value: 'namespace', describe: "namespace of the target (default: the context's, else default)" },
  kubeconfig: { type: 'string', group: conn, value: 'file', describe: 'kubeconfig file (default: $KUBECONFIG, merged as kubectl does, else ~/.kube/config)' },
  context: { type: 'string', group: conn, value: 'context', describe: 'kubeconfig context to use' },
  cluster: { type: 'string', group: conn, value: 'cluster', describe: 'kubeconfig cluster to use' },
  user: { type: 'string', group: conn, value: 'user', describe: 'kubeconfig user to use' },
  as: { type: 'string', group: conn, describe: 'user to impersonate' },
  'as-group': { type: 'string', array: true, group: conn, describe: 'group to impersonate (repeatable)' },
  token: { type: 'string', group: conn, describe: 'bearer token for the API server' },
  server: { alias: 's', type: 'string', group: conn, describe: 'address of the API server' },
  'insecure-skip-tls-verify': { type: 'boolean', group: conn, describe: "do not check the API server's certificate" },
  'request-timeout': { type: 'string', group: conn, describe: 'bound of each API request (0: none; default 60s)' },
  selector: { alias: 'l', type: 'string', group: pick, value: 'selector', describe: 'target the pods with these labels (app=web)' },
  container: { alias: 'c', type: 'string', group: pick, value: 'container', describe: 'container (default: the default-container annotation, else the only one)' },
  'all-pods': { type: 'boolean', default: false, group: pick, describe: 'every pod of the workload or selector, in parallel, compared side by side' },
  pid: { type: 'number', group: pick, describe: 'the process with this PID inside the container (default: the largest Python process)' },
  'all-processes': { type: 'boolean', default: false, group: pick, describe: 'every Python process of the container (gunicorn, celery workers)' },
  image: { type: 'string', group: agent, value: 'image', describe: 'agent image; needs sh, gdb, tar, awk (default ghcr.io/kubectl-pyheap/agent:<version>)' },
  'agent-namespace': { type: 'string', group: agent, value: 'namespace', describe: "namespace of the agent pod (default: the target's); it must allow privileged pods" },
  'image-pull-secret': { type: 'string', group: agent, describe: 'pull secret for the agent image (in the agent namespace)' },
  'start-timeout': { type: 'string', default: '2m', group: agent, describe: 'how long the agent pod may take to start (image pull included)' },
  'dry-run': { type: 'boolean', default: false, group: agent, describe: 'print the agent pod manifest and do nothing' },
  cleanup: { type: 'boolean', default: false, group: agent, describe: 'delete agent pods left by killed runs (every namespace you may list)' },
} as const satisfies Record<string, FlagSpec>;

/** The flags of `kubectl pyheap analyze FILE`. */
export const ANALYZE_FLAGS = {
  output: { alias: 'o', type: 'string', default: 'table', value: 'output', describe: '' },
  top: { type: 'number', default: 25, describe: '' },
  html: { type: 'string', value: 'file', describe: 'also write the report page (one self-contained HTML file) to OUT' },
} as const satisfies Record<string, FlagSpec>;

/** --help, which yargs adds by itself. */
export const HELP_FLAG = { alias: 'h', type: 'boolean', describe: 'show help' } as const satisfies FlagSpec;

/** The value a flag has after parsing: what its spec says. */
type ValueOf<S> = S extends { array: true } ? string[] : S extends { type: 'number' } ? number : S extends { type: 'boolean' } ? boolean : string;
/** A table's flags as parsed: those with a default always there, the others when given. */
export type Parsed<T> = { -readonly [K in keyof T as T[K] extends { default: unknown } ? K : never]: ValueOf<T[K]> } & {
  -readonly [K in keyof T as T[K] extends { default: unknown } ? never : K]?: ValueOf<T[K]>;
};

/** The command line of a run, as parsed: TARGET and every flag. */
export type Flags = Parsed<typeof RUN_FLAGS> & Parsed<typeof KUBE_FLAGS> & { target?: string };
export type KubeCliFlags = Parsed<typeof KUBE_FLAGS>;
export type AnalyzeFlags = Parsed<typeof ANALYZE_FLAGS> & { _: (string | number)[] };

/** Adds a table's flags to a yargs parser, in the table's order. */
export function addFlags<T>(y: Argv<T>, table: Record<string, FlagSpec>): Argv<T> {
  let out = y;
  for (const [name, s] of Object.entries(table)) {
    const o: Options = { type: s.type };
    if (s.describe) o.describe = s.describe;
    if (s.alias !== undefined) o.alias = s.alias;
    if (s.array) o.array = true;
    if (s.default !== undefined) o.default = s.default;
    if (s.group !== undefined) o.group = s.group;
    out = out.option(name, o);
  }
  return out;
}

/** The connection flags as the typed settings of kube/kubeconfig.ts. */
export function kubeFlags(f: Partial<KubeCliFlags>): KubeFlags {
  return {
    ...(f.kubeconfig !== undefined ? { kubeconfig: f.kubeconfig } : {}),
    ...(f.context !== undefined ? { context: f.context } : {}),
    ...(f.cluster !== undefined ? { cluster: f.cluster } : {}),
    ...(f.user !== undefined ? { user: f.user } : {}),
    ...(f.namespace !== undefined ? { namespace: f.namespace } : {}),
    ...(f.as !== undefined ? { as: f.as } : {}),
    ...(f['as-group'] ? { asGroup: f['as-group'] } : {}),
    ...(f.token !== undefined ? { token: f.token } : {}),
    ...(f.server !== undefined ? { server: f.server } : {}),
    ...(f['insecure-skip-tls-verify'] ? { insecureSkipTlsVerify: true } : {}),
    ...(f['request-timeout'] !== undefined ? { requestTimeoutMs: parseDuration(f['request-timeout'], '--request-timeout') } : {}),
  };
}
