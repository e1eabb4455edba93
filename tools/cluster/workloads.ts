// The controller-manager's part: Deployments (through a ReplicaSet), StatefulSets and
// DaemonSets become pods with the names, labels and ownerReferences real controllers give
// them; deleted pods are replaced; workload status follows their pods.
import type { ResourceType } from './resources.js';
import { apiVersionOf, byResource } from './resources.js';
import type { Store } from './store.js';

type Obj = Record<string, any>;
const SAFE = 'bcdfghjklmnpqrstvwxz2456789';
const POD = byResource('', 'pods')!;
const RS = byResource('apps', 'replicasets')!;
const DEPLOY = byResource('apps', 'deployments')!;
const STS = byResource('apps', 'statefulsets')!;
const DS = byResource('apps', 'daemonsets')!;

/** FNV-32a of the template, encoded like apimachinery's SafeEncodeString ("5d59d67564"). */
export function templateHash(template: unknown): string {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(JSON.stringify(template))) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return [...String(h)].map((c) => SAFE[c.charCodeAt(0) % SAFE.length]).join('');
}

function ownerRef(rt: ResourceType, o: Obj): Obj {
  return { apiVersion: apiVersionOf(rt), kind: rt.kind, name: o.metadata.name, uid: o.metadata.uid, controller: true, blockOwnerDeletion: true };
}

const ownedBy = (uid: string) => (o: Obj) => (o.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === uid && r.controller);
const isReady = (p: Obj) => (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');

export interface Creator {
  create(rt: ResourceType, obj: Obj): Obj;
}

export class Controllers {
  stopping = false;

  constructor(
    private store: Store,
    private api: Creator,
    private nodes: () => string[],
  ) {}

  /** A workload was created: create what its controller would. */
  reconcile(rt: ResourceType, o: Obj): void {
    if (this.stopping) return;
    const ns = o.metadata.namespace;
    const template = o.spec.template ?? {};
    if (rt === DEPLOY) {
      const hash = templateHash(template);
      const name = `${o.metadata.name}-${hash}`;
      if (!this.store.get(RS, ns, name)) {
        const labels = { ...template.metadata?.labels, 'pod-template-hash': hash };
        this.api.create(RS, {
          metadata: { name, namespace: ns, labels, annotations: { 'deployment.kubernetes.io/revision': '1' }, ownerReferences: [ownerRef(rt, o)] },
          spec: {
            replicas: o.spec.replicas,
            selector: { matchLabels: { ...o.spec.selector.matchLabels, 'pod-template-hash': hash } },
            template: { ...template, metadata: { ...template.metadata, labels } },
          },
        });
      }
      return;
    }
    const pods = this.store.list(POD, ns, ownedBy(o.metadata.uid));
    const meta = (extra: Obj) => ({ ...template.metadata, namespace: ns, labels: { ...template.metadata?.labels, ...extra }, ownerReferences: [ownerRef(rt, o)] });
    if (rt === RS) {
      for (let i = pods.length; i < o.spec.replicas; i++) {
        this.api.create(POD, { metadata: { ...meta({}), generateName: `${o.metadata.name}-` }, spec: structuredClone(template.spec) });
      }
    } else if (rt === STS) {
      const revision = `${o.metadata.name}-${templateHash(template)}`;
      for (let i = 0; i < o.spec.replicas; i++) {
        const name = `${o.metadata.name}-${i}`;
        if (pods.some((p) => p.metadata.name === name)) continue;
        this.api.create(POD, {
          metadata: { ...meta({ 'controller-revision-hash': revision, 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(i) }), name },
          spec: { ...structuredClone(template.spec), hostname: name, ...(o.spec.serviceName ? { subdomain: o.spec.serviceName } : {}) },
        });
      }
    } else if (rt === DS) {
      for (const node of this.nodes()) {
        if (pods.some((p) => p.spec.nodeName === node || nodeOfAffinity(p) === node)) continue;
        const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] } } };
        this.api.create(POD, {
          metadata: { ...meta({ 'controller-revision-hash': templateHash(template), 'pod-template-generation': '1' }), generateName: `${o.metadata.name}-` },
          spec: { ...structuredClone(template.spec), affinity },
        });
      }
    }
  }

  /** A pod changed: refresh its owner's status; replace it if it is gone and still wanted. */
  podChanged(pod: Obj, deleted: boolean): void {
    if (this.stopping) return;
    const ref = (pod.metadata.ownerReferences ?? []).find((r: Obj) => r.controller);
    const rt = ref && { ReplicaSet: RS, StatefulSet: STS, DaemonSet: DS }[ref.kind as string];
    if (!rt) return;
    const owner = this.store.get(rt, pod.metadata.namespace, ref.name);
    if (!owner || owner.metadata.uid !== ref.uid) return;
    if (deleted) this.reconcile(rt, owner);
    this.refresh(rt, owner);
  }

  private refresh(rt: ResourceType, o: Obj): void {
    const ns = o.metadata.namespace;
    const pods = this.store.list(POD, ns, (p) => ownedBy(o.metadata.uid)(p) && !p.metadata.deletionTimestamp);
    const ready = pods.filter(isReady).length;
    const desired = rt === DS ? this.nodes().length : o.spec.replicas;
    this.store.mutate(rt, ns, o.metadata.name, (w) => {
      if (rt === RS) w.status = { replicas: pods.length, fullyLabeledReplicas: pods.length, readyReplicas: ready, availableReplicas: ready, observedGeneration: 1 };
      if (rt === STS) {
        const rev = `${o.metadata.name}-${templateHash(o.spec.template ?? {})}`;
        w.status = {
          observedGeneration: 1,
          replicas: pods.length,
          readyReplicas: ready,
          currentReplicas: pods.length,
          updatedReplicas: pods.length,
          availableReplicas: ready,
          currentRevision: rev,
          updateRevision: rev,
          collisionCount: 0,
        };
      }
      if (rt === DS)
        w.status = {
          currentNumberScheduled: pods.length,
          desiredNumberScheduled: desired,
          numberMisscheduled: 0,
          numberReady: ready,
          numberAvailable: ready,
          updatedNumberScheduled: pods.length,
          observedGeneration: 1,
        };
    });
    const dref = rt === RS && (o.metadata.ownerReferences ?? []).find((r: Obj) => r.kind === 'Deployment');
    if (!dref) return;
    this.store.mutate(DEPLOY, ns, dref.name, (d) => {
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const available = ready >= desired;
      const cond = (type: string, status: boolean, reason: string, message: string) => ({ type, status: status ? 'True' : 'False', lastUpdateTime: now, lastTransitionTime: now, reason, message });
      const prev: Obj[] = d.status?.conditions ?? [];
      const keep = (c: Obj) => {
        const p = prev.find((x) => x.type === c.type && x.status === c.status);
        return p ?? c;
      };
      d.status = {
        observedGeneration: 1,
        replicas: pods.length,
        updatedReplicas: pods.length,
        readyReplicas: ready,
        availableReplicas: ready,
        ...(desired - ready > 0 ? { unavailableReplicas: desired - ready } : {}),
        conditions: [
          keep(
            cond(
              'Available',
              available,
              available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
              available ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
            ),
          ),
          keep(cond('Progressing', true, 'NewReplicaSetAvailable', `ReplicaSet "${o.metadata.name}" has successfully progressed.`)),
        ],
      };
    });
  }
}

/** The node a DaemonSet pod's affinity pins it to. */
export function nodeOfAffinity(pod: Obj): string | undefined {
  const terms: Obj[] = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const t of terms) for (const f of t.matchFields ?? []) if (f.key === 'metadata.name' && f.operator === 'In') return f.values?.[0];
  return undefined;
}
