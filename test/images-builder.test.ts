// tools/images, the builder of the test images: which image names have a recipe, one cache
// entry per recipe (a changed recipe builds a new one), two builders of one image at once
// (one builds, the other waits and takes its result), a builder killed mid-build (its lock and
// temporary directory are recovered), an unknown image refused with a one-line error. These
// use recipes based on a small host directory; the real images are built by the tests that
// run them (images-pid.test.ts) and by `node build/tools/images/main.js build`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { ROOT } from './support/cli.js';
import { recipeNameFor } from '../tools/images/names.js';
import { agentPackages, recipes } from '../tools/images/recipes.js';

const MAIN = path.join(ROOT, 'build', 'tools', 'images', 'main.js');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-images-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}
interface Builder {
  pid: number;
  done: Promise<Run>;
  line(re: RegExp): Promise<void>;
  kill(): void;
}

function builder(args: string[], env: Record<string, string>): Builder {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  const lines: string[] = [];
  const waiters: [RegExp, () => void][] = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  createInterface({ input: child.stderr }).on('line', (l) => {
    lines.push(l);
    for (const w of [...waiters])
      if (w[0].test(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w[1]();
      }
  });
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr: lines.join('\n') })));
  return {
    pid: child.pid!,
    done,
    kill: () => child.kill('SIGKILL'),
    line: (re) =>
      lines.some((l) => re.test(l))
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push([re, resolve]);
            void done.then((r) => reject(new Error(`exited (${r.code}) before a line ${re}:\n${r.stderr}`)));
          }),
  };
}

/** A cache, a small base directory, and a recipe file with one image made from it. */
function fixture(text: string) {
  const dir = mkdtempSync(path.join(scratch, 'case-'));
  const base = path.join(dir, 'base');
  mkdirSync(path.join(base, 'etc'), { recursive: true });
  writeFileSync(path.join(base, 'etc', 'os-release'), 'ID=tiny\n');
  const recipeFile = path.join(dir, 'recipes.json');
  const write = (t: string) =>
    writeFileSync(recipeFile, JSON.stringify([{ name: 'tiny', what: 'a host directory', base: { dir: base }, packages: [], steps: [{ kind: 'write', path: '/etc/message', text: t }], checks: [] }]));
  write(text);
  const cache = path.join(dir, 'cache');
  const hold = path.join(dir, 'hold');
  return { cache, hold, write, env: { PYHEAP_IMAGE_CACHE: cache }, args: (...a: string[]) => [...a, '--recipes', recipeFile] };
}

const entries = (cache: string) => (existsSync(cache) ? readdirSync(cache).sort() : []);

describe('image names', () => {
  it('maps the names manifests use to recipes, and nothing else', () => {
    const table: [string, string | undefined][] = [
      ['ghcr.io/kubectl-pyheap/agent:0.1.0', 'agent'],
      ['ghcr.io/kubectl-pyheap/agent:latest', 'agent'],
      ['python:3.14', 'python-3.14'],
      ['python:3.15-slim', 'python-3.15'],
      ['docker.io/library/python:3.12-bookworm', 'python-3.12'],
      ['python:3.8.18-slim-bookworm', 'python-3.8'],
      ['python:3.13', 'python-3.13'],
      ['debian:12', 'debian-12'],
      ['debian:bookworm', 'debian-12'],
      ['debian:bookworm-slim', 'debian-12'],
      ['robustadev/debug-toolkit:v6.0', 'debug-toolkit-v6.0'],
      ['python:3.7', undefined],
      ['python:3', undefined],
      ['python', undefined],
      ['debian:13', undefined],
      ['robustadev/debug-toolkit:v7.0.1', undefined],
      ['busybox:1.36', undefined],
      ['ghcr.io/other/agent:1', undefined],
    ];
    for (const [image, want] of table) assert.equal(recipeNameFor(image), want, image);
    for (const [, want] of table)
      if (want)
        assert.ok(
          recipes().some((r) => r.name === want),
          want,
        );
  });

  it('the agent image is made from the package list that manifests/Dockerfile installs', () => {
    const agent = recipes().find((r) => r.name === 'agent')!;
    assert.deepEqual(agent.packages, agentPackages());
    assert.ok(agent.packages.includes('gdb') && !agent.packages.some((p) => /python/.test(p)));
    assert.ok('suite' in agent.base && agent.base.suite === 'trixie');
    const dockerfile = readFileSync(path.join(ROOT, 'manifests', 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM debian:trixie-slim$/m);
    assert.match(dockerfile, /^COPY agent-packages\.txt /m);
  });
});

describe('the image cache', () => {
  it('builds once, then reuses; a changed recipe is a new entry; prune removes the old one', async () => {
    const f = fixture('one');
    const first = await builder(f.args('build', 'tiny'), f.env).done;
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^tiny\tbuilt in [\d.]+ s\t\d+ MiB\t(\S+)\/rootfs$/m);
    const [entry] = entries(f.cache).filter((e) => !e.endsWith('.lock'));
    assert.match(entry!, /^tiny-[0-9a-f]{12}$/);
    assert.equal(readFileSync(path.join(f.cache, entry!, 'rootfs', 'etc', 'message'), 'utf8'), 'one');
    assert.equal(readFileSync(path.join(f.cache, entry!, 'rootfs', 'etc', 'os-release'), 'utf8'), 'ID=tiny\n');
    const info = JSON.parse(readFileSync(path.join(f.cache, entry!, 'image.json'), 'utf8'));
    assert.equal(info.name, 'tiny');
    assert.ok(info.bytes > 0 && info.buildSeconds > 0);

    const again = await builder(f.args('build', 'tiny'), f.env).done;
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^tiny\tcached\t/m);
    assert.deepEqual(entries(f.cache), [entry]);

    f.write('two');
    const changed = await builder(f.args('build', 'tiny'), f.env).done;
    assert.match(changed.stdout, /^tiny\tbuilt in /m);
    const now = entries(f.cache);
    assert.equal(now.length, 2);
    const fresh = now.find((e) => e !== entry)!;
    assert.equal(readFileSync(path.join(f.cache, fresh, 'rootfs', 'etc', 'message'), 'utf8'), 'two');
    assert.equal(readFileSync(path.join(f.cache, entry!, 'rootfs', 'etc', 'message'), 'utf8'), 'one', 'an entry never changes');

    const pruned = await builder(f.args('prune'), f.env).done;
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, new RegExp(`removing ${entry}`));
    assert.deepEqual(entries(f.cache), [fresh]);
  });

  it('two builders of one image at once: one builds, the other waits for it and takes its entry', async () => {
    const f = fixture('shared');
    const a = builder(f.args('build', 'tiny'), { ...f.env, PYHEAP_IMAGES_HOLD: f.hold });
    await a.line(/holding until/); // built, lock held, not yet renamed into place
    const b = builder(f.args('build', 'tiny'), f.env);
    await b.line(new RegExp(`waiting for PID ${a.pid}, which is building tiny-`));
    assert.deepEqual(
      entries(f.cache).filter((e) => !e.startsWith('.') && !e.endsWith('.lock')),
      [],
      'nothing in place yet',
    );
    writeFileSync(f.hold, '');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(ra.stdout, /^tiny\tbuilt in /m);
    assert.match(rb.stdout, /^tiny\tcached\t/m);
    const left = entries(f.cache);
    assert.equal(left.length, 1, `one entry, no lock, no temporary directory: ${left.join(' ')}`);
    assert.equal(readFileSync(path.join(f.cache, left[0]!, 'rootfs', 'etc', 'message'), 'utf8'), 'shared');
  });

  it('a builder killed mid-build: the next one breaks its lock, removes its leftovers and builds', async () => {
    const f = fixture('again');
    const a = builder(f.args('build', 'tiny'), { ...f.env, PYHEAP_IMAGES_HOLD: f.hold });
    await a.line(/holding until/);
    a.kill();
    await a.done;
    assert.ok(
      entries(f.cache).some((e) => e.startsWith('.tmp-tiny-')),
      'the killed build left its temporary directory',
    );
    const b = await builder(f.args('build', 'tiny'), f.env).done;
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, new RegExp(`removing the stale lock of PID ${a.pid}, which is gone`));
    assert.match(b.stdout, /^tiny\tbuilt in /m);
    const left = entries(f.cache);
    assert.equal(left.length, 1, left.join(' '));
    assert.equal(readFileSync(path.join(f.cache, left[0]!, 'rootfs', 'etc', 'message'), 'utf8'), 'again');
  });

  it('an image without a recipe: one line naming it and the images there are, exit 2, no cache made', async () => {
    const f = fixture('x');
    const r = await builder(f.args('build', 'busybox:1.36'), f.env).done;
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^error: no image recipe makes "busybox:1\.36": the images are agent, python-3\.8, .*python-3\.15, debian-12, debug-toolkit-v6\.0, tiny .*see tools\/cluster\/README\.md$/);
    assert.equal(existsSync(f.cache), false);
  });
});
