#!/usr/bin/python3
# guest-init.py: PID 1 of the arm64 test machine: mounts, the agent's root filesystem made ready,
# sshd on a virtio-serial port (the machine has no network device at all: the runner's ssh
# reaches it through qemu's chardev, a unix socket on the host), a "ready" line on the serial
# console, then reaps orphans (so that no zombie outlives a test).
import fcntl
import os
import select
import signal
import socket
import subprocess
import sys
import time


def sh(*argv, check=True):
    subprocess.run(argv, check=check)


for kind, where, opts in [('proc', '/proc', ''), ('sysfs', '/sys', ''), ('devtmpfs', '/dev', ''),
                          ('tmpfs', '/run', 'mode=755'), ('tmpfs', '/tmp', 'mode=1777'),
                          ('cgroup2', '/sys/fs/cgroup', '')]:
    os.makedirs(where, exist_ok=True)
    sh('mount', '-t', kind, *(['-o', opts] if opts else []), kind, where, check=False)
os.makedirs('/dev/pts', exist_ok=True)
sh('mount', '-t', 'devpts', '-o', 'gid=5,mode=620,ptmxmode=666', 'devpts', '/dev/pts', check=False)
with open('/etc/hostname') as f:
    socket.sethostname(f.read().strip())
for mod in ('9pnet_virtio', '9p', 'virtio_console'):
    sh('modprobe', mod, check=False)
# /host: the directory the runner shares read-only (the release executable, payloads, tests)
sh('mount', '-t', '9p', '-o', 'trans=virtio,version=9p2000.L,ro,cache=loose', 'host', '/host', check=False)
sh('ip', 'link', 'set', 'lo', 'up', check=False)
# /srv/agent: the agent image's root filesystem (manifests/agent-packages.txt, trixie); its gdb
# runs there as in an agent pod: this machine's /proc (hostPID), /dev and /tmp, nothing else of it
for d in ('proc', 'dev', 'tmp'):
    sh('mount', '--bind', '/' + d, '/srv/agent/' + d)


def port(name):
    """The /dev node of the virtio-serial port called name (no udev here to make a symlink): the
    port and its name arrive from the host shortly after the driver is loaded."""
    base = '/sys/class/virtio-ports'
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for p in os.listdir(base) if os.path.isdir(base) else []:
            try:
                with open(os.path.join(base, p, 'name')) as f:
                    if f.read().strip() == name and os.path.exists('/dev/' + p):
                        return '/dev/' + p
            except OSError:
                pass
        time.sleep(0.1)
    raise SystemExit(f'pyheap-init: no virtio-serial port {name}')


def serve_ssh():
    """`sshd -i` on the port, one session after another (the runner keeps one connection up, its
    ssh ControlMaster). While nobody is connected on the host side the port polls as hung up and
    reads as end of file: wait for the driver's SIGIO that says the host side opened it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGIO})
    fd = os.open(port('pyheap.ssh'), os.O_RDWR)
    fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        fcntl.fcntl(fd, fcntl.F_SETFL, (fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC) & ~os.O_NONBLOCK)
        if any(ev & select.POLLHUP for _, ev in poller.poll(0)):
            signal.sigtimedwait([signal.SIGIO], 5)  # (the timeout only guards a lost signal)
            continue
        subprocess.run(['/usr/sbin/sshd', '-i', '-e'], stdin=fd, stdout=fd)


os.makedirs('/run/sshd', mode=0o755, exist_ok=True)
sys.stdout.flush()
server = os.fork()
if server == 0:
    try:
        serve_ssh()
    except BaseException as e:
        print(f'pyheap-init: the ssh server failed: {e!r}', file=sys.stderr, flush=True)
    os._exit(1)
print('PYHEAP-VM ready', flush=True)
while True:
    try:
        pid, status = os.wait()
        if pid == server:
            print(f'pyheap-init: the ssh server ended ({status})', flush=True)
    except ChildProcessError:
        time.sleep(1)
