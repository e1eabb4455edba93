// node build/tools/arm64/relay.js SOCKET: ssh's ProxyCommand for the arm64 test machine. Joins
// stdin and stdout to the unix socket of qemu's chardev, whose other end is the guest's
// virtio-serial port with sshd on it (guest-init.py); ends when either side does.
import net from 'node:net';

const sock = net.connect(process.argv[2]!);
sock.on('error', (e) => {
  process.stderr.write(`relay: ${process.argv[2]}: ${e.message}\n`);
  process.exit(1);
});
sock.on('connect', () => {
  process.stdin.pipe(sock);
  sock.pipe(process.stdout);
});
sock.on('close', () => process.exit(0));
process.stdin.on('end', () => sock.end());
