// The emulated Kubernetes cluster, for tests: startCluster() runs it in this process;
// spawnCluster() (spawn.ts) runs `node build/tools/cluster/main.js` as a child. Both give a handle with
// the kubeconfig, the switches and stop(), which leaves no process, cgroup or file behind.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findInterpreters, type Interpreter } from '../../test/support/pythons.js';
import { ApiServer, Kubelet } from './apiserver.js';
import type { CgroupLayout } from './cgroups.js';
import { applyObjects, readManifests } from './manifests.js';
import { nodeInfos, nodeObject } from './nodes.js';
import { byResource } from './resources.js';
import { Runtime } from './runtime.js';
import { startServer } from './server.js';
import { Store } from './store.js';
import { DEFAULT_SWITCHES, validateSwitches, type Switches } from './switches.js';
import { kubeconfig, makeTls } from './tls.js';
import { Controllers } from './workloads.js';

type Obj = Record<string, any>;
export type { CgroupLayout, Switches };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const FIXTURES_DIR = path.join(ROOT, 'test', 'fixtures');
export const CLUSTER_MAIN = path.join(ROOT, 'build', 'tools', 'cluster', 'main.js');
export const LAYOUT_ENV = 'PYHEAP_CLUSTER_CGROUP_LAYOUT';

export interface ClusterOptions {
  /** Manifest files (multi-document YAML). */
  manifests?: string[];
  /** Objects to create besides (or instead of) manifest files. */
  objects?: Obj[];
  /** Default: $PYHEAP_CLUSTER_CGROUP_LAYOUT, else cgroupfs. */
  cgroupLayout?: CgroupLayout;
  /** Node names (default one node, "emulated-node-1"). */
  nodes?: string[];
  switches?: Partial<Switches>;
  /** Host directory every container sees at /root/app (default test/fixtures). */
  appDir?: string;
  /** Where to write the kubeconfig (default: in the cluster's temp dir). */
  kubeconfigPath?: string;
  port?: number;
  /** The user name RBAC messages show (default "pyheap-tester"). */
  user?: string;
  /** Wait until every pod of the manifests is Running or held by a switch (default true). */
  waitForPods?: boolean;
  /** Interpreters to map images to (default: findInterpreters()). */
  pythons?: Interpreter[];
}

export interface ContainerInfo { namespace: string; pod: string; container: string; containerID: string; pid: number | null; cgroup: string; agent: boolean; execPids: number[] }

export interface ClusterHandle {
  kubeconfigPath: string;
  /** The cluster's own temp dir (TLS files, slim agent PATH); gone after stop(). */
  tempDir: string;
  server: string;
  token: string;
  user: string;
  layout: CgroupLayout;
  switches(): Promise<Switches>;
  setSwitches(s: Partial<Switches>): Promise<Switches>;
  containers(): Promise<ContainerInfo[]>;
  stop(): Promise<void>;
}

export function layoutFrom(value: string | undefined): CgroupLayout {
  const v = value ?? process.env[LAYOUT_ENV] ?? 'cgroupfs';
  if (v !== 'cgroupfs' && v !== 'systemd') throw new Error(`cgroup layout must be "cgroupfs" or "systemd", not "${v}"`);
  return v;
}

export async function startCluster(o: ClusterOptions = {}): Promise<ClusterHandle & { apply(objs: Obj[]): Obj[] }> {
  const layout = layoutFrom(o.cgroupLayout);
  const objects = [...readManifests(o.manifests ?? []), ...(o.objects ?? [])];
  let switches: Switches = { ...DEFAULT_SWITCHES, ...validateSwitches(o.switches ?? {}) };
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-cluster-'));
  const token = randomBytes(24).toString('hex');
  const user = o.user ?? 'pyheap-tester';
  const nodes = nodeInfos(o.nodes ?? ['emulated-node-1']);
  const store = new Store();
  const runtime = new Runtime(layout);
  const kubelet = new Kubelet({ store, runtime, switches: () => switches, pythons: o.pythons ?? findInterpreters(), scratch, appDir: o.appDir ?? FIXTURES_DIR, nodes });
  const api = new ApiServer(store, kubelet);
  const controllers = (api.controllers = new Controllers(store, api, () => nodes.map((n) => n.name)));
  const kubeconfigPath = o.kubeconfigPath ?? path.join(scratch, 'kubeconfig');
  const ownKubeconfig = !existsSync(kubeconfigPath);
  let http: Awaited<ReturnType<typeof startServer>> | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= (async () => {
    controllers.stopping = true;
    await http?.close();
    await kubelet.stopAll();
    rmSync(scratch, { recursive: true, force: true });
    if (ownKubeconfig && o.kubeconfigPath) rmSync(kubeconfigPath, { force: true });
  })());
  try {
    for (const n of nodes) store.create(byResource('', 'nodes')!, store.prepare(byResource('', 'nodes')!, nodeObject(n)));
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) api.create(byResource('', 'namespaces')!, { metadata: { name: ns } });
    const tls = makeTls(scratch);
    const infos = (): ContainerInfo[] => runtime.containers().map((rc) => ({
      namespace: rc.plan.namespace, pod: rc.plan.podName, container: rc.plan.containerName, containerID: `containerd://${rc.id}`,
      pid: rc.target?.pid ?? rc.main?.pid ?? null, cgroup: rc.cgroupRel, agent: rc.plan.agent, execPids: [...rc.execs].map((e) => e.pid!),
    }));
    http = await startServer({
      api, kubelet, runtime, user, token, watches: new Set(), containers: infos,
      switches: () => switches,
      setSwitches: (s) => { switches = { ...switches, ...s }; },
    }, tls, o.port ?? 0);
    writeFileSync(kubeconfigPath, kubeconfig({ server: http.url, ca: tls.ca, token, user, context: 'pyheap-emulator' }), { mode: 0o600 });
    applyObjects(api, objects);
    if (o.waitForPods !== false) await kubelet.settled();
    return {
      kubeconfigPath, tempDir: scratch, server: http.url, token, user, layout, stop, containers: async () => infos(),
      switches: async () => switches,
      setSwitches: async (s) => (switches = { ...switches, ...validateSwitches(s) }),
      apply: (objs) => applyObjects(api, objs),
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

