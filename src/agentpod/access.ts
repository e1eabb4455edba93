// Before anything is created: may this user create, wait for, exec into and delete the agent
// pod here? Asked of the API server (SelfSubjectAccessReview), answered with the RBAC rule refused.
import { PyheapError } from '../core/errors.js';
import type { Api } from '../kube/api.js';
import { rbacError, type Refused } from '../kube/apiErrors.js';

/** What a run does with its agent pod: create it (the server-side dry run checks that too, with
 * Pod Security), wait for it to run, exec in it (WebSocket exec is a `get`; Kubernetes 1.35+
 * also checks `create`, which the exec itself reports, before the pod is deleted), delete it. */
const AGENT_ACCESS: Refused[] = [
  { verb: 'create', resource: 'pods', group: '' },
  { verb: 'get', resource: 'pods', group: '' },
  { verb: 'get', resource: 'pods/exec', group: '' },
  { verb: 'delete', resource: 'pods', group: '' },
];

/** Before creating the agent pod, asks the API server whether it could be waited for, exec'd
 * into and deleted (SelfSubjectAccessReview, which every user may create, as kubectl auth
 * can-i does): a run must never leave behind a privileged pod it cannot delete. A server that
 * gives no answer stops nothing: then the calls themselves say what is refused. */
export async function checkAgentAccess(api: Api, namespace: string): Promise<void> {
  const answers = await Promise.all(
    AGENT_ACCESS.map(async (a) => {
      const [resource, subresource] = a.resource.split('/');
      try {
        const review = await api.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { namespace, verb: a.verb, group: a.group, resource, ...(subresource ? { subresource } : {}) } },
          },
        });
        return review.status?.allowed === false ? a : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  const refused = answers.find((a) => a !== undefined);
  if (!refused) return;
  const err = rbacError('agent', { ...refused, namespace }, { after: ', so the agent pod was not created' });
  throw refused.verb === 'create' ? elsewhere(err) : err;
}

/** Creating pods is refused in this namespace: another one may do. */
export const elsewhere = (err: PyheapError, cause?: unknown) =>
  new PyheapError(err.stage, err.message, {
    hint: `${err.hint}, or run the agent where you may create pods with --agent-namespace NS`,
    exitCode: err.exitCode,
    cause: cause ?? err,
    ...(err.reason ? { reason: err.reason } : {}),
  });
