// SPDX-License-Identifier: MIT
// Tests of the xen_version subcommands.
#include <gtest/gtest.h>

#include <string>

#include "hv/pv/xen_abi.hpp"
#include "support/fake_pv_vcpu.hpp"

namespace hv::pv {
namespace {

constexpr u64 kBuffer = 0x14000000;
constexpr u64 kXenArea = 0xffff830000000000;

struct XenVersionTest : ::testing::Test, test::PvVcpuFixture {
    long version(u64 command, u64 buffer) { return call(xen::kXenVersion, command, buffer); }
    // Maps a buffer of `size` bytes of 'x' and returns it after the call.
    std::string fill_and_call(u64 command, usize size, long expected) {
        test::fake_guest_memory().map(kBuffer, std::vector<u8>(size, 'x'));
        EXPECT_EQ(version(command, kBuffer), expected);
        const auto& bytes = test::fake_guest_memory().at(kBuffer);
        return std::string(bytes.begin(), bytes.end());
    }
};

// Text followed only by zeros up to the end of the buffer (xsa-122).
void expect_padded(const std::string& buffer, const std::string& text) {
    ASSERT_GE(buffer.size(), text.size() + 1);
    EXPECT_EQ(buffer.substr(0, text.size()), text);
    EXPECT_EQ(buffer.substr(text.size()), std::string(buffer.size() - text.size(), '\0'));
}

TEST_F(XenVersionTest, VersionAndStrings) {
    EXPECT_EQ(version(xen::kXenVersionVersion, 0), 0x40011);
    EXPECT_EQ(version(u64{1} << 32, 0), 0x40011) << "the command is 32 bits";
    expect_padded(fill_and_call(xen::kXenVersionExtraversion, 16, 0), ".0-isola");
    expect_padded(fill_and_call(xen::kXenVersionCapabilities, 1024, 0), "xen-3.0-x86_64");
    expect_padded(fill_and_call(xen::kXenVersionChangeset, 64, 0), "");
}

// compile_info: four zero-padded fields.
TEST_F(XenVersionTest, CompileInfo) {
    const std::string raw = fill_and_call(xen::kXenVersionCompileInfo, sizeof(xen::XenCompileInfo), 0);
    const std::string compiler = raw.substr(0, 64);
    EXPECT_EQ(compiler.find('x'), std::string::npos);
    EXPECT_NE(compiler[0], '\0');
    expect_padded(raw.substr(64, 16), "isola");
    expect_padded(raw.substr(80, 32), "");
    expect_padded(raw.substr(112, 32), "");
}

TEST_F(XenVersionTest, PlatformParametersAndPagesize) {
    zeros(kBuffer, 8);
    EXPECT_EQ(version(xen::kXenVersionPlatformParameters, kBuffer), 0);
    EXPECT_EQ(get<u64>(kBuffer), 0xffff800000000000u);
    EXPECT_EQ(version(xen::kXenVersionPagesize, 0), 4096);
    EXPECT_EQ(version(xen::kXenVersionPagesize, kBuffer), -xen::kEINVAL);
}

// Submap 0: preserve_ad, highmem_assist, vnode, direct-mapped; pae_pgdir_above_4gb only with its VMASST.
TEST_F(XenVersionTest, Features) {
    put(kBuffer, xen::XenFeatureInfo{0, 0xffffffff});
    EXPECT_EQ(version(xen::kXenVersionGetFeatures, kBuffer), 0);
    EXPECT_EQ(get<xen::XenFeatureInfo>(kBuffer).submap, (1u << 5) | (1u << 6) | (1u << 13) | (1u << 17));
    domain.vm_assist = u64{1} << xen::kVmAsstTypePaeExtendedCr3;
    EXPECT_EQ(version(xen::kXenVersionGetFeatures, kBuffer), 0);
    EXPECT_EQ(get<xen::XenFeatureInfo>(kBuffer).submap, (1u << 4) | (1u << 5) | (1u << 6) | (1u << 13) | (1u << 17));
    put(kBuffer, xen::XenFeatureInfo{1, 0x55});
    EXPECT_EQ(version(xen::kXenVersionGetFeatures, kBuffer), -xen::kEINVAL);
    EXPECT_EQ(get<xen::XenFeatureInfo>(kBuffer).submap, 0x55u);
    put(kBuffer, xen::XenFeatureInfo{0, 0}, /*read_only=*/true);
    EXPECT_EQ(version(xen::kXenVersionGetFeatures, kBuffer), -xen::kEFAULT);
}

// Handle all zeros; command line denied (only "<denied>" and its NUL written); build id -EPERM.
TEST_F(XenVersionTest, HandleCommandLineBuildId) {
    expect_padded(fill_and_call(xen::kXenVersionGuestHandle, 16, 0), "");
    const std::string line = fill_and_call(xen::kXenVersionCommandline, 1024, 0);
    EXPECT_EQ(line.substr(0, 9), std::string("<denied>\0", 9));
    EXPECT_EQ(line[9], 'x');
    test::fake_guest_memory().map(kBuffer, std::vector<u8>(9));
    EXPECT_EQ(version(xen::kXenVersionCommandline, kBuffer), 0) << "9 bytes are enough";
    EXPECT_EQ(version(xen::kXenVersionBuildId, kBuffer), -xen::kEPERM);
}

// Every buffer-writing command: -EFAULT for Xen's area, unmapped, read-only or too-short buffers.
TEST_F(XenVersionTest, BadBuffers) {
    const u64 commands[] = {xen::kXenVersionExtraversion, xen::kXenVersionCompileInfo, xen::kXenVersionCapabilities,
                            xen::kXenVersionChangeset,    xen::kXenVersionPlatformParameters, xen::kXenVersionGetFeatures,
                            xen::kXenVersionGuestHandle,  xen::kXenVersionCommandline};
    test::fake_guest_memory().map(kBuffer, std::vector<u8>(1024), /*read_only=*/true);
    for (u64 command : commands) {
        EXPECT_EQ(version(command, kXenArea), -xen::kEFAULT) << command;
        EXPECT_EQ(version(command, 0x14f00000), -xen::kEFAULT) << command;
        EXPECT_EQ(version(command, kBuffer), -xen::kEFAULT) << command;
        EXPECT_EQ(version(command, kBuffer + 1024 - 4), -xen::kEFAULT) << command;
    }
}

TEST_F(XenVersionTest, UnknownCommands) {
    for (u64 command : {11ull, 12ull, 0x7fffffffull, 0xffffffffull}) EXPECT_EQ(version(command, 0), -xen::kENOSYS);
}

}  // namespace
}  // namespace hv::pv
