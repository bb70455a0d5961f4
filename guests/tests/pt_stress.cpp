// SPDX-License-Identifier: MIT
// A random but deterministic (fixed seed) sequence of page-table operations on a pool of spare
// frames: update_va_mapping of their own (home) mappings and of alias pages, mmu_update of table
// entries (checked when the frame is a live table, a plain store otherwise), direct stores,
// PIN/UNPIN, update_va_mapping through a private hierarchy hooked into L4[255], and writes of a
// tag word through every kind of mapping.
//
// The guest keeps a model of Xen's page-type rules (pv-abi.md §5.1-5.2: one type at a time, a
// type changes only at count 0, the first table reference validates the contents, the last one
// drops every reference the entries held) and predicts every return value. After each operation
// it checks from the guest side what it can: the hypervisor's result equals the prediction,
// refused operations left the old entries (read back through the home mappings), every mapping
// reads the tag the model expects (or faults when the model says it is not mapped), and the
// model's own counters recount to the same values, so a frame that is a table never has a
// writable mapping. At the end everything is torn down, every frame must map writable again, and
// a checksum of the results and the final state (no machine addresses) is printed and compared
// with the one Xen 4.17 produced.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "pt_stress: random page-table operations against a model of the type rules";

namespace {

constexpr u64 kP = 1, kRw = 2;
constexpr u64 kAddrMask = 0x000ffffffffff000;
constexpr u64 kCompareMask = kAddrMask | kP | kRw;  // the hypervisor may add US, A, D, G, bit 52
constexpr u64 kLeafRo = 0x61, kLeafRw = 0x63, kTable = 0x67;
constexpr unsigned kChainSlot = 255;
constexpr u64 kChainBase = u64{kChainSlot} << 39;

constexpr unsigned kOps = 1000;
constexpr u64 kSeed = 0x15014a5eed;
// The checksum Xen 4.17 printed for this seed and pool.
constexpr u64 kXenChecksum = 0x7a41f183266ac8bb;

// The pool: L frames (leaf entries; may become L1 tables), P2 frames (may become L2 tables) and
// one L3 hooked into L4[255] for the whole run. Entries live in slots 0-3, a tag in word 511.
constexpr unsigned kLFrames = 10, kP2Frames = 4, kFrames = kLFrames + kP2Frames + 1;
constexpr unsigned kT3 = kFrames - 1;
constexpr unsigned kSlots = 4, kT3Slots = 3, kTagWord = 511;
constexpr unsigned kAliases = 4;

alignas(4096) u64 pool[kFrames][512];
alignas(4096) u64 alias_pages[kAliases][512];

enum class Kind : u8 { L, P2, T3 };
enum class Type : u8 { None, Writable, L1, L2, L3 };
const char* type_name(Type t) {
    switch (t) {
        case Type::None: return "none";
        case Type::Writable: return "writable";
        case Type::L1: return "L1";
        case Type::L2: return "L2";
        case Type::L3: return "L3";
    }
    return "?";
}

struct Entry {
    bool present;
    u8 target;
    bool rw;
    bool operator==(const Entry&) const = default;
};
struct Frame {
    Kind kind;
    Type type;
    u32 count;
    bool pinned;
    bool home_rw;
    u64 tag;
    Entry entry[kSlots];
};
enum class AliasState : u8 { Parked, Unmapped, Mapped };  // Parked: its own frame, RW
struct Alias {
    AliasState state;
    u8 target;
    bool rw;
};

Frame frames[kFrames];
Alias aliases[kAliases];
bool t3_hooked;

// ---- machine side ----
const u64* const m2p = reinterpret_cast<const u64*>(xen::kMachToPhysVirtStart);
u64* l2_boot;  // the bootstrap L2 for 0-1 GiB

u64 mfn_of_va(u64 va) { return pfn_to_mfn(va >> 12); }
u64 frame_va(unsigned f) { return reinterpret_cast<u64>(pool[f]); }
u64 frame_maddr(unsigned f) { return mfn_of_va(frame_va(f)) << 12; }
u64 alias_va(unsigned a) { return reinterpret_cast<u64>(alias_pages[a]); }
u64* table_of(u64 entry) { return reinterpret_cast<u64*>(m2p[(entry & kAddrMask) >> 12] << 12); }
u64 pte_of(u64 va) { return table_of(l2_boot[(va >> 21) & 511])[(va >> 12) & 511]; }
u64 chain_va(unsigned i, unsigned j, unsigned k) {
    return kChainBase | (u64{i} << 30) | (u64{j} << 21) | (u64{k} << 12);
}

long uvm(u64 va, u64 pte) { return hypercall(xen::kUpdateVaMapping, va, pte, xen::kUvmfInvlpg); }
long mmu(u64 ptr, u64 val) {
    xen::MmuUpdate update{ptr, val};
    return hypercall(xen::kMmuUpdate, reinterpret_cast<u64>(&update), 1, 0, xen::kDomidSelf);
}
long ext(xen::MmuextCmd cmd, u64 arg1) {
    xen::MmuextOp op{cmd, 0, arg1, 0};
    return hypercall(xen::kMmuextOp, reinterpret_cast<u64>(&op), 1, 0, xen::kDomidSelf);
}
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

Type table_type(Kind kind) { return kind == Kind::L ? Type::L1 : kind == Kind::P2 ? Type::L2 : Type::L3; }
bool is_table(Type t) { return t == Type::L1 || t == Type::L2 || t == Type::L3; }
bool active(unsigned f) { return frames[f].count > 0 && is_table(frames[f].type); }

u64 entry_value(unsigned holder, const Entry& e) {
    if (!e.present) return 0;
    if (frames[holder].kind != Kind::L) return frame_maddr(e.target) | kTable;
    return frame_maddr(e.target) | (e.rw ? kLeafRw : kLeafRo);
}

// ---- the model of the type rules ----
long get_type(unsigned f, Type t);
void put_type(unsigned f);

// The reference an entry of a live table holds on its target.
long take_entry(unsigned holder, const Entry& e) {
    switch (frames[holder].kind) {
        case Kind::L: return e.rw && get_type(e.target, Type::Writable) != 0 ? -xen::kEBUSY : 0;
        case Kind::P2: return get_type(e.target, Type::L1);
        case Kind::T3: return get_type(e.target, Type::L2);
    }
    return 0;
}
void drop_entry(unsigned holder, const Entry& e) {
    if (frames[holder].kind != Kind::L || e.rw) put_type(e.target);
}

// One type reference: a conflicting type with references is -EINVAL; the first reference of a
// table type validates the entries in slot order (the frame counts as that type meanwhile) and
// returns the first entry's error after releasing what the earlier entries took.
long get_type(unsigned f, Type t) {
    Frame& fr = frames[f];
    if (fr.count > 0) {
        if (fr.type != t) return -xen::kEINVAL;
        ++fr.count;
        return 0;
    }
    fr.type = t;
    fr.count = 1;
    if (!is_table(t)) return 0;
    for (unsigned s = 0; s < kSlots; ++s) {
        if (!fr.entry[s].present) continue;
        const long rc = take_entry(f, fr.entry[s]);
        if (rc == 0) continue;
        while (s-- > 0)
            if (fr.entry[s].present) drop_entry(f, fr.entry[s]);
        fr.type = Type::None;
        fr.count = 0;
        return rc;
    }
    return 0;
}
void put_type(unsigned f) {
    Frame& fr = frames[f];
    if (fr.count == 0) return fail("model: put_type on frame %u with count 0\n", f);
    if (--fr.count != 0) return;
    if (is_table(fr.type))
        for (const Entry& e : fr.entry)
            if (e.present) drop_entry(f, e);
    fr.type = Type::None;
}

// A checked entry update in a live table (mmu_update or update_va_mapping): an unchanged target
// and RW bit is the fast path; otherwise the new reference first, then the old one dropped.
long checked_update(unsigned f, unsigned s, const Entry& e) {
    Frame& fr = frames[f];
    const Entry old = fr.entry[s];
    if (old.present && e.present && old.target == e.target && old.rw == e.rw) return 0;
    if (e.present) {
        const long rc = take_entry(f, e);
        if (rc != 0) return rc;
    }
    fr.entry[s] = e;
    if (old.present) drop_entry(f, old);
    return 0;
}

// What a mapping shows: frame and RW, or nothing.
struct View {
    bool mapped;
    unsigned frame;
    bool rw;
};
View home_view(unsigned f) { return {true, f, frames[f].home_rw}; }
View alias_view(unsigned a) {
    if (aliases[a].state != AliasState::Mapped) return {aliases[a].state == AliasState::Parked, kFrames, true};
    return {true, aliases[a].target, aliases[a].rw};
}
View chain_view(unsigned i, unsigned j, unsigned k) {
    if (!t3_hooked) return {};
    const Entry& e3 = frames[kT3].entry[i];
    if (!e3.present) return {};
    const Entry& e2 = frames[e3.target].entry[j];
    if (!e2.present) return {};
    const Entry& e1 = frames[e2.target].entry[k];
    if (!e1.present) return {};
    return {true, e1.target, e1.rw};
}

// ---- randomness and the checksum ----
u64 rng_state = kSeed;
u64 next_random() {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
unsigned pick(unsigned n) { return static_cast<unsigned>(next_random() % n); }
bool coin() { return (next_random() & 1) != 0; }
bool one_in_three() { return pick(3) == 0; }  // how often a new mapping asks for RW
u64 new_tag() { return (pick(2047) + 1) << 1; }  // even (not present) and no address bits

u64 checksum = 0xcbf29ce484222325;
void mix(u64 value) {
    for (int i = 0; i < 8; ++i) {
        checksum ^= (value >> (8 * i)) & 0xff;
        checksum *= 0x100000001b3;
    }
}

// ---- checks ----
bool broken;  // the model and the hypervisor disagree: stop
// Statistics, to show the run exercised something.
unsigned refused, faults_seen, chain_reads, skipped_writes, max_tables;

void expect_rc(unsigned op, const char* what, long got, long expected) {
    mix(static_cast<u64>(got));
    if (got != 0) ++refused;
    if (got == expected) return;
    fail("op %u %s: got %ld, expected %ld\n", op, what, got, expected);
    broken = true;
}

// Recounts every frame's references from the model's mappings, pins and live entries.
void recount(unsigned op) {
    u32 writable[kFrames] = {}, table_refs[kFrames] = {};
    for (unsigned f = 0; f < kFrames; ++f) {
        if (frames[f].home_rw) ++writable[f];
        if (frames[f].pinned) ++table_refs[f];
        if (!active(f)) continue;
        for (const Entry& e : frames[f].entry) {
            if (!e.present) continue;
            if (frames[f].kind == Kind::L) {
                if (e.rw) ++writable[e.target];
            } else {
                ++table_refs[e.target];
            }
        }
    }
    if (t3_hooked) ++table_refs[kT3];
    for (const Alias& a : aliases)
        if (a.state == AliasState::Mapped && a.rw) ++writable[a.target];
    for (unsigned f = 0; f < kFrames; ++f) {
        const Frame& fr = frames[f];
        const bool ok = fr.type == Type::Writable ? fr.count == writable[f] && table_refs[f] == 0
                        : is_table(fr.type)       ? fr.count == table_refs[f] && writable[f] == 0
                                                  : fr.count == 0 && writable[f] == 0 && table_refs[f] == 0;
        if (!ok) {
            fail("op %u: model frame %u type %s count %u, recounted %u writable, %u table refs\n", op, f,
                 type_name(fr.type), fr.count, writable[f], table_refs[f]);
            broken = true;
        }
    }
}

u64 expected_tag(const View& v) { return v.frame == kFrames ? 0 : frames[v.frame].tag; }

void check_view(unsigned op, const char* what, unsigned index, u64 va, const View& v) {
    u64 value = 0;
    const bool faulted = read_faults(va + kTagWord * 8, &value);
    if (faulted) ++faults_seen;
    if (!faulted && va >= kChainBase) ++chain_reads;
    if (!v.mapped) {
        if (!faulted) fail("op %u: %s %u (0x%lx) readable, expected not mapped\n", op, what, index, va), broken = true;
        return;
    }
    if (faulted) {
        fail("op %u: %s %u (0x%lx) faulted, expected frame %u\n", op, what, index, va, v.frame);
        broken = true;
    } else if (value != expected_tag(v)) {
        fail("op %u: %s %u (0x%lx) reads tag 0x%lx, expected 0x%lx (frame %u)\n", op, what, index, va, value,
             expected_tag(v), v.frame);
        broken = true;
    }
}

// Reads everything back through the guest's own mappings.
void sweep(unsigned op) {
    ext(xen::kMmuextTlbFlushLocal, 0);
    for (unsigned f = 0; f < kFrames && !broken; ++f) {
        const Frame& fr = frames[f];
        check_view(op, "home of frame", f, frame_va(f), home_view(f));
        if (((pte_of(frame_va(f)) & kRw) != 0) != fr.home_rw)
            fail("op %u: home PTE of frame %u is 0x%lx, model RW %d\n", op, f, pte_of(frame_va(f)), fr.home_rw),
                broken = true;
        for (unsigned s = 0; s < kSlots; ++s) {
            const u64 real = pool[f][s], model = entry_value(f, fr.entry[s]);
            if ((real & kCompareMask) != (model & kCompareMask) || (!fr.entry[s].present && real != 0)) {
                fail("op %u: frame %u slot %u holds 0x%lx, model 0x%lx\n", op, f, s, real, model);
                broken = true;
            }
        }
    }
    for (unsigned a = 0; a < kAliases && !broken; ++a) {
        const View v = alias_view(a);
        if (v.mapped && v.frame < kFrames) check_view(op, "alias", a, alias_va(a), v);
        if (!v.mapped) check_view(op, "alias", a, alias_va(a), v);
        if (v.mapped && ((pte_of(alias_va(a)) & kRw) != 0) != v.rw)
            fail("op %u: alias %u PTE 0x%lx, model RW %d\n", op, a, pte_of(alias_va(a)), v.rw), broken = true;
    }
    for (unsigned i = 0; i < kT3Slots && !broken; ++i)
        for (unsigned j = 0; j < kSlots; ++j)
            for (unsigned k = 0; k < kSlots; ++k)
                check_view(op, "chain page", (i << 8) | (j << 4) | k, chain_va(i, j, k), chain_view(i, j, k));
    recount(op);
    unsigned tables = 0;
    for (unsigned f = 0; f < kFrames; ++f) tables += active(f);
    if (tables > max_tables) max_tables = tables;
}

// ---- operations ----
unsigned pick_frame_biased() {
    // Half of the time a frame that is a table right now, to hammer on "never writable".
    if (coin()) {
        unsigned tables[kFrames], n = 0;
        for (unsigned f = 0; f < kFrames; ++f)
            if (active(f)) tables[n++] = f;
        if (n != 0) return tables[pick(n)];
    }
    return pick(kFrames);
}

Entry random_entry(unsigned holder) {
    if (pick(4) == 0) return {};
    switch (frames[holder].kind) {
        case Kind::L: return {true, static_cast<u8>(pick(kFrames)), one_in_three()};
        case Kind::P2: return {true, static_cast<u8>(pick(kLFrames)), true};
        case Kind::T3: return {true, static_cast<u8>(kLFrames + pick(kP2Frames)), true};
    }
    return {};
}

void op_home(unsigned op) {
    const unsigned f = pick_frame_biased();
    const bool rw = one_in_three();
    Frame& fr = frames[f];
    long expected = 0;
    if (rw != fr.home_rw) {
        if (rw) {
            expected = get_type(f, Type::Writable) != 0 ? -xen::kEBUSY : 0;
            if (expected == 0) fr.home_rw = true;
        } else {
            put_type(f);
            fr.home_rw = false;
        }
    }
    expect_rc(op, rw ? "home RW" : "home RO", uvm(frame_va(f), frame_maddr(f) | (rw ? kLeafRw : kLeafRo)), expected);
}

void op_alias(unsigned op) {
    const unsigned a = pick(kAliases), f = pick_frame_biased();
    const bool rw = one_in_three();
    Alias& al = aliases[a];
    long expected = 0;
    const bool same = al.state == AliasState::Mapped && al.target == f && al.rw == rw;
    if (!same) {
        if (rw && get_type(f, Type::Writable) != 0) expected = -xen::kEBUSY;
        if (expected == 0) {
            if (al.state == AliasState::Mapped && al.rw) put_type(al.target);
            al = {AliasState::Mapped, static_cast<u8>(f), rw};
        }
    }
    expect_rc(op, rw ? "alias RW" : "alias RO", uvm(alias_va(a), frame_maddr(f) | (rw ? kLeafRw : kLeafRo)), expected);
}

void op_alias_unmap(unsigned op) {
    const unsigned a = pick(kAliases);
    Alias& al = aliases[a];
    if (al.state == AliasState::Mapped && al.rw) put_type(al.target);
    al.state = AliasState::Unmapped;
    expect_rc(op, "alias unmap", uvm(alias_va(a), 0), 0);
}

void op_set_entry(unsigned op) {
    const unsigned f = pick(kFrames);
    const unsigned s = pick(f == kT3 ? kT3Slots : kSlots);
    const Entry e = random_entry(f);
    const u64 value = entry_value(f, e);
    const bool live = active(f);
    long expected = 0;
    if (live)
        expected = checked_update(f, s, e);
    else
        frames[f].entry[s] = e;  // a plain store into a frame that is no table
    expect_rc(op, live ? "mmu_update table entry" : "mmu_update plain store", mmu(frame_maddr(f) + s * 8, value),
              expected);
}

// Xen 4.17 emulates a write through a read-only mapping of a live L1 table for its hardware
// domain (the writable-pagetable path runs for dom0 even with the vm_assist off), which is how
// the oracle runs these kernels; a domU, and Isola, get #PF. Those writes are not attempted.
bool write_is_emulated_on_dom0(unsigned f, bool rw) { return !rw && frames[f].type == Type::L1 && frames[f].count > 0; }

void op_store_entry(unsigned op) {
    const unsigned f = pick(kFrames - 1);  // never the L3: it is a table throughout
    const unsigned s = pick(kSlots);
    const Entry e = random_entry(f);
    if (write_is_emulated_on_dom0(f, frames[f].home_rw)) return ++skipped_writes, mix(0x5e);
    const bool faulted = write_faults(reinterpret_cast<u64>(&pool[f][s]), entry_value(f, e));
    mix(faulted);
    if (frames[f].home_rw) {
        frames[f].entry[s] = e;
        if (faulted) fail("op %u: store into frame %u through its RW home faulted\n", op, f), broken = true;
    } else if (!faulted) {
        fail("op %u: store into frame %u through its RO home succeeded\n", op, f);
        broken = true;
    }
}

void op_pin(unsigned op) {
    const unsigned f = pick(kFrames - 1);
    const Type t = table_type(frames[f].kind);
    long expected = 0;
    if (frames[f].pinned) {
        expected = -xen::kEINVAL;
    } else {
        expected = get_type(f, t);
        if (expected == 0) frames[f].pinned = true;
    }
    const auto cmd = t == Type::L1 ? xen::kMmuextPinL1Table : xen::kMmuextPinL2Table;
    expect_rc(op, t == Type::L1 ? "PIN_L1_TABLE" : "PIN_L2_TABLE", ext(cmd, frame_maddr(f) >> 12), expected);
}

void op_unpin(unsigned op) {
    const unsigned f = pick(kFrames - 1);
    long expected = -xen::kEINVAL;
    if (frames[f].pinned) {
        frames[f].pinned = false;
        put_type(f);
        expected = 0;
    }
    expect_rc(op, "UNPIN_TABLE", ext(xen::kMmuextUnpinTable, frame_maddr(f) >> 12), expected);
}

void op_uvm_chain(unsigned op) {
    const unsigned i = pick(kT3Slots), j = pick(kSlots), k = pick(kSlots);
    Entry e = {true, static_cast<u8>(pick(kFrames)), one_in_three()};
    if (pick(4) == 0) e = {};
    long expected = -xen::kEINVAL;  // no L1 behind that address
    const Entry& e3 = frames[kT3].entry[i];
    unsigned l1 = kFrames;
    if (t3_hooked && e3.present && frames[e3.target].entry[j].present) l1 = frames[e3.target].entry[j].target;
    const u64 value = e.present ? frame_maddr(e.target) | (e.rw ? kLeafRw : kLeafRo) : 0;
    if (l1 != kFrames) expected = checked_update(l1, k, e);
    expect_rc(op, "update_va_mapping in the chain", uvm(chain_va(i, j, k), value), expected);
}

void op_write_tag(unsigned op) {
    View v;
    u64 va;
    const unsigned where = pick(3);
    if (where == 0) {
        const unsigned f = pick(kFrames);
        v = home_view(f), va = frame_va(f);
    } else if (where == 1) {
        const unsigned a = pick(kAliases);
        v = alias_view(a), va = alias_va(a);
        if (v.mapped && v.frame == kFrames) return;  // parked: not a pool frame
    } else {
        const unsigned i = pick(kT3Slots), j = pick(kSlots), k = pick(kSlots);
        v = chain_view(i, j, k), va = chain_va(i, j, k);
    }
    const u64 tag = new_tag();
    if (v.mapped && write_is_emulated_on_dom0(v.frame, v.rw)) return ++skipped_writes, mix(0x5e);
    ext(xen::kMmuextTlbFlushLocal, 0);
    const bool faulted = write_faults(va + kTagWord * 8, tag);
    mix(faulted);
    if (v.mapped && v.rw) {
        if (faulted) fail("op %u: tag write to 0x%lx (frame %u, RW) faulted\n", op, va, v.frame), broken = true;
        frames[v.frame].tag = tag;
        // Seen through the home mapping at once.
        if (pool[v.frame][kTagWord] != tag) fail("op %u: tag written through 0x%lx not seen at home\n", op, va), broken = true;
    } else if (!faulted) {
        fail("op %u: tag write to 0x%lx (%u, frame %u) succeeded, model says %s; pte 0x%lx\n", op, va, where, v.frame,
             v.mapped ? "read-only" : "not mapped", va < (1ull << 30) ? pte_of(va) : 0);
        broken = true;
    } else if (last_exception.frame.vector != 14) {
        fail("op %u: tag write to 0x%lx: vector %lu, expected #PF\n", op, va, last_exception.frame.vector);
        broken = true;
    }
}

struct OpKind {
    void (*run)(unsigned);
    unsigned weight;
    const char* name;
};
constexpr OpKind kOpKinds[] = {
    {op_home, 12, "home"},           {op_alias, 12, "alias"},      {op_alias_unmap, 4, "alias unmap"},
    {op_set_entry, 25, "mmu_update"}, {op_store_entry, 8, "store"}, {op_pin, 10, "pin"},
    {op_unpin, 8, "unpin"},          {op_uvm_chain, 9, "uvm chain"}, {op_write_tag, 12, "write tag"},
};

bool setup() {
    u64* l4 = reinterpret_cast<u64*>(start_info->pt_base);
    l2_boot = table_of(table_of(l4[0])[0]);
    if (l4[kChainSlot] != 0) return error("L4[%u] already in use: 0x%lx\n", kChainSlot, l4[kChainSlot]), false;
    for (unsigned f = 0; f < kFrames; ++f) {
        Frame& fr = frames[f];
        fr = {};
        fr.kind = f < kLFrames ? Kind::L : f < kT3 ? Kind::P2 : Kind::T3;
        fr.type = Type::Writable;
        fr.count = 1;
        fr.home_rw = true;
        fr.tag = new_tag();
        for (u64& word : pool[f]) word = 0;
        pool[f][kTagWord] = fr.tag;
    }
    for (Alias& a : aliases) a = {AliasState::Parked, 0, true};
    // A starting hierarchy, written while every frame is still writable: L0-L3 map the data-like
    // L6-L9 (every other entry RW), P2 frames point at L0-L5, the L3 at three P2 frames.
    auto store = [](unsigned f, unsigned s, Entry e) {
        frames[f].entry[s] = e;
        pool[f][s] = entry_value(f, e);
    };
    for (unsigned f = 0; f < 4; ++f)
        for (unsigned s = 0; s < kSlots; ++s) store(f, s, {true, static_cast<u8>(6 + (f + s) % 4), (f + s) % 2 == 0});
    store(10, 0, {true, 0, true});
    store(10, 1, {true, 1, true});
    store(11, 0, {true, 2, true});
    store(11, 1, {true, 3, true});
    store(11, 2, {true, 4, true});
    store(12, 0, {true, 5, true});
    for (unsigned s = 0; s < kT3Slots; ++s) store(kT3, s, {true, static_cast<u8>(10 + s), true});
    // L0-L5, the P2 frames and the L3 lose their writable home mappings.
    for (unsigned f = 0; f < kFrames; ++f) {
        if (f >= 6 && f < kLFrames) continue;
        if (uvm(frame_va(f), frame_maddr(f) | kLeafRo) != 0) return error("remap frame %u RO failed\n", f), false;
        frames[f].home_rw = false;
        put_type(f);
    }
    // The L3 becomes a pinned table hooked into the live L4 for the whole run; pinning it
    // validates the whole tree.
    long expected = get_type(kT3, Type::L3);
    frames[kT3].pinned = true;
    expect_rc(0, "PIN_L3_TABLE of the starting tree", ext(xen::kMmuextPinL3Table, frame_maddr(kT3) >> 12), expected);
    const u64 l4_maddr = mfn_of_va(start_info->pt_base) << 12;
    expected = get_type(kT3, Type::L3);
    expect_rc(0, "hook L4[255]", mmu(l4_maddr + kChainSlot * 8, frame_maddr(kT3) | kTable), expected);
    t3_hooked = true;
    return !broken;
}

void teardown(unsigned op) {
    for (unsigned f = 0; f < kT3 && !broken; ++f)
        if (frames[f].pinned) {
            frames[f].pinned = false;
            put_type(f);
            expect_rc(op, "teardown UNPIN", ext(xen::kMmuextUnpinTable, frame_maddr(f) >> 12), 0);
        }
    const u64 l4_maddr = mfn_of_va(start_info->pt_base) << 12;
    expect_rc(op, "teardown unhook L4[255]", mmu(l4_maddr + kChainSlot * 8, 0), 0);
    t3_hooked = false;
    put_type(kT3);
    expect_rc(op, "teardown UNPIN L3", ext(xen::kMmuextUnpinTable, frame_maddr(kT3) >> 12), 0);
    frames[kT3].pinned = false;
    put_type(kT3);
    for (unsigned a = 0; a < kAliases; ++a) {
        Alias& al = aliases[a];
        if (al.state == AliasState::Mapped && al.rw) put_type(al.target);
        al = {AliasState::Parked, 0, true};
        expect_rc(op, "teardown alias back home", uvm(alias_va(a), (mfn_of_va(alias_va(a)) << 12) | kLeafRw), 0);
    }
    // Nothing is a table any more: every frame maps writable again.
    for (unsigned f = 0; f < kFrames; ++f) {
        if (!frames[f].home_rw) {
            const long expected = get_type(f, Type::Writable) != 0 ? -xen::kEBUSY : 0;
            frames[f].home_rw = expected == 0;
            expect_rc(op, "teardown home RW", uvm(frame_va(f), frame_maddr(f) | kLeafRw), expected);
        }
        if (frames[f].type != Type::Writable || frames[f].count != 1)
            fail("teardown: frame %u type %s count %u\n", f, type_name(frames[f].type), frames[f].count), broken = true;
    }
    if (!broken) sweep(op);
}

}  // namespace

void test_main() {
    if (!setup_traps() || !setup()) return;
    sweep(0);
    unsigned total = 0;
    for (const OpKind& kind : kOpKinds) total += kind.weight;
    unsigned counts[sizeof kOpKinds / sizeof kOpKinds[0]] = {};
    unsigned op = 1;
    for (; op <= kOps && !broken; ++op) {
        unsigned roll = pick(total), index = 0;
        while (roll >= kOpKinds[index].weight) roll -= kOpKinds[index++].weight;
        ++counts[index];
        mix(index);
        kOpKinds[index].run(op);
        if (!broken) sweep(op);
    }
    if (broken) return;
    teardown(op);
    if (broken) return;
    for (unsigned f = 0; f < kFrames; ++f) {
        mix(frames[f].tag);
        for (const Entry& e : frames[f].entry) mix(e.present | (u64{e.target} << 8) | (u64{e.rw} << 16));
    }
    print("ops:");
    for (unsigned i = 0; i < sizeof kOpKinds / sizeof kOpKinds[0]; ++i) print(" %s %u", kOpKinds[i].name, counts[i]);
    print("\nrefused %u, read faults %u, reads through the chain %u, writes skipped %u, at most %u live tables\n",
          refused, faults_seen, chain_reads, skipped_writes, max_tables);
    print("checksum 0x%016lx\n", checksum);
    if (checksum != kXenChecksum) fail("checksum 0x%016lx differs from Xen's 0x%016lx\n", checksum, kXenChecksum);
}

}  // namespace guest
