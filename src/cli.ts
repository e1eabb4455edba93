#!/usr/bin/env node
// kubectl-pyheap's executable (the npm bin): checks the Node.js version, then runs the command
// line (cliMain.ts). Nothing else is imported before the check.
import { NODE_HINT, nodeTooOld } from './nodeVersion.js';

const old = nodeTooOld();
if (old) {
  const { Printer } = await import('./printer.js');
  const { PyheapError, EXIT } = await import('./errors.js');
  new Printer({ out: process.stdout, err: process.stderr, errIsTTY: false, color: false })
    .error(new PyheapError('parse', old, { hint: NODE_HINT, exitCode: EXIT.usage }));
  process.exitCode = EXIT.usage;
} else {
  await (await import('./cliMain.js')).cliMain(process.argv.slice(2));
}
