// npm run demo: start a small Python service that leaks (as a container-like process when
// run as root: own namespaces, private /tmp, another uid), let it leak for a moment, then
// look inside its heap with `kubectl-pyheap pid/<PID>`.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { CLI, FIXTURES } from '../test/support/cli.js';
import { startContainer } from '../test/support/container.js';
import { findInterpreters } from '../test/support/pythons.js';

const pythons = findInterpreters();
const python = pythons.filter((p) => p.label.startsWith('pyenv')).at(-1) ?? pythons[0];
if (!python) {
  process.stderr.write('demo: no CPython interpreter found (pyenv or /usr/bin/python3)\n');
  process.exit(1);
}
const script = path.join(FIXTURES, 'leaky_service.py');
process.stderr.write(`demo: starting a leaking service on ${python.label} ...\n`);
const target = await startContainer({ python, script, args: ['5000'], uid: 1000 });
try {
  await new Promise((r) => setTimeout(r, 3000));
  process.stderr.write(`demo: the service is PID ${target.pid}; running kubectl-pyheap pid/${target.pid}\n\n`);
  const code = await new Promise<number>((resolve) => {
    const cli = spawn(process.execPath, [CLI, `pid/${target.pid}`, '--top', '15', ...process.argv.slice(2)], { stdio: 'inherit' });
    cli.on('exit', (c) => resolve(c ?? 1));
  });
  process.exitCode = code;
} finally {
  await target.stop();
}
