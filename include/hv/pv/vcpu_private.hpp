// SPDX-License-Identifier: MIT
// A vCPU's private state: the guest CPU state the hypervisor holds while the vCPU does not run.
//
// These are the guest's secrets (design.md, "The isolation property"): its general registers,
// its x87/SSE registers (keys and plaintext live there) and its segment bases. They live in one
// page of their own per vCPU (domain pool, frame class PerVcpu(d, v), never in the directmap),
// not in pv::Vcpu, which sits in the image's .bss and is therefore mapped in every root.
//
// What stays in pv::Vcpu is bookkeeping the hypervisor needs about any vCPU from any pCPU (run
// state, timers, roots, GDT/LDT frame numbers) and guest-registered configuration (trap table,
// callbacks, kernel_ss/kernel_sp from stack_switch, virtual IOPL and CR0.TS). The debug registers
// and the virtual CR2 are guest register contents (breakpoint and fault addresses): here.
//
// Access goes through one accessor, `vcpu_private(vcpu)`, which returns a scoped view:
//   - the vCPU's own per-domain window (arch: vcpu_private_va) when its slot-260 area is the one
//     loaded on this pCPU: no mapping work on the paths that save and restore the running vCPU;
//   - a mapcache mapping of the page otherwise (another vCPU's VCPUOP_initialise, the domain
//     builder, an idle pCPU), released when the view ends.
// A view must not outlive a CR3 switch: take a new one after the switch (debug builds check that
// a window view's area is still loaded when the view ends). The platform (the image, or the host
// fakes in tests/support) defines the view's constructor and destructor.
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {

struct Vcpu;

struct VcpuPrivate {
    arch::TrapFrame regs;  // general registers, RIP, RFLAGS, RSP, CS, SS while the vCPU is not running
    // Segment state as the MSRs hold it (GS_BASE is the live mode's) and the data selectors.
    u64 msr_fs_base, msr_gs_base, msr_kernel_gs_base;
    u16 sel_ds, sel_es, sel_fs, sel_gs;
    alignas(16) u8 fxsave_area[512];  // x87/SSE image (FXSAVE layout)
    u64 cr2;    // virtual CR2, as the last bounced #PF (or a mov to %cr2) left it
    u64 dr[4];  // DR0-3: only guest addresses; in the hardware while DR7 enables one (debug_registers.cpp)
    u64 dr6, dr7;  // without their always-one bits: zero means the defaults 0xffff0ff0 / 0x400
    u64 dr7_io;    // DR7 enable bits of I/O breakpoints: emulated (emulate_io.cpp), kept out of dr7
};
static_assert(sizeof(VcpuPrivate) <= 4096, "one page per vCPU");

class VcpuPrivateView {
  public:
    explicit VcpuPrivateView(Vcpu& vcpu);
    ~VcpuPrivateView();
    VcpuPrivateView(const VcpuPrivateView&) = delete;
    VcpuPrivateView& operator=(const VcpuPrivateView&) = delete;

    VcpuPrivate* operator->() const { return state_; }
    VcpuPrivate& operator*() const { return *state_; }

  private:
    Vcpu& vcpu_;
    VcpuPrivate* state_ = nullptr;
    bool mapped_ = false;                 // through the mapcache (else the vCPU's own window)
    alignas(8) unsigned char mapping_[32];  // the platform's mapping handle while mapped_
};

// The one accessor. Guaranteed copy elision: the view is built in the caller's variable.
inline VcpuPrivateView vcpu_private(Vcpu& vcpu) { return VcpuPrivateView(vcpu); }

}  // namespace hv::pv
