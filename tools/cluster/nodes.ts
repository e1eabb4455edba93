// The emulated nodes (all of them this machine) and the scheduler's choice among them.
import os from 'node:os';
import { nodeOfAffinity } from './workloads.js';
import { KUBE_VERSION } from './resources.js';

type Obj = Record<string, any>;

export interface NodeInfo {
  name: string;
  index: number;
  ip: string;
}

export function nodeInfos(names: string[]): NodeInfo[] {
  return names.map((name, index) => ({ name, index, ip: `172.18.0.${index + 2}` }));
}

export function nodeObject(n: NodeInfo): Obj {
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    metadata: {
      name: n.name,
      labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64' },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: { podCIDR: `10.244.${n.index}.0/24`, podCIDRs: [`10.244.${n.index}.0/24`] },
    status: {
      capacity: { cpu: String(os.cpus().length), memory: `${Math.floor(os.totalmem() / 1024)}Ki`, pods: '110', 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: String(os.cpus().length), memory: `${Math.floor(os.totalmem() / 1024)}Ki`, pods: '110', 'ephemeral-storage': '100Gi' },
      conditions: [
        ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
        ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
        ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
        ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
      ].map(([type, status, reason, message]) => ({ type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: t })),
      addresses: [
        { type: 'InternalIP', address: n.ip },
        { type: 'Hostname', address: n.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        kernelVersion: os.release(),
        containerRuntimeVersion: 'containerd://1.7.24',
        kubeletVersion: KUBE_VERSION.gitVersion,
        kubeProxyVersion: KUBE_VERSION.gitVersion,
        machineID: '',
        systemUUID: '',
        bootID: '',
      },
    },
  };
}

let turn = 0;

/** The node for a pod without one: nodeSelector and a DaemonSet's affinity are honoured,
 * otherwise round robin. undefined: nothing fits. */
export function pickNode(pod: Obj, nodes: NodeInfo[]): NodeInfo | undefined {
  const pinned = nodeOfAffinity(pod);
  const sel: Record<string, string> = pod.spec?.nodeSelector ?? {};
  const fits = nodes.filter((n) => (!pinned || n.name === pinned) && Object.entries(sel).every(([k, v]) => nodeObject(n).metadata.labels[k] === v));
  return fits[turn++ % Math.max(fits.length, 1)];
}
