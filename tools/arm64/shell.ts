// node build/tools/arm64/shell.js [DIR]: boot the arm64 test machine with DIR shared at /host
// (default: the payloads and fixtures of this tree) and print how to ssh in; Ctrl-C stops it.
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureImage, SOURCE } from './image.js';
import { onInterrupt, startVm } from './vm.js';

const root = path.resolve(SOURCE, '..', '..');
let share = process.argv[2];
if (!share) {
  share = mkdtempSync(path.join(os.tmpdir(), 'arm64-share-'));
  chmodSync(share, 0o755); // the guest's targets run as uid 1000 and read their scripts from it
  cpSync(path.join(root, 'payloads'), path.join(share, 'payloads'), { recursive: true });
  cpSync(path.join(root, 'test', 'fixtures'), path.join(share, 'fixtures'), { recursive: true });
  cpSync(path.join(SOURCE, 'guest'), path.join(share, 'guest'), { recursive: true });
  const made = share;
  onInterrupt(() => rmSync(made, { recursive: true, force: true }));
}
const vm = await startVm(await ensureImage(), share);
process.stderr.write(`arm64 machine up in ${vm.bootSeconds.toFixed(1)} s; /host is ${share}\nssh ${vm.sshArgs.map((a) => (/[\s']/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
await new Promise(() => {}); // until a signal: vm.ts stops qemu then
