#!/usr/bin/python3
# guest-init.py: PID 1 of the arm64 test machine: mounts, loopback-only user-mode network, sshd,
# a "ready" line on the serial console, then reaps orphans (so that no zombie outlives a test).
import os
import socket
import subprocess
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
socket.sethostname(open('/etc/hostname').read().strip())
for mod in ('virtio_net', '9pnet_virtio', '9p'):
    sh('modprobe', mod, check=False)
# /host: the directory the runner shares read-only (the release executable, payloads, tests)
sh('mount', '-t', '9p', '-o', 'trans=virtio,version=9p2000.L,ro,cache=loose', 'host', '/host', check=False)
sh('ip', 'link', 'set', 'lo', 'up')
sh('ip', 'link', 'set', 'eth0', 'up')
sh('ip', 'addr', 'add', '10.0.2.15/24', 'dev', 'eth0')
sh('ip', 'route', 'add', 'default', 'via', '10.0.2.2')
os.makedirs('/run/sshd', mode=0o755, exist_ok=True)
sh('/usr/sbin/sshd')
print('PYHEAP-VM ready', flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(1)
