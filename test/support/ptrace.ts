// Can this machine attach gdb to a process? Tests that inject need it; when it is not
// possible they are skipped with the reason, loudly, never passed silently.
import { execFileSync, spawn } from 'node:child_process';

let cached: string | null | undefined;

/** null when attaching works; otherwise why it does not. */
export function whyNoPtrace(): string | null {
  if (cached !== undefined) return cached;
  try {
    execFileSync('gdb', ['--version'], { stdio: 'ignore' });
  } catch {
    return (cached = 'gdb is not installed (apt-get install gdb)');
  }
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const out = execFileSync('gdb', ['-nx', '-batch', '-p', String(sleeper.pid), '-ex', 'echo ATTACHED\\n'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
    cached = out.includes('ATTACHED') ? null : 'gdb could not attach to a child process (ptrace refused?)';
  } catch (e) {
    cached = `gdb could not attach to a child process: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    sleeper.kill('SIGKILL');
  }
  if (cached === null && process.getuid?.() !== 0) cached = 'the tests need root (namespaces, cgroups, other uids)';
  return cached;
}

/** Use as `{ skip: whyNoPtrace() ?? false }` in node:test, after warnLoudly() ran once. */
export function ptraceSkip(): string | false {
  const why = whyNoPtrace();
  if (why) process.stderr.write(`\n!!! SKIPPED: ${why} !!!\n\n`);
  return why ?? false;
}
