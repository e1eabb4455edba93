// Least privilege: kubectl pyheap run as a user who has exactly what manifests/rbac.yaml grants,
// on the emulated cluster enforcing RBAC (tools/cluster/rbac.ts). Every flow works with it (a
// census with the agent in pyheap-agents or, where bound, in the target's namespace, deploy/,
// -l --all-pods, sts/, ds/, rs/, --dry-run, --cleanup); then each permission of rbac.yaml is
// removed in turn: exit code 9, one line naming the verb, the resource and the namespace, no
// agent pod left, the target unharmed. Without the pre-flight (SelfSubjectAccessReview
// refused), a pod the plugin cannot delete is reported as left behind, naming --cleanup.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAll } from 'js-yaml';
import { AGENT_IMAGE, startCluster, withFixtures } from '../tools/cluster/index.js';
import { Rbac, rbacObjects, type RbacPolicy } from '../tools/cluster/rbac.js';
import { ApiError } from '../tools/cluster/status.js';
import { ptraceSkip } from './support/ptrace.js';
import { ROOT } from './support/cli.js';
import { call, type Kube } from './support/kube.js';
import { agentTmpDir, settleZombies, agentPods, assertUnharmed, bundleDirsLeft, containerPid, fixture, oneLineError, pyheap, type KubeFixture } from './kube-support.js';

type Obj = Record<string, any>;

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-kube-rbac-'));
const RBAC_TEXT = readFileSync(path.join(ROOT, 'manifests', 'rbac.yaml'), 'utf8');
const RBAC = rbacObjects(RBAC_TEXT);
const AGENT_NS = (loadAll(RBAC_TEXT) as Obj[]).find((d) => d.kind === 'Namespace')!;
/** The user rbac.yaml binds: the cluster's user is given that name. */
const USER = RBAC.find((o) => o.kind === 'RoleBinding')!.subjects[0].name as string;
const AGENTS = AGENT_NS.metadata.name as string;
const ADMIN_TOKEN = randomBytes(24).toString('hex');

let f: KubeFixture;
let agentTmp = '';
let admin: Kube;
let rsName = '';
const rows: { removed: string; command: string; code: number; message: string }[] = [];

const python = (markers: number) => [{ name: 'py', image: 'python:3.13', command: ['python', '/app/census_target.py', String(markers), '1'], securityContext: { runAsUser: 1000 } }];
const template = (app: string, markers: number) => ({ metadata: { labels: { app } }, spec: withFixtures({ containers: python(markers) }) });

/** Loads an RBAC policy: these objects for the test user, and an admin token for the checks. */
async function policy(objects: Obj[]): Promise<void> {
  const body: RbacPolicy = { objects, users: [{ token: ADMIN_TOKEN, name: 'emulator-admin', groups: ['system:masters'] }] };
  const r = await call(f.k, 'POST', '/__emulator/rbac', body);
  assert.equal(r.code, 200, r.text);
}

/** rbac.yaml without one permission: `verb` on `resource` of `group` in ClusterRole `role`. */
function without(role: string, group: string, resource: string, verb: string): Obj[] {
  const objs = structuredClone(RBAC);
  const cr = objs.find((o) => o.kind === 'ClusterRole' && o.metadata.name === role)!;
  cr.rules = (cr.rules as Obj[]).flatMap((r) => {
    if (!r.apiGroups.includes(group) || !r.resources.includes(resource)) return [r];
    const rest = { ...r, resources: r.resources.filter((x: string) => x !== resource) };
    const verbs = r.verbs.filter((v: string) => v !== verb);
    return [...(rest.resources.length ? [rest] : []), ...(verbs.length ? [{ ...r, resources: [resource], verbs }] : [])];
  });
  return objs;
}

/** The agent role bound in the target's namespace too, so the agent may run there. */
const agentInDefault = (): Obj[] => [
  ...RBAC,
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'kubectl-pyheap-agent', namespace: 'default' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: USER }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kubectl-pyheap-agent' },
  },
];

const errorLine = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('error:')) ?? '';

async function run(removed: string, args: string[]) {
  const r = await pyheap(f, args);
  rows.push({ removed, command: `kubectl pyheap ${args.join(' ')}`, code: r.code, message: r.code === 0 ? '(ok)' : errorLine(r.stderr) });
  return r;
}

const leftover = (name: string) =>
  call(admin, 'POST', `/api/v1/namespaces/${AGENTS}/pods`, {
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'kubectl-pyheap', 'app.kubernetes.io/instance': 'deadbeef' } },
    spec: { nodeName: 'emulated-node-1', hostPID: true, restartPolicy: 'Never', containers: [{ name: 'agent', image: AGENT_IMAGE, command: ['sleep', '600'] }] },
  });

before(async () => {
  if (skip) return;
  const cluster = await startCluster({
    user: USER,
    switches: { agentStartDelayMs: 50, agentTmpDir: (agentTmp = agentTmpDir(scratch)) },
    objects: [
      AGENT_NS,
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app', namespace: 'default' }, spec: withFixtures({ restartPolicy: 'Never', containers: python(222) }) },
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: template('web', 50) } },
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db', namespace: 'default' },
        spec: { replicas: 1, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template('db', 7) },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'node-agent', namespace: 'default' },
        spec: { selector: { matchLabels: { app: 'node-agent' } }, template: template('node-agent', 9) },
      },
    ],
  });
  f = fixture(cluster, scratch);
  admin = { ...f.k, token: ADMIN_TOKEN };
  await policy(RBAC);
  f = { ...f, k: admin }; // the harness's own checks (agent pods left, ...) as an admin
  const rs = await call(admin, 'GET', '/apis/apps/v1/namespaces/default/replicasets');
  rsName = (rs.body.items as Obj[]).find((x) => x.metadata.ownerReferences?.[0]?.name === 'web')!.metadata.name;
});

after(async () => {
  if (rows.length) {
    const cols = ['rule removed', 'command', 'exit', 'message'] as const;
    const cells = rows.map((r) => [r.removed, r.command, String(r.code), r.message]);
    const width = cols.map((c, i) => Math.max(c.length, ...cells.map((x) => x[i]!.length)));
    const line = (xs: readonly string[]) => xs.map((x, i) => (i === xs.length - 1 ? x : x.padEnd(width[i]!))).join(' | ');
    process.stderr.write(
      `\nkubectl pyheap with manifests/rbac.yaml, one permission removed at a time:\n${line(cols)}\n${line(width.map((w, i) => '-'.repeat(i === 3 ? 7 : w)))}\n${cells.map(line).join('\n')}\n\n`,
    );
  }
  await f?.cluster.stop();
  await settleZombies();
  rmSync(scratch, { recursive: true, force: true });
});

describe('kubectl pyheap with exactly manifests/rbac.yaml', { skip, timeout: 180_000 }, () => {
  it('the emulator enforces it: the user may do what it grants, and nothing else', async () => {
    const user = f.cluster;
    const asUser: Kube = { ...admin, token: user.token };
    assert.equal((await call(asUser, 'GET', '/api/v1/namespaces/default/pods/app')).code, 200);
    const denied = await call(asUser, 'GET', '/api/v1/namespaces/kube-system/pods');
    assert.equal(denied.code, 403);
    assert.equal(denied.body.message, `pods is forbidden: User "${USER}" cannot list resource "pods" in API group "" in the namespace "kube-system"`);
    assert.equal((await call(asUser, 'GET', '/api/v1/pods')).body.message, `pods is forbidden: User "${USER}" cannot list resource "pods" in API group "" at the cluster scope`);
    assert.equal((await call(asUser, 'DELETE', '/api/v1/namespaces/default/pods/app')).code, 403, 'the target cannot be deleted');
    assert.equal((await call(asUser, 'GET', '/api/v1/nodes')).code, 403);
    const review = await call(asUser, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      spec: { resourceAttributes: { namespace: AGENTS, verb: 'create', resource: 'pods', subresource: 'exec' } },
    });
    assert.deepEqual([review.code, review.body.status.allowed], [201, true]);
    const no = await call(asUser, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { spec: { resourceAttributes: { namespace: 'default', verb: 'create', resource: 'pods' } } });
    assert.equal(no.body.status.allowed, false);
    assert.equal((await call(admin, 'GET', '/api/v1/pods')).code, 200, 'the admin token is in system:masters');
  });

  it('every flow works: census with --agent-namespace, deploy/, -l --all-pods, sts/ ds/ rs/ --dry-run, --cleanup', async () => {
    const pid = await containerPid(f, 'app');
    const ns = ['--agent-namespace', AGENTS];
    const census = await run('(none)', ['app', ...ns, '-o', 'json']);
    assert.equal(census.code, 0, census.stderr);
    const doc = JSON.parse(census.stdout);
    assert.equal(doc.types.find((x: Obj) => x.name === '__main__.Marker')?.count, 222);
    assert.deepEqual(bundleDirsLeft(doc.agent_pod, agentTmp), []);
    const deploy = await run('(none)', ['deploy/web', ...ns, '-o', 'json']);
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.equal(JSON.parse(deploy.stdout).types.find((x: Obj) => x.name === '__main__.Marker')?.count, 50);
    const all = await run('(none)', ['-l', 'app=web', '--all-pods', ...ns, '-o', 'json']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(JSON.parse(all.stdout).runs.length, 2);
    for (const t of ['app', 'sts/db', 'ds/node-agent', `rs/${rsName}`]) {
      const d = await run('(none)', [t, ...ns, '--dry-run', '-o', 'json']);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(JSON.parse(d.stdout).metadata.namespace, AGENTS);
    }
    assert.deepEqual(await agentPods(admin), []);
    assert.equal((await leftover('pyheap-agent-deadbeef')).code, 201);
    const clean = await run('(none)', ['--cleanup', '-n', AGENTS]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, new RegExp(`^pod/pyheap-agent-deadbeef deleted \\(namespace ${AGENTS}, `));
    // without -n: no right to list pods cluster-wide, so it looks in the context's namespace
    const here = await run('(none)', ['--cleanup']);
    assert.equal(here.code, 0, here.stderr);
    assert.equal(here.stdout, 'no kubectl-pyheap agent pods found in namespace default\n');
    assert.deepEqual(await agentPods(admin), []);
    await assertUnharmed(pid, 2);
  });

  it("the agent in the target's namespace: works where the agent role is bound there, else names the fix", async () => {
    const pid = await containerPid(f, 'app');
    const refused = await run('agent role not bound in default', ['app']);
    assert.equal(refused.code, 9, refused.stderr);
    oneLineError(
      refused.stderr,
      /error: cannot create pods in namespace default: RBAC refuses it, so the agent pod was not created; .* or run the agent where you may create pods with --agent-namespace NS/,
    );
    await policy(agentInDefault());
    try {
      const r = await run('(none; agent role bound in default too)', ['app', '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).types.find((x: Obj) => x.name === '__main__.Marker')?.count, 222);
    } finally {
      await policy(RBAC);
    }
    assert.deepEqual(await agentPods(admin), []);
    await assertUnharmed(pid, 2);
  });

  it('each permission of rbac.yaml removed in turn: exit 9, one line naming verb, resource and namespace, nothing left', async () => {
    const ns = ['--agent-namespace', AGENTS];
    // the command that needs each permission, and the namespace the refusal names
    const needs: Record<string, { args: string[]; where: string }> = {
      'kubectl-pyheap-user get pods': { args: ['app', ...ns], where: 'default' },
      'kubectl-pyheap-user list pods': { args: ['deploy/web', ...ns], where: 'default' },
      'kubectl-pyheap-user get deployments.apps': { args: ['deploy/web', ...ns], where: 'default' },
      'kubectl-pyheap-user get statefulsets.apps': { args: ['sts/db', ...ns], where: 'default' },
      'kubectl-pyheap-user get daemonsets.apps': { args: ['ds/node-agent', ...ns], where: 'default' },
      'kubectl-pyheap-user get replicasets.apps': { args: [`rs/${rsName}`, ...ns], where: 'default' },
      'kubectl-pyheap-agent create pods': { args: ['app', ...ns], where: AGENTS },
      'kubectl-pyheap-agent get pods': { args: ['app', ...ns], where: AGENTS },
      'kubectl-pyheap-agent delete pods': { args: ['app', ...ns], where: AGENTS },
      'kubectl-pyheap-agent list pods': { args: ['--cleanup', '-n', AGENTS], where: AGENTS },
      'kubectl-pyheap-agent create pods/exec': { args: ['app', ...ns], where: AGENTS },
      'kubectl-pyheap-agent get pods/exec': { args: ['app', ...ns], where: AGENTS },
    };
    const pid = await containerPid(f, 'app');
    const seen: string[] = [];
    for (const role of RBAC.filter((o) => o.kind === 'ClusterRole')) {
      for (const rule of role.rules as Obj[]) {
        for (const group of rule.apiGroups as string[]) {
          for (const resource of rule.resources as string[]) {
            for (const verb of rule.verbs as string[]) {
              const full = group ? `${resource}.${group}` : resource;
              const key = `${role.metadata.name} ${verb} ${full}`;
              seen.push(key);
              const need = needs[key];
              assert.ok(need, `rbac.yaml grants "${key}" but this test has no command that needs it`);
              await policy(without(role.metadata.name, group, resource, verb));
              const r = await run(key, need.args);
              assert.equal(r.code, 9, `${key}: ${r.stderr}`);
              oneLineError(r.stderr, new RegExp(`^error: cannot ${verb} ${full.replace('.', '\\.')} in namespace ${need.where}: RBAC refuses it`));
              assert.deepEqual(await agentPods(admin), [], `${key}: an agent pod was left behind`);
              assert.deepEqual(bundleDirsLeft(r.stderr, agentTmp), []);
              await assertUnharmed(pid, 2);
            }
          }
        }
      }
    }
    assert.deepEqual(seen.sort(), Object.keys(needs).sort(), 'a command of this test needs a permission rbac.yaml does not grant');
    await policy(RBAC);
  });

  it('no pre-flight (SelfSubjectAccessReview refused): refusals still clean up, and a pod that cannot be deleted is reported with --cleanup', async () => {
    const pid = await containerPid(f, 'app');
    const ns = ['--agent-namespace', AGENTS];
    await f.cluster.setSwitches({ forbidden: ['create selfsubjectaccessreviews'] });
    try {
      // refused by the dry run (nothing created), or after the pod exists: then it is deleted
      for (const [group, resource, verb] of [
        ['', 'pods', 'create'],
        ['', 'pods', 'get'],
        ['', 'pods/exec', 'get'],
      ] as const) {
        const key = `kubectl-pyheap-agent ${verb} ${resource} (no pre-flight)`;
        await policy(without('kubectl-pyheap-agent', group, resource, verb));
        const r = await run(key, ['app', ...ns]);
        assert.equal(r.code, 9, r.stderr);
        oneLineError(r.stderr, new RegExp(`^error: cannot ${verb} ${resource} in namespace ${AGENTS}: RBAC refuses it to user "${USER}"`));
        assert.deepEqual(await agentPods(admin), [], `${key}: an agent pod was left behind`);
        await assertUnharmed(pid, 2);
      }
      // no delete: the census works, the pod stays, and the message says so and how to remove it
      await policy(without('kubectl-pyheap-agent', '', 'pods', 'delete'));
      const r = await run('kubectl-pyheap-agent delete pods (no pre-flight)', ['app', ...ns]);
      assert.equal(r.code, 9, r.stderr);
      oneLineError(
        r.stderr,
        new RegExp(
          `^error: the agent pod ${AGENTS}/pyheap-agent-\\w+ could not be deleted \\(cannot delete pods in namespace ${AGENTS}: RBAC refuses it to user "${USER}"\\) and is left behind until its activeDeadlineSeconds \\(\\d+s\\) ends it; delete it with kubectl pyheap --cleanup -n ${AGENTS}`,
        ),
      );
      assert.equal((await agentPods(admin)).length, 1);
      assert.deepEqual(bundleDirsLeft(r.stderr, agentTmp), [], 'the agent cleaned up inside the pod');
      await assertUnharmed(pid, 2);
      // neither get nor delete: both in the one line
      await policy(
        without('kubectl-pyheap-agent', '', 'pods', 'delete').map((o) =>
          o.metadata.name === 'kubectl-pyheap-agent' && o.kind === 'ClusterRole'
            ? { ...o, rules: (o.rules as Obj[]).map((x) => (x.resources.includes('pods') ? { ...x, verbs: x.verbs.filter((v: string) => v !== 'get') } : x)) }
            : o,
        ),
      );
      const both = await run('kubectl-pyheap-agent get+delete pods (no pre-flight)', ['app', ...ns]);
      assert.equal(both.code, 9, both.stderr);
      oneLineError(
        both.stderr,
        new RegExp(
          `^error: cannot get pods in namespace ${AGENTS}: .*; and the agent pod ${AGENTS}/pyheap-agent-\\w+ could not be deleted \\(cannot delete pods .*\\) .*; .*then delete it with kubectl pyheap --cleanup -n ${AGENTS}`,
        ),
      );
      assert.equal((await agentPods(admin)).length, 2);
    } finally {
      await f.cluster.setSwitches({ forbidden: [] });
      await policy(RBAC);
    }
    // what the message says to do, with the permissions of rbac.yaml
    const clean = await run('(none)', ['--cleanup', '-n', AGENTS]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.stdout.match(/deleted/g)?.length, 2);
    assert.deepEqual(await agentPods(admin), []);
    await assertUnharmed(pid, 2);
  });
});

describe("the emulator's RBAC (tools/cluster/rbac.ts)", () => {
  const G = 'rbac.authorization.k8s.io';
  const role = (kind: string, name: string, rules: Obj[], namespace?: string) => ({ apiVersion: `${G}/v1`, kind, metadata: { name, ...(namespace ? { namespace } : {}) }, rules });
  const bind = (kind: string, name: string, roleKind: string, roleName: string, subjects: Obj[], namespace?: string) => ({
    apiVersion: `${G}/v1`,
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}) },
    subjects,
    roleRef: { apiGroup: G, kind: roleKind, name: roleName },
  });
  const rbac = new Rbac();
  rbac.set({
    objects: [
      role(
        'Role',
        'exec-one',
        [
          { apiGroups: [''], resources: ['*/exec'], verbs: ['get'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['one'] },
        ],
        'team',
      ),
      role('ClusterRole', 'reader', [{ apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list'] }]),
      bind('RoleBinding', 'a', 'Role', 'exec-one', [{ kind: 'User', name: 'ann' }], 'team'),
      bind('RoleBinding', 'b', 'ClusterRole', 'reader', [{ kind: 'Group', name: 'devs' }], 'team'),
      bind('ClusterRoleBinding', 'c', 'ClusterRole', 'reader', [{ kind: 'ServiceAccount', name: 'bot', namespace: 'ops' }]),
    ],
  });
  const ann = { user: 'ann', groups: ['system:authenticated'] };
  const dev = { user: 'dan', groups: ['devs', 'system:authenticated'] };
  const bot = { user: 'system:serviceaccount:ops:bot', groups: ['system:authenticated'] };
  const can = (id: typeof ann, verb: string, resource: string, namespace?: string, name?: string, sub?: string, group = '') =>
    rbac.allows(id, { verb, resource, group, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}), ...(sub ? { sub } : {}) });

  it('matches rules as the real authorizer: */subresource, resourceNames, a RoleBinding only in its namespace', () => {
    assert.equal(can(ann, 'get', 'pods', 'team', 'x', 'exec'), true);
    assert.equal(can(ann, 'create', 'pods', 'team', 'x', 'exec'), false);
    assert.equal(can(ann, 'get', 'pods', 'other', 'x', 'exec'), false);
    assert.equal(can(ann, 'get', 'pods', 'team', 'one'), true);
    assert.equal(can(ann, 'get', 'pods', 'team', 'two'), false);
    assert.equal(can(ann, 'list', 'pods', 'team'), false, 'resourceNames never match a list');
    assert.equal(can(dev, 'get', 'deployments', 'team', 'web', undefined, 'apps'), true);
    assert.equal(can(dev, 'get', 'pods', 'team', 'x', 'exec'), true, '"*" covers subresources');
    assert.equal(can(dev, 'delete', 'pods', 'team', 'x'), false);
    assert.equal(can(dev, 'list', 'pods'), false, 'a RoleBinding grants nothing at the cluster scope');
    assert.equal(can(bot, 'list', 'nodes'), true, 'a ClusterRoleBinding grants everywhere');
    assert.equal(can({ user: 'system:serviceaccount:other:bot', groups: [] }, 'list', 'nodes'), false);
    assert.equal(can({ user: 'root', groups: ['system:masters'] }, 'delete', 'namespaces', undefined, 'kube-system'), true);
    assert.equal(can(ann, 'create', 'selfsubjectaccessreviews', undefined, undefined, undefined, 'authorization.k8s.io'), true, 'system:basic-user');
  });

  it('refuses with the real message; a bad policy is refused whole', () => {
    assert.equal(
      rbac.check(ann, { verb: 'create', resource: 'pods', group: '', sub: 'exec', namespace: 'team', name: 'x' })?.message,
      'pods "x" is forbidden: User "ann" cannot create resource "pods/exec" in API group "" in the namespace "team"',
    );
    assert.equal(
      rbac.check(dev, { verb: 'list', resource: 'deployments', group: 'apps' })?.message,
      'deployments.apps is forbidden: User "dan" cannot list resource "deployments" in API group "apps" at the cluster scope',
    );
    const before = rbac.current();
    assert.throws(
      () => rbac.set({ objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }] }),
      (e: unknown) => e instanceof ApiError && e.code === 400,
    );
    assert.throws(() => rbac.set({ objects: [bind('ClusterRoleBinding', 'd', 'Role', 'exec-one', [])] }), /roleRef must name a ClusterRole/);
    assert.equal(rbac.current(), before);
    rbac.set(null);
    assert.equal(can(ann, 'delete', 'nodes', undefined, 'n1'), true, 'no policy: everything allowed');
  });
});
