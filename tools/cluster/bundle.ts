// The OCI bundle of a container, as containerd's CRI plugin writes it for runc: config.json
// made by a pure function from what the kubelet asks (image root, command, env, user, volumes,
// read-only root, hostPID, privileged, cgroupsPath), and the root filesystem an overlay of the
// cached image (tools/images) with a writable layer of its own, thrown away with the bundle.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface BundleMount {
  destination: string;
  /** tmpfs: an emptyDir; bind: a hostPath or a configMap's files on the host. */
  kind: 'tmpfs' | 'bind';
  source?: string;
  readOnly?: boolean;
}

export interface BundleSpec {
  args: string[];
  env: Record<string, string>;
  cwd: string;
  uid: number;
  gid: number;
  hostname: string;
  readOnlyRoot: boolean;
  hostPID: boolean;
  privileged: boolean;
  cgroupsPath: string;
  mounts: BundleMount[];
}

// containerd's default capabilities for a container that asks for none
const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every capability this kernel knows that we hold ourselves (a privileged container gets
 * them all; this machine's root lacks CAP_SYS_RESOURCE, and runc cannot grant what it lacks). */
function allCaps(): string[] {
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
  const names = [
    'CHOWN',
    'DAC_OVERRIDE',
    'DAC_READ_SEARCH',
    'FOWNER',
    'FSETID',
    'KILL',
    'SETGID',
    'SETUID',
    'SETPCAP',
    'LINUX_IMMUTABLE',
    'NET_BIND_SERVICE',
    'NET_BROADCAST',
    'NET_ADMIN',
    'NET_RAW',
    'IPC_LOCK',
    'IPC_OWNER',
    'SYS_MODULE',
    'SYS_RAWIO',
    'SYS_CHROOT',
    'SYS_PTRACE',
    'SYS_PACCT',
    'SYS_ADMIN',
    'SYS_BOOT',
    'SYS_NICE',
    'SYS_RESOURCE',
    'SYS_TIME',
    'SYS_TTY_CONFIG',
    'MKNOD',
    'LEASE',
    'AUDIT_WRITE',
    'AUDIT_CONTROL',
    'SETFCAP',
    'MAC_OVERRIDE',
    'MAC_ADMIN',
    'SYSLOG',
    'WAKE_ALARM',
    'BLOCK_SUSPEND',
    'AUDIT_READ',
    'PERFMON',
    'BPF',
    'CHECKPOINT_RESTORE',
  ];
  return names
    .slice(0, last + 1)
    .filter((_, i) => (bounding >> BigInt(i)) & 1n)
    .map((n) => `CAP_${n}`);
}

/** config.json. oom_score_adj is left out: runc cannot lower it without CAP_SYS_RESOURCE
 * (it fails with "can't get final child's PID from pipe"), which this machine's root lacks. */
export function ociConfig(s: BundleSpec): Record<string, unknown> {
  const caps = s.privileged ? allCaps() : DEFAULT_CAPS;
  const ro = s.privileged ? [] : ['ro'];
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: { uid: s.uid, gid: s.gid, additionalGids: [s.gid] },
      args: s.args,
      env: Object.entries(s.env).map(([k, v]) => `${k}=${v}`),
      cwd: s.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: false,
    },
    root: { path: 'rootfs', readonly: s.readOnlyRoot },
    hostname: s.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
      ...s.mounts.map((m) =>
        m.kind === 'tmpfs'
          ? { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] }
          : { destination: m.destination, type: 'bind', source: m.source, options: ['rbind', 'rprivate', m.readOnly ? 'ro' : 'rw'] },
      ),
    ],
    linux: {
      cgroupsPath: s.cgroupsPath,
      namespaces: [...(s.hostPID ? [] : [{ type: 'pid' }]), { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      resources: { devices: [{ allow: s.privileged, access: 'rwm' }] },
      ...(s.privileged
        ? {}
        : {
            maskedPaths: ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
            readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
          }),
    },
  };
}

/** Writes the bundle in `dir`: config.json and rootfs, an overlay over the image (its mount
 * source is named pyheap-bundle, so that a leftover shows in the test runner's check). */
export function makeBundle(dir: string, imageRoot: string, spec: BundleSpec): void {
  for (const d of ['rootfs', 'upper', 'work']) mkdirSync(path.join(dir, d), { recursive: true });
  execFileSync('mount', ['-t', 'overlay', 'pyheap-bundle', '-o', `lowerdir=${imageRoot},upperdir=${path.join(dir, 'upper')},workdir=${path.join(dir, 'work')}`, path.join(dir, 'rootfs')]);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(ociConfig(spec), null, 1));
}

/** Unmounts the root and removes the bundle. */
export function removeBundle(dir: string): void {
  const root = path.join(dir, 'rootfs');
  try {
    execFileSync('umount', [root], { stdio: 'ignore' });
  } catch {
    /* not mounted */
  }
  // never remove files through a root that is still mounted
  if (
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4] === root)
  )
    throw new Error(`${root} is still mounted`);
  rmSync(dir, { recursive: true, force: true });
}
