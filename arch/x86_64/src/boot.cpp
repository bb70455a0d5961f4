// SPDX-License-Identifier: MIT
// The boot CPU's path from the multiboot entry to a running hypervisor, in order.
#include "arch/boot.hpp"

#include "arch/asi.hpp"
#include "arch/audit_run.hpp"

#include "arch/cpu.hpp"
#include "arch/cpu_state.hpp"
#include "arch/descriptors.hpp"
#include "arch/legacy_pic.hpp"
#include "arch/memory.hpp"
#include "arch/pcid.hpp"
#include "arch/pv_run.hpp"
#include "arch/serial.hpp"
#include "arch/smp.hpp"
#include "arch/time.hpp"
#include "arch/va_layout.hpp"
#include "hv/boot/acpi.hpp"
#include "hv/boot/multiboot.hpp"
#include "hv/boot/options.hpp"
#include "hv/core/console.hpp"
#include "hv/core/counters.hpp"

extern "C" char boot_stack_high_top[];
extern "C" void* memcpy(void*, const void*, hv::usize);

namespace hv::arch {
namespace {

constexpr u64 kBootIdentityLimit = 4 * GiB;  // start.S identity-maps this much
alignas(16) u8 early_ist_stacks[kIstCount][kIstStackSize];

boot::BootInfo boot_info;
boot::HvOptions options;

// Loader memory through the boot identity map; valid only before memory_init().
bool read_identity(const void*, u64 maddr, void* destination, usize length) {
    if (maddr >= kBootIdentityLimit || length > kBootIdentityLimit - maddr) return false;
    memcpy(destination, reinterpret_cast<const void*>(maddr), length);
    return true;
}
constexpr boot::PhysReader kIdentityReader{read_identity, nullptr};

[[noreturn]] void stop(ExitCode code, const char* what, const char* detail) {
    print("isola: %s: %s\n", what, detail);
    machine_exit(code);
}

void load_early_descriptors() {
    CpuStacks stacks{reinterpret_cast<u64>(boot_stack_high_top), {}};
    for (unsigned i = 0; i < kIstCount; ++i) stacks.ist_top[i] = reinterpret_cast<u64>(early_ist_stacks[i + 1]);
    const u64 gdt = early_gdt_base();
    load_cpu_descriptors(0, stacks, gdt, reinterpret_cast<u64*>(gdt + kGdtReservedPage * kPageSize));
}

void parse_command_line() {
    const cmdline::Token line{boot_info.cmdline, boot_info.cmdline_length};
    const auto parsed = boot::parse_hv_options(line, options);
    if (parsed.ok()) return;
    char token[128];
    const cmdline::ParseError& error = parsed.error();
    const usize length = error.token.size < sizeof token - 1 ? error.token.size : sizeof token - 1;
    memcpy(token, error.token.data, length);
    token[length] = 0;
    print("isola: bad command line: %s '%s'\n", error.reason, token);
    machine_exit(ExitCode::BadBootInput);
}

// The asi= features for PV guests decide how memory_init() builds the roots; say which.
void apply_asi_policy() {
    const boot::AsiFeatures& pv = options.asi.pv;
    set_asi_policy(AsiPolicy{pv.vcpu_pt, pv.cpu_stack, pv.zero_stack});
    char line[128];
    boot::format_asi_features(line, sizeof line, options.asi, boot::GuestType::Pv);
    print("%s\n", line);
    boot::format_asi_features(line, sizeof line, options.asi, boot::GuestType::Hvm);
    print("%s\n", line);
}

// Continues on the boot CPU's own stack in the cpu_stacks region (the boot stack is retired).
[[noreturn]] void continue_on_cpu_stack(void (*next)()) {
    // Leave room above for the TrapFrame the first guest entry places at the stack top.
    const u64 top = cpu_primary_stack_base(0) + kPrimaryStackSize - 512;
    asm volatile("movq %0, %%rsp\n\t"
                 "xorl %%ebp, %%ebp\n\t"
                 "callq *%1\n\t"
                 "ud2" ::"r"(top), "r"(next)
                 : "memory");
    __builtin_unreachable();
}

void boot_cpu_main() {
    load_final_descriptors(0);
    init_cpu_control();
    syscall_init_cpu(0);
    start_secondary_cpus();
    time_init();
    report_boot(boot_info, options);
    run_selftest(options.selftest);
    set_audit_point_cpu(options.audit_point_cpu);
    if (boot_info.module_count > 0) run_domains(boot_info, options.audit);
    print("Isola: clean exit\n");
    print_event_totals();
    machine_exit(ExitCode::Success);
}

}  // namespace
}  // namespace hv::arch

extern "C" [[noreturn]] void hv_main(hv::u32 loader_magic, hv::u32 multiboot_info) {
    using namespace hv;
    using namespace hv::arch;
    serial_init();
    disable_legacy_pic();
    load_early_descriptors();
    print("\nIsola hypervisor %s (x86-64) booting\n", kIsolaVersion);
    if (auto parsed = boot::parse_multiboot(loader_magic, multiboot_info, kIdentityReader, boot_info); !parsed.ok())
        stop(ExitCode::BadBootInput, "bad boot information", parsed.error());
    parse_command_line();
    apply_asi_policy();
    pcid_select(options.pcid);  // before any pCPU sets up its CR4 (init_cpu_control)
    boot::CpuList cpus{};
    if (auto found = boot::find_cpus(kIdentityReader, cpus); !found.ok())
        stop(ExitCode::BadBootInput, "cannot find the pCPUs", found.error());
    record_cpus(cpus, static_cast<unsigned>(options.max_cpus));
    install_ap_trampoline();
    if (auto memory = memory_init(boot_info, options.hvpool_bytes, cpu_topology().count); !memory.ok())
        stop(ExitCode::BadBootInput, "memory setup failed", memory.error());
    continue_on_cpu_stack(boot_cpu_main);
}
