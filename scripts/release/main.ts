// npm run release: standalone executables for every platform, packed with LICENSE, and the krew
// manifest rendered from .krew.yaml with their sha256. Reads package.json's version and the
// pinned Node of node-binaries.json; downloads only what .cache/release/ does not hold.
//
//   npm run release                         everything, into dist/release/ (+ krew/pyheap.yaml)
//   npm run release -- --out DIR --platforms linux-amd64,windows-amd64
//   npm run release -- lock 26.10.0         pin another Node version (records new digests)
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeTarGz, writeZip, type Member } from './archive.js';
import { KREW_MANIFEST, KREW_TEMPLATE, parseManifest, renderTemplate, validateManifest } from './krew.js';
import { baseBinary, fileDigest, LOCK_FILE, lockVersion, readLock } from './nodeBinaries.js';
import { archiveName, hostPlatform, platformId, PLATFORMS, type Platform } from './platforms.js';
import { buildSea, bundle, payloadAssets } from './sea.js';
import { COMPLETION_SCRIPT } from './completion.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CACHE = path.join(ROOT, '.cache', 'release');

export interface Built {
  platform: Platform;
  archive: string;
  sha256: string;
  bytes: number;
  exeBytes: number;
}
export interface Pending {
  platform: Platform;
  executable: string;
  why: string;
}
export interface ReleaseResult {
  version: string;
  node: string;
  out: string;
  built: Built[];
  pending: Pending[];
  manifest: string;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

/** The time every archive member carries: SOURCE_DATE_EPOCH, else the last commit's time. */
export async function sourceDate(): Promise<Date> {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env && /^\d+$/.test(env)) return new Date(Number(env) * 1000);
  const ct = await new Promise<string>((resolve) => {
    execFile('git', ['log', '-1', '--format=%ct'], { cwd: ROOT }, (err, out) => resolve(err ? '' : out.trim()));
  });
  return new Date((/^\d+$/.test(ct) ? Number(ct) : 315532800) * 1000);
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Apple silicon refuses unsigned code. Only macOS has codesign; elsewhere the step is left for later. */
async function sign(exe: string): Promise<string | undefined> {
  if (process.platform !== 'darwin') return 'macOS runs only signed code on Apple silicon, and this machine has no codesign';
  const identity = process.env.PYHEAP_CODESIGN_IDENTITY ?? '-';
  const r = await run('codesign', ['--sign', identity, '--force', exe]);
  if (r.code !== 0) throw new Error(`codesign failed: ${r.stderr.trim()}`);
  const v = await run('codesign', ['--verify', '--strict', exe]);
  if (v.code !== 0) throw new Error(`codesign --verify failed: ${v.stderr.trim()}`);
  return undefined;
}

export async function release(o: { out: string; platforms?: string[]; updateKrew: boolean }): Promise<ReleaseResult> {
  const t0 = performance.now();
  const step = (s: string) => log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${s}`);
  const version = (JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const lock = await readLock(ROOT);
  const wanted = PLATFORMS.filter((p) => !o.platforms || o.platforms.includes(platformId(p)));
  for (const id of o.platforms ?? []) if (!PLATFORMS.some((p) => platformId(p) === id)) throw new Error(`unknown platform ${id}; known: ${PLATFORMS.map(platformId).join(', ')}`);

  // the output directory is emptied first: only if it is empty or holds an earlier release
  const present = await fs.readdir(o.out).catch(() => [] as string[]);
  if (present.length && !present.some((f) => f === 'RELEASE-NOTES.md' || f === 'work' || f.startsWith('kubectl-pyheap_'))) {
    throw new Error(`${o.out} is not empty and holds no earlier release: pick another --out`);
  }
  await fs.rm(o.out, { recursive: true, force: true });
  const work = path.join(o.out, 'work');
  await fs.mkdir(work, { recursive: true });
  step(`kubectl-pyheap v${version}, Node ${lock.node}, into ${path.relative(ROOT, o.out) || o.out}`);

  const main = path.join(work, 'kubectl-pyheap.mjs');
  const b = await bundle(ROOT, main);
  const assets = await payloadAssets(ROOT);
  step(`bundled ${b.inputs} modules into ${(b.bytes / 1024).toFixed(0)} KiB; ${Object.keys(assets).length} payload files as assets`);

  const host = hostPlatform();
  const builder = await baseBinary(CACHE, lock, host, log);
  step(`builder: ${host.nodePackage}@${lock.node} (sha256 ${builder.sha256.slice(0, 16)}..., ${builder.downloaded ? 'downloaded' : 'cached'})`);

  const completionScript = path.join(work, 'kubectl_complete-pyheap.sh');
  await fs.writeFile(completionScript, COMPLETION_SCRIPT);
  const mtime = await sourceDate();
  const built: Built[] = [];
  const pending: Pending[] = [];
  const packing: Promise<void>[] = [];
  for (const p of wanted) {
    if (p.unsupported) {
      step(`${platformId(p)}: not built: ${p.unsupported}`);
      continue;
    }
    const base = p === host ? builder : await baseBinary(CACHE, lock, p, log);
    const exe = path.join(work, platformId(p), p.exe);
    await buildSea({ builder: builder.file, main, base: base.file, output: exe, assets });
    const exeBytes = (await fs.stat(exe)).size;
    if (p.needsSignature) {
      const why = await sign(exe);
      if (why) {
        const dest = path.join(o.out, 'unsigned', platformId(p), p.exe);
        await fs.mkdir(path.dirname(dest), { recursive: true });
        await fs.rename(exe, dest);
        pending.push({ platform: p, executable: dest, why });
        step(`${platformId(p)}: built, NOT packed: ${why}; left in ${path.relative(o.out, dest)}`);
        continue;
      }
    }
    step(`${platformId(p)}: built ${(exeBytes / 1024 ** 2).toFixed(1)} MiB from ${p.nodePackage} (${base.downloaded ? 'downloaded' : 'cached'}); packing`);
    const archive = path.join(o.out, archiveName(version, p));
    const members: Member[] = [
      { name: p.exe, file: exe, mode: 0o755 },
      { name: p.completion.name, file: p.completion.kind === 'copy' ? exe : completionScript, mode: 0o755 },
      { name: 'LICENSE', file: path.join(ROOT, 'LICENSE'), mode: 0o644 },
    ];
    // compression runs in zlib's threads while the next executable is built
    packing.push(
      (p.archive === 'zip' ? writeZip(archive, members, mtime) : writeTarGz(archive, members, mtime)).then(async () => {
        const bytes = (await fs.stat(archive)).size;
        built.push({ platform: p, archive, sha256: await fileDigest(archive, 'sha256'), bytes, exeBytes });
        step(`${platformId(p)}: ${path.basename(archive)} ${(bytes / 1024 ** 2).toFixed(1)} MiB`);
      }),
    );
  }
  await Promise.all(packing);
  built.sort((a, b2) => PLATFORMS.indexOf(a.platform) - PLATFORMS.indexOf(b2.platform));

  // the manifest: every platform of the template whose archive was built here
  const byName = new Map(built.map((x) => [path.basename(x.archive), x.sha256]));
  const template = await fs.readFile(path.join(ROOT, KREW_TEMPLATE), 'utf8');
  const rendered = renderTemplate(template, `v${version}`, (uri) => byName.get(uri.slice(uri.lastIndexOf('/') + 1)));
  const manifest = path.join(o.out, 'pyheap.yaml');
  const problems = validateManifest('pyheap.yaml', parseManifest(rendered.text));
  if (rendered.uris.length === 0) problems.push('no platform of the template was built');
  if (problems.length) throw new Error(`the rendered krew manifest is not valid:\n  ${problems.join('\n  ')}`);
  await fs.writeFile(manifest, rendered.text);
  if (o.updateKrew) await fs.writeFile(path.join(ROOT, KREW_MANIFEST), rendered.text);
  await fs.writeFile(path.join(o.out, 'SHA256SUMS'), built.map((x) => `${x.sha256}  ${path.basename(x.archive)}\n`).join(''));
  const result: ReleaseResult = { version, node: lock.node, out: o.out, built, pending, manifest };
  await fs.writeFile(path.join(o.out, 'RELEASE-NOTES.md'), releaseNotes(result));
  await fs.rm(work, { recursive: true, force: true });
  step(
    `done: ${built.length} archives, pyheap.yaml${o.updateKrew ? ` (and ${KREW_MANIFEST})` : ''}, SHA256SUMS, RELEASE-NOTES.md${pending.length ? `; ${pending.length} executable(s) to finish elsewhere, see RELEASE-NOTES.md` : ''}`,
  );
  return result;
}

function releaseNotes(r: ReleaseResult): string {
  const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;
  const lines = [
    `# kubectl-pyheap v${r.version}`,
    '',
    `Standalone executables (Node.js ${r.node} single executable applications; no Node needed on the machine).`,
    '',
    '| platform | archive | size | sha256 |',
    '| --- | --- | --- | --- |',
    ...r.built.map((b) => `| ${b.platform.os}/${b.platform.arch} | ${path.basename(b.archive)} | ${mib(b.bytes)} | \`${b.sha256}\` |`),
    '',
    'Install with krew (`kubectl krew install pyheap`), from these archives (put `kubectl-pyheap` on',
    'your PATH), or with npm on any machine with Node >= 22 (`npm install -g kubectl-pyheap`).',
    'Shell completion (kubectl >= 1.26): put `kubectl_complete-pyheap` from the archive on your PATH too',
    '(with krew: `ln -s kubectl-pyheap "${KREW_ROOT:-$HOME/.krew}/bin/kubectl_complete-pyheap"`).',
  ];
  if (r.pending.length) {
    lines.push('', '## Not finished on the build machine', '');
    for (const p of r.pending) {
      lines.push(
        `- ${p.platform.os}/${p.platform.arch}: ${p.why}. Its executable was built (unsigned/${platformId(p.platform)}/${p.platform.exe}) but not packed, and the krew manifest leaves the platform out rather than offer a binary that macOS would kill. To finish it, run \`npm ci && npm run release\` on an Apple silicon Mac: the same build, signed there with \`codesign --sign -\` (or the identity in PYHEAP_CODESIGN_IDENTITY), gives all ${PLATFORMS.filter((x) => !x.unsupported).length} archives and the full manifest.`,
      );
    }
  }
  const unsupported = PLATFORMS.filter((p) => p.unsupported);
  if (unsupported.length) {
    lines.push('', '## Not built', '');
    for (const p of unsupported) lines.push(`- ${p.os}/${p.arch}: ${p.unsupported}`);
  }
  return `${lines.join('\n')}\n`;
}

async function cli(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' }, platforms: { type: 'string' } } });
  if (positionals[0] === 'lock') {
    const version = positionals[1];
    if (!version || !/^\d+\.\d+\.\d+$/.test(version)) throw new Error('usage: npm run release -- lock <node version, e.g. 26.10.0>');
    log(`pinning Node ${version}: downloading every platform's package`);
    const lock = await lockVersion(CACHE, version, PLATFORMS, log);
    await fs.writeFile(path.join(ROOT, LOCK_FILE), `${JSON.stringify(lock, null, 2)}\n`);
    log(`wrote ${LOCK_FILE}`);
    return;
  }
  if (positionals.length) throw new Error(`unexpected ${positionals.join(' ')}`);
  const out = values.out ? path.resolve(values.out) : path.join(ROOT, 'dist', 'release');
  await release({ out, ...(values.platforms ? { platforms: values.platforms.split(',') } : {}), updateKrew: !values.out && !values.platforms });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((e: unknown) => {
    log(`release: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
