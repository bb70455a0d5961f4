/* SPDX-License-Identifier: MIT */
/* Interrupt and exception entry: one 16-byte stub per vector, then a common path that saves the
 * general registers into an arch::TrapFrame (trap_frame.hpp) and calls hv_handle_vector. Guest
 * SYSCALLs build the same frame and call hv_handle_syscall. Both return through vector_return. */
#include "arch/boot_constants.h"

/* The 15 general registers in the TrapFrame's order, last field first (RSP then points at its
 * r15); the hypercall arguments RDI, RSI, RDX, R10, R8 end up contiguous (trap_frame.hpp). */
    .macro PUSH_GENERAL_REGISTERS
    pushq %r8
    pushq %r10
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rax
    pushq %rcx
    pushq %r9
    pushq %r11
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    .endm

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
    .if vector == 1
    jmp debug_entry
    .else
    jmp vector_common
    .endif
    vector = vector + 1
    .endr

    .globl vector_common, syscall_common, vector_return
vector_common:
    PUSH_GENERAL_REGISTERS
    cld
    movq %rsp, %rdi
    call hv_handle_vector
    jmp vector_return

/* #DB runs on IST4 (descriptors.cpp): a guest can make it hit ring 0 before any stack switch.
 * MOV SS/POP SS that reads a data breakpoint, or single-steps with TF, holds the #DB back until
 * after the next instruction; if that is SYSCALL, the #DB arrives at the first instruction of
 * our SYSCALL stub, in ring 0 with the guest's RSP still loaded (CVE-2018-8897). A #DB from the
 * hypervisor (that case, or a guest data breakpoint hit by a copy to or from guest memory) is
 * handled right here on IST4: hv_handle_vector only reads and resets DR6, and IRETQ resumes the
 * interrupted code with its own RSP, guest-controlled or not. Nothing it does can raise another
 * #DB (no guest memory access, TF clear), so IST4 is never re-entered while in use.
 * A #DB from a guest (CS RPL 3) is an ordinary guest exception that may end in the scheduler or
 * a switch to another vCPU, which expect to run on the primary stack: its 7-quadword frame
 * (vector, error code, RIP, CS, RFLAGS, RSP, SS) moves to the primary stack's top, where the CPU
 * would have put it without IST (TSS.RSP0; nothing is live there while a guest runs), and the
 * common path continues there. RAX and RCX are borrowed on IST4 and restored before. */
debug_entry:
    testb $3, 24(%rsp)            /* CS of the interrupted context */
    jz vector_common
    pushq %rax
    pushq %rcx
    movq %rsp, %rax
    andq $-HV_CPU_STACK_WINDOW, %rax
    addq $(HV_PRIMARY_STACK_TOP_OFFSET - 56), %rax
    .irp slot, 0, 1, 2, 3, 4, 5, 6
    movq 16 + 8 * \slot(%rsp), %rcx
    movq %rcx, 8 * \slot(%rax)
    .endr
    movq 8(%rsp), %rcx            /* the guest's RAX, pushed just below the moved frame */
    movq %rcx, -8(%rax)
    movq (%rsp), %rcx
    leaq -8(%rax), %rsp
    popq %rax
    jmp vector_common

syscall_common:                   /* no CLD: SFMASK cleared DF (pv_run.cpp, kSyscallMask) */
    PUSH_GENERAL_REGISTERS
    movq %rsp, %rdi
    call hv_handle_syscall
vector_return:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    popq %r11
    popq %r9
    popq %rcx
    popq %rax
    popq %rdi
    popq %rsi
    popq %rdx
    popq %r10
    popq %r8
    addq $16, %rsp                /* vector and error code */
    .globl guest_iret_insn
guest_iret_insn:                  /* trap.cpp: a fault here on a ring-3 frame is the guest's */
    iretq

/* SYSCALL entry, one stub per pCPU: SYSCALL does not switch stacks, so each stub saves the
 * guest RSP and loads its pCPU's stack top from tables smp.cpp fills, then builds the same
 * TrapFrame an exception from ring 3 would (vector HV_VECTOR_SYSCALL) and joins syscall_common,
 * which calls hv_handle_syscall (pv_run.cpp) directly: no vector dispatch on the hottest path.
 * On entry RCX = guest RIP, R11 = guest RFLAGS; SFMASK has cleared IF. [SDM 2B SYSCALL] */
    .section .text.entry, "ax"
/* One 64-byte SYSCALL stub per pCPU that reports guest code selector `cs`. */
    .macro SYSCALL_STUBS name, cs
    .align 64                     /* LSTAR = \name + cpu * 64: no padding may run before a stub */
    .globl \name
\name:
    cpu = 0
    .rept HV_MAX_CPUS
    .align 64
    movq %rsp, hv_syscall_saved_rsp + 8 * cpu(%rip)
    movq hv_syscall_stack_top + 8 * cpu(%rip), %rsp
    pushq $HV_SEL_GUEST_DS
    pushq hv_syscall_saved_rsp + 8 * cpu(%rip)
    pushq %r11
    pushq $\cs
    pushq %rcx
    pushq $0
    pushq $HV_VECTOR_SYSCALL
    jmp syscall_common
    cpu = cpu + 1
    .endr
    .endm

    SYSCALL_STUBS hv_syscall_stubs, HV_SEL_GUEST_CS64
/* Compat-mode SYSCALL (AMD, and QEMU TCG) lands in the same stubs reporting CS 0xe023, so the
 * syscall32 callback (or #UD) is delivered. CSTAR must never be left at 0: that would run guest
 * page 0 at CPL 0. */
    SYSCALL_STUBS hv_syscall32_stubs, HV_SEL_GUEST_CS32

/* enter_guest(frame): continue a guest from a TrapFrame already placed at the top of this
 * pCPU's stack (pv_run.cpp). */
    .globl enter_guest
enter_guest:
    movq %rdi, %rsp
    jmp vector_return

/* enter_guest_zeroing(frame, zero_from): as enter_guest, but first clears [zero_from, frame):
 * the hypervisor's call chain that led here, dead once RSP is the guest frame (zero_stack.hpp).
 * Forward rep stosq: fast strings, and one TCG instruction per quadword. */
    .globl enter_guest_zeroing
enter_guest_zeroing:
    movq %rdi, %rsp
    movq %rdi, %rcx
    subq %rsi, %rcx
    shrq $3, %rcx
    movq %rsi, %rdi
    xorl %eax, %eax
    cld
    rep stosq
    jmp vector_return

/* guest_copy(dst, src, len) -> bytes NOT copied (0 on success). Quadwords first, then the 0-7
 * byte tail: under -icount every iteration of a rep string instruction counts as one, so an
 * 80-byte iret frame costs 10 iterations, not 80. The only instructions that may fault on a guest
 * address are the two rep movs; trap.cpp resumes a #PF on either at its own fixup, which turns
 * RCX (iterations left) back into bytes left. Callers check the range first (guest_memory.cpp). */
    .globl guest_copy, guest_copy_access_quads, guest_copy_quads_fixup, guest_copy_access, guest_copy_fixup
guest_copy:
    movq %rdx, %rcx
    shrq $3, %rcx
    andl $7, %edx
guest_copy_access_quads:
    rep movsq
    movl %edx, %ecx
guest_copy_access:
    rep movsb
guest_copy_fixup:
    movq %rcx, %rax
    ret
guest_copy_quads_fixup:           /* quadwords left * 8 + the tail not started */
    leaq (%rdx,%rcx,8), %rax
    ret

    .section .bss
    .align 8
    .globl hv_syscall_saved_rsp, hv_syscall_stack_top
hv_syscall_saved_rsp: .skip 8 * HV_MAX_CPUS
hv_syscall_stack_top: .skip 8 * HV_MAX_CPUS
    .section .note.GNU-stack, "", @progbits
