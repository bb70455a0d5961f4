/* SPDX-License-Identifier: MIT */
/* Constants shared between the boot assembly and C++ (kept in one place). */
#pragma once

#define HV_IMAGE_BASE 0xffff82d080000000
#define HV_MULTIBOOT_MAGIC 0x1BADB002
#define HV_MULTIBOOT_LOADER_MAGIC 0x2BADB002
/* Flags: page-align modules (0), memory information (1), load addresses in the header (16). */
#define HV_MULTIBOOT_FLAGS 0x00010003

/* Hypervisor GDT selectors (per-CPU GDT, gdt.cpp). */
#define HV_SEL_CODE64 0x08
#define HV_SEL_DATA 0x10
#define HV_SEL_TSS 0x18

#define HV_BOOT_STACK_SIZE 16384
#define HV_MAX_CPUS 8
