#!/bin/sh
# find_pids.sh: list the processes of one container, from where the node's PIDs are visible (the
# agent pod: hostPID, privileged). A process belongs to the container when a segment of one of
# the paths in /proc/PID/cgroup is the container ID, or cri-containerd-ID.scope, crio-ID.scope,
# docker-ID.scope (cgroup v1 and v2, cgroupfs and systemd drivers, any prefix above them).
# CRI-O's monitor sits in crio-conmon-ID.scope in the host's namespaces: it does not match.
# POSIX sh, grep, awk, tr and cut only.
#
# usage: find_pids.sh CONTAINER_ID     (the hex ID from containerStatuses[].containerID)
#
# stdout: one line per process of the container, then a count:
#   PYHEAP proc HOST_PID CONTAINER_PID RSS_KIB PYTHON COMMAND LINE...
#   PYHEAP procs N
# PYTHON is "yes" when the process can be CPython: its executable names the C API
# (PyRun_SimpleString) or it maps a libpython; the agent checks the exported symbols exactly.
set -u
export LC_ALL=C
id=${1:-}
case "$id" in
  ''|*[!0-9a-fA-F]*) echo "PYHEAP error 2 usage the container ID must be hex, not '$id'" >&2; exit 2 ;;
esac

n=0
for f in $(grep -l -E "/($id|cri-containerd-$id\\.scope|crio-$id\\.scope|docker-$id\\.scope)(/|\$)" /proc/[0-9]*/cgroup 2>/dev/null); do
  pid=${f#/proc/}
  pid=${pid%/cgroup}
  # NSpid lists the PID in each namespace, outermost first: the last is the container's
  set -- $(awk '/^NSpid:/ { n = $NF } /^VmRSS:/ { r = $2 } END { print (n == "" ? "-" : n), r + 0 }' "/proc/$pid/status" 2>/dev/null)
  [ $# -eq 2 ] || continue # exited meanwhile
  nspid=$1 rss=$2
  [ "$nspid" = - ] && nspid=$pid
  py=no
  if grep -q -E '/libpython[0-9.]*[a-z]*\.so' "/proc/$pid/maps" 2>/dev/null || grep -q PyRun_SimpleString "/proc/$pid/exe" 2>/dev/null; then
    py=yes
  fi
  cmd=$(tr '\000\t\n' '   ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-300)
  [ -n "$cmd" ] || cmd="[$(cat "/proc/$pid/comm" 2>/dev/null)]"
  echo "PYHEAP proc $pid $nspid $rss $py ${cmd% }"
  n=$((n + 1))
done
echo "PYHEAP procs $n"
