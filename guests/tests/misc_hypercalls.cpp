// SPDX-License-Identifier: MIT
// The small hypercalls: vm_assist, fpu_taskswitch (and CR0.TS through CLTS, mov to %cr0 and #NM),
// set/get_debugreg (and mov %drN), set_segment_base (read back through %fs:/%gs: loads in kernel
// and user mode), memory_op subops and xen_version subops, each with its error paths.
// [pv-abi §3.11, §3.12, §3.17, §3.22]
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "misc_hypercalls: vm_assist, fpu_taskswitch, debugreg, segment bases, memory_op, xen_version";

namespace {

constexpr u64 kXenArea = 0xffff830000000000;
constexpr u64 kNonCanonical = 0x0000800000000000;
constexpr u64 kUnmapped = 0x40000000;
constexpr u64 kCr0Ts = 8;

void expect_hex(const char* what, u64 actual, u64 expected) {
    if (actual != expected) fail("%s: got 0x%lx, expected 0x%lx\n", what, actual, expected);
}

// ---- vm_assist ----

void vm_assist() {
    static constexpr unsigned kValid[] = {0, 1, 2, 3, 4, 5, 32};
    for (unsigned type : kValid) {
        expect_eq("vm_assist enable valid type", hypercall(xen::kVmAssist, xen::kVmAsstCmdEnable, type), 0);
        expect_eq("vm_assist disable valid type", hypercall(xen::kVmAssist, xen::kVmAsstCmdDisable, type), 0);
    }
    static constexpr u64 kInvalid[] = {6, 7, 31, 33, 63, 64, 0xffffffff};
    for (u64 type : kInvalid) {
        expect_eq("vm_assist enable invalid type", hypercall(xen::kVmAssist, xen::kVmAsstCmdEnable, type), -xen::kEINVAL);
        expect_eq("vm_assist disable invalid type", hypercall(xen::kVmAssist, xen::kVmAsstCmdDisable, type), -xen::kEINVAL);
    }
    // The type is checked first; then an unknown command is -ENOSYS. Only the low 32 bits count.
    expect_eq("vm_assist command 2, valid type", hypercall(xen::kVmAssist, 2, 4), -xen::kENOSYS);
    expect_eq("vm_assist command 2, invalid type", hypercall(xen::kVmAssist, 2, 40), -xen::kEINVAL);
    expect_eq("vm_assist command 2^32 (enable)", hypercall(xen::kVmAssist, u64{1} << 32, 5), 0);
    expect_eq("vm_assist type 2^32+5 (5)", hypercall(xen::kVmAssist, xen::kVmAsstCmdDisable, (u64{1} << 32) | 5), 0);
}

// ---- fpu_taskswitch and CR0.TS ----

u64 read_cr0() {
    u64 value;
    asm volatile("mov %%cr0, %0" : "=r"(value));
    return value;
}

// Runs an x87 no-op; true when it raised #NM (vector 7) instead.
bool fnop_faults() {
    clear_last_exception();
    asm volatile("1: fnop\n2:\n" GUEST_EXTABLE(1b, 2b) ::: "memory");
    if (last_exception.seen && last_exception.frame.vector != 7)
        fail("fnop: vector %lu, expected #NM\n", last_exception.frame.vector);
    return last_exception.seen;
}

void fpu_taskswitch() {
    const u64 cr0 = read_cr0();
    print("  CR0 at start: 0x%lx\n", cr0);
    expect_hex("CR0.TS at start", cr0 & kCr0Ts, 0);
    if (fnop_faults()) fail("fnop with TS clear faulted\n");

    expect_eq("fpu_taskswitch(1)", hypercall(xen::kFpuTaskswitch, 1), 0);
    expect_hex("CR0.TS after fpu_taskswitch(1)", read_cr0() & kCr0Ts, kCr0Ts);
    if (!fnop_faults()) fail("fnop with TS set did not raise #NM\n");
    // Delivering the #NM clears the virtual TS, so the retried instruction runs.
    expect_hex("CR0.TS after #NM", read_cr0() & kCr0Ts, 0);
    if (fnop_faults()) fail("fnop after the #NM faulted again\n");

    expect_eq("fpu_taskswitch(1)", hypercall(xen::kFpuTaskswitch, 1), 0);
    expect_eq("fpu_taskswitch(0)", hypercall(xen::kFpuTaskswitch, 0), 0);
    expect_hex("CR0.TS after fpu_taskswitch(0)", read_cr0() & kCr0Ts, 0);
    expect_eq("fpu_taskswitch(2^32): low 32 bits 0 = clear", hypercall(xen::kFpuTaskswitch, 1), 0);
    expect_eq("fpu_taskswitch(2^32)", hypercall(xen::kFpuTaskswitch, u64{1} << 32), 0);
    expect_hex("CR0.TS after fpu_taskswitch(2^32)", read_cr0() & kCr0Ts, 0);
    if (fnop_faults()) fail("fnop after fpu_taskswitch(0) faulted\n");

    // CLTS and mov to %cr0 (TS only) are the same switch.
    expect_eq("fpu_taskswitch(1)", hypercall(xen::kFpuTaskswitch, 1), 0);
    asm volatile("clts" ::: "memory");
    expect_hex("CR0.TS after clts", read_cr0() & kCr0Ts, 0);
    asm volatile("mov %0, %%cr0" ::"r"(read_cr0() | kCr0Ts) : "memory");
    expect_hex("CR0.TS after mov to cr0", read_cr0() & kCr0Ts, kCr0Ts);
    asm volatile("mov %0, %%cr0" ::"r"(read_cr0() & ~kCr0Ts) : "memory");
    expect_hex("CR0.TS after mov to cr0 (clear)", read_cr0() & kCr0Ts, 0);
    // Any other CR0 change is #GP(0).
    clear_last_exception();
    const u64 bad = read_cr0() ^ (1u << 16);  // WP
    asm volatile("1: mov %0, %%cr0\n2:\n" GUEST_EXTABLE(1b, 2b) ::"r"(bad) : "memory");
    if (!last_exception.seen || last_exception.frame.vector != 13 || last_exception.frame.error_code != 0)
        fail("mov to cr0 changing WP: expected #GP(0)\n");
    expect_hex("CR0 unchanged after the refused write", read_cr0(), cr0);
}

// ---- debug registers ----

long set_dr(u64 reg, u64 value) { return hypercall(xen::kSetDebugreg, reg, value); }
long get_dr(u64 reg) { return hypercall(xen::kGetDebugreg, reg); }

void debug_registers() {
    for (unsigned reg = 0; reg < 4; ++reg) expect_hex("initial DR0-3", get_dr(reg), 0);
    expect_hex("initial DR6", get_dr(6), xen::kDr6Default);
    expect_hex("initial DR7", get_dr(7), xen::kDr7Default);
    expect_hex("DR4 aliases DR6", get_dr(4), 0xffff0ff0);
    expect_hex("DR5 aliases DR7", get_dr(5), 0x400);
    expect_eq("get DR8", get_dr(8), -xen::kENODEV);
    expect_eq("get DR -1", get_dr(0xffffffff), -xen::kENODEV);

    expect_eq("set DR0 = top of the lower half", set_dr(0, 0x7ffffffff000), 0);
    expect_hex("DR0 read back", get_dr(0), 0x7ffffffff000);
    expect_eq("set DR1 = 0xffff880000000000", set_dr(1, 0xffff880000000000), 0);
    expect_hex("DR1 read back", get_dr(1), 0xffff880000000000);
    expect_eq("set DR3 = ~0", set_dr(3, ~u64{0}), 0);
    expect_eq("set DR0 in Xen's area (xsa-444)", set_dr(0, 0xffff82d080000000), -xen::kEPERM);
    expect_eq("set DR2 at Xen's area start", set_dr(2, 0xffff800000000000), -xen::kEPERM);
    expect_eq("set DR2 non-canonical", set_dr(2, kNonCanonical), -xen::kEPERM);
    expect_hex("DR0 unchanged after refusals", get_dr(0), 0x7ffffffff000);
    // Only the low 32 bits of the register number count: 2^32 + 2 is DR2.
    expect_eq("set DR 2^32+2", set_dr((u64{1} << 32) | 2, 0x2000), 0);
    expect_hex("DR2 after set DR 2^32+2", get_dr(2), 0x2000);
    expect_hex("get DR 2^32+2", get_dr((u64{1} << 32) | 2), 0x2000);

    expect_eq("set DR6 = 0", set_dr(6, 0), 0);
    expect_hex("DR6 reserved bits forced", get_dr(6), 0xffff0ff0);
    expect_eq("set DR6 = BS|B0|bit 12", set_dr(6, 0x5001), 0);
    expect_hex("DR6 = BS|B0", get_dr(6), 0xffff4ff1);
    expect_eq("set DR6 upper half", set_dr(6, u64{1} << 32), -xen::kEINVAL);
    expect_eq("set DR4 (alias)", set_dr(4, 0), 0);
    expect_hex("DR6 after set DR4", get_dr(6), 0xffff0ff0);

    expect_eq("set DR7 = 0", set_dr(7, 0), 0);
    expect_hex("DR7 reserved bits forced", get_dr(7), 0x400);
    expect_eq("set DR7 GD", set_dr(7, 0x2000), -xen::kEPERM);
    expect_eq("set DR7 upper half", set_dr(7, u64{1} << 32), -xen::kEINVAL);
    expect_eq("set DR7 enabled I/O breakpoint", set_dr(7, 0x20001), -xen::kEPERM);
    expect_hex("DR7 unchanged after refusals", get_dr(7), 0x400);
    expect_eq("set DR7 disabled I/O breakpoint", set_dr(7, 0x20000), 0);
    expect_hex("DR7 keeps the disabled I/O breakpoint", get_dr(7), 0x20400);
    expect_eq("set DR7 reserved-zero bits", set_dr(7, 0xd800), 0);
    expect_hex("DR7 reserved-zero bits cleared", get_dr(7), 0x400);
    // L0 with DR0 on a never-executed address (Xen loads it into hardware; harmless).
    expect_eq("set DR7 L0", set_dr(7, 0x1), 0);
    expect_hex("DR7 L0", get_dr(7), 0x401);
    expect_eq("set DR5 (alias) = 0", set_dr(5, 0), 0);
    expect_hex("DR7 after set DR5", get_dr(7), 0x400);
    expect_eq("set DR8", set_dr(8, 0), -xen::kENODEV);
    expect_eq("set DR -1", set_dr(0xffffffff, 0), -xen::kENODEV);

    // mov %drN in kernel mode goes through the same rules.
    u64 value = 0x123456;
    asm volatile("mov %0, %%dr1" ::"r"(value) : "memory");
    expect_hex("get DR1 after mov to dr1", get_dr(1), 0x123456);
    asm volatile("mov %%dr1, %0" : "=r"(value));
    expect_hex("mov from dr1", value, 0x123456);
    asm volatile("mov %%dr6, %0" : "=r"(value));
    expect_hex("mov from dr6", value, 0xffff0ff0);
    asm volatile("mov %%dr7, %0" : "=r"(value));
    expect_hex("mov from dr7", value, 0x400);
    clear_last_exception();
    asm volatile("1: mov %0, %%dr7\n2:\n" GUEST_EXTABLE(1b, 2b) ::"r"(u64{0x2000}) : "memory");
    if (!last_exception.seen || last_exception.frame.vector != 13 || last_exception.frame.error_code != 0)
        fail("mov GD to dr7: expected #GP(0)\n");
    clear_last_exception();
    asm volatile("1: mov %0, %%dr0\n2:\n" GUEST_EXTABLE(1b, 2b) ::"r"(u64{0xffff82d080000000}) : "memory");
    if (!last_exception.seen || last_exception.frame.vector != 13) fail("mov Xen address to dr0: expected #GP(0)\n");
    clear_last_exception();
    asm volatile("1: .byte 0x44, 0x0f, 0x21, 0xc0\n2:\n" GUEST_EXTABLE(1b, 2b) ::: "rax", "memory");  // mov %dr8, %rax
    if (!last_exception.seen || last_exception.frame.vector != 6)
        fail("mov from dr8: expected #UD, got %lu\n", last_exception.frame.vector);
    expect_eq("set DR1 = 0", set_dr(1, 0), 0);
    expect_eq("set DR0 = 0", set_dr(0, 0), 0);
    expect_eq("set DR2 = 0", set_dr(2, 0), 0);
    expect_eq("set DR3 = 0", set_dr(3, 0), 0);

    // In user mode mov %drN is privileged: #GP(0).
    const long user = exec_user([]() -> long {
        u64 v = 0;
        clear_last_exception();
        asm volatile("1: mov %%dr0, %0\n2:\n" GUEST_EXTABLE(1b, 2b) : "+r"(v)::"memory");
        return last_exception.seen ? static_cast<long>(last_exception.frame.vector) : -1;
    });
    expect_eq("user mov from dr0: vector", user, 13);
}

// ---- segment bases ----

alignas(4096) u64 fs_page[512];
alignas(4096) u64 gs_kernel_page[512];
alignas(4096) u64 gs_user_page[512];
u64 absolute_word;  // read through a base-0 %gs

long set_base(u64 which, u64 base) { return hypercall(xen::kSetSegmentBase, which, base); }
u64 fs_word() {
    u64 v;
    asm volatile("mov %%fs:8, %0" : "=r"(v));
    return v;
}
u64 gs_word() {
    u64 v;
    asm volatile("mov %%gs:8, %0" : "=r"(v));
    return v;
}
u16 gs_selector() {
    u16 v;
    asm volatile("mov %%gs, %0" : "=r"(v));
    return v;
}

long user_gs_word() { return static_cast<long>(gs_word()); }
long user_gs_selector() { return gs_selector(); }
long user_gs_absolute() {
    u64 v;
    asm volatile("mov %%gs:(%1), %0" : "=r"(v) : "r"(&absolute_word));
    return static_cast<long>(v);
}

void segment_bases() {
    fs_page[1] = 0xf5f5;
    gs_kernel_page[1] = 0x6565;
    gs_user_page[1] = 0x3333;
    absolute_word = 0xab5;
    expect_eq("set FS base", set_base(xen::kSegbaseFs, reinterpret_cast<u64>(fs_page)), 0);
    expect_hex("%fs:8", fs_word(), 0xf5f5);
    expect_eq("set GS kernel base", set_base(xen::kSegbaseGsKernel, reinterpret_cast<u64>(gs_kernel_page)), 0);
    expect_hex("%gs:8 in kernel mode", gs_word(), 0x6565);
    expect_eq("set GS user base", set_base(xen::kSegbaseGsUser, reinterpret_cast<u64>(gs_user_page)), 0);
    expect_hex("%gs:8 in kernel mode after setting the user base", gs_word(), 0x6565);
    expect_hex("%gs:8 in user mode", exec_user(user_gs_word), 0x3333);
    expect_hex("%gs:8 in kernel mode after user mode", gs_word(), 0x6565);

    expect_eq("set FS base non-canonical", set_base(xen::kSegbaseFs, kNonCanonical), -xen::kEINVAL);
    expect_eq("set GS user base non-canonical", set_base(xen::kSegbaseGsUser, 0x8000000000000000), -xen::kEINVAL);
    expect_eq("set GS kernel base non-canonical", set_base(xen::kSegbaseGsKernel, 0xffff7fffffffffff), -xen::kEINVAL);
    expect_hex("%fs:8 after the refusal", fs_word(), 0xf5f5);
    expect_eq("set segment base 4", set_base(4, 0), -xen::kEINVAL);
    expect_eq("set segment base ~0", set_base(0xffffffff, 0), -xen::kEINVAL);
    // Only the low 32 bits of `which` count: 2^32 is SEGBASE_FS.
    expect_eq("set segment base 2^32 (FS)", set_base(u64{1} << 32, reinterpret_cast<u64>(gs_user_page)), 0);
    expect_hex("%fs:8 after which = 2^32", fs_word(), 0x3333);

    // GS_USER_SEL: the user GS gets the flat selector (base 0); the kernel base stays.
    expect_eq("GS_USER_SEL 0xe02b", set_base(xen::kSegbaseGsUserSel, 0xe02b), 0);
    expect_hex("user %gs selector", exec_user(user_gs_selector), 0xe02b);
    expect_hex("user %gs base 0", exec_user(user_gs_absolute), 0xab5);
    expect_hex("%gs:8 in kernel mode after GS_USER_SEL", gs_word(), 0x6565);
    // RPL is forced to 3.
    expect_eq("GS_USER_SEL 0xe028", set_base(xen::kSegbaseGsUserSel, 0xe028), 0);
    expect_hex("user %gs selector (RPL 3)", exec_user(user_gs_selector), 0xe02b);
    // A selector that cannot be loaded leaves the null selector; no error is reported.
    expect_eq("GS_USER_SEL empty GDT slot", set_base(xen::kSegbaseGsUserSel, 0x1233), 0);
    expect_hex("user %gs after an empty slot", exec_user(user_gs_selector), 0);
    expect_eq("GS_USER_SEL code selector 0xe008", set_base(xen::kSegbaseGsUserSel, 0xe008), 0);
    expect_hex("user %gs after Xen's own code selector", exec_user(user_gs_selector), 0);
    expect_eq("GS_USER_SEL LDT selector", set_base(xen::kSegbaseGsUserSel, 0x000f), 0);
    expect_hex("user %gs after an LDT selector", exec_user(user_gs_selector), 0);
    expect_eq("GS_USER_SEL beyond the GDT", set_base(xen::kSegbaseGsUserSel, 0xfff3), 0);
    expect_hex("user %gs after a selector beyond the GDT", exec_user(user_gs_selector), 0);
    expect_hex("%gs:8 in kernel mode at the end", gs_word(), 0x6565);

    expect_eq("reset FS base", set_base(xen::kSegbaseFs, 0), 0);
    expect_eq("reset GS kernel base", set_base(xen::kSegbaseGsKernel, 0), 0);
    expect_eq("reset GS user base", set_base(xen::kSegbaseGsUser, 0), 0);
}

// ---- memory_op ----

long memory_op(u64 command, const void* argument) { return hypercall(xen::kMemoryOp, command, reinterpret_cast<u64>(argument)); }
long memory_op(u64 command, u64 argument) { return hypercall(xen::kMemoryOp, command, argument); }

u64 highest_mfn() {
    const u64* p2m = reinterpret_cast<const u64*>(start_info->mfn_list);
    u64 highest = 0;
    for (u64 pfn = 0; pfn < start_info->nr_pages; ++pfn)
        if (p2m[pfn] > highest) highest = p2m[pfn];
    return highest;
}

void memory_queries(volatile xen::SharedInfo* shared) {
    const long max_page = memory_op(xen::kXenmemMaximumRamPage, u64{0});
    print("  maximum_ram_page 0x%lx\n", max_page);
    if (max_page <= static_cast<long>(highest_mfn())) fail("maximum_ram_page 0x%lx <= highest mfn 0x%lx\n", max_page, highest_mfn());
    expect_eq("maximum_ram_page with a start extent", memory_op(xen::kXenmemMaximumRamPage | (1 << 6), u64{0}), -xen::kEINVAL);

    const u16 self = xen::kDomidSelf, nobody = 0x7fef;
    const long current = memory_op(xen::kXenmemCurrentReservation, &self);
    const long maximum = memory_op(xen::kXenmemMaximumReservation, &self);
    print("  current_reservation %ld, maximum_reservation %ld, nr_pages %lu\n", current, maximum, start_info->nr_pages);
    expect_eq("current_reservation", current, static_cast<long>(start_info->nr_pages));
    if (maximum < current) fail("maximum_reservation %ld < current %ld\n", maximum, current);
    expect_eq("current_reservation, unknown domain", memory_op(xen::kXenmemCurrentReservation, &nobody), -xen::kESRCH);
    expect_eq("maximum_reservation, unknown domain", memory_op(xen::kXenmemMaximumReservation, &nobody), -xen::kESRCH);
    expect_eq("current_reservation, unmapped argument", memory_op(xen::kXenmemCurrentReservation, kUnmapped), -xen::kEFAULT);
    expect_eq("maximum_reservation, argument in Xen's area", memory_op(xen::kXenmemMaximumReservation, kXenArea),
              -xen::kEFAULT);
    expect_eq("current_reservation with a start extent", memory_op(xen::kXenmemCurrentReservation | (5 << 6), &self),
              -xen::kEINVAL);

    if (shared != nullptr) {
        const u64 saved = shared->max_pfn;
        print("  shared_info max_pfn at start: 0x%lx; maximum_gpfn 0x%lx\n", saved, memory_op(xen::kXenmemMaximumGpfn, &self));
        shared->max_pfn = 0x1234;
        expect_eq("maximum_gpfn with max_pfn 0x1234", memory_op(xen::kXenmemMaximumGpfn, &self), 0x1233);
        shared->max_pfn = 0;
        expect_eq("maximum_gpfn with max_pfn 0", memory_op(xen::kXenmemMaximumGpfn, &self), 0);
        shared->max_pfn = saved;
    }
    expect_eq("maximum_gpfn, unknown domain", memory_op(xen::kXenmemMaximumGpfn, &nobody), -xen::kESRCH);

    xen::MachphysMapping mapping{};
    expect_eq("machphys_mapping", memory_op(xen::kXenmemMachphysMapping, &mapping), 0);
    expect_hex("machphys_mapping v_start", mapping.v_start, 0xffff800000000000);
    expect_hex("machphys_mapping v_end", mapping.v_end, 0xffff804000000000);
    print("  machphys_mapping max_mfn 0x%lx\n", mapping.max_mfn);
    if (mapping.max_mfn < highest_mfn()) fail("machphys_mapping max_mfn below the highest mfn\n");
    expect_eq("machphys_mapping into Xen's area", memory_op(xen::kXenmemMachphysMapping, kXenArea), -xen::kEFAULT);
    expect_eq("machphys_mapping with a start extent", memory_op(xen::kXenmemMachphysMapping | (1 << 6), &mapping),
              -xen::kENOSYS);

    xen::MemoryMap map{4, 0, reinterpret_cast<u64>(fs_page)};
    print("  memory_map: %ld\n", memory_op(xen::kXenmemMemoryMap, &map));
    expect_eq("memory_map, unmapped argument", memory_op(xen::kXenmemMemoryMap, kUnmapped), -xen::kEFAULT);
    expect_eq("memory_op 63", memory_op(63, u64{0}), -xen::kENOSYS);
    expect_eq("memory_op 8 (translate_gpfn_list, removed)", memory_op(8, u64{0}), -xen::kENOSYS);
}

void memory_reservations() {
    xen::MemoryReservation none{0, 0, 0, 0, xen::kDomidSelf};
    expect_eq("increase_reservation of 0 extents", memory_op(xen::kXenmemIncreaseReservation, &none), 0);
    expect_eq("decrease_reservation of 0 extents", memory_op(xen::kXenmemDecreaseReservation, &none), 0);
    expect_eq("populate_physmap of 0 extents", memory_op(xen::kXenmemPopulatePhysmap, &none), 0);
    expect_eq("increase_reservation, unmapped argument", memory_op(xen::kXenmemIncreaseReservation, kUnmapped), 0);
    expect_eq("decrease_reservation, start extent 3, unmapped argument",
              memory_op(xen::kXenmemDecreaseReservation | (3 << 6), kUnmapped), 3);
    // xsa-231: node values 0-255 must be handled safely.
    xen::MemoryReservation node{0, 1, 0, 0xfe00, xen::kDomidSelf};
    print("  increase_reservation with node 253: %ld\n", memory_op(xen::kXenmemIncreaseReservation, &node));
    xen::MemoryReservation unknown{0, 1, 0, 0, 0x7fef};
    expect_eq("increase_reservation, unknown domain", memory_op(xen::kXenmemIncreaseReservation, &unknown), 0);
}

void memory_exchange() {
    u64 in_list[2] = {pfn_to_mfn(0x100), 0};
    u64 out_list[2] = {};
    const auto reservation = [](const u64* list, u64 count, u32 order) {
        return xen::MemoryReservation{reinterpret_cast<u64>(list), count, order, 0, xen::kDomidSelf};
    };
    xen::MemoryExchange exchange{reservation(in_list, 1, 0), reservation(out_list, 1, 0), 0};
    expect_eq("exchange, unmapped argument", memory_op(xen::kXenmemExchange, kUnmapped), -xen::kEFAULT);
    expect_eq("exchange with a start extent", memory_op(xen::kXenmemExchange | (1 << 6), &exchange), -xen::kEINVAL);
    xen::MemoryExchange big = exchange;
    big.in.extent_order = big.out.extent_order = 20;
    expect_eq("exchange of order 20", memory_op(xen::kXenmemExchange, &big), -xen::kEPERM);
    xen::MemoryExchange mismatch = exchange;
    mismatch.out.domid = 0x7fef;
    expect_eq("exchange, domids differ", memory_op(xen::kXenmemExchange, &mismatch), -xen::kEINVAL);
    xen::MemoryExchange sizes = exchange;
    sizes.out.nr_extents = 2;
    expect_eq("exchange, sizes differ", memory_op(xen::kXenmemExchange, &sizes), -xen::kEINVAL);
    xen::MemoryExchange ahead = exchange;
    ahead.nr_exchanged = 2;
    expect_eq("exchange, nr_exchanged past the end", memory_op(xen::kXenmemExchange, &ahead), -xen::kEINVAL);
    // xsa-212: the element the exchange would touch lies in Xen's area.
    xen::MemoryExchange xsa212 = exchange;
    xsa212.in.nr_extents = xsa212.out.nr_extents = (kXenArea >> 3) + 1;
    xsa212.nr_exchanged = kXenArea >> 3;
    xsa212.in.extent_start = reinterpret_cast<u64>(in_list) - (kXenArea & ~u64{7});
    xsa212.out.extent_start = 0;
    expect_eq("exchange into Xen's area (xsa-212)", memory_op(xen::kXenmemExchange, &xsa212), -xen::kEFAULT);
    xen::MemoryExchange unknown = exchange;
    unknown.in.domid = unknown.out.domid = 0x7fef;
    expect_eq("exchange, unknown domain", memory_op(xen::kXenmemExchange, &unknown), -xen::kESRCH);
    xen::MemoryExchange done = exchange;
    done.in.nr_extents = done.out.nr_extents = 0;
    expect_eq("exchange of nothing", memory_op(xen::kXenmemExchange, &done), 0);
}

void add_to_physmap() {
    xen::AddToPhysmap request{xen::kDomidSelf, 0, 0, 0, 0x5000};
    print("  add_to_physmap shared_info: %ld\n", memory_op(xen::kXenmemAddToPhysmap, &request));
    request.space = xen::kXenmapspaceGmfnForeign;
    expect_eq("add_to_physmap gmfn_foreign", memory_op(xen::kXenmemAddToPhysmap, &request), -xen::kENOSYS);
    request.space = 0;
    request.domid = 0x7fef;
    expect_eq("add_to_physmap, unknown domain", memory_op(xen::kXenmemAddToPhysmap, &request), -xen::kESRCH);
    expect_eq("add_to_physmap, unmapped argument", memory_op(xen::kXenmemAddToPhysmap, kUnmapped), -xen::kEFAULT);
    expect_eq("add_to_physmap, start extent 2^16", memory_op(xen::kXenmemAddToPhysmap | (u64{1} << (16 + 6)), &request),
              -xen::kEDOM);
}

// ---- xen_version ----

long xen_version(u64 command, const void* buffer) { return hypercall(xen::kXenVersion, command, reinterpret_cast<u64>(buffer)); }

// Every byte after the first NUL must be zero (xsa-122).
void expect_padded(const char* what, const char* text, unsigned size) {
    unsigned i = 0;
    while (i < size && text[i] != 0) ++i;
    if (i == size) return fail("%s: no NUL in %u bytes\n", what, size);
    for (; i < size; ++i)
        if (text[i] != 0) return fail("%s: byte %u after the NUL is 0x%x\n", what, i, text[i] & 0xff);
}

char big_buffer[1024];

void xen_version_subops() {
    xen::XenCompileInfo info;
    for (char& c : info.compiler) c = 'x';
    expect_eq("compile_info", xen_version(xen::kXenVersionCompileInfo, &info), 0);
    expect_padded("compile_info.compiler", info.compiler, sizeof info.compiler);
    expect_padded("compile_info.compile_by", info.compile_by, sizeof info.compile_by);
    expect_padded("compile_info.compile_domain", info.compile_domain, sizeof info.compile_domain);
    expect_padded("compile_info.compile_date", info.compile_date, sizeof info.compile_date);
    print("  compiler '%s' by '%s'\n", info.compiler, info.compile_by);

    for (char& c : big_buffer) c = 'x';
    expect_eq("capabilities", xen_version(xen::kXenVersionCapabilities, big_buffer), 0);
    expect_padded("capabilities", big_buffer, sizeof big_buffer);
    print("  capabilities '%s'\n", big_buffer);
    const char kCaps[] = "xen-3.0-x86_64";
    for (unsigned i = 0; i + 1 < sizeof kCaps; ++i)
        if (big_buffer[i] != kCaps[i]) fail("capabilities do not start with %s\n", kCaps);

    char changeset[64];
    for (char& c : changeset) c = 'x';
    expect_eq("changeset", xen_version(xen::kXenVersionChangeset, changeset), 0);
    expect_padded("changeset", changeset, sizeof changeset);

    u64 virt_start = 0;
    expect_eq("platform_parameters", xen_version(xen::kXenVersionPlatformParameters, &virt_start), 0);
    expect_hex("platform_parameters virt_start", virt_start, 0xffff800000000000);

    xen::XenFeatureInfo features{0, 0xffffffff};
    expect_eq("get_features 0", xen_version(xen::kXenVersionGetFeatures, &features), 0);
    print("  features[0] 0x%x\n", features.submap);
    if (features.submap & ((1u << xen::kXenFeatWritablePageTables) | (1u << xen::kXenFeatAutoTranslatedPhysmap)))
        fail("features: a PV guest has neither writable page tables nor auto-translation\n");
    if (!(features.submap & (1u << xen::kXenFeatMmuPtUpdatePreserveAd))) fail("features: preserve_ad missing\n");
    xen::XenFeatureInfo features1{1, 0};
    expect_eq("get_features 1", xen_version(xen::kXenVersionGetFeatures, &features1), -xen::kEINVAL);
    expect_eq("get_features, unmapped", hypercall(xen::kXenVersion, xen::kXenVersionGetFeatures, kUnmapped), -xen::kEFAULT);

    expect_eq("pagesize", xen_version(xen::kXenVersionPagesize, nullptr), 4096);
    expect_eq("pagesize with a buffer", xen_version(xen::kXenVersionPagesize, big_buffer), -xen::kEINVAL);
    u8 handle[16];
    for (u8& b : handle) b = 0xff;
    expect_eq("guest_handle", xen_version(xen::kXenVersionGuestHandle, handle), 0);
    for (char& c : big_buffer) c = 'x';
    expect_eq("commandline", xen_version(xen::kXenVersionCommandline, big_buffer), 0);
    unsigned length = 0;
    while (length < sizeof big_buffer && big_buffer[length] != 0) ++length;
    if (length == sizeof big_buffer) fail("commandline: no NUL\n");

    expect_eq("xen_version 11", xen_version(11, nullptr), -xen::kENOSYS);
    expect_eq("xen_version 0x7fffffff", xen_version(0x7fffffff, nullptr), -xen::kENOSYS);
    expect_eq("xen_version 2^32 (version)", xen_version(u64{1} << 32, nullptr), hypercall(xen::kXenVersion, 0));
    static constexpr unsigned kWriters[] = {xen::kXenVersionExtraversion, xen::kXenVersionCompileInfo,
                                            xen::kXenVersionCapabilities, xen::kXenVersionChangeset,
                                            xen::kXenVersionPlatformParameters, xen::kXenVersionGuestHandle,
                                            xen::kXenVersionCommandline};
    for (unsigned command : kWriters) {
        if (hypercall(xen::kXenVersion, command, kXenArea) != -xen::kEFAULT)
            fail("xen_version %u into Xen's area: not -EFAULT\n", command);
        if (hypercall(xen::kXenVersion, command, kUnmapped) != -xen::kEFAULT)
            fail("xen_version %u unmapped: not -EFAULT\n", command);
    }
}

// ---- physdev_op ----

void physdev() {
    xen::PhysdevSetIopl iopl{4};
    expect_eq("set_iopl 4", hypercall(xen::kPhysdevOp, xen::kPhysdevOpSetIopl, reinterpret_cast<u64>(&iopl)), -xen::kEINVAL);
    iopl.iopl = 0xffffffff;
    expect_eq("set_iopl ~0", hypercall(xen::kPhysdevOp, xen::kPhysdevOpSetIopl, reinterpret_cast<u64>(&iopl)), -xen::kEINVAL);
    expect_eq("set_iopl, unmapped", hypercall(xen::kPhysdevOp, xen::kPhysdevOpSetIopl, kUnmapped), -xen::kEFAULT);
    iopl.iopl = 1;
    expect_eq("set_iopl 1", hypercall(xen::kPhysdevOp, xen::kPhysdevOpSetIopl, reinterpret_cast<u64>(&iopl)), 0);
    expect_eq("physdev_op 0x7fff", hypercall(xen::kPhysdevOp, 0x7fff, 0), -xen::kENOSYS);
}

}  // namespace

void test_main() {
    if (!setup_traps()) return;
    volatile xen::SharedInfo* shared = map_shared_info();
    vm_assist();
    fpu_taskswitch();
    debug_registers();
    segment_bases();
    memory_queries(shared);
    memory_reservations();
    memory_exchange();
    add_to_physmap();
    xen_version_subops();
    physdev();
    // Left set on purpose: the next domain on this pCPU must start all the same (system test
    // two_domains_fpu_ts).
    expect_eq("fpu_taskswitch(1) at the end", hypercall(xen::kFpuTaskswitch, 1), 0);
}

}  // namespace guest
