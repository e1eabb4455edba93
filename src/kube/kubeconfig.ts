// Loads the kubeconfig the way kubectl does (--kubeconfig, else every file of KUBECONFIG merged
// with kubectl's rules, else ~/.kube/config, else in-cluster) and applies kubectl's override
// flags (--context, --cluster, --user, -n, --as, --as-group, --token, --server,
// --insecure-skip-tls-verify). Parsing, paths and auth plugins are client-node's KubeConfig.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Cluster, Context, KubeConfig, User } from '@kubernetes/client-node';
import { EXIT, PyheapError, usageError } from '../core/errors.js';

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
  as?: string;
  asGroup?: string[];
  token?: string;
  server?: string;
  insecureSkipTlsVerify?: boolean;
  requestTimeoutMs?: number;
}

export interface KubeSettings {
  /** A KubeConfig holding exactly the chosen cluster, user and context. */
  kc: KubeConfig;
  server: string;
  context: string;
  /** -n, else the context's namespace, else "default". */
  namespace: string;
  /** Headers added to every request (impersonation groups; client-node only knows the user). */
  headers: Record<string, string | string[]>;
  /** Bound of each API request; 0: none (kubectl's --request-timeout=0). */
  requestTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

/** Without --request-timeout every request is still bounded (kubectl waits for ever). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

// a kubeconfig that cannot be read or lacks what the flags name is bad input, like a bad flag
const configError = (message: string, hint: string) => new PyheapError('connect', message, { hint, exitCode: EXIT.usage });

/** The kubeconfig files to read, in kubectl's order of precedence. */
export function kubeconfigFiles(flags: KubeFlags, env: Env): string[] {
  if (flags.kubeconfig !== undefined) {
    if (!existsSync(flags.kubeconfig)) throw usageError(`--kubeconfig ${flags.kubeconfig} does not exist`, 'give the path of a kubeconfig file');
    return [flags.kubeconfig];
  }
  if (env.KUBECONFIG) return env.KUBECONFIG.split(path.delimiter).filter((f) => f !== '' && existsSync(f));
  const home = env.HOME ?? os.homedir();
  const def = path.join(home, '.kube', 'config');
  return existsSync(def) ? [def] : [];
}

/** kubectl's merge: the first file to define a name (cluster, user, context) wins, and so does
 * the first file that sets current-context. client-node's own merge throws on duplicates. */
export function mergeKubeconfigs(parts: KubeConfig[], make: () => KubeConfig): KubeConfig {
  const pick = <T extends { name: string }>(lists: T[][]) => {
    const seen = new Map<string, T>();
    for (const list of lists) for (const item of list) if (!seen.has(item.name)) seen.set(item.name, item);
    return [...seen.values()];
  };
  const merged = make();
  merged.loadFromOptions({
    clusters: pick(parts.map((p) => p.getClusters())),
    users: pick(parts.map((p) => p.getUsers())),
    contexts: pick(parts.map((p) => p.getContexts())),
    currentContext: parts.map((p) => p.getCurrentContext()).find((c) => c) ?? '',
  });
  return merged;
}

/** A relative exec plugin command with a slash is relative to its kubeconfig file, as in kubectl. */
function absoluteExec(kc: KubeConfig, dir: string): void {
  kc.users = kc.getUsers().map((u) => {
    const cmd = u.exec?.command;
    if (typeof cmd !== 'string' || !cmd.includes('/') || path.isAbsolute(cmd)) return u;
    return { ...u, exec: { ...u.exec, command: path.join(dir, cmd) } };
  });
}

export async function loadKubeSettings(flags: KubeFlags, env: Env = process.env): Promise<KubeSettings> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const files = kubeconfigFiles(flags, env);
  const parts = files.map((f) => {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(f);
    } catch (e) {
      throw configError(`cannot load kubeconfig ${f}: ${(e as Error).message.split('\n')[0]}`, 'fix the file, or point --kubeconfig elsewhere');
    }
    absoluteExec(kc, path.dirname(path.resolve(f)));
    return kc;
  });
  let base = mergeKubeconfigs(parts, () => new KubeConfig());
  if (files.length === 0 && flags.server === undefined && env.KUBERNETES_SERVICE_HOST && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) {
    base = new KubeConfig();
    base.loadFromCluster(); // its context carries the service account's namespace
  }
  return applyOverrides(base, flags, files, () => new KubeConfig());
}

/** Chooses context, cluster and user and applies the override flags. Pure but for KubeConfig. */
export function applyOverrides(base: KubeConfig, flags: KubeFlags, files: string[], make: () => KubeConfig): KubeSettings {
  const where = files.length ? files.join(path.delimiter) : 'no kubeconfig file';
  const contextName = flags.context ?? base.getCurrentContext() ?? '';
  const context: Context | null = contextName ? base.getContextObject(contextName) : null;
  if (flags.context !== undefined && !context) {
    const known = base.getContexts().map((c) => c.name);
    throw configError(`context "${flags.context}" is not in ${where}`, known.length ? `pick one of: ${known.join(', ')}` : 'check --kubeconfig and KUBECONFIG');
  }
  if (!context && contextName && flags.server === undefined && flags.cluster === undefined) {
    throw configError(`current-context "${contextName}" is not defined in ${where}`, 'pick a context with --context');
  }
  const clusterName = flags.cluster ?? context?.cluster;
  let cluster: Cluster | null = clusterName ? base.getCluster(clusterName) : null;
  if (flags.cluster !== undefined && !cluster)
    throw configError(
      `cluster "${flags.cluster}" is not in ${where}`,
      `pick one of: ${
        base
          .getClusters()
          .map((c) => c.name)
          .join(', ') || '(none)'
      }`,
    );
  if (!cluster && flags.server === undefined) {
    throw configError(
      files.length ? `no cluster is selected in ${where}` : 'no kubeconfig found (KUBECONFIG, ~/.kube/config) and no --server given',
      'point --kubeconfig or KUBECONFIG at a kubeconfig, or pick a context with --context',
    );
  }
  if (flags.server !== undefined) cluster = { ...(cluster ?? { name: 'pyheap-server', skipTLSVerify: false }), server: flags.server.replace(/\/$/, '') };
  if (flags.insecureSkipTlsVerify) {
    // kubectl drops the CA when told not to verify: both together are an error in client-go
    const { caData: _d, caFile: _f, ...rest } = cluster!;
    cluster = { ...rest, skipTLSVerify: true };
  }
  const userName = flags.user ?? context?.user;
  let user: User | null = userName ? base.getUser(userName) : null;
  if (flags.user !== undefined && !user)
    throw configError(
      `user "${flags.user}" is not in ${where}`,
      `pick one of: ${
        base
          .getUsers()
          .map((u) => u.name)
          .join(', ') || '(none)'
      }`,
    );
  user ??= { name: 'pyheap-anonymous' };
  if (flags.token !== undefined) {
    // a token given on the command line wins over the kubeconfig's other ways to authenticate
    user = {
      name: user.name,
      token: flags.token,
      ...(user.certData ? { certData: user.certData } : {}),
      ...(user.certFile ? { certFile: user.certFile } : {}),
      ...(user.keyData ? { keyData: user.keyData } : {}),
      ...(user.keyFile ? { keyFile: user.keyFile } : {}),
      ...(user.impersonateUser ? { impersonateUser: user.impersonateUser } : {}),
    };
  }
  if (flags.as !== undefined) user = { ...user, impersonateUser: flags.as };
  const groups = flags.asGroup ?? [];
  if (groups.length && !user.impersonateUser) throw usageError('--as-group needs --as', 'add --as USER');
  const namespace = flags.namespace ?? context?.namespace ?? 'default';
  const chosen: Context = { name: context?.name ?? 'pyheap', cluster: cluster!.name, user: user.name, namespace };
  const kc = make();
  kc.loadFromOptions({ clusters: [cluster], users: [user], contexts: [chosen], currentContext: chosen.name });
  return {
    kc,
    server: cluster!.server,
    context: chosen.name,
    namespace,
    headers: groups.length ? { 'Impersonate-Group': groups } : {},
    requestTimeoutMs: flags.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  };
}
