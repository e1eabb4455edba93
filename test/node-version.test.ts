// A Node.js older than package.json's engines (npm install -g only warns): the command says in
// one line what to do and exits 2, before anything that needs a newer Node is imported; the
// completion offers nothing. Run with this machine's own older Node (Debian's /usr/bin/node).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MIN_NODE, nodeTooOld } from '../src/core/nodeVersion.js';
import { CLI, ROOT } from './support/cli.js';

/** An installed Node older than MIN_NODE: on PATH or at Debian's path, outside node_modules. */
function olderNode(): { bin: string; version: string } | undefined {
  const seen = new Set<string>();
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin']) {
    const bin = path.join(dir, 'node');
    if (!dir || dir.includes('node_modules') || seen.has(bin)) continue;
    seen.add(bin);
    try {
      const version = execFileSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
      if (nodeTooOld(version)) return { bin, version };
    } catch {
      /* not there */
    }
  }
  return undefined;
}

const old = olderNode();
const why = old ? false : 'no Node.js older than the engines field on this machine';
if (why && process.env.CI === 'true') throw new Error(`${why}: CI must run this test (Debian's nodejs package gives one)`);

describe('the Node.js version', () => {
  it("MIN_NODE is package.json's engines", () => {
    const engines = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).engines.node as string;
    assert.equal(engines, `>=${MIN_NODE.join('.')}`);
  });

  it('is compared by major and minor', () => {
    for (const v of ['20.20.2', '22.18.9', '21.99.0', '18.0.0']) assert.match(nodeTooOld(v)!, new RegExp(`needs Node\\.js 22\\.19 or newer, and this is Node\\.js ${v.replace(/\./g, '\\.')}`));
    for (const v of ['22.19.0', '22.20.1', '24.9.0', '25.0.0']) assert.equal(nodeTooOld(v), undefined);
  });

  for (const args of [['nosuchpod'], ['pid/1'], ['deploy/web', '--all-pods', '-o', 'json']]) {
    it(`an older Node.js: kubectl-pyheap ${args.join(' ')} says so in one line and exits 2`, { skip: why }, () => {
      const r = spawnSync(old!.bin, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', KUBECONFIG: '/nonexistent' } });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        `error: kubectl-pyheap needs Node.js 22.19 or newer, and this is Node.js ${old!.version}; install a newer Node.js, or use the standalone executable from the release (it needs no Node.js)\n`,
      );
    });
  }

  it('an older Node.js: the completion offers nothing and exits 0', { skip: why }, () => {
    const r = spawnSync(old!.bin, [path.join(ROOT, 'build', 'src', 'completeCli.js'), '-n', ''], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, ':4\n');
    assert.equal(r.stderr, '');
  });
});
