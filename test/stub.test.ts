// The thread body injected into targets is kept as hex (the agent image has no assembler):
// it must be exactly what its assembly source assembles to, as scripts/stub.sh makes it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PAYLOADS, ROOT } from './support/cli.js';

const noAs = (() => { try { execFileSync('as', ['--version'], { stdio: 'ignore' }); return false; } catch { return 'binutils (as, objcopy) is not installed'; } })();

describe('payloads/stub', () => {
  it('stub-x86_64.hex is the assembly of stub-x86_64.S', { skip: noAs }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pyheap-stub-'));
    try {
      execFileSync('sh', [path.join(ROOT, 'scripts', 'stub.sh'), 'x86_64', path.join(dir, 'stub.hex')]);
      const built = readFileSync(path.join(dir, 'stub.hex'), 'utf8').trim();
      const shipped = readFileSync(path.join(PAYLOADS, 'stub', 'stub-x86_64.hex'), 'utf8').trim();
      assert.equal(shipped, built, 'regenerate: sh scripts/stub.sh x86_64');
      assert.ok(built.length / 2 <= 0x200, 'the code must end before the data slots at 0x200');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
