// The agent pod, built by a pure function: table-driven against whole expected objects; and
// what a pod's status means while waiting for it (pure too): run, wait and say why, or give up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGENT_MAIN, agentPodManifest, type AgentPodSpec } from '../../src/agentpod/manifest.js';
import { checkAgentPod } from '../../src/agentpod/wait.js';

type Obj = Record<string, any>;

const base: AgentPodSpec = {
  name: 'pyheap-agent-abc12345',
  namespace: 'shop',
  node: 'node-1',
  image: 'ghcr.io/kubectl-pyheap/agent:0.1.0',
  runId: 'abc12345',
  deadlineSeconds: 300,
  targets: ['shop/web-1'],
};

const expected = (o: { namespace?: string; node?: string; image?: string; deadline?: number; targets?: string; pullSecret?: string } = {}): Obj => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'pyheap-agent-abc12345',
    namespace: o.namespace ?? 'shop',
    labels: { 'app.kubernetes.io/managed-by': 'kubectl-pyheap', 'app.kubernetes.io/name': 'pyheap-agent', 'app.kubernetes.io/instance': 'abc12345' },
    annotations: { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled', 'kubectl-pyheap/targets': o.targets ?? 'shop/web-1' },
  },
  spec: {
    nodeName: o.node ?? 'node-1',
    hostPID: true,
    restartPolicy: 'Never',
    activeDeadlineSeconds: o.deadline ?? 300,
    terminationGracePeriodSeconds: 30,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    tolerations: [{ operator: 'Exists' }],
    ...(o.pullSecret ? { imagePullSecrets: [{ name: o.pullSecret }] } : {}),
    containers: [
      {
        name: 'agent',
        image: o.image ?? 'ghcr.io/kubectl-pyheap/agent:0.1.0',
        imagePullPolicy: 'IfNotPresent',
        // sleeps past the deadline; passes the kubelet's SIGTERM on to its agents
        command: ['sh', '-c', AGENT_MAIN, 'pyheap-agent', String((o.deadline ?? 300) + 30), 'abc12345'],
        securityContext: { privileged: true },
      },
    ],
  },
});

const cases: [string, AgentPodSpec, Obj][] = [
  ['defaults: pinned to the node, hostPID, privileged, every taint tolerated, no token, never restarted', base, expected()],
  [
    'another agent namespace, node and image (debug-toolkit)',
    { ...base, namespace: 'pyheap-agents', node: 'gke-pool-2-x', image: 'robustadev/debug-toolkit:v6.0' },
    expected({ namespace: 'pyheap-agents', node: 'gke-pool-2-x', image: 'robustadev/debug-toolkit:v6.0' }),
  ],
  ['an image pull secret', { ...base, imagePullSecret: 'regcred' }, expected({ pullSecret: 'regcred' })],
  ['several targets on one node, a longer deadline', { ...base, targets: ['shop/web-1', 'shop/web-2'], deadlineSeconds: 900 }, expected({ targets: 'shop/web-1,shop/web-2', deadline: 900 })],
];

describe('agent pod manifest', () => {
  for (const [name, spec, want] of cases) {
    it(name, () => assert.deepEqual(agentPodManifest(spec), want));
  }
  it('is pure: same input, same object, input untouched', () => {
    const spec = structuredClone(base);
    assert.deepEqual(agentPodManifest(spec), agentPodManifest(spec));
    assert.deepEqual(spec, base);
  });
});

const pod = (status: Obj, phase = 'Pending'): Obj => ({ metadata: { name: 'a' }, spec: { nodeName: 'n' }, status: { phase, ...status } });
const waiting = (reason: string, message?: string) => pod({ containerStatuses: [{ name: 'agent', state: { waiting: { reason, ...(message ? { message } : {}) } } }] });

describe('agent pod status while waiting', () => {
  const table: [string, Obj, string][] = [
    ['running', pod({ containerStatuses: [{ name: 'agent', state: { running: {} } }] }, 'Running'), 'running'],
    ['being created', waiting('ContainerCreating'), 'waiting ContainerCreating'],
    ['no status yet', pod({}), 'waiting Pending'],
    ['unschedulable: shown, waited for', pod({ conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] }), 'waiting Unschedulable'],
    ['a pull that may heal (network)', waiting('ErrImagePull', 'dial tcp: i/o timeout'), 'waiting ErrImagePull'],
    ['an image that does not exist', waiting('ErrImagePull', 'failed to resolve reference "x": not found'), 'failed'],
    ['a registry that refuses the credentials', waiting('ErrImagePull', 'pull access denied, repository does not exist or may require authorization'), 'failed'],
    ['back-off after failed pulls', waiting('ImagePullBackOff', 'Back-off pulling image "x"'), 'failed'],
    ['an invalid image name', waiting('InvalidImageName'), 'failed'],
    ['kubelet admission refused it', pod({ reason: 'OutOfmemory', message: "Node didn't have enough resource: memory" }, 'Failed'), 'failed'],
    ['the deadline passed', pod({ reason: 'DeadlineExceeded' }, 'Failed'), 'failed'],
    ['the container exited', pod({ containerStatuses: [{ name: 'agent', state: { terminated: { exitCode: 127, reason: 'Error' } } }] }, 'Running'), 'failed'],
  ];
  for (const [name, p, want] of table) {
    it(name, () => {
      const c = checkAgentPod(p, 'agent', 'img:1');
      assert.equal(c.state === 'waiting' ? `waiting ${c.waiting.reason}` : c.state, want);
      if (c.state === 'failed') assert.equal(c.error.exitCode, 9);
    });
  }
  it('a failed pull names the image and the fix', () => {
    const c = checkAgentPod(waiting('ImagePullBackOff', 'Back-off pulling image "img:1"'), 'agent', 'img:1');
    assert.ok(c.state === 'failed');
    assert.match(c.error.message, /cannot start: ImagePullBackOff/);
    assert.match(c.error.hint!, /--image img:1.*--image-pull-secret/);
  });
});
