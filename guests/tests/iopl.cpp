// SPDX-License-Identifier: MIT
// The virtual IOPL, as XTF's pv-iopl tests it, in one kernel: CLI, STI and port I/O (IN, OUT,
// INS, OUTS) from guest kernel and user mode fault with #GP(0) unless the virtual IOPL covers the
// mode's virtual CPL: first set through PHYSDEVOP_set_iopl (kernel = CPL 1), then, with VMASST
// architectural_iopl, through the iret hypercall's RFLAGS.IOPL (kernel = CPL 0). Allowed accesses
// read all ones from ports the domain was not given (the PIC's 0x20/0x21/0xa0) and CLI/STI leave
// the virtual interrupt flag alone. [pv-abi §3.16, §3.17, §4.9, §6.2]
#include "guest.hpp"

extern "C" {
// Like exec_user, with `iopl` folded into the iret frame's RFLAGS (XTF's exec_user_with_iopl).
long iopl_exec_user_asm(long (*fn)(), unsigned long iopl);
}

asm(R"(
    .pushsection .text
    .globl iopl_exec_user_asm
iopl_exec_user_asm:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, guest_exec_user_saved_rsp(%rip)
    pushq $0xe02b
    leaq guest_user_stack_top(%rip), %rax
    pushq %rax
    pushfq
    andq $~0x3200, (%rsp)
    shlq $12, %rsi
    orq %rsi, (%rsp)
    pushq $0xe033
    leaq guest_user_trampoline(%rip), %rax
    pushq %rax
    pushq $0
    jmp hypercall_page + 23 * 32
    .popsection
)");

namespace guest {

const char kTestTitle[] = "iopl: CLI/STI/IN/OUT/INS/OUTS against the virtual IOPL, set_iopl and architectural_iopl";

namespace {

u8 io_buffer[8];

// Each probe runs one instruction under the expected-fault table and returns a value to check
// when it did not fault.
long probe_cli() {
    asm volatile("1: cli\n2:\n" GUEST_EXTABLE(1b, 2b) ::: "memory");
    return 0;
}
long probe_sti() {
    asm volatile("1: sti\n2:\n" GUEST_EXTABLE(1b, 2b) ::: "memory");
    return 0;
}
long probe_outb() {
    asm volatile("1: outb %%al, $0x80\n2:\n" GUEST_EXTABLE(1b, 2b) ::"a"(0) : "memory");
    return 0;
}
long probe_inb() {  // the PIC: a port Xen keeps from dom0 and Isola from everyone: all ones
    u64 rax = 0x1234567800;
    asm volatile("1: inb $0x21, %%al\n2:\n" GUEST_EXTABLE(1b, 2b) : "+a"(rax)::"memory");
    return rax == 0x12345678ff ? 0 : static_cast<long>(rax);
}
long probe_inw() {
    u64 rax = 0x1234560000;
    asm volatile("1: inw %%dx, %%ax\n2:\n" GUEST_EXTABLE(1b, 2b) : "+a"(rax) : "d"(0xa0) : "memory");
    return rax == 0x123456ffff ? 0 : static_cast<long>(rax);
}
long probe_inl() {  // a 32-bit IN clears bits 63:32
    u64 rax = 0xabcdef0000000000;
    asm volatile("1: inl $0x20, %%eax\n2:\n" GUEST_EXTABLE(1b, 2b) : "+a"(rax)::"memory");
    return rax == 0xffffffff ? 0 : static_cast<long>(rax);
}
long probe_outl() {
    asm volatile("1: outl %%eax, %%dx\n2:\n" GUEST_EXTABLE(1b, 2b) ::"a"(0), "d"(0x80) : "memory");
    return 0;
}
long probe_rep_insb() {  // three bytes of all ones; RDI advanced, RCX counted down
    for (u8& b : io_buffer) b = 0;
    u64 rdi = reinterpret_cast<u64>(io_buffer), rcx = 3;
    asm volatile("1: rep insb\n2:\n" GUEST_EXTABLE(1b, 2b) : "+D"(rdi), "+c"(rcx) : "d"(0x21) : "memory");
    if (rcx == 3) return 0;  // faulted before any element (checked by the caller)
    const bool ok = rcx == 0 && rdi == reinterpret_cast<u64>(io_buffer) + 3 && io_buffer[0] == 0xff &&
                    io_buffer[2] == 0xff && io_buffer[3] == 0;
    return ok ? 0 : 1;
}
long probe_outsw() {
    u64 rsi = reinterpret_cast<u64>(io_buffer);
    asm volatile("1: outsw\n2:\n" GUEST_EXTABLE(1b, 2b) : "+S"(rsi) : "d"(0x80) : "memory");
    return rsi == reinterpret_cast<u64>(io_buffer) || rsi == reinterpret_cast<u64>(io_buffer) + 2 ? 0 : 1;
}

struct Insn {
    const char* name;
    long (*fn)();
};
constexpr Insn kInsns[] = {{"cli", probe_cli},   {"sti", probe_sti},   {"outb", probe_outb},
                           {"inb", probe_inb},   {"inw", probe_inw},   {"inl", probe_inl},
                           {"outl", probe_outl}, {"rep insb", probe_rep_insb}, {"outsw", probe_outsw}};

// What the last probe did: a fault must be exactly #GP(0); no fault must leave the right values.
void check(const char* mode, const Insn& insn, unsigned iopl, bool should_fault, long value) {
    const ExceptionFrame& f = last_exception.frame;
    if (should_fault) {
        if (!last_exception.seen) return fail("%s %s, vIOPL %u: no fault, expected #GP(0)\n", mode, insn.name, iopl);
        if (f.vector != 13 || f.error_code != 0)
            return fail("%s %s, vIOPL %u: vector %lu error %lu, expected #GP(0)\n", mode, insn.name, iopl, f.vector,
                        f.error_code);
    } else {
        if (last_exception.seen)
            return fail("%s %s, vIOPL %u: unexpected vector %lu (error %lu)\n", mode, insn.name, iopl, f.vector,
                        f.error_code);
        if (value != 0) fail("%s %s, vIOPL %u: wrong result 0x%lx\n", mode, insn.name, iopl, value);
    }
}

struct Method {
    const char* name;
    void (*set_iopl)(unsigned iopl);
    bool (*should_fault)(bool user, unsigned iopl);
    bool user_frames_show_iopl;  // architectural_iopl: bounce frames report the virtual IOPL
};

long nothing() { return 0; }
void physdev_set_iopl(unsigned iopl) {
    xen::PhysdevSetIopl request{iopl};
    expect_eq("PHYSDEVOP_set_iopl", hypercall(xen::kPhysdevOp, xen::kPhysdevOpSetIopl, reinterpret_cast<u64>(&request)), 0);
}
// Kernel has virtual CPL 1, user 3.
bool physdev_should_fault(bool user, unsigned iopl) { return user ? iopl < 3 : iopl < 1; }

// With architectural_iopl, any iret hypercall sets the virtual IOPL from the frame's RFLAGS.
void vmassist_set_iopl(unsigned iopl) { iopl_exec_user_asm(nothing, iopl); }
// Kernel has virtual CPL 0, user 3.
bool vmassist_should_fault(bool user, unsigned iopl) { return user && iopl < 3; }

void run(const Method& method) {
    print("Test: %s\n", method.name);
    volatile xen::SharedInfo* shared = shared_info();
    for (unsigned iopl = 0; iopl <= 3; ++iopl) {
        print("  vIOPL %u\n", iopl);
        method.set_iopl(iopl);
        for (const Insn& insn : kInsns) {
            const u8 mask_before = shared != nullptr ? shared->vcpu_info[0].evtchn_upcall_mask : 0;
            clear_last_exception();
            const long value = insn.fn();
            check("kernel", insn, iopl, method.should_fault(false, iopl), value);
            if (shared != nullptr && shared->vcpu_info[0].evtchn_upcall_mask != mask_before)
                fail("kernel %s changed the upcall mask\n", insn.name);

            clear_last_exception();
            const long user_value = iopl_exec_user_asm(insn.fn, iopl);
            check("user", insn, iopl, method.should_fault(true, iopl), user_value);
            if (last_exception.seen) {
                const u64 frame_iopl = (last_exception.frame.rflags >> 12) & 3;
                const u64 expected = method.user_frames_show_iopl ? iopl : 0;
                if (frame_iopl != expected)
                    fail("user %s, vIOPL %u: bounce frame RFLAGS.IOPL %lu, expected %lu\n", insn.name, iopl, frame_iopl,
                         expected);
            }
        }
    }
}

}  // namespace

void test_main() {
    if (!setup_traps()) return;
    map_shared_info();
    if (exec_user(nothing) != 0) return error("exec_user does not work\n");
    run(Method{"PHYSDEVOP_set_iopl", physdev_set_iopl, physdev_should_fault, false});
    if (hypercall(xen::kVmAssist, xen::kVmAsstCmdEnable, xen::kVmAsstTypeArchitecturalIopl) != 0)
        return skip("VMASST_TYPE_architectural_iopl not available\n");
    run(Method{"VMASST_TYPE_architectural_iopl", vmassist_set_iopl, vmassist_should_fault, true});
}

}  // namespace guest
