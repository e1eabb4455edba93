// The agent pod: built by a pure function (pinned to the target's node, hostPID, privileged,
// tolerating every taint, no service-account token, never restarted, a deadline as dead-man
// switch, no sidecar injection, labels to find leftovers), sent by one small function after a
// server-side dry run, and deleted with grace 0.
import { readFileSync } from 'node:fs';
import { EXIT } from '../errors.js';
import type { Api } from './api.js';
import { apiError } from './apiErrors.js';

type Obj = Record<string, any>;

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGER = 'kubectl-pyheap';
export const RUN_LABEL = 'app.kubernetes.io/instance';
export const AGENT_SELECTOR = `${MANAGED_BY}=${MANAGER}`;
export const AGENT_CONTAINER = 'agent';

/** Our own agent image, tagged with this package's version. */
export function defaultAgentImage(): string {
  let version = 'latest';
  try {
    version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch { /* a bundled binary without package.json */ }
  return `ghcr.io/kubectl-pyheap/agent:${version}`;
}

export interface AgentPodSpec {
  name: string;
  namespace: string;
  node: string;
  image: string;
  runId: string;
  /** Seconds the pod may live at most (activeDeadlineSeconds). */
  deadlineSeconds: number;
  /** "namespace/pod" of each target, for people reading `kubectl get pod -o yaml`. */
  targets: string[];
  imagePullSecret?: string;
}

/** The agent pod manifest. Pure: the same input always gives the same object. */
export function agentPodManifest(s: AgentPodSpec): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: s.name,
      namespace: s.namespace,
      labels: {
        [MANAGED_BY]: MANAGER,
        'app.kubernetes.io/name': 'pyheap-agent',
        [RUN_LABEL]: s.runId,
      },
      annotations: {
        'sidecar.istio.io/inject': 'false',
        'linkerd.io/inject': 'disabled',
        'kubectl-pyheap/targets': s.targets.join(','),
      },
    },
    spec: {
      nodeName: s.node,
      hostPID: true,
      restartPolicy: 'Never',
      activeDeadlineSeconds: s.deadlineSeconds,
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      tolerations: [{ operator: 'Exists' }],
      ...(s.imagePullSecret ? { imagePullSecrets: [{ name: s.imagePullSecret }] } : {}),
      containers: [{
        name: AGENT_CONTAINER,
        image: s.image,
        imagePullPolicy: 'IfNotPresent',
        // sleeps until deleted; exec sessions do the work. A plain number: busybox has no "infinity"
        command: ['sleep', String(s.deadlineSeconds)],
        securityContext: { privileged: true },
      }],
    },
  };
}

/** A server-side dry run (admission, Pod Security, RBAC, quota), then the real create. */
export async function createAgentPod(api: Api, manifest: Obj, onCreating: () => void): Promise<Obj> {
  const ns = manifest.metadata.namespace as string;
  const path = `/api/v1/namespaces/${ns}/pods`;
  try {
    await api.request('POST', path, { query: { dryRun: 'All' }, body: manifest });
  } catch (e) {
    throw apiError(e, 'agent', `create the agent pod in namespace ${ns}`);
  }
  onCreating(); // the deletion is registered before the create is sent: an interrupt may come in between
  try {
    return await api.request('POST', path, { body: manifest });
  } catch (e) {
    throw apiError(e, 'agent', `create the agent pod in namespace ${ns}`);
  }
}

/** Deletes a pod at once; a pod that is already gone is fine. */
export async function deletePod(api: Api, namespace: string, name: string): Promise<boolean> {
  try {
    await api.request('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`, {
      query: { gracePeriodSeconds: '0' },
      body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, propagationPolicy: 'Background' },
    });
    return true;
  } catch (e) {
    const err = apiError(e, 'cleanup', `delete pod ${name} in namespace ${namespace}`);
    if (err.exitCode === EXIT.notFound) return false;
    throw err;
  }
}
