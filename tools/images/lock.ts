// One builder per cache entry at a time, across processes: a lock file made with O_EXCL that
// holds the builder's PID and start time. A lock whose process is gone (killed mid-build) is
// stale and broken, under a second short-lived lock so that two waiters never both break it
// (the second would otherwise remove the lock the first has just taken).
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Field 22 of /proc/PID/stat: tells a PID from a later process that reuses it. */
export function startTime(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ')[19];
  } catch {
    return undefined;
  }
}

export interface LockOwner {
  pid: number;
  start: string;
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const [pid, start] = readFileSync(file, 'utf8').trim().split(' ');
    return pid && start ? { pid: Number(pid), start } : undefined;
  } catch {
    return undefined;
  }
}

const alive = (o: LockOwner) => startTime(o.pid) === o.start;

function tryCreate(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  writeSync(fd, `${process.pid} ${startTime(process.pid)}\n`);
  closeSync(fd);
  return true;
}

const age = (file: string) => {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

/** Removes `file` if its owner is gone; true if it did. */
function breakStale(file: string, onStale: (o: LockOwner | undefined) => void): boolean {
  const breaker = `${file}.break`;
  if (!tryCreate(breaker)) {
    if (age(breaker) > 10_000)
      try {
        unlinkSync(breaker);
      } catch {
        /* someone else did */
      }
    return false;
  }
  try {
    const owner = readOwner(file);
    // no owner written yet: a creator between open and write, unless that was long ago
    const stale = owner ? !alive(owner) : age(file) > 5_000;
    if (!stale) return false;
    onStale(owner);
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
    return true;
  } finally {
    unlinkSync(breaker);
  }
}

export interface LockEvents {
  waiting(owner: LockOwner): void;
  stale(owner: LockOwner | undefined): void;
}

/** Takes the lock, waiting for a live owner and breaking a dead one's; returns the release. */
export async function acquire(file: string, on: LockEvents): Promise<() => void> {
  let told = 0;
  for (;;) {
    if (tryCreate(file))
      return () => {
        try {
          unlinkSync(file);
        } catch {
          /* gone */
        }
      };
    const owner = readOwner(file);
    if (owner && alive(owner)) {
      if (told !== owner.pid) {
        on.waiting(owner);
        told = owner.pid;
      }
      await sleep(250);
      continue;
    }
    if (!breakStale(file, on.stale)) await sleep(50);
  }
}
