/* SPDX-License-Identifier: MIT */
/* Exception, software-interrupt and callback entry points of the guest runtime.
 *
 * Xen bounces an exception to a 64-bit PV guest with this frame (pv-abi §4.2), lowest first:
 *     RCX, R11, [error code], RIP, CS|mask<<32, RFLAGS, RSP, SS
 * RCX/R11 are there because Xen leaves through SYSRET, which clobbers them: pop them back first.
 * Every stub then makes the frame uniform (dummy error code where the CPU pushes none, then the
 * vector) and common code saves the GPRs on top, so the C++ ExceptionFrame overlays the stack and
 * its RIP slot sits exactly where Xen wrote the RIP (tests check the bounce position with it). */

#include "traps_layout.h"

    .code64
    .text

/* One stub per vector: `has_error_code` says whether the bounce frame carries one. */
.macro ENTRY_STUB vector, has_error_code
    .globl guest_entry_\vector
guest_entry_\vector:
    popq %rcx
    popq %r11
    .if !\has_error_code
    pushq $0
    .endif
    pushq $\vector
    jmp guest_entry_common
.endm

/* Error codes exist for 8, 10-14, 17, 21, 29, 30 (Xen's list, pv-abi §4.2). */
    ENTRY_STUB 0, 0
    ENTRY_STUB 1, 0
    ENTRY_STUB 2, 0
    ENTRY_STUB 3, 0
    ENTRY_STUB 4, 0
    ENTRY_STUB 5, 0
    ENTRY_STUB 6, 0
    ENTRY_STUB 7, 0
    ENTRY_STUB 8, 1
    ENTRY_STUB 9, 0
    ENTRY_STUB 10, 1
    ENTRY_STUB 11, 1
    ENTRY_STUB 12, 1
    ENTRY_STUB 13, 1
    ENTRY_STUB 14, 1
    ENTRY_STUB 15, 0
    ENTRY_STUB 16, 0
    ENTRY_STUB 17, 1
    ENTRY_STUB 18, 0
    ENTRY_STUB 19, 0
    ENTRY_STUB 20, 0
    ENTRY_STUB 21, 1
    ENTRY_STUB 22, 0
    ENTRY_STUB 23, 0
    ENTRY_STUB 24, 0
    ENTRY_STUB 25, 0
    ENTRY_STUB 26, 0
    ENTRY_STUB 27, 0
    ENTRY_STUB 28, 0
    ENTRY_STUB 29, 1
    ENTRY_STUB 30, 1
    ENTRY_STUB 31, 0
/* Software vectors (INT n never pushes an error code). */
    ENTRY_STUB 0x20, 0
    ENTRY_STUB 0x21, 0
    ENTRY_STUB 0x40, 0
    ENTRY_STUB 0x42, 0
    ENTRY_STUB 0x80, 0
/* Callbacks use the same frame without an error code; they get pseudo-vectors above 255. */
    ENTRY_STUB GUEST_VEC_SYSCALL, 0
    ENTRY_STUB GUEST_VEC_SYSCALL32, 0
    ENTRY_STUB GUEST_VEC_SYSENTER, 0
    ENTRY_STUB GUEST_VEC_EVENT, 0

guest_entry_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    /* Xen clears DF only for SYSCALL callbacks (pv-abi §4.3); the C ABI needs it clear. */
    cld
    movq %rsp, %rdi
    /* Xen aligns the frame to 16 bytes and the layout above keeps it so: the call is ABI-aligned. */
    call guest_handle_exception     /* returns only if a handler dealt with the exception */
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp                  /* vector, error code */
    /* Leave through the iret hypercall: [flags, RIP, CS, RFLAGS, RSP, SS] (pv-abi §4.6). Flags 0
     * makes Xen restore RCX/R11 from the values the iret stub pushes, i.e. ours. */
    pushq $0
    jmp hypercall_page + GUEST_HYPERCALL_IRET * 32

/* long guest_exec_user_asm(long (*fn)()): runs fn in guest user mode on the user stack. The user
 * side ends with `int $0x20`, which bounces to kernel mode on the stack_switch stack; the runtime
 * then calls guest_exec_user_return, which unwinds back to our caller with fn's result. */
    .globl guest_exec_user_asm
guest_exec_user_asm:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, guest_exec_user_saved_rsp(%rip)
    pushq $GUEST_FLAT_USER_SS           /* SS */
    leaq guest_user_stack_top(%rip), %rax
    pushq %rax                          /* RSP */
    pushfq
    andq $~0x200, (%rsp)                /* RFLAGS with IF clear: user code runs with events masked */
    pushq $GUEST_FLAT_USER_CS           /* CS with RPL 3: iret switches to user mode */
    leaq guest_user_trampoline(%rip), %rax
    pushq %rax                          /* RIP */
    pushq $0                            /* flags */
    jmp hypercall_page + GUEST_HYPERCALL_IRET * 32

    /* Runs at guest user level; RDI (fn) survives the iret hypercall. */
    .globl guest_user_trampoline
guest_user_trampoline:
    call *%rdi
    int $0x20
    ud2                                 /* int $0x20 never returns here */

/* [[noreturn]] void guest_exec_user_return(long result): back on the kernel side. */
    .globl guest_exec_user_return
guest_exec_user_return:
    movq %rdi, %rax
    movq guest_exec_user_saved_rsp(%rip), %rsp
    movq $0, guest_exec_user_saved_rsp(%rip)
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret

    .data
    .balign 8
    .globl guest_exec_user_saved_rsp
guest_exec_user_saved_rsp:
    .quad 0

    .section .bss.stack, "aw", @nobits
    .balign 4096
    .skip 4096
    .globl guest_user_stack_top
guest_user_stack_top:
    .balign 4096
    .skip 2 * 4096
    .globl guest_kernel_trap_stack_top
guest_kernel_trap_stack_top:

    .section .note.GNU-stack, "", @progbits
