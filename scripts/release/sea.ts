// The standalone executable: the CLI and its completion (src/entry.ts: one program, two names)
// bundled into one ES module (esbuild), the payloads as SEA assets, injected into a platform's
// node binary by Node's own `--build-sea` (run by the pinned node of this machine's platform:
// the blob format must match the target's version).
// No code cache and no snapshot: both are specific to the platform that builds them.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

// ESM bundles of CommonJS dependencies call require() for Node's builtins.
const BANNER = "import { createRequire as __pyheapCreateRequire } from 'node:module';\nconst require = __pyheapCreateRequire(import.meta.url);";

export async function bundle(root: string, out: string): Promise<{ bytes: number; inputs: number }> {
  const { version } = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const r = await build({
    // the CLI, or the completion when started as kubectl_complete-pyheap (one program, two names)
    entryPoints: [path.join(root, 'src', 'entry.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile: out,
    banner: { js: BANNER },
    // the executable has no package.json beside it: code that needs the version can read
    // `typeof __PYHEAP_VERSION__ === 'string' ? __PYHEAP_VERSION__ : <package.json>`
    define: { __PYHEAP_VERSION__: JSON.stringify(version) },
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
    // the report page's script and styles are generated at build time (scripts/report-asset.ts)
    plugins: [
      {
        name: 'report-asset',
        setup(b) {
          b.onResolve({ filter: /^\.\/asset\.js$/ }, (a) => (a.resolveDir.endsWith(path.join('report', 'html')) ? { path: path.join(root, 'build', 'src', 'report', 'html', 'asset.js') } : undefined));
        },
      },
    ],
  });
  if (r.errors.length) throw new Error(`esbuild: ${r.errors.map((e) => e.text).join('; ')}`);
  return { bytes: (await fs.stat(out)).size, inputs: Object.keys(r.metafile.inputs).length };
}

/** Every file under payloads/ (not caches), as SEA asset key -> path. */
export async function payloadAssets(root: string): Promise<Record<string, string>> {
  const base = path.join(root, 'payloads');
  const assets: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== '__pycache__') await walk(full);
      } else if (e.isFile() && !e.name.endsWith('.pyc')) {
        assets[`payloads/${path.relative(base, full).split(path.sep).join('/')}`] = full;
      }
    }
  };
  await walk(base);
  if (!assets['payloads/shell/agent.sh']) throw new Error(`no payloads/shell/agent.sh under ${root}`);
  return assets;
}

export interface SeaInput {
  builder: string;
  main: string;
  base: string;
  output: string;
  assets: Record<string, string>;
}

export async function buildSea(i: SeaInput): Promise<void> {
  await fs.mkdir(path.dirname(i.output), { recursive: true });
  const config = `${i.output}.sea-config.json`;
  // the blob records the main script's path as given: relative to the builder's cwd, so that
  // the executable does not depend on where it was built
  await fs.writeFile(
    config,
    JSON.stringify(
      {
        main: path.basename(i.main),
        mainFormat: 'module',
        executable: i.base,
        output: i.output,
        disableExperimentalSEAWarning: true,
        useSnapshot: false,
        useCodeCache: false,
        // a user's NODE_OPTIONS (a --require of some dev tool) must not change this program
        execArgvExtension: 'none',
        assets: i.assets,
      },
      null,
      2,
    ),
  );
  await new Promise<void>((resolve, reject) => {
    execFile(i.builder, ['--build-sea', config], { cwd: path.dirname(i.main), maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`--build-sea for ${path.basename(i.base)} failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
  await fs.rm(config);
  await fs.chmod(i.output, 0o755);
}
