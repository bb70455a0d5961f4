/* SPDX-License-Identifier: MIT */
/* Interrupt and exception entry: one 16-byte stub per vector, then a common path that saves the
 * general registers into an arch::TrapFrame (trap_frame.hpp) and calls hv_handle_vector. */
#include "arch/boot_constants.h"

    .section .text.entry, "ax"
    .align 16
    .globl hv_vector_stubs
hv_vector_stubs:
    vector = 0
    .rept 256
    .align 16
    /* Vectors for which the CPU pushes an error code. [SDM 3A §6.15] */
    .if (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .else
    pushq $0
    .endif
    pushq $vector
    jmp vector_common
    vector = vector + 1
    .endr

vector_common:
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
    cld
    movq %rsp, %rdi
    call hv_handle_vector
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
    addq $16, %rsp                /* vector and error code */
    iretq
