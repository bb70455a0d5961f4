// SPDX-License-Identifier: MIT
// Secondary vCPUs, event-channel helpers and system time for guest test kernels.
#include "guest.hpp"

extern "C" void guest_vcpu_entry();  // below: calls fn(id) with RSI = fn, RDI = id

namespace guest {
namespace {

constexpr unsigned kMaxVcpus = 8;
constexpr u64 kStackSize = 16384;
alignas(16) u8 vcpu_stacks[kMaxVcpus][kStackSize];
xen::VcpuGuestContext context;  // 5 KiB: never on a stack

}  // namespace

extern "C" [[noreturn]] void guest_vcpu_main(unsigned id, void (*fn)(unsigned)) {
    fn(id);
    for (;;) vcpu_op(xen::kVcpuOpDown, id, nullptr);
}

long vcpu_op(unsigned command, unsigned id, void* argument) {
    return hypercall(xen::kVcpuOp, command, id, reinterpret_cast<u64>(argument));
}

unsigned vcpu_count() {
    unsigned count = 1;
    while (count < kMaxVcpus && vcpu_op(xen::kVcpuOpIsUp, count, nullptr) >= 0) ++count;
    return count;
}

void default_vcpu_context(xen::VcpuGuestContext& c, unsigned id, void (*fn)(unsigned)) {
    c = xen::VcpuGuestContext{};
    c.flags = xen::kVgcfInKernel;
    c.user_regs.rip = reinterpret_cast<u64>(guest_vcpu_entry);
    c.user_regs.rsp = reinterpret_cast<u64>(vcpu_stacks[id % kMaxVcpus] + kStackSize);
    c.user_regs.rdi = id;
    c.user_regs.rsi = reinterpret_cast<u64>(fn);
    c.user_regs.cs = xen::kFlatKernelCs;
    c.user_regs.ss = xen::kFlatKernelSs;
    c.user_regs.rflags = 0x200;
    c.kernel_ss = xen::kFlatKernelSs;
    c.kernel_sp = c.user_regs.rsp;
    c.ctrlreg[3] = pfn_to_mfn(start_info->pt_base >> 12) << 12;  // our own L4
}

long start_vcpu(unsigned id, void (*fn)(unsigned)) {
    default_vcpu_context(context, id, fn);
    const long rc = vcpu_op(xen::kVcpuOpInitialise, id, &context);
    if (rc != 0) return rc;
    return vcpu_op(xen::kVcpuOpUp, id, nullptr);
}

long evtchn_op(unsigned command, void* argument) {
    return hypercall(xen::kEventChannelOp, command, reinterpret_cast<u64>(argument));
}

long bind_ipi(unsigned vcpu) {
    xen::EvtchnBindIpi request{vcpu, 0};
    const long rc = evtchn_op(xen::kEvtchnOpBindIpi, &request);
    return rc != 0 ? rc : static_cast<long>(request.port);
}

long send_event(u32 port) {
    xen::EvtchnPortArg request{port};
    return evtchn_op(xen::kEvtchnOpSend, &request);
}

bool take_port(u32 port) {
    volatile xen::SharedInfo* shared = shared_info();
    const u64 bit = u64{1} << (port % 64);
    return (__atomic_fetch_and(&shared->evtchn_pending[port / 64], ~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

bool wait_port(u32 port, u64 timeout_ns) {
    const u32 ports[1] = {port};
    const u64 deadline = timeout_ns != 0 ? system_time() + timeout_ns : 0;
    while (!take_port(port)) {
        if (deadline != 0 && system_time() >= deadline) return false;
        const xen::SchedPoll request{reinterpret_cast<u64>(ports), 1, 0, deadline};
        const long rc = hypercall(xen::kSchedOp, xen::kSchedOpPoll, reinterpret_cast<u64>(&request));
        if (rc != 0) {
            fail("SCHEDOP_poll(%u): %ld\n", port, rc);
            return false;
        }
    }
    return true;
}

void yield() { hypercall(xen::kSchedOp, xen::kSchedOpYield, 0); }

u64 system_time(unsigned vcpu) {
    volatile xen::VcpuTimeInfo& t = shared_info()->vcpu_info[vcpu].time;
    for (;;) {
        const u32 version = t.version;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        const u64 stamp = t.tsc_timestamp, base = t.system_time;
        const u32 mul = t.tsc_to_system_mul;
        const signed char shift = t.tsc_shift;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if ((version & 1) != 0 || version != t.version) continue;
        u64 delta = rdtsc() - stamp;
        delta = shift >= 0 ? delta << shift : delta >> -shift;
        return base + static_cast<u64>((static_cast<unsigned __int128>(delta) * mul) >> 32);
    }
}

unsigned cmdline_option(const char* key, unsigned fallback) {
    const char* line = start_info->cmd_line;
    for (unsigned i = 0; line[i] != 0; ++i) {
        unsigned k = 0;
        while (key[k] != 0 && line[i + k] == key[k]) ++k;
        if (key[k] != 0 || line[i + k] != '=' || (i > 0 && line[i - 1] != ' ')) continue;
        unsigned value = 0;
        for (const char* p = line + i + k + 1; *p >= '0' && *p <= '9'; ++p) value = value * 10 + (*p - '0');
        return value;
    }
    return fallback;
}

}  // namespace guest

asm(R"(
    .text
    .globl guest_vcpu_entry
guest_vcpu_entry:
    andq $-16, %rsp
    call guest_vcpu_main
    ud2
)");
