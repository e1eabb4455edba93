#!/bin/sh
# target.sh (runs in the arm64 guest): start a Python target the way a container looks from the
# node: own mount and PID namespaces (it is PID 1 there), a private tmpfs /tmp, uid 1000, and
# optionally the sid root filesystem (/srv/sid) and a kubelet-like cgroup.
# usage: target.sh [--sid] [--cgroup DIR] [--root] -- PROGRAM ARGS...
# stdout: "PID <host pid>", then the target's own output. It runs until killed (SIGKILL).
set -eu
sid=0 cgroup= uid=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --sid) sid=1; shift ;;
    --cgroup) cgroup=$2; shift 2 ;;
    --root) uid=0; shift ;;
    --) shift; break ;;
    *) echo "target.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ "$sid" = 1 ]; then
  inner="mount -t tmpfs -o mode=1777 tmpfs /srv/sid/tmp && mount --bind /host /srv/sid/host && exec chroot /srv/sid setpriv --reuid=$uid --regid=$uid --clear-groups -- \"\$@\""
else
  inner="mount -t tmpfs -o mode=1777 tmpfs /tmp && exec setpriv --reuid=$uid --regid=$uid --clear-groups -- \"\$@\""
fi
unshare --mount --propagation private --pid --fork sh -c "$inner" target "$@" &
outer=$!
child=
while [ -z "$child" ]; do
  child=$(cat "/proc/$outer/task/$outer/children" 2>/dev/null | tr -d ' ') || exit 1
  kill -0 "$outer" 2>/dev/null || exit 1
  [ -n "$child" ] || sleep 0.01
done
if [ -n "$cgroup" ]; then mkdir -p "$cgroup" && echo "$child" > "$cgroup/cgroup.procs"; fi
echo "PID $child"
wait "$outer"
