// Reads ordinary manifests (multi-document YAML, `kind: List` too) and creates their objects
// through the API's write path, namespaces first, as `kubectl create -f` would.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import type { ApiServer } from './apiserver.js';
import { byKind } from './resources.js';

type Obj = Record<string, any>;

export function parseManifests(text: string, source = 'manifest'): Obj[] {
  const docs = loadAll(text).filter((d): d is Obj => typeof d === 'object' && d !== null);
  const objs = docs.flatMap((d) => (d.kind === 'List' ? ((d.items as Obj[]) ?? []) : [d]));
  for (const o of objs) {
    if (!byKind(String(o.apiVersion ?? ''), String(o.kind ?? ''))) {
      throw new Error(`${source}: no matches for kind "${o.kind}" in version "${o.apiVersion}" (the emulator serves Namespace, Pod, ConfigMap, Deployment, ReplicaSet, StatefulSet, DaemonSet)`);
    }
  }
  return objs;
}

/** The objects of manifest files. A relative hostPath is taken from the manifest's directory
 * (the emulated node is this machine: as a kind node's extraMounts bring a directory in), so
 * that test/fixtures/*.yaml can bring the fixtures next to them into their pods. */
export function readManifests(files: string[]): Obj[] {
  return files.flatMap((f) =>
    parseManifests(readFileSync(f, 'utf8'), f).map((o) => {
      const spec = o.kind === 'Pod' ? o.spec : o.spec?.template?.spec;
      for (const v of (spec?.volumes ?? []) as Obj[]) {
        if (v.hostPath?.path && !path.isAbsolute(v.hostPath.path)) v.hostPath.path = path.resolve(path.dirname(f), v.hostPath.path);
      }
      return o;
    }),
  );
}

export function applyObjects(api: ApiServer, objs: Obj[]): Obj[] {
  const ordered = [...objs.filter((o) => o.kind === 'Namespace'), ...objs.filter((o) => o.kind !== 'Namespace')];
  return ordered.map((o) => api.create(byKind(o.apiVersion, o.kind)!, o));
}
