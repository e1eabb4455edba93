// Shell completion as a program: the flag list is the CLI's own (checked against --help), and the
// executable answers at once, exit 0, with no cluster at all. The pure half (reading the words,
// what to offer) is in test/unit/complete.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { completionFlags } from '../src/cli/complete.js';
import { CLI, ROOT } from './support/cli.js';

describe("completion: the flags are the CLI's", () => {
  it('every flag of kubectl pyheap --help, with its alias and type, and no other', () => {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '200' } });
    assert.equal(help.status, 0, help.stderr);
    // "  -n, --namespace   text   [string]" (the type may end a continuation line)
    const entries = help.stdout
      .split(/\n(?=\s+(?:-\w, )?--[\w-]+\s)/)
      .map((chunk) => /^\s+(?:-(\w), )?--([\w-]+)\s[\s\S]*?\[(string|number|boolean|array)\]/.exec(chunk))
      .filter((m) => m !== null);
    const fromHelp = entries.map((m) => `${m[2]}${m[1] ? ` -${m[1]}` : ''} ${m[3]}`).sort();
    const ours = completionFlags()
      .map((f) => `${f.name}${f.short ? ` -${f.short}` : ''} ${f.repeatable ? 'array' : f.takesValue ? 'x' : 'boolean'}`)
      .sort();
    const norm = (s: string) => s.replace(/ (string|number)$/, ' x');
    assert.deepEqual(ours, fromHelp.map(norm), "completion flags and the CLI's --help disagree");
  });
});

describe('kubectl_complete-pyheap, the executable', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'pyheap-complete-'));
  after(() => rmSync(home, { recursive: true, force: true }));
  const run = (args: string[], env: Record<string, string> = {}) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [path.join(ROOT, 'build', 'src', 'completeCli.js'), ...args], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env },
    });
    return { ...r, ms: performance.now() - t0 };
  };

  it("is the package's kubectl_complete-pyheap bin, a node script", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.equal(pkg.bin['kubectl_complete-pyheap'], 'build/src/completeCli.js');
    assert.match(readFileSync(path.join(ROOT, 'build', 'src', 'completeCli.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
    assert.ok(statSync(path.join(ROOT, 'src', 'completeCli.ts')).isFile());
  });

  it('no kubeconfig, an unreachable server, a missing --kubeconfig, a server that never answers: no candidates, exit 0, by itself', async () => {
    // accepts connections (the kernel does, into the backlog) and never says a word: only the
    // completion's own request bound ends the wait
    const silent = net.createServer(() => undefined).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as net.AddressInfo).port;
    try {
      for (const [args, env] of [
        [['-n', ''], { KUBECONFIG: path.join(home, 'none') }],
        [['--server', 'https://127.0.0.1:9', '--insecure-skip-tls-verify', 'x'], {}],
        [['--kubeconfig', '/nonexistent', '--context', ''], {}],
        [['--server', `https://127.0.0.1:${port}`, '--insecure-skip-tls-verify', 'deploy/'], {}],
      ] as [string[], Record<string, string>][]) {
        const r = run(args, env);
        assert.equal(r.signal, null, `${args.join(' ')} was killed after ${r.ms} ms: its bound did not end it`);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, ':4\n', args.join(' '));
        assert.equal(r.stderr, '');
      }
    } finally {
      silent.close();
    }
    // where a TARGET goes, the subcommand is still offered
    assert.equal(run(['--server', 'https://127.0.0.1:9', '']).stdout, 'analyze\n:4\n');
  });

  it('flags need no cluster', () => {
    const r = run(['--con']);
    assert.equal(r.status, 0);
    assert.deepEqual(
      r.stdout
        .split('\n')
        .map((l) => l.split('\t')[0])
        .sort(),
      ['', '--container', '--context', ':4'],
    );
  });
});
