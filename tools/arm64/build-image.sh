#!/bin/sh
# build-image.sh: build the arm64 test machine (Debian kernel, initrd and an ext4 root disk) into OUT.
#
# usage: build-image.sh OUT      (run as root; OUT must not exist; tools/arm64/image.ts calls it
#                                 with a temporary directory and renames it into the cache)
# The root filesystem is Debian bookworm for arm64 (gdb 13, the static python3 3.11, the shared
# libpython3.11 and a small program embedding it, sshd), made by `debootstrap --foreign` and its
# second stage run under qemu-user-static, with a sid root filesystem for arm64 at /srv/sid
# (python3.14, python3.15) that tests enter like a container, and the agent image's root
# filesystem at /srv/agent (trixie, exactly the packages of manifests/agent-packages.txt: gdb 16,
# no Python), whose gdb /usr/local/lib/pyheap-agent/gdb runs as the agent pod's would. The
# machine has no network device: sshd is served on a virtio-serial port (guest-init.py). Nothing
# of this runs on arm64 hardware: every arm64 instruction here is emulated.
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)
mirror=${PYHEAP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${PYHEAP_ARM64_DEBS:-${PYHEAP_ARM64_CACHE:-$HOME/.cache/kubectl-pyheap/arm64}/debs}
agent_packages=$here/../../manifests/agent-packages.txt
qemu=/usr/bin/qemu-aarch64-static
step() { echo "arm64-image: $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "build-image.sh: must run as root (debootstrap, chroot)" >&2; exit 2; }
for t in debootstrap mke2fs aarch64-linux-gnu-as aarch64-linux-gnu-ld ssh-keygen; do
  command -v "$t" >/dev/null || { echo "build-image.sh: $t is missing (apt-get install debootstrap e2fsprogs binutils-aarch64-linux-gnu openssh-client)" >&2; exit 2; }
done
[ -x "$qemu" ] || { echo "build-image.sh: $qemu is missing (apt-get install qemu-user-static)" >&2; exit 2; }
mkdir "$out"
mkdir -p "$cache/bookworm" "$cache/sid" "$cache/trixie"
root=$out/root

# The second stage runs arm64 executables: they need a binfmt_misc entry for aarch64. One that
# already exists is used as it is; otherwise ours is registered for the build only.
binfmt=/proc/sys/fs/binfmt_misc
ours=
unregister() { [ -z "$ours" ] || echo -1 > "$binfmt/$ours" 2>/dev/null || true; }
cleanup() {
  unregister
  for m in "$root/srv/agent/proc" "$root/srv/sid/proc" "$root/proc"; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
[ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
registered=
for f in "$binfmt"/*; do
  case "$f" in */register|*/status) continue ;; esac
  grep -q '^magic 7f454c460201010000000000000000000200b700' "$f" 2>/dev/null && grep -q '^enabled' "$f" && registered=$f
done
if [ -z "$registered" ]; then
  ours=pyheap-build-aarch64-$$
  printf ':%s:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:%s:F\n' \
    "$ours" "$qemu" > "$binfmt/register"
fi

bootstrap() {  # bootstrap SUITE DIR PACKAGES: both stages
  step "debootstrap $1 (first stage: download and unpack)"
  debootstrap --arch=arm64 --foreign --variant=minbase --cache-dir="$cache/$1" --include="$3" "$1" "$2" "$mirror" >/dev/null
  cp "$qemu" "$2/usr/bin/"
  # no service starts inside a chroot
  printf '#!/bin/sh\nexit 101\n' > "$2/usr/sbin/policy-rc.d"; chmod 755 "$2/usr/sbin/policy-rc.d"
  # an initrd with just what mounts the root disk: every module of MODULES=most costs minutes here
  mkdir -p "$2/etc/initramfs-tools/conf.d" "$2/usr/share/initramfs-tools/modules.d"
  echo MODULES=list > "$2/etc/initramfs-tools/conf.d/pyheap-vm"
  printf 'virtio_pci\nvirtio_blk\next4\n' > "$2/usr/share/initramfs-tools/modules.d/pyheap-vm"
  step "debootstrap $1 (second stage, emulated: the slow part)"
  chroot "$2" /debootstrap/debootstrap --second-stage >/dev/null || {
    tail -n 30 "$2/debootstrap/debootstrap.log" >&2; exit 1; }
  rm -f "$2/usr/sbin/policy-rc.d" "$2/usr/bin/qemu-aarch64-static"
  rm -rf "$2/var/cache/apt/archives/"*.deb "$2/var/lib/apt/lists/"*
}

# libboost-regex1.74.0 is named because debootstrap does not resolve the -icu72 name it provides (gdb needs it)
bootstrap bookworm "$root" gdb,python3,libpython3.11,openssh-server,iproute2,procps,kmod,linux-image-arm64,util-linux,libatomic1,libstdc++6,libboost-regex1.74.0
mkdir -p "$root/srv/sid"
bootstrap sid "$root/srv/sid" python3.14,python3.15
# the agent image (manifests/Dockerfile installs the same list on trixie-slim)
mkdir -p "$root/srv/agent"
bootstrap trixie "$root/srv/agent" "$(sed 's/#.*//' "$agent_packages" | tr -s ' \n' '\n' | grep . | paste -sd, -)"
if ls "$root/srv/agent"/usr/bin/python* "$root/srv/agent"/usr/local/bin/python* 2>/dev/null; then
  echo "build-image.sh: a python executable was installed in the agent's root filesystem; it must have none" >&2; exit 1
fi
mkdir -p "$root/usr/local/lib/pyheap-agent"
printf '#!/bin/sh\n# the agent image'"'"'s gdb (trixie), run in its root filesystem as in the agent pod\nexec chroot /srv/agent /usr/bin/gdb "$@"\n' \
  > "$root/usr/local/lib/pyheap-agent/gdb"
chmod 755 "$root/usr/local/lib/pyheap-agent/gdb"

step "test programs, init, ssh"
# embed311: a program linked with the shared libpython3.11 (main is Py_BytesMain)
aarch64-linux-gnu-as -o "$out/embed.o" "$here/embed-aarch64.S"
libdir=$root/usr/lib/aarch64-linux-gnu
aarch64-linux-gnu-ld -o "$root/usr/local/bin/embed311" "$out/embed.o" -pie --hash-style=gnu \
  -dynamic-linker /lib/ld-linux-aarch64.so.1 -rpath-link "$libdir" "$libdir/libpython3.11.so.1.0" "$libdir/libc.so.6"
rm "$out/embed.o"
install -m 755 "$here/guest-init.py" "$root/sbin/pyheap-init"
echo pyheap-arm64 > "$root/etc/hostname"
mkdir -p "$root/root/.ssh" "$root/host" "$root/srv/sid/host"
ssh-keygen -q -t ed25519 -N '' -C pyheap-arm64 -f "$out/id_ed25519"
install -m 600 "$out/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
chmod 700 "$root/root/.ssh"
printf 'UseDNS no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\nAcceptEnv PYHEAP_*\nMaxSessions 100\n' > "$root/etc/ssh/sshd_config.d/pyheap.conf"

step "kernel and disk"
cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
{
  echo "bookworm: gdb $(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' gdb), python3 $(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' python3.11), kernel $(ls "$root/lib/modules")"
  echo "agent (trixie): gdb $(dpkg-query --admindir="$root/srv/agent/var/lib/dpkg" -W -f '${Version}' gdb)"
  echo "sid: python3.14 $(dpkg-query --admindir="$root/srv/sid/var/lib/dpkg" -W -f '${Version}' python3.14), python3.15 $(dpkg-query --admindir="$root/srv/sid/var/lib/dpkg" -W -f '${Version}' python3.15)"
} > "$out/versions.txt"
unregister; ours=
size_mb=$(( $(du -sm "$root" | cut -f1) + 768 ))
mke2fs -q -t ext4 -L pyheap-arm64 -d "$root" "$out/disk.img" "${size_mb}M"
rm -rf "$root"
step "done: $(cat "$out/versions.txt" | tr '\n' ';')"
