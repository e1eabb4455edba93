// `npm run cluster -- --kubeconfig PATH FILE.yaml...`: the emulated cluster as a command. It
// prints a line with "ready" once it serves and runs until SIGINT or SIGTERM, then stops every
// process it started and removes its cgroups and files (the kubeconfig too, if it wrote it).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LAYOUT_ENV, startCluster } from './index.js';

const USAGE = `usage: npm run cluster -- --kubeconfig PATH [options] [FILE.yaml...]

  --kubeconfig PATH        where to write the kubeconfig (required)
  --cgroup-layout L        cgroupfs (default) or systemd; also $${LAYOUT_ENV}
  --node NAME              an emulated node (repeat for several; default emulated-node-1)
  --switches FILE          JSON object of switches to start with (see tools/cluster/README.md)
  --port N                 listen on 127.0.0.1:N (default: any free port)
  --user NAME              the user name in RBAC messages (default pyheap-tester)
  --no-wait                print "ready" without waiting for the manifests' pods
  --stop-on-stdin-eof      stop when stdin closes (spawnCluster: the cluster dies with its parent)
`;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        kubeconfig: { type: 'string' },
        'cgroup-layout': { type: 'string' },
        node: { type: 'string', multiple: true },
        switches: { type: 'string' },
        port: { type: 'string' },
        user: { type: 'string' },
        'no-wait': { type: 'boolean' },
        'stop-on-stdin-eof': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const v = parsed.values;
  if (v.help) return void process.stdout.write(USAGE);
  if (!v.kubeconfig) {
    process.stderr.write(`error: --kubeconfig is required\n${USAGE}`);
    process.exit(2);
  }
  const cluster = await startCluster({
    kubeconfigPath: v.kubeconfig,
    manifests: parsed.positionals,
    ...(v['cgroup-layout'] ? { cgroupLayout: v['cgroup-layout'] as 'cgroupfs' } : {}),
    ...(v.node ? { nodes: v.node } : {}),
    ...(v.switches ? { switches: JSON.parse(readFileSync(v.switches, 'utf8')) } : {}),
    ...(v.port ? { port: Number(v.port) } : {}),
    ...(v.user ? { user: v.user } : {}),
    waitForPods: !v['no-wait'],
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: stopping the cluster\n`);
    cluster.stop().then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`error while stopping: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  if (v['stop-on-stdin-eof']) {
    process.stdin.on('end', () => stop('end of stdin')).resume();
  }
  process.stdout.write(`pyheap cluster ready: server ${cluster.server}, kubeconfig ${cluster.kubeconfigPath}, cgroup layout ${cluster.layout}, temp ${cluster.tempDir}\n`);
}

main().catch((e) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
