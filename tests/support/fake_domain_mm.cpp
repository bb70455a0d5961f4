// SPDX-License-Identifier: MIT
// Host fakes for hv/pv/domain_mm.hpp.
#include "support/fake_domain_mm.hpp"

#include "hv/core/check.hpp"
#include "hv/pv/domain.hpp"
#include "hv/pv/domain_mm.hpp"

namespace hv::test {
FakeDomainMm& fake_domain_mm() {
    static FakeDomainMm fake;
    return fake;
}
}  // namespace hv::test

namespace hv::pv {

PageTypeEngine domain_engine(Domain& domain) {
    HV_CHECK(test::fake_domain_mm().frames != nullptr);
    return PageTypeEngine(test::fake_domain_mm().frames->env(), domain.id);
}
PageTypeEngine vcpu_engine(Vcpu& vcpu) { return domain_engine(*vcpu.domain); }
void flush_guest_tlb(Vcpu&) { ++test::fake_domain_mm().full_flushes; }
void invalidate_guest_page(Vcpu&, u64 va) { test::fake_domain_mm().invalidated.push_back(va); }
void set_guest_m2p_slot(Mfn l4, bool present) { test::fake_domain_mm().m2p_slot_writes.emplace_back(l4.raw(), present); }
void flush_guest_tlb_mask(Vcpu&, u32 flags, u64 va, u64 vcpu_mask, bool local_only) {
    test::fake_domain_mm().masked_flushes.push_back({flags, va, vcpu_mask, local_only});
}
void release_root_elsewhere(Vcpu&) { ++test::fake_domain_mm().root_releases; }
void reload_guest_root(Vcpu&) { ++test::fake_domain_mm().root_reloads; }
void set_guest_m2p(Mfn mfn, u64 pfn) { test::fake_domain_mm().m2p_writes.emplace_back(mfn.raw(), pfn); }
u64 machine_frame_limit() { return test::fake_domain_mm().frame_limit; }

}  // namespace hv::pv

namespace hv::pv {
u64 read_frame_word(Mfn mfn, unsigned index) { return test::fake_domain_mm().frames->word(mfn, index); }
void write_frame_word(Mfn mfn, unsigned index, u64 value) { test::fake_domain_mm().frames->word(mfn, index) = value; }
void clear_frame(Mfn mfn) {
    for (unsigned i = 0; i < 512; ++i) write_frame_word(mfn, i, 0);
}
void copy_frame(Mfn destination, Mfn source) {
    for (unsigned i = 0; i < 512; ++i) write_frame_word(destination, i, read_frame_word(source, i));
}
void copy_frame_bytes(Mfn destination, unsigned destination_offset, Mfn source, unsigned source_offset,
                      unsigned length) {
    auto* to = reinterpret_cast<u8*>(&test::fake_domain_mm().frames->word(destination, 0));
    const auto* from = reinterpret_cast<const u8*>(&test::fake_domain_mm().frames->word(source, 0));
    __builtin_memmove(to + destination_offset, from + source_offset, length);
}
void load_guest_gdt(Vcpu&) { ++test::fake_domain_mm().gdt_loads; }
void load_guest_ldt(Vcpu&) { ++test::fake_domain_mm().ldt_loads; }
void load_guest_ldtr(Vcpu&) { ++test::fake_domain_mm().ldtr_loads; }
u64 guest_ldt_window(const Vcpu&) { return test::fake_domain_mm().ldt_window; }
}  // namespace hv::pv
