// Bad command lines of Kubernetes runs: one line naming the cause and the fix, exit code 2, and
// nothing started or left (these never reach an API server).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from './support/cli.js';

const cases: [string, string[], RegExp][] = [
  ['--all-pods on a single pod', ['web-1', '--all-pods'], /error: --all-pods needs a workload or a selector; write deploy\/NAME, sts\/NAME, ds\/NAME or -l SELECTOR/],
  ['--pid and --all-processes', ['web-1', '--pid', '3', '--all-processes'], /error: --pid and --all-processes cannot be used together; pick one/],
  ['--pid that is no PID', ['web-1', '--pid', '-4'], /error: --pid must be a positive whole number/],
  ['a TARGET and -l', ['web-1', '-l', 'app=web'], /error: give either a TARGET or -l SELECTOR, not both; drop one/],
  ['--cleanup with a TARGET', ['web-1', '--cleanup'], /error: --cleanup takes no TARGET; run kubectl pyheap --cleanup alone/],
  ['-c with pid/N', ['pid/1', '-c', 'app'], /error: --container applies to pods, not to pid\/N; drop it/],
  ['--dry-run with pid/N', ['pid/1', '--dry-run'], /error: --dry-run applies to pods, not to pid\/N; drop it/],
  ['a kind that is not supported', ['svc/web'], /error: target "svc\/web" is not understood; use pid\/<PID> for a process on this machine, or POD, pod\/NAME, deploy\/NAME/],
  ['--as-group without --as', ['web-1', '--as-group', 'devs', '--server', 'https://127.0.0.1:1'], /error: --as-group needs --as; add --as USER/],
  ['a --kubeconfig that is not there', ['web-1', '--kubeconfig', '/nonexistent/kc'], /error: --kubeconfig \/nonexistent\/kc does not exist; give the path of a kubeconfig file/],
  ['a bad --request-timeout', ['web-1', '--request-timeout', 'soon', '--server', 'https://127.0.0.1:1'], /error: --request-timeout "soon" is not a duration/],
];

const cwd = mkdtempSync(path.join(os.tmpdir(), 'pyheap-kube-cli-'));
after(() => rmSync(cwd, { recursive: true, force: true }));

describe('bad Kubernetes command lines', () => {
  for (const [name, args, pattern] of cases) {
    it(name, async () => {
      const r = await runCli(args, { cwd, env: { KUBECONFIG: '/nonexistent' } });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, pattern);
      assert.deepEqual(readdirSync(cwd), [], 'no output directory is left');
    });
  }
});
