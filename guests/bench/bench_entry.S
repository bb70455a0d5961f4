/* SPDX-License-Identifier: MIT */
/* Benchmark guest: minimal guest entry points, so the measured paths contain (almost) only the
 * hypervisor's work and not the runtime's general exception dispatch (runtime/traps.S).
 *
 * A bounce frame is, lowest first: RCX, R11, [error code], RIP, CS, RFLAGS, RSP, SS (pv-abi §4.2).
 * The iret hypercall takes [flags, RIP, CS, RFLAGS, RSP, SS] at RSP; its stub pushes RCX, R11
 * and RAX below that (pv-abi §4.6). */

#include "traps_layout.h"

#define BENCH_VGCF_IN_SYSCALL 0x100

    .code64
    .text

/* Syscall callback: return to user mode at once, as a PV kernel's sysret path does (iret with
 * VGCF_in_syscall: RCX and R11 are clobbered, like SYSRET). */
    .globl bench_syscall_entry
bench_syscall_entry:
    popq %rcx
    popq %r11
    pushq $BENCH_VGCF_IN_SYSCALL
    jmp hypercall_page + GUEST_HYPERCALL_IRET * 32

/* #PF handler for the pf_bounce loop: the faulting code left its resume address in RSI; drop
 * the error code, resume there with RCX/R11 restored (iret flags 0). */
    .globl bench_pf_entry
bench_pf_entry:
    popq %rcx
    popq %r11
    addq $8, %rsp
    movq %rsi, (%rsp)
    pushq $0
    jmp hypercall_page + GUEST_HYPERCALL_IRET * 32

/* The guest_call benchmark's callee: the call/ret of a hypercall without the hypervisor. */
    .globl bench_null_stub
bench_null_stub:
    ret

    .section .note.GNU-stack, "", @progbits
