// Where the files that run on the target side live (payloads/: the agent, the gdb script, the
// in-target Python). They ship next to the compiled code (npm, source tree), or inside the
// standalone executable as SEA assets named payloads/<path>, which are written once per run
// into a private directory (0700) that is removed when the process exits.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as sea from 'node:sea';

/** Prefix of the SEA asset keys that hold payloads (scripts/release puts them there). */
export const SEA_ASSET_PREFIX = 'payloads/';
/** Prefix of the temporary directory the standalone executable extracts its payloads to. */
export const EXTRACT_PREFIX = 'kubectl-pyheap-payloads-';

let extracted: string | undefined;

export function payloadDir(): string {
  if (sea.isSea()) return (extracted ??= extractAssets());
  // build/src/inject/payloads.js -> <package>/payloads
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'payloads');
}

function extractAssets(): string {
  const keys = sea.getAssetKeys().filter((k) => k.startsWith(SEA_ASSET_PREFIX));
  if (keys.length === 0) throw new Error('this executable carries no payloads (a broken release build)');
  removeStale(os.tmpdir());
  // mkdtemp creates the directory with mode 0700: only this user can read or swap the files
  const dir = mkdtempSync(path.join(os.tmpdir(), `${EXTRACT_PREFIX}${process.pid}-`));
  // registered before writing, so that a failed extraction leaves nothing either
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (const key of keys) {
    const rel = key.slice(SEA_ASSET_PREFIX.length);
    if (rel === '' || rel.split('/').some((p) => p === '' || p === '.' || p === '..')) throw new Error(`bad payload asset name ${key}`);
    const file = path.join(dir, ...rel.split('/'));
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, new Uint8Array(sea.getRawAsset(key)), { mode: 0o600, flag: 'wx' });
  }
  return dir;
}

/** Directories of earlier runs that were killed before their exit handler ran (SIGKILL):
 * ours (same uid), named after a process that no longer exists. */
function removeStale(tmp: string): void {
  let names: string[];
  try {
    names = readdirSync(tmp).filter((n) => n.startsWith(EXTRACT_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^(\d+)-/.exec(name.slice(EXTRACT_PREFIX.length))?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      if (statSync(path.join(tmp, name)).uid !== process.getuid?.()) continue;
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') rmSync(path.join(tmp, name), { recursive: true, force: true });
    }
  }
}
