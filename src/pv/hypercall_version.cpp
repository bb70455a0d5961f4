// SPDX-License-Identifier: MIT
// xen_version: the hypervisor's identity and the features a 64-bit PV guest sees. [pv-abi.md §3.12]
//
// String buffers are copied whole, zero-padded after the text (xsa-122). Isola treats its guests as
// unprivileged: XENVER_commandline gives "<denied>" and XENVER_build_id -EPERM, as Xen does for a
// guest its security policy does not trust.
#include "hv/pv/guest_memory.hpp"
#include "hv/pv/vcpu_registers.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hypercall_handlers.hpp"

namespace hv::pv {
namespace {

constexpr long kXenVersionNumber = (4 << 16) | 17;  // the ABI level we implement: Xen 4.17
constexpr char kDenied[] = "<denied>";
constexpr u64 kPageSize = 4096;

// Copies `text` into a zeroed buffer of `size` bytes (truncated, always NUL-terminated).
template <usize size>
void set_text(char (&buffer)[size], const char* text) {
    usize i = 0;
    for (; i + 1 < size && text[i] != 0; ++i) buffer[i] = text[i];
    for (; i < size; ++i) buffer[i] = 0;
}

template <usize size>
long copy_text_out(Vcpu& vcpu, u64 guest_va, const char* text) {
    char buffer[size];
    set_text(buffer, text);
    return copy_to_guest(vcpu, guest_va, buffer, size) ? 0 : -xen::kEFAULT;
}

long compile_info(Vcpu& vcpu, u64 guest_va) {
    xen::XenCompileInfo info{};
    set_text(info.compiler, __VERSION__);
    set_text(info.compile_by, "isola");
    set_text(info.compile_domain, "");
    set_text(info.compile_date, "");
    return copy_to_guest(vcpu, guest_va, &info, sizeof info) ? 0 : -xen::kEFAULT;
}

// Feature submap 0 as Xen 4.17 builds it for a 64-bit PV domain, less what Isola lacks: grant
// maps (gnttab_map_avail_bits) and dom0 (Isola's guests are not hardware domains).
// highmem_assist: MMUEXT_CLEAR_PAGE and MMUEXT_COPY_PAGE are implemented.
u32 feature_submap0(const Vcpu& vcpu) {
    u32 submap = (1u << xen::kXenFeatMemoryOpVnodeSupported) | (1u << xen::kXenFeatMmuPtUpdatePreserveAd) |
                 (1u << xen::kXenFeatHighmemAssist) |
                 (1u << xen::kXenFeatDirectMapped);
    if (vm_assist_enabled(*vcpu.domain, xen::kVmAsstTypePaeExtendedCr3)) submap |= 1u << xen::kXenFeatPaePgdirAbove4gb;
    return submap;
}

long get_features(Vcpu& vcpu, u64 guest_va) {
    xen::XenFeatureInfo info{};
    if (!copy_from_guest(vcpu, &info, guest_va, sizeof info)) return -xen::kEFAULT;
    if (info.submap_idx != 0) return -xen::kEINVAL;
    info.submap = feature_submap0(vcpu);
    return copy_to_guest(vcpu, guest_va, &info, sizeof info) ? 0 : -xen::kEFAULT;
}

// Every subcommand but XENVER_version. Out of line so that the null hypercall does not pay for
// this function's stack frame (the string buffers).
[[gnu::noinline]] long xen_version_query(Vcpu& vcpu, u32 command, u64 buffer) {
    switch (command) {
        case xen::kXenVersionVersion: return kXenVersionNumber;
        case xen::kXenVersionExtraversion: return copy_text_out<16>(vcpu, buffer, ".0-isola");
        case xen::kXenVersionCompileInfo: return compile_info(vcpu, buffer);
        case xen::kXenVersionCapabilities:  // 64-bit PV only: no 32-bit PV, no HVM
            return copy_text_out<xen::kXenCapabilitiesSize>(vcpu, buffer, "xen-3.0-x86_64");
        case xen::kXenVersionChangeset: return copy_text_out<xen::kXenChangesetSize>(vcpu, buffer, "");
        case xen::kXenVersionPlatformParameters: {
            const u64 virt_start = xen::kHypervisorVirtStart;
            return copy_to_guest(vcpu, buffer, &virt_start, sizeof virt_start) ? 0 : -xen::kEFAULT;
        }
        case xen::kXenVersionGetFeatures: return get_features(vcpu, buffer);
        case xen::kXenVersionPagesize: return buffer == 0 ? static_cast<long>(kPageSize) : -xen::kEINVAL;
        case xen::kXenVersionGuestHandle: {
            const u8 handle[xen::kXenGuestHandleSize] = {};  // Isola domains have no UUID
            return copy_to_guest(vcpu, buffer, handle, sizeof handle) ? 0 : -xen::kEFAULT;
        }
        case xen::kXenVersionCommandline:
            // Denied: only the denial text and its NUL are copied, not the whole 1024 bytes.
            return copy_to_guest(vcpu, buffer, kDenied, sizeof kDenied) ? 0 : -xen::kEFAULT;
        case xen::kXenVersionBuildId: return -xen::kEPERM;
        default: return -xen::kENOSYS;
    }
}

}  // namespace

long xen_version(Vcpu& vcpu, const HypercallArgs& args) {
    const u32 command = static_cast<u32>(args.arg[0]);  // Xen's `int cmd`: the low 32 bits
    // XENVER_version is the null hypercall every PV hypervisor is measured by: answered first.
    if (command == xen::kXenVersionVersion) return kXenVersionNumber;
    return xen_version_query(vcpu, command, args.arg[1]);
}

}  // namespace hv::pv
