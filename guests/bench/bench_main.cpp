// SPDX-License-Identifier: MIT
// Benchmark guest: command line, calibration loop, result lines and the benchmark table.
// Command line: "bench=<name>[,<name>...] iters=<N> cal=<N>"; the calibration runs first.
#include "bench.hpp"

namespace guest {

const char kTestTitle[] = "benchmarks of hypervisor operations (TSC ticks per operation)";

namespace bench {
namespace {

constexpr u64 kDefaultIterations = 1000;
constexpr u64 kDefaultCalibration = 100000;
constexpr u64 kCalibrationInsnsPerIteration = 8;

constexpr Benchmark kBenchmarks[] = {
    {"guest_call", bench_guest_call},
    {"xen_version", bench_xen_version},
    {"update_va_mapping", bench_update_va_mapping},
    {"mmu_update", bench_mmu_update},
    {"mmu_update_l4", bench_mmu_update_l4},
    {"mmuext_flush", bench_mmuext_flush},
    {"syscall", bench_syscall},
    {"pf_bounce", bench_pf_bounce},
    {"set_gdt", bench_set_gdt},
    {"set_ldt", bench_set_ldt},
    {"yield", bench_yield},
    {"yield_pingpong", bench_yield_pingpong},
    {"evtchn_rtt", bench_evtchn_rtt},
};

// `iterations` rounds of exactly kCalibrationInsnsPerIteration instructions (six adds, dec, jnz),
// timed like a benchmark. Its ticks per instruction convert every other result to instructions.
void calibrate(u64 iterations) {
    u64 counter = iterations;
    const u64 start = read_tsc();
    asm volatile(
        "1:\n\t"
        "addq $1, %%rax\n\taddq $1, %%rdx\n\taddq $1, %%rsi\n\t"
        "addq $1, %%rdi\n\taddq $1, %%r8\n\taddq $1, %%r9\n\t"
        "decq %%rcx\n\t"
        "jnz 1b"
        : "+c"(counter)
        :
        : "rax", "rdx", "rsi", "rdi", "r8", "r9", "cc");
    const u64 ticks = read_tsc() - start;
    print("bench: calibrate iters=%lu insns=%lu ticks=%lu\n", iterations,
          iterations * kCalibrationInsnsPerIteration, ticks);
}

const Benchmark* find(const char* name, unsigned length) {
    for (const Benchmark& b : kBenchmarks) {
        unsigned i = 0;
        while (i < length && b.name[i] == name[i]) ++i;
        if (i == length && b.name[i] == 0) return &b;
    }
    return nullptr;
}

// Runs each comma-separated name of `list` in order; an unknown name is an error line.
void run_list(const char* list, u64 iterations) {
    while (*list != 0) {
        unsigned length = 0;
        while (list[length] != 0 && list[length] != ',') ++length;
        if (const Benchmark* b = find(list, length)) {
            const Timing t = b->run(iterations);
            if (t.ok) report_ticks(b->name, iterations, t);
        } else if (length > 0) {
            char name[64] = {};
            for (unsigned i = 0; i < length && i + 1 < sizeof name; ++i) name[i] = list[i];
            error("bench: unknown benchmark '%s'\n", name);
        }
        list += length;
        if (*list == ',') ++list;
    }
}

// True if `line` at `i` starts the token `key=`.
bool token_at(const char* line, unsigned i, const char* key) {
    if (i > 0 && line[i - 1] != ' ') return false;
    unsigned k = 0;
    while (key[k] != 0 && line[i + k] == key[k]) ++k;
    return key[k] == 0 && line[i + k] == '=';
}

const char* option_value(const char* key) {
    const char* line = start_info->cmd_line;
    unsigned key_length = 0;
    while (key[key_length] != 0) ++key_length;
    for (unsigned i = 0; i < sizeof start_info->cmd_line && line[i] != 0; ++i)
        if (token_at(line, i, key)) return line + i + key_length + 1;
    return nullptr;
}

}  // namespace

u64 option_number(const char* key, u64 fallback) {
    const char* value = option_value(key);
    if (value == nullptr || *value < '0' || *value > '9') return fallback;
    u64 number = 0;
    for (; *value >= '0' && *value <= '9'; ++value)
        number = number * 10 + static_cast<u64>(*value - '0');
    return number;
}

bool option_text(const char* key, char* out, unsigned size) {
    const char* value = option_value(key);
    if (value == nullptr || size == 0) return false;
    unsigned i = 0;
    for (; i + 1 < size && value[i] != 0 && value[i] != ' '; ++i) out[i] = value[i];
    out[i] = 0;
    return true;
}

void report_ticks(const char* name, u64 iterations, const Timing& timing) {
    if (timing.has_peer) {
        print("bench: %s iters=%lu ticks=%lu peer=%lu\n", name, iterations, timing.ticks,
              timing.peer_rounds);
    } else {
        print("bench: %s iters=%lu ticks=%lu\n", name, iterations, timing.ticks);
    }
}

Timing report_skip(const char* name, const char* what, long rc) {
    print("bench: %s skip op=%s rc=%ld\n", name, what, rc);
    skip("%s: %s returned %ld\n", name, what, rc);
    return {false, 0};
}

Timing report_unsupported(const char* name, const char* what, long rc) {
    print("bench: %s unsupported op=%s rc=%ld\n", name, what, rc);
    skip("%s: %s returned %ld\n", name, what, rc);
    return {false, 0};
}

Timing report_error(const char* name, const char* what, long rc) {
    print("bench: %s error op=%s rc=%ld\n", name, what, rc);
    error("%s: %s returned %ld\n", name, what, rc);
    return {false, 0};
}

Timing report_refused(const char* name, const char* what, long rc) {
    return rc == -xen::kENOSYS ? report_skip(name, what, rc) : report_error(name, what, rc);
}

u64 maddr_of(const void* va) { return pfn_to_mfn(reinterpret_cast<u64>(va) >> 12) << 12; }

u64 l1e_maddr(const void* va) {
    const u64 address = reinterpret_cast<u64>(va);
    const auto* m2p = reinterpret_cast<const u64*>(xen::kMachToPhysVirtStart);
    u64 table = start_info->pt_base;  // the L4; every table is mapped VA == PFN << 12
    for (int shift = 39; shift > 12; shift -= 9) {
        const u64 entry = reinterpret_cast<const volatile u64*>(table)[(address >> shift) & 511];
        table = m2p[(entry & 0x000ffffffffff000) >> 12] << 12;
    }
    return maddr_of(reinterpret_cast<const void*>(table)) + ((address >> 12) & 511) * 8;
}

}  // namespace bench

void test_main() {
    using namespace bench;
    char list[256];
    if (!option_text("bench", list, sizeof list)) {
        return error("no bench=<name>[,<name>...] on the command line '%s'\n", start_info->cmd_line);
    }
    if (!setup_traps()) return;
    if (map_shared_info() == nullptr) return;
    const u64 calibration = option_number("cal", kDefaultCalibration);
    if (calibration > 0) calibrate(calibration);
    run_list(list, option_number("iters", kDefaultIterations));
}

}  // namespace guest
