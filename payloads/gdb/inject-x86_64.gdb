# inject-x86_64.gdb: start the pyheap thread inside an attached CPython process (x86_64 Linux).
#
# Run by agent.sh as
#   gdb -nx -batch --readnever -iex 'set auto-solib-add off' -p PID \
#       -x params.gdb -x inject-x86_64.gdb -ex pyheap_safety_net
# params.gdb (written by the agent, numbers only) sets $pyheap_start, $pyheap_malloc,
# $pyheap_threads_init, $pyheap_text_lo/hi, $pyheap_size and defines pyheap_fill.
#
# What it does, with every thread of the target stopped for as short as possible:
#  1. borrow one thread T, chosen where it holds no libc lock: blocked in a syscall from the
#     list below, or else stopped at the entry of PyObject_Malloc (a breakpoint, bounded by the
#     agent, which sends SIGURG to the target when it has waited long enough);
#  2. on T, by hand: mmap a page (raw syscall), copy the stub and the bootstrap string into it,
#     mprotect it read+exec, and call PyThread_start_new_thread(stub, page);
#  3. put every register of T back and detach. The new thread then runs
#     PyGILState_Ensure / PyRun_SimpleString / PyGILState_Release on its own.
# No Python code ever runs on T, and T only ever executes libc and libpython code that takes
# no Python-level locks.
#
# Why not gdb's `call`: gdb restores the full register set after a call, and gdb 13 cannot
# write the extended (XSAVE) state on CPUs with AMX (PTRACE_SETREGSET returns EFAULT): the
# call then aborts half-way and leaves the target with a corrupted thread. Here only
# general-purpose registers are written, which is enough: at a function entry and inside a
# syscall wrapper the vector registers hold nothing live (System V ABI: all caller-saved).
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
set $pyheap_dirty = 0
set $pyheap_in_call = 0
set $pyheap_page = 0

define pyheap_select
  eval "thread %d", $pyheap_t
end

# Syscalls in which a blocked thread holds no lock that pthread_create or malloc could need:
# read write pread64 pwrite64 readv writev poll select pause nanosleep connect accept sendto
# recvfrom sendmsg recvmsg wait4 rt_sigtimedwait rt_sigsuspend futex clock_nanosleep
# epoll_wait waitid pselect6 ppoll epoll_pwait accept4 recvmmsg epoll_pwait2 futex_waitv.
# Not mmap/munmap/brk/mprotect/madvise/mremap (malloc holds its arena lock around them) nor
# open/openat (dlopen holds the loader lock).
define pyheap_pick
  if $pyheap_t == 0
    set $pyheap_nr = $orig_rax
    if $pyheap_nr == 0 || $pyheap_nr == 1 || $pyheap_nr == 7 || $pyheap_nr == 17 || $pyheap_nr == 18 || $pyheap_nr == 19 || $pyheap_nr == 20 || $pyheap_nr == 23 || $pyheap_nr == 34 || $pyheap_nr == 35
      set $pyheap_t = $_thread
    end
    if $pyheap_nr == 42 || $pyheap_nr == 43 || $pyheap_nr == 44 || $pyheap_nr == 45 || $pyheap_nr == 46 || $pyheap_nr == 47 || $pyheap_nr == 61 || $pyheap_nr == 128 || $pyheap_nr == 130
      set $pyheap_t = $_thread
    end
    if $pyheap_nr == 202 || $pyheap_nr == 230 || $pyheap_nr == 232 || $pyheap_nr == 247 || $pyheap_nr == 270 || $pyheap_nr == 271 || $pyheap_nr == 281 || $pyheap_nr == 288 || $pyheap_nr == 299 || $pyheap_nr == 441 || $pyheap_nr == 449
      set $pyheap_t = $_thread
    end
  end
end

define pyheap_save
  set $o_rip = $rip
  set $o_rsp = $rsp
  set $o_rbp = $rbp
  set $o_rax = $rax
  set $o_rbx = $rbx
  set $o_rcx = $rcx
  set $o_rdx = $rdx
  set $o_rsi = $rsi
  set $o_rdi = $rdi
  set $o_r8 = $r8
  set $o_r9 = $r9
  set $o_r10 = $r10
  set $o_r11 = $r11
  set $o_r12 = $r12
  set $o_r13 = $r13
  set $o_r14 = $r14
  set $o_r15 = $r15
  set $o_eflags = $eflags
  set $o_orig_rax = $orig_rax
  set $pyheap_dirty = 1
end

# Writing $rip makes gdb set orig_rax to -1 (so that the kernel does not "restart" a syscall
# at the new address): restore orig_rax last, so that an interrupted syscall restarts.
define pyheap_restore
  pyheap_select
  set $rip = $o_rip
  set $rsp = $o_rsp
  set $rbp = $o_rbp
  set $rax = $o_rax
  set $rbx = $o_rbx
  set $rcx = $o_rcx
  set $rdx = $o_rdx
  set $rsi = $o_rsi
  set $rdi = $o_rdi
  set $r8 = $o_r8
  set $r9 = $o_r9
  set $r10 = $o_r10
  set $r11 = $o_r11
  set $r12 = $o_r12
  set $r13 = $o_r13
  set $r14 = $o_r14
  set $r15 = $o_r15
  set $eflags = $o_eflags
  set $orig_rax = $o_orig_rax
  set $pyheap_dirty = 0
  echo PYHEAP restored\n
end

# One raw system call on T: number in $pyheap_nr, arguments in $pyheap_a0..a5, result in
# $pyheap_ret. Executes the `syscall` of the gadget found in libc and stops right after it.
define pyheap_syscall
  pyheap_select
  set $rip = $pyheap_gadget
  set $rax = $pyheap_nr
  set $rdi = $pyheap_a0
  set $rsi = $pyheap_a1
  set $rdx = $pyheap_a2
  set $r10 = $pyheap_a3
  set $r8 = $pyheap_a4
  set $r9 = $pyheap_a5
  set $orig_rax = -1
  stepi
  set $pyheap_ret = $rax
end

# A function call on T: function in $pyheap_fn, arguments in $pyheap_a0, $pyheap_a1; it
# returns to the breakpoint at page+0xf0. Other threads run meanwhile (scheduler-locking off).
# Registers are only written here, never read back: gdb 13 keeps serving stale register values
# for a thread stopped in anonymous memory (page+0xf0) after they were written.
define pyheap_call
  pyheap_select
  set $pyheap_sp = (((unsigned long) $o_rsp - 512) & ~15) - 8
  set *(unsigned long long *) $pyheap_sp = $pyheap_page + 0xf0
  set $rip = $pyheap_fn
  set $rsp = $pyheap_sp
  set $rdi = $pyheap_a0
  set $rsi = $pyheap_a1
  set $rax = 0
  set $pyheap_in_call = 1
  set $pyheap_back = 0
  while $pyheap_back == 0
    continue
    if $_thread == $pyheap_t && $pc == $pyheap_page + 0xf0
      set $pyheap_back = 1
    end
  end
  set $pyheap_in_call = 0
  set $pyheap_ret = $rax
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
thread apply all pyheap_pick
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
printf "PYHEAP thread %d %d\n", $pyheap_t, $orig_rax

# 2. A `syscall; ret` sequence in libc: our way into the kernel, and later the stub's exit.
set $pyheap_gadget = 0
find /b1 $pyheap_text_lo, $pyheap_text_hi, 0x0f, 0x05, 0xc3
if $numfound > 0
  set $pyheap_gadget = $_
end
if $pyheap_gadget == 0
  echo PYHEAP error no-gadget\n
  detach
  quit 20
end

pyheap_save

# 3. A page of our own: stub, data slots and bootstrap string (pyheap_fill), then read+exec.
set $pyheap_nr = 9
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
set *(unsigned long long *)($pyheap_page + 0x218) = $pyheap_gadget
set *(unsigned long long *)($pyheap_page + 0x220) = $pyheap_size
set $pyheap_nr = 10
set $pyheap_a0 = $pyheap_page
set $pyheap_a1 = $pyheap_size
set $pyheap_a2 = 5
pyheap_syscall
if $pyheap_ret != 0
  printf "PYHEAP error mprotect %d\n", $pyheap_ret
  set $pyheap_nr = 11
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
  set $pyheap_nr = 11
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
