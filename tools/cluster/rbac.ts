// RBAC for the emulated API server: Roles, ClusterRoles, RoleBindings and ClusterRoleBindings
// (rbac.authorization.k8s.io/v1), loaded at run time (POST /__emulator/rbac) and enforced on
// every resource request with the real authorizer's matching rules and 403 message; more
// bearer tokens for other users (e.g. an admin in system:masters); and SelfSubjectAccessReview
// (`kubectl auth can-i`), which every authenticated user may create (system:basic-user).
// Without a policy (the default) every authenticated request is allowed, as before.
import { loadAll } from 'js-yaml';
import { ApiError, badRequest, qualified } from './status.js';

type Obj = Record<string, any>;

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
const KINDS = ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'];
export const SSAR_PATH = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

/** A bearer token of another user, accepted while the policy is loaded. */
export interface RbacUser {
  token: string;
  name: string;
  groups?: string[];
}

/** The body of POST /__emulator/rbac (null: RBAC off, everything allowed). */
export interface RbacPolicy {
  /** Role, ClusterRole, RoleBinding and ClusterRoleBinding objects, as in manifests. */
  objects: Obj[];
  users?: RbacUser[];
}

export interface Identity {
  user: string;
  groups: string[];
}

/** What a request asks for, in the authorizer's terms. */
export interface Access {
  verb: string;
  resource: string;
  group: string;
  sub?: string;
  namespace?: string;
  name?: string;
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames: string[];
}
interface Binding {
  namespace?: string;
  roleKind: string;
  roleName: string;
  subjects: Obj[];
}

/** Bootstrap ClusterRoles the policy may refer to without defining them. */
const BUILTIN: Record<string, Rule[]> = {
  'cluster-admin': [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'], resourceNames: [] }],
};

/** The RBAC objects of a multi-document YAML text (other kinds are left out). */
export function rbacObjects(yaml: string): Obj[] {
  return (loadAll(yaml) as unknown[]).filter((d): d is Obj => typeof d === 'object' && d !== null && String((d as Obj).apiVersion ?? '').startsWith(`${RBAC_GROUP}/`));
}

const strings = (v: unknown, what: string): string[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw badRequest(`${what} must be a list of strings`);
  return v;
};

/** The 403 the apiserver sends when no rule allows the access. */
export function forbidden(user: string, a: Access): ApiError {
  const full = a.sub ? `${a.resource}/${a.sub}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return new ApiError(403, 'Forbidden', `${qualified(a.resource, a.group, a.name)} is forbidden: User "${user}" cannot ${a.verb} resource "${full}" in API group "${a.group}" ${scope}`, {
    ...(a.name ? { name: a.name } : {}),
    ...(a.group ? { group: a.group } : {}),
    kind: a.resource,
  });
}

/** rbac/v1 ResourceMatches: "*", the exact resource[/subresource], or "*\/subresource". */
function ruleAllows(r: Rule, a: Access): boolean {
  if (!r.apiGroups.some((g) => g === '*' || g === a.group)) return false;
  const combined = a.sub ? `${a.resource}/${a.sub}` : a.resource;
  if (!r.resources.some((x) => x === '*' || x === combined || (a.sub !== undefined && x === `*/${a.sub}`))) return false;
  if (!r.verbs.some((v) => v === '*' || v === a.verb)) return false;
  return r.resourceNames.length === 0 || (a.name !== undefined && r.resourceNames.includes(a.name));
}

export class Rbac {
  private policy: RbacPolicy | null = null;
  private roles = new Map<string, Rule[]>(); // "Role/ns/name" or "ClusterRole//name"
  private bindings: Binding[] = [];
  private users = new Map<string, Identity>();

  get enabled(): boolean {
    return this.policy !== null;
  }

  current(): RbacPolicy | null {
    return this.policy;
  }

  /** Loads a policy (checked first: a bad one changes nothing), or turns RBAC off with null. */
  set(body: unknown): void {
    if (body === null) {
      this.policy = null;
      this.roles.clear();
      this.bindings = [];
      this.users.clear();
      return;
    }
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('the RBAC policy must be {"objects": [...], "users": [...]} or null');
    const p = body as Obj;
    for (const k of Object.keys(p)) if (k !== 'objects' && k !== 'users') throw badRequest(`unknown RBAC policy field "${k}"; known: objects, users`);
    if (!Array.isArray(p.objects)) throw badRequest('"objects" must be a list of Role, ClusterRole, RoleBinding and ClusterRoleBinding objects');
    const roles = new Map<string, Rule[]>();
    const bindings: Binding[] = [];
    for (const o of p.objects as Obj[]) {
      const kind = String(o?.kind ?? '');
      if (o?.apiVersion !== `${RBAC_GROUP}/v1` || !KINDS.includes(kind)) {
        throw badRequest(`${o?.apiVersion ?? '?'} ${kind || '?'} is not an RBAC object (${KINDS.join(', ')} of ${RBAC_GROUP}/v1); create it through the API`);
      }
      const name = o.metadata?.name;
      if (typeof name !== 'string' || !name) throw badRequest(`a ${kind} needs metadata.name`);
      const namespaced = kind === 'Role' || kind === 'RoleBinding';
      const namespace = namespaced ? String(o.metadata.namespace ?? 'default') : undefined;
      const where = `${kind} ${namespace ? `${namespace}/` : ''}${name}`;
      if (kind === 'Role' || kind === 'ClusterRole') {
        if (o.aggregationRule) throw badRequest(`${where}: aggregated ClusterRoles are not emulated`);
        const rules = ((o.rules ?? []) as Obj[]).map((r, i): Rule => {
          if (r.nonResourceURLs && !r.resources) return { apiGroups: [], resources: [], verbs: [], resourceNames: [] };
          return {
            apiGroups: strings(r.apiGroups, `${where} rules[${i}].apiGroups`),
            resources: strings(r.resources, `${where} rules[${i}].resources`),
            verbs: strings(r.verbs, `${where} rules[${i}].verbs`),
            resourceNames: strings(r.resourceNames, `${where} rules[${i}].resourceNames`),
          };
        });
        roles.set(`${kind}/${namespace ?? ''}/${name}`, rules);
      } else {
        const ref = o.roleRef as Obj | undefined;
        if (!ref || ref.apiGroup !== RBAC_GROUP || !(ref.kind === 'ClusterRole' || (ref.kind === 'Role' && namespaced)) || typeof ref.name !== 'string') {
          throw badRequest(`${where}: roleRef must name a ${namespaced ? 'Role or ClusterRole' : 'ClusterRole'} of ${RBAC_GROUP}`);
        }
        const subjects = (o.subjects ?? []) as Obj[];
        for (const s of subjects) if (!['User', 'Group', 'ServiceAccount'].includes(s?.kind)) throw badRequest(`${where}: subject kind "${s?.kind}" is not User, Group or ServiceAccount`);
        bindings.push({ ...(namespace ? { namespace } : {}), roleKind: ref.kind, roleName: ref.name, subjects });
      }
    }
    const users = new Map<string, Identity>();
    for (const u of (p.users ?? []) as RbacUser[]) {
      if (typeof u?.token !== 'string' || !u.token || typeof u.name !== 'string' || !u.name) throw badRequest('each of "users" needs a token and a name');
      users.set(u.token, { user: u.name, groups: [...strings(u.groups, `groups of user ${u.name}`), 'system:authenticated'] });
    }
    this.policy = p as RbacPolicy;
    this.roles = roles;
    this.bindings = bindings;
    this.users = users;
  }

  /** Who a token belongs to: the cluster's own user, one of the policy's, or nobody. */
  identify(token: string | undefined, own: { token: string; user: string }): Identity | undefined {
    if (token === own.token) return { user: own.user, groups: ['system:authenticated'] };
    return token === undefined ? undefined : this.users.get(token);
  }

  /** Whether the policy lets this identity do this (always, without a policy). */
  allows(id: Identity, a: Access): boolean {
    if (!this.policy || id.groups.includes('system:masters')) return true;
    // system:basic-user, bound to system:authenticated in every cluster
    if (a.group === 'authorization.k8s.io' && a.verb === 'create' && /^self(subject)?(access|rules)reviews$/.test(a.resource)) return true;
    const serviceAccount = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(id.user);
    const matches = (b: Binding, s: Obj) =>
      (s.kind === 'User' && s.name === id.user) ||
      (s.kind === 'Group' && id.groups.includes(s.name)) ||
      (s.kind === 'ServiceAccount' && serviceAccount !== null && s.name === serviceAccount[2] && (s.namespace ?? b.namespace) === serviceAccount[1]);
    return this.bindings.some((b) => {
      if (b.namespace !== undefined && b.namespace !== a.namespace) return false;
      if (!b.subjects.some((s) => matches(b, s))) return false;
      const rules = b.roleKind === 'Role' ? this.roles.get(`Role/${b.namespace}/${b.roleName}`) : (this.roles.get(`ClusterRole//${b.roleName}`) ?? BUILTIN[b.roleName]);
      return (rules ?? []).some((r) => ruleAllows(r, a));
    });
  }

  /** The 403 for a refused access, or undefined. */
  check(id: Identity, a: Access): ApiError | undefined {
    return this.allows(id, a) ? undefined : forbidden(id.user, a);
  }
}

/** POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews: the answer for the asker. */
export function selfSubjectAccessReview(body: Obj | undefined, allowed: (a: Access) => boolean): Obj {
  const spec = body?.spec as Obj | undefined;
  const ra = spec?.resourceAttributes as Obj | undefined;
  if (!ra && !spec?.nonResourceAttributes)
    throw new ApiError(
      422,
      'Invalid',
      'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
    );
  // non-resource URLs (discovery, /version, /healthz) are open to every authenticated user here
  const ok = ra
    ? allowed({
        verb: String(ra.verb ?? ''),
        resource: String(ra.resource ?? ''),
        group: String(ra.group ?? ''),
        ...(ra.subresource ? { sub: String(ra.subresource) } : {}),
        ...(ra.namespace ? { namespace: String(ra.namespace) } : {}),
        ...(ra.name ? { name: String(ra.name) } : {}),
      })
    : true;
  return {
    kind: 'SelfSubjectAccessReview',
    apiVersion: 'authorization.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec,
    status: { allowed: ok, ...(ok ? { reason: 'allowed by the emulated RBAC' } : {}) },
  };
}
