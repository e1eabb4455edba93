// The bad-input matrix: every kind of mistake a user can type, against nothing, a process, or
// the emulated cluster. Each gives one line "error: <cause>; <fix>" on stderr, a documented
// non-zero exit code, no Node stack trace (only with -v), and starts nothing. A summary table is
// printed at the end.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, withFixtures, type ClusterHandle } from '../tools/cluster/index.js';
import { FIXTURES, runCli } from './support/cli.js';
import { liveTargets, startContainer, type ContainerTarget } from './support/container.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-bad-input-'));
const cwd = mkdtempSync(path.join(scratch, 'cwd-'));
const latin1 = path.join(scratch, 'latin1.py');
writeFileSync(latin1, Buffer.from('print("\xe9")\n', 'latin1'));
const garbageKubeconfig = path.join(scratch, 'garbage.yaml');
writeFileSync(garbageKubeconfig, 'apiVersion: v1\nclusters: [this is: not: yaml\n');
const py =
  findInterpreters()
    .filter((p) => p.label.startsWith('pyenv'))
    .at(-1) ?? findInterpreters()[0]!;

let cluster: ClusterHandle | undefined;
let target: ContainerTarget | undefined;
let sleeper: ReturnType<typeof spawn> | undefined;
const summary: string[][] = [];

type Case = { name: string; args: () => string[]; code: number; cause: RegExp; hint?: boolean; needs?: 'cluster' | 'process'; ran?: boolean };

const kc = () => ['--kubeconfig', cluster!.kubeconfigPath];
const CASES: Case[] = [
  { name: 'no target', args: () => [], code: 2, cause: /no TARGET given/, hint: true },
  { name: 'a malformed pod name', args: () => ['Foo_Bar'], code: 2, cause: /target "Foo_Bar" is not understood/, hint: true },
  { name: 'a bare number', args: () => ['123'], code: 2, cause: /target "123" is ambiguous/, hint: true },
  { name: 'pid/ without a number', args: () => ['pid/abc'], code: 2, cause: /target "pid\/abc" is not understood/, hint: true },
  { name: 'an unsupported kind', args: () => ['svc/web'], code: 2, cause: /target "svc\/web" is not understood/, hint: true },
  { name: 'a bad --timeout', args: () => ['pid/1', '--timeout', '5x'], code: 2, cause: /--timeout "5x" is not a duration/, hint: true },
  { name: 'a bad --growth', args: () => ['pid/1', '--growth', 'soon'], code: 2, cause: /--growth "soon" is not a duration/, hint: true },
  { name: 'a bad output format', args: () => ['pid/1', '-o', 'yaml'], code: 2, cause: /-o yaml is not an output format/, hint: true },
  { name: '--top 0', args: () => ['pid/1', '--top', '0'], code: 2, cause: /--top must be a whole number from 1 to 100000/ },
  { name: '--samples 0', args: () => ['pid/1', '--referrers', 'str', '--samples', '0'], code: 2, cause: /--samples must be a whole number/ },
  { name: 'a missing --script', args: () => ['pid/1', '--script', path.join(scratch, 'nope.py')], code: 2, cause: /cannot read --script .*\(no such file\)/, hint: true },
  { name: '--script is a directory', args: () => ['pid/1', '--script', scratch], code: 2, cause: /\(it is a directory\)/, hint: true },
  { name: 'a non-UTF-8 --script', args: () => ['pid/1', '--script', latin1], code: 2, cause: /is not UTF-8 text/, hint: true },
  { name: '--script and --exec', args: () => ['pid/1', '--script', latin1, '--exec', 'pass'], code: 2, cause: /--script and --exec cannot be used together/, hint: true },
  { name: '--growth with --exec', args: () => ['pid/1', '--growth', '1s', '--exec', 'pass'], code: 2, cause: /--growth goes with a census, not with --script or --exec/, hint: true },
  { name: 'a --referrers that is no type name', args: () => ['pid/1', '--referrers', 'a b'], code: 2, cause: /--referrers "a b" is not a type name/, hint: true },
  { name: 'an unknown flag', args: () => ['pid/1', '--frobnicate'], code: 2, cause: /Unknown argument: frobnicate/, hint: true },
  { name: 'a TARGET and -l', args: () => ['web', '-l', 'app=web'], code: 2, cause: /give either a TARGET or -l SELECTOR, not both/, hint: true },
  { name: '--all-pods on one pod', args: () => ['web', '--all-pods'], code: 2, cause: /--all-pods needs a workload or a selector/, hint: true },
  { name: '-c with pid/N', args: () => ['pid/1', '-c', 'app'], code: 2, cause: /--container applies to pods, not to pid\/N/, hint: true },
  { name: 'a missing --kubeconfig', args: () => ['web', '--kubeconfig', '/nonexistent/kc'], code: 2, cause: /--kubeconfig \/nonexistent\/kc does not exist/, hint: true },
  { name: 'a --kubeconfig that is not YAML', args: () => ['web', '--kubeconfig', garbageKubeconfig], code: 2, cause: /kubeconfig/, hint: true },
  { name: 'an unknown --context', args: () => ['web', ...kc(), '--context', 'nope'], code: 2, cause: /context "nope"/, hint: true, needs: 'cluster' },
  { name: 'an unknown pod', args: () => ['nope', ...kc()], code: 3, cause: /pod "?nope"?/, hint: true, needs: 'cluster' },
  { name: 'an unknown container', args: () => ['leaky', ...kc(), '-c', 'nope'], code: 3, cause: /container "?nope"?/, hint: true, needs: 'cluster' },
  { name: 'an unknown namespace', args: () => ['leaky', ...kc(), '-n', 'nope'], code: 3, cause: /nope/, hint: true, needs: 'cluster' },
  { name: 'an unknown deployment', args: () => ['deploy/nope', ...kc()], code: 3, cause: /nope/, hint: true, needs: 'cluster' },
  { name: 'a selector matching nothing', args: () => ['-l', 'app=nothing', ...kc()], code: 3, cause: /app=nothing/, hint: true, needs: 'cluster' },
  { name: 'no such process', args: () => ['pid/999999'], code: 3, cause: /no process with PID 999999/, hint: true },
  { name: 'a process that is not CPython', args: () => [`pid/${sleeper!.pid}`], code: 3, cause: /does not export the CPython C API/, hint: true, needs: 'process' },
  // this one runs (the target compiles the code and reports the error): its status is kept
  { name: 'a syntax error in --exec', args: () => [`pid/${target!.pid}`, '--exec', 'def (:'], code: 1, cause: /the injected code raised SyntaxError/, hint: true, needs: 'process', ran: true },
  { name: 'analyze without a file', args: () => ['analyze'], code: 2, cause: /analyze|snapshot|file/, hint: true },
  { name: 'analyze of a file that is not a snapshot', args: () => ['analyze', latin1], code: 7, cause: /snapshot|magic|PYHEAPSNAP/, hint: true },
];

before(async () => {
  if (skip) return;
  target = await startContainer({ python: py, script: path.join(FIXTURES, 'census_target.py'), args: ['1', '1'], uid: 1000 });
  sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  cluster = await startCluster({
    cgroupLayout: 'cgroupfs',
    objects: [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'leaky', namespace: 'default' },
        spec: withFixtures({ restartPolicy: 'Never', containers: [{ name: 'app', image: `python:3.${py.version[1]}`, command: ['python', '/app/census_target.py', '1', '1'] }] }),
      },
    ],
  });
});

after(async () => {
  sleeper?.kill('SIGKILL');
  await target?.stop();
  await cluster?.stop();
  rmSync(scratch, { recursive: true, force: true });
  if (summary.length) {
    const rows = [['case', 'exit', 'error line'], ...summary];
    const w = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
    process.stderr.write(`\nbad-input matrix (${summary.length} cases)\n${rows.map((r) => `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padStart(w[1]!)}  ${r[2]}`).join('\n')}\n`);
  }
  assert.deepEqual(
    liveTargets().map((t) => t.pid),
    [],
  );
});

describe('bad input matrix', { skip }, () => {
  it(`has at least 25 cases (${CASES.length})`, () => assert.ok(CASES.length >= 25));
  for (const c of CASES) {
    it(c.name, async () => {
      const r = await runCli(c.args(), { cwd, env: { KUBECONFIG: '/nonexistent/kubeconfig' } });
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
      summary.push([c.name, String(r.code), errors[0] ?? '(none)']);
      assert.equal(r.code, c.code, r.stderr);
      assert.equal(errors.length, 1, `one error line:\n${r.stderr}`);
      assert.match(errors[0]!, c.cause);
      if (c.hint) assert.match(errors[0]!, /; \S/, 'the error names a fix');
      assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace without -v');
      if (c.ran) for (const d of readdirSync(cwd)) rmSync(path.join(cwd, d), { recursive: true, force: true });
      else assert.deepEqual(readdirSync(cwd), [], 'nothing left in the working directory');
    });
  }
  it('-v adds the stack trace', async () => {
    const r = await runCli(['pid/999999', '-v'], { cwd });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^error: no process with PID 999999/m);
    assert.match(r.stderr, /PyheapError|\n\s+at /);
  });
});
