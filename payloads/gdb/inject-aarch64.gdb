# inject-aarch64.gdb: start the pyheap thread inside an attached CPython process (AArch64 Linux).
#
# Run by agent.sh, like inject-x86_64.gdb, as
#   gdb -nx -batch --readnever -iex 'set auto-solib-add off' -p PID \
#       -x params.gdb -x inject-aarch64.gdb -ex pyheap_safety_net
# params.gdb (written by the agent, numbers only) sets $pyheap_start, $pyheap_malloc,
# $pyheap_threads_init, $pyheap_munmap (libc's munmap), $pyheap_text_lo/hi, $pyheap_size and
# defines pyheap_fill.
#
# The steps are those of the x86_64 script: borrow one thread T that holds no libc lock (blocked
# in a system call from the list below, or else stopped at the entry of PyObject_Malloc), map a
# page with a raw system call on T, start the payload thread with PyThread_start_new_thread on T,
# give T every register back, detach. No Python code runs on T.
#
# AArch64 facts this relies on:
#  - system call number in x8, arguments x0-x5, result in x0; `svc #0` is 0xd4000001.
#  - A thread that gdb's SIGSTOP pulls out of a blocking system call is stopped after the kernel
#    prepared the restart (arch/arm64/kernel/signal.c, "so that a debugger will see the already
#    changed PC"): pc is back on the `svc`, x0 holds orig_x0 again, and the kernel forgot the
#    call. Putting every register back therefore simply executes the `svc` again. A call that
#    returned -EINTR instead leaves pc after the `svc` and x0 = -4; the caller retries (PEP 475).
#    gdb shows no orig_x0 (nor needs it here), unlike orig_rax on x86_64.
#  - Only general-purpose registers are written (x0-x30, sp, pc, cpsr). The call on T goes
#    through the call gate of the stub (page + 0x100), which saves and restores v0-v31, FPSR and
#    FPCR around it, so that T's vector state is untouched too.
#  - Setting pc is not a branch: BTI does not apply; the one indirect branch into libc (the
#    stub's tail call to munmap) lands on a function entry.
#
# Markers on stdout, one per line, start with "PYHEAP " and are read by agent.sh.

set confirm off
set pagination off
set height 0
set width 0
set print thread-events off
set scheduler-locking off
handle all nostop noprint pass
handle SIGINT nostop noprint pass
handle SIGURG stop print nopass

set $pyheap_t = 0
set $pyheap_tnr = -1
set $pyheap_dirty = 0
set $pyheap_in_call = 0
set $pyheap_page = 0

define pyheap_select
  eval "thread %d", $pyheap_t
end

# Syscalls (asm-generic numbers) in which a blocked thread holds no lock that pthread_create or
# malloc could need: epoll_pwait 22, pselect6 72, ppoll 73, read 63, write 64, readv 65,
# writev 66, pread64 67, pwrite64 68, waitid 95, futex 98, nanosleep 101, clock_nanosleep 115,
# rt_sigsuspend 133, rt_sigtimedwait 137, accept 202, connect 203, sendto 206, recvfrom 207,
# sendmsg 211, recvmsg 212, accept4 242, recvmmsg 243, wait4 260, epoll_pwait2 441,
# futex_waitv 449. Not mmap/munmap/brk/mprotect/madvise/mremap (malloc holds its arena lock
# around them) nor openat (dlopen holds the loader lock).
# T is in a system call when pc is on an `svc` (restart prepared) or just after one.
define pyheap_pick
  if $pyheap_t == 0
    set $pyheap_at = (unsigned long) $pc
    set $pyheap_nr = -1
    if *(unsigned int *) $pyheap_at == 0xd4000001
      set $pyheap_nr = $x8
    end
    if $pyheap_nr == -1 && ($pyheap_at & 0xfff) != 0
      if *(unsigned int *) ($pyheap_at - 4) == 0xd4000001
        set $pyheap_nr = $x8
      end
    end
    if $pyheap_nr == 22 || $pyheap_nr == 72 || $pyheap_nr == 73 || $pyheap_nr == 63 || $pyheap_nr == 64 || $pyheap_nr == 65 || $pyheap_nr == 66 || $pyheap_nr == 67 || $pyheap_nr == 68
      set $pyheap_t = $_thread
    end
    if $pyheap_nr == 95 || $pyheap_nr == 98 || $pyheap_nr == 101 || $pyheap_nr == 115 || $pyheap_nr == 133 || $pyheap_nr == 137 || $pyheap_nr == 202 || $pyheap_nr == 203 || $pyheap_nr == 206
      set $pyheap_t = $_thread
    end
    if $pyheap_nr == 207 || $pyheap_nr == 211 || $pyheap_nr == 212 || $pyheap_nr == 242 || $pyheap_nr == 243 || $pyheap_nr == 260 || $pyheap_nr == 441 || $pyheap_nr == 449
      set $pyheap_t = $_thread
    end
    if $pyheap_t != 0
      set $pyheap_tnr = $pyheap_nr
    end
  end
end

define pyheap_save
  set $o_x0 = $x0
  set $o_x1 = $x1
  set $o_x2 = $x2
  set $o_x3 = $x3
  set $o_x4 = $x4
  set $o_x5 = $x5
  set $o_x6 = $x6
  set $o_x7 = $x7
  set $o_x8 = $x8
  set $o_x9 = $x9
  set $o_x10 = $x10
  set $o_x11 = $x11
  set $o_x12 = $x12
  set $o_x13 = $x13
  set $o_x14 = $x14
  set $o_x15 = $x15
  set $o_x16 = $x16
  set $o_x17 = $x17
  set $o_x18 = $x18
  set $o_x19 = $x19
  set $o_x20 = $x20
  set $o_x21 = $x21
  set $o_x22 = $x22
  set $o_x23 = $x23
  set $o_x24 = $x24
  set $o_x25 = $x25
  set $o_x26 = $x26
  set $o_x27 = $x27
  set $o_x28 = $x28
  set $o_x29 = $x29
  set $o_x30 = $x30
  set $o_sp = (unsigned long) $sp
  set $o_pc = (unsigned long) $pc
  set $o_cpsr = $cpsr
  set $pyheap_dirty = 1
end

define pyheap_restore
  pyheap_select
  set $x0 = $o_x0
  set $x1 = $o_x1
  set $x2 = $o_x2
  set $x3 = $o_x3
  set $x4 = $o_x4
  set $x5 = $o_x5
  set $x6 = $o_x6
  set $x7 = $o_x7
  set $x8 = $o_x8
  set $x9 = $o_x9
  set $x10 = $o_x10
  set $x11 = $o_x11
  set $x12 = $o_x12
  set $x13 = $o_x13
  set $x14 = $o_x14
  set $x15 = $o_x15
  set $x16 = $o_x16
  set $x17 = $o_x17
  set $x18 = $o_x18
  set $x19 = $o_x19
  set $x20 = $o_x20
  set $x21 = $o_x21
  set $x22 = $o_x22
  set $x23 = $o_x23
  set $x24 = $o_x24
  set $x25 = $o_x25
  set $x26 = $o_x26
  set $x27 = $o_x27
  set $x28 = $o_x28
  set $x29 = $o_x29
  set $x30 = $o_x30
  set $sp = $o_sp
  set $pc = $o_pc
  set $cpsr = $o_cpsr
  set $pyheap_dirty = 0
  echo PYHEAP restored\n
end

# One raw system call on T: number in $pyheap_nr, arguments in $pyheap_a0..a5, result in
# $pyheap_ret. Executes the `svc` found in libc's munmap and stops right after it.
define pyheap_syscall
  pyheap_select
  set $pc = $pyheap_svc
  set $x8 = $pyheap_nr
  set $x0 = $pyheap_a0
  set $x1 = $pyheap_a1
  set $x2 = $pyheap_a2
  set $x3 = $pyheap_a3
  set $x4 = $pyheap_a4
  set $x5 = $pyheap_a5
  stepi
  set $pyheap_ret = (long) $x0
end

# A function call on T through the stub's call gate: function in $pyheap_fn, arguments in
# $pyheap_a0, $pyheap_a1; the gate returns to the breakpoint at page+0xf0. Other threads run
# meanwhile (scheduler-locking off). Registers are only written here, never read back before
# the return (as on x86_64: gdb may serve stale values for a thread in anonymous memory).
define pyheap_call
  pyheap_select
  set $sp = ($o_sp - 512) & ~15
  set $x30 = $pyheap_page + 0xf0
  set $x29 = 0
  set $x0 = $pyheap_fn
  set $x1 = $pyheap_a0
  set $x2 = $pyheap_a1
  set $pc = $pyheap_page + 0x100
  set $pyheap_in_call = 1
  set $pyheap_back = 0
  while $pyheap_back == 0
    continue
    if $_thread == $pyheap_t && $pc == $pyheap_page + 0xf0
      set $pyheap_back = 1
    end
  end
  set $pyheap_in_call = 0
  set $pyheap_ret = (long) $x0
end

# Runs after this file even when an error aborted it (-ex after -x): never detach from a
# thread whose registers are not its own.
define pyheap_safety_net
  if $pyheap_dirty == 1
    echo PYHEAP safety-net\n
    if $pyheap_in_call == 1
      set $pyheap_back = 0
      while $pyheap_back == 0
        continue
        if $_thread == $pyheap_t && $pc == $pyheap_page + 0xf0
          set $pyheap_back = 1
        end
      end
      set $pyheap_in_call = 0
    end
    pyheap_restore
    delete
    detach
  end
end

echo PYHEAP attached\n

# 1. Choose the thread to borrow.
thread apply all -s pyheap_pick
if $pyheap_t == 0
  echo PYHEAP waiting\n
  break *$pyheap_malloc
  continue
  if $pc == $pyheap_malloc
    set $pyheap_t = $_thread
  end
  delete
end
if $pyheap_t == 0
  echo PYHEAP error no-safe-point\n
  detach
  quit 15
end
handle SIGURG nostop noprint nopass
pyheap_select
printf "PYHEAP thread %d %d\n", $pyheap_t, $pyheap_tnr

# 2. Our way into the kernel: the `svc` of libc's munmap (munmap is also the stub's exit).
set $pyheap_svc = 0
if $pyheap_munmap != 0
  find /w $pyheap_munmap, +64, 0xd4000001
  if $numfound > 0
    set $pyheap_svc = (unsigned long) $_
  end
end
if $pyheap_svc == 0 || ($pyheap_svc & 3) != 0
  echo PYHEAP error no-gadget\n
  detach
  quit 20
end

pyheap_save

# 3. A page of our own: stub, data slots and bootstrap string (pyheap_fill), then read+exec.
set $pyheap_nr = 222
set $pyheap_a0 = 0
set $pyheap_a1 = $pyheap_size
set $pyheap_a2 = 3
set $pyheap_a3 = 0x22
set $pyheap_a4 = -1
set $pyheap_a5 = 0
pyheap_syscall
if $pyheap_ret < 0 || ($pyheap_ret & 0xfff) != 0
  printf "PYHEAP error mmap %d\n", $pyheap_ret
  pyheap_restore
  detach
  quit 20
end
set $pyheap_page = $pyheap_ret
pyheap_fill
set *(unsigned long long *)($pyheap_page + 0x218) = $pyheap_munmap
set *(unsigned long long *)($pyheap_page + 0x220) = $pyheap_size
set $pyheap_nr = 226
set $pyheap_a0 = $pyheap_page
set $pyheap_a1 = $pyheap_size
set $pyheap_a2 = 5
pyheap_syscall
if $pyheap_ret != 0
  printf "PYHEAP error mprotect %d\n", $pyheap_ret
  set $pyheap_nr = 215
  set $pyheap_a0 = $pyheap_page
  pyheap_syscall
  pyheap_restore
  detach
  quit 20
end
break *($pyheap_page + 0xf0)

# 4. Python 3.6 only creates the GIL with the first thread: without it, refuse.
set $pyheap_ok = 1
if $pyheap_threads_init != 0
  set $pyheap_fn = $pyheap_threads_init
  set $pyheap_a0 = 0
  set $pyheap_a1 = 0
  pyheap_call
  if ($pyheap_ret & 0xffffffff) == 0
    set $pyheap_ok = 0
    echo PYHEAP error threads-not-initialized\n
  end
end

# 5. Start the thread.
if $pyheap_ok == 1
  set $pyheap_fn = $pyheap_start
  set $pyheap_a0 = $pyheap_page
  set $pyheap_a1 = $pyheap_page
  pyheap_call
  if $pyheap_ret == -1 || $pyheap_ret == 0xffffffffffffffff
    set $pyheap_ok = 0
    echo PYHEAP error thread-start\n
  end
end
if $pyheap_ok == 0
  set $pyheap_nr = 215
  set $pyheap_a0 = $pyheap_page
  set $pyheap_a1 = $pyheap_size
  pyheap_syscall
end

# 6. Give T its registers back and let everything go.
pyheap_restore
delete
if $pyheap_ok == 1
  echo PYHEAP started\n
end
detach
echo PYHEAP detached\n
