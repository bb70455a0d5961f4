/* SPDX-License-Identifier: MIT */
/* Multiboot entry: 32-bit protected mode to 64-bit long mode, then into C++ at the image base.
 *
 * The loader (QEMU -kernel) enters start32 with EAX = loader magic, EBX = multiboot info,
 * paging off. We build boot page tables that
 *   - identity-map the first 4 GiB with 2 MiB pages (multiboot info, modules, ACPI, low memory),
 *   - alias the first GiB at HV_IMAGE_BASE (L4 slot 261, PDPT index 322), where the image runs,
 * enable PAE, long mode and NX, and jump to the high half. boot.cpp replaces these tables with
 * the real ones before anything else runs. */
#include "arch/boot_constants.h"

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80
#define IMAGE_L4_INDEX ((HV_IMAGE_BASE >> 39) & 511)
#define IMAGE_L3_INDEX ((HV_IMAGE_BASE >> 30) & 511)

    .section .multiboot, "a"
    .align 4
multiboot_header:
    .long HV_MULTIBOOT_MAGIC
    .long HV_MULTIBOOT_FLAGS
    .long -(HV_MULTIBOOT_MAGIC + HV_MULTIBOOT_FLAGS)
    .long multiboot_header        /* header_addr (this section runs where it is loaded) */
    .long __image_phys_start      /* load_addr */
    .long __load_end_phys         /* load_end_addr */
    .long __image_phys_end        /* bss_end_addr: the loader zeroes .bss */
    .long start32                 /* entry_addr */

    .section .boot.text, "ax"
    .code32
    .globl start32
start32:
    cli
    cld
    movl $boot_stack_top, %esp
    movl %eax, %edi               /* loader magic -> first C++ argument */
    movl %ebx, %esi               /* multiboot info -> second C++ argument */

    /* 4 PDs of 2 MiB pages cover 0-4 GiB. */
    movl $boot_pd, %ebx
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $(PTE_P | PTE_W | PTE_PS), %eax
    movl %eax, (%ebx, %ecx, 8)
    movl %ecx, %eax
    shrl $11, %eax                /* bits 32+ of (index << 21) */
    movl %eax, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jne 1b

    /* Low PDPT: entries 0-3 -> the 4 PDs. High PDPT: entry for the image base -> first PD. */
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $12, %eax
    addl $(boot_pd + PTE_P + PTE_W), %eax
    movl %eax, boot_pdpt_low(, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jne 2b
    movl $(boot_pd + PTE_P + PTE_W), boot_pdpt_high + IMAGE_L3_INDEX * 8
    movl $(boot_pdpt_low + PTE_P + PTE_W), boot_l4
    movl $(boot_pdpt_high + PTE_P + PTE_W), boot_l4 + IMAGE_L4_INDEX * 8

    /* CR4.PAE, CR3, EFER.LME|NXE, CR0.PG|WP|PE. [SDM 3A §9.8.5] */
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl $boot_l4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax
    movl %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $HV_BOOT_SEL_CODE64, $start64_low

    .code64
start64_low:
    xorl %eax, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movabsq $start64_high, %rax
    jmp *%rax

    .section .boot.data, "aw"
    .align 4096
    .globl boot_l4
boot_l4:        .fill 512, 8, 0
boot_pdpt_low:  .fill 512, 8, 0
boot_pdpt_high: .fill 512, 8, 0
boot_pd:        .fill 4 * 512, 8, 0
    .align 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff      /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff      /* 0x10: data, DPL 0 */
boot_gdt_end:
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
    .align 16
    .fill 1024, 1, 0
boot_stack_top:

    .section .text.entry, "ax"
    .globl start64_high
start64_high:
    leaq boot_stack_high_top(%rip), %rsp
    xorl %ebp, %ebp
    /* EDI and ESI still hold the loader magic and the multiboot info address. */
    call hv_main
1:  cli
    hlt
    jmp 1b

    .section .bss
    .align 16
    .globl boot_stack_high_top
boot_stack_high:
    .skip HV_BOOT_STACK_SIZE
boot_stack_high_top:
    .section .note.GNU-stack, "", @progbits
