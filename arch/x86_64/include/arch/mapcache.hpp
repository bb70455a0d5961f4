// SPDX-License-Identifier: MIT
// map_domain_page: the one way the hypervisor touches a frame that is not in the directmap
// (every guest frame). Each pCPU owns a window of kMapcacheSlots pages in the mapcache region;
// a mapping lives as long as its MappedFrame handle and only on the pCPU that made it.
//
// Slot lifetime:   free --map_domain_page--> mapped (PTE written) --~MappedFrame--> free
//                  (PTE cleared, INVLPG on this pCPU only: no other pCPU ever used the VA)
// Callers run with interrupts off (the hypervisor never enables them yet), so a pCPU's slots
// need no lock. Running out of slots is a hypervisor bug (a leak) and panics.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/types.hpp"

namespace hv::arch {

class MappedFrame {
  public:
    MappedFrame(unsigned cpu, unsigned slot, u64 va) : cpu_(cpu), slot_(slot), va_(va) {}
    MappedFrame(MappedFrame&& other) : cpu_(other.cpu_), slot_(other.slot_), va_(other.va_) { other.va_ = 0; }
    MappedFrame(const MappedFrame&) = delete;
    MappedFrame& operator=(const MappedFrame&) = delete;
    MappedFrame& operator=(MappedFrame&&) = delete;
    ~MappedFrame();

    template <class T>
    T* as() const {
        return reinterpret_cast<T*>(va_);
    }
    u8* bytes() const { return as<u8>(); }

  private:
    unsigned cpu_;
    unsigned slot_;
    u64 va_;
};

// Sets up `cpu`'s window: `l1_table` is the L1 that maps it (built by memory_init).
void mapcache_init_cpu(unsigned cpu, Mfn l1_table);
MappedFrame map_domain_page(Mfn mfn);
// For leak checks: slots currently mapped on `cpu`.
unsigned mapcache_slots_in_use(unsigned cpu);

}  // namespace hv::arch
