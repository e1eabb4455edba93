// The CLI as a process: its help, and what it shows at a terminal. Bad command lines (a one-line
// error naming the cause and the fix, exit code 2) are checked in-process: test/unit/cli.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { CLI, runCli } from './support/cli.js';

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
  const atTerminal = (sizing: string) =>
    spawnSync('script', ['-qfec', `${sizing}'${process.execPath}' '${CLI}' pid/999999; echo "exit=$?"`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' }, timeout: 60_000 });

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
