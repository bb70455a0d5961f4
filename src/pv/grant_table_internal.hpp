// SPDX-License-Identifier: MIT
// What grant_copy.cpp needs from grant_table.cpp: an entry pinned for the time of one copy.
#pragma once

#include "hv/core/addr.hpp"
#include "hv/core/types.hpp"

namespace hv::pv {

struct Domain;

// Pins entry `ref` of `granter` for domain `mapper` like a host mapping (read-only or writable):
// Xen's checks and statuses (bad_gntref, general_error), GTF_reading/GTF_writing set. On
// GNTST_okay `mfn` is the entry's frame and `unpinned` whether this was its first pin (no
// reference is taken: the caller does that on the granter's engine). The granter's lock is held.
i16 grant_pin_for_copy(Domain& granter, u16 mapper, u32 ref, bool readonly, Mfn& mfn, bool& unpinned);
// Undoes grant_pin_for_copy (the access flags follow the pins).
void grant_unpin_for_copy(Domain& granter, u32 ref, bool readonly);

}  // namespace hv::pv
