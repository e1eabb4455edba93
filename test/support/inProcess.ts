// Runs the CLI's main() in this process, with a printer over in-memory streams: for what never
// reaches a process or a cluster (bad command lines), without starting a node process each time.
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { Printer } from '../../src/core/printer.js';
import type { CliResult } from './cli.js';

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** main(args) as `kubectl pyheap ARGS...` would run it, not at a terminal and without colour. */
export async function runMain(args: string[]): Promise<CliResult> {
  const out = sink();
  const err = sink();
  const code = await main(args, new Printer({ out: out.stream, err: err.stream, errIsTTY: false, color: false }));
  return { code, stdout: out.text(), stderr: err.text() };
}
