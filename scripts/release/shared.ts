// One release build shared by the test processes of a run (and by later runs while nothing it
// is made from changed): built into .cache/release/test-build/<digest of its inputs>/, under a
// lock directory so that two test files never build it twice at once.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CACHE, release, ROOT, sourceDate, type ReleaseResult } from './main.js';
import { PLATFORMS, platformId } from './platforms.js';

const INPUTS = ['src', 'payloads', 'scripts/release', 'LICENSE', 'package.json', 'package-lock.json', '.krew.yaml', 'tsconfig.json'];

async function digestInputs(): Promise<string> {
  const h = createHash('sha256');
  const add = async (rel: string): Promise<void> => {
    const full = path.join(ROOT, rel);
    const st = await fs.stat(full).catch(() => undefined);
    if (!st) return;
    if (st.isDirectory()) {
      for (const e of (await fs.readdir(full)).sort()) if (e !== '__pycache__') await add(path.join(rel, e));
    } else {
      h.update(`${rel}\0`)
        .update(await fs.readFile(full))
        .update('\0');
    }
  };
  for (const i of INPUTS) await add(i);
  // the archives carry the source date (the last commit's time): a new commit is a new build
  h.update(String((await sourceDate()).getTime()));
  return h.digest('hex').slice(0, 16);
}

interface Stored extends Omit<ReleaseResult, 'built' | 'pending'> {
  built: (Omit<ReleaseResult['built'][number], 'platform'> & { platform: string })[];
  pending: (Omit<ReleaseResult['pending'][number], 'platform'> & { platform: string })[];
}

function revive(s: Stored): ReleaseResult {
  const p = (id: string) => PLATFORMS.find((x) => platformId(x) === id)!;
  return { ...s, built: s.built.map((b) => ({ ...b, platform: p(b.platform) })), pending: s.pending.map((b) => ({ ...b, platform: p(b.platform) })) };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function sharedRelease(log: (s: string) => void = () => {}): Promise<ReleaseResult> {
  const base = path.join(CACHE, 'test-build');
  const key = await digestInputs();
  const out = path.join(base, key);
  const done = path.join(out, 'result.json');
  const lock = path.join(base, `${key}.lock`);
  await fs.mkdir(base, { recursive: true });
  for (;;) {
    const stored = await fs.readFile(done, 'utf8').catch(() => undefined);
    if (stored) return revive(JSON.parse(stored) as Stored);
    try {
      await fs.mkdir(lock);
    } catch {
      const owner = Number(await fs.readFile(path.join(lock, 'pid'), 'utf8').catch(() => '0'));
      if (owner && !alive(owner)) await fs.rm(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      await fs.writeFile(path.join(lock, 'pid'), String(process.pid));
      log(`building the release into ${out}`);
      const r = await release({ out, updateKrew: false });
      const s: Stored = { ...r, built: r.built.map((b) => ({ ...b, platform: platformId(b.platform) })), pending: r.pending.map((b) => ({ ...b, platform: platformId(b.platform) })) };
      await fs.writeFile(done, JSON.stringify(s, null, 2));
      // builds of older inputs are of no use any more
      for (const e of await fs.readdir(base)) if (!e.startsWith(key)) await fs.rm(path.join(base, e), { recursive: true, force: true });
      return r;
    } finally {
      await fs.rm(lock, { recursive: true, force: true });
    }
  }
}
