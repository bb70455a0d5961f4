// SPDX-License-Identifier: MIT
// Xen PV kernel image: the ELF64 load segments and Xen ELF notes of an untrusted kernel file.
//
// What is read (pv-abi §1.1-1.2; [Xen ABI xen/include/public/elfnote.h]):
//   ELF header      ELFCLASS64, little-endian, ET_EXEC, EM_X86_64
//   PT_LOAD         placed by p_paddr (p_vaddr is ignored, as Xen's loader does)
//   PT_NOTE         notes owned by "Xen": ENTRY, HYPERCALL_PAGE, VIRT_BASE, PADDR_OFFSET (numeric,
//                   4 or 8 bytes), XEN_VERSION, GUEST_OS, LOADER, FEATURES (strings); others ignored
//
// Address calculation:
//   virt_offset = VIRT_BASE - PADDR_OFFSET                 (mod 2^64; both default to 0)
//   [virt_kstart, virt_kend) = [lowest p_paddr, highest p_paddr + p_memsz) + virt_offset
//   segment i is loaded at p_paddr + virt_offset; entry = ENTRY note, else e_entry
//
// Every offset and size in the file is untrusted: all arithmetic is overflow-checked, nothing is
// read outside [data, data + size), and each failure returns one reason string.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/optional.hpp"
#include "hv/core/result.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {

inline constexpr usize kMaxLoadSegments = 8;       // non-empty PT_LOAD segments
inline constexpr usize kNoteStringCapacity = 64;   // GUEST_OS, LOADER, XEN_VERSION (incl. NUL)
inline constexpr usize kFeaturesCapacity = 256;    // FEATURES (incl. NUL)

// XENFEAT_* numbers the FEATURES note may name. [Xen ABI xen/include/public/features.h]
// Bit n of PvImage::required_features / optional_features is XENFEAT number n.
enum class XenFeature : u8 {
    WritablePageTables = 0,
    WritableDescriptorTables = 1,
    AutoTranslatedPhysmap = 2,
    SupervisorModeKernel = 3,
    PaePgdirAbove4gb = 4,
    MmuPtUpdatePreserveAd = 5,
    HvmCallbackVector = 8,
    Dom0 = 11,
};

constexpr u32 feature_bit(XenFeature feature) { return u32{1} << static_cast<u8>(feature); }

// Required ("!name") features a kernel may ask for and still be accepted: XTF asks for
// "!writable_page_tables"; Xen's builder does nothing with it or with pae_pgdir_above_4gb.
// Any other known feature marked required is rejected ("unsupported required feature"), and
// so is an unknown name marked required ("unknown required feature"). Unknown optional names
// are ignored.
inline constexpr u32 kAcceptedRequiredFeatures =
    feature_bit(XenFeature::WritablePageTables) | feature_bit(XenFeature::PaePgdirAbove4gb);

struct LoadSegment {
    u64 file_offset;  // first byte in the file
    u64 file_size;    // bytes copied from the file
    Vaddr vaddr;      // where the segment is loaded: p_paddr + virt_offset
    u64 mem_size;     // >= file_size; the rest is zeroed (bss)
};

struct PvImage {
    Vaddr entry;
    Vaddr virt_base;    // VIRT_BASE note, default 0; page-aligned and <= virt_kstart
    u64 virt_offset;    // VIRT_BASE - PADDR_OFFSET, modulo 2^64
    Vaddr virt_kstart;  // lowest loaded byte
    Vaddr virt_kend;    // exclusive, not page-rounded
    Optional<Vaddr> hypercall_page;  // page-aligned, inside the kernel
    LoadSegment segments[kMaxLoadSegments];
    usize segment_count;             // segments with p_memsz > 0, in program-header order
    u32 required_features;           // XenFeature bits named with '!'
    u32 optional_features;           // XenFeature bits named without '!'
    // Bounded copies of the note strings, always NUL-terminated, truncated to fit; empty when
    // the note is absent. The checks above use the full note text, never the truncated copy.
    char guest_os[kNoteStringCapacity];
    char loader[kNoteStringCapacity];
    char xen_version[kNoteStringCapacity];
    char features[kFeaturesCapacity];
};

// Parses and validates a 64-bit Xen PV kernel image held in [data, data + size).
// Returns the image description, or one reason (a static string) why the image is unusable:
//   "not an ELF file"                        "not a 64-bit x86-64 executable"
//   "bad program header entry size"          "program headers outside the file"
//   "segment outside the file"               "segment memsz smaller than filesz"
//   "segment address overflow"               "too many segments"
//   "note segment outside the file"          "note segment misaligned"
//   "note runs past its segment"             "numeric note has a bad size"
//   "no Xen ELF notes"                       "LOADER note is not 'generic'"
//   "XEN_VERSION note is not 'xen-3.0'"      "unknown required feature"
//   "unsupported required feature"           "kernel is empty"
//   "kernel is not canonical"                "kernel reaches into the hypervisor area"
//   "VIRT_BASE not page-aligned"             "VIRT_BASE above the kernel"
//   "entry point outside the kernel"         "hypercall page outside the kernel"
//   "hypercall page not page-aligned"
// The LOADER check passes when LOADER starts with "generic" or GUEST_OS starts with "linux";
// XEN_VERSION must start with "xen-3.0". Reads nothing outside the buffer; never panics.
Result<PvImage, const char*> parse_pv_elf(const u8* data, usize size);

}  // namespace hv::pv
