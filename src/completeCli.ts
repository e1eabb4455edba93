#!/usr/bin/env node
// kubectl_complete-pyheap's executable (the npm bin): checks the Node.js version, then completes
// (completeMain.ts). On a Node.js too old to run us it offers nothing, quietly (kubectl would
// show any text as a candidate); the command itself says what to do.
import { nodeTooOld } from './nodeVersion.js';

// node build/src/completeCli.js WORDS... (the npm bin), or through entry.ts in the standalone
// executable, where `kubectl-pyheap __complete WORDS...` means the same
const args = process.argv.slice(2);
const words = args[0] === '__complete' ? args.slice(1) : args;
if (nodeTooOld()) process.stdout.write(':4\n');
else (await import('./completeMain.js')).completeMain(words);
