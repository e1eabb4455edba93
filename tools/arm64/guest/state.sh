#!/bin/sh
# state.sh (runs in the arm64 guest): what a test checks of a target after a run, as one line:
#   state=S tracer=0 threads=2 tmp=<entries of its /tmp, comma-separated>
pid=$1
awk '/^State:/ { s = $2 } /^TracerPid:/ { t = $2 } /^Threads:/ { n = $2 } END { printf "state=%s tracer=%s threads=%s ", s, t, n }' "/proc/$pid/status"
echo "tmp=$(ls -A "/proc/$pid/root/tmp" | tr '\n' ',')"
