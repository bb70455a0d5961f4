// SPDX-License-Identifier: MIT
// What PV logic needs from the platform about the running vCPU: its mode switch (CR3 and GS
// bases) and its shared vcpu_info fields. The image implements these in arch/x86_64; host
// tests use fakes.
#pragma once

#include "hv/core/types.hpp"

namespace hv::pv {

struct Vcpu;

// Switches between guest kernel and user mode: loads that mode's root and swaps the GS bases.
void switch_guest_mode(Vcpu& vcpu, bool to_kernel);

// vcpu_info.evtchn_upcall_mask (the virtual interrupt flag: 1 = masked) and arch.cr2.
u8 read_upcall_mask(Vcpu& vcpu);
void write_upcall_mask(Vcpu& vcpu, u8 mask);
void write_guest_cr2(Vcpu& vcpu, u64 cr2);

// The running vCPU's segment bases, in the hardware MSRs while it runs. GS bases are named by
// guest mode: the hypervisor swaps them on every kernel/user switch, so in guest kernel mode the
// kernel base is the live GS base and the user base waits in KERNEL_GS_BASE. Callers pass only
// canonical bases. [pv-abi.md §3.22]
enum class SegmentBase : u8 { Fs, GsKernel, GsUser };
void write_segment_base(Vcpu& vcpu, SegmentBase which, u64 base);
u64 read_segment_base(Vcpu& vcpu, SegmentBase which);
// Loads `selector` into the guest's user-mode GS (SEGBASE_GS_USER_SEL): its base becomes the user
// GS base. A selector that would fault loads the null selector instead, as Xen does.
void load_user_gs_selector(Vcpu& vcpu, u16 selector);

// The hardware CR0.TS while this vCPU runs: set, the guest's next FPU/SSE instruction raises #NM.
void write_hardware_ts(Vcpu& vcpu, bool set);
// Whether this pCPU has work a long hypercall should make way for: an interrupt waiting at the
// LAPIC (timer tick, IPI), or the scheduler wanting the pCPU from `vcpu`.
bool hypervisor_work_pending(Vcpu& vcpu);
// After set_debugreg (or mov to %drN) changed a debug register of `vcpu`: when it is the vCPU
// running on this pCPU, its DR0-3 and DR7 reach the hardware at once, so a breakpoint it enables
// fires on its next instruction. For any other vCPU the next load does it.
void sync_hardware_debug_registers(Vcpu& vcpu);
// The MXCSR bits this CPU supports (FXSAVE's MXCSR_MASK, 0xffbf when it reports 0): an MXCSR
// with any other bit set makes FXRSTOR raise #GP.
u32 cpu_mxcsr_mask();

// `selector` if it loads as a data selector at CPL 3 against the live GDT, else 0 (null).
u16 user_selector_or_null(u16 selector);
// Writes vcpu_info.time of `vcpu` (system time scale) for the guest's clock.
void publish_vcpu_time(Vcpu& vcpu);

// shared_info.arch.max_pfn, which the guest itself maintains (XENMEM_maximum_gpfn reads it).
u64 read_guest_max_pfn(Vcpu& vcpu);

// ---- Event channels (event_channel.cpp) ----

struct Domain;

// The 2-level event bits in `domain`'s shared_info (which need not be the running domain). The
// guest changes them concurrently, so each call is one atomic access. `port` < 4096,
// `vcpu_id` < 32. The test-and-* calls return the bit's previous value. [pv-abi.md §1.8, §4.8]
enum class EvtchnBits : u8 { Pending, Mask };  // shared_info.evtchn_pending / evtchn_mask
bool evtchn_test_bit(Domain& domain, EvtchnBits bits, unsigned port);
bool evtchn_test_and_set_bit(Domain& domain, EvtchnBits bits, unsigned port);
bool evtchn_test_and_clear_bit(Domain& domain, EvtchnBits bits, unsigned port);
// Bit `word` of vcpu_info[vcpu_id].evtchn_pending_sel.
bool evtchn_selector_test_and_set(Domain& domain, unsigned vcpu_id, unsigned word);
// Sets vcpu_info[vcpu_id].evtchn_upcall_pending to 1; true when it was already non-zero.
bool upcall_pending_test_and_set(Domain& domain, unsigned vcpu_id);
u8 read_upcall_pending(Vcpu& vcpu);
// evtchn_upcall_pending set and evtchn_upcall_mask clear in the vCPU's vcpu_info, read through one
// mapping: the test every exit to the guest makes (upcall_deliverable).
bool read_upcall_deliverable(Vcpu& vcpu);

// The running vCPU asks to block (SCHEDOP_block/poll): at its next exit to the guest the
// scheduler deschedules it unless vcpu.wake was set meanwhile. A sender sets vcpu.wake and then
// calls kick_vcpu, which wakes a blocked vCPU (no lost wake-up: see sched.cpp).
void block_vcpu(Vcpu& vcpu);
// Makes `vcpu` notice new events: wakes it if blocked; if it runs on another pCPU, a wakeup IPI
// makes that pCPU deliver the upcall on its return to the guest.
void kick_vcpu(Vcpu& vcpu);
// Xen system time: nanoseconds since boot (the TSC scaled as vcpu_info.time says).
u64 system_time_ns();

}  // namespace hv::pv
