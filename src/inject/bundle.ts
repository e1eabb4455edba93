// What an exec session sends to the agent pod: a tar of the payload files (and the user's
// script) on stdin, and a fixed bootstrap command that reads exactly that many bytes, unpacks
// them into a fresh directory and hands over to payloads/shell/pod_session.sh. The bundle has
// the layout of payloads/ (shell/, python/, gdb/, stub/). Nothing is assembled
// from user input: sizes, the run id and arguments travel as positional parameters.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import tar from 'tar-stream';

export interface BundleFile {
  name: string;
  data: Buffer;
  mode?: number;
}

/** Stands for the bundle directory in agent arguments (pod_session.sh replaces it). */
export const BUNDLE_DIR = '@BUNDLE@';

// $1 bundle size, $2 run id, then pod_session.sh's mode and arguments. The directory name
// starts with pyheap-agent. so that leftovers are recognisable (and found by the test harness).
const BOOTSTRAP = [
  'd=$(mktemp -d "${TMPDIR:-/tmp}/pyheap-agent.bundle-$2.XXXXXXXX") || { echo "PYHEAP error 20 internal mktemp failed in the agent pod" >&2; exit 20; }',
  'head -c "$1" | tar -xf - -C "$d" && [ -r "$d/shell/pod_session.sh" ] || { rm -rf "$d"; echo "PYHEAP error 20 internal cannot unpack the bundle in the agent pod (are head and tar installed?)" >&2; exit 20; }',
  'shift 2',
  'exec sh "$d/shell/pod_session.sh" "$d" "$@"',
].join('\n');

/** The exec command line of a session: sh -c BOOTSTRAP sh SIZE RUN MODE ARGS... */
export function sessionCommand(bundleBytes: number, runId: string, mode: 'find-pids' | 'agent', args: string[]): string[] {
  if (!/^[a-z0-9]+$/.test(runId)) throw new Error(`bad run id ${runId}`);
  return ['sh', '-c', BOOTSTRAP, 'sh', String(bundleBytes), runId, mode, ...args];
}

export function packBundle(files: BundleFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  const dirs = new Set<string>();
  const mtime = new Date(0);
  for (const f of files) {
    for (let d = path.posix.dirname(f.name); d !== '.' && !dirs.has(d); d = path.posix.dirname(d)) {
      dirs.add(d);
      pack.entry({ name: d, type: 'directory', mode: 0o700, uid: 0, gid: 0, mtime });
    }
    pack.entry({ name: f.name, size: f.data.length, mode: f.mode ?? 0o600, uid: 0, gid: 0, mtime }, f.data);
  }
  pack.finalize();
  return done;
}

async function read(dir: string, name: string): Promise<BundleFile> {
  return { name, data: await fs.readFile(path.join(dir, name)) };
}

/** The session wrapper and the container-process lister. */
export async function findPidsFiles(payloads: string): Promise<BundleFile[]> {
  return Promise.all(['shell/pod_session.sh', 'shell/find_pids.sh'].map((n) => read(payloads, n)));
}

/** The names of one payloads/ folder's files that match. */
async function filesOf(payloads: string, dir: string, match: RegExp): Promise<string[]> {
  return (await fs.readdir(path.join(payloads, dir)))
    .filter((n) => match.test(n))
    .sort()
    .map((n) => `${dir}/${n}`);
}

/** Everything agent.sh needs (its Python payloads, the gdb scripts and stubs of every architecture) and the user's
 * script, if any, under user/. Returns the path of the script as agent.sh will see it. */
export async function agentFiles(payloads: string, script?: string): Promise<{ files: BundleFile[]; scriptPath?: string }> {
  // every in-target payload: agent.sh stages whichever pyheap_*.py the mode needs
  const names = [
    'shell/pod_session.sh',
    'shell/agent.sh',
    ...(await filesOf(payloads, 'python', /^pyheap_\w+\.py$/)),
    ...(await filesOf(payloads, 'gdb', /^inject-[\w-]+\.gdb$/)),
    ...(await filesOf(payloads, 'stub', /\.hex$/)),
  ];
  const files = await Promise.all(names.map((n) => read(payloads, n)));
  if (script === undefined) return { files };
  files.push({ name: 'user/script.py', data: await fs.readFile(script) });
  return { files, scriptPath: `${BUNDLE_DIR}/user/script.py` };
}
