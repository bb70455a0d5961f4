// SPDX-License-Identifier: MIT
// Guest-visible properties of L4 shadowing (asi-reference.md §8.3, properties 19-26). Under ASI
// Isola runs every vCPU on kernel and user shadow roots of its own that copy the guest's chosen
// L4s; these checks see, from the guest side, that the shadows never lag behind the guest's L4s
// and never show what the guest's L4 does not allow. Every check must give the same result on
// Xen 4.17 (the oracle), which runs on the guest's L4s directly:
//   1. an entry mmu_update adds to the loaded kernel L4 (a fresh L3->L2->L1 chain in slots 254
//      and 300) works as soon as the hypercall returns; replacing it shows the new chain at once,
//      removing it faults (#PF bounced to the guest), with no TLB flush asked for by the guest;
//   2. a separate user L4 (pinned, NEW_USER_BASEPTR): entries added, replaced and removed while
//      it is not loaded (kernel mode) are what user mode sees next; they never show in kernel
//      mode, and a kernel-only entry never shows in user mode;
//   3. NEW_BASEPTR ping-pong between the bootstrap L4 and a copy, each switch showing the new
//      root's entries; an L4 that lost its type (unpinned, no longer a root), rewritten as a plain
//      page and made a root again shows its new contents, never the old ones (kernel root and
//      user root), and its slots 256-271 are the hypervisor's again, not what the guest wrote;
//   4. the read-only M2P (slot 256) is readable from user mode exactly when the guest's L4 has
//      it (Xen without m2p_strict: an L4 gets it when it becomes a kernel root, not at
//      validation), never writable; slots 257-271 fault from kernel and user mode; an entry
//      added to an L4 that is kernel and user root at once shows in both modes;
//   5. mmu_update on slots 256-271 of the user L4 while it is not loaded: -EINVAL, unchanged.
#include <cstdarg>
#include <initializer_list>

#include "guest.hpp"
#include "hv/core/format.hpp"

namespace guest {

const char kTestTitle[] = "l4_shadow: L4 updates, base-pointer switches and retyped L4s as the guest sees them";

namespace {

// PTE bits and the values used here (leaves without U: Xen adds no G, so no TLB entry survives
// a CR3 load in either hypervisor and every check below depends on the tables only).
constexpr u64 kP = 1;
constexpr u64 kLeafRo = 0x61, kLeafRw = 0x63, kTable = 0x67;
// #PF error code bits as bounced to the guest (U = the guest was in user mode).
constexpr u64 kPfPresent = 1, kPfWrite = 2, kPfUser = 4;
constexpr u64 kAnyErrorCode = ~u64{0};

constexpr unsigned kRoM2pSlot = 256, kFirstXenSlot = 257, kLastXenSlot = 271;
constexpr unsigned kChainCount = 20;

// A fresh page-table chain: L3[0] -> L2[0] -> L1[0] -> data (word 0: a pattern).
struct alignas(4096) Chain {
    u64 l3[512], l2[512], l1[512], data[512];
};
Chain chains[kChainCount];
unsigned chains_used;

alignas(4096) u64 user_l4[512];  // U (case 2 on; X in case 3b)
alignas(4096) u64 copy_l4[512];  // B (case 3a)
alignas(4096) u64 probe_page[512];  // an image page whose M2P entry user mode reads

volatile u64* kernel_l4;  // K: the bootstrap L4, read-only
u64 kernel_l4_maddr;

u64 va_of(const void* p) { return reinterpret_cast<u64>(p); }
u64 mfn_of(const void* p) { return pfn_to_mfn(va_of(p) >> 12); }
u64 maddr_of(const void* p) { return mfn_of(p) << 12; }
u64 word(const u64* table, unsigned index) { return *reinterpret_cast<const volatile u64*>(&table[index]); }
void store(u64* table, unsigned index, u64 value) { *reinterpret_cast<volatile u64*>(&table[index]) = value; }

// The canonical address of the start of L4 slot `slot`.
u64 slot_va(unsigned slot) {
    const u64 va = u64{slot} << 39;
    return slot >= 256 ? va | 0xffff000000000000 : va;
}

long uvm(u64 va, u64 pte) { return hypercall(xen::kUpdateVaMapping, va, pte, xen::kUvmfInvlpg); }
long remap(const void* p, u64 flags) { return uvm(va_of(p), maddr_of(p) | flags); }
long mmu(u64 ptr, u64 val) {
    xen::MmuUpdate update{ptr, val};
    return hypercall(xen::kMmuUpdate, reinterpret_cast<u64>(&update), 1, 0, xen::kDomidSelf);
}
long ext(xen::MmuextCmd cmd, u64 arg1) {
    xen::MmuextOp op{cmd, 0, arg1, 0};
    return hypercall(xen::kMmuextOp, reinterpret_cast<u64>(&op), 1, 0, xen::kDomidSelf);
}
long set_l4_entry(u64 l4_maddr, unsigned slot, u64 value) { return mmu(l4_maddr + slot * 8, value); }
long new_baseptr(u64 mfn) { return ext(xen::kMmuextNewBaseptr, mfn); }

// ---- one line per check ----
char name_buffer[160];
const char* name(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
const char* name(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    hv::format_v(name_buffer, sizeof name_buffer, fmt, args);
    va_end(args);
    return name_buffer;
}
void ok(const char* what) { print("  ok   %s\n", what); }

void expect_rc(const char* what, long got, long expected) {
    if (got == expected) return ok(what);
    fail("%s: rc %ld, expected %ld\n", what, got, expected);
}
void expect_word(const char* what, u64 got, u64 expected) {
    if (got == expected) return ok(what);
    fail("%s: 0x%lx, expected 0x%lx\n", what, got, expected);
}

// ---- accesses that may fault, in kernel or user mode ----
struct Access {
    bool faulted;
    u64 value;
    u64 vector, error_code, cr2;
};

bool read_faults(u64 va, u64* value) {
    clear_last_exception();
    u64 v = 0;
    asm volatile("1: movq (%[va]), %[v]\n2:\n" GUEST_EXTABLE(1b, 2b) : [v] "+r"(v) : [va] "r"(va) : "memory");
    *value = v;
    return last_exception.seen;
}
bool write_faults(u64 va, u64 value) {
    clear_last_exception();
    asm volatile("1: movq %[v], (%[va])\n2:\n" GUEST_EXTABLE(1b, 2b) : : [v] "r"(value), [va] "r"(va) : "memory");
    return last_exception.seen;
}

void clear_cr2() {
    if (shared_info() != nullptr) shared_info()->vcpu_info[0].cr2 = 0;
}
Access finish(bool faulted, u64 value) {
    Access access{faulted, value, 0, 0, 0};
    if (!faulted) return access;
    access.vector = last_exception.frame.vector;
    access.error_code = last_exception.frame.error_code;
    access.cr2 = shared_info() != nullptr ? shared_info()->vcpu_info[0].cr2 : 0;
    return access;
}
Access kernel_read(u64 va) {
    clear_cr2();
    u64 value = 0;
    const bool faulted = read_faults(va, &value);
    return finish(faulted, value);
}

// User mode: exec_user runs user_probe, which leaves its result here.
constexpr long kUserDone = 0x600d;
u64 user_target, user_value;
bool user_write, user_faulted;
long user_probe() {
    if (user_write)
        user_faulted = write_faults(user_target, user_value);
    else
        user_faulted = read_faults(user_target, &user_value);
    return kUserDone;
}
Access user_access(u64 va, bool write, u64 value) {
    user_target = va, user_write = write, user_value = value, user_faulted = false;
    clear_cr2();
    const long rc = exec_user(user_probe);
    if (rc != kUserDone) {
        fail("exec_user for 0x%lx returned %ld\n", va, rc);
        return {true, 0, ~u64{0}, 0, 0};
    }
    return finish(user_faulted, user_value);
}
Access user_read(u64 va) { return user_access(va, false, 0); }

void expect_value(const char* what, const Access& access, u64 expected) {
    if (access.faulted)
        return fail("%s: vector %lu (error code 0x%lx, cr2 0x%lx), expected 0x%lx\n", what, access.vector,
                    access.error_code, access.cr2, expected);
    if (access.value != expected) return fail("%s: read 0x%lx, expected 0x%lx\n", what, access.value, expected);
    ok(what);
}
// A #PF at `va` with `error_code` (kAnyErrorCode: whatever the hypervisor's own slots hold there).
void expect_pf(const char* what, const Access& access, u64 va, u64 error_code) {
    if (!access.faulted) return fail("%s: no fault, read 0x%lx\n", what, access.value);
    if (access.vector != 14) return fail("%s: vector %lu, expected #PF\n", what, access.vector);
    if (shared_info() != nullptr && access.cr2 != va) return fail("%s: cr2 0x%lx, expected 0x%lx\n", what, access.cr2, va);
    if (error_code != kAnyErrorCode && access.error_code != error_code)
        return fail("%s: #PF error code 0x%lx, expected 0x%lx\n", what, access.error_code, error_code);
    ok(what);
}

// ---- building blocks ----
// A fresh chain whose data word 0 is `pattern`; its tables are remapped read-only so an L4
// entry may point at the L3. nullptr (error reported) if that fails.
Chain* new_chain(u64 pattern) {
    if (chains_used == kChainCount) return error("out of chains\n"), nullptr;
    Chain& chain = chains[chains_used++];
    for (unsigned i = 0; i < 512; ++i) chain.l3[i] = chain.l2[i] = chain.l1[i] = chain.data[i] = 0;
    chain.data[0] = pattern;
    chain.l1[0] = maddr_of(chain.data) | kLeafRw;
    chain.l2[0] = maddr_of(chain.l1) | kTable;
    chain.l3[0] = maddr_of(chain.l2) | kTable;
    for (const u64* table : {chain.l1, chain.l2, chain.l3})
        if (remap(table, kLeafRo) != 0) return error("remapping a chain table read-only failed\n"), nullptr;
    return &chain;
}
u64 entry_for(const Chain* chain) { return maddr_of(chain->l3) | kTable; }
u64 pattern(unsigned n) { return 0x5a5a000000000000 | (u64{n} << 16) | 0x1234; }

// A second L4 built as a plain page (only slot 0, the image, copied from the kernel L4) and
// remapped read-only; the caller pins it or makes it a root.
bool build_l4(u64* l4) {
    for (unsigned i = 0; i < 512; ++i) store(l4, i, 0);
    store(l4, 0, kernel_l4[0]);
    if (remap(l4, kLeafRo) != 0) return error("remapping an L4 read-only failed\n"), false;
    return true;
}

// ---- 1 ----
void kernel_entries() {
    print("1. loaded kernel L4: entries added, replaced, removed by mmu_update\n");
    for (unsigned slot : {254u, 300u}) {
        const u64 va = slot_va(slot);
        Chain* first = new_chain(pattern(slot));
        Chain* second = new_chain(pattern(slot + 1000));
        if (first == nullptr || second == nullptr) return;
        expect_pf(name("1 kernel read of unused L4[%u] range faults", slot), kernel_read(va), va, 0);
        expect_rc(name("1 mmu_update K[%u] = fresh chain", slot), set_l4_entry(kernel_l4_maddr, slot, entry_for(first)), 0);
        expect_value(name("1 K[%u] chain readable when the hypercall returns", slot), kernel_read(va), pattern(slot));
        expect_rc(name("1 mmu_update K[%u] = another chain", slot),
                  set_l4_entry(kernel_l4_maddr, slot, entry_for(second)), 0);
        expect_value(name("1 K[%u] shows the new chain, not the cached old one", slot), kernel_read(va),
                     pattern(slot + 1000));
        expect_rc(name("1 mmu_update K[%u] = 0", slot), set_l4_entry(kernel_l4_maddr, slot, 0), 0);
        expect_pf(name("1 K[%u] range faults after removal (no stale translation)", slot), kernel_read(va), va, 0);
    }
}

// ---- 2 ----
bool user_entries() {
    print("2. separate user L4 U: entries changed while it is not loaded\n");
    if (!build_l4(user_l4)) return false;
    expect_rc("2 PIN_L4_TABLE U", ext(xen::kMmuextPinL4Table, mfn_of(user_l4)), 0);
    expect_rc("2 NEW_USER_BASEPTR U", set_user_root(mfn_of(user_l4)), 0);
    probe_page[0] = 0xfeed;
    expect_value("2 user mode runs on U (image through U[0])", user_read(va_of(probe_page)), 0xfeed);

    constexpr unsigned slot = 301;
    const u64 va = slot_va(slot);
    Chain* c = new_chain(pattern(21));
    Chain* d = new_chain(pattern(22));
    Chain* e = new_chain(pattern(23));
    if (c == nullptr || d == nullptr || e == nullptr) return false;
    const u64 u = maddr_of(user_l4);
    expect_pf("2 user read of unused U[301] range faults", user_read(va), va, kPfUser);
    expect_rc("2 mmu_update U[301] = chain C in kernel mode", set_l4_entry(u, slot, entry_for(c)), 0);
    expect_word("2 K[301] untouched", kernel_l4[slot], 0);
    expect_pf("2 kernel read of 301 range faults (U's entry not in K)", kernel_read(va), va, 0);
    expect_value("2 user read of 301 range gives C", user_read(va), pattern(21));
    expect_pf("2 kernel read of 301 range still faults after user mode used it", kernel_read(va), va, 0);
    expect_rc("2 mmu_update U[301] = chain D in kernel mode", set_l4_entry(u, slot, entry_for(d)), 0);
    expect_value("2 user read gives D, not the C user mode used last", user_read(va), pattern(22));
    expect_rc("2 mmu_update U[301] = 0 in kernel mode", set_l4_entry(u, slot, 0), 0);
    expect_pf("2 user read of 301 range faults after removal", user_read(va), va, kPfUser);
    expect_rc("2 mmu_update K[301] = chain E (kernel L4 only)", set_l4_entry(kernel_l4_maddr, slot, entry_for(e)), 0);
    expect_value("2 kernel read gives E", kernel_read(va), pattern(23));
    expect_pf("2 user read of 301 range faults (K's entry not in U)", user_read(va), va, kPfUser);
    expect_rc("2 mmu_update K[301] = 0", set_l4_entry(kernel_l4_maddr, slot, 0), 0);
    expect_pf("2 kernel read of 301 range faults after removal", kernel_read(va), va, 0);
    return true;
}

// ---- 3a ----
void kernel_ping_pong() {
    print("3a. NEW_BASEPTR ping-pong between K and a copy B; B retyped while no root\n");
    constexpr unsigned slot = 302;
    const u64 va = slot_va(slot);
    Chain* f = new_chain(pattern(31));
    Chain* g = new_chain(pattern(32));
    Chain* h = new_chain(pattern(33));
    if (f == nullptr || g == nullptr || h == nullptr) return;
    if (!build_l4(copy_l4)) return;
    expect_rc("3a mmu_update B[302] = chain F while B is a plain page", set_l4_entry(maddr_of(copy_l4), slot, entry_for(f)), 0);
    expect_rc("3a PIN_L4_TABLE B", ext(xen::kMmuextPinL4Table, mfn_of(copy_l4)), 0);
    expect_pf("3a kernel read of 302 range on K faults", kernel_read(va), va, 0);
    expect_rc("3a NEW_BASEPTR B", new_baseptr(mfn_of(copy_l4)), 0);
    expect_value("3a on B: 302 range gives F at once", kernel_read(va), pattern(31));
    expect_rc("3a mmu_update K[302] = chain G while B is loaded", set_l4_entry(kernel_l4_maddr, slot, entry_for(g)), 0);
    expect_value("3a on B: still F (K is not loaded)", kernel_read(va), pattern(31));
    for (unsigned round = 0; round < 2; ++round) {
        expect_rc(name("3a round %u NEW_BASEPTR K", round), new_baseptr(kernel_l4_maddr >> 12), 0);
        expect_value(name("3a round %u on K: 302 range gives G", round), kernel_read(va), pattern(32));
        expect_rc(name("3a round %u NEW_BASEPTR B", round), new_baseptr(mfn_of(copy_l4)), 0);
        expect_value(name("3a round %u on B: 302 range gives F", round), kernel_read(va), pattern(31));
    }
    expect_rc("3a NEW_BASEPTR K", new_baseptr(kernel_l4_maddr >> 12), 0);
    // B is pinned only now: unpinned, it has no type, so it may be mapped writable and rewritten.
    expect_rc("3a remap B RW while pinned", remap(copy_l4, kLeafRw), -xen::kEBUSY);
    expect_rc("3a UNPIN B", ext(xen::kMmuextUnpinTable, mfn_of(copy_l4)), 0);
    expect_rc("3a remap B RW once it has no type", remap(copy_l4, kLeafRw), 0);
    store(copy_l4, slot, entry_for(h));
    expect_rc("3a remap B RO", remap(copy_l4, kLeafRo), 0);
    expect_rc("3a NEW_BASEPTR B (validates the rewritten B)", new_baseptr(mfn_of(copy_l4)), 0);
    expect_value("3a on B: 302 range gives H, never the old F", kernel_read(va), pattern(33));
    expect_rc("3a mmu_update B[302] = 0 while B is loaded", set_l4_entry(maddr_of(copy_l4), slot, 0), 0);
    expect_pf("3a on B: 302 range faults after removal", kernel_read(va), va, 0);
    expect_rc("3a NEW_BASEPTR K (B drops its type)", new_baseptr(kernel_l4_maddr >> 12), 0);
    expect_value("3a on K: 302 range gives G", kernel_read(va), pattern(32));
    expect_rc("3a mmu_update K[302] = 0", set_l4_entry(kernel_l4_maddr, slot, 0), 0);
    expect_pf("3a on K: 302 range faults after removal", kernel_read(va), va, 0);
}

// ---- 3b ----
void user_retype() {
    print("3b. user L4 X (= U) loses its type, is rewritten as a plain page, becomes the user root again\n");
    constexpr unsigned kOld = 303, kRemoved = 304, kStored = 305;
    Chain* i = new_chain(pattern(41));
    Chain* j = new_chain(pattern(42));
    Chain* k = new_chain(pattern(43));
    Chain* l = new_chain(pattern(44));
    if (i == nullptr || j == nullptr || k == nullptr || l == nullptr) return;
    const u64 x = maddr_of(user_l4);
    expect_rc("3b mmu_update X[303] = chain I (X pinned, user root)", set_l4_entry(x, kOld, entry_for(i)), 0);
    expect_rc("3b mmu_update X[304] = chain K", set_l4_entry(x, kRemoved, entry_for(k)), 0);
    expect_value("3b user read of 303 range gives I", user_read(slot_va(kOld)), pattern(41));
    expect_value("3b user read of 304 range gives K", user_read(slot_va(kRemoved)), pattern(43));
    expect_rc("3b UNPIN X", ext(xen::kMmuextUnpinTable, mfn_of(user_l4)), 0);
    expect_rc("3b remap X RW while it is the user root", remap(user_l4, kLeafRw), -xen::kEBUSY);
    expect_rc("3b NEW_USER_BASEPTR 0 (X drops its L4 type)", set_user_root(0), 0);
    expect_rc("3b remap X RW", remap(user_l4, kLeafRw), 0);
    // Rewritten as a plain page: new chain J in 303, 304 cleared, and the guest's own values in the
    // hypervisor's slots (a data frame as "L3"), which validation must replace.
    const u64 bogus = maddr_of(probe_page) | kTable;
    store(user_l4, kOld, entry_for(j));
    store(user_l4, kRemoved, 0);
    for (unsigned slot = kRoM2pSlot; slot <= kLastXenSlot; ++slot) store(user_l4, slot, bogus);
    expect_rc("3b mmu_update X[305] = chain L on the untyped X (a plain store)", set_l4_entry(x, kStored, entry_for(l)), 0);
    expect_word("3b X[305] after the plain store", word(user_l4, kStored), entry_for(l));
    expect_rc("3b remap X RO", remap(user_l4, kLeafRo), 0);
    expect_rc("3b NEW_USER_BASEPTR X (validates the rewritten X)", set_user_root(mfn_of(user_l4)), 0);
    expect_value("3b user read of 303 range gives J, never the old I", user_read(slot_va(kOld)), pattern(42));
    expect_pf("3b user read of 304 range faults (cleared while untyped)", user_read(slot_va(kRemoved)), slot_va(kRemoved),
              kPfUser);
    expect_value("3b user read of 305 range gives L", user_read(slot_va(kStored)), pattern(44));
    unsigned kept = 0;
    for (unsigned slot = kRoM2pSlot; slot <= kLastXenSlot; ++slot) kept += word(user_l4, slot) == bogus;
    expect_word("3b X[256..271] written by the guest: none survive validation", kept, 0);
    expect_pf("3b user read of slot 256 (guest wrote a data frame there)", user_read(slot_va(kRoM2pSlot) + 0x1000),
              slot_va(kRoM2pSlot) + 0x1000, kAnyErrorCode);
    expect_rc("3b PIN_L4_TABLE X again", ext(xen::kMmuextPinL4Table, mfn_of(user_l4)), 0);
    for (unsigned slot : {kOld, kStored}) expect_rc(name("3b mmu_update X[%u] = 0", slot), set_l4_entry(x, slot, 0), 0);
}

// ---- 4 ----
// Reads one address in each of slots 257-271 (kernel or user mode): every one must #PF.
void xen_slots_fault(const char* what, bool user) {
    unsigned faults = 0;
    for (unsigned slot = kFirstXenSlot; slot <= kLastXenSlot; ++slot) {
        const u64 va = slot_va(slot) + 0x2000;
        const Access access = user ? user_read(va) : kernel_read(va);
        if (access.faulted && access.vector == 14 && (shared_info() == nullptr || access.cr2 == va)) {
            ++faults;
            continue;
        }
        if (access.faulted)
            fail("%s: 0x%lx vector %lu cr2 0x%lx, expected #PF\n", what, va, access.vector, access.cr2);
        else
            fail("%s: 0x%lx readable (0x%lx)\n", what, va, access.value);
    }
    if (faults == kLastXenSlot - kFirstXenSlot + 1) ok(name("%s: all 15 reads #PF", what));
}

void m2p_and_xen_slots() {
    print("4. read-only M2P (slot 256) as the guest's L4 allows; slots 257-271 unreachable\n");
    const u64 mfn = mfn_of(probe_page), pfn = va_of(probe_page) >> 12;
    const u64 entry_va = xen::kMachToPhysVirtStart + mfn * 8;
    expect_value("4 kernel read of M2P[probe mfn]", kernel_read(entry_va), pfn);
    expect_rc("4 NEW_USER_BASEPTR K", set_user_root(kernel_l4_maddr >> 12), 0);
    expect_word("4 K[256] present (K is the kernel root)", kernel_l4[kRoM2pSlot] & kP, kP);
    expect_value("4 user read of M2P[probe mfn] with user root K", user_read(entry_va), pfn);
    expect_pf("4 user write to the M2P with user root K", user_access(entry_va, true, 0), entry_va,
              kPfPresent | kPfWrite | kPfUser);
    xen_slots_fault("4 kernel reads of slots 257-271", false);
    xen_slots_fault("4 user reads of slots 257-271, user root K", true);
    // K is both roots now: one mmu_update shows in both modes (both shadows follow it).
    constexpr unsigned slot = 306;
    Chain* n = new_chain(pattern(61));
    if (n == nullptr) return;
    expect_rc("4 mmu_update K[306] = chain N (K is kernel and user root)", set_l4_entry(kernel_l4_maddr, slot, entry_for(n)), 0);
    expect_value("4 kernel read of 306 range gives N", kernel_read(slot_va(slot)), pattern(61));
    expect_value("4 user read of 306 range gives N", user_read(slot_va(slot)), pattern(61));
    expect_rc("4 mmu_update K[306] = 0", set_l4_entry(kernel_l4_maddr, slot, 0), 0);
    expect_pf("4 user read of 306 range faults after removal", user_read(slot_va(slot)), slot_va(slot), kPfUser);
    expect_pf("4 kernel read of 306 range faults after removal", kernel_read(slot_va(slot)), slot_va(slot), 0);

    // U has never been a kernel root since it was last validated: no M2P in it (Xen fills slot 256
    // of an L4 when it becomes a kernel root, without m2p_strict).
    expect_rc("4 NEW_USER_BASEPTR U", set_user_root(mfn_of(user_l4)), 0);
    expect_word("4 U[256] empty (U never was a kernel root)", word(user_l4, kRoM2pSlot), 0);
    expect_pf("4 user read of M2P[probe mfn] with user root U", user_read(entry_va), entry_va, kPfUser);
    xen_slots_fault("4 user reads of slots 257-271, user root U", true);
    // Once U served as the kernel root its slot 256 holds the M2P, in user mode too.
    expect_rc("4 NEW_BASEPTR U", new_baseptr(mfn_of(user_l4)), 0);
    expect_word("4 U[256] = K[256] after NEW_BASEPTR U", word(user_l4, kRoM2pSlot), kernel_l4[kRoM2pSlot]);
    expect_value("4 kernel read of M2P[probe mfn] on U", kernel_read(entry_va), pfn);
    xen_slots_fault("4 kernel reads of slots 257-271 on U", false);
    expect_rc("4 NEW_BASEPTR K", new_baseptr(kernel_l4_maddr >> 12), 0);
    expect_value("4 user read of M2P[probe mfn] with user root U (now with slot 256)", user_read(entry_va), pfn);
    expect_pf("4 user write to the M2P with user root U", user_access(entry_va, true, 0), entry_va,
              kPfPresent | kPfWrite | kPfUser);
}

// ---- 5 ----
void hostile_xen_slots() {
    print("5. mmu_update on slots 256-271 of the user L4 while it is not loaded\n");
    Chain* m = new_chain(pattern(51));
    if (m == nullptr) return;
    const u64 u = maddr_of(user_l4);
    unsigned refused = 0, unchanged = 0;
    for (unsigned slot = kRoM2pSlot; slot <= kLastXenSlot; ++slot) {
        const u64 before = word(user_l4, slot);
        for (u64 value : {u64{0}, entry_for(m), kernel_l4[slot]}) {
            const long rc = set_l4_entry(u, slot, value);
            if (rc == -xen::kEINVAL) ++refused;
            else fail("5 mmu_update U[%u] = 0x%lx: rc %ld, expected %ld\n", slot, value, rc, long{-xen::kEINVAL});
        }
        if (word(user_l4, slot) == before) ++unchanged;
        else fail("5 U[%u] changed to 0x%lx by a refused update\n", slot, word(user_l4, slot));
    }
    expect_word("5 mmu_update U[256..271] (0, a chain, K's entry): all -EINVAL", refused, 3 * 16);
    expect_word("5 U[256..271] unchanged", unchanged, 16);
    expect_pf("5 user read of slot 257 after the refused updates", user_read(slot_va(257) + 0x2000),
              slot_va(257) + 0x2000, kAnyErrorCode);
    // The guest slots next to them take the same chain.
    for (unsigned slot : {255u, 272u}) {
        expect_rc(name("5 mmu_update U[%u] = chain M", slot), set_l4_entry(u, slot, entry_for(m)), 0);
        expect_value(name("5 user read of %u range gives M", slot), user_read(slot_va(slot)), pattern(51));
        expect_rc(name("5 mmu_update U[%u] = 0", slot), set_l4_entry(u, slot, 0), 0);
        expect_pf(name("5 user read of %u range faults after removal", slot), user_read(slot_va(slot)), slot_va(slot),
                  kPfUser);
    }
}

}  // namespace

void test_main() {
    if (!setup_traps()) return;
    if (map_shared_info() == nullptr) return;
    kernel_l4 = reinterpret_cast<volatile u64*>(start_info->pt_base);
    kernel_l4_maddr = pfn_to_mfn(start_info->pt_base >> 12) << 12;
    for (unsigned slot : {254u, 255u, 272u, 300u, 301u, 302u, 303u, 304u, 305u, 306u})
        if (kernel_l4[slot] != 0) return error("K[%u] already in use: 0x%lx\n", slot, kernel_l4[slot]);
    kernel_entries();
    if (!user_entries()) return;
    kernel_ping_pong();
    user_retype();
    m2p_and_xen_slots();
    hostile_xen_slots();
}

}  // namespace guest
