// Runs the arm64 test machine: qemu-system-aarch64 (software emulation) booting the cached
// image with a throw-away overlay (-snapshot: the cache is never written), a read-only 9p share
// of one host directory at /host, and ssh on a 127.0.0.1 port (user-mode network, restrict=on:
// the guest reaches nothing but that forward). stop() kills qemu's whole process group, and is
// also run on exit, SIGINT and SIGTERM of the test process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Image } from './image.js';

export const QEMU = '/usr/bin/qemu-system-aarch64';

export interface RunResult { code: number; stdout: string; stderr: string }
export interface Vm {
  /** Runs a shell command line in the guest as root; resolves when it exits. */
  sh(command: string, opts?: { input?: string; env?: Record<string, string> }): Promise<RunResult>;
  /** A long-running guest command, and its stdout as it comes. */
  spawn(command: string): ChildProcess;
  /** The serial console so far (the kernel's and init's messages). */
  console(): string;
  bootSeconds: number;
  /** ssh arguments that log into the guest (for a person at a terminal). */
  sshArgs: string[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export async function startVm(image: Image, share: string, o: { cpus?: number; memoryMb?: number } = {}): Promise<Vm> {
  const port = await freePort();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'arm64-vm-'));
  const args = [
    '-M', 'virt', '-cpu', 'max,pauth-impdef=on', '-smp', String(o.cpus ?? 2), '-m', String(o.memoryMb ?? 2048),
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', image.kernel, '-initrd', image.initrd,
    '-append', 'root=/dev/vda rw console=ttyAMA0 init=/sbin/pyheap-init quiet',
    '-drive', `file=${image.disk},format=raw,if=virtio,snapshot=on`,
    '-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:22`, '-device', 'virtio-net-pci,netdev=n0',
    '-virtfs', `local,path=${share},mount_tag=host,security_model=none,readonly=on`,
  ];
  const t0 = performance.now();
  // its own process group, so that stop() reaches every thread and helper of it
  const qemu = spawn(QEMU, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let consoleText = '';
  let exited = false;
  const exit = new Promise<void>((r) => qemu.on('close', () => { exited = true; r(); }));
  qemu.stdout.setEncoding('utf8').on('data', (d: string) => { consoleText += d; });
  qemu.stderr.setEncoding('utf8').on('data', (d: string) => { consoleText += d; });

  let stopped: Promise<void> | undefined;
  const kill = () => { if (!exited) try { process.kill(-qemu.pid!, 'SIGKILL'); } catch { /* gone */ } };
  const onSignal = (sig: NodeJS.Signals) => { kill(); rmSync(scratch, { recursive: true, force: true }); process.kill(process.pid, sig); };
  const onExit = () => { kill(); rmSync(scratch, { recursive: true, force: true }); };
  const stop = () => (stopped ??= (async () => {
    process.off('exit', onExit).off('SIGINT', onSignal).off('SIGTERM', onSignal);
    kill();
    await exit;
    rmSync(scratch, { recursive: true, force: true });
  })());
  process.once('exit', onExit).once('SIGINT', onSignal).once('SIGTERM', onSignal);

  const sshArgs = ['-i', image.key, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=600', '-o', 'ServerAliveInterval=60', 'root@127.0.0.1'];
  const ssh = (command: string, env: Record<string, string> = {}) => spawn('ssh', [
    ...Object.keys(env).flatMap((k) => ['-o', `SendEnv=${k}`]), ...sshArgs, command],
  { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const sh = (command: string, opts: { input?: string; env?: Record<string, string> } = {}) => new Promise<RunResult>((resolve, reject) => {
    const c = ssh(command, opts.env);
    let stdout = '', stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    c.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? 255, stdout, stderr }));
    c.stdin.end(opts.input ?? '');
  });

  try {
    // init prints this line once sshd listens
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (consoleText.includes('PYHEAP-VM ready')) { qemu.stdout.off('data', check); resolve(); }
      };
      qemu.stdout.on('data', check);
      void exit.then(() => reject(new Error(`qemu exited before the machine was up:\n${consoleText.slice(-3000)}`)));
      check();
    });
    const bootSeconds = (performance.now() - t0) / 1000;
    const probe = await sh('true');
    if (probe.code !== 0) throw new Error(`ssh into the machine failed (${probe.code}): ${probe.stderr.trim()}`);
    return { sh, spawn: (c) => ssh(c), console: () => consoleText, bootSeconds, sshArgs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
