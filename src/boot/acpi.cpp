// SPDX-License-Identifier: MIT
// ACPI table discovery for the CPU list. [ACPI 6.5 §5.2.5 RSDP, §5.2.7 RSDT, §5.2.8 XSDT, §5.2.12 MADT]
#include "hv/boot/acpi.hpp"

namespace hv::boot {
namespace {

using AcpiError = Error<const char*>;

struct [[gnu::packed]] Rsdp {
    char signature[8];
    u8 checksum;
    char oem_id[6];
    u8 revision;
    u32 rsdt_address;
    u32 length;  // revision >= 2 from here on
    u64 xsdt_address;
    u8 extended_checksum;
    u8 reserved[3];
};

struct [[gnu::packed]] SdtHeader {
    char signature[4];
    u32 length;
    u8 revision;
    u8 checksum;
    char oem_id[6];
    char oem_table_id[8];
    u32 oem_revision;
    u32 creator_id;
    u32 creator_revision;
};
static_assert(sizeof(SdtHeader) == 36);

constexpr u32 kMaxTableLength = 64 * 1024;
constexpr usize kMaxRootEntries = 256;

bool same(const char* a, const char* b, usize length) {
    for (usize i = 0; i < length; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

// Sums `length` bytes at `maddr`; false if unreadable.
bool checksum_ok(const PhysReader& memory, u64 maddr, u32 length) {
    u8 sum = 0;
    u8 chunk[64];
    for (u32 done = 0; done < length;) {
        const u32 step = length - done < sizeof chunk ? length - done : sizeof chunk;
        if (!memory.read(maddr + done, chunk, step)) return false;
        for (u32 i = 0; i < step; ++i) sum = static_cast<u8>(sum + chunk[i]);
        done += step;
    }
    return sum == 0;
}

bool find_rsdp_in(const PhysReader& memory, u64 start, u64 end, Rsdp& out) {
    for (u64 maddr = start; maddr + 20 <= end; maddr += 16) {
        char signature[8];
        if (!memory.read(maddr, signature, sizeof signature) || !same(signature, "RSD PTR ", 8)) continue;
        // Revision 0 has only the first 20 bytes: read no further unless revision says so.
        out = Rsdp{};
        if (!checksum_ok(memory, maddr, 20) || !memory.read(maddr, &out, 20)) continue;
        if (out.revision >= 2 && (!checksum_ok(memory, maddr, sizeof(Rsdp)) || !memory.read(maddr, &out, sizeof out)))
            continue;
        return true;
    }
    return false;
}

bool find_rsdp(const PhysReader& memory, Rsdp& out) {
    u16 ebda_segment = 0;
    if (memory.read(0x40e, &ebda_segment, sizeof ebda_segment) && ebda_segment != 0) {
        const u64 ebda = u64{ebda_segment} << 4;
        if (find_rsdp_in(memory, ebda, ebda + 1024, out)) return true;
    }
    return find_rsdp_in(memory, 0xe0000, 0x100000, out);
}

// Reads and checks the header of the table at `maddr`.
bool read_table(const PhysReader& memory, u64 maddr, SdtHeader& header) {
    if (!memory.read(maddr, &header, sizeof header)) return false;
    if (header.length < sizeof header || header.length > kMaxTableLength) return false;
    return checksum_ok(memory, maddr, header.length);
}

Result<u64, const char*> find_madt(const PhysReader& memory, const Rsdp& rsdp) {
    const bool use_xsdt = rsdp.revision >= 2 && rsdp.xsdt_address != 0;
    const u64 root = use_xsdt ? rsdp.xsdt_address : rsdp.rsdt_address;
    const u32 entry_size = use_xsdt ? 8 : 4;
    SdtHeader header{};
    if (!read_table(memory, root, header)) return AcpiError{"ACPI root table is unreadable or corrupt"};
    const usize entries = (header.length - sizeof header) / entry_size;
    for (usize i = 0; i < entries && i < kMaxRootEntries; ++i) {
        u64 table = 0;
        if (!memory.read(root + sizeof header + i * entry_size, &table, entry_size)) continue;
        SdtHeader candidate{};
        if (read_table(memory, table, candidate) && same(candidate.signature, "APIC", 4)) return table;
    }
    return AcpiError{"ACPI has no valid MADT"};
}

void add_cpu(CpuList& out, u32 apic_id, u32 flags) {
    const bool usable = (flags & 0x3) != 0;  // enabled, or online capable
    if (usable && out.count < kMaxCpusFound) out.apic_id[out.count++] = apic_id;
}

Result<void, const char*> parse_madt(const PhysReader& memory, u64 madt, CpuList& out) {
    SdtHeader header{};
    u32 lapic = 0;
    if (!read_table(memory, madt, header) || !memory.read(madt + sizeof header, &lapic, sizeof lapic))
        return AcpiError{"MADT is unreadable"};
    out.lapic_maddr = lapic;
    for (u64 offset = sizeof header + 8; offset + 2 <= header.length;) {
        u8 entry[16] = {};
        if (!memory.read(madt + offset, entry, 2) || entry[1] < 2) return AcpiError{"MADT entry is malformed"};
        const u8 length = entry[1];
        if (offset + length > header.length) return AcpiError{"MADT entry overruns the table"};
        if (!memory.read(madt + offset, entry, length < sizeof entry ? length : sizeof entry))
            return AcpiError{"MADT is unreadable"};
        auto field32 = [&](unsigned at) { return u32{entry[at]} | u32{entry[at + 1]} << 8 | u32{entry[at + 2]} << 16 |
                                                 u32{entry[at + 3]} << 24; };
        if (entry[0] == 0 && length >= 8) add_cpu(out, entry[3], field32(4));       // local APIC
        if (entry[0] == 9 && length >= 16) add_cpu(out, field32(4), field32(8));    // local x2APIC
        offset += length;
    }
    return {};
}

}  // namespace

Result<void, const char*> find_cpus(const PhysReader& memory, CpuList& out) {
    out.count = 0;
    out.lapic_maddr = 0;
    Rsdp rsdp{};
    if (!find_rsdp(memory, rsdp)) return AcpiError{"no ACPI RSDP found"};
    const auto madt = find_madt(memory, rsdp);
    if (!madt.ok()) return AcpiError{madt.error()};
    HV_TRY(parse_madt(memory, madt.value(), out));
    if (out.count == 0) return AcpiError{"MADT lists no usable CPU"};
    return {};
}

}  // namespace hv::boot
