// manifests/: the agent image's Dockerfile (no Docker engine here, so its structure is checked:
// a base pinned by tag, every tool agent.sh needs, no Python), the agent pod exactly as the
// plugin builds it, and the long-running python-tools alternative.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadAll } from 'js-yaml';
import { ROOT } from '../support/cli.js';
import { agentPodManifest, defaultAgentImage } from '../../src/agentpod/manifest.js';

type Obj = Record<string, any>;
const read = (f: string) => readFileSync(path.join(ROOT, 'manifests', f), 'utf8');
const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Dockerfile instructions, with continuation lines joined and comments dropped. */
function instructions(text: string): [string, string][] {
  const out: [string, string][] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!cur && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    cur += (cur ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (!line.endsWith('\\')) {
      const m = /^(\w+)\s+(.*)$/.exec(cur)!;
      out.push([m[1]!.toUpperCase(), m[2]!]);
      cur = '';
    }
  }
  return out;
}

describe('manifests/Dockerfile (the agent image)', () => {
  const ins = instructions(read('Dockerfile'));
  const run = ins
    .filter(([k]) => k === 'RUN')
    .map(([, v]) => v)
    .join(' ; ');

  it('starts from one base, pinned by a release tag (not latest, not untagged)', () => {
    const from = ins.filter(([k]) => k === 'FROM');
    assert.equal(from.length, 1);
    const m = /^([\w./-]+):([\w.-]+)(@sha256:[0-9a-f]{64})?$/.exec(from[0]![1]);
    assert.ok(m, `FROM ${from[0]![1]} has no tag`);
    assert.notEqual(m[2], 'latest');
    assert.match(m[1]!, /^(debian|alpine)$/, 'a small base');
  });

  const install = /apt-get install[^;]*/.exec(run)?.[0] ?? /apk add[^;]*/.exec(run)?.[0] ?? '';
  // the packages come from agent-packages.txt, which tools/images reads too
  assert.match(install, /\$\(sed 's\/#\.\*\/\/' \/tmp\/agent-packages\.txt\)/);
  assert.ok(ins.some(([k, v]) => k === 'COPY' && v === 'agent-packages.txt /tmp/agent-packages.txt'));
  const packages = read('agent-packages.txt')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);

  it('installs gdb and the tools agent.sh uses, and checks that they are there', () => {
    for (const pkg of ['gdb', 'tar', 'coreutils', 'mawk', 'dash']) assert.ok(packages.includes(pkg), `${pkg} is not installed (${packages.join(' ')})`);
    assert.match(install, /--no-install-recommends/);
    // the tools agent.sh and pod_session.sh call, checked in the image at build time
    const checked = /for t in ([^;]*); do/.exec(run)?.[1]?.split(/\s+/) ?? [];
    for (const tool of ['sh', 'tar', 'od', 'sha256sum', 'head', 'date', 'mktemp', 'wc', 'cut', 'tr', 'readlink', 'awk', 'timeout']) assert.ok(checked.includes(tool), `${tool} is not checked`);
    assert.match(run, /-lt 14/, 'the build refuses a gdb older than 14');
    assert.match(run, /rm -rf \/var\/lib\/apt\/lists/);
  });

  it('installs no Python, and fails the build if an interpreter appears', () => {
    assert.deepEqual(
      packages.filter((p) => /python/.test(p)),
      [],
      'python is installed',
    );
    assert.match(run, /ls \/usr\/bin\/python\* \/usr\/local\/bin\/python\*/);
    assert.deepEqual(
      ins.filter(([k]) => k === 'ENV').filter(([, v]) => /PYTHON/i.test(v)),
      [],
    );
  });

  it('keeps the container up for exec sessions', () => {
    assert.deepEqual(
      ins.filter(([k]) => k === 'CMD').map(([, v]) => JSON.parse(v)),
      [['sleep', '3600']],
    );
  });
});

describe('manifests/agent-pod.yaml', () => {
  const docs = loadAll(read('agent-pod.yaml')) as Obj[];

  it('is one Pod with every safety field of the agent pod', () => {
    assert.equal(docs.length, 1);
    const pod = docs[0]!;
    assert.equal(pod.apiVersion, 'v1');
    assert.equal(pod.kind, 'Pod');
    assert.equal(pod.metadata.labels['app.kubernetes.io/managed-by'], 'kubectl-pyheap');
    assert.equal(pod.metadata.annotations['sidecar.istio.io/inject'], 'false');
    assert.equal(pod.metadata.annotations['linkerd.io/inject'], 'disabled');
    const s = pod.spec;
    assert.equal(s.nodeName, 'NODE-NAME');
    assert.equal(s.hostPID, true);
    assert.equal(s.restartPolicy, 'Never');
    assert.equal(s.automountServiceAccountToken, false);
    assert.ok(Number.isInteger(s.activeDeadlineSeconds) && s.activeDeadlineSeconds > 0);
    assert.deepEqual(s.tolerations, [{ operator: 'Exists' }]);
    assert.equal(s.containers.length, 1);
    assert.equal(s.containers[0].securityContext.privileged, true);
    assert.equal(s.containers[0].image, `ghcr.io/kubectl-pyheap/agent:${version}`);
  });

  it('is exactly what the plugin builds (src/agentpod/manifest.ts)', () => {
    const mod = { agentPodManifest, defaultAgentImage };
    const pod = docs[0]!;
    assert.equal(pod.spec.containers[0].image, mod.defaultAgentImage());
    const built = mod.agentPodManifest({
      name: 'pyheap-agent-RUNID',
      namespace: 'TARGET-NAMESPACE',
      node: 'NODE-NAME',
      image: mod.defaultAgentImage(),
      runId: 'RUNID',
      deadlineSeconds: pod.spec.activeDeadlineSeconds,
      targets: ['TARGET-NAMESPACE/TARGET-POD'],
    });
    assert.deepEqual(pod, built, 'manifests/agent-pod.yaml and agentPodManifest() disagree: update the file');
  });
});

describe('manifests/python-tools.yaml', () => {
  const docs = loadAll(read('python-tools.yaml')) as Obj[];

  it('is a Namespace that allows privileged pods and a privileged hostPID Deployment of the agent image', () => {
    assert.deepEqual(
      docs.map((d) => `${d.apiVersion} ${d.kind}`),
      ['v1 Namespace', 'apps/v1 Deployment'],
    );
    const [ns, deploy] = docs as [Obj, Obj];
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
    assert.equal(deploy.metadata.name, 'python-tools');
    assert.equal(deploy.metadata.namespace, ns.metadata.name);
    assert.deepEqual(deploy.spec.selector.matchLabels, deploy.spec.template.metadata.labels);
    const s = deploy.spec.template.spec;
    assert.equal(s.hostPID, true);
    assert.equal(s.automountServiceAccountToken, false);
    assert.equal(s.containers[0].securityContext.privileged, true);
    assert.equal(s.containers[0].image, `ghcr.io/kubectl-pyheap/agent:${version}`);
  });

  it('is never taken for a leftover agent pod by kubectl pyheap --cleanup', () => {
    const labels = { ...docs[1]!.metadata.labels, ...docs[1]!.spec.template.metadata.labels };
    assert.equal(labels['app.kubernetes.io/managed-by'], undefined);
  });
});

describe('manifests/rbac.yaml', () => {
  const docs = loadAll(read('rbac.yaml')) as Obj[];
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind);

  it('is the agent namespace (Pod Security privileged), two ClusterRoles and their RoleBindings, nothing cluster-wide', () => {
    assert.deepEqual(
      docs.map((d) => `${d.apiVersion} ${d.kind} ${d.metadata.namespace ?? ''}/${d.metadata.name}`),
      [
        'v1 Namespace /pyheap-agents',
        'rbac.authorization.k8s.io/v1 ClusterRole /kubectl-pyheap-user',
        'rbac.authorization.k8s.io/v1 ClusterRole /kubectl-pyheap-agent',
        'rbac.authorization.k8s.io/v1 RoleBinding default/kubectl-pyheap-user',
        'rbac.authorization.k8s.io/v1 RoleBinding pyheap-agents/kubectl-pyheap-agent',
      ],
    );
    assert.equal(byKind('Namespace')[0]!.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
    for (const b of byKind('RoleBinding')) {
      assert.deepEqual(b.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: b.metadata.name });
      assert.equal(b.subjects.length, 1);
    }
  });

  it("grants exactly what the plugin uses: reads of targets, and the agent pod's lifecycle and exec", () => {
    const grants = (name: string) =>
      byKind('ClusterRole')
        .find((r) => r.metadata.name === name)!
        .rules.flatMap((r: Obj) => r.apiGroups.flatMap((g: string) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${v} ${g ? `${res}.${g}` : res}`))))
        .sort();
    assert.deepEqual(grants('kubectl-pyheap-user'), ['get daemonsets.apps', 'get deployments.apps', 'get pods', 'get replicasets.apps', 'get statefulsets.apps', 'list pods']);
    assert.deepEqual(grants('kubectl-pyheap-agent'), ['create pods', 'create pods/exec', 'delete pods', 'get pods', 'get pods/exec', 'list pods']);
    const yaml = read('rbac.yaml')
      .split('\n')
      .filter((l) => !/^\s*#/.test(l))
      .join('\n');
    assert.doesNotMatch(yaml, /"\*"|ClusterRoleBinding|watch|secrets|nodes|namespaces/);
  });
});

describe('.github/workflows/agent-image.yml (the release builds and pushes the agent image)', () => {
  const wf = (loadAll(readFileSync(path.join(ROOT, '.github', 'workflows', 'agent-image.yml'), 'utf8')) as Obj[])[0]!;
  const job = wf.jobs['agent-image'] as Obj;
  const steps = job.steps as Obj[];
  // ${{ ... }} and $VAR written out, so that the commands read as they run for tag v<version>
  const expand = (text: string) =>
    text
      .replace(/\$\{\{ *steps\.version\.outputs\.version *\}\}/g, version)
      .replace(/\$(IMAGE|PLATFORMS)/g, (_, k: string) => String(job.env[k]))
      .replace(/"/g, '');
  const build = steps.map((s) => expand(String(s.run ?? '')).replace(/\\\n\s*/g, ' ')).find((r) => r.includes('docker buildx build')) ?? '';
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const byHand = /```sh\n([^`]*docker buildx build[^`]*)```/.exec(readme)?.[1]?.replace(/\\\n\s*/g, ' ') ?? '';
  const platforms = (cmd: string) => /--platform (\S+)/.exec(cmd)?.[1];

  it('runs on a release tag, may push packages, and nothing more', () => {
    assert.deepEqual(Object.keys(wf.on), ['push']);
    assert.deepEqual(wf.on.push, { tags: ['v*'] });
    assert.deepEqual(wf.permissions, { contents: 'read', packages: 'write' });
  });

  it('builds manifests/Dockerfile for linux/amd64 and linux/arm64 and pushes the image the plugin runs by default', () => {
    assert.ok(build, 'no step runs docker buildx build');
    assert.equal(platforms(build), 'linux/amd64,linux/arm64');
    assert.match(build, / -f manifests\/Dockerfile manifests\s*$/);
    assert.match(build, / --push /);
    // the tag is the version of package.json: the image that manifests/agent-pod.yaml names
    const image = /-t (\S+)/.exec(build)?.[1];
    assert.equal(image, (loadAll(read('agent-pod.yaml')) as Obj[])[0]!.spec.containers[0].image);
    assert.equal(image, `ghcr.io/kubectl-pyheap/agent:${version}`);
  });

  it("refuses a tag that is not package.json's version, emulates arm64, checks both platforms were pushed", () => {
    const check = steps.find((s) => s.id === 'version')!;
    assert.match(check.run, /version=\$\{GITHUB_REF_NAME#v\}/);
    assert.match(check.run, /require\("\.\/package\.json"\)\.version/);
    assert.match(check.run, /exit 1/);
    const uses = steps.map((s) => s.uses).filter(Boolean) as string[];
    for (const u of uses) assert.match(u, /@v\d+$/, `${u} is not pinned to a release`);
    assert.ok(uses.some((u) => u.startsWith('docker/setup-qemu-action@')) && uses.some((u) => u.startsWith('docker/setup-buildx-action@')));
    assert.ok(steps.some((s) => /docker buildx imagetools inspect/.test(String(s.run)) && /Platform:/.test(String(s.run))));
  });

  it('the README gives the same build by hand: same Dockerfile, same platforms', () => {
    assert.ok(byHand, 'README has no docker buildx build block');
    assert.equal(platforms(byHand), platforms(build));
    assert.match(byHand, / -f manifests\/Dockerfile manifests\n/);
    assert.match(byHand, /docker buildx imagetools inspect/);
    assert.match(readme, /\.github\/workflows\/agent-image\.yml/);
  });
});
