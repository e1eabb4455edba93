// Container cgroups named the way kubelets name them, in every hierarchy this machine mounts
// (cgroup v1 controllers, name=systemd, the unified cgroup2 one), nested under the emulator's
// own cgroup as in a kind node: cgroupfs driver `.../kubepods/burstable/pod<uid>/<id>`,
// systemd driver `.../kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope`.
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type CgroupLayout = 'cgroupfs' | 'systemd';
export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

interface Hierarchy {
  mount: string;
  base: string;
  cpuset: boolean;
}

let cached: Hierarchy[] | undefined;

/** Every mounted hierarchy with this process's own cgroup in it (the root of our kubepods). */
export function hierarchies(): Hierarchy[] {
  if (cached) return cached;
  const own = new Map<string, string>(); // "memory" / "name=systemd" / "" (v2) -> path
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
    const [, ctrl, p] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (p !== undefined) for (const c of ctrl!.split(',')) own.set(c, p);
  }
  const found: Hierarchy[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n')) {
    const [pre, post] = line.split(' - ');
    const f = pre!.split(' ');
    const [fstype, , opts] = post!.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const ctrl = fstype === 'cgroup2' ? '' : opts!.split(',').find((o) => own.has(o));
    if (ctrl === undefined || !own.has(ctrl)) continue;
    const rel = path.relative(f[3]!, own.get(ctrl)!);
    if (rel.startsWith('..')) continue; // our cgroup is outside what this mount shows
    found.push({ mount: f[4]!, base: path.join(f[4]!, rel), cpuset: ctrl === 'cpuset' });
  }
  if (found.length === 0) throw new Error('no cgroup hierarchy is mounted: containers cannot be placed in cgroups');
  return (cached = found);
}

const qosDir = (q: QosClass) => (q === 'Guaranteed' ? '' : q.toLowerCase());

/** A container's cgroup, relative to the base, in the driver's naming. */
export function containerCgroup(layout: CgroupLayout, qos: QosClass, podUid: string, containerId: string): string {
  const q = qosDir(qos);
  if (layout === 'cgroupfs') return path.join('kubepods', q, `pod${podUid}`, containerId);
  const uid = podUid.replace(/-/g, '_');
  const slice = q ? `kubepods-${q}` : 'kubepods';
  return path.join('kubepods.slice', ...(q ? [`${slice}.slice`] : []), `${slice}-pod${uid}.slice`, `cri-containerd-${containerId}.scope`);
}

/** Creates the cgroup in every hierarchy; returns the absolute directories to join. */
export function createCgroup(rel: string): string[] {
  return hierarchies().map((h) => {
    // another cluster may remove a shared ancestor (kubepods/burstable) between two mkdirs
    for (let attempt = 0; ; attempt++) {
      try {
        return mkdirChain(h, rel);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw e;
      }
    }
  });
}

function mkdirChain(h: Hierarchy, rel: string): string {
  let dir = h.base;
  for (const part of rel.split('/')) {
    const parent = dir;
    dir = path.join(dir, part);
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // cpuset v1 starts a child with no CPUs and no memory nodes: joining it would fail
    if (h.cpuset)
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        if (readFileSync(path.join(dir, f), 'utf8').trim() === '') writeFileSync(path.join(dir, f), readFileSync(path.join(parent, f), 'utf8'));
      }
  }
  return dir;
}

export function cgroupPids(dirs: string[]): number[] {
  const pids = new Set<number>();
  for (const d of dirs) {
    try {
      for (const p of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
    } catch {
      /* already gone */
    }
  }
  return [...pids];
}

/** SIGKILLs whatever is in the cgroup until it is empty (a forking process can race one pass). */
export async function killCgroup(dirs: string[], timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = cgroupPids(dirs);
    if (pids.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} in ${dirs[0]} survived SIGKILL`);
    for (const pid of pids)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* exited meanwhile */
      }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Removes the cgroup, then each ancestor up to the base that no other cluster still uses. */
export function removeCgroup(rel: string): void {
  for (const h of hierarchies()) {
    for (let r = rel; r !== '.' && r !== ''; r = path.dirname(r)) {
      try {
        rmdirSync(path.join(h.base, r));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue;
        if (code === 'EBUSY' || code === 'ENOTEMPTY') break; // still in use: leave it and its parents
        throw e;
      }
    }
  }
}

/** kubepods cgroups anywhere in the mounted hierarchies: what a run must not leave behind. */
export function leftoverCgroups(): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e === 'kubepods' || e === 'kubepods.slice') found.push(path.join(dir, e));
      else if (depth < 4) walk(path.join(dir, e), depth + 1);
    }
  };
  for (const h of hierarchies()) walk(h.mount, 0);
  return found;
}

/**
 * Removes kubepods cgroup trees that hold no process (what a killed earlier run leaves).
 * Returns the ones it could not remove because something still runs in them.
 */
export function sweepStaleCgroups(): string[] {
  const busy: string[] = [];
  const rmTree = (dir: string): boolean => {
    let ok = true;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) ok = rmTree(path.join(dir, e.name)) && ok;
    if (!ok) return false;
    try {
      rmdirSync(dir);
      return true;
    } catch {
      busy.push(dir);
      return false;
    }
  };
  for (const cg of leftoverCgroups()) {
    try {
      rmTree(cg);
    } catch {
      busy.push(cg);
    }
  }
  return busy;
}
