// The command-line flags of Kubernetes runs (kubectl's connection flags, target selection, the
// agent pod), their Validate rules, and their translation into typed settings. Pure.
import type { Argv } from 'yargs';
import { parseDuration } from '../core/duration.js';
import { usageError } from '../core/errors.js';
import type { Target } from '../target/target.js';
import type { KubeFlags } from '../kube/kubeconfig.js';

export interface KubeCliFlags {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
  as?: string;
  'as-group'?: string[];
  token?: string;
  server?: string;
  'insecure-skip-tls-verify'?: boolean;
  'request-timeout'?: string;
  selector?: string;
  container?: string;
  'all-pods': boolean;
  pid?: number;
  'all-processes': boolean;
  image?: string;
  'agent-namespace'?: string;
  'image-pull-secret'?: string;
  'start-timeout': string;
  'dry-run': boolean;
  cleanup: boolean;
}

export function addKubeOptions<T>(y: Argv<T>) {
  const conn = 'Kubernetes connection (as kubectl):';
  const pick = 'Kubernetes target:';
  const agent = 'Agent pod:';
  return y
    .option('namespace', { alias: 'n', type: 'string', group: conn, describe: 'namespace of the target (default: the context\'s, else default)' })
    .option('kubeconfig', { type: 'string', group: conn, describe: 'kubeconfig file (default: $KUBECONFIG, merged as kubectl does, else ~/.kube/config)' })
    .option('context', { type: 'string', group: conn, describe: 'kubeconfig context to use' })
    .option('cluster', { type: 'string', group: conn, describe: 'kubeconfig cluster to use' })
    .option('user', { type: 'string', group: conn, describe: 'kubeconfig user to use' })
    .option('as', { type: 'string', group: conn, describe: 'user to impersonate' })
    .option('as-group', { type: 'string', array: true, group: conn, describe: 'group to impersonate (repeatable)' })
    .option('token', { type: 'string', group: conn, describe: 'bearer token for the API server' })
    .option('server', { alias: 's', type: 'string', group: conn, describe: 'address of the API server' })
    .option('insecure-skip-tls-verify', { type: 'boolean', group: conn, describe: 'do not check the API server\'s certificate' })
    .option('request-timeout', { type: 'string', group: conn, describe: 'bound of each API request (0: none; default 60s)' })
    .option('selector', { alias: 'l', type: 'string', group: pick, describe: 'target the pods with these labels (app=web)' })
    .option('container', { alias: 'c', type: 'string', group: pick, describe: 'container (default: the default-container annotation, else the only one)' })
    .option('all-pods', { type: 'boolean', default: false, group: pick, describe: 'every pod of the workload or selector, in parallel, compared side by side' })
    .option('pid', { type: 'number', group: pick, describe: 'the process with this PID inside the container (default: the largest Python process)' })
    .option('all-processes', { type: 'boolean', default: false, group: pick, describe: 'every Python process of the container (gunicorn, celery workers)' })
    .option('image', { type: 'string', group: agent, describe: 'agent image; needs sh, gdb, tar, awk (default ghcr.io/kubectl-pyheap/agent:<version>)' })
    .option('agent-namespace', { type: 'string', group: agent, describe: 'namespace of the agent pod (default: the target\'s); it must allow privileged pods' })
    .option('image-pull-secret', { type: 'string', group: agent, describe: 'pull secret for the agent image (in the agent namespace)' })
    .option('start-timeout', { type: 'string', default: '2m', group: agent, describe: 'how long the agent pod may take to start (image pull included)' })
    .option('dry-run', { type: 'boolean', default: false, group: agent, describe: 'print the agent pod manifest and do nothing' })
    .option('cleanup', { type: 'boolean', default: false, group: agent, describe: 'delete agent pods left by killed runs (every namespace you may list)' });
}

/** Validate: one sentence per rule, naming the flags. */
export function validateKubeFlags(f: KubeCliFlags, target: Target | undefined): void {
  const local = target?.kind === 'pid';
  if (f.cleanup && target) throw usageError('--cleanup takes no TARGET', 'run kubectl pyheap --cleanup alone');
  if (f.pid !== undefined && (!Number.isInteger(f.pid) || f.pid < 1)) throw usageError('--pid must be a positive whole number (a PID inside the container)');
  if (f.pid !== undefined && f['all-processes']) throw usageError('--pid and --all-processes cannot be used together', 'pick one');
  if (f['all-pods'] && target && target.kind !== 'workload' && target.kind !== 'selector') {
    throw usageError('--all-pods needs a workload or a selector', 'write deploy/NAME, sts/NAME, ds/NAME or -l SELECTOR');
  }
  if (local) {
    for (const k of ['container', 'pid'] as const) if (f[k] !== undefined) throw usageError(`--${k} applies to pods, not to pid/N`, 'drop it');
    for (const k of ['all-pods', 'all-processes', 'dry-run'] as const) if (f[k]) throw usageError(`--${k} applies to pods, not to pid/N`, 'drop it');
  }
}

export function kubeFlags(f: KubeCliFlags): KubeFlags {
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
