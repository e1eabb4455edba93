// Where the files that run on the target side live (payloads/: the agent, the gdb script, the
// in-target Python). They ship next to the compiled code.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export function payloadDir(): string {
  // build/src/payloads.js -> <package>/payloads
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'payloads');
}
