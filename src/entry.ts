#!/usr/bin/env node
// The entry of the standalone executable (scripts/release bundles this file): one binary, two
// names. Called as kubectl_complete-<plugin> (a link or copy; kubectl >= 1.26 runs that name for
// shell completion), or with __complete as its first argument (what the wrapper script shipped
// in the Unix archives passes), it completes; otherwise it is the CLI. The name is argv[1]: the
// script's path under node, the name it was started by in a single executable application
// (Node puts argv[0] there; execPath would be the resolved file, not the link).
const invoked = (process.argv[1] ?? '')
  .split(/[\\/]/)
  .pop()!
  .replace(/\.exe$/i, '');
const completing = invoked.startsWith('kubectl_complete-') || process.argv[2] === '__complete';
void (completing ? import('./completeCli.js') : import('./cli.js'));
