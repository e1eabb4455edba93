// Runs the arm64 test machine: qemu-system-aarch64 (software emulation) booting the cached
// image with a throw-away overlay (-snapshot: the cache is never written), a read-only 9p share
// of one host directory at /host, and no network device at all: ssh reaches the guest's sshd
// through a virtio-serial port whose host end is a unix socket in a scratch directory (relay.ts
// is the ProxyCommand). The port carries one connection at a time, so one ssh ControlMaster
// holds it and every command is a session of that master. stop() ends the master and qemu's
// whole process group, and is also run on exit, SIGINT and SIGTERM of the test process.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, watch } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Image } from './image.js';

export const QEMU = '/usr/bin/qemu-system-aarch64';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}
export interface Vm {
  /** Runs a shell command line in the guest as root; resolves when it exits. */
  sh(command: string, opts?: { input?: string }): Promise<RunResult>;
  /** A long-running guest command, and its stdout as it comes. */
  spawn(command: string): ChildProcess;
  /** The serial console so far (the kernel's and init's messages). */
  console(): string;
  bootSeconds: number;
  /** ssh arguments that log into the guest (for a person at a terminal). */
  sshArgs: string[];
  stop(): Promise<void>;
}

/** Runs fn (synchronous cleanup) when this process exits, or on SIGINT and SIGTERM, after which
 * the process dies of that signal; the function returned forgets it. */
export function onInterrupt(fn: () => void): () => void {
  const onSignal = (sig: NodeJS.Signals) => {
    fn();
    process.kill(process.pid, sig);
  };
  process.once('exit', fn).once('SIGINT', onSignal).once('SIGTERM', onSignal);
  return () => {
    process.off('exit', fn).off('SIGINT', onSignal).off('SIGTERM', onSignal);
  };
}

const RELAY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'relay.js');
/** The host name ssh is given: only a label (ssh never resolves it: the ProxyCommand connects). */
const HOST = 'root@pyheap-arm64';

export async function startVm(image: Image, share: string, o: { cpus?: number; memoryMb?: number } = {}): Promise<Vm> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'arm64-vm-'));
  const portSocket = path.join(scratch, 'ssh.sock');
  const controlPath = path.join(scratch, 'cm');
  const args = [
    '-M',
    'virt',
    '-cpu',
    'max,pauth-impdef=on',
    '-smp',
    String(o.cpus ?? 2),
    '-m',
    String(o.memoryMb ?? 2048),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-kernel',
    image.kernel,
    '-initrd',
    image.initrd,
    '-append',
    'root=/dev/vda rw console=ttyAMA0 init=/sbin/pyheap-init quiet',
    '-drive',
    `file=${image.disk},format=raw,if=virtio,snapshot=on`,
    '-nic',
    'none',
    '-device',
    'virtio-serial-pci',
    '-chardev',
    `socket,id=ssh0,path=${portSocket},server=on,wait=off`,
    '-device',
    'virtserialport,chardev=ssh0,name=pyheap.ssh',
    '-virtfs',
    `local,path=${share},mount_tag=host,security_model=none,readonly=on`,
  ];
  const t0 = performance.now();
  // its own process group, so that stop() reaches every thread and helper of it
  const qemu = spawn(QEMU, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let consoleText = '';
  let exited = false;
  const exit = new Promise<void>((r) =>
    qemu.on('close', () => {
      exited = true;
      r();
    }),
  );
  qemu.stdout.setEncoding('utf8').on('data', (d: string) => {
    consoleText += d;
  });
  qemu.stderr.setEncoding('utf8').on('data', (d: string) => {
    consoleText += d;
  });

  let master: ChildProcess | undefined;
  let stopped: Promise<void> | undefined;
  const kill = () => {
    if (master && master.exitCode === null && master.signalCode === null) master.kill('SIGKILL');
    if (!exited)
      try {
        process.kill(-qemu.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
  };
  const forget = onInterrupt(() => {
    kill();
    rmSync(scratch, { recursive: true, force: true });
  });
  const stop = () =>
    (stopped ??= (async () => {
      forget();
      kill();
      const m = master;
      if (m && m.exitCode === null && m.signalCode === null) await new Promise((r) => m.once('close', r));
      await exit;
      rmSync(scratch, { recursive: true, force: true });
    })());

  const common = ['-i', image.key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-o', `ControlPath=${controlPath}`];
  // a session never opens a connection of its own (the port is the master's): no fallback
  const sshArgs = [...common, '-o', 'ControlMaster=no', '-o', 'ProxyCommand=false', HOST];
  const ssh = (command: string) => spawn('ssh', [...sshArgs, command], { stdio: ['pipe', 'pipe', 'pipe'] });
  const sh = (command: string, opts: { input?: string } = {}) =>
    new Promise<RunResult>((resolve, reject) => {
      const c = ssh(command);
      let stdout = '',
        stderr = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      c.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      c.on('error', reject);
      c.on('close', (code) => resolve({ code: code ?? 255, stdout, stderr }));
      c.stdin.end(opts.input ?? '');
    });

  try {
    // init prints this line once sshd listens
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (consoleText.includes('PYHEAP-VM ready')) {
          qemu.stdout.off('data', check);
          resolve();
        }
      };
      qemu.stdout.on('data', check);
      void exit.then(() => reject(new Error(`qemu exited before the machine was up:\n${consoleText.slice(-3000)}`)));
      check();
    });
    const bootSeconds = (performance.now() - t0) / 1000;
    master = spawn(
      'ssh',
      [...common, '-M', '-N', '-o', 'ControlPersist=no', '-o', 'ServerAliveInterval=60', '-o', `ProxyCommand=${quote(process.execPath)} ${quote(RELAY)} ${quote(portSocket)}`, HOST],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await masterUp(master, controlPath);
    const probe = await sh('true');
    if (probe.code !== 0) throw new Error(`ssh into the machine failed (${probe.code}): ${probe.stderr.trim()}`);
    return { sh, spawn: (c) => ssh(c), console: () => consoleText, bootSeconds, sshArgs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Resolves once the master's control socket answers `ssh -O check`: watches for the socket to
 * appear, then asks; rejects with the master's stderr if it exits first. */
function masterUp(master: ChildProcess, controlPath: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let stderr = '';
    master.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    let checking = false,
      done = false;
    const finish = (e?: Error) => {
      if (done) return;
      done = true;
      watcher.close();
      master.off('exit', onExit);
      if (e) reject(e);
      else resolve();
    };
    const onExit = (code: number | null, signal: string | null) => finish(new Error(`the ssh master to the arm64 machine exited (${signal ?? code}): ${stderr.trim()}`));
    const check = () => {
      if (done || checking || !existsSync(controlPath)) return;
      checking = true;
      // (ssh links the socket into place once it listens: it answers from then on)
      execFile('ssh', ['-o', `ControlPath=${controlPath}`, '-O', 'check', HOST], (err, _out, errText) => {
        finish(err ? new Error(`the ssh master to the arm64 machine does not answer: ${errText.trim()}`) : undefined);
      });
    };
    const watcher = watch(path.dirname(controlPath), check);
    master.on('exit', onExit);
    check();
  });
}
