// SPDX-License-Identifier: MIT
// Benchmark guest: the harness shared by every benchmark (timing, result lines, command line).
//
// Every benchmark prints exactly one parsable console line (tools/isola_cli/bench_parse.py):
//
//     bench: <name> iters=<N> ticks=<T>              measured: N operations took T TSC ticks
//     bench: calibrate iters=<N> insns=<I> ticks=<T> the calibration loop: I instructions, T ticks
//     bench: <name> skip op=<what> rc=<rc>           a prerequisite is missing (-ENOSYS): not measured
//     bench: <name> unsupported op=<what> rc=<rc>    the operation itself is refused: not measured
//     bench: <name> error op=<what> rc=<rc>          anything else failed (the run ends in ERROR)
//
// With QEMU's `-icount shift=0` the TSC advances once per retired instruction (guest and
// hypervisor together), so ticks are instructions; the calibration loop checks that.
#pragma once

#include "guest.hpp"

namespace guest::bench {

// The timed loop of one benchmark: `iterations` operations; returns the ticks they took, or a
// failure already reported with report_*(). Two-vCPU benchmarks also say how many rounds the
// other vCPU made meanwhile (`peer=` on the result line), which shows the two really alternated.
struct Timing {
    bool ok;
    u64 ticks;
    bool has_peer = false;
    u64 peer_rounds = 0;
};

inline u64 read_tsc() {
    u32 low, high;
    asm volatile("lfence\n\trdtsc" : "=a"(low), "=d"(high)::"memory");
    return (u64{high} << 32) | low;
}

// A hypercall inlined into the timed loop (`call hypercall_page + nr*32`, arguments in RDI, RSI,
// RDX, R10), so a loop iteration adds only the argument moves, the call and the loop branch to
// the hypervisor's work: the `guest_call` benchmark measures exactly that share.
template <unsigned kNumber>
inline long fast_hypercall(u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0) {
    long result;
    register u64 r10 asm("r10") = a4;
    asm volatile("call hypercall_page + %c[offset]"
                 : "=a"(result), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10)
                 : [offset] "i"(kNumber * xen::kHypercallStubSize)
                 : "rcx", "r11", "r8", "r9", "memory");
    return result;
}

// Operations run before the clock starts, so first-use effects stay out of the measurement.
inline constexpr u64 kWarmup = 8;

// One benchmark: its name on the command line and in the result line, and its body.
struct Benchmark {
    const char* name;
    Timing (*run)(u64 iterations);
};

// Result lines. Each returns a failed Timing so a body can `return report_skip(...)`.
void report_ticks(const char* name, u64 iterations, const Timing& timing);
Timing report_skip(const char* name, const char* what, long rc);
Timing report_unsupported(const char* name, const char* what, long rc);
Timing report_error(const char* name, const char* what, long rc);
// The verdict for a refused hypercall: -ENOSYS means the hypervisor lacks it (skip); anything
// else is an error. (vcpu_op also skips on -ENOENT: the domain has a single vCPU.)
Timing report_refused(const char* name, const char* what, long rc);

// Command line (start_info.cmd_line): "bench=a,b,c iters=N cal=N". Other tokens (such as
// Isola's `--`) are ignored, so the same string works on both hypervisors.
u64 option_number(const char* key, u64 fallback);
// Copies the value of `key=` into `out` (NUL-terminated); false if absent.
bool option_text(const char* key, char* out, unsigned size);

// The machine address of `va`'s page and of the L1 entry mapping it (walk through the M2P).
u64 maddr_of(const void* va);
u64 l1e_maddr(const void* va);

// Times `iterations` calls of `op` (returning 0 or -errno), after kWarmup untimed ones whose
// failure is reported (report_refused) and ends the benchmark.
template <class Op>
Timing time_calls(const char* name, const char* what, u64 iterations, Op op) {
    for (u64 i = 0; i < kWarmup; ++i) {
        const long rc = op();
        if (rc != 0) return report_refused(name, what, rc);
    }
    const u64 start = read_tsc();
    for (u64 i = 0; i < iterations; ++i) op();
    return {true, read_tsc() - start};
}

// Benchmarks, grouped by file.
Timing bench_guest_call(u64 iterations);
Timing bench_xen_version(u64 iterations);
Timing bench_yield(u64 iterations);
Timing bench_update_va_mapping(u64 iterations);
Timing bench_mmu_update(u64 iterations);
Timing bench_mmu_update_l4(u64 iterations);
Timing bench_mmuext_flush(u64 iterations);
Timing bench_syscall(u64 iterations);
Timing bench_pf_bounce(u64 iterations);
Timing bench_set_gdt(u64 iterations);
Timing bench_set_ldt(u64 iterations);
Timing bench_yield_pingpong(u64 iterations);
Timing bench_evtchn_rtt(u64 iterations);

}  // namespace guest::bench
