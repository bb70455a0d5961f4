// SPDX-License-Identifier: MIT
// PCIDs for the per-vCPU shadow roots (the invariant and the rules: arch/pcid.hpp).
#include "arch/pcid.hpp"

#include "arch/asi.hpp"
#include "arch/cpu.hpp"
#include "arch/sched.hpp"
#include "arch/smp.hpp"
#include "hv/core/addr.hpp"
#include "hv/core/console.hpp"
#include "hv/core/counters.hpp"
#include "hv/mm/pcid_policy.hpp"
#include "hv/pv/domain.hpp"

namespace hv::arch {

namespace pcid_records {
bool in_use;
}  // namespace pcid_records

namespace {

using pcid_records::in_use;

constexpr u64 kCr3NoFlush = u64{1} << 63;  // keep the new PCID's entries [SDM 3A §4.10.4.1]
constexpr u64 kCr3PcidMask = 0xfff;
constexpr u64 kCr4Pcide = u64{1} << 17;
constexpr u32 kCpuid1EcxPcid = u32{1} << 17;
constexpr u32 kCpuid7EbxInvpcid = u32{1} << 10;

// INVPCID types [SDM 2A INVPCID].
constexpr u64 kInvpcidAddress = 0;      // one address, one PCID, global entries excepted
constexpr u64 kInvpcidAllNonGlobal = 3;  // every PCID, global entries excepted

// Per vCPU, meaningful on the pCPU it is loaded on (the only one that may keep its PCIDs).
mm::VcpuPcidState vcpu_pcids[pv::kMaxDomains * pv::kMaxVcpus];

// Domain ids are 1..kMaxDomains (find_domain), vCPU ids 0..kMaxVcpus-1.
mm::VcpuPcidState& pcids_of(const pv::Vcpu& vcpu) {
    return vcpu_pcids[(vcpu.domain->id - 1u) * pv::kMaxVcpus + vcpu.id];
}
u64 pcid_of(const pv::Vcpu& vcpu, unsigned which) {
    return mm::vcpu_root_pcid(vcpu.domain->id, vcpu.id, which, pv::kMaxVcpus);
}
static_assert(mm::vcpu_root_pcid(pv::kMaxDomains, pv::kMaxVcpus - 1, 1, pv::kMaxVcpus) < 4096);

void invpcid(u64 type, u64 pcid, u64 va) {
    const struct {
        u64 pcid;
        u64 va;
    } descriptor{pcid, va};
    asm volatile("invpcid %0, %1" ::"m"(descriptor), "r"(type) : "memory");
}

// CPUID as this image sees it: PCID (1:ECX[17]) and INVPCID (7:EBX[10]); nullptr when both are
// there, else what is missing (for the boot line).
const char* missing_cpu_feature() {
    const bool pcid = (cpuid(1).ecx & kCpuid1EcxPcid) != 0;
    const bool invpcid = cpuid(0).eax >= 7 && (cpuid(7, 0).ebx & kCpuid7EbxInvpcid) != 0;
    if (!pcid && !invpcid) return "the CPU has neither PCID nor INVPCID";
    if (!pcid) return "the CPU has no PCID";
    if (!invpcid) return "the CPU has no INVPCID";
    return nullptr;
}

}  // namespace

void pcid_select(bool wanted) {
    const char* missing = missing_cpu_feature();
    in_use = wanted && missing == nullptr && asi_policy().vcpu_pt;
    const char* why = in_use ? "kernel and user root of every vCPU"
                      : !wanted ? "off by option pcid=0"
                      : missing != nullptr ? missing
                                           : "only with asi vcpu-pt";
    print("PCIDs: %s (%s)\n", in_use ? "in use" : "not used", why);
}

void pcid_enable_cpu() {
    if (in_use) write_cr4(read_cr4() | kCr4Pcide);  // CR3[11:0] is 0 here (an idle root)
}

u64 pv_root_cr3(const pv::Vcpu& vcpu, unsigned which, u64 root) {
    if (!in_use) return root;
    const bool keep = pcids_of(vcpu).load(which);
    if (keep) count_event(Event::Cr3NoFlush);
    return root | pcid_of(vcpu, which) | (keep ? kCr3NoFlush : 0);
}

void pcid_vcpu_flushed(const pv::Vcpu& vcpu) {
    // load_vcpu loaded the root of the vCPU's mode just before its flush.
    if (in_use) pcids_of(vcpu).flushed_all(vcpu.kernel_mode ? 0 : 1);
}

void pcid_shadow_changed(const pv::Vcpu& vcpu, unsigned which) {
    if (in_use) pcids_of(vcpu).root_changed(which);
}

void invalidate_page(u64 va) {
    invlpg(va);  // the current PCID, and the global entry if there is one
    // A guest may name a non-canonical address: INVLPG ignores it, INVPCID would raise #GP.
    if (!in_use || !is_canonical(va)) return;
    const pv::Vcpu* vcpu = loaded_vcpu(current_cpu_index());
    if (vcpu == nullptr || vcpu->asi_root[0] == 0) return;
    const u64 current = read_cr3() & kCr3PcidMask;
    for (unsigned which = 0; which < 2; ++which) {
        const u64 pcid = pcid_of(*vcpu, which);
        if (pcid == current) continue;
        invpcid(kInvpcidAddress, pcid, va);
        count_event(Event::Invlpg);
    }
}

void flush_tlb_local() {
    if (!in_use) {
        write_cr3(read_cr3());
        return;
    }
    invpcid(kInvpcidAllNonGlobal, 0, 0);
    count_event(Event::TlbFlush);
}

}  // namespace hv::arch
