// A compromised target must not be able to turn the privileged agent against the node or the
// user: a TMPDIR that is a symlink out of the container, a symlink and a FIFO planted in the
// results while the payload runs. Nothing is written outside the output directory, the agent
// does not hang, and the target's files are still cleaned up. (Malicious tar streams are in
// unit/extract.test.ts; results bound to their run id in collect/verify.ts.)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FIXTURES, runCli } from './support/cli.js';
import { liveTargets, startContainer } from './support/container.js';
import { healthy, tmpEntries } from './support/proc.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';

const skip = ptraceSkip();
const py =
  findInterpreters()
    .filter((p) => p.label.startsWith('pyenv'))
    .at(-1) ?? findInterpreters()[0]!;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-abuse-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(
    liveTargets().map((t) => t.pid),
    [],
  );
});

describe('a compromised target', { skip }, () => {
  it('cannot redirect staging through TMPDIR, nor slip a symlink or a FIFO into the results', async () => {
    const before = new Set(readdirSync('/etc'));
    const t = await startContainer({ python: py, script: path.join(FIXTURES, 'evil_target.py'), uid: 1000, env: { TMPDIR: '/tmp/evil-tmpdir' } });
    try {
      const dir = path.join(scratch, 'out');
      const r = await runCli([`pid/${t.pid}`, '--out-dir', dir, '--timeout', '20s'], { timeoutMs: 60_000 });
      // the planted entries arrive in the archive as what they are, and are refused
      assert.equal(r.code, 7, r.stderr);
      assert.match(r.stderr, /error: refused the results archive: "out\/(secret|pipe)" is a (symlink|fifo) entry/);
      assert.deepEqual(
        [...new Set(readdirSync('/etc'))].filter((f) => !before.has(f)),
        [],
        "nothing staged in the node's /etc",
      );
      assert.equal(existsSync(dir), false, 'a refused archive leaves no output directory');
      assert.equal(healthy(t.pid), null);
      for (let i = 0; i < 50 && tmpEntries(t.pid).some((e) => e.startsWith('.pyheap-')); i++) await new Promise((res) => setTimeout(res, 100));
      assert.deepEqual(
        tmpEntries(t.pid).filter((e) => e.startsWith('.pyheap-')),
        [],
        'our staging directory is gone, planted files included',
      );
    } finally {
      await t.stop();
    }
  });
});
