// Turns what the API server says (a metav1.Status, or no answer at all) into one PyheapError
// that names the cause and the fix: the verb and resource RBAC refused, the namespace label
// Pod Security needs, the credentials that were rejected.
import { EXIT, PyheapError, type Stage } from '../core/errors.js';
import { ApiRefusal, ApiUnreachable } from './api.js';

const RBAC = /User "([^"]*)" cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)"| at the cluster scope)?/;
const PSA = /violates PodSecurity "([^"]+)": (.*)$/;

/** The error for a refused or failed API call; `doing` says what we were at ("get pod x"). */
export function apiError(e: unknown, stage: Stage, doing: string): PyheapError {
  if (e instanceof PyheapError) return e;
  if (e instanceof ApiUnreachable) {
    return new PyheapError(stage, `${e.message} (while trying to ${doing})`, {
      hint:
        e.why === 'certificate'
          ? "check the kubeconfig's certificate-authority, or pass --insecure-skip-tls-verify if you trust the network"
          : e.why === 'credentials'
            ? 'check the kubeconfig user (exec plugin, token file), or log in again'
            : 'check --context/--server and that the cluster is up (kubectl cluster-info)',
      exitCode: EXIT.kube,
      cause: e,
      ...(e.why !== 'network' ? { reason: e.why } : {}),
    });
  }
  if (!(e instanceof ApiRefusal)) {
    return new PyheapError(stage, `${doing} failed: ${e instanceof Error ? e.message : String(e)}`, { exitCode: EXIT.internal, cause: e });
  }
  const msg = e.status.message ?? '';
  // an answer of no (4xx) changed nothing; a server error (5xx) may have done half of it
  const reason = e.code < 500 ? { reason: 'api-refused' as const } : {};
  if (e.code === 401) {
    return new PyheapError(stage, `the API server did not accept the credentials (401 Unauthorized) when trying to ${doing}`, {
      hint: 'log in again, or check --token, --user and the kubeconfig user',
      exitCode: EXIT.kube,
      cause: e,
      ...reason,
    });
  }
  if (e.code === 403) {
    const psa = PSA.exec(msg);
    if (psa) return podSecurityError(e, stage, psa[1]!, psa[2]!);
    const m = RBAC.exec(msg);
    if (m) {
      const [, user, verb, resource, group, ns] = m;
      return rbacError(stage, { verb: verb!, resource: resource!, group: group!, ...(ns ? { namespace: ns } : {}) }, { user: user!, cause: e });
    }
    return new PyheapError(stage, `forbidden: ${msg}`, { hint: 'ask your cluster administrator for access', exitCode: EXIT.kube, cause: e, ...reason });
  }
  if (e.code === 404) {
    return new PyheapError(stage, `${msg || 'not found'} (while trying to ${doing})`, { hint: 'check the name, the namespace (-n) and the context', exitCode: EXIT.notFound, cause: e, ...reason });
  }
  return new PyheapError(stage, `the API server refused to ${doing}: ${msg || `HTTP ${e.code}`}${e.status.reason ? ` (${e.status.reason})` : ''}`, {
    hint: e.code >= 500 ? 'the cluster had a problem; try again' : 'run again with -v for details',
    exitCode: EXIT.kube,
    cause: e,
    ...reason,
  });
}

/** What RBAC refused: a verb on a resource ("pods", "pods/exec") of an API group, in a namespace. */
export interface Refused {
  verb: string;
  resource: string;
  group: string;
  namespace?: string;
}

/** One line naming the verb, the resource and the namespace RBAC refuses, and how to check. */
export function rbacError(stage: Stage, r: Refused, o: { user?: string; cause?: unknown; after?: string } = {}): PyheapError {
  const { verb, resource, group, namespace: ns } = r;
  const full = group ? `${resource.replace(/\/.*/, '')}.${group}${resource.includes('/') ? resource.slice(resource.indexOf('/')) : ''}` : resource;
  const where = ns ? ` in namespace ${ns}` : ' at the cluster scope';
  const verbs = resource.endsWith('/exec') ? 'create and get' : verb;
  return new PyheapError(stage, `cannot ${verb} ${full}${where}: RBAC refuses it${o.user ? ` to user "${o.user}"` : ''}${o.after ?? ''}`, {
    hint: `ask for RBAC permission to ${verbs} ${full}${where} (check with: kubectl auth can-i ${verb} ${full}${ns ? ` -n ${ns}` : ''})`,
    exitCode: EXIT.kube,
    reason: 'rbac-refused',
    ...(o.cause !== undefined ? { cause: o.cause } : {}),
  });
}

function podSecurityError(e: ApiRefusal, stage: Stage, level: string, violations: string): PyheapError {
  const ns = /\/namespaces\/([^/]+)\//.exec(e.path)?.[1] ?? 'the agent namespace';
  return new PyheapError(stage, `Pod Security "${level}" in namespace ${ns} refuses the agent pod (${violations})`, {
    hint: `the agent needs hostPID and privileged: label the namespace with kubectl label namespace ${ns} pod-security.kubernetes.io/enforce=privileged, or run the agent elsewhere with --agent-namespace NS`,
    exitCode: EXIT.kube,
    cause: e,
    reason: 'api-refused',
  });
}
