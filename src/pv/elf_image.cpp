// SPDX-License-Identifier: MIT
// Xen PV kernel ELF image parser: load segments and Xen ELF notes, every field bounds-checked.
#include "hv/pv/elf_image.hpp"

#include "hv/pv/xen_abi.hpp"

namespace hv::pv {
namespace {

using Error_ = Error<const char*>;

// ELF64 layout. [System V gABI ch. 4 "ELF Header", ch. 5 "Program Header"; ELF-64 Object File Format 1.5]
constexpr u64 kEhdrSize = 64;
constexpr u64 kPhdrSize = 56;
constexpr u8 kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr u8 kElfClass64 = 2;
constexpr u8 kElfData2Lsb = 1;
constexpr u8 kEvCurrent = 1;
constexpr u16 kEtExec = 2;
constexpr u16 kEmX86_64 = 62;
constexpr u32 kPtLoad = 1;
constexpr u32 kPtNote = 4;
constexpr u64 kNoteHeaderSize = 12;  // namesz, descsz, type: three 4-byte words

// A bounds-checked view of untrusted bytes.
class Bytes {
  public:
    constexpr Bytes(const u8* data, u64 size) : data_(data), size_(size) {}

    constexpr u64 size() const { return size_; }
    constexpr const u8* data() const { return data_; }
    // True if [offset, offset + length) lies inside the view; cannot overflow.
    constexpr bool contains(u64 offset, u64 length) const { return offset <= size_ && length <= size_ - offset; }
    // Sub-view; the caller has checked contains(offset, length).
    constexpr Bytes sub(u64 offset, u64 length) const { return Bytes(data_ + offset, length); }
    // Little-endian load of `width` (<= 8) bytes, byte by byte: the file has no alignment
    // guarantee. The caller has checked contains(offset, width).
    constexpr u64 load(u64 offset, u64 width) const {
        u64 value = 0;
        for (u64 i = width; i-- > 0;) value = (value << 8) | data_[offset + i];
        return value;
    }

  private:
    const u8* data_;
    u64 size_;
};

// A string note's text: up to its first NUL, never past its descriptor.
struct Text {
    const u8* data;
    u64 length;
};

struct FileHeader {
    u16 type, machine, phentsize, phnum;
    u64 entry, phoff;
};

struct ProgramHeader {
    u32 type;
    u64 offset, paddr, filesz, memsz, align;
};

// What the Xen notes said, gathered before the checks that need all of them.
struct NoteValues {
    bool any = false;
    Optional<u64> entry, hypercall_page, virt_base, paddr_offset;
    bool loader_generic = false;
    bool guest_os_linux = false;
    bool xen_version_ok = false;
};

// Lowest and highest physical (p_paddr) byte over the non-empty PT_LOAD segments.
struct LoadExtent {
    bool any = false;
    u64 pstart = 0;
    u64 pend = 0;  // exclusive
};

struct FeatureName {
    const char* name;
    XenFeature feature;
};

// FEATURES note names. [Xen ABI xen/include/public/features.h]
constexpr FeatureName kFeatureNames[] = {
    {"writable_page_tables", XenFeature::WritablePageTables},
    {"writable_descriptor_tables", XenFeature::WritableDescriptorTables},
    {"auto_translated_physmap", XenFeature::AutoTranslatedPhysmap},
    {"supervisor_mode_kernel", XenFeature::SupervisorModeKernel},
    {"pae_pgdir_above_4gb", XenFeature::PaePgdirAbove4gb},
    {"mmu_pt_update_preserve_ad", XenFeature::MmuPtUpdatePreserveAd},
    {"hvm_callback_vector", XenFeature::HvmCallbackVector},
    {"dom0", XenFeature::Dom0},
};

Text text_of(Bytes desc) {
    u64 length = 0;
    while (length < desc.size() && desc.data()[length] != 0) ++length;
    return Text{desc.data(), length};
}

bool text_equals(Text text, const char* literal) {
    u64 i = 0;
    for (; literal[i] != 0; ++i)
        if (i == text.length || text.data[i] != static_cast<u8>(literal[i])) return false;
    return i == text.length;
}

bool starts_with(Text text, const char* prefix) {
    for (u64 i = 0; prefix[i] != 0; ++i)
        if (i == text.length || text.data[i] != static_cast<u8>(prefix[i])) return false;
    return true;
}

// Copies the text, truncated to capacity - 1 bytes, and NUL-terminates it.
void copy_text(Text text, char* out, usize capacity) {
    const u64 length = text.length < capacity - 1 ? text.length : capacity - 1;
    for (u64 i = 0; i < length; ++i) out[i] = static_cast<char>(text.data[i]);
    out[length] = 0;
}

bool is_elf_magic(Bytes file) {
    for (u64 i = 0; i < sizeof kElfMagic; ++i)
        if (file.data()[i] != kElfMagic[i]) return false;
    return true;
}

// Reads and checks the ELF header: ELF64, little-endian, current version, ET_EXEC, EM_X86_64.
Result<FileHeader, const char*> read_file_header(Bytes file) {
    if (!file.contains(0, kEhdrSize) || !is_elf_magic(file)) return Error_{"not an ELF file"};
    const FileHeader header{
        .type = static_cast<u16>(file.load(16, 2)),
        .machine = static_cast<u16>(file.load(18, 2)),
        .phentsize = static_cast<u16>(file.load(54, 2)),
        .phnum = static_cast<u16>(file.load(56, 2)),
        .entry = file.load(24, 8),
        .phoff = file.load(32, 8),
    };
    if (file.load(4, 1) != kElfClass64 || file.load(5, 1) != kElfData2Lsb || file.load(6, 1) != kEvCurrent ||
        header.type != kEtExec || header.machine != kEmX86_64)
        return Error_{"not a 64-bit x86-64 executable"};
    if (header.phnum != 0 && header.phentsize != kPhdrSize) return Error_{"bad program header entry size"};
    if (!file.contains(header.phoff, u64{header.phnum} * kPhdrSize))
        return Error_{"program headers outside the file"};
    return header;
}

// Program header `index`; the caller has checked the table lies inside the file.
ProgramHeader read_program_header(Bytes file, const FileHeader& header, u64 index) {
    const u64 base = header.phoff + index * kPhdrSize;
    return ProgramHeader{
        .type = static_cast<u32>(file.load(base, 4)),
        .offset = file.load(base + 8, 8),
        .paddr = file.load(base + 24, 8),
        .filesz = file.load(base + 32, 8),
        .memsz = file.load(base + 40, 8),
        .align = file.load(base + 48, 8),
    };
}

// Records one PT_LOAD segment. Empty segments (p_memsz 0) are checked but not recorded.
Result<void, const char*> add_load_segment(Bytes file, const ProgramHeader& ph, LoadExtent& extent,
                                           PvImage& image) {
    if (ph.memsz < ph.filesz) return Error_{"segment memsz smaller than filesz"};
    if (ph.filesz != 0 && !file.contains(ph.offset, ph.filesz)) return Error_{"segment outside the file"};
    u64 pend = 0;
    if (__builtin_add_overflow(ph.paddr, ph.memsz, &pend)) return Error_{"segment address overflow"};
    if (ph.memsz == 0) return {};
    if (image.segment_count == kMaxLoadSegments) return Error_{"too many segments"};
    // vaddr holds p_paddr until place_kernel() knows virt_offset.
    image.segments[image.segment_count++] = LoadSegment{ph.offset, ph.filesz, Vaddr(ph.paddr), ph.memsz};
    extent.pstart = extent.any && extent.pstart < ph.paddr ? extent.pstart : ph.paddr;
    extent.pend = extent.any && extent.pend > pend ? extent.pend : pend;
    extent.any = true;
    return {};
}

Optional<XenFeature> lookup_feature(Text name) {
    for (const FeatureName& entry : kFeatureNames)
        if (text_equals(name, entry.name)) return entry.feature;
    return {};
}

// One FEATURES token: "name" (optional) or "!name" (required).
Result<void, const char*> apply_feature(Text token, PvImage& image) {
    if (token.length == 0) return {};
    const bool required = token.data[0] == '!';
    const Text name = required ? Text{token.data + 1, token.length - 1} : token;
    const Optional<XenFeature> feature = lookup_feature(name);
    if (!feature) {
        if (required) return Error_{"unknown required feature"};
        return {};  // unknown optional features are ignored
    }
    const u32 bit = feature_bit(feature.value());
    if (!required) {
        image.optional_features |= bit;
        return {};
    }
    if ((bit & kAcceptedRequiredFeatures) == 0) return Error_{"unsupported required feature"};
    image.required_features |= bit;
    return {};
}

// The FEATURES note: '|'-separated names. A later FEATURES note replaces an earlier one.
Result<void, const char*> parse_features(Text text, PvImage& image) {
    image.required_features = 0;
    image.optional_features = 0;
    u64 start = 0;
    while (start <= text.length) {
        u64 end = start;
        while (end < text.length && text.data[end] != '|') ++end;
        HV_TRY(apply_feature(Text{text.data + start, end - start}, image));
        start = end + 1;
    }
    copy_text(text, image.features, sizeof image.features);
    return {};
}

// A numeric note: 4 or 8 bytes, little-endian.
Result<u64, const char*> numeric_note(Bytes desc) {
    if (desc.size() != 4 && desc.size() != 8) return Error_{"numeric note has a bad size"};
    return desc.load(0, desc.size());
}

// Applies one note owned by "Xen". Unknown types are ignored; a repeated note replaces the earlier one.
Result<void, const char*> apply_xen_note(u32 type, Bytes desc, NoteValues& notes, PvImage& image) {
    notes.any = true;
    const Text text = text_of(desc);
    switch (type) {
        case xen::kNoteEntry: notes.entry = HV_TRY(numeric_note(desc)).value(); break;
        case xen::kNoteHypercallPage: notes.hypercall_page = HV_TRY(numeric_note(desc)).value(); break;
        case xen::kNoteVirtBase: notes.virt_base = HV_TRY(numeric_note(desc)).value(); break;
        case xen::kNotePaddrOffset: notes.paddr_offset = HV_TRY(numeric_note(desc)).value(); break;
        case xen::kNoteXenVersion:
            notes.xen_version_ok = starts_with(text, "xen-3.0");
            copy_text(text, image.xen_version, sizeof image.xen_version);
            break;
        case xen::kNoteGuestOs:
            notes.guest_os_linux = starts_with(text, "linux");
            copy_text(text, image.guest_os, sizeof image.guest_os);
            break;
        case xen::kNoteLoader:
            notes.loader_generic = starts_with(text, "generic");
            copy_text(text, image.loader, sizeof image.loader);
            break;
        case xen::kNoteFeatures: HV_TRY(parse_features(text, image)); break;
        default: break;
    }
    return {};
}

bool is_xen_owner(Bytes name) {
    return name.size() == 4 && name.load(0, 4) == (u64{'X'} | u64{'e'} << 8 | u64{'n'} << 16);
}

// Walks the notes of one PT_NOTE segment. The name and the descriptor each start at a multiple
// of 4 bytes (8 when p_align is 8) from the segment start.
Result<void, const char*> parse_note_segment(Bytes file, const ProgramHeader& ph, NoteValues& notes,
                                             PvImage& image) {
    if (!file.contains(ph.offset, ph.filesz)) return Error_{"note segment outside the file"};
    if (!is_aligned(ph.offset, 4)) return Error_{"note segment misaligned"};
    const u64 padding = ph.align == 8 ? 8 : 4;
    const Bytes segment = file.sub(ph.offset, ph.filesz);
    for (u64 offset = 0; offset < segment.size();) {
        if (!segment.contains(offset, kNoteHeaderSize)) return Error_{"note runs past its segment"};
        const u64 namesz = segment.load(offset, 4);
        const u64 descsz = segment.load(offset + 4, 4);
        const u32 type = static_cast<u32>(segment.load(offset + 8, 4));
        const u64 name_at = offset + kNoteHeaderSize;
        if (!segment.contains(name_at, namesz)) return Error_{"note runs past its segment"};
        const u64 desc_at = align_up(name_at + namesz, padding);  // both <= segment size: no overflow
        if (!segment.contains(desc_at, descsz)) return Error_{"note runs past its segment"};
        if (is_xen_owner(segment.sub(name_at, namesz)))
            HV_TRY(apply_xen_note(type, segment.sub(desc_at, descsz), notes, image));
        offset = align_up(desc_at + descsz, padding);  // may step past the end: the loop ends
    }
    return {};
}

// Walks the program headers: records PT_LOAD segments, reads the notes of every PT_NOTE.
Result<void, const char*> parse_program_headers(Bytes file, const FileHeader& header, LoadExtent& extent,
                                                NoteValues& notes, PvImage& image) {
    for (u64 index = 0; index < header.phnum; ++index) {
        const ProgramHeader ph = read_program_header(file, header, index);
        if (ph.type == kPtLoad) HV_TRY(add_load_segment(file, ph, extent, image));
        if (ph.type == kPtNote) HV_TRY(parse_note_segment(file, ph, notes, image));
    }
    return {};
}

// The notes every image must carry. [pv-abi §1.2]
Result<void, const char*> check_required_notes(const NoteValues& notes) {
    if (!notes.any) return Error_{"no Xen ELF notes"};
    if (!notes.loader_generic && !notes.guest_os_linux) return Error_{"LOADER note is not 'generic'"};
    if (!notes.xen_version_ok) return Error_{"XEN_VERSION note is not 'xen-3.0'"};
    return {};
}

// Computes [virt_kstart, virt_kend) and the segments' load addresses, and checks the range is
// canonical and clear of the hypervisor's area.
Result<void, const char*> place_kernel(const LoadExtent& extent, const NoteValues& notes, PvImage& image) {
    if (!extent.any) return Error_{"kernel is empty"};
    image.virt_base = Vaddr(notes.virt_base.value_or(0));
    image.virt_offset = image.virt_base.raw() - notes.paddr_offset.value_or(0);  // modulo 2^64 by design
    const u64 kstart = extent.pstart + image.virt_offset;
    const u64 kend = extent.pend + image.virt_offset;
    if (kend <= kstart) return Error_{"segment address overflow"};  // the range wrapped past 2^64
    const u64 last = kend - 1;
    if (!is_canonical(kstart) || !is_canonical(last) || (kstart >> 47) != (last >> 47))
        return Error_{"kernel is not canonical"};
    if (kstart < xen::kHypervisorVirtEnd && kend > xen::kHypervisorVirtStart)
        return Error_{"kernel reaches into the hypervisor area"};
    image.virt_kstart = Vaddr(kstart);
    image.virt_kend = Vaddr(kend);
    for (usize i = 0; i < image.segment_count; ++i)
        image.segments[i].vaddr = Vaddr(image.segments[i].vaddr.raw() + image.virt_offset);
    return {};
}

bool inside_kernel(const PvImage& image, u64 va) { return va >= image.virt_kstart.raw() && va < image.virt_kend.raw(); }

// VIRT_BASE, the entry point and the hypercall page against the kernel range. [pv-abi §1.2]
Result<void, const char*> check_addresses(const FileHeader& header, const NoteValues& notes, PvImage& image) {
    if (!is_aligned(image.virt_base.raw(), kPageSize)) return Error_{"VIRT_BASE not page-aligned"};
    if (image.virt_base.raw() > image.virt_kstart.raw()) return Error_{"VIRT_BASE above the kernel"};
    image.entry = Vaddr(notes.entry.value_or(header.entry));
    if (!inside_kernel(image, image.entry.raw())) return Error_{"entry point outside the kernel"};
    if (!notes.hypercall_page) return {};
    const u64 page = notes.hypercall_page.value();
    if (!inside_kernel(image, page)) return Error_{"hypercall page outside the kernel"};
    if (!is_aligned(page, kPageSize)) return Error_{"hypercall page not page-aligned"};
    image.hypercall_page = Vaddr(page);
    return {};
}

}  // namespace

Result<PvImage, const char*> parse_pv_elf(const u8* data, usize size) {
    const Bytes file(data, data == nullptr ? 0 : size);
    const FileHeader header = HV_TRY(read_file_header(file)).value();
    PvImage image{};
    LoadExtent extent;
    NoteValues notes;
    HV_TRY(parse_program_headers(file, header, extent, notes, image));
    HV_TRY(check_required_notes(notes));
    HV_TRY(place_kernel(extent, notes, image));
    HV_TRY(check_addresses(header, notes, image));
    return image;
}

}  // namespace hv::pv
