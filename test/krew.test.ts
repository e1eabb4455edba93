// The krew manifest: one template (.krew.yaml, krew-release-bot's syntax) renders both the
// release's pyheap.yaml and krew/pyheap.yaml; krew's rules accept it and refuse what krew
// refuses; and a krew install of the linux/amd64 archive, step for step, gives a plugin that
// the real kubectl lists and runs as `kubectl pyheap`.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { KREW_MANIFEST, KREW_TEMPLATE, parseManifest, renderTemplate, validateManifest, type KrewPlugin } from '../scripts/release/krew.js';
import { krewInstall } from '../scripts/release/krewInstall.js';
import { ROOT } from '../scripts/release/main.js';
import { archiveName, PLATFORMS, platformId } from '../scripts/release/platforms.js';
import { sharedRelease } from '../scripts/release/shared.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-krew-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const template = readFileSync(path.join(ROOT, KREW_TEMPLATE), 'utf8');
const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const fakeSha = (uri: string) => execFileSync('sha256sum', { input: uri }).toString().slice(0, 64);
const basename = (uri: string) => uri.slice(uri.lastIndexOf('/') + 1);
const clone = (doc: KrewPlugin): KrewPlugin => structuredClone(doc);

describe('the manifest template', () => {
  const all = renderTemplate(template, `v${version}`, fakeSha);
  const doc = parseManifest(all.text);

  it('renders a manifest krew accepts, one platform per archive the release builds', () => {
    assert.deepEqual(validateManifest('pyheap.yaml', doc), []);
    assert.equal(doc.spec?.version, `v${version}`);
    const built = PLATFORMS.filter((p) => !p.unsupported);
    assert.deepEqual(all.uris.map(basename).sort(), built.map((p) => archiveName(version, p)).sort(), 'the template and scripts/release/platforms.ts disagree');
    for (const p of doc.spec!.platforms!) {
      const plat = built.find((b) => archiveName(version, b) === basename(p.uri!))!;
      assert.deepEqual(p.selector, { matchLabels: { os: plat.os, arch: plat.arch } });
      assert.equal(p.bin, plat.exe);
      assert.deepEqual(p.files, [
        { from: plat.exe, to: '.' },
        { from: plat.completion.name, to: '.' },
        { from: 'LICENSE', to: '.' },
      ]);
      assert.match(p.uri!, new RegExp(`/releases/download/v${version.replace(/\./g, '\\.')}/`));
    }
  });

  it('leaves out a platform whose archive was not built, and nothing else', () => {
    const r = renderTemplate(template, `v${version}`, (uri) => (uri.includes('darwin') ? undefined : fakeSha(uri)));
    assert.equal(r.omitted.length, 1);
    const d = parseManifest(r.text);
    assert.deepEqual(validateManifest('pyheap.yaml', d), []);
    assert.deepEqual(
      d.spec?.platforms?.map((p) => p.selector?.matchLabels?.os),
      ['linux', 'linux', 'windows'],
    );
    assert.deepEqual({ ...d, spec: { ...d.spec, platforms: [] } }, { ...doc, spec: { ...doc.spec, platforms: [] } });
  });

  it(`${KREW_MANIFEST} is the template rendered (only the sha256 of its archives are its own)`, () => {
    const committed = readFileSync(path.join(ROOT, KREW_MANIFEST), 'utf8');
    const named = new Map((parseManifest(committed).spec?.platforms ?? []).map((p) => [p.uri!, p.sha256!]));
    const again = renderTemplate(template, parseManifest(committed).spec!.version!, (uri) => named.get(uri));
    assert.equal(committed, again.text, `${KREW_MANIFEST} drifted from ${KREW_TEMPLATE}: run npm run release`);
    assert.deepEqual(validateManifest(KREW_MANIFEST, parseManifest(committed)), []);
  });

  it('refuses what the template syntax does not support', () => {
    assert.throws(() => renderTemplate(`${template}\n# {{ .Version }}\n`, 'v1.0.0', fakeSha), /unsupported template action/);
  });

  // krew's rules, each broken once
  const broken: [string, (d: KrewPlugin) => void, RegExp, string?][] = [
    [
      'another apiVersion',
      (d) => {
        d.apiVersion = 'krew.googlecontainertools.github.com/v1alpha1';
      },
      /apiVersion/,
    ],
    [
      'another kind',
      (d) => {
        d.kind = 'Plugins';
      },
      /kind is Plugins/,
    ],
    [
      'a name that is not the file name',
      (d) => {
        d.metadata!.name = 'py-heap';
      },
      /metadata.name is py-heap/,
    ],
    ['a file not ending in .yaml', () => {}, /must end in \.yaml/, 'pyheap.yml'],
    [
      'a version without its v',
      (d) => {
        d.spec!.version = version;
      },
      /not semver with a leading v/,
    ],
    [
      'a version that is not semver',
      (d) => {
        d.spec!.version = 'v1.2';
      },
      /not semver/,
    ],
    [
      'no shortDescription',
      (d) => {
        delete d.spec!.shortDescription;
      },
      /shortDescription is missing/,
    ],
    [
      'a shortDescription of two lines',
      (d) => {
        d.spec!.shortDescription = 'one\ntwo';
      },
      /one line/,
    ],
    [
      'no description',
      (d) => {
        d.spec!.description = '';
      },
      /description is missing/,
    ],
    [
      'a long description line',
      (d) => {
        d.spec!.description = `${'word '.repeat(20)}\n`;
      },
      /over 80 characters/,
    ],
    [
      'no platforms',
      (d) => {
        d.spec!.platforms = [];
      },
      /platforms is empty/,
    ],
    [
      'a .tgz uri',
      (d) => {
        d.spec!.platforms![0]!.uri = 'https://example.invalid/a.tgz';
      },
      /neither \.tar\.gz nor \.zip/,
    ],
    [
      'an uppercase sha256',
      (d) => {
        d.spec!.platforms![0]!.sha256 = 'A'.repeat(64);
      },
      /64 lowercase hex/,
    ],
    [
      'a short sha256',
      (d) => {
        d.spec!.platforms![0]!.sha256 = 'a'.repeat(63);
      },
      /64 lowercase hex/,
    ],
    [
      'no bin',
      (d) => {
        delete d.spec!.platforms![0]!.bin;
      },
      /bin is missing/,
    ],
    [
      'no files',
      (d) => {
        d.spec!.platforms![0]!.files = [];
      },
      /files is empty/,
    ],
    [
      'an unclean files.to',
      (d) => {
        d.spec!.platforms![0]!.files![0]!.to = './bin/';
      },
      /clean relative to/,
    ],
    [
      'a Windows bin without .exe',
      (d) => {
        d.spec!.platforms!.at(-1)!.bin = 'kubectl-pyheap';
      },
      /must end in \.exe on Windows/,
    ],
    [
      'a selector on another key',
      (d) => {
        d.spec!.platforms![0]!.selector = { matchLabels: { os: 'linux', distro: 'debian' } };
      },
      /key distro is not supported/,
    ],
    [
      'no selector',
      (d) => {
        delete d.spec!.platforms![0]!.selector;
      },
      /selector is missing/,
    ],
    [
      'a selector matching nothing',
      (d) => {
        d.spec!.platforms![0]!.selector = { matchLabels: { os: 'plan9' } };
      },
      /matches no platform/,
    ],
    [
      'overlapping selectors',
      (d) => {
        d.spec!.platforms![1]!.selector = { matchExpressions: [{ key: 'os', operator: 'In', values: ['linux'] }] };
      },
      /all select linux\/amd64/,
    ],
  ];
  for (const [name, breakIt, pattern, file] of broken) {
    it(`refuses ${name}`, () => {
      const d = clone(doc);
      breakIt(d);
      const errors = validateManifest(file ?? 'pyheap.yaml', d);
      assert.ok(
        errors.some((e) => pattern.test(e)),
        `expected ${pattern}, got ${JSON.stringify(errors)}`,
      );
    });
  }
});

describe('a krew install of the linux/amd64 archive', { skip: process.platform === 'linux' && process.arch === 'x64' ? false : 'needs linux/amd64' }, () => {
  it('installs kubectl-pyheap with its LICENSE and completion; kubectl lists it and runs it as kubectl pyheap', async () => {
    const r = await sharedRelease((s) => process.stderr.write(`${s}\n`));
    const doc = parseManifest(readFileSync(r.manifest, 'utf8'));
    assert.deepEqual(validateManifest('pyheap.yaml', doc), []);
    const linux = r.built.find((b) => platformId(b.platform) === 'linux-amd64')!;
    const platform = doc.spec!.platforms!.find((p) => p.selector?.matchLabels?.os === 'linux' && p.selector.matchLabels.arch === 'amd64')!;
    assert.equal(basename(platform.uri!), path.basename(linux.archive));
    const krewRoot = path.join(scratch, 'krew');
    const installed = await krewInstall({ krewRoot, name: doc.metadata!.name!, version: doc.spec!.version!, platform, archive: linux.archive });
    assert.equal(installed.link, path.join(krewRoot, 'bin', 'kubectl-pyheap'));
    assert.deepEqual(installed.files.map((f) => path.relative(path.join(krewRoot, 'store', 'pyheap', `v${version}`), f)).sort(), ['LICENSE', 'kubectl-pyheap', 'kubectl_complete-pyheap']);

    // a tampered archive is refused
    await assert.rejects(
      krewInstall({ krewRoot: path.join(scratch, 'krew2'), name: 'pyheap', version: 'v0', platform: { ...platform, sha256: '0'.repeat(64) }, archive: linux.archive }),
      /checksum does not match/,
    );

    const kubectl = '/usr/bin/kubectl';
    assert.ok(existsSync(kubectl), 'kubectl is needed at /usr/bin/kubectl');
    const env = { PATH: `${path.join(krewRoot, 'bin')}:/usr/bin:/bin`, HOME: scratch, KUBECONFIG: path.join(scratch, 'no-kubeconfig') };
    const list = spawnSync(kubectl, ['plugin', 'list'], { env, encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.ok(list.stdout.split('\n').includes(installed.link), list.stdout);
    assert.doesNotMatch(list.stderr, /warning/i);
    const help = spawnSync(kubectl, ['pyheap', '--help'], { env, encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: kubectl pyheap TARGET/m);
    assert.doesNotMatch(help.stdout, /\$0/);

    // completion, enabled as the caveats say: a link next to krew's own; kubectl runs it
    const caveat = /^\s+(ln -s kubectl-pyheap "\$\{KREW_ROOT:-\$HOME\/\.krew\}\/bin\/kubectl_complete-pyheap")$/m.exec(doc.spec!.caveats!);
    assert.ok(caveat, doc.spec!.caveats);
    const ln = spawnSync('sh', ['-c', caveat[1]!], { env: { ...env, KREW_ROOT: krewRoot }, encoding: 'utf8' });
    assert.equal(ln.status, 0, ln.stderr);
    const flags = spawnSync(kubectl, ['__complete', 'pyheap', '--kubec'], { env, encoding: 'utf8' });
    assert.equal(flags.status, 0, flags.stderr);
    assert.match(flags.stdout, /^--kubeconfig\tkubeconfig file .*\n:4\n$/);
  });
});
