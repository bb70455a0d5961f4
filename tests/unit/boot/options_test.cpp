// SPDX-License-Identifier: MIT
// Tests of the hypervisor's option table: defaults, each option, range checks, error tokens.
#include "hv/boot/options.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace hv::boot {
namespace {

// Holds a command line in a heap block of exactly its size (no NUL), so ASan flags any read
// past Token::size, and parses it into `options`.
struct OptionsTest : ::testing::Test {
    std::unique_ptr<char[]> bytes;
    cmdline::Token line;
    HvOptions options;

    Result<void, cmdline::ParseError> parse(std::string_view text) {
        bytes = std::make_unique<char[]>(text.size());
        if (!text.empty()) std::memcpy(bytes.get(), text.data(), text.size());
        line = {bytes.get(), text.size()};
        return parse_hv_options(line, options);
    }

    // The error token as text, after checking that it points into the parsed line.
    std::string token_of(const cmdline::ParseError& error) const {
        EXPECT_GE(error.token.data, line.data);
        EXPECT_LE(error.token.data + error.token.size, line.data + line.size);
        return {error.token.data, error.token.size};
    }
};

// With only the image name, every option keeps its documented default.
TEST_F(OptionsTest, DefaultsWithImageNameOnly) {
    ASSERT_TRUE(parse("isola.bin").ok());
    EXPECT_FALSE(options.demo);
    EXPECT_EQ(options.selftest, Selftest::None);
    EXPECT_EQ(options.hvpool_bytes, 16 * MiB);
    EXPECT_EQ(options.max_cpus, 8u);
}

// An empty command line is accepted and changes nothing.
TEST_F(OptionsTest, EmptyLineKeepsDefaults) {
    ASSERT_TRUE(parse("").ok());
    EXPECT_FALSE(options.demo);
    EXPECT_EQ(options.max_cpus, 8u);
}

// The first token is the image name, so even a valid option there is not applied.
TEST_F(OptionsTest, SkipsFirstToken) {
    ASSERT_TRUE(parse("demo maxcpus=2").ok());
    EXPECT_FALSE(options.demo);
    EXPECT_EQ(options.max_cpus, 2u);
}

// An unknown word as the first token is not an error, because it is the image name.
TEST_F(OptionsTest, FirstTokenIsNeverUnknown) {
    EXPECT_TRUE(parse("/boot/isola.bin").ok());
}

// A bare `demo` switches the demo report on.
TEST_F(OptionsTest, DemoSwitchesOn) {
    ASSERT_TRUE(parse("isola.bin demo").ok());
    EXPECT_TRUE(options.demo);
}

// `no-demo` after `demo` switches it off again (last one wins).
TEST_F(OptionsTest, NoDemoSwitchesOff) {
    ASSERT_TRUE(parse("isola.bin demo no-demo").ok());
    EXPECT_FALSE(options.demo);
}

// `demo=0` switches demo off.
TEST_F(OptionsTest, DemoEqualsZeroSwitchesOff) {
    options.demo = true;
    ASSERT_TRUE(parse("isola.bin demo=0").ok());
    EXPECT_FALSE(options.demo);
}

// `demo=maybe` is a bad boolean, reported with its whole token.
TEST_F(OptionsTest, DemoRejectsBadBoolean) {
    const auto result = parse("isola.bin demo=maybe");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, cmdline::reason::kBadBool);
    EXPECT_EQ(token_of(result.error()), "demo=maybe");
}

// `selftest=fault-ud` selects the invalid-opcode fault.
TEST_F(OptionsTest, SelftestFaultUd) {
    ASSERT_TRUE(parse("isola.bin selftest=fault-ud").ok());
    EXPECT_EQ(options.selftest, Selftest::FaultUd);
}

// `selftest=fault-pf` selects the page fault.
TEST_F(OptionsTest, SelftestFaultPf) {
    ASSERT_TRUE(parse("isola.bin selftest=fault-pf").ok());
    EXPECT_EQ(options.selftest, Selftest::FaultPf);
}

// `selftest=hang` selects the deliberate hang.
TEST_F(OptionsTest, SelftestHang) {
    ASSERT_TRUE(parse("isola.bin selftest=hang").ok());
    EXPECT_EQ(options.selftest, Selftest::Hang);
}

// `selftest=db-bad-stack` selects the #DB taken with an unusable RSP.
TEST_F(OptionsTest, SelftestDebugBadStack) {
    ASSERT_TRUE(parse("isola.bin selftest=db-bad-stack").ok());
    EXPECT_EQ(options.selftest, Selftest::DebugBadStack);
    EXPECT_STREQ(selftest_name(Selftest::DebugBadStack), "db-bad-stack");
}

// `selftest=zero-stack` selects the check of the switch path's stack zeroing.
TEST_F(OptionsTest, SelftestZeroStack) {
    ASSERT_TRUE(parse("isola.bin selftest=zero-stack").ok());
    EXPECT_EQ(options.selftest, Selftest::ZeroStack);
    EXPECT_STREQ(selftest_name(Selftest::ZeroStack), "zero-stack");
}

// `selftest=none` undoes an earlier selftest.
TEST_F(OptionsTest, SelftestNone) {
    ASSERT_TRUE(parse("isola.bin selftest=hang selftest=none").ok());
    EXPECT_EQ(options.selftest, Selftest::None);
}

// An unknown selftest name is a bad value, reported with its whole token.
TEST_F(OptionsTest, SelftestRejectsUnknownName) {
    const auto result = parse("isola.bin selftest=fault-gp");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, cmdline::reason::kBadValue);
    EXPECT_EQ(token_of(result.error()), "selftest=fault-gp");
}

// Selftest names must match exactly, not as a prefix.
TEST_F(OptionsTest, SelftestRejectsPrefix) {
    EXPECT_FALSE(parse("isola.bin selftest=fault").ok());
}

// `selftest` without a value is an error.
TEST_F(OptionsTest, SelftestRequiresValue) {
    const auto result = parse("isola.bin selftest");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, cmdline::reason::kValueRequired);
}

// selftest_name gives back the command-line spelling of each selftest.
TEST_F(OptionsTest, SelftestNameMatchesCommandLine) {
    EXPECT_STREQ(selftest_name(Selftest::None), "none");
    EXPECT_STREQ(selftest_name(Selftest::FaultUd), "fault-ud");
    EXPECT_STREQ(selftest_name(Selftest::FaultPf), "fault-pf");
    EXPECT_STREQ(selftest_name(Selftest::Hang), "hang");
}

// selftest_name of a value outside the enum is "?", not a crash.
TEST_F(OptionsTest, SelftestNameOfUnknownValue) {
    EXPECT_STREQ(selftest_name(static_cast<Selftest>(200)), "?");
}

// `hvpool=32M` sets a 32 MiB pool.
TEST_F(OptionsTest, HvpoolTakesSize) {
    ASSERT_TRUE(parse("isola.bin hvpool=32M").ok());
    EXPECT_EQ(options.hvpool_bytes, 32 * MiB);
}

// The pool limits, 2 MiB and 512 MiB, are themselves accepted.
TEST_F(OptionsTest, HvpoolAcceptsLimits) {
    ASSERT_TRUE(parse("isola.bin hvpool=2M").ok());
    EXPECT_EQ(options.hvpool_bytes, 2 * MiB);
    ASSERT_TRUE(parse("isola.bin hvpool=512M").ok());
    EXPECT_EQ(options.hvpool_bytes, 512 * MiB);
}

// A pool below 2 MiB is out of range, reported with the offending token.
TEST_F(OptionsTest, HvpoolRejectsTooSmall) {
    const auto result = parse("isola.bin hvpool=1M demo");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, "out of range (2M-512M)");
    EXPECT_EQ(token_of(result.error()), "hvpool=1M");
}

// A pool above 512 MiB is out of range; the token is the last hvpool, the one that counted.
TEST_F(OptionsTest, HvpoolRejectsTooLarge) {
    const auto result = parse("isola.bin hvpool=4M hvpool=1G");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, "out of range (2M-512M)");
    EXPECT_EQ(token_of(result.error()), "hvpool=1G");
}

// A size that does not parse is a bad number.
TEST_F(OptionsTest, HvpoolRejectsBadSize) {
    const auto result = parse("isola.bin hvpool=lots");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, cmdline::reason::kBadNumber);
    EXPECT_EQ(token_of(result.error()), "hvpool=lots");
}

// Every maxcpus from 1 to 8 is accepted as given.
TEST_F(OptionsTest, MaxcpusAcceptsOneToEight) {
    for (u64 n = 1; n <= 8; ++n) {
        ASSERT_TRUE(parse("isola.bin maxcpus=" + std::to_string(n)).ok()) << n;
        EXPECT_EQ(options.max_cpus, n);
    }
}

// maxcpus=0 is out of range, reported with the offending token.
TEST_F(OptionsTest, MaxcpusRejectsZero) {
    const auto result = parse("isola.bin maxcpus=0");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, "out of range (1-8)");
    EXPECT_EQ(token_of(result.error()), "maxcpus=0");
}

// maxcpus=9 is out of range, reported with the offending token.
TEST_F(OptionsTest, MaxcpusRejectsNine) {
    const auto result = parse("isola.bin maxcpus=9 demo");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, "out of range (1-8)");
    EXPECT_EQ(token_of(result.error()), "maxcpus=9");
}

// A negative maxcpus is a bad number (no signs), not a huge one.
TEST_F(OptionsTest, MaxcpusRejectsSign) {
    const auto result = parse("isola.bin maxcpus=-1");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, cmdline::reason::kBadNumber);
}

// An unknown option is an error naming its whole token, and stops the parse there.
TEST_F(OptionsTest, RejectsUnknownOption) {
    const auto result = parse("isola.bin demo bogus=1 maxcpus=2");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, cmdline::reason::kUnknownOption);
    EXPECT_EQ(token_of(result.error()), "bogus=1");
    EXPECT_TRUE(options.demo);
    EXPECT_EQ(options.max_cpus, 8u);
}

// `no-` only negates booleans, so `no-maxcpus` is an unknown option.
TEST_F(OptionsTest, RejectsNegatedNonBoolean) {
    const auto result = parse("isola.bin no-maxcpus");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, cmdline::reason::kUnknownOption);
    EXPECT_EQ(token_of(result.error()), "no-maxcpus");
}

// Tabs and repeated spaces separate options like single spaces.
TEST_F(OptionsTest, AcceptsTabsAndRepeatedSpaces) {
    ASSERT_TRUE(parse("isola.bin\t demo  \tmaxcpus=3  ").ok());
    EXPECT_TRUE(options.demo);
    EXPECT_EQ(options.max_cpus, 3u);
}

// pcid is on unless switched off (the image still needs the CPU's PCID and INVPCID, and vcpu-pt).
TEST_F(OptionsTest, PcidDefaultsOnAndSwitchesOff) {
    ASSERT_TRUE(parse("isola.bin").ok());
    EXPECT_TRUE(options.pcid);
    ASSERT_TRUE(parse("isola.bin no-pcid").ok());
    EXPECT_FALSE(options.pcid);
    ASSERT_TRUE(parse("isola.bin pcid=0").ok());
    EXPECT_FALSE(options.pcid);
    EXPECT_FALSE(parse("isola.bin pcid=maybe").ok());
}

// audit-point is off unless given, takes a pCPU number 0-7, and names the token when out of range.
TEST_F(OptionsTest, AuditPointTakesACpu) {
    ASSERT_TRUE(parse("isola.bin").ok());
    EXPECT_EQ(options.audit_point_cpu, HvOptions::kAuditPointOff);
    ASSERT_TRUE(parse("isola.bin audit-point=1").ok());
    EXPECT_EQ(options.audit_point_cpu, 1u);
    ASSERT_TRUE(parse("isola.bin audit-point=7").ok());
    EXPECT_EQ(options.audit_point_cpu, 7u);
    const auto result = parse("isola.bin audit-point=8");
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error().reason, "out of range (0-7)");
    EXPECT_EQ(token_of(result.error()), "audit-point=8");
    EXPECT_FALSE(parse("isola.bin audit-point").ok());
}

}  // namespace
}  // namespace hv::boot
