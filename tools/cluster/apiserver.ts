// The apiserver's write path: create (defaulting, validation, namespace check, Pod Security
// Admission, then the store, then controllers and the kubelet) and delete, both honouring
// server-side dry-run (everything checked, nothing persisted).
import { admit, podSecurity } from './admission.js';
import { Kubelet } from './kubelet.js';
import type { ResourceType } from './resources.js';
import { byResource } from './resources.js';
import { ApiError } from './status.js';
import type { Store } from './store.js';
import type { Controllers } from './workloads.js';

type Obj = Record<string, any>;
const NS = byResource('', 'namespaces')!;
const POD = byResource('', 'pods')!;

export class ApiServer {
  controllers!: Controllers;

  constructor(
    readonly store: Store,
    readonly kubelet: Kubelet,
  ) {
    // controllers follow pods the way a controller-manager does: through a watch, and later
    // (reacting inside the store's fan-out would hand other watchers events out of order)
    store.watch(
      {
        rt: POD,
        match: () => true,
        send: (type, pod) => {
          if (type !== 'ERROR') setImmediate(() => this.controllers.podChanged(pod, type === 'DELETED'));
        },
      },
      store.resourceVersion(),
    );
  }

  create(rt: ResourceType, input: Obj, opts: { namespace?: string; dryRun?: boolean } = {}): Obj {
    if (input.kind && input.kind !== rt.kind)
      throw new ApiError(400, 'BadRequest', `the API version in the data (${input.apiVersion}) does not match the expected API version (${rt.group ? `${rt.group}/` : ''}${rt.version})`);
    const obj = structuredClone(input);
    obj.metadata ??= {};
    const ns = rt.namespaced ? (opts.namespace ?? obj.metadata.namespace ?? 'default') : undefined;
    if (rt.namespaced && obj.metadata.namespace && opts.namespace && obj.metadata.namespace !== opts.namespace) {
      throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (ns) obj.metadata.namespace = ns;
    const admitted = admit(rt, obj);
    let nsObj: Obj | undefined;
    if (ns) {
      nsObj = this.store.get(NS, undefined, ns);
      if (!nsObj) throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
      if (nsObj.metadata.deletionTimestamp)
        throw new ApiError(403, 'Forbidden', `${rt.resource} "${admitted.metadata.name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`);
    }
    if (rt === POD) {
      const denied = podSecurity(nsObj!, admitted);
      if (denied) throw denied;
    }
    const prepared = this.store.prepare(rt, admitted);
    if (opts.dryRun) {
      if (this.store.get(rt, ns, prepared.metadata.name))
        throw new ApiError(409, 'AlreadyExists', `${rt.group ? `${rt.resource}.${rt.group}` : rt.resource} "${prepared.metadata.name}" already exists`, {
          name: prepared.metadata.name,
          kind: rt.resource,
        });
      return prepared;
    }
    const webhook = this.kubelet.ctx.switches().webhookDenies;
    if (rt === POD && webhook !== null && prepared.spec?.hostPID) {
      throw new ApiError(403, 'Forbidden', `admission webhook "policy.emulated.example" denied the request: ${webhook}`);
    }
    const created = this.store.create(rt, prepared);
    if (rt === POD) this.kubelet.created(created);
    else if (rt.group === 'apps') this.controllers.reconcile(rt, created);
    return created;
  }

  /** Deletes: a pod goes through its kubelet (processes killed first), the rest at once. */
  async delete(rt: ResourceType, ns: string | undefined, name: string, opts: { gracePeriodSeconds?: number; dryRun?: boolean } = {}): Promise<Obj> {
    const obj = this.store.mustGet(rt, ns, name);
    if (opts.dryRun) return obj;
    if (rt === POD) {
      const grace = opts.gracePeriodSeconds ?? obj.spec.terminationGracePeriodSeconds ?? 30;
      const marked =
        this.store.mutate(rt, ns, name, (p) => {
          p.metadata.deletionTimestamp ??= new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
          p.metadata.deletionGracePeriodSeconds = grace;
        }) ?? obj;
      await this.kubelet.delete(marked, grace);
      return marked;
    }
    if (rt === NS) {
      for (const t of [POD, ...['deployments', 'replicasets', 'statefulsets', 'daemonsets'].map((r) => byResource('apps', r)!)]) {
        for (const o of this.store.list(t, name)) if (t !== POD) this.store.remove(t, name, o.metadata.name);
      }
      await Promise.all(this.store.list(POD, name).map((p) => this.delete(POD, name, p.metadata.name, { gracePeriodSeconds: 0 })));
    }
    // owned objects go with their owner (the garbage collector's background propagation)
    if (rt.group === 'apps') this.removeOwned(obj);
    this.store.remove(rt, ns, name);
    return obj;
  }

  private removeOwned(owner: Obj): void {
    const ns = owner.metadata.namespace;
    for (const t of [byResource('apps', 'replicasets')!, POD]) {
      for (const o of this.store.list(t, ns, (x) => (x.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === owner.metadata.uid))) {
        if (t === POD) void this.delete(POD, ns, o.metadata.name, { gracePeriodSeconds: 0 }).catch(() => {});
        else {
          this.removeOwned(o);
          this.store.remove(t, ns, o.metadata.name);
        }
      }
    }
  }
}

export { Kubelet };
