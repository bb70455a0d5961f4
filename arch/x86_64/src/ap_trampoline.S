/* SPDX-License-Identifier: MIT */
/* Application-processor start: real mode at AP_TRAMPOLINE_PHYS (SIPI vector 0x08), through
 * protected mode to long mode on the boot page tables, then to ap_entry_high in the image.
 * smp.cpp copies this blob below 1 MiB and patches the boot CR3 into it. [SDM 3A §9.4.4] */
#include "arch/boot_constants.h"

#define AP_TRAMPOLINE_PHYS 0x8000
#define REL(symbol) ((symbol) - ap_trampoline_start + AP_TRAMPOLINE_PHYS)

    .section .rodata
    .align 16
    .globl ap_trampoline_start, ap_trampoline_end, ap_trampoline_boot_cr3
ap_trampoline_start:
    .code16
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl REL(ap_gdt_pointer)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $REL(ap_protected)

    .code32
ap_protected:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl REL(ap_trampoline_boot_cr3), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax   /* LME, NXE */
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax           /* PG, WP, PE */
    movl %eax, %cr0
    ljmpl $0x18, $REL(ap_long)

    .code64
ap_long:
    movabsq $ap_entry_high, %rax
    jmp *%rax

    .align 8
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
ap_gdt_pointer:
    .word ap_gdt_pointer - ap_gdt - 1
    .long REL(ap_gdt)
    .align 4
ap_trampoline_boot_cr3:
    .long 0
ap_trampoline_end:

    .section .text.entry, "ax"
    .globl ap_entry_high
ap_entry_high:
    xorl %eax, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movq ap_boot_cr3_final(%rip), %rax
    movq %rax, %cr3
    movq ap_boot_stack_top(%rip), %rsp
    xorl %ebp, %ebp
    call ap_main
1:  cli
    hlt
    jmp 1b
    .section .note.GNU-stack, "", @progbits
