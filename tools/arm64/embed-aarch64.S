/* embed-aarch64.S: a program whose interpreter is the shared libpython3.11 (the test machine has
 * no C compiler): _start is glibc's crt1 in short, main is Py_BytesMain. */
        .text
        .globl _start
_start:
        mov     x29, #0
        mov     x30, #0
        mov     x5, x0                  /* rtld_fini from the dynamic loader */
        ldr     x1, [sp]                /* argc */
        add     x2, sp, #8              /* argv */
        mov     x6, sp                  /* stack_end */
        adrp    x0, main
        add     x0, x0, :lo12:main
        mov     x3, #0                  /* init, fini: none (glibc >= 2.34) */
        mov     x4, #0
        bl      __libc_start_main
        brk     #0

main:   b       Py_BytesMain            /* (argc, argv) are already in w0, x1 */

        .section .note.GNU-stack,"",%progbits
