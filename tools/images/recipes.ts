// What each test image is, as data: where its root filesystem starts (a Debian suite made with
// debootstrap, or a host directory for the builder's own tests), the packages installed on it,
// the steps after (a pyenv build copied to /usr/local as the official python images have it,
// aliases on PATH), and the checks a finished image must pass.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const AGENT_PACKAGES_FILE = path.join(ROOT, 'manifests', 'agent-packages.txt');
export const MIRROR = 'http://deb.debian.org/debian';

export type Suite = 'bookworm' | 'trixie' | 'sid';

export type Step =
  /** pyenv's newest build of this major.minor, at the official image's paths under /usr/local. */
  | { kind: 'pyenv'; version: string }
  /** Symlinks in /usr/local/bin (first on PATH) to an interpreter of the image. */
  | { kind: 'alias'; target: string; names: string[] }
  /** A file written into the image (the builder's tests). */
  | { kind: 'write'; path: string; text: string };

export interface Recipe {
  name: string;
  /** One line for the table and the progress line. */
  what: string;
  base: { suite: Suite } | { dir: string };
  packages: string[];
  steps: Step[];
  /** Shell snippets run inside the finished image (chroot, /proc mounted); each must exit 0. */
  checks: string[];
}

/** manifests/agent-packages.txt without comments and blank lines. */
export function agentPackages(file = AGENT_PACKAGES_FILE): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

// the libraries of the official python:3.X-slim images (what their interpreter's modules load)
const SLIM_LIBS = ['ca-certificates', 'netbase', 'tzdata', 'libssl3', 'libffi8', 'libsqlite3-0', 'libexpat1', 'libreadline8', 'libncursesw6', 'libbz2-1.0', 'liblzma5', 'zlib1g', 'libuuid1'];
const NO_PYTHON = 'if ls /usr/bin/python* /usr/local/bin/python* /bin/python* 2>/dev/null; then echo "a python executable is installed" >&2; exit 1; fi';
const AGENT_TOOLS = 'for t in sh tar od sha256sum head date mktemp wc cut tr readlink timeout id awk grep sed find; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }; done';
const gdbMajor = (op: string, n: number) =>
  `m=$(gdb --version | head -n 1 | sed -n 's/.* \\([0-9][0-9]*\\)\\.[0-9.]*$/\\1/p'); [ "\${m:-0}" ${op} ${n} ] || { echo "gdb $m, expected ${op} ${n}" >&2; exit 1; }`;
const pythonIs = (minor: number, names: string[]) =>
  names.map((n) => `[ "$(${n} -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = 3.${minor} ] || { echo "${n} is not 3.${minor}" >&2; exit 1; }`).join('; ');

function officialPython(minor: number): Recipe {
  const v = `3.${minor}`;
  return {
    name: `python-${v}`,
    what: `bookworm-slim, this machine's pyenv ${v} at /usr/local (shared libpython${v})`,
    base: { suite: 'bookworm' },
    packages: SLIM_LIBS,
    steps: [{ kind: 'pyenv', version: v }],
    checks: [
      pythonIs(minor, ['python', 'python3', `python${v}`, `/usr/local/bin/python${v}`]),
      `[ -f /usr/local/lib/libpython${v}.so.1.0 ] && ldd /usr/local/bin/python${v} | grep -q '/usr/local/lib/libpython${v}.so.1.0'`,
      `[ "$(python -c 'import sys; print(sys.prefix)')" = /usr/local ]`,
      `python -c 'import json, threading, tracemalloc, ctypes, ssl, sqlite3'`,
    ],
  };
}

function debianPython(minor: number): Recipe {
  const v = `3.${minor}`;
  return {
    name: `python-${v}`,
    what: `Debian sid, Debian's python${v} as python, python3, python${v}`,
    base: { suite: 'sid' },
    packages: [`python${v}`],
    steps: [{ kind: 'alias', target: `/usr/bin/python${v}`, names: ['python', 'python3'] }],
    checks: [pythonIs(minor, ['python', 'python3', `python${v}`]), `python -c 'import json, threading, tracemalloc'`],
  };
}

/** Every image the tests can run, by recipe name. */
export function recipes(): Recipe[] {
  return [
    {
      name: 'agent',
      what: 'the agent image: trixie, manifests/agent-packages.txt (gdb 16), no Python',
      base: { suite: 'trixie' },
      packages: agentPackages(),
      steps: [],
      checks: [gdbMajor('-ge', 14), AGENT_TOOLS, NO_PYTHON],
    },
    ...[8, 9, 10, 11, 12, 13].map(officialPython),
    debianPython(14),
    debianPython(15),
    {
      name: 'debian-12',
      what: "bookworm, Debian's static python3 (3.11)",
      base: { suite: 'bookworm' },
      packages: ['python3'],
      steps: [],
      checks: [pythonIs(11, ['python3', '/usr/bin/python3']), '! ldd /usr/bin/python3.11 | grep -q libpython'],
    },
    {
      name: 'debug-toolkit-v6.0',
      what: 'robustadev/debug-toolkit:v6.0 as it was: bookworm, Python 3.12, gdb 13.1, procps',
      base: { suite: 'bookworm' },
      packages: [...SLIM_LIBS, 'gdb', 'procps'],
      steps: [{ kind: 'pyenv', version: '3.12' }],
      checks: [gdbMajor('-eq', 13), pythonIs(12, ['python3']), 'command -v ps && command -v tar && command -v awk'],
    },
  ];
}
