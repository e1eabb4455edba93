// The agent pod's manifest, built by a pure function: pinned to the target's node, hostPID,
// privileged, tolerating every taint, no service-account token, never restarted, a deadline as
// dead-man switch, no sidecar injection, labels to find leftovers. Sent by agentpod/lifecycle.ts.
import { readFileSync } from 'node:fs';

type Obj = Record<string, any>;

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGER = 'kubectl-pyheap';
export const RUN_LABEL = 'app.kubernetes.io/instance';
export const AGENT_SELECTOR = `${MANAGED_BY}=${MANAGER}`;
export const AGENT_CONTAINER = 'agent';

/** Set by the release bundle (scripts/release/sea.ts): the standalone executable has no package.json. */
declare const __PYHEAP_VERSION__: string | undefined;

/** Our own agent image, tagged with this package's version. */
export function defaultAgentImage(): string {
  return `ghcr.io/kubectl-pyheap/agent:${typeof __PYHEAP_VERSION__ === 'string' ? __PYHEAP_VERSION__ : packageVersion()}`;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'latest'; // no package.json next to the code
  }
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

/** Seconds an agent has to clean up when its pod is deleted, evicted or past its deadline. */
export const AGENT_GRACE_SECONDS = 30;

/**
 * The agent container's own process. It sleeps (past the deadline: activeDeadlineSeconds ends
 * the pod, the graceful way), while exec sessions do the work. When the pod goes (deleted by
 * anyone, evicted, past its deadline) the kubelet sends SIGTERM to this process only, and
 * SIGKILL to everything else in the container when it exits or the grace period ends. A gdb
 * killed while it waits for a safe point would leave its breakpoint in the target, which the
 * target's next allocation would turn into a SIGTRAP: so this passes the SIGTERM on to every
 * session of its own (each bundle directory holds its session's PID), which stops its agent the
 * gentle way, and exits when they have ended. A plain number for sleep: busybox has no
 * "infinity".
 */
export const AGENT_MAIN = [
  // $1: how long to sleep; $2: the run id, in the name of its sessions' bundle directories
  't=${TMPDIR:-/tmp} run=$2 me=$(cat /proc/$$/cgroup)',
  '# the sessions of this container (this run, this cgroup): another agent pod on the node may share the run id, a PID may be reused',
  'ours() { for f in "$t"/pyheap-agent.bundle-"$run".*/session.pid; do [ -f "$f" ] && p=$(cat "$f") && [ "$(cat "/proc/$p/cgroup" 2>/dev/null)" = "$me" ] && echo "$p"; done; }',
  'stop() {',
  '  for p in $(ours); do kill -TERM "$p" 2>/dev/null; done',
  '  i=0; while [ -n "$(ours)" ] && [ "$i" -lt 300 ]; do sleep 0.1 2>/dev/null || sleep 1; i=$((i + 1)); done',
  '  exit 0',
  '}',
  'trap stop TERM INT',
  'sleep "$1" & wait $!',
].join('\n');

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
      terminationGracePeriodSeconds: AGENT_GRACE_SECONDS,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      tolerations: [{ operator: 'Exists' }],
      ...(s.imagePullSecret ? { imagePullSecrets: [{ name: s.imagePullSecret }] } : {}),
      containers: [
        {
          name: AGENT_CONTAINER,
          image: s.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', AGENT_MAIN, 'pyheap-agent', String(s.deadlineSeconds + AGENT_GRACE_SECONDS), s.runId],
          securityContext: { privileged: true },
        },
      ],
    },
  };
}
