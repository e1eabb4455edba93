/* Thread body injected into the target by inject.gdb (x86_64, System V ABI).
 *
 * The injector maps one page in the target, copies this code to its start, fills the data
 * slots below and starts a new thread with PyThread_start_new_thread(stub, page). The thread
 * runs the bootstrap string exactly as the seed's three gdb calls would, but on a thread of
 * its own, so no thread of the application is ever borrowed to run Python code:
 *     gstate = PyGILState_Ensure(); PyRun_SimpleString(boot); PyGILState_Release(gstate);
 * then unmaps the page through a `syscall; ret` sequence found in libc, which returns
 * straight to the caller (the page is gone by then), or simply returns when there is none.
 */
        .set SLOT_ENSURE,  0x200
        .set SLOT_RUN,     0x208
        .set SLOT_RELEASE, 0x210
        .set SLOT_GADGET,  0x218
        .set SLOT_SIZE,    0x220
        .set BOOT_STRING,  0x300
        .set NR_MUNMAP,    11

        .text
        .globl pyheap_stub
pyheap_stub:
        push    %rbx
        push    %r12
        sub     $8, %rsp                /* 16-byte alignment for the calls */
        mov     %rdi, %r12              /* r12 = page */
        call    *SLOT_ENSURE(%r12)
        mov     %eax, %ebx              /* ebx = PyGILState_STATE */
        lea     BOOT_STRING(%r12), %rdi
        call    *SLOT_RUN(%r12)
        mov     %ebx, %edi
        call    *SLOT_RELEASE(%r12)
        mov     SLOT_GADGET(%r12), %r11
        mov     SLOT_SIZE(%r12), %rsi
        mov     %r12, %rdi
        add     $8, %rsp
        pop     %r12
        pop     %rbx
        test    %r11, %r11
        jz      1f
        mov     $NR_MUNMAP, %eax
        jmp     *%r11                   /* munmap(page, size); ret -> our caller */
1:      ret

        /* Where the injecting call returns: gdb keeps a breakpoint here. */
        .org    0xf0
        .globl pyheap_return
pyheap_return:
        nop
        nop
        ud2
