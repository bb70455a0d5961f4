// SPDX-License-Identifier: MIT
// Tests of the Xen PV kernel ELF parser against images built in memory.
#include "hv/pv/elf_image.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

using Bytes = std::vector<u8>;

// ELF64 field offsets, written out independently of the parser. [System V gABI ch. 4, 5]
constexpr usize kEhdrSize = 64;
constexpr usize kPhdrSize = 56;
constexpr usize kEIdentClass = 4, kEIdentData = 5, kEIdentVersion = 6;
constexpr usize kEType = 16, kEMachine = 18, kEEntry = 24, kEPhoff = 32, kEPhentsize = 54, kEPhnum = 56;
constexpr usize kPType = 0, kPOffset = 8, kPFilesz = 32;
constexpr u32 kPtLoad = 1, kPtNote = 4, kPtGnuStack = 0x6474e551;

void put(Bytes& bytes, usize offset, u64 value, usize width) {
    for (usize i = 0; i < width; ++i) bytes[offset + i] = i < 8 ? static_cast<u8>(value >> (8 * i)) : 0;
}
u64 get(const Bytes& bytes, usize offset, usize width) {
    u64 value = 0;
    for (usize i = width; i-- > 0;) value = (value << 8) | bytes[offset + i];
    return value;
}

Bytes note_string(const std::string& text, bool nul = true) {
    Bytes bytes(text.begin(), text.end());
    if (nul) bytes.push_back(0);
    return bytes;
}
Bytes note_number(u64 value, usize width = 8) {
    Bytes bytes(width);
    put(bytes, 0, value, width);
    return bytes;
}

struct Note {
    std::string owner;
    u32 type;
    Bytes desc;
};

struct NoteSegment {
    u64 align = 4;
    std::vector<Note> notes;
    Bytes trailing;  // raw bytes appended after the notes
};

struct Segment {
    u32 type;
    u64 paddr, vaddr, filesz, memsz;
};

// Builds an ELF64 image: header | program headers | load contents | note segments.
class ElfBuilder {
  public:
    u8 elf_class = 2, data_encoding = 1, version = 1;
    u16 type = 2, machine = 62;
    u64 entry = 0x100000;
    std::vector<Segment> segments;
    std::vector<NoteSegment> note_segments;

    ElfBuilder& load(u64 paddr, u64 filesz, u64 memsz, Optional<u64> vaddr = {}) {
        segments.push_back({kPtLoad, paddr, vaddr.value_or(paddr), filesz, memsz});
        return *this;
    }
    ElfBuilder& other_segment(u32 segment_type) {
        segments.push_back({segment_type, 0, 0, 0, 0});
        return *this;
    }
    ElfBuilder& note(u32 note_type, Bytes desc, std::string owner = "Xen") {
        if (note_segments.empty()) note_segments.emplace_back();
        note_segments.back().notes.push_back({std::move(owner), note_type, std::move(desc)});
        return *this;
    }
    ElfBuilder& new_note_segment(u64 align = 4) {
        note_segments.push_back(NoteSegment{align, {}, {}});
        return *this;
    }
    // Replaces every Xen note of `note_type` with one carrying `desc`.
    ElfBuilder& set_note(u32 note_type, Bytes desc) {
        drop_note(note_type);
        return note(note_type, std::move(desc));
    }
    ElfBuilder& drop_note(u32 note_type) {
        for (NoteSegment& segment : note_segments)
            std::erase_if(segment.notes, [&](const Note& n) { return n.type == note_type && n.owner == "Xen"; });
        return *this;
    }

    usize phnum() const { return segments.size() + note_segments.size(); }
    static usize phdr_offset(usize index) { return kEhdrSize + index * kPhdrSize; }
    // Program-header index of note segment `i`.
    usize note_phdr(usize i) const { return segments.size() + i; }

    Bytes build() const {
        Bytes image(kEhdrSize + phnum() * kPhdrSize, 0);
        write_header(image);
        for (usize i = 0; i < segments.size(); ++i) {
            const Segment& s = segments[i];
            const u64 offset = s.filesz != 0 ? append_aligned(image, fill_bytes(s.filesz), 16) : 0;
            write_phdr(image, i, s.type, offset, s.vaddr, s.paddr, s.filesz, s.memsz, 0x1000);
        }
        for (usize i = 0; i < note_segments.size(); ++i) {
            const Bytes notes = encode(note_segments[i]);
            const u64 offset = append_aligned(image, notes, 8);
            write_phdr(image, note_phdr(i), kPtNote, offset, 0, 0, notes.size(), notes.size(),
                       note_segments[i].align);
        }
        return image;
    }

  private:
    static Bytes fill_bytes(u64 size) {
        Bytes bytes(size);
        for (u64 i = 0; i < size; ++i) bytes[i] = static_cast<u8>(i * 7);
        return bytes;
    }
    static u64 append_aligned(Bytes& image, const Bytes& contents, usize align) {
        while (image.size() % align != 0) image.push_back(0);
        const u64 offset = image.size();
        image.insert(image.end(), contents.begin(), contents.end());
        return offset;
    }
    static void pad(Bytes& bytes, u64 align) {
        while (bytes.size() % align != 0) bytes.push_back(0);
    }
    static Bytes encode(const NoteSegment& segment) {
        Bytes out;
        for (const Note& n : segment.notes) {
            const usize namesz = n.owner.empty() ? 0 : n.owner.size() + 1;
            const usize at = out.size();
            out.resize(at + 12);
            put(out, at, namesz, 4);
            put(out, at + 4, n.desc.size(), 4);
            put(out, at + 8, n.type, 4);
            out.insert(out.end(), n.owner.begin(), n.owner.end());
            if (namesz != 0) out.push_back(0);
            pad(out, segment.align);
            out.insert(out.end(), n.desc.begin(), n.desc.end());
            pad(out, segment.align);
        }
        out.insert(out.end(), segment.trailing.begin(), segment.trailing.end());
        return out;
    }
    void write_header(Bytes& image) const {
        const u8 ident[] = {0x7f, 'E', 'L', 'F', elf_class, data_encoding, version};
        std::memcpy(image.data(), ident, sizeof ident);
        put(image, kEType, type, 2);
        put(image, kEMachine, machine, 2);
        put(image, 20, 1, 4);  // e_version
        put(image, kEEntry, entry, 8);
        put(image, kEPhoff, kEhdrSize, 8);
        put(image, 52, kEhdrSize, 2);  // e_ehsize
        put(image, kEPhentsize, kPhdrSize, 2);
        put(image, kEPhnum, phnum(), 2);
    }
    static void write_phdr(Bytes& image, usize index, u32 segment_type, u64 offset, u64 vaddr, u64 paddr,
                           u64 filesz, u64 memsz, u64 align) {
        const usize at = phdr_offset(index);
        put(image, at + kPType, segment_type, 4);
        put(image, at + 4, 7, 4);  // p_flags RWX
        put(image, at + kPOffset, offset, 8);
        put(image, at + 16, vaddr, 8);
        put(image, at + 24, paddr, 8);
        put(image, at + kPFilesz, filesz, 8);
        put(image, at + 40, memsz, 8);
        put(image, at + 48, align, 8);
    }
};

// What XTF's test-pv64-* kernels look like (pv-abi §1.1, §1.2), with hello.elf's extent.
ElfBuilder xtf_like(u64 filesz = 0x2000) {
    ElfBuilder builder;
    builder.load(0x100000, filesz, 0x600c)
        .note(xen::kNoteGuestOs, note_string("XTF"))
        .note(xen::kNoteGuestVersion, note_string("0"))
        .note(xen::kNoteLoader, note_string("generic"))
        .note(xen::kNoteHypercallPage, note_number(0x101000))
        .note(xen::kNoteXenVersion, note_string("xen-3.0"))
        .note(xen::kNoteFeatures, note_string("!writable_page_tables|pae_pgdir_above_4gb"))
        .note(xen::kNotePaeMode, note_string("yes"));
    return builder;
}

// A Linux-style high kernel: p_paddr is physical, VIRT_BASE moves it to the top 2 GiB.
ElfBuilder linux_like() {
    ElfBuilder builder;
    builder.entry = 0x1000000;  // Linux's e_entry is physical; the ENTRY note wins
    builder.load(0x1000000, 0x100, 0x3000, u64{0xffffffff81000000})
        .load(0x1200000, 0x80, 0x5000, u64{0xffffffff81200000})
        .note(xen::kNoteGuestOs, note_string("linux"))
        .note(xen::kNoteGuestVersion, note_string("2.6"))
        .note(xen::kNoteXenVersion, note_string("xen-3.0"))
        .note(xen::kNoteVirtBase, note_number(0xffffffff80000000))
        .note(xen::kNotePaddrOffset, note_number(0))
        .note(xen::kNoteEntry, note_number(0xffffffff81000200))
        .note(xen::kNoteHypercallPage, note_number(0xffffffff81001000))
        .note(xen::kNoteFeatures, note_string("!writable_page_tables|writable_descriptor_tables|"
                                              "auto_translated_physmap|supervisor_mode_kernel|dom0"));
    return builder;
}

Result<PvImage, const char*> parse(const Bytes& image) { return parse_pv_elf(image.data(), image.size()); }

// Expects the image to be rejected with exactly `reason`.
void expect_rejected(const Bytes& image, const char* reason) {
    const Result<PvImage, const char*> result = parse(image);
    ASSERT_FALSE(result.ok()) << "expected: " << reason;
    EXPECT_STREQ(result.error(), reason);
}
void expect_rejected(const ElfBuilder& builder, const char* reason) { expect_rejected(builder.build(), reason); }

PvImage expect_parsed(const Bytes& image) {
    const Result<PvImage, const char*> result = parse(image);
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error());
    return result.ok() ? result.value() : PvImage{};
}
PvImage expect_parsed(const ElfBuilder& builder) { return expect_parsed(builder.build()); }

// ---- Accepted images ----

TEST(ElfImage, ParsesXtfLikeImage) {
    const ElfBuilder builder = xtf_like();
    const Bytes bytes = builder.build();
    const PvImage image = expect_parsed(bytes);
    EXPECT_EQ(image.entry.raw(), 0x100000u);
    EXPECT_EQ(image.virt_base.raw(), 0u);
    EXPECT_EQ(image.virt_offset, 0u);
    EXPECT_EQ(image.virt_kstart.raw(), 0x100000u);
    EXPECT_EQ(image.virt_kend.raw(), 0x10600cu);
    ASSERT_TRUE(image.hypercall_page.has_value());
    EXPECT_EQ(image.hypercall_page.value().raw(), 0x101000u);
    ASSERT_EQ(image.segment_count, 1u);
    EXPECT_EQ(image.segments[0].file_offset, get(bytes, ElfBuilder::phdr_offset(0) + kPOffset, 8));
    EXPECT_EQ(image.segments[0].file_size, 0x2000u);
    EXPECT_EQ(image.segments[0].vaddr.raw(), 0x100000u);
    EXPECT_EQ(image.segments[0].mem_size, 0x600cu);
    EXPECT_STREQ(image.guest_os, "XTF");
    EXPECT_STREQ(image.loader, "generic");
    EXPECT_STREQ(image.xen_version, "xen-3.0");
    EXPECT_STREQ(image.features, "!writable_page_tables|pae_pgdir_above_4gb");
    EXPECT_EQ(image.required_features, feature_bit(XenFeature::WritablePageTables));
    EXPECT_EQ(image.optional_features, feature_bit(XenFeature::PaePgdirAbove4gb));
}

TEST(ElfImage, DefaultsWhenOptionalNotesAreAbsent) {
    ElfBuilder builder = xtf_like();
    builder.drop_note(xen::kNoteHypercallPage).drop_note(xen::kNoteFeatures).drop_note(xen::kNoteGuestOs);
    builder.entry = 0x100040;
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(image.entry.raw(), 0x100040u);  // e_entry
    EXPECT_FALSE(image.hypercall_page.has_value());
    EXPECT_EQ(image.required_features, 0u);
    EXPECT_EQ(image.optional_features, 0u);
    EXPECT_STREQ(image.guest_os, "");
    EXPECT_STREQ(image.features, "");
}

TEST(ElfImage, EntryNoteOverridesElfEntry) {
    ElfBuilder builder = xtf_like();
    builder.note(xen::kNoteEntry, note_number(0x100100));
    EXPECT_EQ(expect_parsed(builder).entry.raw(), 0x100100u);
}

TEST(ElfImage, LinuxStyleHighKernelUsesVirtBaseAndPaddr) {
    const PvImage image = expect_parsed(linux_like());
    EXPECT_EQ(image.virt_base.raw(), 0xffffffff80000000u);
    EXPECT_EQ(image.virt_offset, 0xffffffff80000000u);
    EXPECT_EQ(image.virt_kstart.raw(), 0xffffffff81000000u);
    EXPECT_EQ(image.virt_kend.raw(), 0xffffffff81205000u);
    EXPECT_EQ(image.entry.raw(), 0xffffffff81000200u);
    EXPECT_EQ(image.hypercall_page.value().raw(), 0xffffffff81001000u);
    ASSERT_EQ(image.segment_count, 2u);
    EXPECT_EQ(image.segments[0].vaddr.raw(), 0xffffffff81000000u);
    EXPECT_EQ(image.segments[1].vaddr.raw(), 0xffffffff81200000u);
    EXPECT_EQ(image.segments[1].file_size, 0x80u);
    EXPECT_EQ(image.segments[1].mem_size, 0x5000u);
    EXPECT_STREQ(image.loader, "");  // no LOADER note: accepted because GUEST_OS is "linux"
    EXPECT_EQ(image.required_features, feature_bit(XenFeature::WritablePageTables));
    EXPECT_EQ(image.optional_features,
              feature_bit(XenFeature::WritableDescriptorTables) | feature_bit(XenFeature::AutoTranslatedPhysmap) |
                  feature_bit(XenFeature::SupervisorModeKernel) | feature_bit(XenFeature::Dom0));
}

TEST(ElfImage, PaddrOffsetEqualToVirtBaseMeansPaddrIsVirtual) {
    ElfBuilder builder;
    builder.entry = 0xffffffff81000000;
    builder.load(0xffffffff81000000, 0x1000, 0x2000)
        .note(xen::kNoteLoader, note_string("generic"))
        .note(xen::kNoteXenVersion, note_string("xen-3.0"))
        .note(xen::kNoteVirtBase, note_number(0xffffffff80000000))
        .note(xen::kNotePaddrOffset, note_number(0xffffffff80000000));
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(image.virt_offset, 0u);
    EXPECT_EQ(image.virt_kstart.raw(), 0xffffffff81000000u);
    EXPECT_EQ(image.virt_kend.raw(), 0xffffffff81002000u);
}

TEST(ElfImage, PaddrOffsetAboveVirtBaseMovesTheKernelDown) {
    ElfBuilder builder = xtf_like();
    builder.entry = 0x80000;
    builder.drop_note(xen::kNoteHypercallPage)
        .note(xen::kNotePaddrOffset, note_number(0x80000));  // virt_offset = -0x80000 (mod 2^64)
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(image.virt_offset, ~u64{0} - 0x80000 + 1);
    EXPECT_EQ(image.virt_kstart.raw(), 0x80000u);
    EXPECT_EQ(image.segments[0].vaddr.raw(), 0x80000u);
}

TEST(ElfImage, AcceptsFourByteNumericNotes) {
    ElfBuilder builder = xtf_like();
    builder.set_note(xen::kNoteHypercallPage, note_number(0x102000, 4)).note(xen::kNoteEntry, note_number(0x100010, 4));
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(image.hypercall_page.value().raw(), 0x102000u);
    EXPECT_EQ(image.entry.raw(), 0x100010u);
}

TEST(ElfImage, AcceptsEightByteAlignedNoteSegment) {
    ElfBuilder builder;
    builder.load(0x100000, 0x100, 0x2000).new_note_segment(8);
    builder.note(xen::kNoteGuestOs, note_string("XTF-with-a-long-name"))  // 21 bytes: padded to 24
        .note(xen::kNoteLoader, note_string("generic"))
        .note(xen::kNoteXenVersion, note_string("xen-3.0"))
        .note(xen::kNoteHypercallPage, note_number(0x101000));
    const PvImage image = expect_parsed(builder);
    EXPECT_STREQ(image.guest_os, "XTF-with-a-long-name");
    EXPECT_EQ(image.hypercall_page.value().raw(), 0x101000u);
}

TEST(ElfImage, IgnoresNotesOfOtherOwnersAndUnknownXenNotes) {
    ElfBuilder builder = xtf_like();
    builder.note(xen::kNoteHypercallPage, note_number(0xdead), "GNU")
        .note(xen::kNoteLoader, note_string("elsewhere"), "Xe")
        .note(xen::kNoteLoader, note_string("elsewhere"), "XenX")
        .note(xen::kNoteLoader, note_string("elsewhere"), "")
        .note(99, note_number(0, 3))
        .note(xen::kNoteSuspendCancel, note_number(1, 4));
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(image.hypercall_page.value().raw(), 0x101000u);
    EXPECT_STREQ(image.loader, "generic");
}

TEST(ElfImage, ReadsNotesFromEveryNoteSegment) {
    ElfBuilder builder;
    builder.load(0x100000, 0x100, 0x3000)
        .note(xen::kNoteLoader, note_string("generic"))
        .new_note_segment()
        .note(xen::kNoteXenVersion, note_string("xen-3.0"))
        .new_note_segment()  // an empty note segment is fine
        .new_note_segment()
        .note(xen::kNoteHypercallPage, note_number(0x102000));
    EXPECT_EQ(expect_parsed(builder).hypercall_page.value().raw(), 0x102000u);
}

TEST(ElfImage, LaterNoteReplacesEarlierOne) {
    ElfBuilder builder = xtf_like();
    builder.note(xen::kNoteHypercallPage, note_number(0x103000))
        .note(xen::kNoteFeatures, note_string("pae_pgdir_above_4gb"))
        .note(xen::kNoteLoader, note_string("generic-v2"));
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(image.hypercall_page.value().raw(), 0x103000u);
    EXPECT_EQ(image.required_features, 0u);
    EXPECT_EQ(image.optional_features, feature_bit(XenFeature::PaePgdirAbove4gb));
    EXPECT_STREQ(image.loader, "generic-v2");
}

TEST(ElfImage, PrefixChecksAndUnterminatedStrings) {
    ElfBuilder builder = xtf_like();
    builder.set_note(xen::kNoteLoader, note_string("generic", false))
        .set_note(xen::kNoteXenVersion, note_string("xen-3.0.1"))
        .set_note(xen::kNoteGuestOs, note_string(std::string("XTF\0ignored", 11), false));
    const PvImage image = expect_parsed(builder);
    EXPECT_STREQ(image.loader, "generic");
    EXPECT_STREQ(image.xen_version, "xen-3.0.1");
    EXPECT_STREQ(image.guest_os, "XTF");
}

TEST(ElfImage, LongStringsAreTruncatedButCheckedInFull) {
    ElfBuilder builder = xtf_like();
    const std::string long_os(200, 'o');
    std::string features;
    for (int i = 0; i < 20; ++i) features += "pae_pgdir_above_4gb|";
    builder.set_note(xen::kNoteGuestOs, note_string(long_os)).set_note(xen::kNoteFeatures, note_string(features));
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(std::strlen(image.guest_os), kNoteStringCapacity - 1);
    EXPECT_EQ(std::strlen(image.features), kFeaturesCapacity - 1);

    builder.set_note(xen::kNoteFeatures, note_string(features + "!frobnicate"));  // past the copy's end
    expect_rejected(builder, "unknown required feature");
}

TEST(ElfImage, FeatureListToleratesEmptyAndUnknownOptionalNames) {
    ElfBuilder builder = xtf_like();
    builder.set_note(xen::kNoteFeatures, note_string("|frobnicate||!pae_pgdir_above_4gb|hvm_callback_vector|"));
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(image.required_features, feature_bit(XenFeature::PaePgdirAbove4gb));
    EXPECT_EQ(image.optional_features, feature_bit(XenFeature::HvmCallbackVector));
}

TEST(ElfImage, SkipsEmptyLoadSegmentsAndOtherProgramHeaders) {
    ElfBuilder builder = xtf_like();
    builder.load(0x900000, 0, 0).other_segment(kPtGnuStack).other_segment(0);
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(image.segment_count, 1u);
    EXPECT_EQ(image.virt_kend.raw(), 0x10600cu);
}

TEST(ElfImage, BssOnlySegmentNeedsNoFileBytes) {
    ElfBuilder builder = xtf_like();
    builder.load(0x107000, 0, 0x1000);
    Bytes bytes = builder.build();
    put(bytes, ElfBuilder::phdr_offset(1) + kPOffset, ~u64{0}, 8);  // offset is irrelevant
    const PvImage image = expect_parsed(bytes);
    ASSERT_EQ(image.segment_count, 2u);
    EXPECT_EQ(image.segments[1].file_size, 0u);
    EXPECT_EQ(image.virt_kend.raw(), 0x108000u);
}

TEST(ElfImage, KernelRangeSpansAllSegmentsInAnyOrder) {
    ElfBuilder builder = xtf_like();
    builder.load(0x200000, 0x10, 0x1000).load(0x0c0000, 0x10, 0x10);
    builder.entry = 0x0c0000;
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(image.virt_kstart.raw(), 0x0c0000u);
    EXPECT_EQ(image.virt_kend.raw(), 0x201000u);
    EXPECT_EQ(image.segment_count, 3u);
}

TEST(ElfImage, AcceptsEightSegments) {
    ElfBuilder builder = xtf_like();
    for (u64 i = 1; i < kMaxLoadSegments; ++i) builder.load(0x100000 + i * 0x10000, 0x10, 0x100);
    EXPECT_EQ(expect_parsed(builder).segment_count, kMaxLoadSegments);
}

TEST(ElfImage, AcceptsKernelJustAboveTheHypervisorArea) {
    ElfBuilder builder = xtf_like();
    builder.segments.clear();
    builder.load(xen::kHypervisorVirtEnd, 0x100, 0x1000);
    builder.entry = xen::kHypervisorVirtEnd;
    builder.drop_note(xen::kNoteHypercallPage).note(xen::kNoteVirtBase, note_number(xen::kHypervisorVirtEnd));
    builder.note(xen::kNotePaddrOffset, note_number(xen::kHypervisorVirtEnd));
    EXPECT_EQ(expect_parsed(builder).virt_kstart.raw(), xen::kHypervisorVirtEnd);
}

TEST(ElfImage, EntryAndHypercallPageBoundaries) {
    ElfBuilder builder = xtf_like();
    builder.entry = 0x10600b;  // last kernel byte
    builder.set_note(xen::kNoteHypercallPage, note_number(0x106000));  // page containing the end
    const PvImage image = expect_parsed(builder);
    EXPECT_EQ(image.entry.raw(), 0x10600bu);
    EXPECT_EQ(image.hypercall_page.value().raw(), 0x106000u);
}

// ---- Rejections: one test per reason ----

TEST(ElfImage, RejectsNonElf) {
    const Bytes valid = xtf_like().build();
    expect_rejected(Bytes{}, "not an ELF file");
    expect_rejected(Bytes(valid.begin(), valid.begin() + 63), "not an ELF file");
    Bytes bad_magic = valid;
    bad_magic[1] = 'e';
    expect_rejected(bad_magic, "not an ELF file");
    const Result<PvImage, const char*> null_result = parse_pv_elf(nullptr, 4096);
    ASSERT_FALSE(null_result.ok());
    EXPECT_STREQ(null_result.error(), "not an ELF file");
}

TEST(ElfImage, RejectsWrongClassEncodingTypeOrMachine) {
    const Bytes valid = xtf_like().build();
    const struct {
        usize offset, width;
        u64 value;
    } patches[] = {
        {kEIdentClass, 1, 1},    // ELFCLASS32
        {kEIdentData, 1, 2},     // big-endian
        {kEIdentVersion, 1, 0},  // EV_NONE
        {kEType, 2, 3},          // ET_DYN
        {kEType, 2, 1},          // ET_REL
        {kEMachine, 2, 3},       // EM_386
        {kEMachine, 2, 183},     // EM_AARCH64
    };
    for (const auto& patch : patches) {
        Bytes bytes = valid;
        put(bytes, patch.offset, patch.value, patch.width);
        SCOPED_TRACE(patch.offset);
        expect_rejected(bytes, "not a 64-bit x86-64 executable");
    }
}

TEST(ElfImage, RejectsBadProgramHeaderEntrySize) {
    Bytes bytes = xtf_like().build();
    put(bytes, kEPhentsize, 32, 2);
    expect_rejected(bytes, "bad program header entry size");
}

TEST(ElfImage, RejectsProgramHeadersOutsideTheFile) {
    const Bytes valid = xtf_like().build();
    for (const u64 phoff : {u64{valid.size()} - kPhdrSize, u64{valid.size()}, ~u64{0} - 8, ~u64{0}}) {
        Bytes bytes = valid;
        put(bytes, kEPhoff, phoff, 8);
        SCOPED_TRACE(phoff);
        expect_rejected(bytes, "program headers outside the file");
    }
    Bytes many = valid;
    put(many, kEPhnum, 0xffff, 2);
    expect_rejected(many, "program headers outside the file");
}

TEST(ElfImage, RejectsLoadSegmentOutsideTheFile) {
    const Bytes valid = xtf_like().build();
    const usize phdr = ElfBuilder::phdr_offset(0);
    Bytes past_end = valid;
    put(past_end, phdr + kPOffset, valid.size() - 0x1000, 8);
    expect_rejected(past_end, "segment outside the file");
    Bytes wrapping = valid;
    put(wrapping, phdr + kPOffset, ~u64{0} - 0x100, 8);  // offset + filesz wraps
    expect_rejected(wrapping, "segment outside the file");
    Bytes huge = valid;
    put(huge, phdr + kPFilesz, valid.size() + 1, 8);
    expect_rejected(huge, "segment outside the file");
}

TEST(ElfImage, RejectsMemszSmallerThanFilesz) {
    ElfBuilder builder = xtf_like();
    builder.load(0x200000, 0x200, 0x100);
    expect_rejected(builder, "segment memsz smaller than filesz");
}

TEST(ElfImage, RejectsSegmentAddressOverflow) {
    ElfBuilder wraps = xtf_like();
    wraps.load(0xfffffffffffff000, 0x10, 0x2000);
    expect_rejected(wraps, "segment address overflow");

    // p_paddr fits, but adding virt_offset carries the range across 2^64.
    ElfBuilder offset_wraps = xtf_like();
    offset_wraps.segments.clear();
    offset_wraps.load(0x100000, 0x10, 0x100000).note(xen::kNoteVirtBase, note_number(~u64{0} - 0x180000 + 1));
    expect_rejected(offset_wraps, "segment address overflow");
}

TEST(ElfImage, RejectsTooManySegments) {
    ElfBuilder builder = xtf_like();
    for (u64 i = 1; i <= kMaxLoadSegments; ++i) builder.load(0x100000 + i * 0x10000, 0x10, 0x100);
    expect_rejected(builder, "too many segments");
}

TEST(ElfImage, RejectsNoteSegmentOutsideTheFile) {
    const ElfBuilder builder = xtf_like();
    const Bytes valid = builder.build();
    const usize phdr = ElfBuilder::phdr_offset(builder.note_phdr(0));
    Bytes bytes = valid;
    put(bytes, phdr + kPFilesz, get(bytes, phdr + kPFilesz, 8) + 1, 8);
    expect_rejected(bytes, "note segment outside the file");
    bytes = valid;
    put(bytes, phdr + kPOffset, ~u64{0} - 3, 8);
    expect_rejected(bytes, "note segment outside the file");
}

TEST(ElfImage, RejectsMisalignedNoteSegment) {
    const ElfBuilder builder = xtf_like();
    Bytes bytes = builder.build();
    const usize phdr = ElfBuilder::phdr_offset(builder.note_phdr(0));
    put(bytes, phdr + kPOffset, get(bytes, phdr + kPOffset, 8) + 2, 8);
    put(bytes, phdr + kPFilesz, get(bytes, phdr + kPFilesz, 8) - 2, 8);
    expect_rejected(bytes, "note segment misaligned");
}

TEST(ElfImage, RejectsNoteRunningPastItsSegment) {
    const ElfBuilder builder = xtf_like();
    const usize phdr = ElfBuilder::phdr_offset(builder.note_phdr(0));
    Bytes short_desc = builder.build();  // the last note's descriptor loses its final bytes
    put(short_desc, phdr + kPFilesz, get(short_desc, phdr + kPFilesz, 8) - 4, 8);
    expect_rejected(short_desc, "note runs past its segment");

    ElfBuilder partial_header = xtf_like();
    partial_header.note_segments[0].trailing = Bytes(8, 0);
    expect_rejected(partial_header, "note runs past its segment");

    ElfBuilder huge_name = xtf_like();
    huge_name.note_segments[0].trailing = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 0, 0, 'X', 'e', 'n', 0};
    expect_rejected(huge_name, "note runs past its segment");

    ElfBuilder huge_desc = xtf_like();
    huge_desc.note_segments[0].trailing = {4, 0, 0, 0, 0xfc, 0xff, 0xff, 0xff, 1, 0, 0, 0, 'X', 'e', 'n', 0};
    expect_rejected(huge_desc, "note runs past its segment");
}

TEST(ElfImage, RejectsNumericNoteOfBadSize) {
    for (const usize width : {usize{0}, usize{2}, usize{3}, usize{6}, usize{16}}) {
        ElfBuilder builder = xtf_like();
        builder.set_note(xen::kNoteHypercallPage, note_number(0x101000, width));
        SCOPED_TRACE(width);
        expect_rejected(builder, "numeric note has a bad size");
    }
}

TEST(ElfImage, RejectsImageWithoutXenNotes) {
    ElfBuilder none;
    none.load(0x100000, 0x10, 0x1000);
    expect_rejected(none, "no Xen ELF notes");

    ElfBuilder foreign;
    foreign.load(0x100000, 0x10, 0x1000).note(xen::kNoteLoader, note_string("generic"), "GNU");
    expect_rejected(foreign, "no Xen ELF notes");
}

TEST(ElfImage, RejectsLoaderOtherThanGeneric) {
    ElfBuilder custom = xtf_like();
    custom.set_note(xen::kNoteLoader, note_string("custom"));
    expect_rejected(custom, "LOADER note is not 'generic'");

    ElfBuilder missing = xtf_like();
    missing.drop_note(xen::kNoteLoader);
    expect_rejected(missing, "LOADER note is not 'generic'");

    ElfBuilder short_prefix = xtf_like();
    short_prefix.set_note(xen::kNoteLoader, note_string("gener"));
    expect_rejected(short_prefix, "LOADER note is not 'generic'");

    // GUEST_OS "linux..." waives the LOADER rule; the comparison is case-sensitive.
    ElfBuilder linux_os = missing;
    linux_os.set_note(xen::kNoteGuestOs, note_string("linux-6.1"));
    expect_parsed(linux_os);
    ElfBuilder capital = missing;
    capital.set_note(xen::kNoteGuestOs, note_string("Linux"));
    expect_rejected(capital, "LOADER note is not 'generic'");
}

TEST(ElfImage, RejectsXenVersionOtherThan30) {
    ElfBuilder old = xtf_like();
    old.set_note(xen::kNoteXenVersion, note_string("xen-2.0"));
    expect_rejected(old, "XEN_VERSION note is not 'xen-3.0'");
    ElfBuilder missing = xtf_like();
    missing.drop_note(xen::kNoteXenVersion);
    expect_rejected(missing, "XEN_VERSION note is not 'xen-3.0'");
    ElfBuilder truncated = xtf_like();
    truncated.set_note(xen::kNoteXenVersion, note_string("xen-3"));
    expect_rejected(truncated, "XEN_VERSION note is not 'xen-3.0'");
}

TEST(ElfImage, RejectsUnknownRequiredFeature) {
    for (const char* features : {"!frobnicate", "!writable_page_tables|!frobnicate", "!", "!writable_page_table"}) {
        ElfBuilder builder = xtf_like();
        builder.set_note(xen::kNoteFeatures, note_string(features));
        SCOPED_TRACE(features);
        expect_rejected(builder, "unknown required feature");
    }
}

TEST(ElfImage, RejectsUnsupportedRequiredFeature) {
    for (const char* features : {"!auto_translated_physmap", "!supervisor_mode_kernel", "pae_pgdir_above_4gb|!dom0"}) {
        ElfBuilder builder = xtf_like();
        builder.set_note(xen::kNoteFeatures, note_string(features));
        SCOPED_TRACE(features);
        expect_rejected(builder, "unsupported required feature");
    }
}

TEST(ElfImage, RejectsEmptyKernel) {
    ElfBuilder no_loads = xtf_like();
    no_loads.segments.clear();
    expect_rejected(no_loads, "kernel is empty");
    ElfBuilder empty_loads = no_loads;
    empty_loads.load(0x100000, 0, 0).load(0x200000, 0, 0);
    expect_rejected(empty_loads, "kernel is empty");
}

TEST(ElfImage, RejectsNonCanonicalKernel) {
    ElfBuilder crossing = xtf_like();
    crossing.load(0x00007ffffff00000, 0x10, 0x200000);  // runs past the lower half's end
    expect_rejected(crossing, "kernel is not canonical");
    ElfBuilder in_hole = xtf_like();
    in_hole.load(0x0000900000000000, 0x10, 0x1000);
    expect_rejected(in_hole, "kernel is not canonical");
}

TEST(ElfImage, RejectsKernelInTheHypervisorArea) {
    const u64 starts[] = {xen::kHypervisorVirtStart, 0xffff840000000000, xen::kHypervisorVirtEnd - 0x1000};
    for (const u64 start : starts) {
        ElfBuilder builder = xtf_like();
        builder.segments.clear();
        builder.load(start, 0x10, 0x1000).drop_note(xen::kNoteHypercallPage);
        SCOPED_TRACE(start);
        expect_rejected(builder, "kernel reaches into the hypervisor area");
    }
    // A kernel below the hole is non-canonical first; one reaching up into it from the upper
    // half's start is the case above. A kernel straddling the end of the area:
    ElfBuilder straddling = xtf_like();
    straddling.segments.clear();
    straddling.load(xen::kHypervisorVirtEnd - 0x1000, 0x10, 0x3000);
    expect_rejected(straddling, "kernel reaches into the hypervisor area");
}

TEST(ElfImage, RejectsUnalignedVirtBase) {
    ElfBuilder builder = xtf_like();
    builder.note(xen::kNoteVirtBase, note_number(0x800)).note(xen::kNotePaddrOffset, note_number(0x800));
    expect_rejected(builder, "VIRT_BASE not page-aligned");
}

TEST(ElfImage, RejectsVirtBaseAboveTheKernel) {
    ElfBuilder builder = xtf_like();
    builder.note(xen::kNoteVirtBase, note_number(0x200000)).note(xen::kNotePaddrOffset, note_number(0x200000));
    expect_rejected(builder, "VIRT_BASE above the kernel");
}

TEST(ElfImage, RejectsEntryOutsideTheKernel) {
    for (const u64 entry : {u64{0}, u64{0xfffff}, u64{0x10600c}, u64{0x200000}}) {
        ElfBuilder builder = xtf_like();
        builder.entry = entry;
        SCOPED_TRACE(entry);
        expect_rejected(builder, "entry point outside the kernel");
    }
    ElfBuilder note = xtf_like();
    note.note(xen::kNoteEntry, note_number(0x300000));
    expect_rejected(note, "entry point outside the kernel");
}

TEST(ElfImage, RejectsHypercallPageOutsideTheKernel) {
    for (const u64 page : {u64{0}, u64{0xff000}, u64{0x107000}, ~u64{0} - 0xfff}) {
        ElfBuilder builder = xtf_like();
        builder.set_note(xen::kNoteHypercallPage, note_number(page));
        SCOPED_TRACE(page);
        expect_rejected(builder, "hypercall page outside the kernel");
    }
}

TEST(ElfImage, RejectsUnalignedHypercallPage) {
    ElfBuilder builder = xtf_like();
    builder.set_note(xen::kNoteHypercallPage, note_number(0x101010));
    expect_rejected(builder, "hypercall page not page-aligned");
}

// ---- Robustness: mutated and truncated images never crash and never lie ----

// Parses a private exact-size heap copy, so ASan flags any read past the end.
Result<PvImage, const char*> parse_exact_copy(const Bytes& bytes) {
    const std::unique_ptr<u8[]> copy(new u8[bytes.size() == 0 ? 1 : bytes.size()]);
    if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
    return parse_pv_elf(bytes.empty() ? nullptr : copy.get(), bytes.size());
}

// Invariants every accepted image satisfies, whatever the input was.
void check_invariants(const PvImage& image, usize file_size) {
    ASSERT_LT(image.virt_kstart, image.virt_kend);
    EXPECT_LE(image.virt_base, image.virt_kstart);
    EXPECT_TRUE(is_aligned(image.virt_base.raw(), kPageSize));
    EXPECT_TRUE(image.entry >= image.virt_kstart && image.entry < image.virt_kend);
    EXPECT_TRUE(is_canonical(image.virt_kstart.raw()) && is_canonical(image.virt_kend.raw() - 1));
    EXPECT_TRUE(image.virt_kend.raw() <= xen::kHypervisorVirtStart ||
                image.virt_kstart.raw() >= xen::kHypervisorVirtEnd);
    if (image.hypercall_page) {
        const Vaddr page = image.hypercall_page.value();
        EXPECT_TRUE(page >= image.virt_kstart && page < image.virt_kend);
        EXPECT_TRUE(is_aligned(page.raw(), kPageSize));
    }
    ASSERT_LE(image.segment_count, kMaxLoadSegments);
    ASSERT_GE(image.segment_count, 1u);
    for (usize i = 0; i < image.segment_count; ++i) {
        const LoadSegment& s = image.segments[i];
        EXPECT_LE(s.file_size, s.mem_size);
        EXPECT_GT(s.mem_size, 0u);
        if (s.file_size != 0) {
            EXPECT_LE(s.file_offset + s.file_size, file_size);
        }
        EXPECT_GE(s.vaddr, image.virt_kstart);
        EXPECT_LE(s.vaddr.raw() + s.mem_size, image.virt_kend.raw());
    }
    EXPECT_LT(std::strlen(image.guest_os), kNoteStringCapacity);
    EXPECT_LT(std::strlen(image.loader), kNoteStringCapacity);
    EXPECT_LT(std::strlen(image.xen_version), kNoteStringCapacity);
    EXPECT_LT(std::strlen(image.features), kFeaturesCapacity);
    EXPECT_EQ(image.required_features & ~kAcceptedRequiredFeatures, 0u);
}

void fuzz_one(const Bytes& bytes, u64& accepted) {
    const Result<PvImage, const char*> result = parse_exact_copy(bytes);
    if (!result.ok()) {
        ASSERT_NE(result.error(), nullptr);
        return;
    }
    ++accepted;
    check_invariants(result.value(), bytes.size());
}

TEST(ElfImageFuzz, TruncationAtEveryLength) {
    for (const Bytes& valid : {xtf_like(0x40).build(), linux_like().build()}) {
        u64 accepted = 0;
        for (usize length = 0; length <= valid.size(); ++length)
            fuzz_one(Bytes(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(length)), accepted);
        EXPECT_GE(accepted, 1u);  // at least the full image
    }
}

TEST(ElfImageFuzz, RandomByteFlipsNeverCrash) {
    std::mt19937_64 rng(0x15017a);
    const Bytes bases[] = {xtf_like(0x40).build(), linux_like().build()};
    u64 accepted = 0;
    for (int round = 0; round < 40000; ++round) {
        Bytes bytes = bases[round % 2];
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int f = 0; f < flips; ++f) {
            const usize at = rng() % bytes.size();
            switch (rng() % 4) {
                case 0: bytes[at] ^= static_cast<u8>(1u << (rng() % 8)); break;
                case 1: bytes[at] = static_cast<u8>(rng()); break;
                case 2: bytes[at] = 0xff; break;
                default: bytes[at] = 0; break;
            }
        }
        if (rng() % 8 == 0) bytes.resize(rng() % (bytes.size() + 1));
        fuzz_one(bytes, accepted);
        if (::testing::Test::HasFatalFailure()) return;
    }
    EXPECT_GT(accepted, 0u);  // some mutations (e.g. in segment contents) stay valid
}

TEST(ElfImageFuzz, RandomHeaderFieldValuesNeverCrash) {
    // Overwrite whole 8-byte header and note fields with boundary values.
    std::mt19937_64 rng(7);
    const u64 specials[] = {0, 1, 3, 4, 8, 0x38, 0xfff, 0x1000, 0x7fffffff, 0xffffffff, 0x100000000,
                            0x00007fffffffffff, xen::kHypervisorVirtStart, ~u64{0} - 7, ~u64{0}};
    const Bytes base = xtf_like(0x40).build();
    u64 accepted = 0;
    for (int round = 0; round < 20000; ++round) {
        Bytes bytes = base;
        const usize at = rng() % (bytes.size() - 8);
        const usize width = usize{1} << (rng() % 4);
        put(bytes, at, specials[rng() % std::size(specials)], std::min(width, bytes.size() - at));
        fuzz_one(bytes, accepted);
        if (::testing::Test::HasFatalFailure()) return;
    }
}

// The real guest kernel from guests/, when the build has produced it (ISOLA_GUEST_ELF=path).
TEST(ElfImage, ParsesBuiltGuestKernel) {
    const char* path = std::getenv("ISOLA_GUEST_ELF");
    if (path == nullptr) GTEST_SKIP() << "set ISOLA_GUEST_ELF to a built guest, e.g. build/guests/hello.elf";
    std::FILE* file = std::fopen(path, "rb");
    ASSERT_NE(file, nullptr) << path;
    Bytes bytes;
    u8 buffer[4096];
    for (usize n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;) bytes.insert(bytes.end(), buffer, buffer + n);
    std::fclose(file);
    const PvImage image = expect_parsed(bytes);
    check_invariants(image, bytes.size());
    EXPECT_EQ(image.virt_base.raw(), 0u);
    EXPECT_EQ(image.virt_kstart.raw(), 0x100000u);
    EXPECT_TRUE(image.hypercall_page.has_value());
    EXPECT_STREQ(image.loader, "generic");
    EXPECT_STREQ(image.xen_version, "xen-3.0");
}

}  // namespace
}  // namespace hv::pv
