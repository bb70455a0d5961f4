// SPDX-License-Identifier: MIT
// Multiboot v1 information parsing. [Multiboot Specification 0.6.96 §3.3]
#include "hv/boot/multiboot.hpp"

namespace hv::boot {
namespace {

struct MultibootInfo {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr;
};

struct [[gnu::packed]] MmapEntry {
    u32 size;  // of the rest of the entry
    u64 base;
    u64 length;
    u32 type;
};

struct ModuleEntry {
    u32 start, end, string, reserved;
};

constexpr u32 kFlagCmdline = 1u << 2;
constexpr u32 kFlagModules = 1u << 3;
constexpr u32 kFlagMmap = 1u << 6;
constexpr u32 kMmapTypeRam = 1;
constexpr usize kMaxMmapEntries = 128;
constexpr u64 kMaxPhysAddr = u64{1} << 52;

using Error_ = Error<const char*>;

// Copies a NUL-terminated string; false if unreadable or longer than capacity - 1.
bool copy_string(const PhysReader& memory, u64 maddr, char* out, usize capacity, usize& length) {
    for (length = 0; length < capacity; ++length) {
        if (!memory.read(maddr + length, &out[length], 1)) return false;
        if (out[length] == 0) return true;
    }
    out[capacity - 1] = 0;
    return false;
}

Result<void, const char*> parse_mmap(const MultibootInfo& info, const PhysReader& memory, BootInfo& out) {
    if ((info.flags & kFlagMmap) == 0) return Error_{"the boot loader gave no memory map"};
    u64 offset = 0;
    for (usize index = 0; offset < info.mmap_length; ++index) {
        if (index == kMaxMmapEntries) return Error_{"memory map has too many entries"};
        MmapEntry entry{};
        if (!memory.read(u64{info.mmap_addr} + offset, &entry, sizeof entry))
            return Error_{"memory map is unreadable"};
        if (entry.size < sizeof entry - sizeof entry.size) return Error_{"memory map entry is malformed"};
        offset += u64{entry.size} + sizeof entry.size;
        if (entry.type != kMmapTypeRam || entry.length == 0) continue;
        const u64 end = entry.base + entry.length;
        if (end < entry.base || end > kMaxPhysAddr) return Error_{"memory map entry is out of range"};
        const mm::Range ram{align_up(entry.base, kPageSize), align_down(end, kPageSize)};
        if (!ram.empty() && !out.ram.add(ram)) return Error_{"memory map is too fragmented"};
    }
    out.ram_top = out.ram.end_address();
    if (out.ram.total_bytes() == 0) return Error_{"memory map has no usable RAM"};
    return {};
}

Result<void, const char*> parse_modules(const MultibootInfo& info, const PhysReader& memory, BootInfo& out) {
    if ((info.flags & kFlagModules) == 0) return {};
    if (info.mods_count > kMaxModules) return Error_{"too many boot modules (at most 16)"};
    for (u32 i = 0; i < info.mods_count; ++i) {
        ModuleEntry entry{};
        if (!memory.read(u64{info.mods_addr} + i * sizeof entry, &entry, sizeof entry))
            return Error_{"module list is unreadable"};
        if (entry.end < entry.start) return Error_{"boot module ends before it starts"};
        BootModule& module = out.modules[out.module_count++];
        module.start = entry.start;
        module.end = entry.end;
        usize length = 0;
        module.cmdline[0] = 0;
        if (entry.string != 0 &&
            !copy_string(memory, entry.string, module.cmdline, sizeof module.cmdline, length))
            return Error_{"boot module command line is unreadable or too long"};
    }
    return {};
}

}  // namespace

Result<void, const char*> parse_multiboot(u32 magic, u64 info_maddr, const PhysReader& memory, BootInfo& out) {
    out.cmdline[0] = 0;
    out.cmdline_length = 0;
    out.module_count = 0;
    out.ram_top = 0;
    if (magic != kLoaderMagic) return Error_{"not started by a multiboot loader (bad magic)"};
    MultibootInfo info{};
    if (!memory.read(info_maddr, &info, sizeof info)) return Error_{"multiboot information is unreadable"};
    if ((info.flags & kFlagCmdline) != 0 && info.cmdline != 0 &&
        !copy_string(memory, info.cmdline, out.cmdline, sizeof out.cmdline, out.cmdline_length))
        return Error_{"command line is unreadable or too long"};
    if (auto result = parse_mmap(info, memory, out); !result.ok()) return result;
    return parse_modules(info, memory, out);
}

}  // namespace hv::boot
