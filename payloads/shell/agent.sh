#!/bin/sh
# agent.sh: run a pyheap payload inside a live CPython process, from wherever its PID is visible
# (this host for `pid/N`, the node-side agent pod for Kubernetes). POSIX sh, gdb and common
# tools only (awk, od, tar, sha256sum, mkdir, chown): the agent image has no Node and no Python.
#
# usage: agent.sh --payloads DIR [--mode census|script] [--script FILE] [--script-name NAME]
#                 [--timeout SECONDS] [--largest N] [--safepoint-wait SECONDS]
#                 [--job KEY=VALUE]... [--stream NAME] [--allow-shared] [--max-result-mb N]
#                 [--verbose] PID
# --job adds a line to the payload's job file (growth=30, referrers=T1,T2, stacks=1, trace=10);
# --stream NAME makes a FIFO NAME in the staging directory, passes it to the payload as
# snapshot=NAME, and saves what the payload writes to it (outside the target) as out/NAME.
#
# stdout: a tar stream of the results (status.json, out/, stdout.txt, stderr.txt).
# stderr: one event per line, "PYHEAP <event> ...", and with --verbose the gdb transcript.
# Exit status: 0 when the payload ran (its own outcome is in status.json); otherwise the code
# of the "PYHEAP error <code> <name> <detail>" line printed last.
set -u
umask 077

payloads= mode=census script= script_name=script timeout=30 largest=20 wait_safe=2 verbose=0 pid=
jobs= stream= allow_shared=0 max_result_mb=4096
while [ $# -gt 0 ]; do
  case "$1" in
    --payloads) payloads=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --script) script=$2; shift 2 ;;
    --script-name) script_name=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --largest) largest=$2; shift 2 ;;
    --safepoint-wait) wait_safe=$2; shift 2 ;;
    --job) case "$2" in [a-z]*=*) jobs="$jobs
$2" ;; *) echo "PYHEAP error 2 usage bad-job $2" >&2; exit 2 ;; esac; shift 2 ;;
    --stream) stream=$2; shift 2 ;;
    --allow-shared) allow_shared=1; shift ;;
    --max-result-mb) max_result_mb=$2; shift 2 ;;
    --verbose) verbose=1; shift ;;
    -*) echo "PYHEAP error 2 usage unknown-option $1" >&2; exit 2 ;;
    *) pid=$1; shift ;;
  esac
done

event() { echo "PYHEAP $*" >&2; }
fail() { code=$1; shift; event error "$code" "$@"; exit "$code"; }

case "$pid" in ''|*[!0-9]*) fail 2 usage "a numeric PID is required" ;; esac
case "$timeout" in ''|*[!0-9]*) fail 2 usage "timeout must be whole seconds" ;; esac
case "$max_result_mb" in ''|*[!0-9]*) fail 2 usage "max-result-mb must be a whole number" ;; esac
case "$stream" in *[!A-Za-z0-9._-]*|.*) fail 2 usage "bad stream name $stream" ;; esac
[ -z "$(printf '%s' "$jobs" | tr -d 'A-Za-z0-9_=.,:\n-')" ] ||
  fail 2 usage "job values may only hold letters, digits and _=.,:-"
[ -d "$payloads" ] || fail 2 usage "no payload directory $payloads"
command -v gdb >/dev/null 2>&1 || fail 18 gdb-missing "gdb is not installed where the agent runs"

proc=/proc/$pid
work= stage_host= gdb_pid= stream_pid=
release_stream() {  # a reader still waiting for a writer gets one, and then end-of-file
  [ -n "$stream_pid" ] && [ -p "$stage_host/$stream" ] && : 1<> "$stage_host/$stream"
}
cleanup() {
  # Never kill gdb: it may be inside the target. Wake it if it waits for a safe point, then wait.
  if [ -n "$gdb_pid" ] && kill -0 "$gdb_pid" 2>/dev/null; then
    kill -URG "$pid" 2>/dev/null
    wait "$gdb_pid" 2>/dev/null
  fi
  release_stream 2>/dev/null
  [ -n "$stage_host" ] && rm -rf "$stage_host" 2>/dev/null
  [ -n "$stream_pid" ] && wait "$stream_pid" 2>/dev/null
  [ -n "$work" ] && rm -rf "$work"
  return 0
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM
# (after the traps: a signal in between would leave the directory behind)
work=$(mktemp -d "${TMPDIR:-/tmp}/pyheap-agent.XXXXXXXX") || fail 20 internal "mktemp failed"

# --- 1. the target: alive, not stopped, not traced -------------------------------------------
[ -r "$proc/status" ] || fail 10 no-such-process "no process with PID $pid"
# One run at a time per target (two runs together would have two gdbs race for it, and two
# payloads in it): an exclusive lock on the target's own /proc/<pid> directory, seen through its
# root, so that every agent on the node locks the same inode (each agent pod has a /proc of its
# own). Nothing is written; the kernel drops the lock when this agent, and any gdb it started
# (they inherit it), are gone.
starttime() { sed 's/.*) //' "$1/stat" 2>/dev/null | cut -d' ' -f20; }
nspid=$(awk '/^NSpid:/ { print $NF }' "$proc/status")
lockdir=$proc/root/proc/${nspid:-0}
[ -n "$nspid" ] && [ -r "$lockdir/stat" ] && [ "$(starttime "$lockdir")" = "$(starttime "$proc")" ] || lockdir=$proc
if command -v flock >/dev/null 2>&1 && [ -r "$lockdir" ]; then
  exec 9<"$lockdir"
  flock -n 9 || fail 14 target-traced "process $pid is being inspected by another kubectl-pyheap run"
fi
state=$(awk '/^State:/ {print $2}' "$proc/status")
tracer=$(awk '/^TracerPid:/ {print $2}' "$proc/status")
uid=$(awk '/^Uid:/ {print $3}' "$proc/status")
gid=$(awk '/^Gid:/ {print $3}' "$proc/status")
case "$state" in Z|X) fail 10 no-such-process "process $pid has exited (state $state)" ;; esac
if [ "${tracer:-0}" != 0 ]; then
  tracer_cmd=$(tr '\0' ' ' < "/proc/$tracer/cmdline" 2>/dev/null | cut -c1-60)
  fail 14 target-traced "process $pid is already traced by PID $tracer (${tracer_cmd% })"
fi
case "$state" in T|t) fail 13 target-stopped "process $pid is stopped (state $state)" ;; esac

# --- 2. is it CPython? exported symbols of the executable and of any mapped libpython ---------
symbols="PyRun_SimpleString PyGILState_Ensure PyGILState_Release PyThread_start_new_thread PyObject_Malloc PyEval_ThreadsInitialized"
maps=$work/maps
cat "$proc/maps" > "$maps" 2>/dev/null || fail 12 ptrace-refused "the kernel refused ptrace access to process $pid (its memory map is unreadable)"
exe_path=$(readlink "$proc/exe" 2>/dev/null) || fail 11 not-python "cannot read the executable of $pid"

# file_base PATH -> load address of the mapping at offset 0 of PATH, and its map_files name
file_base() {
  awk -v p="$1" '$3 == "00000000" && substr($0, index($0, $6)) == p { split($1, a, "-"); print a[1], $1; exit }' "$maps"
}
# lookup FILE -> "SYM 0xADDR" lines for the symbols FILE exports
lookup() {
  set -- "$1"
  args=
  for s in $symbols; do args="$args -ex 'info address $s'"; done
  eval "gdb -nx -batch --readnever $args \"\$1\"" 2>/dev/null |
    awk '/^Symbol "/ { gsub(/"/, "", $2); for (i = 3; i <= NF; i++) if ($i ~ /^0x/) { sub(/[.,]$/, "", $i); print $2, $i; break } }'
}

found= pyfile=
for candidate in "$exe_path" $(awk '$6 ~ /\/libpython[0-9.]*[a-z]*\.so/ { print substr($0, index($0, $6)) }' "$maps" | sort -u); do
  set -- $(file_base "$candidate")
  [ $# -eq 2 ] || continue
  base=$1 range=$2
  file=$proc/map_files/$range
  [ -r "$file" ] || file=$proc/root$candidate
  [ "$candidate" = "$exe_path" ] && file=$proc/exe
  lookup "$file" > "$work/syms"
  if grep -q '^PyRun_SimpleString ' "$work/syms" && grep -q '^PyGILState_Ensure ' "$work/syms"; then
    found=$work/syms pyfile=$candidate
    etype=$(od -An -tu2 -j16 -N2 "$file" | tr -d ' ')
    machine=$(od -An -tu2 -j18 -N2 "$file" | tr -d ' ')
    break
  fi
done
[ -n "$found" ] || fail 11 not-python "process $pid ($exe_path) does not export the CPython C API"
event python "$pyfile"

addr() {  # addr SYM -> absolute address in the target, or 0
  a=$(awk -v s="$1" '$1 == s { print $2; exit }' "$found")
  [ -n "$a" ] || { echo 0; return; }
  if [ "$etype" = 3 ]; then printf '0x%x\n' $((0x$base + a)); else printf '0x%x\n' $((a)); fi
}
for s in $symbols; do eval "sym_$s=$(addr "$s")"; done
[ "$sym_PyThread_start_new_thread" != 0 ] && [ "$sym_PyObject_Malloc" != 0 ] ||
  fail 11 not-python "process $pid lacks PyThread_start_new_thread/PyObject_Malloc"

# libc's executable mapping: where the `syscall; ret` sequence is searched
text=$(awk '$2 ~ /x/ && $6 ~ /\/libc([.-][^\/]*)?\.so[^\/]*$|\/ld-musl[^\/]*$/ { split($1, a, "-"); print "0x" a[1], "0x" a[2]; exit }' "$maps")
[ -n "$text" ] || text=$(awk -v p="$exe_path" '$2 ~ /x/ && substr($0, index($0, $6)) == p { split($1, a, "-"); print "0x" a[1], "0x" a[2]; exit }' "$maps")
[ -n "$text" ] || fail 20 no-libc "no executable libc mapping in process $pid"

# The injector is chosen by the ELF machine of the file that holds the C API (e_machine).
case "$machine" in
  62) arch=x86_64 ;;
  183) arch=aarch64 ;;
  *) fail 19 unsupported-arch "process $pid runs a CPython for ELF machine $machine (x86_64 and aarch64 are supported)" ;;
esac
[ "$arch" = "$(uname -m)" ] || fail 19 unsupported-arch "process $pid is an $arch program but this is an $(uname -m) machine"
[ -r "$payloads/gdb/inject-$arch.gdb" ] || fail 19 unsupported-arch "no injector for $arch in $payloads/gdb"
# aarch64: the stub leaves through libc's munmap (a landing pad for BTI), found by its symbol
munmap=0
if [ "$arch" = aarch64 ]; then
  libc=$(awk '$6 ~ /\/libc([.-][^\/]*)?\.so[^\/]*$|\/ld-musl[^\/]*$/ { print substr($0, index($0, $6)); exit }' "$maps")
  set -- $(file_base "$libc")
  if [ $# -eq 2 ]; then
    libc_file=$proc/map_files/$2
    [ -r "$libc_file" ] || libc_file=$proc/root$libc
    a=$(symbols=munmap lookup "$libc_file" | awk '$1 == "munmap" { print $2; exit }')
    [ -n "$a" ] && munmap=$(printf '0x%x' $((0x$1 + a)))
  fi
  [ "$munmap" != 0 ] || fail 20 no-libc "no munmap in the libc of process $pid"
fi

# --- 2b. a forked worker (gunicorn, celery prefork) shares its heap with its parent: walking every
# object touches its reference count and copies those pages. Refuse unless allowed.
rss_of() { awk '/^VmRSS:/ { print $2 * 1024 }' "$proc/status" 2>/dev/null; }
shared_anon_kb() {  # shared pages of anonymous and heap mappings (file-backed libraries aside)
  awk '/^[0-9a-f]+-[0-9a-f]+ / { anon = (NF < 6 || $6 ~ /^\[(heap|anon)/) }
       anon && /^Shared_(Clean|Dirty):/ { kb += $2 } END { print kb + 0 }' "$proc/smaps" 2>/dev/null
}
if [ "$mode" = census ]; then
  ppid=$(awk '/^PPid:/ { print $2 }' "$proc/status")
  shared=$(shared_anon_kb)
  if [ "${shared:-0}" -ge 16384 ] && [ "$(readlink "/proc/$ppid/exe" 2>/dev/null)" = "$exe_path" ]; then
    event shared-heap "$((shared * 1024))" "$ppid"
    [ "$allow_shared" = 1 ] ||
      fail 21 shared-pages "process $pid is a forked worker sharing $((shared / 1024)) MiB of heap with its parent $ppid: a census copies the pages it touches into the worker (up to that much more memory)"
  fi
fi
rss_before=$(rss_of)

# --- 3. stage the payload inside the target's mount namespace, as the target's user -----------
run=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
nofollow_dir() {  # the directory, and each of its parents, must be real directories
  p=$1
  while [ -n "$p" ] && [ "$p" != "/" ]; do
    [ -d "$proc/root$p" ] && [ ! -L "$proc/root$p" ] || return 1
    p=${p%/*}
  done
}
tmpdir_env=$(tr '\0' '\n' < "$proc/environ" 2>/dev/null | awk -F= '$1 == "TMPDIR" { print substr($0, 8); exit }')
case "$tmpdir_env" in /*) case "$tmpdir_env" in *[!A-Za-z0-9/._-]*) tmpdir_env= ;; esac ;; *) tmpdir_env= ;; esac
stage=
for d in $tmpdir_env /tmp /var/tmp /dev/shm; do
  nofollow_dir "$d" || continue
  if mkdir -m 700 "$proc/root$d/.pyheap-$run" 2>/dev/null; then
    stage=$d/.pyheap-$run stage_host=$proc/root$stage
    break
  fi
done
[ -n "$stage" ] || fail 17 no-writable-dir "no writable directory in the target (tried ${tmpdir_env:+$tmpdir_env }/tmp /var/tmp /dev/shm)"
deadline=$(( $(date +%s) + timeout + 1 ))   # whole seconds: at least --timeout from now
set -C
put() {  # a copy owned by the target's user, checked to be exactly what we send
  cat "$1" > "$stage_host/$2" && chown -h "$uid:$gid" "$stage_host/$2" && cmp -s "$1" "$stage_host/$2"
}
put_all() {  # every Python payload (the census and the tasks it may run)
  for f in "$payloads"/python/pyheap_*.py; do put "$f" "${f##*/}" || return 1; done
}
{
  { [ "$mode" != census ] || put_all; } &&
  { [ "$mode" = census ] || put "$payloads/python/pyheap_boot.py" pyheap_boot.py; } &&
  { [ "$mode" != script ] || put "$script" script.py; } &&
  printf 'run_id=%s\nmode=%s\ndeadline=%s\nlargest=%s\ncollect_seconds=%s\nscript=%s\nscript_name=%s\n' \
    "$run" "$mode" "$deadline" "$largest" $((timeout + 60)) "$( [ "$mode" = script ] && echo script.py)" \
    "$(printf '%s' "$script_name" | tr -cd 'A-Za-z0-9._-')" > "$work/job" &&
  { [ -z "$jobs" ] || printf '%s\n' "$jobs" | sed '/^$/d' >> "$work/job"; } &&
  { [ -z "$stream" ] || echo "snapshot=$stream" >> "$work/job"; } &&
  put "$work/job" job &&
  chown -h "$uid:$gid" "$stage_host"
} || fail 17 no-writable-dir "cannot write the payload into $stage in the target"
set +C
if [ -n "$stream" ]; then
  # The payload writes the snapshot into a FIFO; it is stored here, never in the target.
  mkfifo -m 600 "$stage_host/$stream" && chown -h "$uid:$gid" "$stage_host/$stream" ||
    fail 17 no-writable-dir "cannot make a FIFO in $stage in the target"
  mkdir -p "$work/res/out"
  cat "$stage_host/$stream" > "$work/res/out/$stream" &
  stream_pid=$!
fi
event staged "$stage"
event run "$run"

# --- 4. inject: params.gdb (numbers only) + inject-<arch>.gdb --------------------------------
# The bootstrap binds no name in __main__ and closes the file it reads (an unclosed file would
# leave a ResourceWarning in __main__.__warningregistry__).
boot="try:exec(compile((lambda f:(f.read(),f.close())[0])(open('$stage/pyheap_boot.py','rb')),'$stage/pyheap_boot.py','exec'),{'__name__':'__pyheap__','__file__':'$stage/pyheap_boot.py'})
except BaseException:pass"
words() {  # hex bytes on stdin -> "OFFSET VALUE" little-endian 64-bit words, from offset $1
  tr -d ' \n' | awk -v off="$1" '{
    s = $0; while (length(s) % 16) s = s "00"
    for (i = 1; i <= length(s); i += 16) {
      w = ""; for (j = 14; j >= 0; j -= 2) w = w substr(s, i + j, 2)
      printf "set *(unsigned long long *)($pyheap_page + %d) = 0x%s\n", off + (i - 1) / 2, w
    }
  }'
}
{
  echo "set \$pyheap_start = $sym_PyThread_start_new_thread"
  echo "set \$pyheap_malloc = $sym_PyObject_Malloc"
  echo "set \$pyheap_threads_init = $sym_PyEval_ThreadsInitialized"
  echo "set \$pyheap_munmap = $munmap"
  set -- $text
  echo "set \$pyheap_text_lo = $1"
  echo "set \$pyheap_text_hi = $2"
  echo "set \$pyheap_size = 4096"
  echo "define pyheap_fill"
  words 0 < "$payloads/stub/stub-$arch.hex"
  echo "set *(unsigned long long *)(\$pyheap_page + 0x200) = $sym_PyGILState_Ensure"
  echo "set *(unsigned long long *)(\$pyheap_page + 0x208) = $sym_PyRun_SimpleString"
  echo "set *(unsigned long long *)(\$pyheap_page + 0x210) = $sym_PyGILState_Release"
  printf '%s' "$boot" | od -An -v -tx1 | { cat; echo 00; } | words 768
  echo "end"
} > "$work/params.gdb"

event injecting "$(gdb --version 2>/dev/null | awk 'NR == 1 { print $NF }')"
gdb -nx -batch --readnever -iex 'set auto-load off' -iex 'set auto-solib-add off' -iex 'set libthread-db-search-path /nonexistent' \
  -iex 'set debuginfod enabled off' \
  -p "$pid" -x "$work/params.gdb" -x "$payloads/gdb/inject-$arch.gdb" -ex pyheap_safety_net \
  > "$work/gdb.out" 2>&1 &
gdb_pid=$!
# While gdb waits for a safe point (and only then: the target's registers are untouched),
# end the wait: SIGURG to the target stops gdb's `continue` (gdb drops the signal); should gdb
# not react, interrupt gdb itself, then ask it to quit (it detaches).
ticks=0
while kill -0 "$gdb_pid" 2>/dev/null; do
  sleep 0.02
  ticks=$((ticks + 1))
  elapsed=$((ticks * 2))   # hundredths of a second
  if [ $elapsed -ge $((wait_safe * 100)) ] && grep -q '^PYHEAP waiting' "$work/gdb.out" &&
     ! grep -q '^PYHEAP thread' "$work/gdb.out"; then
    if [ $elapsed -eq $((wait_safe * 100)) ]; then kill -URG "$pid" 2>/dev/null
    elif [ $elapsed -eq $((wait_safe * 100 + 500)) ]; then kill -INT "$gdb_pid" 2>/dev/null
    elif [ $elapsed -eq $((wait_safe * 100 + 1000)) ]; then kill -TERM "$gdb_pid" 2>/dev/null
    fi
  fi
done
wait "$gdb_pid"
gdb_status=$?
gdb_pid=
if [ "$verbose" = 1 ]; then sed 's/^/gdb: /' "$work/gdb.out" >&2; fi
gdb_error=$(awk '/^PYHEAP error/ { print $3 }' "$work/gdb.out" | head -n1)
if ! grep -q '^PYHEAP started' "$work/gdb.out"; then
  # gone (or a zombie) now: it exited or was killed under gdb, whatever gdb made of that
  gone=$(awk '/^State:/ { print $2 }' "$proc/status" 2>/dev/null)
  case "${gone:-X}" in Z|X) fail 10 no-such-process "process $pid exited during the injection" ;; esac
  if grep -q 'ptrace: Operation not permitted' "$work/gdb.out"; then
    tracer=$(awk '/^TracerPid:/ {print $2}' "$proc/status" 2>/dev/null)
    if [ "${tracer:-0}" != 0 ]; then  # lost a race with another debugger (or another run)
      tracer_cmd=$(tr '\0' ' ' < "/proc/$tracer/cmdline" 2>/dev/null | cut -c1-60)
      fail 14 target-traced "process $pid is already traced by PID $tracer (${tracer_cmd% })"
    fi
    fail 12 ptrace-refused "the kernel refused ptrace access to process $pid"
  elif grep -qE 'ptrace: No such process|The program is not being run|exited with code|Couldn.t get registers: No such process' "$work/gdb.out"; then
    fail 10 no-such-process "process $pid exited during the injection"
  fi
  case "$gdb_error" in
    no-safe-point) fail 15 no-safe-point "no thread of $pid reached a safe point within ${wait_safe}s (a loop that neither allocates nor blocks, or C code holding the GIL)" ;;
    threads-not-initialized) fail 19 unsupported-python "this Python 3.6 process never started a thread, so it has no GIL to share" ;;
    '') fail 20 gdb-failed "gdb exited with status $gdb_status before starting the payload: $(grep -vE '^(PYHEAP|\[|warning|$)' "$work/gdb.out" | tail -n1)" ;;
    *) fail 20 gdb-failed "injection failed at step $gdb_error" ;;
  esac
fi
event injected "$(awk '/^PYHEAP thread/ { print $3, $4 }' "$work/gdb.out") $arch"

# --- 5. wait for the payload, bounded by --timeout ----------------------------------------------
rss_peak=${rss_before:-0}
while [ ! -e "$stage_host/status.json" ]; do
  r=$(rss_of); [ "${r:-0}" -gt "$rss_peak" ] && rss_peak=$r   # sampled: the kernel's own peak is left alone
  if [ "$(date +%s)" -ge $((deadline + 2)) ]; then
    [ -e "$stage_host/started" ] ||
      fail 16 payload-timeout "the payload thread never got the GIL within ${timeout}s: a thread of process $pid holds it (busy in C code?); it will find nothing to do when it runs"
    fail 16 payload-timeout "the payload did not finish within ${timeout}s; it stops itself at its deadline"
  fi
  [ -d "$proc" ] || fail 10 no-such-process "process $pid exited while the payload ran"
  sleep 0.05
done
r=$(rss_of); [ "${r:-0}" -gt "$rss_peak" ] && rss_peak=$r
event finished
event memory "${rss_before:-0}" "$(rss_of)" "$rss_peak"

# --- 6. results back as a tar stream; then nothing of ours stays in the target -----------------
if [ -n "$stream" ]; then
  release_stream
  wait "$stream_pid"
  rm -f "$stage_host/$stream"
fi
cd "$stage_host" || fail 20 internal "the staging directory vanished"
[ -z "$(find . -type f -size +$((max_result_mb * 1024))k 2>/dev/null | head -n1)" ] ||
  fail 22 results-too-big "a result file in the target is larger than ${max_result_mb} MiB"
set --
for f in status.json stdout.txt stderr.txt out; do [ -e "$f" ] && set -- "$@" "$f"; done
if [ -n "$stream" ] && [ -s "$work/res/out/$stream" ]; then set -- "$@" -C "$work/res" "out/$stream"; fi
tar -cf "$work/result.tar" "$@" || fail 20 internal "tar failed"
cd /
rm -rf "$stage_host" && stage_host=
event result "$(wc -c < "$work/result.tar" | tr -d ' ')" "$(sha256sum "$work/result.tar" | cut -d' ' -f1)"
cat "$work/result.tar"
