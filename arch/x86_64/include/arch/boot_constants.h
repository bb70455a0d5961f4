/* SPDX-License-Identifier: MIT */
/* Constants shared between the boot assembly and C++ (kept in one place). */
#pragma once

#define HV_IMAGE_BASE 0xffff82d080000000
#define HV_MULTIBOOT_MAGIC 0x1BADB002
#define HV_MULTIBOOT_LOADER_MAGIC 0x2BADB002
/* Flags: page-align modules (0), memory information (1), load addresses in the header (16). */
#define HV_MULTIBOOT_FLAGS 0x00010003

/* Hypervisor GDT selectors: Xen's, in the reserved GDT page 14 (descriptors.cpp). */
#define HV_SEL_CODE64 0xe008
#define HV_SEL_DATA 0xe010
#define HV_SEL_GUEST_CS32 0xe023
#define HV_SEL_GUEST_DS 0xe02b
#define HV_SEL_GUEST_CS64 0xe033
#define HV_SEL_TSS 0xe040
#define HV_SEL_LDT 0xe050
#define HV_SEL_CPU_MARKER 0xe060
#define HV_GDT_LIMIT 0xefff

#define HV_BOOT_STACK_SIZE 16384
#define HV_VECTOR_SYSCALL 0x100  /* TrapFrame.vector of a SYSCALL from a guest */
#define HV_SYSCALL_STUB_SIZE 64
#define HV_BOOT_SEL_CODE64 0x08  /* start.S and the AP trampoline use their own small GDT */
#define HV_MAX_CPUS 8
/* Each pCPU's stack window in cpu_stacks, and its primary stack's top (TSS.RSP0) inside it
 * (va_layout.hpp checks both): the #DB entry moves a guest's frame there. */
#define HV_CPU_STACK_WINDOW 0x200000
#define HV_PRIMARY_STACK_TOP_OFFSET 0x5000
