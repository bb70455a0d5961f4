// SPDX-License-Identifier: MIT
// Tests of the start-of-day PV layout against layouts measured on Xen 4.17 and the pv-abi tables.
#include "hv/pv/boot_layout.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

PvImage image_spanning(u64 kstart, u64 kend, u64 virt_base = 0) {
    PvImage image{};
    image.virt_base = Vaddr(virt_base);
    image.virt_kstart = Vaddr(kstart);
    image.virt_kend = Vaddr(kend);
    image.entry = Vaddr(kstart);
    return image;
}

BootLayout expect_layout(const PvImage& image, u64 nr_pages, u64 initrd_bytes = 0) {
    const Result<BootLayout, const char*> result = compute_boot_layout(image, nr_pages, initrd_bytes);
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error());
    return result.ok() ? result.value() : BootLayout{};
}

void expect_error(const PvImage& image, u64 nr_pages, u64 initrd_bytes, const char* reason) {
    const Result<BootLayout, const char*> result = compute_boot_layout(image, nr_pages, initrd_bytes);
    ASSERT_FALSE(result.ok()) << "expected: " << reason;
    EXPECT_STREQ(result.error(), reason);
}

void expect_region(const VaRegion& region, u64 start, u64 end) {
    EXPECT_EQ(region.start.raw(), start);
    EXPECT_EQ(region.end.raw(), end);
}

// The reference rules of pv-abi §1.4, written out plainly: v_end for a given table count.
u64 reference_v_end(u64 pt_start, u64 nr_pt_frames) {
    const u64 stack_end = pt_start + nr_pt_frames * kPageSize + kPageSize;
    u64 v_end = align_up(stack_end, 4 * MiB);
    if (v_end - stack_end < 512 * KiB) v_end += 4 * MiB;
    return v_end;
}

// Measured on Xen 4.17.7 (dom0_mem=32M) for build/guests/hello.elf, kernel 0x100000-0x10600c.
TEST(BootLayout, MatchesXen417ForHelloGuest) {
    const BootLayout layout = expect_layout(image_spanning(0x100000, 0x10600c), 8192);
    EXPECT_EQ(layout.v_start.raw(), 0u);
    expect_region(layout.kernel, 0x100000, 0x107000);
    expect_region(layout.initrd, 0x107000, 0x107000);
    expect_region(layout.p2m, 0x107000, 0x117000);
    expect_region(layout.start_info, 0x117000, 0x118000);
    expect_region(layout.page_tables, 0x118000, 0x11d000);
    EXPECT_EQ(layout.nr_pt_frames, 5u);
    expect_region(layout.boot_stack, 0x11d000, 0x11e000);
    EXPECT_EQ(layout.initial_rsp.raw(), 0x11e000u);
    EXPECT_EQ(layout.v_end.raw(), 0x400000u);
    EXPECT_EQ(layout.pages_in_initial_mapping, 1024u);
}

// pv-abi §1.4 table: test-pv64-example (kernel to 0x111000) and the dump kernel (to 0x112000).
TEST(BootLayout, MatchesPvAbiTableExamples) {
    const BootLayout example = expect_layout(image_spanning(0x100000, 0x111000), 8192);
    expect_region(example.p2m, 0x111000, 0x121000);
    expect_region(example.start_info, 0x121000, 0x122000);
    expect_region(example.page_tables, 0x122000, 0x127000);
    expect_region(example.boot_stack, 0x127000, 0x128000);
    EXPECT_EQ(example.initial_rsp.raw(), 0x128000u);
    EXPECT_EQ(example.nr_pt_frames, 5u);
    EXPECT_EQ(example.v_end.raw(), 0x400000u);

    const BootLayout dump = expect_layout(image_spanning(0x100000, 0x112000), 8192);
    expect_region(dump.p2m, 0x112000, 0x122000);
    expect_region(dump.start_info, 0x122000, 0x123000);
    expect_region(dump.page_tables, 0x123000, 0x128000);
    expect_region(dump.boot_stack, 0x128000, 0x129000);
    EXPECT_EQ(dump.v_end.raw(), 0x400000u);
}

TEST(BootLayout, InitrdSitsBetweenKernelAndP2m) {
    const BootLayout layout = expect_layout(image_spanning(0x100000, 0x10600c), 8192, 0x12345);
    expect_region(layout.initrd, 0x107000, 0x11a000);
    expect_region(layout.p2m, 0x11a000, 0x12a000);
    expect_region(layout.start_info, 0x12a000, 0x12b000);
    expect_region(layout.page_tables, 0x12b000, 0x130000);
    EXPECT_EQ(layout.initial_rsp.raw(), 0x131000u);
}

TEST(BootLayout, P2mOfOddPageCountIsPageRounded) {
    const BootLayout layout = expect_layout(image_spanning(0x100000, 0x10600c), 8193);
    expect_region(layout.p2m, 0x107000, 0x118000);  // 8193 * 8 bytes = 16 pages + 8 bytes
    EXPECT_EQ(layout.start_info.start.raw(), 0x118000u);
}

// Exactly 512 KiB between the stack and the 4 MiB boundary is enough: no extra 4 MiB.
TEST(BootLayout, ExactlyHalfMiBOfPaddingIsEnough) {
    const BootLayout layout = expect_layout(image_spanning(0x100000, 0x371000), 4096);
    expect_region(layout.p2m, 0x371000, 0x379000);
    expect_region(layout.page_tables, 0x37a000, 0x37f000);
    expect_region(layout.boot_stack, 0x37f000, 0x380000);
    EXPECT_EQ(layout.v_end.raw(), 0x400000u);
    EXPECT_EQ(layout.nr_pt_frames, 5u);
}

// One page more leaves less than 512 KiB: v_end moves to 8 MiB, which needs two more L1 tables.
TEST(BootLayout, KernelNearFourMiBBoundaryGetsAnotherFourMiB) {
    const BootLayout layout = expect_layout(image_spanning(0x100000, 0x372000), 4096);
    expect_region(layout.p2m, 0x372000, 0x37a000);
    expect_region(layout.start_info, 0x37a000, 0x37b000);
    expect_region(layout.page_tables, 0x37b000, 0x382000);
    EXPECT_EQ(layout.nr_pt_frames, 7u);
    expect_region(layout.boot_stack, 0x382000, 0x383000);
    EXPECT_EQ(layout.v_end.raw(), 0x800000u);
    EXPECT_EQ(layout.pages_in_initial_mapping, 2048u);
}

TEST(BootLayout, LargeP2mCrossingTwoMiBBoundariesGrowsPageTables) {
    const BootLayout layout = expect_layout(image_spanning(0x100000, 0x111000), u64{1} << 20);  // 4 GiB
    expect_region(layout.p2m, 0x111000, 0x911000);
    expect_region(layout.start_info, 0x911000, 0x912000);
    EXPECT_EQ(layout.nr_pt_frames, 9u);  // L4 + L3 + L2 + 6 L1 for [0, 12 MiB)
    expect_region(layout.page_tables, 0x912000, 0x91b000);
    expect_region(layout.boot_stack, 0x91b000, 0x91c000);
    EXPECT_EQ(layout.v_end.raw(), 0xc00000u);
}

TEST(BootLayout, HugeP2mCrossingOneGiBNeedsTwoL2Tables) {
    const BootLayout layout = expect_layout(image_spanning(0x100000, 0x111000), u64{1} << 27);  // 512 GiB
    expect_region(layout.p2m, 0x111000, 0x40111000);
    // [0, 0x40400000): 1 L4 + 1 L3 + 2 L2 + 514 L1.
    EXPECT_EQ(layout.nr_pt_frames, 518u);
    expect_region(layout.page_tables, 0x40112000, 0x40318000);
    EXPECT_EQ(layout.initial_rsp.raw(), 0x40319000u);
    EXPECT_EQ(layout.v_end.raw(), 0x40400000u);
}

// A Linux-style kernel at 0xffffffff81000000 with VIRT_BASE 0xffffffff80000000 lies above the
// hypervisor's area and is valid; everything from VIRT_BASE up is mapped.
TEST(BootLayout, HighKernelAboveTheHypervisorArea) {
    const PvImage image = image_spanning(0xffffffff81000000, 0xffffffff81200000, 0xffffffff80000000);
    const BootLayout layout = expect_layout(image, 8192);
    EXPECT_EQ(layout.v_start.raw(), 0xffffffff80000000u);
    expect_region(layout.p2m, 0xffffffff81200000, 0xffffffff81210000);
    expect_region(layout.start_info, 0xffffffff81210000, 0xffffffff81211000);
    EXPECT_EQ(layout.nr_pt_frames, 13u);  // L4 + L3 + L2 + 10 L1 for 20 MiB
    expect_region(layout.page_tables, 0xffffffff81211000, 0xffffffff8121e000);
    EXPECT_EQ(layout.initial_rsp.raw(), 0xffffffff8121f000u);
    EXPECT_EQ(layout.v_end.raw(), 0xffffffff81400000u);
    EXPECT_EQ(layout.pages_in_initial_mapping, 5120u);
}

TEST(BootLayout, RejectsTooLittleMemory) {
    const PvImage image = image_spanning(0x100000, 0x10600c);
    expect_error(image, 1023, 0, "domain memory too small for its initial mapping");
    expect_error(image, 0, 0, "domain memory too small for its initial mapping");
    EXPECT_EQ(expect_layout(image, 1024).pages_in_initial_mapping, 1024u);
    expect_error(image_spanning(0xffffffff81000000, 0xffffffff81200000, 0xffffffff80000000), 5119, 0,
                 "domain memory too small for its initial mapping");
}

TEST(BootLayout, RejectsAddressOverflow) {
    const PvImage top = image_spanning(0xffffffffffc00000, 0xffffffffffd00000, 0xffffffffffc00000);
    expect_error(top, 8192, 0, "initial mapping address overflow");
    const PvImage xtf = image_spanning(0x100000, 0x10600c);
    expect_error(xtf, u64{1} << 61, 0, "initial mapping address overflow");  // p2m bytes overflow
    expect_error(xtf, ~u64{0}, 0, "initial mapping address overflow");
    expect_error(xtf, 8192, ~u64{0} - 0x1000, "initial mapping address overflow");
}

TEST(BootLayout, RejectsNonCanonicalMapping) {
    // VIRT_BASE 0 with a high kernel would map across the non-canonical hole.
    expect_error(image_spanning(0xffffffff81000000, 0xffffffff81200000, 0), 8192, 0,
                 "initial mapping is not canonical");
    // A low kernel whose boot regions run past the top of the lower half.
    expect_error(image_spanning(0x7fffffc00000, 0x7ffffffc0000, 0x7fffff800000), 8192, 0,
                 "initial mapping is not canonical");
    // A huge p2m pushes a low mapping past the lower half.
    expect_error(image_spanning(0x100000, 0x111000), u64{1} << 45, 0, "initial mapping is not canonical");
}

TEST(BootLayout, RejectsMappingIntoTheHypervisorArea) {
    const PvImage image = image_spanning(xen::kHypervisorVirtEnd, xen::kHypervisorVirtEnd + 0x10000,
                                         xen::kHypervisorVirtEnd - 0x200000);
    expect_error(image, 8192, 0, "initial mapping reaches into the hypervisor area");
    const PvImage from_start = image_spanning(xen::kHypervisorVirtEnd, xen::kHypervisorVirtEnd + 0x10000,
                                              xen::kHypervisorVirtStart);
    expect_error(from_start, u64{1} << 40, 0, "initial mapping reaches into the hypervisor area");
    EXPECT_EQ(expect_layout(image_spanning(xen::kHypervisorVirtEnd, xen::kHypervisorVirtEnd + 0x10000,
                                           xen::kHypervisorVirtEnd),
                            8192)
                  .v_start.raw(),
              xen::kHypervisorVirtEnd);
}

TEST(BootLayout, RejectsImagesTheParserWouldNot) {
    expect_error(PvImage{}, 8192, 0, "kernel range is invalid");                                // empty
    expect_error(image_spanning(0x100000, 0x100000), 8192, 0, "kernel range is invalid");       // empty
    expect_error(image_spanning(0x100000, 0x200000, 0x200000), 8192, 0, "kernel range is invalid");  // base above
    expect_error(image_spanning(0x100000, 0x200000, 0x800), 8192, 0, "kernel range is invalid");     // unaligned
}

TEST(BootLayout, UnalignedKernelStartKeepsItsExactStart) {
    const BootLayout layout = expect_layout(image_spanning(0x100010, 0x101001), 8192);
    expect_region(layout.kernel, 0x100010, 0x102000);
    EXPECT_EQ(layout.p2m.start.raw(), 0x102000u);
}

TEST(BootLayout, TableCountCountsTouchedRegions) {
    EXPECT_EQ(bootstrap_table_count(Vaddr(0), Vaddr(0x400000)), 5u);
    EXPECT_EQ(bootstrap_table_count(Vaddr(0), Vaddr(0x200000)), 4u);
    EXPECT_EQ(bootstrap_table_count(Vaddr(0x1ff000), Vaddr(0x201000)), 5u);        // two L1s
    EXPECT_EQ(bootstrap_table_count(Vaddr(0x3fe00000), Vaddr(0x40200000)), 6u);    // two L2s
    EXPECT_EQ(bootstrap_table_count(Vaddr(0x7fffe00000), Vaddr(0x8000200000)), 7u);  // two L3s
    EXPECT_EQ(bootstrap_table_count(Vaddr(0xffffffffffe00000), Vaddr(0xfffffffffffff000)), 4u);
    EXPECT_EQ(bootstrap_table_count(Vaddr(0), Vaddr(u64{1} << 47)), 1u + 256 + 256 * 512 + 256 * 512 * 512);
}

// Random kernels, memory sizes and initrds: the regions tile, the padding rule holds, and
// nr_pt_frames is the smallest count that maps the layout it produces.
TEST(BootLayout, RandomLayoutsAreConsistentAndMinimal) {
    std::mt19937_64 rng(4);
    for (int round = 0; round < 3000; ++round) {
        const u64 kstart = 0x100000 + (rng() % 64) * kPageSize;
        const u64 kend = kstart + 1 + rng() % (16 * MiB);
        const u64 nr_pages = u64{1} << (10 + rng() % 14);
        const u64 initrd = rng() % 2 == 0 ? 0 : rng() % (8 * MiB);
        const Result<BootLayout, const char*> result =
            compute_boot_layout(image_spanning(kstart, kend), nr_pages, initrd);
        if (!result.ok()) {
            EXPECT_STREQ(result.error(), "domain memory too small for its initial mapping");
            continue;
        }
        const BootLayout& l = result.value();
        SCOPED_TRACE(testing::Message() << "kend " << kend << " nr_pages " << nr_pages << " initrd " << initrd);
        EXPECT_EQ(l.kernel.end, l.initrd.start);
        EXPECT_EQ(l.initrd.end, l.p2m.start);
        EXPECT_EQ(l.p2m.end, l.start_info.start);
        EXPECT_EQ(l.start_info.end, l.page_tables.start);
        EXPECT_EQ(l.page_tables.end, l.boot_stack.start);
        EXPECT_EQ(l.boot_stack.end, l.initial_rsp);
        EXPECT_EQ(l.kernel.end.raw(), align_up(kend, kPageSize));
        EXPECT_EQ(l.initrd.size_bytes(), align_up(initrd, kPageSize));
        EXPECT_EQ(l.p2m.size_bytes(), align_up(nr_pages * 8, kPageSize));
        EXPECT_EQ(l.start_info.page_count(), 1u);
        EXPECT_EQ(l.boot_stack.page_count(), 1u);
        EXPECT_EQ(l.page_tables.page_count(), l.nr_pt_frames);
        EXPECT_TRUE(is_aligned(l.v_end.raw(), 4 * MiB));
        EXPECT_GE(l.v_end.raw() - l.initial_rsp.raw(), 512 * KiB);
        EXPECT_LT(l.v_end.raw() - l.initial_rsp.raw(), 4 * MiB + 512 * KiB);
        EXPECT_LE(l.pages_in_initial_mapping, nr_pages);
        EXPECT_EQ(l.pages_in_initial_mapping, l.v_end.raw() / kPageSize);
        EXPECT_GE(l.nr_pt_frames, 2u);
        EXPECT_LE(bootstrap_table_count(l.v_start, l.v_end), l.nr_pt_frames);
        EXPECT_EQ(reference_v_end(l.page_tables.start.raw(), l.nr_pt_frames), l.v_end.raw());
        // Minimal: every smaller count (>= 2) would need more tables than it has.
        for (u64 smaller = 2; smaller < l.nr_pt_frames; ++smaller) {
            const u64 v_end = reference_v_end(l.page_tables.start.raw(), smaller);
            ASSERT_GT(bootstrap_table_count(l.v_start, Vaddr(v_end)), smaller) << "smaller count " << smaller;
        }
    }
}

// The built guest kernel end to end, when available (ISOLA_GUEST_ELF=build/guests/hello.elf).
TEST(BootLayout, BuiltGuestKernelMatchesXen417) {
    const char* path = std::getenv("ISOLA_GUEST_ELF");
    if (path == nullptr) GTEST_SKIP() << "set ISOLA_GUEST_ELF to a built guest, e.g. build/guests/hello.elf";
    std::FILE* file = std::fopen(path, "rb");
    ASSERT_NE(file, nullptr) << path;
    std::vector<u8> bytes;
    u8 buffer[4096];
    for (usize n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;) bytes.insert(bytes.end(), buffer, buffer + n);
    std::fclose(file);
    const Result<PvImage, const char*> image = parse_pv_elf(bytes.data(), bytes.size());
    ASSERT_TRUE(image.ok()) << image.error();
    const BootLayout layout = expect_layout(image.value(), 8192);
    EXPECT_EQ(layout.v_end.raw(), 0x400000u);
    EXPECT_EQ(layout.nr_pt_frames, 5u);
    EXPECT_EQ(layout.p2m.start, layout.kernel.end);
    EXPECT_EQ(layout.initial_rsp.raw(), layout.p2m.start.raw() + 0x17000);  // p2m 16 + si 1 + pt 5 + stack 1
}

}  // namespace
}  // namespace hv::pv
