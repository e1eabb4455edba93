// The test command: checks what the tests need, runs every test file with node:test, and
// fails the run if anything was left behind (targets, agents, gdb, staging directories, and
// the emulated cluster's processes, cgroups, mounts and temp dirs).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findInterpreters } from './support/pythons.js';
import { whyNoPtrace } from './support/ptrace.js';
import { runTestFiles } from './support/runTests.js';
import { leftoverCgroups, sweepStaleCgroups } from '../tools/cluster/cgroups.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
  .map((f) => path.join(here, f));

const pythons = findInterpreters();
const ptrace = whyNoPtrace();
process.stderr.write(`kubectl-pyheap tests\n  interpreters: ${pythons.map((p) => p.label).join(', ') || 'NONE FOUND'}\n`);
process.stderr.write(`  gdb/ptrace:   ${ptrace ? `NOT AVAILABLE (${ptrace}): injection tests will be SKIPPED` : 'available'}\n\n`);

// A run that was killed (a CI job cancelled, a session stopped) leaves its emulated cluster's
// cgroups and temp dirs behind. Sweep what is provably stale, say so, and judge this run only by
// what it adds.
const before = sweepStale();
if (before.length) process.stderr.write(`  NOTE: left by an earlier run and still in use, ignored:\n    ${before.join('\n    ')}\n\n`);

const status = runTestFiles(files, ['--test-concurrency=2', '--test-timeout=600000']);

function leftovers(): string[] {
  const found: string[] = [];
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  for (const line of ps.split('\n')) {
    if (/\/root\/app\/|pyheap-agent|agent\.sh|inject-[\w-]+\.gdb|tools\/cluster\/main\.js/.test(line) && !line.includes('ps -eo')) found.push(`process: ${line.trim()}`);
  }
  // anything still in an emulated container's cgroup, and the cgroups themselves
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (/\/kubepods[/.]/.test(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))) found.push(`process in a kubepods cgroup: ${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
    } catch {
      /* exited */
    }
  }
  for (const cg of leftoverCgroups()) found.push(`cgroup: ${cg}`);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.includes('pyheap-')) found.push(`mount: ${line}`);
  for (const f of readdirSync('/tmp')) if (f.startsWith('pyheap-agent.') || f.startsWith('.pyheap-') || f.startsWith('pyheap-cluster-')) found.push(`file: /tmp/${f}`);
  return found;
}
function sweepStale(): string[] {
  const ps = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' });
  if (!/tools\/cluster\/main\.js|pyheap-agent|agent\.sh/.test(ps)) {
    // no emulator or agent runs: temp dirs of earlier runs are garbage
    for (const f of readdirSync('/tmp')) {
      if (/^(pyheap-cluster-|pyheap-agent\.|\.pyheap-|pyheap-exec-|pyheap-faults-)/.test(f)) {
        process.stderr.write(`  NOTE: removing /tmp/${f}, left by an earlier run\n`);
        rmSync(`/tmp/${f}`, { recursive: true, force: true });
      }
    }
  }
  const busy = sweepStaleCgroups();
  return leftovers().filter((l) => !l.startsWith('cgroup: ') || busy.some((b) => b.startsWith(l.slice(8))));
}
const left = leftovers().filter((l) => !before.includes(l));
if (left.length) {
  process.stderr.write(`\nFAIL: the tests left things behind:\n  ${left.join('\n  ')}\n`);
  process.exit(1);
}
if (ptrace) process.stderr.write(`\n!!! injection tests were SKIPPED: ${ptrace} !!!\n`);
process.exit(status);
