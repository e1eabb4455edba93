// The npm package, from the packed tarball and not the source tree: `npm pack` runs prepack
// (the build) in a copy of the sources, ships build/src, payloads, LICENSE and README and
// nothing else; `npm install -g` of the tarball into a fresh prefix, with the Node 24 of
// node_modules/.bin first on PATH, gives a kubectl-pyheap that counts a container-like target
// exactly; `npm exec` (npx) runs the same tarball.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, ROOT } from './support/cli.js';
import { liveTargets, startContainer } from './support/container.js';
import { healthy, tmpEntries } from './support/proc.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-npm-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    liveTargets().map((t) => t.pid),
    [],
    'a test left a target running',
  );
});

// the Node 24 that npm scripts get (the `node` devDependency), then the rest of this machine
const nodeBin = path.join(ROOT, 'node_modules', '.bin');
const PATH = `${nodeBin}:${process.env.PATH ?? '/usr/bin:/bin'}`;
const env = { ...process.env, PATH, NO_COLOR: '1', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function run(cmd: string, args: string[], cwd: string, timeoutMs = 300000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

interface PackInfo {
  filename: string;
  files: { path: string }[];
}

describe('npm pack, npm install -g, npx', () => {
  let tarball = '';
  let files: string[] = [];
  const prefix = path.join(scratch, 'prefix');
  // an npm cache of this test's own: npx would otherwise leave an install behind in ~/.npm/_npx
  const cache = path.join(scratch, 'npm-cache');

  before(async () => {
    // a copy of what a clean checkout has for packing; prepack builds it there, so that the
    // build/ of the running tests is never rewritten under them
    const src = path.join(scratch, 'src');
    mkdirSync(src);
    for (const f of ['package.json', 'tsconfig.json', 'LICENSE', 'README.md', 'src', 'payloads', 'scripts/report-asset.ts']) {
      cpSync(path.join(ROOT, f), path.join(src, f), { recursive: true, filter: (p) => !p.includes('__pycache__') });
    }
    // and a stray cache the package must not ship
    mkdirSync(path.join(src, 'payloads', '__pycache__'));
    cpSync(path.join(ROOT, 'LICENSE'), path.join(src, 'payloads', '__pycache__', 'x.cpython-313.pyc'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules'));
    const packed = await run('npm', ['pack', '--json', '--pack-destination', scratch], src);
    assert.equal(packed.code, 0, packed.stderr);
    const info = (JSON.parse(packed.stdout) as PackInfo[])[0]!;
    tarball = path.join(scratch, info.filename);
    files = info.files.map((f) => f.path).sort();
  });

  it('prepack built the code, and the tarball ships build/src, payloads, LICENSE and README only', () => {
    assert.ok(existsSync(tarball));
    for (const f of [
      'build/src/cli.js',
      'build/src/inject/payloads.js',
      'build/src/report/html/asset.js',
      'payloads/shell/agent.sh',
      'payloads/gdb/inject-x86_64.gdb',
      'payloads/python/pyheap_boot.py',
      'payloads/python/pyheap_census.py',
      'LICENSE',
      'README.md',
      'package.json',
    ]) {
      assert.ok(files.includes(f), `${f} is not in the package`);
    }
    const stray = files.filter((f) => !/^(build\/src\/|payloads\/|LICENSE$|README\.md$|package\.json$)/.test(f) || f.includes('__pycache__') || f.endsWith('.ts'));
    assert.deepEqual(stray, []);
  });

  it('npm install -g of the tarball gives kubectl-pyheap on PATH', async () => {
    const inst = await run('npm', ['install', '-g', `--cache=${cache}`, '--prefix', prefix, tarball], scratch);
    assert.equal(inst.code, 0, inst.stderr);
    const help = await run(path.join(prefix, 'bin', 'kubectl-pyheap'), ['--help'], scratch);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: kubectl pyheap TARGET/m);
  });

  const py = findInterpreters().find((p) => p.label.startsWith('debian')) ?? findInterpreters()[0];
  it('the installed command counts a container-like target exactly', { skip: ptraceSkip() || (!py && 'no Python interpreter') }, async () => {
    const t = await startContainer({ python: py!, script: path.join(FIXTURES, 'census_target.py'), args: ['1234', '5'], uid: 1000 });
    try {
      const res = await run(path.join(prefix, 'bin', 'kubectl-pyheap'), [`pid/${t.pid}`, '-o', 'json', '--out-dir', path.join(scratch, 'out'), '--timeout', '60s'], scratch, 120000);
      assert.equal(res.code, 0, res.stderr);
      const doc = JSON.parse(res.stdout) as { types: { name: string; count: number }[] };
      assert.equal(doc.types.find((x) => x.name === '__main__.Marker')?.count, 1234);
      // the page's script and styles came with the package: the report holds them inline
      const page = readFileSync(path.join(scratch, 'out', 'report.html'), 'utf8');
      assert.match(page, /__main__\.Marker/);
      assert.ok(page.length > 20_000, `report.html is only ${page.length} bytes: its script is missing`);
      for (let i = 0; i < 50 && tmpEntries(t.pid).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(healthy(t.pid), null);
      assert.deepEqual(tmpEntries(t.pid), []);
    } finally {
      await t.stop();
    }
  });

  it('npx runs the same tarball', async () => {
    // npx installs into <cache>/_npx/<hash of the spec>: the cache of this test, gone with it
    const res = await run('npm', ['exec', '--yes', `--cache=${cache}`, `--package=${tarball}`, '--', 'kubectl-pyheap', '--help'], scratch);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^Usage: kubectl pyheap TARGET/m);
  });
});
