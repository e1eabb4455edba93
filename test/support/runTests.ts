// Runs test files with node:test (spec output on the terminal) and returns the exit status; a
// skipped test is listed at the end, and under CI=true it fails the run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SKIPS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'skips.js');

export function runTestFiles(files: string[], args: string[] = []): number {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pyheap-skips-'));
  const skipsFile = path.join(dir, 'skips.txt');
  try {
    const r = spawnSync(
      process.execPath,
      ['--test', ...args, '--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${SKIPS}`, `--test-reporter-destination=${skipsFile}`, ...files],
      { stdio: 'inherit' },
    );
    let skipped: string[] = [];
    try {
      skipped = readFileSync(skipsFile, 'utf8').split('\n').filter(Boolean);
    } catch {
      /* none written */
    }
    if (skipped.length) {
      process.stderr.write(`\n!!! ${skipped.length} test(s) SKIPPED:\n  ${skipped.join('\n  ')}\n`);
      if (process.env.CI) {
        process.stderr.write('FAIL: under CI=true a skipped test fails the run (install what it needs)\n');
        return 1;
      }
    }
    return r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
