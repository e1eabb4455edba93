// kubectl pyheap --cleanup: finds the agent pods that killed runs left behind (by their
// managed-by label, in every namespace the user may list, else in -n) and deletes them.
import { EXIT, PyheapError } from '../core/errors.js';
import type { Api } from '../kube/api.js';
import { apiError } from '../kube/apiErrors.js';
import { AGENT_SELECTOR, RUN_LABEL } from './manifest.js';
import { deletePod } from './lifecycle.js';

type Obj = Record<string, any>;

export interface Leftover {
  namespace: string;
  name: string;
  node: string;
  runId: string;
  phase: string;
  created: string;
}

export async function findLeftovers(api: Api, namespace: string): Promise<{ pods: Leftover[]; scope: string }> {
  let list: Obj;
  let scope = 'all namespaces';
  try {
    list = await api.request('GET', '/api/v1/pods', { query: { labelSelector: AGENT_SELECTOR } });
  } catch (e) {
    const err = apiError(e, 'cleanup', 'list pods in all namespaces');
    if (err.reason !== 'rbac-refused') throw err;
    // no right to list cluster-wide: look where the user may
    scope = `namespace ${namespace}`;
    try {
      list = await api.request('GET', `/api/v1/namespaces/${namespace}/pods`, { query: { labelSelector: AGENT_SELECTOR } });
    } catch (e2) {
      throw apiError(e2, 'cleanup', `list pods in namespace ${namespace}`);
    }
  }
  const pods = (list.items as Obj[]).map((p) => ({
    namespace: p.metadata.namespace,
    name: p.metadata.name,
    node: p.spec?.nodeName ?? '',
    runId: p.metadata.labels?.[RUN_LABEL] ?? '',
    phase: p.status?.phase ?? '',
    created: p.metadata.creationTimestamp ?? '',
  }));
  return { pods, scope };
}

export async function cleanupLeftovers(api: Api, namespace: string): Promise<{ deleted: Leftover[]; scope: string }> {
  const { pods, scope } = await findLeftovers(api, namespace);
  const deleted: Leftover[] = [];
  const errors: PyheapError[] = [];
  await Promise.all(
    pods.map(async (p) => {
      try {
        if (await deletePod(api, p.namespace, p.name)) deleted.push(p);
      } catch (e) {
        errors.push(apiError(e, 'cleanup', `delete pod ${p.name} in namespace ${p.namespace}`));
      }
    }),
  );
  if (errors.length) {
    const first = errors[0]!;
    throw new PyheapError('cleanup', `${errors.length} of ${pods.length} agent pods could not be deleted: ${first.message}`, { hint: first.hint ?? 'retry', exitCode: EXIT.kube, cause: first });
  }
  deleted.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  return { deleted, scope };
}
