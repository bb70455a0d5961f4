// SPDX-License-Identifier: MIT
// ACPI CPU discovery tests: byte-exact RSDP/RSDT/XSDT/MADT images in fake physical memory,
// hostile tables, and random corruption. [ACPI 6.5 §5.2.5, §5.2.7, §5.2.8, §5.2.12]
#include "hv/boot/acpi.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "support/fake_phys_memory.hpp"

namespace hv::boot {
namespace {

using Bytes = std::vector<u8>;

// ---- Table builders ------------------------------------------------------------------------

void put_le(Bytes& bytes, usize at, u64 value, unsigned size) {
    for (unsigned i = 0; i < size; ++i) bytes[at + i] = static_cast<u8>(value >> (8 * i));
}

void append_le(Bytes& bytes, u64 value, unsigned size) {
    bytes.resize(bytes.size() + size);
    put_le(bytes, bytes.size() - size, value, size);
}

u64 get_le(const Bytes& bytes, usize at, unsigned size) {
    u64 value = 0;
    for (unsigned i = 0; i < size; ++i) value |= u64{bytes[at + i]} << (8 * i);
    return value;
}

u8 sum(const Bytes& bytes, usize begin, usize end) {
    u8 total = 0;
    for (usize i = begin; i < end; ++i) total = static_cast<u8>(total + bytes[i]);
    return total;
}

// Sets bytes[checksum_at] so that bytes [0, end) sum to zero.
void seal(Bytes& bytes, usize checksum_at, usize end) {
    bytes[checksum_at] = 0;
    bytes[checksum_at] = static_cast<u8>(-sum(bytes, 0, end));
}

constexpr usize kSdtHeaderSize = 36;
constexpr usize kSdtLengthAt = 4;
constexpr usize kSdtChecksumAt = 9;

// Re-seals a system description table over the bytes its (possibly edited) length covers,
// as far as this buffer reaches; memory past the buffer is zero in these tests.
void seal_sdt(Bytes& table) {
    const usize length = static_cast<usize>(get_le(table, kSdtLengthAt, 4));
    const usize covered = length < table.size() ? length : table.size();
    if (covered > kSdtChecksumAt) seal(table, kSdtChecksumAt, covered);
}

// A 36-byte SDT header followed by `body`, with length and checksum filled in.
Bytes make_table(const char* signature, const Bytes& body) {
    Bytes table(kSdtHeaderSize);
    std::memcpy(table.data(), signature, 4);
    put_le(table, kSdtLengthAt, kSdtHeaderSize + body.size(), 4);
    table[8] = 1;                                    // revision
    std::memcpy(table.data() + 10, "ISOLA ", 6);     // OEM ID
    std::memcpy(table.data() + 16, "UNITTEST", 8);   // OEM table ID
    put_le(table, 24, 1, 4);                         // OEM revision
    std::memcpy(table.data() + 28, "ISLA", 4);       // creator ID
    put_le(table, 32, 1, 4);                         // creator revision
    table.insert(table.end(), body.begin(), body.end());
    seal_sdt(table);
    return table;
}

Bytes make_rsdt(const std::vector<u64>& tables) {
    Bytes body;
    for (const u64 table : tables) append_le(body, table, 4);
    return make_table("RSDT", body);
}

Bytes make_xsdt(const std::vector<u64>& tables) {
    Bytes body;
    for (const u64 table : tables) append_le(body, table, 8);
    return make_table("XSDT", body);
}

constexpr usize kRsdpV1Size = 20;
constexpr usize kRsdpV2Size = 36;

// Re-seals both RSDP checksums (the extended one only for revision 2 and later).
void seal_rsdp(Bytes& rsdp) {
    seal(rsdp, 8, kRsdpV1Size);
    if (rsdp.size() >= kRsdpV2Size) seal(rsdp, 32, kRsdpV2Size);
}

// Revision 0 is the 20-byte ACPI 1.0 structure; revision 2 adds length, XSDT and extended checksum.
Bytes make_rsdp(u8 revision, u32 rsdt, u64 xsdt = 0) {
    Bytes rsdp(revision >= 2 ? kRsdpV2Size : kRsdpV1Size);
    std::memcpy(rsdp.data(), "RSD PTR ", 8);
    std::memcpy(rsdp.data() + 9, "ISOLA ", 6);
    rsdp[15] = revision;
    put_le(rsdp, 16, rsdt, 4);
    if (revision >= 2) {
        put_le(rsdp, 20, kRsdpV2Size, 4);
        put_le(rsdp, 24, xsdt, 8);
    }
    seal_rsdp(rsdp);
    return rsdp;
}

constexpr u32 kEnabled = 1u << 0;
constexpr u32 kOnlineCapable = 1u << 1;

// MADT type 0: processor local APIC (8 bytes).
Bytes local_apic(u8 uid, u8 apic_id, u32 flags) {
    Bytes entry{0, 8, uid, apic_id};
    append_le(entry, flags, 4);
    return entry;
}

// MADT type 9: processor local x2APIC (16 bytes).
Bytes local_x2apic(u32 x2apic_id, u32 flags, u32 uid) {
    Bytes entry{9, 16, 0, 0};
    append_le(entry, x2apic_id, 4);
    append_le(entry, flags, 4);
    append_le(entry, uid, 4);
    return entry;
}

// MADT type 1: I/O APIC (12 bytes).
Bytes io_apic(u8 id, u32 address, u32 gsi_base) {
    Bytes entry{1, 12, id, 0};
    append_le(entry, address, 4);
    append_le(entry, gsi_base, 4);
    return entry;
}

// MADT type 2: interrupt source override (10 bytes), e.g. ISA IRQ 0 -> GSI 2.
Bytes source_override(u8 irq, u32 gsi) {
    Bytes entry{2, 10, 0, irq};
    append_le(entry, gsi, 4);
    append_le(entry, 0, 2);
    return entry;
}

// MADT type 4: local APIC NMI (6 bytes); its first data byte is a processor UID, not an APIC ID.
Bytes local_apic_nmi() { return Bytes{4, 6, 0xff, 5, 0, 1}; }

constexpr u32 kLapicAddress = 0xfee00000;

Bytes make_madt(const std::vector<Bytes>& entries, u32 lapic = kLapicAddress) {
    Bytes body;
    append_le(body, lapic, 4);
    append_le(body, 1, 4);  // PCAT_COMPAT
    for (const Bytes& entry : entries) body.insert(body.end(), entry.begin(), entry.end());
    return make_table("APIC", body);
}

// ---- Fixture -------------------------------------------------------------------------------

constexpr u64 kBdaEbdaSegment = 0x40e;
constexpr u16 kEbdaSegment = 0x9fc0;
constexpr u64 kEbda = u64{kEbdaSegment} << 4;
constexpr u64 kBiosRsdp = 0xf5a40;
// Tables sit 64 KiB (the parser's table-length limit) apart in zero-filled memory, so a length
// edited upwards only covers zeros and the checksum still holds.
constexpr u64 kRsdt = 0x7f00000;
constexpr u64 kXsdt = 0x7f10000;
constexpr u64 kFacp = 0x7f20000;
constexpr u64 kMadt = 0x7f30000;
constexpr u64 kMadt2 = 0x7f40000;
constexpr u64 kTableArea = 0x7f00000;
constexpr u64 kTableAreaSize = 0x60000;
constexpr u64 kHighMadt = 0x100002000;  // above 4 GiB: only an XSDT can point here
constexpr u64 kUnmapped = 0xc0000000;

struct AcpiTest : ::testing::Test {
    test::FakePhysMemory memory;
    CpuList cpus{};

    void SetUp() override {
        memory.map(0, 1 << 20);  // BDA, EBDA and BIOS area: readable, zero, no RSDP yet
        memory.map(kTableArea, kTableAreaSize);
        std::memset(&cpus, 0xa5, sizeof cpus);  // find_cpus must reset what it reports
    }

    void put(u64 maddr, const Bytes& bytes) { memory.write(maddr, bytes.data(), bytes.size()); }
    void set_ebda(u16 segment) { memory.put(kBdaEbdaSegment, segment); }

    // Two enabled CPUs (APIC IDs 0 and 1) among the usual non-CPU entries.
    static Bytes typical_madt() {
        return make_madt({local_apic(0, 0, kEnabled), local_apic(1, 1, kEnabled), io_apic(2, 0xfec00000, 0),
                          source_override(0, 2), local_apic_nmi()});
    }

    // FACP and `madt` listed by an RSDT, found through a revision 0 RSDP at `rsdp_at`.
    void install_v1(const Bytes& madt, u64 rsdp_at = kBiosRsdp) {
        put(kFacp, make_table("FACP", Bytes(208)));
        put(kMadt, madt);
        put(kRsdt, make_rsdt({kFacp, kMadt}));
        put(rsdp_at, make_rsdp(0, kRsdt));
    }

    Result<void, const char*> find() { return find_cpus(memory.reader(), cpus); }
    std::vector<u32> apic_ids() const { return {cpus.apic_id, cpus.apic_id + cpus.count}; }
};

// ---- Finding the RSDP ----------------------------------------------------------------------

// A revision 0 RSDP in the BIOS area leads through the RSDT to the MADT's CPUs and LAPIC address.
TEST_F(AcpiTest, FindsRsdpInBiosArea) {
    install_v1(typical_madt());
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{0, 1}));
    EXPECT_EQ(cpus.lapic_maddr, kLapicAddress);
}

// The RSDP is also found in the first KiB of the EBDA named by the segment at 0x40E.
TEST_F(AcpiTest, FindsRsdpInEbda) {
    set_ebda(kEbdaSegment);
    install_v1(typical_madt(), kEbda + 0x30);
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{0, 1}));
}

// The EBDA is searched before the BIOS area, so its RSDP wins when both exist.
TEST_F(AcpiTest, PrefersEbdaRsdpOverBiosArea) {
    set_ebda(kEbdaSegment);
    install_v1(typical_madt());  // BIOS-area RSDP -> RSDT -> MADT with CPUs 0, 1
    put(kMadt2, make_madt({local_apic(0, 7, kEnabled)}));
    put(kXsdt, make_rsdt({kMadt2}));  // a second RSDT, just stored at kXsdt
    put(kEbda, make_rsdp(0, static_cast<u32>(kXsdt)));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{7}));
}

// An RSDP beyond the first KiB of the EBDA is not looked for there.
TEST_F(AcpiTest, IgnoresRsdpPastFirstKibOfEbda) {
    set_ebda(kEbdaSegment);
    install_v1(typical_madt(), kEbda + 1024);
    EXPECT_STREQ(find().error(), "no ACPI RSDP found");
}

// A revision 0 RSDP in the last 16-byte slot that holds all 20 of its bytes is found, even
// when nothing past the 1 MiB BIOS area is readable.
TEST_F(AcpiTest, FindsRsdpV1AtEndOfBiosArea) {
    install_v1(typical_madt(), 0xfffe0);
    memory.unmap(0x100000, 0x1000);
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(cpus.count, 2u);
}

// Only 16-byte aligned RSDPs count.
TEST_F(AcpiTest, IgnoresUnalignedRsdp) {
    install_v1(typical_madt(), kBiosRsdp + 4);
    EXPECT_STREQ(find().error(), "no ACPI RSDP found");
}

// With no RSDP anywhere, find_cpus fails with a reason.
TEST_F(AcpiTest, FailsWithoutRsdp) {
    EXPECT_STREQ(find().error(), "no ACPI RSDP found");
}

// An RSDP whose 20-byte checksum is wrong is skipped and the scan goes on to a valid one.
TEST_F(AcpiTest, SkipsRsdpWithBadChecksum) {
    install_v1(typical_madt());
    Bytes bad = make_rsdp(0, static_cast<u32>(kUnmapped));
    bad[8] ^= 1;
    put(0xe0000, bad);  // scanned first
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(cpus.count, 2u);
}

// When the only RSDP has a bad checksum, no RSDP is found.
TEST_F(AcpiTest, FailsWhenOnlyRsdpHasBadChecksum) {
    Bytes rsdp = make_rsdp(0, static_cast<u32>(kRsdt));
    rsdp[16] ^= 0x10;  // RSDT address changed after sealing
    put(kBiosRsdp, rsdp);
    put(kMadt, typical_madt());
    put(kRsdt, make_rsdt({kMadt}));
    EXPECT_STREQ(find().error(), "no ACPI RSDP found");
}

// A revision 2 RSDP with a good 20-byte checksum but a bad extended checksum is rejected.
TEST_F(AcpiTest, RejectsRsdpWithBadExtendedChecksum) {
    put(kMadt, typical_madt());
    put(kXsdt, make_xsdt({kMadt}));
    Bytes rsdp = make_rsdp(2, 0, kXsdt);
    rsdp[32] ^= 1;
    put(kBiosRsdp, rsdp);
    EXPECT_STREQ(find().error(), "no ACPI RSDP found");
}

// ---- RSDT and XSDT -------------------------------------------------------------------------

// A revision 2 RSDP is followed through its XSDT, not its RSDT.
TEST_F(AcpiTest, Revision2UsesXsdt) {
    put(kMadt, make_madt({local_apic(0, 1, kEnabled)}));
    put(kMadt2, make_madt({local_apic(0, 2, kEnabled)}));
    put(kRsdt, make_rsdt({kMadt}));
    put(kXsdt, make_xsdt({kFacp, kMadt2}));
    put(kFacp, make_table("FACP", Bytes(208)));
    put(kBiosRsdp, make_rsdp(2, static_cast<u32>(kRsdt), kXsdt));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{2}));
}

// XSDT entries are full 64-bit addresses, so a MADT above 4 GiB is reached.
TEST_F(AcpiTest, XsdtReachesMadtAbove4GiB) {
    put(kHighMadt, make_madt({local_apic(0, 3, kEnabled)}));
    put(kXsdt, make_xsdt({kHighMadt}));
    put(kBiosRsdp, make_rsdp(2, 0, kXsdt));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{3}));
}

// A revision 2 RSDP with a zero XSDT address falls back to its RSDT.
TEST_F(AcpiTest, Revision2WithoutXsdtUsesRsdt) {
    put(kMadt, make_madt({local_apic(0, 4, kEnabled)}));
    put(kRsdt, make_rsdt({kMadt}));
    put(kBiosRsdp, make_rsdp(2, static_cast<u32>(kRsdt), 0));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{4}));
}

// A root table whose checksum is wrong is an error.
TEST_F(AcpiTest, RejectsRootTableWithBadChecksum) {
    install_v1(typical_madt());
    Bytes rsdt = make_rsdt({kFacp, kMadt});
    rsdt[kSdtChecksumAt] ^= 1;
    put(kRsdt, rsdt);
    EXPECT_STREQ(find().error(), "ACPI root table is unreadable or corrupt");
}

// A root table claiming to be shorter than its own header is rejected.
TEST_F(AcpiTest, RejectsRootTableShorterThanHeader) {
    install_v1(typical_madt());
    Bytes rsdt = make_rsdt({kFacp, kMadt});
    put_le(rsdt, kSdtLengthAt, 20, 4);
    seal(rsdt, kSdtChecksumAt, 20);
    put(kRsdt, rsdt);
    EXPECT_STREQ(find().error(), "ACPI root table is unreadable or corrupt");
}

// A root table with a huge length is rejected without reading (or summing) gigabytes.
TEST_F(AcpiTest, RejectsRootTableWithHugeLength) {
    install_v1(typical_madt());
    Bytes rsdt = make_rsdt({kFacp, kMadt});
    put_le(rsdt, kSdtLengthAt, 0xfffffff0, 4);
    put(kRsdt, rsdt);
    EXPECT_STREQ(find().error(), "ACPI root table is unreadable or corrupt");
    EXPECT_LT(memory.read_count(), 10000u);
}

// An RSDP pointing at unreadable memory is an error, not a crash.
TEST_F(AcpiTest, RejectsRootTableInUnreadableMemory) {
    put(kBiosRsdp, make_rsdp(0, static_cast<u32>(kUnmapped)));
    EXPECT_STREQ(find().error(), "ACPI root table is unreadable or corrupt");
}

// A root table that runs off the end of readable memory is an error.
TEST_F(AcpiTest, RejectsRootTableRunningIntoUnreadableMemory) {
    const u64 rsdt_at = 0x7ffffe0;  // 16 bytes of entries cross into the next page
    put(kMadt, typical_madt());
    put(rsdt_at, make_rsdt({kFacp, kMadt, kMadt2}));
    memory.unmap(0x8000000, 1);
    put(kBiosRsdp, make_rsdp(0, static_cast<u32>(rsdt_at)));
    EXPECT_STREQ(find().error(), "ACPI root table is unreadable or corrupt");
}

// Root entries pointing at unreadable memory are skipped, and later entries still count.
TEST_F(AcpiTest, SkipsRootEntryInUnreadableMemory) {
    install_v1(typical_madt());
    put(kRsdt, make_rsdt({kUnmapped, kMadt}));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(cpus.count, 2u);
}

// Without an APIC table among the root entries, find_cpus fails.
TEST_F(AcpiTest, FailsWithoutMadt) {
    install_v1(typical_madt());
    put(kRsdt, make_rsdt({kFacp}));
    EXPECT_STREQ(find().error(), "ACPI has no valid MADT");
}

// An empty root table (header only) means there is no MADT.
TEST_F(AcpiTest, FailsWithEmptyRootTable) {
    install_v1(typical_madt());
    put(kRsdt, make_rsdt({}));
    EXPECT_STREQ(find().error(), "ACPI has no valid MADT");
}

// ---- MADT validation ----------------------------------------------------------------------

// A MADT with a bad checksum is not used.
TEST_F(AcpiTest, RejectsMadtWithBadChecksum) {
    Bytes madt = typical_madt();
    madt[kSdtChecksumAt] ^= 1;
    install_v1(madt);
    EXPECT_STREQ(find().error(), "ACPI has no valid MADT");
}

// A bad MADT is skipped in favour of a later valid one.
TEST_F(AcpiTest, SkipsBadMadtForLaterValidOne) {
    Bytes bad = make_madt({local_apic(0, 1, kEnabled)});
    bad[kSdtChecksumAt] ^= 1;
    install_v1(bad);
    put(kMadt2, make_madt({local_apic(0, 5, kEnabled)}));
    put(kRsdt, make_rsdt({kMadt, kMadt2}));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{5}));
}

// A MADT claiming to be shorter than the SDT header is rejected.
TEST_F(AcpiTest, RejectsMadtShorterThanHeader) {
    Bytes madt = typical_madt();
    put_le(madt, kSdtLengthAt, 35, 4);
    seal(madt, kSdtChecksumAt, 35);
    install_v1(madt);
    EXPECT_STREQ(find().error(), "ACPI has no valid MADT");
}

// A MADT too short to hold any entry after its fixed fields lists no CPU.
TEST_F(AcpiTest, RejectsMadtWithoutFixedFields) {
    install_v1(make_table("APIC", Bytes{0x00, 0x00, 0xe0, 0xfe}));  // 40 bytes: no flags field
    EXPECT_STREQ(find().error(), "MADT lists no usable CPU");
}

// A MADT with a huge length is rejected.
TEST_F(AcpiTest, RejectsMadtWithHugeLength) {
    Bytes madt = typical_madt();
    put_le(madt, kSdtLengthAt, 0x80000000, 4);
    install_v1(madt);
    EXPECT_STREQ(find().error(), "ACPI has no valid MADT");
}

// A MADT just over the 64 KiB table limit is rejected even though its checksum holds.
TEST_F(AcpiTest, RejectsMadtOverLengthLimit) {
    Bytes madt = typical_madt();
    put_le(madt, kSdtLengthAt, 64 * 1024 + 1, 4);
    seal_sdt(madt);  // the rest of the 64 KiB is zero
    install_v1(madt);
    EXPECT_STREQ(find().error(), "ACPI has no valid MADT");
}

// An entry of length 0 is an error rather than an endless loop.
TEST_F(AcpiTest, RejectsMadtEntryOfLengthZero) {
    install_v1(make_madt({local_apic(0, 0, kEnabled), Bytes{0, 0, 0, 0, 0, 0, 0, 0}}));
    EXPECT_STREQ(find().error(), "MADT entry is malformed");
    EXPECT_LT(memory.read_count(), 10000u);
}

// An entry of length 1 is an error rather than an endless loop.
TEST_F(AcpiTest, RejectsMadtEntryOfLengthOne) {
    install_v1(make_madt({local_apic(0, 0, kEnabled), Bytes{5, 1, 0, 0, 0, 0, 0, 0}}));
    EXPECT_STREQ(find().error(), "MADT entry is malformed");
    EXPECT_LT(memory.read_count(), 10000u);
}

// An entry whose length runs past the end of the MADT is an error.
TEST_F(AcpiTest, RejectsMadtEntryOverrunningTable) {
    Bytes x2apic = local_x2apic(0x100, kEnabled, 0);
    x2apic.resize(12);  // the table ends 4 bytes before the entry does
    install_v1(make_madt({local_apic(0, 0, kEnabled), x2apic}));
    EXPECT_STREQ(find().error(), "MADT entry overruns the table");
}

// A trailing single byte (too short for an entry header) is ignored.
TEST_F(AcpiTest, IgnoresTrailingByteAfterLastEntry) {
    Bytes madt = make_madt({local_apic(0, 0, kEnabled)});
    madt.push_back(0);
    put_le(madt, kSdtLengthAt, madt.size(), 4);
    seal_sdt(madt);
    install_v1(madt);
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(cpus.count, 1u);
}

// ---- MADT entries --------------------------------------------------------------------------

// Enabled local APICs are listed in MADT order.
TEST_F(AcpiTest, ListsEnabledLocalApicsInOrder) {
    install_v1(make_madt({local_apic(0, 4, kEnabled), local_apic(1, 0, kEnabled), local_apic(2, 2, kEnabled)}));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{4, 0, 2}));
}

// Local APICs with neither the enabled nor the online-capable flag are left out.
TEST_F(AcpiTest, SkipsDisabledLocalApic) {
    install_v1(make_madt({local_apic(0, 0, kEnabled), local_apic(1, 1, 0), local_apic(2, 2, 0xfffffffc)}));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{0}));
}

// Online-capable (not yet enabled) local APICs are listed, as acpi.hpp documents.
TEST_F(AcpiTest, ListsOnlineCapableLocalApic) {
    install_v1(make_madt({local_apic(0, 0, kEnabled), local_apic(1, 6, kOnlineCapable)}));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{0, 6}));
}

// Local x2APIC entries contribute their full 32-bit APIC IDs, after the same flag rules.
TEST_F(AcpiTest, ListsLocalX2Apics) {
    install_v1(make_madt({local_x2apic(0x12345678, kEnabled, 1), local_x2apic(0x100, 0, 2),
                          local_x2apic(0x101, kOnlineCapable, 3)}));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{0x12345678, 0x101}));
}

// Local APIC and x2APIC entries are listed together in table order.
TEST_F(AcpiTest, ListsMixedApicAndX2ApicEntries) {
    install_v1(make_madt({local_apic(0, 0, kEnabled), local_x2apic(0x300, kEnabled, 1), local_apic(2, 1, kEnabled)}));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{0, 0x300, 1}));
}

// I/O APIC, override, NMI and unknown entry types are stepped over by their lengths.
TEST_F(AcpiTest, SkipsUnrelatedEntryTypes) {
    const Bytes unknown{0x7f, 5, 0, 1, 1};  // would be read as a CPU if types were ignored
    install_v1(make_madt({io_apic(0, 0xfec00000, 0), unknown, source_override(9, 9), local_apic_nmi(),
                          local_apic(0, 3, kEnabled)}));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{3}));
}

// CPU entries shorter than their defined size are skipped instead of read past.
TEST_F(AcpiTest, SkipsTruncatedCpuEntries) {
    Bytes short_lapic = local_apic(0, 8, kEnabled);
    short_lapic.resize(6);
    short_lapic[1] = 6;
    Bytes short_x2apic = local_x2apic(9, kEnabled, 0);
    short_x2apic.resize(12);
    short_x2apic[1] = 12;
    install_v1(make_madt({short_lapic, short_x2apic, local_apic(0, 1, kEnabled)}));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(apic_ids(), (std::vector<u32>{1}));
}

// The MADT's local APIC address is reported even when it is not the usual 0xFEE00000.
TEST_F(AcpiTest, ReportsLocalApicAddress) {
    install_v1(make_madt({local_apic(0, 0, kEnabled)}, 0xfed00000));
    ASSERT_TRUE(find().ok());
    EXPECT_EQ(cpus.lapic_maddr, 0xfed00000u);
}

// A MADT whose CPUs are all disabled is an error.
TEST_F(AcpiTest, FailsWhenNoCpuIsUsable) {
    install_v1(make_madt({local_apic(0, 0, 0), io_apic(1, 0xfec00000, 0)}));
    EXPECT_STREQ(find().error(), "MADT lists no usable CPU");
}

// More CPUs than kMaxCpusFound are capped at the first kMaxCpusFound, with no overflow.
TEST_F(AcpiTest, CapsCpuCountAtMax) {
    std::vector<Bytes> entries;
    for (unsigned i = 0; i < 200; ++i) {
        entries.push_back(i % 2 == 0 ? local_apic(static_cast<u8>(i), static_cast<u8>(i), kEnabled)
                                     : local_x2apic(i, kEnabled, i));
    }
    install_v1(make_madt(entries));
    ASSERT_TRUE(find().ok());
    ASSERT_EQ(cpus.count, kMaxCpusFound);
    for (unsigned i = 0; i < kMaxCpusFound; ++i) EXPECT_EQ(cpus.apic_id[i], i);
}

// A failed search leaves no stale CPUs from the caller's buffer behind.
TEST_F(AcpiTest, ClearsCountOnFailure) {
    EXPECT_FALSE(find().ok());
    EXPECT_EQ(cpus.count, 0u);
}

// ---- Random corruption ---------------------------------------------------------------------

// Random byte corruption of a valid RSDP/RSDT/XSDT/MADT set, sometimes re-sealed so that it
// gets past the checksums, always ends in ok or an error (ASan/UBSan catch the rest).
TEST_F(AcpiTest, SurvivesRandomCorruption) {
    std::mt19937_64 random(0x15014acd);  // fixed seed: every failure reproduces
    std::map<std::string, unsigned> outcomes;
    std::vector<Bytes> entries;
    for (unsigned i = 0; i < 6; ++i) entries.push_back(local_apic(static_cast<u8>(i), static_cast<u8>(i), kEnabled));
    entries.push_back(local_x2apic(0x200, kEnabled, 6));
    entries.push_back(local_x2apic(0x201, kOnlineCapable, 7));
    entries.push_back(io_apic(8, 0xfec00000, 0));
    entries.push_back(source_override(0, 2));
    entries.push_back(local_apic_nmi());
    entries.push_back(local_apic(8, 8, 0));
    const Bytes good_madt = make_madt(entries);
    put(kFacp, make_table("FACP", Bytes(208)));

    for (unsigned round = 0; round < 5000; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const u8 revision = random() % 2 == 0 ? 0 : 2;
        Bytes rsdp = make_rsdp(revision, static_cast<u32>(kRsdt), kXsdt);
        Bytes rsdt = make_rsdt({kFacp, kMadt});
        Bytes xsdt = make_xsdt({kFacp, kMadt});
        Bytes madt = good_madt;
        Bytes* const targets[] = {&rsdp, &rsdt, &xsdt, &madt, &madt, &madt, &madt, &madt};
        const unsigned flips = 1 + static_cast<unsigned>(random() % 6);
        for (unsigned i = 0; i < flips; ++i) {
            Bytes& target = *targets[random() % std::size(targets)];
            const u8 value = random() % 4 == 0 ? static_cast<u8>(random() % 3) : static_cast<u8>(random());
            target[random() % target.size()] = value;  // small values hit lengths 0, 1 and 2 often
        }
        if (random() % 4 != 0) {  // mostly re-seal, so the corruption reaches the parsers
            seal_rsdp(rsdp);
            seal_sdt(rsdt);
            seal_sdt(xsdt);
            seal_sdt(madt);
        }
        put(kBiosRsdp, Bytes(kRsdpV2Size));  // no bytes left over from a longer RSDP
        put(kBiosRsdp, rsdp);
        put(kRsdt, rsdt);
        put(kXsdt, xsdt);
        put(kMadt, madt);

        const auto result = find();
        if (result.ok()) {
            ASSERT_GE(cpus.count, 1u);
            ASSERT_LE(cpus.count, kMaxCpusFound);
            ++outcomes["ok"];
        } else {
            ASSERT_NE(result.error(), nullptr);
            ASSERT_NE(result.error()[0], '\0');
            ++outcomes[result.error()];
        }
    }
    // The corruption must actually reach the deep paths, or this test proves little.
    EXPECT_GT(outcomes["ok"], 0u);
    EXPECT_GT(outcomes["MADT entry is malformed"], 0u);
    EXPECT_GT(outcomes["MADT entry overruns the table"], 0u);
    EXPECT_GT(outcomes["no ACPI RSDP found"], 0u);
    EXPECT_GT(outcomes["ACPI has no valid MADT"], 0u);
}

}  // namespace
}  // namespace hv::boot
