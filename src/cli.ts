#!/usr/bin/env node
// kubectl-pyheap's executable (the npm bin): checks the Node.js version, then runs the command
// line (cli/main.ts). Nothing else is imported before the check.
import { NODE_HINT, nodeTooOld } from './core/nodeVersion.js';

const old = nodeTooOld();
if (old) {
  const { Printer } = await import('./core/printer.js');
  const { PyheapError, EXIT } = await import('./core/errors.js');
  new Printer({ out: process.stdout, err: process.stderr, errIsTTY: false, color: false }).error(new PyheapError('parse', old, { hint: NODE_HINT, exitCode: EXIT.usage }));
  process.exitCode = EXIT.usage;
} else {
  await (await import('./cli/main.js')).cliMain(process.argv.slice(2));
}
