// SPDX-License-Identifier: MIT
// enumerate_mappings() and MappingPrinter: the walker's leaves with their rights, as the QEMU
// cross-check (tools/isola_cli/audit_qemu.py) compares them with `info tlb` and `info mem`.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "arch/pte.hpp"
#include "hv/audit/protocol.hpp"
#include "hv/audit/walker.hpp"
#include "hv/mm/page_table.hpp"
#include "support/fake_audit_env.hpp"
#include "support/fake_machine_memory.hpp"

namespace hv::audit {
namespace {

using arch::X86PteFormat;
using mm::Attrs;
using mm::PageSize;

constexpr u64 kFrameCount = 0x10000;
constexpr u64 kSlot262 = 0xffff830000000000;

struct Machine {
    test::FakePagingEnv paging;
    mm::PageTable<X86PteFormat, test::FakePagingEnv> tables{paging, paging.memory().alloc_frame()};
    test::FakeAuditEnv env{paging.memory(), kFrameCount};
    std::vector<u64> scratch = std::vector<u64>(audit_scratch_words(kFrameCount));

    void map(u64 va, u64 mfn, u64 size, Attrs attrs, PageSize granule) {
        ASSERT_TRUE(tables.map(Vaddr(va), Mfn(mfn).maddr(), size, attrs, granule).ok());
    }
    u64* root_entries() { return paging.table(tables.root()); }

    std::vector<Mapping> mappings() {
        std::vector<Mapping> out;
        const MappingSink sink{[](void* self, const Mapping& m) { static_cast<std::vector<Mapping>*>(self)->push_back(m); },
                               &out};
        enumerate_mappings<X86PteFormat>(env, tables.root(), AuditScratch{scratch.data(), scratch.size()}, sink);
        return out;
    }
    std::vector<std::string> printed() {
        std::vector<std::string> lines;
        MappingPrinter printer([](void* self, const char* line) { static_cast<std::vector<std::string>*>(self)->push_back(line); },
                               &lines);
        enumerate_mappings<X86PteFormat>(env, tables.root(), AuditScratch{scratch.data(), scratch.size()},
                                         printer.mapping_sink());
        const u64 printed = printer.finish();  // prints the last stretch: count after it
        EXPECT_EQ(printed, lines.size());
        return lines;
    }
};

// Table entries grant everything, so the leaf alone decides; each leaf is reported once, in order.
TEST(AuditMappings, LeavesWithTheirOwnRights) {
    Machine m;
    m.map(0x400000, 0x100, 2 * kPageSize, Attrs{.write = true, .user = true}, PageSize::k4K);
    m.map(0x600000, 0x200, 2 * MiB, Attrs{.exec = true, .global = true}, PageSize::k2M);
    const std::vector<Mapping> maps = m.mappings();
    ASSERT_EQ(maps.size(), 3U);
    EXPECT_EQ(maps[0].va, 0x400000U);
    EXPECT_EQ(maps[0].first_frame, 0x100U);
    EXPECT_EQ(maps[0].pages, 1U);
    EXPECT_EQ(maps[1].first_frame, 0x101U);
    EXPECT_TRUE(maps[0].effective.write && maps[0].effective.user && !maps[0].effective.exec);
    EXPECT_EQ(maps[2].pages, 512U);
    EXPECT_TRUE(maps[2].leaf.global && maps[2].effective.global && maps[2].effective.exec);
    EXPECT_FALSE(maps[2].effective.write || maps[2].effective.user);
}

// A right taken away by a table entry is missing from the effective rights, not from the leaf's.
TEST(AuditMappings, TableEntriesNarrowTheEffectiveRights) {
    Machine m;
    m.map(0x400000, 0x100, kPageSize, Attrs{.write = true, .user = true, .exec = true}, PageSize::k4K);
    m.root_entries()[0] &= ~(X86PteFormat::kRw | X86PteFormat::kUs);
    m.root_entries()[0] |= X86PteFormat::kXd;
    const std::vector<Mapping> maps = m.mappings();
    ASSERT_EQ(maps.size(), 1U);
    EXPECT_TRUE(maps[0].leaf.write && maps[0].leaf.user && maps[0].leaf.exec);
    EXPECT_FALSE(maps[0].effective.write || maps[0].effective.user || maps[0].effective.exec);
}

// The printer merges leaves that continue each other (next VA, next frame, same rights) and
// splits where the frame or the rights change.
TEST(AuditMappings, PrinterMergesOnlyContinuations) {
    Machine m;
    m.map(kSlot262, 0x100, 3 * kPageSize, Attrs{.write = true, .global = true}, PageSize::k4K);
    m.map(kSlot262 + 3 * kPageSize, 0x200, kPageSize, Attrs{.write = true, .global = true}, PageSize::k4K);
    m.map(kSlot262 + 4 * kPageSize, 0x201, kPageSize, Attrs{}, PageSize::k4K);
    const std::vector<std::string> lines = m.printed();
    ASSERT_EQ(lines.size(), 3U);
    EXPECT_EQ(lines[0], "audit: map ffff830000000000 ffff830000002fff 100000 eff=-w- leaf=-w-g");
    EXPECT_EQ(lines[1], "audit: map ffff830000003000 ffff830000003fff 200000 eff=-w- leaf=-w-g");
    EXPECT_EQ(lines[2], "audit: map ffff830000004000 ffff830000004fff 201000 eff=--- leaf=----");
}

// An empty root prints nothing.
TEST(AuditMappings, EmptyRootPrintsNothing) {
    Machine m;
    EXPECT_TRUE(m.printed().empty());
}

}  // namespace
}  // namespace hv::audit
