// The thread bodies injected into targets are kept as hex (the agent image has no assembler):
// each must be exactly what its assembly source assembles to, by payloads/stub/make-hex.sh.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { PAYLOADS } from './support/cli.js';

const has = (tool: string) => {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const noAs = has('as') && has('aarch64-linux-gnu-as') ? false : 'binutils and binutils-aarch64-linux-gnu (as, objcopy, aarch64-linux-gnu-as) are not installed';
const STUB = path.join(PAYLOADS, 'stub');

describe('payloads/stub', { skip: noAs }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pyheap-stub-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let built = false;
  const build = () => {
    if (!built) execFileSync('sh', [path.join(STUB, 'make-hex.sh'), dir]);
    built = true;
  };
  const archs = readdirSync(STUB)
    .filter((f) => /^stub-.*\.S$/.test(f))
    .map((f) => f.slice(5, -2))
    .sort();

  it('has a stub for x86_64 and aarch64', () => assert.deepEqual(archs, ['aarch64', 'x86_64']));
  for (const arch of archs) {
    it(`stub-${arch}.hex is the assembly of stub-${arch}.S`, () => {
      build();
      const fresh = readFileSync(path.join(dir, `stub-${arch}.hex`), 'utf8').trim();
      const shipped = readFileSync(path.join(STUB, `stub-${arch}.hex`), 'utf8').trim();
      assert.equal(shipped, fresh, 'regenerate with: sh payloads/stub/make-hex.sh');
      assert.ok(fresh.length / 2 <= 0x200, 'the code must end before the data slots at 0x200');
    });
  }
});
