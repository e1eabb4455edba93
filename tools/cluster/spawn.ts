// The cluster as a child process (`node build/tools/cluster/main.js`), for tests that want it
// out of their own process: same handle as startCluster(), switches through the control endpoint.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { CLUSTER_MAIN, layoutFrom, type ClusterHandle, type ClusterOptions, type ContainerInfo } from './index.js';
import type { Switches } from './switches.js';

type Obj = Record<string, any>;

export async function spawnCluster(o: Omit<ClusterOptions, 'objects' | 'pythons'> = {}): Promise<ClusterHandle> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pyheap-cluster-spawn-'));
  const kubeconfigPath = o.kubeconfigPath ?? path.join(tmp, 'kubeconfig');
  // stdin is a pipe from us: if this process dies without stop(), the cluster stops anyway
  const args = [CLUSTER_MAIN, '--kubeconfig', kubeconfigPath, '--stop-on-stdin-eof'];
  if (o.cgroupLayout) args.push('--cgroup-layout', o.cgroupLayout);
  for (const n of o.nodes ?? []) args.push('--node', n);
  if (o.port) args.push('--port', String(o.port));
  if (o.user) args.push('--user', o.user);
  if (o.waitForPods === false) args.push('--no-wait');
  if (o.switches) {
    writeFileSync(path.join(tmp, 'switches.json'), JSON.stringify(o.switches));
    args.push('--switches', path.join(tmp, 'switches.json'));
  }
  const child = spawn(process.execPath, [...args, ...(o.manifests ?? [])], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let tempDir = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the cluster was not ready in 60s: ${stderr.join('')}`)), 60000);
      createInterface({ input: child.stdout }).on('line', (l) => {
        if (/\bready\b/.test(l)) {
          tempDir = /temp (\S+)/.exec(l)?.[1] ?? '';
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the cluster exited with ${code}: ${stderr.join('')}`));
      });
    });
  } catch (e) {
    child.kill('SIGTERM');
    await exited;
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const kc = JSON.parse(readFileSync(kubeconfigPath, 'utf8')) as Obj;
  const server: string = kc.clusters[0].cluster.server;
  const token: string = kc.users[0].user.token;
  const ca = Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString();
  const control = (method: string, p: string, body?: unknown) =>
    new Promise<any>((resolve, reject) => {
      const data = body === undefined ? '' : JSON.stringify(body);
      const req = request(
        `${server}${p}`,
        { method, ca, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(data)) } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
          });
          res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${method} ${p}: ${res.statusCode} ${text}`))));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  let stopped: Promise<void> | undefined;
  return {
    kubeconfigPath,
    tempDir,
    server,
    token,
    user: kc.users[0].name,
    layout: layoutFrom(o.cgroupLayout),
    switches: () => control('GET', '/__emulator/switches') as Promise<Switches>,
    setSwitches: (s) => control('POST', '/__emulator/switches', s) as Promise<Switches>,
    containers: () => control('GET', '/__emulator/containers') as Promise<ContainerInfo[]>,
    stop: () =>
      (stopped ??= (async () => {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
        const code = await exited;
        clearTimeout(timer);
        rmSync(tmp, { recursive: true, force: true });
        if (code !== 0) throw new Error(`the cluster exited with ${code} on SIGTERM: ${stderr.join('')}`);
      })()),
  };
}
