// The resource kinds the emulator serves and the discovery documents kubectl reads before it
// does anything (/api, /apis, /api/v1, /apis/apps/v1, /version).
export interface ResourceType {
  resource: string; // plural, as in URLs
  kind: string;
  group: string; // "" for the core group
  version: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  subresources?: { name: string; kind: string; verbs: string[] }[];
}

const rw = ['create', 'delete', 'get', 'list', 'watch'];

export const RESOURCES: ResourceType[] = [
  { resource: 'namespaces', kind: 'Namespace', group: '', version: 'v1', namespaced: false, verbs: rw, shortNames: ['ns'] },
  { resource: 'nodes', kind: 'Node', group: '', version: 'v1', namespaced: false, verbs: ['get', 'list', 'watch'], shortNames: ['no'] },
  {
    resource: 'pods',
    kind: 'Pod',
    group: '',
    version: 'v1',
    namespaced: true,
    verbs: rw,
    shortNames: ['po'],
    categories: ['all'],
    subresources: [
      { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
    ],
  },
  { resource: 'configmaps', kind: 'ConfigMap', group: '', version: 'v1', namespaced: true, verbs: rw, shortNames: ['cm'] },
  { resource: 'deployments', kind: 'Deployment', group: 'apps', version: 'v1', namespaced: true, verbs: rw, shortNames: ['deploy'], categories: ['all'] },
  { resource: 'replicasets', kind: 'ReplicaSet', group: 'apps', version: 'v1', namespaced: true, verbs: rw, shortNames: ['rs'], categories: ['all'] },
  { resource: 'statefulsets', kind: 'StatefulSet', group: 'apps', version: 'v1', namespaced: true, verbs: rw, shortNames: ['sts'], categories: ['all'] },
  { resource: 'daemonsets', kind: 'DaemonSet', group: 'apps', version: 'v1', namespaced: true, verbs: rw, shortNames: ['ds'], categories: ['all'] },
];

export function byResource(group: string, resource: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.resource === resource);
}

export function byKind(apiVersion: string, kind: string): ResourceType | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return RESOURCES.find((r) => r.group === group && r.version === version && r.kind === kind);
}

export const apiVersionOf = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);

export const KUBE_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-pyheap-emulator' };

export function versionDoc() {
  return {
    ...KUBE_VERSION,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.23.4',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

export function coreVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

export function groupList() {
  const groups = [...new Set(RESOURCES.filter((r) => r.group).map((r) => r.group))];
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groups.map((name) => ({ name, versions: [{ groupVersion: `${name}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' } })),
  };
}

export function group(name: string) {
  if (!RESOURCES.some((r) => r.group === name)) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: [{ groupVersion: `${name}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' } };
}

/** APIResourceList for one group version, subresources included (kubectl needs pods/exec). */
export function resourceList(groupName: string, version: string) {
  const types = RESOURCES.filter((r) => r.group === groupName && r.version === version);
  if (types.length === 0) return undefined;
  const resources = types.flatMap((t) => [
    {
      name: t.resource,
      singularName: t.kind.toLowerCase(),
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.verbs,
      ...(t.shortNames ? { shortNames: t.shortNames } : {}),
      ...(t.categories ? { categories: t.categories } : {}),
    },
    ...(t.subresources ?? []).map((s) => ({ name: `${t.resource}/${s.name}`, singularName: '', namespaced: t.namespaced, kind: s.kind, verbs: s.verbs })),
  ]);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupName ? `${groupName}/${version}` : version, resources };
}
