/* SPDX-License-Identifier: MIT */
/* Entry point, Xen ELF notes and the hypercall page of every Isola guest test kernel.
 * The hypervisor (Isola or Xen) enters _start in 64-bit guest kernel mode (ring 3) with
 * RSI = start_info; everything in [0, v_end) is mapped VA = PFN << 12. */

#define ELFNOTE(type, desc_start, desc_end)            \
    .balign 4;                                         \
    .long 4;                                           \
    .long desc_end - desc_start;                       \
    .long type;                                        \
    .asciz "Xen";                                      \
    .balign 4

    .section .note.Xen, "a"
    ELFNOTE(6, 1f, 2f)      /* GUEST_OS */
1:  .asciz "Isola-test"
2:  ELFNOTE(7, 1f, 2f)      /* GUEST_VERSION */
1:  .asciz "0"
2:  ELFNOTE(8, 1f, 2f)      /* LOADER */
1:  .asciz "generic"
2:  ELFNOTE(5, 1f, 2f)      /* XEN_VERSION */
1:  .asciz "xen-3.0"
2:  ELFNOTE(2, 1f, 2f)      /* HYPERCALL_PAGE */
1:  .quad hypercall_page
2:  ELFNOTE(10, 1f, 2f)     /* FEATURES */
1:  .asciz "!writable_page_tables|pae_pgdir_above_4gb"
2:  .balign 4

    .section .text.head, "ax"
    .code64
    .globl _start
_start:
    cld
    leaq guest_stack_top(%rip), %rsp
    movq %rsi, %rdi
    call guest_start
1:  ud2
    jmp 1b

    .section .data.page_aligned, "aw"
    .balign 4096
    .globl hypercall_page
hypercall_page:
    .fill 4096, 1, 0xc3     /* 'ret': an unfilled page is easy to detect */

    .section .bss.stack, "aw", @nobits
    .balign 4096
    .skip 4 * 4096
guest_stack_top:
    .section .note.GNU-stack, "", @progbits
