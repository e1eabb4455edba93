// The emulated Kubernetes cluster, for tests: startCluster() runs it in this process;
// spawnCluster() (spawn.ts) runs `node build/tools/cluster/main.js` as a child. Both give a handle with
// the kubeconfig, the switches and stop(), which leaves no process, cgroup or file behind.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
/** The agent image (tools/images' recipe for ghcr.io/kubectl-pyheap/agent, any tag). */
export const AGENT_IMAGE = 'ghcr.io/kubectl-pyheap/agent:0.1.0';

/** A pod spec that brings the test fixtures in as real manifests bring their code: a hostPath
 * volume of a directory (default test/fixtures), or a configMap volume, mounted read-only at
 * /app in every container. */
export function withFixtures<T extends Obj>(spec: T, from: string | { configMap: string } = FIXTURES_DIR): T {
  const volume = typeof from === 'string' ? { hostPath: { path: from, type: 'Directory' } } : { configMap: { name: from.configMap } };
  return {
    ...spec,
    volumes: [...(spec.volumes ?? []), { name: 'fixtures', ...volume }],
    containers: (spec.containers as Obj[]).map((c) => ({ ...c, volumeMounts: [...(c.volumeMounts ?? []), { name: 'fixtures', mountPath: '/app', readOnly: true }] })),
  };
}

/** A ConfigMap holding these fixture files (where hostPath is refused: Pod Security baseline),
 * for withFixtures(spec, { configMap: name }). */
export function fixturesConfigMap(name: string, namespace: string, files: string[]): Obj {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: Object.fromEntries(files.map((f) => [f, readFileSync(path.join(FIXTURES_DIR, f), 'utf8')])) };
}

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
  /** Where to write the kubeconfig (default: in the cluster's temp dir). */
  kubeconfigPath?: string;
  port?: number;
  /** The user name RBAC messages show (default "pyheap-tester"). */
  user?: string;
  /** Wait until every pod of the manifests is Running or held by a switch (default true). */
  waitForPods?: boolean;
}

export interface ContainerInfo {
  namespace: string;
  pod: string;
  container: string;
  containerID: string;
  pid: number | null;
  cgroup: string;
  agent: boolean;
  execPids: number[];
}

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
  const runtime = new Runtime(layout, scratch);
  const kubelet = new Kubelet({ store, runtime, switches: () => switches, scratch, nodes });
  const api = new ApiServer(store, kubelet);
  const controllers = (api.controllers = new Controllers(store, api, () => nodes.map((n) => n.name)));
  const kubeconfigPath = o.kubeconfigPath ?? path.join(scratch, 'kubeconfig');
  const ownKubeconfig = !existsSync(kubeconfigPath);
  let http: Awaited<ReturnType<typeof startServer>> | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
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
    const infos = (): ContainerInfo[] =>
      runtime.containers().map((rc) => ({
        namespace: rc.plan.namespace,
        pod: rc.plan.podName,
        container: rc.plan.containerName,
        containerID: `containerd://${rc.id}`,
        pid: rc.pid || null,
        cgroup: rc.cgroupRel,
        agent: rc.plan.agent,
        execPids: runtime.execPids(rc),
      }));
    http = await startServer(
      {
        api,
        kubelet,
        runtime,
        user,
        token,
        watches: new Set(),
        containers: infos,
        switches: () => switches,
        setSwitches: (s) => {
          switches = { ...switches, ...s };
        },
      },
      tls,
      o.port ?? 0,
    );
    writeFileSync(kubeconfigPath, kubeconfig({ server: http.url, ca: tls.ca, token, user, context: 'pyheap-emulator' }), { mode: 0o600 });
    applyObjects(api, objects);
    if (o.waitForPods !== false) await kubelet.settled();
    return {
      kubeconfigPath,
      tempDir: scratch,
      server: http.url,
      token,
      user,
      layout,
      stop,
      containers: async () => infos(),
      switches: async () => switches,
      setSwitches: async (s) => (switches = { ...switches, ...validateSwitches(s) }),
      apply: (objs) => applyObjects(api, objs),
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
