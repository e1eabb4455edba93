// npm run test:unit: the pure pieces, in this process's node:test, without root, gdb, a cluster
// or a browser: seconds. `npm test` runs it first.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTestFiles } from '../support/runTests.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.test.js') && (only.length === 0 || only.some((o) => f.includes(o))))
  .sort()
  .map((f) => path.join(here, f));
process.exit(runTestFiles(files));
