// npm run demo: start the emulated Kubernetes cluster (tools/cluster) with a Deployment whose
// Python service leaks (python:3.14, Debian's 3.14 in an image of its own, run by runc), let it
// leak for a moment, then look inside its heap with `kubectl pyheap deploy/leaky` as a user
// would; the agent pod runs the default agent image (gdb 16). Needs root (namespaces, cgroups,
// runc, gdb). The first run builds both images into the cache of tools/images, with a progress
// line; later runs take them from it. `npm run demo:pid` is the same service as a local process.
import { spawn } from 'node:child_process';
import { startCluster, withFixtures } from '../tools/cluster/index.js';
import { CLI } from '../test/support/cli.js';
import { cacheDir, ensureEntry } from '../tools/images/index.js';
import { defaultAgentImage } from '../src/agentpod/manifest.js';

if (process.getuid?.() !== 0) {
  process.stderr.write('demo: the emulated cluster needs root (namespaces, cgroups, ptrace); try sudo, or npm run demo:pid\n');
  process.exit(1);
}
const IMAGE = 'python:3.14';
const started = Date.now();
process.stderr.write(`demo: images ${IMAGE} and ${defaultAgentImage()} from ${cacheDir()} (the first run builds them from Debian's archive: about a minute here, about 800 MiB)\n`);
const built = (await Promise.all([IMAGE, defaultAgentImage()].map((i) => ensureEntry(i)))).filter((e) => e.built);
if (built.length) process.stderr.write(`demo: images built in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
process.stderr.write('demo: starting an emulated Kubernetes cluster with a leaking Python deployment ...\n');
const cluster = await startCluster({
  objects: [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'leaky', namespace: 'shop' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'leaky' } },
        // the service's code comes in as a hostPath volume at /app (test/fixtures/leaky_service.py)
        template: {
          metadata: { labels: { app: 'leaky' } },
          spec: withFixtures({
            containers: [
              {
                name: 'app',
                image: IMAGE,
                command: ['python', '/app/leaky_service.py', '5000'],
                securityContext: { runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true },
              },
            ],
          }),
        },
      },
    },
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
