// The emulated etcd: objects by resource, one resourceVersion counter for everything, and the
// watch fan-out (with a short history, so that a watch started from a list's resourceVersion
// misses nothing, and a too-old one gets 410 Gone as from a real apiserver).
import { randomUUID } from 'node:crypto';
import type { Predicate } from './selectors.js';
import { alreadyExists, notFound, ApiError } from './status.js';
import type { ResourceType } from './resources.js';
import { apiVersionOf } from './resources.js';

type Obj = Record<string, any>;
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface Change {
  type: EventType;
  rt: ResourceType;
  rv: number;
  old?: Obj;
  obj: Obj;
}

export interface Watch {
  rt: ResourceType;
  namespace?: string;
  match: Predicate;
  send(type: EventType | 'ERROR', obj: Obj): void;
}

const HISTORY = 2000;
const key = (ns: string | undefined, name: string) => `${ns ?? ''}/${name}`;
const clone = <T>(o: T): T => structuredClone(o);

export class Store {
  private rv = 1;
  private objects = new Map<ResourceType, Map<string, Obj>>();
  private history: Change[] = [];
  private watches = new Set<Watch>();

  resourceVersion(): string {
    return String(this.rv);
  }

  private table(rt: ResourceType): Map<string, Obj> {
    let t = this.objects.get(rt);
    if (!t) this.objects.set(rt, (t = new Map()));
    return t;
  }

  get(rt: ResourceType, ns: string | undefined, name: string): Obj | undefined {
    const o = this.table(rt).get(key(rt.namespaced ? ns : undefined, name));
    return o && clone(o);
  }

  mustGet(rt: ResourceType, ns: string | undefined, name: string): Obj {
    const o = this.get(rt, ns, name);
    if (!o) throw notFound(rt.resource, rt.group, name);
    return o;
  }

  list(rt: ResourceType, ns?: string, match: Predicate = () => true): Obj[] {
    return [...this.table(rt).values()]
      .filter((o) => (!ns || !rt.namespaced || o.metadata.namespace === ns) && match(o))
      .sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)))
      .map(clone);
  }

  /** Completes server-set metadata the way the apiserver does on create. */
  prepare(rt: ResourceType, obj: Obj): Obj {
    const o = clone(obj);
    o.apiVersion = apiVersionOf(rt);
    o.kind = rt.kind;
    o.metadata = { ...o.metadata, uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    if (!rt.namespaced) delete o.metadata.namespace;
    if (rt.group === 'apps') o.metadata.generation = 1;
    return o;
  }

  create(rt: ResourceType, obj: Obj): Obj {
    const t = this.table(rt);
    const k = key(obj.metadata.namespace, obj.metadata.name);
    if (t.has(k)) throw alreadyExists(rt.resource, rt.group, obj.metadata.name);
    const o = clone(obj);
    o.metadata.resourceVersion = String(++this.rv);
    t.set(k, o);
    this.publish({ type: 'ADDED', rt, rv: this.rv, obj: o });
    return clone(o);
  }

  /** Applies fn to a copy of the stored object; stores and publishes it only if it changed. */
  mutate(rt: ResourceType, ns: string | undefined, name: string, fn: (o: Obj) => void): Obj | undefined {
    const t = this.table(rt);
    const k = key(rt.namespaced ? ns : undefined, name);
    const old = t.get(k);
    if (!old) return undefined;
    const o = clone(old);
    fn(o);
    delete o.metadata.resourceVersion;
    const { resourceVersion: _, ...oldMeta } = old.metadata;
    if (JSON.stringify({ ...old, metadata: oldMeta }) === JSON.stringify(o)) return clone(old);
    o.metadata.resourceVersion = String(++this.rv);
    t.set(k, o);
    this.publish({ type: 'MODIFIED', rt, rv: this.rv, old, obj: o });
    return clone(o);
  }

  remove(rt: ResourceType, ns: string | undefined, name: string): Obj | undefined {
    const t = this.table(rt);
    const k = key(rt.namespaced ? ns : undefined, name);
    const old = t.get(k);
    if (!old) return undefined;
    t.delete(k);
    const o = clone(old);
    o.metadata.resourceVersion = String(++this.rv);
    this.publish({ type: 'DELETED', rt, rv: this.rv, obj: o });
    return clone(o);
  }

  private publish(c: Change): void {
    this.history.push(c);
    if (this.history.length > HISTORY) this.history.shift();
    for (const w of this.watches) this.deliver(w, c);
  }

  /** Translates a change for one watcher: an object leaving its selector is DELETED for it. */
  private deliver(w: Watch, c: Change): void {
    if (w.rt !== c.rt || (w.namespace && w.rt.namespaced && c.obj.metadata.namespace !== w.namespace)) return;
    const now = w.match(c.obj);
    const before = c.old ? w.match(c.old) : false;
    if (c.type === 'MODIFIED') {
      if (now && before) w.send('MODIFIED', clone(c.obj));
      else if (now) w.send('ADDED', clone(c.obj));
      else if (before) w.send('DELETED', clone(c.obj));
    } else if (now) w.send(c.type, clone(c.obj));
  }

  /** Starts a watch. Without a resourceVersion (or "0") it first sends every current object
   * as ADDED; with one, every change after it, or 410 Gone if the history no longer has it. */
  watch(w: Watch, fromRV: string | null): () => void {
    if (!fromRV || fromRV === '0') {
      for (const o of this.list(w.rt, w.namespace, w.match)) w.send('ADDED', { ...o, apiVersion: apiVersionOf(w.rt), kind: w.rt.kind });
    } else {
      const from = Number(fromRV);
      if (!Number.isInteger(from)) throw new ApiError(400, 'BadRequest', `invalid resource version "${fromRV}"`);
      const oldest = this.history[0]?.rv ?? this.rv + 1;
      if (from < oldest - 1 && from < this.rv) {
        w.send('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${oldest - 1})`, reason: 'Expired', code: 410 });
        return () => {};
      }
      for (const c of this.history) if (c.rv > from) this.deliver(w, c);
    }
    this.watches.add(w);
    return () => {
      this.watches.delete(w);
    };
  }
}
