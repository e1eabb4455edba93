// What happens to an object between the request and the store: defaulting, validation (422
// with field paths, like the apiserver), and Pod Security Admission for namespaces labelled
// pod-security.kubernetes.io/enforce=baseline|restricted (403, with the real message shape).
import { randomBytes } from 'node:crypto';
import type { QosClass } from './cgroups.js';
import type { ResourceType } from './resources.js';
import { ApiError, invalid } from './status.js';
import { selectorObject } from './selectors.js';

type Obj = Record<string, any>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SUFFIX_CHARS = 'bcdfghjklmnpqrstvwxz2456789'; // what the apiserver uses: no vowels, no 0/1/3

export function randomSuffix(n = 5): string {
  return [...randomBytes(n)].map((b) => SUFFIX_CHARS[b % SUFFIX_CHARS.length]).join('');
}

/** Defaults and validates an object about to be created; returns the object to store. */
export function admit(rt: ResourceType, input: Obj): Obj {
  const o = structuredClone(input);
  o.metadata ??= {};
  if (!o.metadata.name && o.metadata.generateName) o.metadata.name = `${o.metadata.generateName}${randomSuffix()}`;
  const name = String(o.metadata.name ?? '');
  const errors: { field: string; message: string }[] = [];
  if (!name) errors.push({ field: 'metadata.name', message: 'Required value: name or generateName is required' });
  else if (!(rt.resource === 'namespaces' ? DNS_LABEL : DNS_SUBDOMAIN).test(name) || name.length > 253) {
    errors.push({
      field: 'metadata.name',
      message: `Invalid value: "${name}": a lowercase RFC 1123 ${rt.resource === 'namespaces' ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    });
  }
  if (rt.resource === 'pods') {
    defaultPodSpec((o.spec ??= {}));
    errors.push(...validatePodSpec(o.spec, 'spec'));
    o.status = { phase: 'Pending', qosClass: qosClass(o) };
  } else if (rt.group === 'apps') {
    o.spec ??= {};
    if (rt.resource !== 'daemonsets') o.spec.replicas ??= 1;
    if (!o.spec.selector) errors.push({ field: 'spec.selector', message: 'Required value' });
    else if (!selectorObject(o.spec.selector)(o.spec.template ?? {})) {
      errors.push({ field: 'spec.template.metadata.labels', message: `Invalid value: ${JSON.stringify(o.spec.template?.metadata?.labels ?? {})}: \`selector\` does not match template \`labels\`` });
    }
    defaultPodSpec(((o.spec.template ??= {}).spec ??= {}));
    errors.push(...validatePodSpec(o.spec.template.spec, 'spec.template.spec'));
    o.status = {};
  } else if (rt.resource === 'namespaces') {
    o.metadata.labels = { ...o.metadata.labels, 'kubernetes.io/metadata.name': name };
    o.spec = { finalizers: ['kubernetes'] };
    o.status = { phase: 'Active' };
  }
  if (errors.length) throw invalid(rt.kind, rt.group, name, errors);
  return o;
}

function defaultPodSpec(spec: Obj): void {
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.serviceAccountName ??= spec.serviceAccount ?? 'default';
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  spec.priority ??= 0;
  spec.tolerations ??= [];
  // the DefaultTolerationSeconds admission plugin
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    if (!spec.tolerations.some((t: Obj) => t.key === key || (t.operator === 'Exists' && !t.key))) {
      spec.tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
    }
  }
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const tag = String(c.image ?? '')
      .split('/')
      .pop()!
      .split(':')[1];
    c.imagePullPolicy ??= !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    c.resources ??= {};
  }
}

function validatePodSpec(spec: Obj, at: string): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  const containers: Obj[] = spec.containers ?? [];
  if (containers.length === 0) errors.push({ field: `${at}.containers`, message: 'Required value' });
  const seen = new Set<string>();
  containers.forEach((c, i) => {
    const f = `${at}.containers[${i}]`;
    if (!c.name) errors.push({ field: `${f}.name`, message: 'Required value' });
    else if (!DNS_LABEL.test(c.name)) errors.push({ field: `${f}.name`, message: `Invalid value: "${c.name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'` });
    else if (seen.has(c.name)) errors.push({ field: `${f}.name`, message: `Duplicate value: "${c.name}"` });
    seen.add(c.name);
    if (!c.image) errors.push({ field: `${f}.image`, message: 'Required value' });
  });
  if (!['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy))
    errors.push({ field: `${at}.restartPolicy`, message: `Unsupported value: "${spec.restartPolicy}": supported values: "Always", "Never", "OnFailure"` });
  if (spec.activeDeadlineSeconds !== undefined && !(Number.isInteger(spec.activeDeadlineSeconds) && spec.activeDeadlineSeconds > 0)) {
    errors.push({ field: `${at}.activeDeadlineSeconds`, message: `Invalid value: ${spec.activeDeadlineSeconds}: must be between 1 and 2147483647, inclusive` });
  }
  return errors;
}

/** The QoS class that decides which kubepods cgroup a pod lands in. */
export function qosClass(pod: Obj): QosClass {
  const cs: Obj[] = pod.spec?.containers ?? [];
  const empty = (c: Obj) => !Object.keys(c.resources?.requests ?? {}).length && !Object.keys(c.resources?.limits ?? {}).length;
  if (cs.every(empty)) return 'BestEffort';
  // Guaranteed: every container limits cpu and memory, and requests (defaulting to limits) equal them
  const guaranteed = cs.every((c) =>
    ['cpu', 'memory'].every((r) => {
      const lim = c.resources?.limits?.[r];
      return lim !== undefined && String(c.resources?.requests?.[r] ?? lim) === String(lim);
    }),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

const BASELINE_CAPS = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];

/** Pod Security Admission's enforce check: undefined when allowed, else the 403. */
export function podSecurity(namespace: Obj, pod: Obj): ApiError | undefined {
  const labels = namespace.metadata?.labels ?? {};
  const level = labels['pod-security.kubernetes.io/enforce'];
  if (level !== 'baseline' && level !== 'restricted') return undefined;
  const version = labels['pod-security.kubernetes.io/enforce-version'] ?? 'latest';
  const spec = pod.spec ?? {};
  const cs: Obj[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const list = (names: string[]) => names.map((n) => `"${n}"`).join(', ');
  const containersWhere = (p: (c: Obj) => boolean) => cs.filter(p).map((c) => String(c.name));
  const one = (names: string[]) => (names.length === 1 ? 'container' : 'containers');
  const v: string[] = [];
  const hostNs = ['hostNetwork', 'hostPID', 'hostIPC'].filter((k) => spec[k] === true);
  if (hostNs.length) v.push(`host namespaces (${hostNs.map((k) => `${k}=true`).join(', ')})`);
  const priv = containersWhere((c) => c.securityContext?.privileged === true);
  if (priv.length) v.push(`privileged (${one(priv)} ${list(priv)} must not set securityContext.privileged=true)`);
  const caps = cs.flatMap((c) => (c.securityContext?.capabilities?.add ?? []).filter((a: string) => !BASELINE_CAPS.includes(a)).map((a: string) => [String(c.name), a] as const));
  if (caps.length) v.push(`non-default capabilities (${caps.map(([c, a]) => `container "${c}" must not include "${a}" in securityContext.capabilities.add`).join('; ')})`);
  const hostPath = (spec.volumes ?? []).filter((vol: Obj) => vol.hostPath).map((vol: Obj) => String(vol.name));
  if (hostPath.length) v.push(`hostPath volumes (${hostPath.length === 1 ? 'volume' : 'volumes'} ${list(hostPath)})`);
  if (level === 'restricted') {
    const esc = containersWhere((c) => c.securityContext?.allowPrivilegeEscalation !== false);
    if (esc.length) v.push(`allowPrivilegeEscalation != false (${one(esc)} ${list(esc)} must set securityContext.allowPrivilegeEscalation=false)`);
    const drop = containersWhere((c) => !(c.securityContext?.capabilities?.drop ?? []).includes('ALL'));
    if (drop.length) v.push(`unrestricted capabilities (${one(drop)} ${list(drop)} must set securityContext.capabilities.drop=["ALL"])`);
    const nonRoot = containersWhere((c) => (c.securityContext?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot) !== true);
    if (nonRoot.length) v.push(`runAsNonRoot != true (pod or ${one(nonRoot)} ${list(nonRoot)} must set securityContext.runAsNonRoot=true)`);
    const seccomp = containersWhere((c) => !['RuntimeDefault', 'Localhost'].includes(c.securityContext?.seccompProfile?.type ?? spec.securityContext?.seccompProfile?.type));
    if (seccomp.length) v.push(`seccompProfile (pod or ${one(seccomp)} ${list(seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`);
  }
  if (v.length === 0) return undefined;
  const name = pod.metadata?.name ?? '';
  return new ApiError(403, 'Forbidden', `pods "${name}" is forbidden: violates PodSecurity "${level}:${version}": ${v.join(', ')}`, { name, kind: 'pods' });
}
