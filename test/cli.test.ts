// Bad command lines: a one-line error naming the cause and the fix, exit code 2, no stack
// trace, and nothing started (these never reach a process).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CLI, runCli } from './support/cli.js';
import { parseDuration } from '../src/duration.js';
import { parseTarget } from '../src/target.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const latin1 = path.join(scratch, 'latin1.py');
writeFileSync(latin1, Buffer.from([0x70, 0x72, 0x69, 0x6e, 0x74, 0x28, 0x27, 0xe9, 0x27, 0x29, 0x0a]));

const cases: [string, string[], RegExp][] = [
  ['no target', [], /error: no TARGET given; write kubectl pyheap pid\/<PID>/],
  ['not a name (a bare word is a pod)', ['Foo_Bar'], /error: target "Foo_Bar" is not understood; use pid\/<PID>/],
  ['a bare number', ['123'], /error: target "123" is ambiguous; write pid\/123/],
  ['pid without a number', ['pid/abc'], /error: target "pid\/abc" is not understood/],
  ['pid zero', ['pid/0'], /error: target "pid\/0" is not understood/],
  ['bad duration', ['pid/1', '--timeout', '5x'], /error: --timeout "5x" is not a duration; write it like 30s, 2m or 1m30s/],
  ['bad output', ['pid/1', '-o', 'yaml'], /error: -o yaml is not an output format; use -o table or -o json/],
  ['missing script', ['pid/1', '--script', path.join(scratch, 'nope.py')], /error: cannot read --script .*nope\.py \(no such file\); give the path of a Python file/],
  ['script is a directory', ['pid/1', '--script', scratch], /\(it is a directory\)/],
  ['non-UTF-8 script', ['pid/1', '--script', latin1], /error: --script .*latin1\.py is not UTF-8 text; save it as UTF-8/],
  ['script and exec', ['pid/1', '--script', latin1, '--exec', 'pass'], /error: --script and --exec cannot be used together; pick one/],
  ['top zero', ['pid/1', '--top', '0'], /error: --top must be a whole number from 1 to 100000/],
  ['unknown flag', ['pid/1', '--frobnicate'], /error: Unknown argument: frobnicate; see kubectl pyheap --help/],
];

describe('bad command lines', () => {
  for (const [name, args, pattern] of cases) {
    it(name, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, pattern);
    });
  }
});

describe('help', () => {
  it('shows usage as kubectl pyheap, with the exit codes', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: kubectl pyheap TARGET/);
    assert.match(r.stdout, /Exit codes:/);
    assert.match(r.stdout, /130 {2}interrupted/);
  });
});

describe('at a terminal', () => {
  // script(1) gives the CLI a real pty; left unsized it has 0 columns, as some CI runners' have
  const atTerminal = (sizing: string) => spawnSync('script', ['-qfec', `${sizing}'${process.execPath}' '${CLI}' pid/999999; echo "exit=$?"`, '/dev/null'],
    { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' }, timeout: 60_000 });

  it('a sized terminal: the spinner, then the error', () => {
    const r = atTerminal('stty cols 80 rows 24; ');
    assert.match(r.stdout, /resolving target pid\/999999/);
    assert.match(r.stdout, /error:(\x1b\[0m)? no process with PID 999999/);
    assert.match(r.stdout, /exit=3/);
  });

  it('a terminal of 0 columns: plain lines (a spinner there never stops clearing lines)', () => {
    const r = atTerminal('');
    assert.match(r.stdout, /^resolving target pid\/999999\r?\n/m);
    assert.match(r.stdout, /exit=3/);
    assert.ok(r.stdout.length < 2000, `${r.stdout.length} characters on the terminal`);
  });
});

describe('parsing', () => {
  it('durations', () => {
    assert.equal(parseDuration('30s', '--t'), 30000);
    assert.equal(parseDuration('2m', '--t'), 120000);
    assert.equal(parseDuration('1m30s', '--t'), 90000);
    assert.equal(parseDuration('500ms', '--t'), 500);
    assert.equal(parseDuration('1.5', '--t'), 1500);
    assert.throws(() => parseDuration('s', '--t'));
    assert.throws(() => parseDuration('1m 30s', '--t'));
  });
  it('targets', () => {
    assert.deepEqual(parseTarget('pid/42'), { kind: 'pid', pid: 42 });
    assert.throws(() => parseTarget('pid/-1'));
  });
});
