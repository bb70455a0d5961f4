// SPDX-License-Identifier: MIT
// Tests of hypercall dispatch against a fake guest address space.
#include "hv/pv/hypercall.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "hv/pv/domain.hpp"
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/xen_abi.hpp"
#include "support/fake_guest_memory.hpp"
#include "support/host_console.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

struct HypercallTest : ::testing::Test {
    Domain domain{};
    void SetUp() override {
        test::init_running_domain(domain, 3);
        test::reset_fake_domain_private();
        test::take_console_output();
    }
    long call(u64 number, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0) {
        return do_hypercall(domain.vcpus[0], number, HypercallArgs{{a1, a2, a3, 0, 0}});
    }
    void put_string(u64 va, const std::string& text) {
        test::fake_guest_memory().map(va, std::vector<u8>(text.begin(), text.end()));
    }
};

// Unknown hypercall numbers, including huge ones, give -ENOSYS.
TEST_F(HypercallTest, UnknownNumbersAreEnosys) {
    EXPECT_EQ(call(127), -xen::kENOSYS);
    EXPECT_EQ(call(~u64{0}), -xen::kENOSYS);
    EXPECT_EQ(call(39), -xen::kENOSYS);  // argo_op
}

// Console output is line-buffered with a domain prefix; CR is dropped.
TEST_F(HypercallTest, ConsoleWriteIsPrefixedPerLine) {
    put_string(0x1000, "hello\r\nwor");
    EXPECT_EQ(call(xen::kConsoleIo, xen::kConsoleIoWrite, 10, 0x1000), 0);
    EXPECT_EQ(test::take_console_output(), "(d3) hello\n");
    put_string(0x2000, "ld\n");
    EXPECT_EQ(call(xen::kConsoleIo, xen::kConsoleIoWrite, 3, 0x2000), 0);
    EXPECT_EQ(test::take_console_output(), "(d3) world\n");
}

// Non-printable guest bytes never reach the console raw.
TEST_F(HypercallTest, ConsoleEscapesControlBytes) {
    put_string(0x1000, std::string("a\x1b[2Jb\n", 7));
    EXPECT_EQ(call(xen::kConsoleIo, xen::kConsoleIoWrite, 7, 0x1000), 0);
    EXPECT_EQ(test::take_console_output(), "(d3) a.[2Jb\n");
}

// A buffer that is unmapped, in the hypervisor area or wrapping gives -EFAULT.
TEST_F(HypercallTest, ConsoleBadPointersAreEfault) {
    EXPECT_EQ(call(xen::kConsoleIo, xen::kConsoleIoWrite, 4, 0x7000), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kConsoleIo, xen::kConsoleIoWrite, 4, 0xffff830000000000), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kConsoleIo, xen::kConsoleIoWrite, 16, ~u64{0} - 4), -xen::kEFAULT);
    EXPECT_EQ(call(xen::kConsoleIo, xen::kConsoleIoWrite, u64{1} << 40, 0x1000), -xen::kEINVAL);
    EXPECT_EQ(call(xen::kConsoleIo, 7, 0, 0), -xen::kENOSYS);
}

// Long lines are split rather than overflowing the line buffer.
TEST_F(HypercallTest, ConsoleLongLineIsSplit) {
    put_string(0x1000, std::string(400, 'x'));
    EXPECT_EQ(call(xen::kConsoleIo, xen::kConsoleIoWrite, 400, 0x1000), 0);
    const std::string out = test::take_console_output();
    EXPECT_EQ(out.substr(0, 5), "(d3) ");
    const ConsoleLine& line = test::fake_domain_private(domain).console;
    EXPECT_EQ(line.length, 400u % (sizeof line.text - 1)) << "two full lines went out, the rest waits";
}

// The console line is the guest's output: it waits in the domain's private area, not in the
// image, and a partial line comes out before the domain's last word, also when the crash is
// decided where the domain's area is not loaded (reached page by page).
TEST_F(HypercallTest, PartialConsoleLineWaitsInThePrivateAreaUntilTheCrash) {
    put_string(0x1000, "secret");
    EXPECT_EQ(call(xen::kConsoleIo, xen::kConsoleIoWrite, 6, 0x1000), 0);
    EXPECT_EQ(test::take_console_output(), "");
    const ConsoleLine& line = test::fake_domain_private(domain).console;
    EXPECT_EQ(std::string(line.text, line.length), "secret");
    test::fake_domain_private_paged(domain, true);
    domain_crash(domain, "test");
    const std::string out = test::take_console_output();
    EXPECT_EQ(out.find("(d3) secret\n"), 0u) << out;
    EXPECT_NE(out.find("crashed: test"), std::string::npos) << out;
    EXPECT_EQ(line.length, 0u);
    EXPECT_GT(test::fake_domain_private_page_maps(), 0u);
}

// SCHEDOP_shutdown records the reason and stops the domain.
TEST_F(HypercallTest, ShutdownStopsTheDomain) {
    const xen::SchedShutdown request{xen::kShutdownCrash};
    test::fake_guest_memory().map(0x3000, std::vector<u8>(reinterpret_cast<const u8*>(&request),
                                                          reinterpret_cast<const u8*>(&request) + sizeof request));
    EXPECT_EQ(call(xen::kSchedOp, xen::kSchedOpShutdown, 0x3000), 0);
    EXPECT_EQ(domain.state, DomainState::Shutdown);
    EXPECT_EQ(domain.shutdown_reason, xen::kShutdownCrash);
}

// A shutdown request the guest cannot back with memory is -EFAULT and changes nothing.
TEST_F(HypercallTest, ShutdownWithBadPointerIsEfault) {
    EXPECT_EQ(call(xen::kSchedOp, xen::kSchedOpShutdown, 0x9000), -xen::kEFAULT);
    EXPECT_EQ(domain.state, DomainState::Running);
    EXPECT_EQ(call(xen::kSchedOp, 99), -xen::kENOSYS);
}

// xen_version reports the 4.17 ABI and copies the extraversion string out.
TEST_F(HypercallTest, XenVersion) {
    EXPECT_EQ(call(xen::kXenVersion, xen::kXenVersionVersion), (4 << 16) | 17);
    test::fake_guest_memory().map(0x4000, std::vector<u8>(16, 0xff));
    EXPECT_EQ(call(xen::kXenVersion, xen::kXenVersionExtraversion, 0x4000), 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(test::fake_guest_memory().at(0x4000).data())), ".0-isola");
    test::fake_guest_memory().map(0x5000, std::vector<u8>(16, 0), /*read_only=*/true);
    EXPECT_EQ(call(xen::kXenVersion, xen::kXenVersionExtraversion, 0x5000), -xen::kEFAULT);
}

// Guest ranges: the lower half and the area above the hypervisor's slots only.
TEST(GuestRange, AcceptsOnlyGuestSpace) {
    EXPECT_TRUE(guest_range_ok(0, 4096));
    EXPECT_TRUE(guest_range_ok(0x00007ffffffff000, 0x1000));
    EXPECT_FALSE(guest_range_ok(0x00007ffffffff000, 0x1001));
    EXPECT_FALSE(guest_range_ok(0x0000800000000000, 1));
    EXPECT_FALSE(guest_range_ok(0xffff800000000000, 8));
    EXPECT_FALSE(guest_range_ok(0xffff87fffffffff8, 8));
    EXPECT_TRUE(guest_range_ok(0xffff880000000000, 8));
    EXPECT_TRUE(guest_range_ok(0xfffffffffffff000, 0x1000));
    EXPECT_FALSE(guest_range_ok(0xfffffffffffff000, 0x1001));
    EXPECT_TRUE(guest_range_ok(0x1234, 0));
}

}  // namespace
}  // namespace hv::pv
