/* SPDX-License-Identifier: MIT */
/* Numbers shared by traps.S and traps.cpp (plain #defines so the assembler can use them). */
#pragma once

/* Pseudo-vectors (above 255) that the runtime gives callbacks, so one dispatcher serves all. */
#define GUEST_VEC_SYSCALL 0x100
#define GUEST_VEC_SYSCALL32 0x101
#define GUEST_VEC_SYSENTER 0x102
#define GUEST_VEC_EVENT 0x103

#define GUEST_FLAT_USER_CS 0xe033
#define GUEST_FLAT_USER_SS 0xe02b
#define GUEST_HYPERCALL_IRET 23
