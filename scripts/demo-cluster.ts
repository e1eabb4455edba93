// npm run demo: start the emulated Kubernetes cluster (test/cluster) with a Deployment whose
// Python service leaks, let it leak for a moment, then look inside its heap with
// `kubectl pyheap deploy/leaky` as a user would. Needs root (namespaces, cgroups, gdb).
// `npm run demo:pid` is the same service as a local process, inspected with pid/N.
import { spawn } from 'node:child_process';
import { startCluster } from '../test/cluster/index.js';
import { CLI } from '../test/support/cli.js';

if (process.getuid?.() !== 0) {
  process.stderr.write('demo: the emulated cluster needs root (namespaces, cgroups, ptrace); try sudo, or npm run demo:pid\n');
  process.exit(1);
}
process.stderr.write('demo: starting an emulated Kubernetes cluster with a leaking Python deployment ...\n');
const cluster = await startCluster({
  objects: [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'leaky', namespace: 'shop' }, spec: {
      replicas: 1, selector: { matchLabels: { app: 'leaky' } },
      template: { metadata: { labels: { app: 'leaky' } }, spec: { containers: [{
        name: 'app', image: 'python:3', command: ['python', '/app/leaky_service.py', '5000'],
        securityContext: { runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true },
      }] } } } },
  ],
});
// Ctrl-C reaches the CLI too (same process group): let it clean up, then stop the cluster
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => {});
try {
  await new Promise((r) => setTimeout(r, 3000));
  process.stderr.write(`demo: cluster at ${cluster.server}; running kubectl pyheap deploy/leaky -n shop --kubeconfig ${cluster.kubeconfigPath}\n\n`);
  const code = await new Promise<number>((resolve) => {
    const cli = spawn(process.execPath, [CLI, 'deploy/leaky', '-n', 'shop', '--kubeconfig', cluster.kubeconfigPath, '--top', '15', ...process.argv.slice(2)], { stdio: 'inherit' });
    cli.on('exit', (c) => resolve(c ?? 1));
  });
  process.exitCode = code;
} finally {
  await cluster.stop();
}
