// SPDX-License-Identifier: MIT
// PV domains and vCPUs: what the hypervisor keeps about each guest.
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/addr.hpp"
#include "hv/core/spinlock.hpp"
#include "hv/core/types.hpp"
#include "hv/sched/scheduler.hpp"
#include "hv/pv/domain_private.hpp"
#include "hv/pv/event_channel.hpp"
#include "hv/pv/grant_table.hpp"
#include "hv/pv/xen_abi.hpp"

namespace hv::pv {

inline constexpr unsigned kMaxDomains = 8;
inline constexpr unsigned kP2mEntriesPerFrame = 512;
inline constexpr unsigned kMaxP2mFrames = 128;  // 256 MiB of guest memory per domain
inline constexpr u64 kMaxDomainPages = u64{kMaxP2mFrames} * kP2mEntriesPerFrame;
inline constexpr unsigned kMaxGdtFrames = 14;  // GDT pages below Xen's reserved page 14
inline constexpr unsigned kMaxLdtEntries = 8192;
inline constexpr unsigned kMaxLdtPages = kMaxLdtEntries * 8 / 4096;
inline constexpr unsigned kPtWindowPages = 16;  // a vCPU's page-table word window (arch/vcpu_pt_window.hpp)
inline constexpr u64 kNoFrame = ~u64{0};       // an empty page of that window
inline constexpr unsigned kMaxVcpus = 8;       // vcpus= on the module command line: 1..8

enum class DomainState : u8 { Empty, Running, Shutdown, Crashed };

struct Domain;

// One entry of the virtual IDT (set_trap_table). [pv-abi.md §3.3]
struct TrapEntry {
    u64 address;  // 0: no handler
    u16 cs;
    u8 dpl;       // who may raise the vector with INT n: 0 nobody, 1-2 kernel, 3 kernel and user
    bool mask_events;
};

// A registered callback (callback_op / set_callbacks). [pv-abi.md §3.4]
struct Callback {
    u64 address;  // 0: none
    bool mask_events;
};

enum class CallbackType : u8 { Event = 0, Failsafe = 1, Syscall = 2, Sysenter = 5, Syscall32 = 7 };
inline constexpr unsigned kCallbackSlots = 8;

// A hypercall that stopped early for pending work (hypercall.hpp create_continuation): the
// guest re-executes its SYSCALL as `number` with these arguments.
struct HypercallContinuation {
    bool pending;
    u64 number;
    u64 args[5];
};

struct Vcpu {
    Domain* domain;
    unsigned id;
    // The guest's registers, segment state and x87/SSE image while it does not run: not here (the
    // image is mapped in every root) but in a private page (vcpu_private.hpp, vcpu_private()).
    Mfn private_frame;
    u64 kernel_cr3;        // machine address of the guest kernel L4
    u64 user_cr3;          // 0 until NEW_USER_BASEPTR
    bool kernel_mode;
    TrapEntry traps[256];
    Callback callbacks[kCallbackSlots];  // indexed by CallbackType
    u64 kernel_ss;  // stack_switch: where bounces from user mode land
    u64 kernel_sp;
    // SCHEDOP_block/poll (event_channel.cpp; the protocol: sched.cpp). Senders on other pCPUs
    // read poll_port and set wake.
    i32 poll_port;  // 0: not polling; -1: polling several ports (any event wakes); else the one port
    bool wake;      // set by a sender that must wake this vCPU; the waiter clears it
    bool blocking;  // block/poll asked to deschedule at the next exit to the guest (unless woken)
    bool yielding;  // SCHEDOP_yield: give the pCPU to the next queued vCPU at the next exit
    bool initialised;  // has a context (vCPU 0 from the builder, others from VCPUOP_initialise)
    sched::Entity sched;  // run state, pCPU and affinity (scheduler.hpp); under the scheduler lock
    unsigned last_loaded_cpu;  // + 1: the pCPU whose registers last held this vCPU's state (0: none)
    // Guest timers, absolute Xen system time in ns (0: off). [pv-abi.md §3.15]
    u64 singleshot_deadline;  // set_timer_op / VCPUOP_set_singleshot_timer
    u64 periodic_period;      // VCPUOP_set_periodic_timer
    u64 periodic_next;
    u64 poll_deadline;        // SCHEDOP_poll's timeout while blocked in poll
    u16 virq_port[24];        // per-vCPU VIRQ bindings (timer, debug, ...); 0 = unbound
    HypercallContinuation continuation;  // set by the hypercall that runs; consumed before it returns
    u64 gdt_frames[kMaxGdtFrames];  // set_gdt: mfns of GDT pages 0..gdt_frame_count-1 (segment-descriptor type)
    unsigned gdt_frame_count;
    // MMUEXT_SET_LDT (ldt.cpp): the guest's LDT by linear address; its frames are typed and mapped
    // lazily, on the first fault in the LDT window. ldt_frames[i]: mfn of page i, 0 = not yet.
    u64 ldt_base;
    u32 ldt_ents;
    u64 ldt_frames[kMaxLdtPages];
    // Virtual CPU state set by hypercalls and emulated instructions. [pv-abi.md §3.16, §3.22, §4.9]
    u8 iopl;          // virtual IOPL 0-3 (PHYSDEVOP_set_iopl; the iret hypercall with architectural_iopl)
    bool cr0_ts;      // virtual CR0.TS (fpu_taskswitch, CLTS, mov to %cr0)
    bool cr4_de;      // virtual CR4.DE (mov to %cr4): I/O breakpoints allowed, DR4/DR5 are #UD
    // The debug registers and the virtual CR2 are guest register contents: in VcpuPrivate.
    // asi vcpu-pt (arch/x86_64/src/asi_roots.cpp): the vCPU's own root tables, [0] kernel and
    // [1] user, shadowing kernel_cr3 / user_cr3; all 0 when the vCPU runs on the guest's L4s.
    u64 asi_root[2];
    u64 perdomain_l3;   // the L3 behind slot 260 of its roots (arch/perdomain_area.hpp)
    // The vCPU's page-table word window in slot 260 (arch/vcpu_pt_window.hpp): the L1 mapping it
    // (0: none) and the guest frame each of its 16 pages maps (kNoFrame: none).
    u64 pt_window_l1;
    u64 pt_window_mfn[kPtWindowPages];
    u64 asi_synced[2];  // the guest L4 each shadow currently mirrors (0: none)
    i32 asi_cpu;        // the pCPU whose windows slot 261 of the shadows maps (-1: none yet)
};

struct Domain {
    u16 id;
    DomainState state;
    u32 shutdown_reason;  // xen::ShutdownReason once state is Shutdown
    char name[32];
    u64 nr_pages;
    Mfn p2m_frames[kMaxP2mFrames];  // domain-pool frames (class PerDomain) holding pfn -> mfn
    Mfn shared_info;
    u64 vm_assist;  // bit n set: VMASST type n enabled (vm_assist hypercall)
    u64 perdomain_l3;  // the L3 its vCPUs share behind slot 260 without asi vcpu-pt (else 0)
    Vcpu vcpus[kMaxVcpus];
    unsigned vcpu_count;  // 1..kMaxVcpus; vcpus[0..vcpu_count) exist
    // Serialises the domain's page-type engine (mmu_update, mmuext_op, update_va_mapping, grant
    // and descriptor ops, VCPUOP_initialise) when its vCPUs run on several pCPUs at once.
    Spinlock mm_lock;
    // The guest's console line, its event-channel ports and global VIRQ bindings and the
    // VCPUOP_initialise buffer: in its private area (domain_private.hpp), not here in .bss.
    Mfn private_frames[kDomainPrivatePages];  // domain-pool frames, class PerDomain(id)
    // Event-channel buckets valid beyond the first (Xen's valid_evtchns): another domain's
    // bind_interdomain checks a port against it, so it is bookkeeping, not private state.
    u16 evtchn_valid_buckets;

    // ---- Grant table (grant_table.cpp): its frames are Guest-class frames of this domain
    // while shared with it, Hypervisor/PerDomain while held back (see grant_table.hpp). ----
    GrantTable grants;
};

// Here, not in domain_private.hpp: it needs a complete Vcpu.
inline DomainPrivateView::DomainPrivateView(Vcpu& running)
    : domain_(*running.domain), window_(domain_private_window(running)) {}

// Ends the domain: it never runs again. Prints one console line saying why when it crashed.
void domain_shutdown(Domain& domain, u32 reason);
void domain_crash(Domain& domain, const char* why);
// The domain of this boot with id `id` (whatever its state), or nullptr.
Domain* find_domain(u16 id);
// Guest console output: buffered per line (in the domain's private area), printed with a "(dN) "
// prefix, non-printables as '.'.
void domain_console_write(Domain& domain, const char* bytes, usize count);

}  // namespace hv::pv
