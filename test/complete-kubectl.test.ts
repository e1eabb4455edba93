// Shell completion through the real kubectl (v1.32) against the emulated cluster: with
// kubectl-pyheap and kubectl_complete-pyheap on PATH, `kubectl __complete pyheap WORDS...` (what
// kubectl's bash, zsh, fish and PowerShell scripts run) offers the pods and workloads, the
// containers of the target typed, the namespaces, the contexts and the flags, honouring
// --kubeconfig, --context and -n; and bash's own completion function gets the same. Both
// layouts: the npm one (cli.js, completeCli.js) and the standalone one (entry.ts, one program
// under two names).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, type ClusterHandle } from '../tools/cluster/index.js';
import { call, fromKubeconfig, waitFor } from './support/kube.js';
import { ROOT } from './support/cli.js';

type Obj = Record<string, any>;

const KUBECTL = '/usr/bin/kubectl';
const skip = !existsSync(KUBECTL) ? `no kubectl at ${KUBECTL}` : process.getuid?.() !== 0 ? 'the emulated cluster needs root' : false;

const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-complete-kubectl-'));
let cluster: ClusterHandle | undefined;
let kubeconfig = '';
let twoContexts = '';

const sleeper = (name: string) => ({ name, image: 'debian:12', command: ['sleep', '3600'] });
const pod = (name: string, namespace: string, containers: Obj[], extra: Obj = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, ...(extra.metadata ?? {}) },
  spec: { restartPolicy: 'Never', containers, ...(extra.spec ?? {}) },
});

/** A directory with kubectl-pyheap and kubectl_complete-pyheap as small scripts running node. */
function binDir(name: string, cli: string, complete: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir);
  for (const [file, target] of [
    ['kubectl-pyheap', cli],
    ['kubectl_complete-pyheap', complete],
  ] as const) {
    writeFileSync(path.join(dir, file), `#!/bin/sh\nexec '${process.execPath}' '${target}' "$@"\n`);
    chmodSync(path.join(dir, file), 0o755);
  }
  return dir;
}

let npmBin = '';
let seaLikeBin = '';

before(async () => {
  if (skip) return;
  cluster = await startCluster({
    switches: { agentStartDelayMs: 50 },
    objects: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
      pod('census', 'default', [sleeper('py')]),
      pod('duo', 'default', [sleeper('app'), sleeper('sidecar')], { metadata: { labels: { app: 'duo', tier: 'front' } } }),
      // not offered: a finished pod, and an agent pod of ours
      // (sleep 1, not true: the emulator may miss a container that exits at once and leave its pod Running)
      pod('done', 'default', [{ name: 'x', image: 'debian:12', command: ['sleep', '1'] }]),
      pod('pyheap-agent-abcdefgh', 'default', [sleeper('agent')], { metadata: { labels: { 'app.kubernetes.io/managed-by': 'kubectl-pyheap' } } }),
      pod('cart-1', 'shop', [sleeper('cart')]),
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [sleeper('app'), sleeper('proxy')] } },
        },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'workers', namespace: 'default' },
        spec: {
          replicas: 1,
          serviceName: 'workers',
          selector: { matchLabels: { app: 'workers' } },
          template: { metadata: { labels: { app: 'workers' } }, spec: { containers: [sleeper('worker')] } },
        },
      },
    ],
  });
  kubeconfig = cluster.kubeconfigPath;
  const k = fromKubeconfig(kubeconfig);
  await waitFor('pod done Succeeded', async () => (await call(k, 'GET', '/api/v1/namespaces/default/pods/done')).body.status?.phase === 'Succeeded');
  // a kubeconfig with a second context, on the same cluster, whose namespace is shop
  const kc = JSON.parse(readFileSync(kubeconfig, 'utf8')) as Obj;
  kc.contexts.push({ name: 'shop-ctx', context: { ...kc.contexts[0].context, namespace: 'shop' } });
  twoContexts = path.join(scratch, 'two-contexts.json');
  writeFileSync(twoContexts, JSON.stringify(kc));
  npmBin = binDir('npm-bin', path.join(ROOT, 'build', 'src', 'cli.js'), path.join(ROOT, 'build', 'src', 'completeCli.js'));
  // the standalone layout: entry.js under both names (a link named kubectl_complete-pyheap)
  const links = path.join(scratch, 'links');
  mkdirSync(links);
  symlinkSync(path.join(ROOT, 'build', 'src', 'entry.js'), path.join(links, 'kubectl-pyheap'));
  symlinkSync(path.join(ROOT, 'build', 'src', 'entry.js'), path.join(links, 'kubectl_complete-pyheap'));
  seaLikeBin = binDir('entry-bin', path.join(links, 'kubectl-pyheap'), path.join(links, 'kubectl_complete-pyheap'));
});

after(async () => {
  await cluster?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

interface Completion {
  candidates: string[];
  directive: number;
  stderr: string;
}
interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without blocking this process: the emulated API server runs in it. */
function run(cmd: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    // a slow machine (and the emulator beside it) gets a request bound with room to spare
    execFile(cmd, args, { encoding: 'utf8', timeout: 90_000, env: { HOME: scratch, KUBECTL_PYHEAP_COMPLETE_TIMEOUT: '60s', ...env } }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** `kubectl __complete pyheap WORDS...`: the candidates (without descriptions) and the directive. */
async function kubectlComplete(bin: string, words: string[], env: Record<string, string> = { KUBECONFIG: kubeconfig }): Promise<Completion> {
  const r = await run(KUBECTL, ['__complete', 'pyheap', ...words], { PATH: `${bin}:/usr/bin:/bin`, ...env });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter(Boolean);
  const last = lines.pop() ?? '';
  assert.match(last, /^:\d+$/, `no directive line in ${JSON.stringify(r.stdout)}`);
  return { candidates: lines.map((l) => l.split('\t')[0]!), directive: Number(last.slice(1)), stderr: r.stderr };
}

const names = async (bin: string, words: string[], env?: Record<string, string>) => (await kubectlComplete(bin, words, env)).candidates;

describe('kubectl __complete pyheap, against the emulated cluster', { skip, timeout: 120_000 }, () => {
  it('kubectl finds kubectl_complete-pyheap and passes it the words', async () => {
    const c = await kubectlComplete(npmBin, ['']);
    assert.match(c.stderr, /About to call: .*\/kubectl_complete-pyheap $/m);
    assert.equal(c.directive, 4);
  });

  it('TARGET: the live pods (not finished ones, not agent pods) and the workloads, then the subcommand', async () => {
    const web = (await call(fromKubeconfig(kubeconfig), 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')).body.items[0].metadata.name as string;
    const workers = 'workers-0';
    const c = await kubectlComplete(npmBin, ['']);
    assert.deepEqual(c.candidates, [...['census', 'duo', web, workers].sort(), 'deploy/web', 'sts/workers', 'analyze']);
    assert.deepEqual(await names(npmBin, ['d']), ['duo', 'deploy/web']);
    assert.deepEqual(await names(npmBin, ['deploy/']), ['deploy/web']);
    assert.deepEqual(await names(npmBin, ['sts/']), ['sts/workers']);
    assert.deepEqual(await names(npmBin, ['pod/c']), ['pod/census']);
    assert.deepEqual(await names(npmBin, ['ds/']), []);
  });

  it('-n and --namespace: the namespaces; the pods of the namespace typed', async () => {
    const ns = await kubectlComplete(npmBin, ['-n', '']);
    assert.deepEqual(ns.candidates, ['default', 'kube-node-lease', 'kube-public', 'kube-system', 'shop']);
    assert.equal(ns.directive, 4);
    assert.deepEqual(await names(npmBin, ['--namespace', 'sh']), ['shop']);
    assert.deepEqual(await names(npmBin, ['--namespace=k']), ['kube-node-lease', 'kube-public', 'kube-system']);
    assert.deepEqual(await names(npmBin, ['-n', 'shop', '']), ['cart-1', 'analyze']);
    assert.deepEqual(await names(npmBin, ['--agent-namespace', 's']), ['shop']);
  });

  it('-c and --container: the containers of the pod, workload or selector typed before', async () => {
    assert.deepEqual(await names(npmBin, ['duo', '-c', '']), ['app', 'sidecar']);
    assert.deepEqual(await names(npmBin, ['pod/duo', '--container', 's']), ['sidecar']);
    assert.deepEqual(await names(npmBin, ['deploy/web', '-c', '']), ['app', 'proxy']);
    assert.deepEqual(await names(npmBin, ['-l', 'app=duo', '-c', '']), ['app', 'sidecar']);
    assert.deepEqual(await names(npmBin, ['-n', 'shop', 'cart-1', '-c', '']), ['cart']);
    assert.deepEqual(await names(npmBin, ['nosuchpod', '-c', '']), []);
  });

  it('-l: the labels of the pods', async () => {
    assert.deepEqual(await names(npmBin, ['-l', 'ti']), ['tier=front']);
    assert.deepEqual(await names(npmBin, ['-l', 'app=duo,t']), ['app=duo,tier=front']);
  });

  it('--context: the contexts of the kubeconfig; a context typed is the one used', async () => {
    const env = { KUBECONFIG: twoContexts };
    assert.deepEqual(await names(npmBin, ['--context', ''], env), ['pyheap-emulator', 'shop-ctx']);
    assert.deepEqual(await names(npmBin, ['--context', 'shop-ctx', ''], env), ['cart-1', 'analyze']);
    assert.deepEqual(await names(npmBin, ['--context=shop-ctx', '-n', 'default', 'c'], env), ['census']);
  });

  it('--kubeconfig typed on the command line is honoured (no KUBECONFIG)', async () => {
    const c = await kubectlComplete(npmBin, ['--kubeconfig', twoContexts, '--context', 'shop-ctx', ''], {});
    assert.deepEqual(c.candidates, ['cart-1', 'analyze']);
    assert.deepEqual(await names(npmBin, ['--kubeconfig', twoContexts, '--context', ''], {}), ['pyheap-emulator', 'shop-ctx']);
    // without any kubeconfig: no pods, exit 0
    assert.deepEqual(await names(npmBin, [''], { KUBECONFIG: path.join(scratch, 'none') }), ['analyze']);
  });

  it('flags, with descriptions for the shells that show them', async () => {
    const r = await run(KUBECTL, ['__complete', 'pyheap', '--cont'], { PATH: `${npmBin}:/usr/bin:/bin`, KUBECONFIG: kubeconfig });
    assert.deepEqual(r.stdout.split('\n').sort(), ['', '--container\tcontainer (default: the default-container annotation, else the only one)', '--context\tkubeconfig context to use', ':4']);
    const all = await names(npmBin, ['-']);
    for (const f of ['-n', '--namespace', '-c', '--container', '--context', '--kubeconfig', '-l', '--script', '--dry-run', '--all-pods']) assert.ok(all.includes(f), f);
    assert.ok(!(await names(npmBin, ['-n', 'shop', '--'])).includes('--namespace'));
  });

  it('file arguments leave the completion to the shell: *.py for --script, directories for --out-dir', async () => {
    const py = await kubectlComplete(npmBin, ['census', '--script', '']);
    assert.deepEqual([py.candidates, py.directive], [['py'], 8]);
    assert.equal((await kubectlComplete(npmBin, ['--out-dir', ''])).directive, 16);
    assert.equal((await kubectlComplete(npmBin, ['--kubeconfig', ''])).directive, 0);
  });

  it('the standalone layout: entry.js is the completion under the name kubectl_complete-pyheap, the CLI otherwise', async () => {
    assert.deepEqual(await names(seaLikeBin, ['duo', '-c', '']), ['app', 'sidecar']);
    assert.deepEqual(await names(seaLikeBin, ['-n', 'sh']), ['shop']);
    const help = await run(KUBECTL, ['pyheap', '--help'], { PATH: `${seaLikeBin}:/usr/bin:/bin` });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: kubectl pyheap TARGET/);
    // __complete as the first argument means the same (the wrapper script of the Unix archives)
    const direct = await run(process.execPath, [path.join(ROOT, 'build', 'src', 'entry.js'), '__complete', '--namespace', 'sh'], { PATH: '/usr/bin:/bin', KUBECONFIG: kubeconfig });
    assert.equal(direct.stdout, 'shop\n:4\n');
  });

  it("bash: kubectl's own completion script completes `kubectl pyheap ...` through the plugin", async () => {
    // bash-completion's _get_comp_words_by_ref, reduced to what kubectl's script asks of it
    const script = `
      _get_comp_words_by_ref() { cur="\${COMP_WORDS[COMP_CWORD]}"; prev="\${COMP_WORDS[COMP_CWORD-1]}"; words=("\${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
      source <(kubectl completion bash)
      complete_line() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=\${#COMP_LINE}; COMPREPLY=(); __start_kubectl 2>/dev/null; printf '%s\\n' "\${COMPREPLY[@]}" | sort; echo --; }
      complete_line kubectl pyheap ce
      complete_line kubectl pyheap -n sh
      complete_line kubectl pyheap duo -c si
      complete_line kubectl pyheap deploy/
    `;
    const r = await run('bash', ['-c', script], { PATH: `${npmBin}:/usr/bin:/bin`, KUBECONFIG: kubeconfig });
    assert.equal(r.status, 0, r.stderr);
    const [ce, sh, si, deploy] = r.stdout.split('--\n').map((s) => s.trim());
    assert.equal(ce, 'census');
    assert.equal(sh, 'shop');
    assert.equal(si, 'sidecar');
    assert.equal(deploy, 'deploy/web');
  });
});
