// SPDX-License-Identifier: MIT
// pCPU records and application-processor bring-up (xAPIC INIT-SIPI-SIPI). [SDM 3A §10.6, §9.4.4]
//
// APs start one at a time: the boot CPU publishes the AP's index, CR3 and stack in the globals
// below, sends INIT-SIPI-SIPI, and waits (bounded) until the AP marks itself online.
#include "arch/asi.hpp"
#include "arch/boot.hpp"
#include "arch/cpu.hpp"
#include "arch/cpu_state.hpp"
#include "arch/descriptors.hpp"
#include "arch/lapic.hpp"
#include "arch/memory.hpp"
#include "arch/pv_run.hpp"
#include "arch/smp.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/console.hpp"

extern "C" {
extern char ap_trampoline_start[], ap_trampoline_end[], ap_trampoline_boot_cr3[];
void* memcpy(void*, const void*, hv::usize);
// Read by ap_entry_high (ap_trampoline.S) before the AP has a stack.
hv::u64 ap_boot_cr3_final;
hv::u64 ap_boot_stack_top;
}

namespace hv::arch {
namespace {

constexpr u64 kTrampolinePhys = 0x8000;  // SIPI vector 0x08
constexpr u32 kIcrInitAssert = 0x00004500, kIcrStartup = 0x00004600;
constexpr u64 kStartSpinLimit = 200'000'000;  // generous: TCG can be slow on a loaded host

CpuTopology topology{};
volatile u32 ap_starting_index;
volatile u32 ap_online_count;

void short_delay() {
    for (int i = 0; i < 10000; ++i) pause();
}

bool start_one(unsigned index) {
    ap_starting_index = index;
    ap_boot_cr3_final = cpu_idle_root(index).maddr().raw();
    // Room above for the TrapFrame a guest entry places at the stack top.
    ap_boot_stack_top = cpu_primary_stack_base(index) + kPrimaryStackSize - 512;
    const u32 before = ap_online_count;
    lapic_send_ipi(topology.apic_id[index], kIcrInitAssert);
    short_delay();
    for (int attempt = 0; attempt < 2; ++attempt) {
        lapic_send_ipi(topology.apic_id[index], kIcrStartup | static_cast<u32>(kTrampolinePhys >> 12));
        short_delay();
    }
    for (u64 spin = 0; spin < kStartSpinLimit; ++spin) {
        if (ap_online_count != before) return true;
        pause();
    }
    return false;
}

}  // namespace

static_assert(kIstCount == kIstStacks, "one TSS IST slot per IST stack");

void load_final_descriptors(unsigned cpu) {
    CpuStacks stacks{cpu_primary_stack_base(cpu) + kPrimaryStackSize, {}};
    for (unsigned i = 0; i < kIstCount; ++i) stacks.ist_top[i] = cpu_ist_stack_base(cpu, i) + kIstStackSize;
    const u64 gdt = cpu_gdt_base(cpu);
    load_cpu_descriptors(cpu, stacks, gdt, reinterpret_cast<u64*>(gdt + kGdtReservedPage * kPageSize));
}

unsigned current_cpu_index_from_apic() {
    const u8 apic_id = static_cast<u8>(cpuid(1).ebx >> 24);
    for (unsigned i = 0; i < topology.count; ++i)
        if (topology.apic_id[i] == apic_id) return i;
    return 0;
}

const CpuTopology& cpu_topology() { return topology; }

void wake_secondary_cpus() {
    for (unsigned i = 1; i < topology.online; ++i) lapic_send_fixed_ipi(topology.apic_id[i], kVectorWakeup);
}

void halt_until(volatile bool* flag) {
    // STI;HLT is atomic with respect to interrupts: a wakeup IPI sent after the check wakes the HLT.
    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) asm volatile("sti; hlt; cli" ::: "memory");
}

void record_cpus(const boot::CpuList& cpus, unsigned max_cpus) {
    const u8 boot_apic_id = static_cast<u8>(cpuid(1).ebx >> 24);
    topology.count = 1;
    topology.online = 1;
    topology.apic_id[0] = boot_apic_id;
    topology.lapic_maddr = cpus.lapic_maddr;
    for (unsigned i = 0; i < cpus.count && topology.count < max_cpus && topology.count < kMaxCpus; ++i)
        if (cpus.apic_id[i] != boot_apic_id && cpus.apic_id[i] < 256)
            topology.apic_id[topology.count++] = static_cast<u8>(cpus.apic_id[i]);
    topology.found = cpus.count;
}

void install_ap_trampoline() {
    const usize size = static_cast<usize>(ap_trampoline_end - ap_trampoline_start);
    auto* target = reinterpret_cast<char*>(kTrampolinePhys);  // boot identity map
    memcpy(target, ap_trampoline_start, size);
    const u32 boot_cr3 = static_cast<u32>(HV_ABSOLUTE_ADDRESS(boot_l4));  // .boot runs at its physical address
    memcpy(target + (ap_trampoline_boot_cr3 - ap_trampoline_start), &boot_cr3, sizeof boot_cr3);
}

void start_secondary_cpus() {
    lapic_map(Maddr(topology.lapic_maddr));
    lapic_enable();
    if (topology.count == 1) return;
    for (unsigned index = 1; index < topology.count; ++index) {
        if (start_one(index)) {
            ++topology.online;
        } else {
            print("isola: pCPU %u (APIC id %u) did not start\n", index, topology.apic_id[index]);
        }
    }
}

}  // namespace hv::arch

extern "C" [[noreturn]] void ap_main() {
    using namespace hv::arch;
    const unsigned index = ap_starting_index;
    write_cr4(read_cr4() | (1u << 7));  // CR4.PGE, as on the boot CPU
    load_final_descriptors(index);
    init_cpu_control();
    syscall_init_cpu(index);
    lapic_enable();
    __atomic_fetch_add(&ap_online_count, 1, __ATOMIC_RELEASE);
    run_domains_on_ap();
}
