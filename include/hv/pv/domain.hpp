// SPDX-License-Identifier: MIT
// PV domains and vCPUs: what the hypervisor keeps about each guest.
#pragma once

#include "arch/trap_frame.hpp"
#include "hv/core/addr.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {

inline constexpr unsigned kMaxDomains = 8;
inline constexpr unsigned kP2mEntriesPerFrame = 512;
inline constexpr unsigned kMaxP2mFrames = 128;  // 256 MiB of guest memory per domain
inline constexpr u64 kMaxDomainPages = u64{kMaxP2mFrames} * kP2mEntriesPerFrame;
inline constexpr unsigned kMaxGdtFrames = 14;  // GDT pages below Xen's reserved page 14

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

struct Vcpu {
    Domain* domain;
    unsigned id;
    arch::TrapFrame regs;  // guest registers while the vCPU is not running
    u64 kernel_cr3;        // machine address of the guest kernel L4
    u64 user_cr3;          // 0 until NEW_USER_BASEPTR
    bool kernel_mode;
    TrapEntry traps[256];
    Callback callbacks[kCallbackSlots];  // indexed by CallbackType
    u64 kernel_ss;  // stack_switch: where bounces from user mode land
    u64 kernel_sp;
    u64 cr2;        // virtual CR2, as the last bounced #PF left it
    u64 gdt_frames[kMaxGdtFrames];  // set_gdt: mfns of GDT pages 0..gdt_frame_count-1 (segment-descriptor type)
    unsigned gdt_frame_count;
};

struct Domain {
    u16 id;
    DomainState state;
    u32 shutdown_reason;  // xen::ShutdownReason once state is Shutdown
    char name[32];
    u64 nr_pages;
    Mfn p2m_frames[kMaxP2mFrames];  // hypervisor-pool frames holding pfn -> mfn
    Mfn shared_info;
    char console_line[160];  // guest console output, flushed line by line with a "(dN) " prefix
    usize console_length;
    Vcpu vcpu0;
};

// Ends the domain: it never runs again. Prints one console line saying why when it crashed.
void domain_shutdown(Domain& domain, u32 reason);
void domain_crash(Domain& domain, const char* why);

}  // namespace hv::pv
