// Parses the TARGET argument into a value describing what to inspect. Pure.
import { usageError } from '../core/errors.js';

export type WorkloadResource = 'deployments' | 'statefulsets' | 'daemonsets' | 'replicasets';

export type Target = { kind: 'pid'; pid: number } | { kind: 'pod'; name: string } | { kind: 'workload'; resource: WorkloadResource; name: string } | { kind: 'selector'; selector: string };

/** The resource a TARGET's kind stands for (kubectl's short and long names). */
export const TARGET_KINDS: Record<string, 'pods' | WorkloadResource> = {
  po: 'pods',
  pod: 'pods',
  pods: 'pods',
  deploy: 'deployments',
  deployment: 'deployments',
  deployments: 'deployments',
  sts: 'statefulsets',
  statefulset: 'statefulsets',
  statefulsets: 'statefulsets',
  ds: 'daemonsets',
  daemonset: 'daemonsets',
  daemonsets: 'daemonsets',
  rs: 'replicasets',
  replicaset: 'replicasets',
  replicasets: 'replicasets',
};

/** A Kubernetes object name (RFC 1123 subdomain). */
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const HELP = 'use pid/<PID> for a process on this machine, or POD, pod/NAME, deploy/NAME, sts/NAME, ds/NAME or -l SELECTOR';

export function parseTarget(text: string): Target {
  const t = text.trim();
  const m = /^pid\/(\d+)$/.exec(t);
  if (m) {
    const pid = Number(m[1]);
    if (pid > 0 && pid < 2 ** 31) return { kind: 'pid', pid };
  }
  if (/^\d+$/.test(t)) {
    throw usageError(`target ${JSON.stringify(text)} is ambiguous`, `write pid/${t} for a local process, or pod/${t} for a pod`);
  }
  const slash = t.indexOf('/');
  if (slash < 0) {
    if (NAME.test(t) && t.length <= 253) return { kind: 'pod', name: t };
  } else {
    const kind =
      TARGET_KINDS[
        t
          .slice(0, slash)
          .toLowerCase()
          .replace(/\.apps$/, '')
      ];
    const name = t.slice(slash + 1);
    if (kind && NAME.test(name) && name.length <= 253) return kind === 'pods' ? { kind: 'pod', name } : { kind: 'workload', resource: kind, name };
  }
  throw usageError(`target ${JSON.stringify(text)} is not understood`, HELP);
}

const SHORT: Record<WorkloadResource, string> = { deployments: 'deploy', statefulsets: 'sts', daemonsets: 'ds', replicasets: 'rs' };

/** How the target is written back to the user: pid/42, pod/web-1, deploy/web, -l app=web. */
export function describeTarget(t: Target): string {
  switch (t.kind) {
    case 'pid':
      return `pid/${t.pid}`;
    case 'pod':
      return `pod/${t.name}`;
    case 'workload':
      return `${SHORT[t.resource]}/${t.name}`;
    case 'selector':
      return `-l ${t.selector}`;
  }
}

/** A file-name-safe label for the output directory. */
export function targetLabel(t: Target): string {
  if (t.kind === 'pid') return `pid-${t.pid}`;
  return describeTarget(t)
    .replace(/^-l /, 'l-')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 80);
}
