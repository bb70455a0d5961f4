// SPDX-License-Identifier: MIT
// Multiboot (v1) boot information, validated and copied into hypervisor memory.
//
// Everything the loader hands over (command lines, memory map, module list) is copied into a
// BootInfo before any frame is allocated, so only the modules themselves stay reserved.
#pragma once

#include "hv/core/result.hpp"
#include "hv/core/types.hpp"
#include "hv/mm/range_set.hpp"

namespace hv::boot {

inline constexpr u32 kLoaderMagic = 0x2BADB002;
inline constexpr usize kMaxModules = 16;
inline constexpr usize kCmdlineCapacity = 1024;
inline constexpr usize kModuleCmdlineCapacity = 256;

struct BootModule {
    u64 start;  // machine address of the first byte
    u64 end;    // exclusive
    char cmdline[kModuleCmdlineCapacity];
};

struct BootInfo {
    char cmdline[kCmdlineCapacity];
    usize cmdline_length;
    mm::RangeSet ram;  // usable RAM (multiboot type 1), page-aligned inwards
    u64 ram_top;       // end of the highest usable RAM byte
    BootModule modules[kMaxModules];
    usize module_count;
};

// Reads loader-provided physical memory; false for addresses the caller cannot reach.
// (A function pointer, not a virtual: the image has no vtables.)
struct PhysReader {
    bool (*read_fn)(const void* context, u64 maddr, void* destination, usize length);
    const void* context;
    bool read(u64 maddr, void* destination, usize length) const { return read_fn(context, maddr, destination, length); }
};

// One reason string per failure: printed as one console line before a clean non-zero exit.
Result<void, const char*> parse_multiboot(u32 magic, u64 info_maddr, const PhysReader& memory, BootInfo& out);

}  // namespace hv::boot
