// SPDX-License-Identifier: MIT
// VCPUOP_initialise's context checks and load (see vcpu_context.hpp).
#include "hv/pv/vcpu_context.hpp"

#include "hv/core/addr.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/guest_mode.hpp"
#include "hv/pv/page_types.hpp"
#include "hv/pv/vcpu_private.hpp"
#include "hv/pv/vcpu_registers.hpp"

namespace hv::pv {
namespace {

constexpr u64 kGuestFlagsMask = 0x00240dd5;  // as pv_run.cpp: what a guest may set in RFLAGS
constexpr u64 kGuestFlagsForced = 0x202;

bool canonical_addresses(const xen::VcpuGuestContext& c) {
    const u64 addresses[] = {c.user_regs.rip,  c.user_regs.rsp,       c.kernel_sp,
                             c.fs_base,        c.gs_base_kernel,      c.gs_base_user,
                             c.event_callback_eip, c.syscall_callback_eip, c.failsafe_callback_eip};
    for (const u64 address : addresses)
        if (!is_canonical(address)) return false;
    for (const xen::TrapInfo& trap : c.trap_ctxt)
        if (!is_canonical(trap.address)) return false;
    return true;
}

// DR0-3 and DR6/DR7 through the same rules as set_debugreg, on a scratch vCPU-less check.
bool debug_registers_ok(const xen::VcpuGuestContext& c) {
    for (unsigned i = 0; i < 4; ++i)
        if (c.debugreg[i] >= (u64{1} << 47) && c.debugreg[i] < xen::kHypervisorVirtEnd) return false;
    return (c.debugreg[6] >> 32) == 0 && (c.debugreg[7] >> 32) == 0;
}

u16 ring3(u64 selector) { return static_cast<u16>(selector | 3); }

void drop_gdt(PageTypeEngine& engine, const u64* frames, unsigned count) {
    for (unsigned i = 0; i < count; ++i) engine.put_page_and_type(Mfn(frames[i]));
}

// ctrlreg values hold the root's frame number in bits 12 and up (Xen's xen_cr3_to_pfn).
Mfn root_frame(u64 ctrlreg) { return Mfn(ctrlreg >> 12); }

void load_registers(VcpuPrivate& state, const xen::VcpuGuestContext& c) {
    const xen::CpuUserRegs& r = c.user_regs;
    arch::TrapFrame& f = state.regs;
    f = arch::TrapFrame{};
    f.r15 = r.r15, f.r14 = r.r14, f.r13 = r.r13, f.r12 = r.r12, f.rbp = r.rbp, f.rbx = r.rbx;
    f.r11 = r.r11, f.r10 = r.r10, f.r9 = r.r9, f.r8 = r.r8, f.rax = r.rax, f.rcx = r.rcx;
    f.rdx = r.rdx, f.rsi = r.rsi, f.rdi = r.rdi;
    f.rip = r.rip;
    f.rsp = r.rsp;
    // A PV kernel runs in ring 3: Xen raises every selector's RPL to 3. A selector that still
    // cannot be loaded makes our IRETQ fault, which the guest sees as #GP (trap.cpp).
    f.cs = ring3(r.cs);
    f.ss = ring3(r.ss);
    f.rflags = (r.rflags & kGuestFlagsMask) | kGuestFlagsForced;
    state.sel_ds = r.ds, state.sel_es = r.es, state.sel_fs = r.fs, state.sel_gs = r.gs;
}

void load_traps_and_callbacks(Vcpu& vcpu, const xen::VcpuGuestContext& c) {
    for (unsigned v = 0; v < 256; ++v) {
        const xen::TrapInfo& t = c.trap_ctxt[v];
        vcpu.traps[v] = TrapEntry{t.address, ring3(t.cs), static_cast<u8>(t.flags & xen::kTrapDplMask),
                                  (t.flags & xen::kTrapMaskEvents) != 0};
    }
    const auto slot = [&](CallbackType type) -> Callback& { return vcpu.callbacks[static_cast<unsigned>(type)]; };
    slot(CallbackType::Event) = Callback{c.event_callback_eip, true};
    slot(CallbackType::Failsafe) = Callback{c.failsafe_callback_eip, (c.flags & xen::kVgcfFailsafeDisablesEvents) != 0};
    slot(CallbackType::Syscall) = Callback{c.syscall_callback_eip, (c.flags & xen::kVgcfSyscallDisablesEvents) != 0};
    vcpu.kernel_ss = ring3(c.kernel_ss);
    vcpu.kernel_sp = c.kernel_sp;
}

void load_segment_state(VcpuPrivate& state, const xen::VcpuGuestContext& c) {
    // GS_BASE holds the live mode's base, KERNEL_GS_BASE the other (guest_mode.hpp).
    const bool kernel = (c.flags & xen::kVgcfInKernel) != 0;
    state.msr_fs_base = c.fs_base;
    state.msr_gs_base = kernel ? c.gs_base_kernel : c.gs_base_user;
    state.msr_kernel_gs_base = kernel ? c.gs_base_user : c.gs_base_kernel;
}

constexpr unsigned kMxcsrOffset = 24;

}  // namespace

void load_fpu_image(u8 (&area)[512], const xen::VcpuGuestContext& c) {
    // Without VGCF_I387_VALID: the default state, as Xen. With it: the guest's FXSAVE image.
    if ((c.flags & xen::kVgcfI387Valid) == 0) return reset_fxsave_area(area);
    for (unsigned i = 0; i < 512; ++i) area[i] = c.fpu_ctxt[i];
    // MXCSR bits this CPU lacks would make FXRSTOR fault in the hypervisor when the vCPU is
    // loaded. Xen 4.17 accepts the image and, when its XRSTOR faults, retries with those bits
    // cleared (xstate.c, stage 1): the same result, done here once. The call succeeds.
    const u32 mask = cpu_mxcsr_mask();
    for (unsigned i = 0; i < 4; ++i) area[kMxcsrOffset + i] &= static_cast<u8>(mask >> (8 * i));
}

void reset_fxsave_area(u8 (&area)[512]) {
    for (u8& byte : area) byte = 0;
    area[0] = 0x7f, area[1] = 0x03;                      // FCW 0x037f (FNINIT)
    area[24] = 0x80, area[25] = 0x1f;                    // MXCSR 0x1f80
    area[28] = 0xff, area[29] = 0xff;                    // MXCSR_MASK (ignored by FXRSTOR)
}

long check_vcpu_context(const xen::VcpuGuestContext& c) {
    if (!canonical_addresses(c)) return -xen::kEINVAL;
    if (c.ldt_ents != 0) return -xen::kEINVAL;  // Isola has no LDT for PV guests
    if (c.gdt_ents > xen::kFirstReservedGdtEntry) return -xen::kEINVAL;
    if (!debug_registers_ok(c)) return -xen::kEINVAL;
    if ((c.flags & xen::kVgcfInKernel) == 0 && c.ctrlreg[1] == 0) return -xen::kEINVAL;
    return 0;
}

long load_vcpu_context(Vcpu& vcpu, PageTypeEngine& engine, const xen::VcpuGuestContext& c) {
    const unsigned gdt_count = static_cast<unsigned>((c.gdt_ents + 511) / 512);
    for (unsigned i = 0; i < gdt_count; ++i) {
        if (!engine.get_page_and_type(Mfn(c.gdt_frames[i]), PageType::SegDesc).ok()) {
            drop_gdt(engine, c.gdt_frames, i);
            return -xen::kEINVAL;
        }
    }
    const Mfn kernel_root = root_frame(c.ctrlreg[3]);
    if (!engine.get_page_and_type(kernel_root, PageType::L4).ok()) {
        drop_gdt(engine, c.gdt_frames, gdt_count);
        return -xen::kEINVAL;
    }
    if (c.ctrlreg[1] != 0 && !engine.get_page_and_type(root_frame(c.ctrlreg[1]), PageType::L4).ok()) {
        engine.put_page_and_type(kernel_root);
        drop_gdt(engine, c.gdt_frames, gdt_count);
        return -xen::kEINVAL;
    }
    vcpu.kernel_cr3 = kernel_root.maddr().raw();
    vcpu.user_cr3 = c.ctrlreg[1] != 0 ? root_frame(c.ctrlreg[1]).maddr().raw() : 0;
    vcpu.kernel_mode = (c.flags & xen::kVgcfInKernel) != 0;
    for (unsigned i = 0; i < kMaxGdtFrames; ++i) vcpu.gdt_frames[i] = i < gdt_count ? c.gdt_frames[i] : 0;
    vcpu.gdt_frame_count = gdt_count;
    const VcpuPrivateView state = vcpu_private(vcpu);  // a vCPU that is not running (often not ours)
    load_registers(*state, c);
    load_traps_and_callbacks(vcpu, c);
    load_segment_state(*state, c);
    set_virtual_de(vcpu, c.ctrlreg[4]);  // before DR7, whose I/O breakpoints need it
    for (unsigned i = 0; i < 4; ++i) state->dr[i] = c.debugreg[i];
    (void)set_debug_register(vcpu, 6, c.debugreg[6]);  // forces reserved bits; errors keep the default
    (void)set_debug_register(vcpu, 7, c.debugreg[7]);
    load_fpu_image(state->fxsave_area, c);
    vcpu.cr0_ts = false;
    state->cr2 = 0;
    vcpu.iopl = 0;
    vcpu.initialised = true;
    return 0;
}

}  // namespace hv::pv
