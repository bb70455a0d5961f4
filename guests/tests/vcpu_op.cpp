// SPDX-License-Identifier: MIT
// VCPUOP_* with hostile arguments (vcpus=2): unknown vCPUs, a second initialise, contexts Xen
// refuses (non-canonical addresses, a root that is not an L4 of ours, too many GDT entries),
// timers of another vCPU, up before initialise; then a valid context brings vCPU 1 up, it runs
// and takes itself down.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "vcpu_op: hostile VCPUOP_initialise/up/down/is_up and timer sub-ops";

namespace {

xen::VcpuGuestContext context;
alignas(4096) u64 writable_page[512];  // mapped writable: it cannot become an L4
volatile unsigned ran;

void second(unsigned id) { ran = id; }

long initialise(unsigned id) { return vcpu_op(xen::kVcpuOpInitialise, id, &context); }

// Each case: a default context with one thing wrong.
template <class Edit>
void refused(const char* what, long expected, Edit edit) {
    default_vcpu_context(context, 1, second);
    edit(context);
    expect_eq(what, initialise(1), expected);
}

}  // namespace

void test_main() {
    if (map_shared_info() == nullptr) return;
    if (vcpu_count() < 2) return error("needs 2 vCPUs, has %u\n", vcpu_count());
    expect_eq("is_up(8)", vcpu_op(xen::kVcpuOpIsUp, 8, nullptr), -xen::kENOENT);
    expect_eq("is_up(-1)", vcpu_op(xen::kVcpuOpIsUp, 0xffffffff, nullptr), -xen::kENOENT);
    expect_eq("up(5)", vcpu_op(xen::kVcpuOpUp, 5, nullptr), -xen::kENOENT);
    expect_eq("is_up(0)", vcpu_op(xen::kVcpuOpIsUp, 0, nullptr), 1);
    expect_eq("is_up(1) before initialise", vcpu_op(xen::kVcpuOpIsUp, 1, nullptr), 0);
    expect_eq("up(1) before initialise", vcpu_op(xen::kVcpuOpUp, 1, nullptr), -xen::kEINVAL);
    default_vcpu_context(context, 0, second);
    expect_eq("initialise(0) again", initialise(0), -xen::kEEXIST);
    expect_eq("initialise(1) from an unmapped context",
              vcpu_op(xen::kVcpuOpInitialise, 1, reinterpret_cast<void*>(0x7fff00000000)), -xen::kEFAULT);
    refused("non-canonical RIP", -xen::kEINVAL, [](auto& c) { c.user_regs.rip = 0x8000000000000000; });
    refused("non-canonical event callback", -xen::kEINVAL, [](auto& c) { c.event_callback_eip = 0x0000800000000000; });
    refused("non-canonical trap handler", -xen::kEINVAL, [](auto& c) { c.trap_ctxt[14].address = 0xfff0000000000000; });
    refused("gdt_ents beyond Xen's reserved entries", -xen::kEINVAL, [](auto& c) { c.gdt_ents = 14 * 512 + 1; });
    refused("root frame beyond RAM", -xen::kEINVAL, [](auto& c) { c.ctrlreg[3] = u64{0xfffffffff} << 12; });
    refused("root frame mapped writable", -xen::kEINVAL, [](auto& c) {
        c.ctrlreg[3] = pfn_to_mfn(reinterpret_cast<u64>(writable_page) >> 12) << 12;
    });
    expect_eq("is_up(1) after refused contexts", vcpu_op(xen::kVcpuOpIsUp, 1, nullptr), 0);
    xen::VcpuSetSingleshotTimer timer{1, 0, 0};
    expect_eq("singleshot timer of another vCPU", vcpu_op(xen::kVcpuOpSetSingleshotTimer, 1, &timer), -xen::kEINVAL);
    expect_eq("stop singleshot of another vCPU", vcpu_op(xen::kVcpuOpStopSingleshotTimer, 1, nullptr), -xen::kEINVAL);
    expect_eq("unknown vcpu_op command", vcpu_op(0x1234, 0, nullptr), -xen::kENOSYS);
    const long rc = start_vcpu(1, second);
    if (rc != 0) return fail("a valid context: %ld\n", rc);
    expect_eq("initialise(1) twice", initialise(1), -xen::kEEXIST);
    for (unsigned spin = 0; spin < 1'000'000 && ran != 1; ++spin) yield();
    if (ran != 1) return fail("vCPU 1 never ran\n");
    for (unsigned spin = 0; spin < 1'000'000 && vcpu_op(xen::kVcpuOpIsUp, 1, nullptr) != 0; ++spin) yield();
    expect_eq("is_up(1) after it took itself down", vcpu_op(xen::kVcpuOpIsUp, 1, nullptr), 0);
    expect_eq("up(1) again", vcpu_op(xen::kVcpuOpUp, 1, nullptr), 0);
    print("vcpu_op checks done\n");
}

}  // namespace guest
