#!/bin/sh
# pod_session.sh: one exec session in the agent pod. The session's first command unpacked the
# bundle (this file, agent.sh, find_pids.sh, the gdb script, the Python payloads, the user's
# script) from stdin into BUNDLE_DIR; this runs what was asked and removes BUNDLE_DIR whatever
# happens.
#
# usage: pod_session.sh BUNDLE_DIR find-pids CONTAINER_ID
#        pod_session.sh BUNDLE_DIR agent AGENT_ARGS...
# In AGENT_ARGS, a leading "@BUNDLE@" stands for BUNDLE_DIR (the client cannot know it).
#
# stdin stays open after the bundle. In agent mode one more byte, or the end of stdin (the client
# went away: WebSocket exec cannot half-close stdin on v4), asks agent.sh to stop: it cleans the
# target up, never killing gdb in the middle of a call, and exits.
set -u
export LC_ALL=C # as for a local agent: byte-wise tools, no locale files to load
d=$1 mode=$2
shift 2
agent= watcher=
finish() {
  [ -n "$watcher" ] && kill -TERM "$watcher" 2>/dev/null
  rm -rf "$d"
}
trap finish EXIT
# the agent container's own process passes a SIGTERM from the kubelet on to this PID
echo $$ > "$d/session.pid"
# (SIGCONT after SIGTERM: a frozen agent would never act on it)
trap '[ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && kill -CONT "$agent" 2>/dev/null' TERM HUP

case "$mode" in
  find-pids) sh "$d/shell/find_pids.sh" "$@" 3<&-; exit $? ;;
  agent) ;;
  *) echo "PYHEAP error 2 usage unknown session mode '$mode'" >&2; exit 2 ;;
esac

i=0 n=$#
while [ "$i" -lt "$n" ]; do
  a=$1
  shift
  case "$a" in @BUNDLE@*) a=$d${a#@BUNDLE@} ;; esac
  set -- "$@" "$a"
  i=$((i + 1))
done

# A non-interactive shell gives background jobs /dev/null as stdin: keep the real one on fd 3.
exec 3<&0
sh "$d/shell/agent.sh" "$@" 3<&- </dev/null &
agent=$!
(
  h=
  trap '[ -n "$h" ] && kill "$h" 2>/dev/null && wait "$h"; exit 0' TERM # reaped, not orphaned
  head -c 1 <&3 >/dev/null 2>&1 &
  h=$!
  wait "$h"
  kill -TERM "$agent" 2>/dev/null && kill -CONT "$agent" 2>/dev/null
) >/dev/null 2>&1 &
watcher=$!
exec 3<&-

while :; do
  wait "$agent"
  rc=$?
  kill -0 "$agent" 2>/dev/null || break # wait was cut short by a signal: the agent still runs
done
exit "$rc"
