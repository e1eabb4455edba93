/* Thread body injected into the target by inject-aarch64.gdb (AArch64, AAPCS64).
 *
 * The injector maps one page in the target, copies this code to its start, fills the data
 * slots below and starts a new thread with PyThread_start_new_thread(stub, page). The thread
 * runs the bootstrap string on a thread of its own, so no thread of the application ever runs
 * Python code for us:
 *     gstate = PyGILState_Ensure(); PyRun_SimpleString(boot); PyGILState_Release(gstate);
 * then tail-calls libc's munmap(page, size), which returns straight to our caller (the page is
 * gone by then). A branch into the middle of a libc function would fault on a CPU with BTI
 * (libc's pages are guarded): munmap's entry is a landing pad, and `br x16` may land on it.
 *
 * At 0x100, the call gate the injector runs on the borrowed thread: call x0(x1, x2) and come
 * back to 0xf0 with v0-v31, FPSR and FPCR as they were. gdb itself writes only general-purpose
 * registers; PyThread_start_new_thread may clobber every caller-saved vector register (memset
 * in pthread_create does), and the borrowed thread's own code may still need them.
 * This code touches no vector register itself beyond saving and restoring them.
 */
        .set SLOT_ENSURE,  0x200
        .set SLOT_RUN,     0x208
        .set SLOT_RELEASE, 0x210
        .set SLOT_MUNMAP,  0x218
        .set SLOT_SIZE,    0x220
        .set BOOT_STRING,  0x300

        .text
        .globl pyheap_stub
pyheap_stub:                            /* x0 = page */
        stp     x29, x30, [sp, #-32]!
        mov     x29, sp
        stp     x19, x20, [sp, #16]     /* callee-saved: x19 = page, w20 = PyGILState_STATE */
        mov     x19, x0
        ldr     x16, [x19, #SLOT_ENSURE]
        blr     x16
        mov     w20, w0
        add     x0, x19, #BOOT_STRING
        ldr     x16, [x19, #SLOT_RUN]
        blr     x16
        mov     w0, w20
        ldr     x16, [x19, #SLOT_RELEASE]
        blr     x16
        ldr     x16, [x19, #SLOT_MUNMAP]
        ldr     x1, [x19, #SLOT_SIZE]
        mov     x0, x19
        ldp     x19, x20, [sp, #16]
        ldp     x29, x30, [sp], #32
        cbz     x16, 1f
        br      x16                     /* munmap(page, size); ret -> our caller */
1:      ret

        /* Where the call gate returns: gdb keeps a breakpoint here. */
        .org    0xf0
        .globl pyheap_return
pyheap_return:
        nop
        nop
        brk     #0xf0

        .org    0x100
        .globl pyheap_gate
pyheap_gate:                            /* x0 = function, x1, x2 = its arguments, x30 = 0xf0 */
        stp     x29, x30, [sp, #-16]!
        mov     x29, sp
        sub     sp, sp, #528
        stp     q0, q1, [sp, #0]
        stp     q2, q3, [sp, #32]
        stp     q4, q5, [sp, #64]
        stp     q6, q7, [sp, #96]
        stp     q8, q9, [sp, #128]
        stp     q10, q11, [sp, #160]
        stp     q12, q13, [sp, #192]
        stp     q14, q15, [sp, #224]
        stp     q16, q17, [sp, #256]
        stp     q18, q19, [sp, #288]
        stp     q20, q21, [sp, #320]
        stp     q22, q23, [sp, #352]
        stp     q24, q25, [sp, #384]
        stp     q26, q27, [sp, #416]
        stp     q28, q29, [sp, #448]
        stp     q30, q31, [sp, #480]
        mrs     x9, fpsr
        mrs     x10, fpcr
        stp     x9, x10, [x29, #-16]
        mov     x16, x0
        mov     x0, x1
        mov     x1, x2
        blr     x16
        ldp     x9, x10, [x29, #-16]
        msr     fpsr, x9
        msr     fpcr, x10
        ldp     q0, q1, [sp, #0]
        ldp     q2, q3, [sp, #32]
        ldp     q4, q5, [sp, #64]
        ldp     q6, q7, [sp, #96]
        ldp     q8, q9, [sp, #128]
        ldp     q10, q11, [sp, #160]
        ldp     q12, q13, [sp, #192]
        ldp     q14, q15, [sp, #224]
        ldp     q16, q17, [sp, #256]
        ldp     q18, q19, [sp, #288]
        ldp     q20, q21, [sp, #320]
        ldp     q22, q23, [sp, #352]
        ldp     q24, q25, [sp, #384]
        ldp     q26, q27, [sp, #416]
        ldp     q28, q29, [sp, #448]
        ldp     q30, q31, [sp, #480]
        mov     sp, x29
        ldp     x29, x30, [sp], #16
        ret
