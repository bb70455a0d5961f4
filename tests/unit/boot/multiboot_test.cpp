// SPDX-License-Identifier: MIT
// Tests of multiboot information parsing against a fake low-memory image.
#include "hv/boot/multiboot.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "support/fake_phys_memory.hpp"

namespace hv::boot {
namespace {

struct [[gnu::packed]] Mmap {
    u32 size = 20;
    u64 base;
    u64 length;
    u32 type;
};

struct MultibootTest : ::testing::Test {
    test::FakePhysMemory memory;  // the first 1 MiB is readable; nothing else is
    std::unique_ptr<BootInfo> info = std::make_unique<BootInfo>();
    u32 header[13] = {};

    void SetUp() override {
        memory.map(0, 1 << 20);
        header[0] = (1 << 2) | (1 << 3) | (1 << 6);
        header[4] = 0x2000;  // cmdline
        memory.put_string(0x2000, "isola.bin loglvl=all");
        set_mmap({Mmap{20, 0, 0x9f000, 1}, Mmap{20, 0x100000, 0x7f00000, 1}, Mmap{20, 0xfffc0000, 0x40000, 2}});
    }
    void set_mmap(std::vector<Mmap> entries) {
        header[11] = static_cast<u32>(entries.size() * sizeof(Mmap));
        header[12] = 0x3000;
        for (usize i = 0; i < entries.size(); ++i) memory.put(0x3000 + i * sizeof(Mmap), entries[i]);
    }
    void set_modules(u32 count) {
        header[5] = count;
        header[6] = 0x4000;
    }
    Result<void, const char*> parse(u32 magic = kLoaderMagic) {
        memory.put(0x1000, header);
        return parse_multiboot(magic, 0x1000, memory.reader(), *info);
    }
};

TEST_F(MultibootTest, ParsesCmdlineAndRam) {
    ASSERT_TRUE(parse().ok());
    EXPECT_STREQ(info->cmdline, "isola.bin loglvl=all");
    ASSERT_EQ(info->ram.count(), 2u);
    EXPECT_EQ(info->ram[1].start, 0x100000u);
    EXPECT_EQ(info->ram_top, 0x8000000u);
    EXPECT_EQ(info->module_count, 0u);
}

TEST_F(MultibootTest, ParsesModulesWithCommandLines) {
    const u32 modules[8] = {0x200000, 0x201000, 0x5000, 0, 0x202000, 0x202000, 0, 0};
    memory.put(0x4000, modules);
    memory.put_string(0x5000, "guest.elf mem=64M");
    set_modules(2);
    ASSERT_TRUE(parse().ok());
    ASSERT_EQ(info->module_count, 2u);
    EXPECT_EQ(info->modules[0].end, 0x201000u);
    EXPECT_STREQ(info->modules[0].cmdline, "guest.elf mem=64M");
    EXPECT_STREQ(info->modules[1].cmdline, "");
}

TEST_F(MultibootTest, RejectsBadMagic) {
    auto result = parse(0x12345678);
    ASSERT_FALSE(result.ok());
    EXPECT_STREQ(result.error(), "not started by a multiboot loader (bad magic)");
}

TEST_F(MultibootTest, RejectsMissingMmap) {
    header[0] &= ~(1u << 6);
    EXPECT_FALSE(parse().ok());
}

TEST_F(MultibootTest, RejectsModuleEndingBeforeStart) {
    const u32 modules[4] = {0x300000, 0x200000, 0, 0};
    memory.put(0x4000, modules);
    set_modules(1);
    EXPECT_STREQ(parse().error(), "boot module ends before it starts");
}

TEST_F(MultibootTest, RejectsTooManyModules) {
    set_modules(17);
    EXPECT_FALSE(parse().ok());
}

TEST_F(MultibootTest, RejectsUnreadablePointers) {
    header[4] = 0xfffffff0;  // cmdline outside reachable memory
    EXPECT_FALSE(parse().ok());
}

TEST_F(MultibootTest, RejectsOverlongCmdline) {
    std::string long_line(kCmdlineCapacity + 10, 'a');
    memory.put_string(0x2000, long_line.c_str());
    EXPECT_STREQ(parse().error(), "command line is unreadable or too long");
}

TEST_F(MultibootTest, RejectsMalformedAndWrappingMmap) {
    set_mmap({Mmap{4, 0, 0x1000, 1}});
    EXPECT_FALSE(parse().ok());
    set_mmap({Mmap{20, 0xfffffffffffff000, 0x2000, 1}});
    EXPECT_STREQ(parse().error(), "memory map entry is out of range");
}

TEST_F(MultibootTest, RejectsNoRam) {
    set_mmap({Mmap{20, 0, 0x1000000, 2}});
    EXPECT_STREQ(parse().error(), "memory map has no usable RAM");
}

TEST_F(MultibootTest, RamIsPageAlignedInwards) {
    set_mmap({Mmap{20, 0x1234, 0x10000, 1}});
    ASSERT_TRUE(parse().ok());
    EXPECT_EQ(info->ram[0].start, 0x2000u);
    EXPECT_EQ(info->ram[0].end, 0x11000u);
}

}  // namespace
}  // namespace hv::boot
