// SPDX-License-Identifier: MIT
// The boot report: what the hypervisor found and how its address space is laid out. The
// "mapped" column is measured by walking the live idle root, not taken from the layout table.
#include "arch/boot.hpp"
#include "arch/memory.hpp"
#include "arch/smp.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/console.hpp"
#include "hv/core/format.hpp"

namespace hv::arch {
namespace {

const char* class_name(IsolationClass isolation) {
    switch (isolation) {
        case IsolationClass::Global: return "global";
        case IsolationClass::PerCpu: return "per-pCPU";
        case IsolationClass::PerDomain: return "per-domain";
        case IsolationClass::PerVcpu: return "per-vCPU";
        case IsolationClass::Gap: return "-";
    }
    return "?";
}

// Prints a size with the largest binary unit that divides it exactly.
void format_size(char* out, usize capacity, u64 bytes) {
    const char* units[] = {"B", "K", "M", "G", "T"};
    unsigned unit = 0;
    while (unit < 4 && bytes >= 1024 && bytes % 1024 == 0) {
        bytes /= 1024;
        ++unit;
    }
    format(out, capacity, "%lu%s", bytes, units[unit]);
}

void report_memory(const boot::BootInfo& boot) {
    print("Memory map: %zu RAM ranges, %lu MiB usable, top of RAM 0x%lx\n", boot.ram.count(),
          boot.ram.total_bytes() / MiB, boot.ram_top);
    for (usize i = 0; i < boot.ram.count(); ++i)
        print("  RAM [0x%012lx, 0x%012lx) %lu KiB\n", boot.ram[i].start, boot.ram[i].end, boot.ram[i].size() / KiB);
    const MemorySummary& memory = memory_summary();
    print("Hypervisor pool: [0x%lx, 0x%lx) %lu MiB, %lu frames free; in the directmap\n",
          memory.hypervisor_pool.start, memory.hypervisor_pool.end, memory.hypervisor_pool.size() / MiB,
          frame_allocator().free_count(mm::Pool::Hypervisor));
    print("Domain pool: %lu MiB, %lu frames free; not in the directmap\n", memory.domain_pool_bytes / MiB,
          frame_allocator().free_count(mm::Pool::Domain));
    print("Frame table: %lu frames x %zu bytes at 0x%lx\n", memory.frame_count, sizeof(mm::FrameInfo),
          kFrameTableBase);
}

void report_modules(const boot::BootInfo& boot) {
    print("Modules: %zu\n", boot.module_count);
    for (usize i = 0; i < boot.module_count; ++i)
        print("  module %zu: [0x%lx, 0x%lx) %lu bytes '%s'\n", i, boot.modules[i].start, boot.modules[i].end,
              boot.modules[i].end - boot.modules[i].start, boot.modules[i].cmdline);
}

void report_cpus() {
    const CpuTopology& cpus = cpu_topology();
    print("pCPUs: %u online of %u used (%u in the MADT); APIC IDs:", cpus.online, cpus.count, cpus.found);
    for (unsigned i = 0; i < cpus.count; ++i) print(" %u", cpus.apic_id[i]);
    print("\n");
}

void report_layout() {
    u64 mapped[sizeof kLayout / sizeof kLayout[0]] = {};
    HvPageTable root(paging_env(), memory_summary().idle_root);
    root.for_each_leaf([&](Vaddr va, Maddr, mm::Level level, mm::Attrs) {
        for (usize i = 0; i < sizeof kLayout / sizeof kLayout[0]; ++i)
            if (va.raw() - kLayout[i].start < kLayout[i].size) mapped[i] += mm::level_size(level);
    });
    print("Virtual layout (L4 slots 256-271; mapped = measured in the idle root):\n");
    print("  slot  %-18s %-6s %-10s %-10s %-8s %s\n", "start", "size", "region", "class", "mapped", "contents");
    for (usize i = 0; i < sizeof kLayout / sizeof kLayout[0]; ++i) {
        const Region& r = kLayout[i];
        char size[16], used[16];
        format_size(size, sizeof size, r.size);
        format_size(used, sizeof used, mapped[i]);
        print("  %-4u  %016lx   %-6s %-10s %-10s %-8s %s\n", l4_slot_of(r.start), r.start, size, r.name,
              class_name(r.isolation), used, r.contents);
    }
    print("  linear_pt maps the page-table frames themselves (slot 258 is the root's self-map)\n");
}

}  // namespace

void report_boot(const boot::BootInfo& boot, const boot::HvOptions& options) {
    print("Command line: '%s'\n", boot.cmdline);
    report_cpus();
    report_memory(boot);
    report_modules(boot);
    (void)options;
    report_layout();
}

}  // namespace hv::arch
