// SPDX-License-Identifier: MIT
// Per-pCPU mapcache windows (see mapcache.hpp for the slot lifetime).
#include "arch/mapcache.hpp"

#include "arch/cpu.hpp"
#include "arch/descriptors.hpp"
#include "arch/memory.hpp"
#include "arch/pcid.hpp"
#include "arch/smp.hpp"
#include "arch/va_layout.hpp"
#include "hv/core/check.hpp"

namespace hv::arch {
namespace {

struct Window {
    Mfn l1;         // the L1 table mapping the window (hypervisor pool: reached via the directmap)
    u64 used_mask;  // bit per slot
    u64* entries() const { return static_cast<u64*>(hv_frame_pointer(l1)); }
};
static_assert(kMapcacheSlots == 64, "used_mask has one bit per slot");

Window windows[kMaxCpus];

unsigned first_slot_index(u64 va) { return static_cast<unsigned>((va >> kPageShift) & 511); }

}  // namespace

void mapcache_init_cpu(unsigned cpu, Mfn l1_table) {
    windows[cpu] = Window{l1_table, 0};
}

MappedFrame map_domain_page(Mfn mfn) {
    const unsigned cpu = current_cpu_index();
    Window& window = windows[cpu];
    HV_CHECK(window.l1.raw() != 0);
    HV_CHECK(window.used_mask != ~u64{0});  // every slot in use: a MappedFrame leaked
    const unsigned slot = static_cast<unsigned>(__builtin_ctzll(~window.used_mask));
    window.used_mask |= u64{1} << slot;
    const u64 va = mapcache_slot_va(cpu, slot);
    window.entries()[first_slot_index(va)] = X86PteFormat::make_leaf(mm::Level::Pt, mfn.maddr(), mm::Attrs{.write = true});
    return MappedFrame(cpu, slot, va);
}

MappedFrame::~MappedFrame() {
    if (va_ == 0) return;
    Window& window = windows[cpu_];
    window.entries()[first_slot_index(va_)] = 0;
    invalidate_page(va_);  // every PCID that may cache the slot (arch/pcid.hpp)
    window.used_mask &= ~(u64{1} << slot_);
}

unsigned mapcache_slots_in_use(unsigned cpu) { return static_cast<unsigned>(__builtin_popcountll(windows[cpu].used_mask)); }

}  // namespace hv::arch
