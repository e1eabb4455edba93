// Connecting like kubectl: kubeconfig files merged with kubectl's rules, --context, the
// namespace from the context, --token/--server/--insecure-skip-tls-verify, and an exec
// credential plugin; the rules themselves as pure functions, then each against the emulator.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { applyOverrides, kubeconfigFiles, mergeKubeconfigs } from '../src/kube/kubeconfig.js';
import { parseTarget } from '../src/target/target.js';
import { startCluster } from '../tools/cluster/index.js';
import { fixture, oneLineError, pyheap, type KubeFixture } from './kube-support.js';
import { runCli } from './support/cli.js';

type Obj = Record<string, any>;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-kube-config-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const kc = (doc: Obj) => {
  const k = new KubeConfig();
  k.loadFromString(JSON.stringify(doc));
  return k;
};
const cluster = (name: string, server: string) => ({ name, cluster: { server } });
const ctx = (name: string, c: string, user: string, namespace?: string) => ({ name, context: { cluster: c, user, ...(namespace ? { namespace } : {}) } });

describe('kubeconfig rules (pure)', () => {
  const a = kc({ clusters: [cluster('c1', 'https://a:6443')], users: [{ name: 'u1', user: { token: 'A' } }], contexts: [ctx('one', 'c1', 'u1', 'team-a')], 'current-context': 'one' });
  const b = kc({
    clusters: [cluster('c1', 'https://b:6443'), cluster('c2', 'https://c2:6443')],
    users: [
      { name: 'u1', user: { token: 'B' } },
      { name: 'u2', user: { exec: { command: 'get-token' } } },
    ],
    contexts: [ctx('two', 'c2', 'u2')],
    'current-context': 'two',
  });
  const merged = mergeKubeconfigs([a, b], () => new KubeConfig());

  it('KUBECONFIG merge: the first file to define a name wins, and the first current-context', () => {
    assert.equal(merged.getCluster('c1')?.server, 'https://a:6443');
    assert.equal(merged.getUser('u1')?.token, 'A');
    assert.equal(merged.getCluster('c2')?.server, 'https://c2:6443');
    assert.equal(merged.getCurrentContext(), 'one');
  });
  it("the namespace: -n, else the context's, else default", () => {
    assert.equal(applyOverrides(merged, {}, ['f'], () => new KubeConfig()).namespace, 'team-a');
    assert.equal(applyOverrides(merged, { namespace: 'x' }, ['f'], () => new KubeConfig()).namespace, 'x');
    assert.equal(applyOverrides(merged, { context: 'two' }, ['f'], () => new KubeConfig()).namespace, 'default');
  });
  it('--context, --cluster and --user choose; an unknown one lists the known ones', () => {
    const s = applyOverrides(merged, { context: 'two', user: 'u1' }, ['f'], () => new KubeConfig());
    assert.equal(s.server, 'https://c2:6443');
    assert.equal(s.kc.getCurrentUser()?.token, 'A');
    assert.throws(
      () => applyOverrides(merged, { context: 'nope' }, ['f'], () => new KubeConfig()),
      (e: Obj) => e.message === 'context "nope" is not in f' && e.hint === 'pick one of: one, two',
    );
  });
  it('--server, --token and --insecure-skip-tls-verify override; a token replaces the exec plugin; the CA goes', () => {
    const withCa = kc({
      clusters: [{ name: 'c', cluster: { server: 'https://x', 'certificate-authority-data': 'Q0E=' } }],
      users: [{ name: 'u', user: { exec: { command: 'p' } } }],
      contexts: [ctx('c', 'c', 'u')],
      'current-context': 'c',
    });
    const s = applyOverrides(withCa, { server: 'https://y:1/', token: 'T', insecureSkipTlsVerify: true }, ['f'], () => new KubeConfig());
    const c = s.kc.getCurrentCluster()!;
    assert.deepEqual([c.server, c.skipTLSVerify, c.caData], ['https://y:1', true, undefined]);
    assert.deepEqual([s.kc.getCurrentUser()?.token, s.kc.getCurrentUser()?.exec], ['T', undefined]);
  });
  it('no kubeconfig at all: --server is enough; nothing: an error saying what to do', () => {
    assert.equal(applyOverrides(new KubeConfig(), { server: 'https://z' }, [], () => new KubeConfig()).server, 'https://z');
    assert.throws(() => applyOverrides(new KubeConfig(), {}, [], () => new KubeConfig()), /no kubeconfig found.*no --server/);
    assert.deepEqual(kubeconfigFiles({}, { KUBECONFIG: `/nonexistent${path.delimiter}${path.delimiter}/also-not` }), [], 'missing KUBECONFIG files are skipped, as kubectl does');
  });
  it('--as-group needs --as, as in kubectl', () => {
    assert.throws(() => applyOverrides(merged, { asGroup: ['g'] }, ['f'], () => new KubeConfig()), /--as-group needs --as/);
    assert.deepEqual(applyOverrides(merged, { as: 'me', asGroup: ['g1', 'g2'] }, ['f'], () => new KubeConfig()).headers, { 'Impersonate-Group': ['g1', 'g2'] });
  });
  it('targets', () => {
    assert.deepEqual(parseTarget('web-1'), { kind: 'pod', name: 'web-1' });
    assert.deepEqual(parseTarget('po/web-1'), { kind: 'pod', name: 'web-1' });
    assert.deepEqual(parseTarget('deployment.apps/web'), { kind: 'workload', resource: 'deployments', name: 'web' });
    assert.deepEqual(parseTarget('sts/db'), { kind: 'workload', resource: 'statefulsets', name: 'db' });
    assert.deepEqual(parseTarget('ds/agent'), { kind: 'workload', resource: 'daemonsets', name: 'agent' });
    assert.throws(
      () => parseTarget('svc/web'),
      (e: Obj) => /is not understood/.test(e.message) && /^use pid\/<PID> .*deploy\/NAME/.test(e.hint),
    );
    assert.throws(() => parseTarget('Web_1'), /is not understood/);
  });
});

describe('connecting to the emulated cluster like kubectl', { skip: process.getuid?.() === 0 ? false : 'needs root' }, () => {
  let f: KubeFixture;
  let emu: Obj;
  const pod = (name: string, namespace: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'main', image: 'debian:12', command: ['sleep', '3600'] }] },
  });
  before(async () => {
    const c = await startCluster({
      objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }, pod('solo', 'default'), pod('shopper', 'shop')],
      switches: { agentStartDelayMs: 50 },
    });
    f = fixture(c, scratch);
    emu = JSON.parse(readFileSync(c.kubeconfigPath, 'utf8')) as Obj;
  });
  after(() => f?.cluster.stop());

  const write = (name: string, doc: Obj) => {
    const p = path.join(scratch, name);
    writeFileSync(p, JSON.stringify(doc));
    return p;
  };
  const cli = (args: string[], env: Record<string, string>) => runCli([...args, '--out-dir', f.out()], { env: { HOME: scratch, ...env } });
  const dryRunNamespace = (stdout: string) => (JSON.parse(stdout) as Obj).metadata.namespace;

  it('--context picks a context, whose namespace is the default one', async () => {
    const file = write('contexts.json', {
      ...emu,
      clusters: [...emu.clusters, { name: 'dead', cluster: { server: 'https://127.0.0.1:1' } }],
      contexts: [ctx('dead', 'dead', emu.users[0].name), ctx('emu-shop', emu.clusters[0].name, emu.users[0].name, 'shop')],
      'current-context': 'dead',
    });
    const r = await cli(['shopper', '--context', 'emu-shop', '--dry-run', '-o', 'json'], { KUBECONFIG: file });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dryRunNamespace(r.stdout), 'shop');
    const dead = await cli(['shopper', '--dry-run'], { KUBECONFIG: file });
    assert.equal(dead.code, 9, dead.stderr);
    oneLineError(dead.stderr, /error: cannot reach the API server at https:\/\/127\.0\.0\.1:1 \(connection refused\).*; check --context\/--server/);
  });

  it("KUBECONFIG lists are merged with kubectl's rules (first definition wins)", async () => {
    const first = write('first.json', { apiVersion: 'v1', kind: 'Config', users: emu.users, contexts: emu.contexts, 'current-context': emu['current-context'] });
    const second = write('second.json', {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: emu.clusters,
      users: [{ name: emu.users[0].name, user: { token: 'wrong' } }],
      contexts: [],
      'current-context': 'elsewhere',
    });
    const r = await cli(['solo', '--dry-run', '-o', 'json'], { KUBECONFIG: [first, '/nonexistent', second].join(path.delimiter) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dryRunNamespace(r.stdout), 'default');
  });

  it('--server, --token and --insecure-skip-tls-verify without any kubeconfig', async () => {
    const none = { KUBECONFIG: path.join(scratch, 'none') };
    const base = ['--cleanup', '--server', f.cluster.server];
    const ok = await cli([...base, '--token', f.cluster.token, '--insecure-skip-tls-verify'], none);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /no kubectl-pyheap agent pods found in all namespaces/);
    const untrusted = await cli([...base, '--token', f.cluster.token], none);
    assert.equal(untrusted.code, 9);
    oneLineError(untrusted.stderr, /error: the API server at https:\/\/127\.0\.0\.1:\d+ has a certificate this machine does not trust .*--insecure-skip-tls-verify/);
    const badToken = await cli([...base, '--token', 'nope', '--insecure-skip-tls-verify'], none);
    assert.equal(badToken.code, 9);
    oneLineError(badToken.stderr, /error: the API server did not accept the credentials \(401 Unauthorized\).*; log in again, or check --token/);
  });

  it('an exec credential plugin (users[].user.exec) provides the token; a failing one says so', async () => {
    const plugin = path.join(scratch, 'plugins', 'cred.sh');
    const failing = path.join(scratch, 'plugins', 'broken.sh');
    await import('node:fs').then((fs) => fs.mkdirSync(path.dirname(plugin), { recursive: true }));
    writeFileSync(plugin, `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"'"$PYHEAP_TEST_TOKEN"'"}}'\n`);
    writeFileSync(failing, '#!/bin/sh\necho "login expired: run sso-login" >&2\nexit 1\n');
    chmodSync(plugin, 0o755);
    chmodSync(failing, 0o755);
    const user = (command: string) => [
      { name: 'sso', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command, env: [{ name: 'PYHEAP_TEST_TOKEN', value: f.cluster.token }], interactiveMode: 'Never' } } },
    ];
    // a relative command with a slash is relative to the kubeconfig file, as in kubectl
    const file = write('exec.json', { ...emu, users: user('./plugins/cred.sh'), contexts: [ctx('sso', emu.clusters[0].name, 'sso')], 'current-context': 'sso' });
    const r = await cli(['solo', '--dry-run', '-o', 'json'], { KUBECONFIG: file });
    assert.equal(r.code, 0, r.stderr);
    const broken = write('broken.json', { ...emu, users: user(failing), contexts: [ctx('sso', emu.clusters[0].name, 'sso')], 'current-context': 'sso' });
    const b = await cli(['solo', '--dry-run'], { KUBECONFIG: broken });
    assert.equal(b.code, 9, b.stderr);
    oneLineError(b.stderr, /error: cannot get credentials for https:\/\/127\.0\.0\.1:\d+: login expired: run sso-login .*; check the kubeconfig user/);
  });

  it("-n wins over the context's namespace; a pod that is not there is exit code 3", async () => {
    const r = await pyheap(f, ['solo', '-n', 'shop', '--dry-run']);
    assert.equal(r.code, 3, r.stderr);
    oneLineError(r.stderr, /error: pod "solo" not found in namespace shop; check the name and -n/);
  });
});
