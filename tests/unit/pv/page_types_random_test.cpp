// SPDX-License-Identifier: MIT
// Randomized test of the PV page-type engine: random mmu_update / pin / unpin /
// update_va_mapping / root / descriptor-page operations from two domains on a small pool of
// frames. After every step the invariants are recomputed from scratch over the whole fake memory:
//   (a) no present writable L1 entry of a validated L1 maps a frame whose type is not Writable
//       (so never a page table or descriptor page);
//   (b) ref_count, type_count and the linear counts of every frame equal the numbers recounted
//       from the validated tables, the pins, the roots and the descriptor pages;
//   (c) no validated table of one domain references a frame the domain does not own;
// plus: every present entry of a validated table obeys the flag rules and was adjusted, every
// validated L4 holds the hypervisor's slots, a failed operation changed no count (and no entry
// beyond the bits validation forces), a frame never changes type without a flush_stale for it,
// and dropping every pin and root at the end returns every count to 0.
//
// It also checks the contract the ASI shadow roots rely on (asi-reference.md §8.3 properties 19
// and 22; arch/x86_64/src/pv_mm.cpp, asi_roots.cpp): the image copies a root's guest slots once,
// when the vCPU takes the L4 as its base pointer, and afterwards follows it only through the
// writes the engine makes with write_entry while the frame's stored type is L4. A model shadow per
// held root does the same, and after every step its guest slots (0-256, 272-511) must equal the
// L4's: a change the engine made some other way, or while the stored type said otherwise, would
// leave a vCPU running on a stale shadow.
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <random>
#include <vector>

#include "hv/pv/page_types.hpp"
#include "support/fake_pv_frames.hpp"

namespace hv::pv {
namespace {

using test::FakePvFrames;
using test::FrameWords;

constexpr u64 kFrames = 28;
constexpr DomainId kDomains[2] = {1, 2};
constexpr u64 kP = 1, kRw = 2, kUs = 4, kA = 0x20, kD = 0x40, kPs = 0x80, kG = 0x100;
constexpr u64 kAddr = 0x000f'ffff'ffff'f000;
constexpr u64 kBase = kP | kRw | kUs | kA | kD | (u64{7} << 9) | (u64{0x7ff} << 52) | (u64{1} << 63) | kAddr;
constexpr unsigned kIndices[] = {0, 1, 2, 3, 255, 256, 258, 271, 272, 511};

bool hypervisor_slot(PageType type, unsigned index) { return type == PageType::L4 && index >= 256 && index < 272; }
// The slots an ASI shadow root copies from the guest's L4 (asi_roots.cpp guest_slot): all but
// the hypervisor's 257-271; slot 256, the read-only M2P, follows the guest's L4.
bool shadowed_slot(unsigned index) { return index <= 256 || index >= 272; }
Mfn target_of(u64 entry) { return Mfn((entry & kAddr) >> kPageShift); }

struct Snapshot {
    std::vector<mm::FrameInfo> infos;
    std::vector<FrameWords> words;
};

class World {
  public:
    explicit World(u64 seed) : rng_(seed) {
        // 0 not RAM, 1 hypervisor, 2..12 domain 1, 13..23 domain 2, 24 free, 25 boot module, 26..27 not RAM.
        mem_.set_owner(Mfn(1), mm::FrameOwner::Hypervisor, mm::FrameClass::Global, 0);
        for (u64 mfn = 2; mfn < 13; ++mfn) mem_.give(Mfn(mfn), kDomains[0]);
        for (u64 mfn = 13; mfn < 24; ++mfn) mem_.give(Mfn(mfn), kDomains[1]);
        mem_.set_owner(Mfn(24), mm::FrameOwner::Free, mm::FrameClass::Global, 0);
        mem_.set_owner(Mfn(25), mm::FrameOwner::BootModule, mm::FrameClass::Global, 0);
        mem_.bad_descriptor_pages = {5, 16};
        stale_.assign(kFrames, PageType::None);
        mem_.after_write = [this](Mfn table, unsigned index, u64 value) { mirror_write(table, index, value); };
    }

    void step();
    void check_invariants();
    void tear_down();
    unsigned successes() const { return successes_; }

  private:
    u64 pick(u64 bound) { return std::uniform_int_distribution<u64>(0, bound - 1)(rng_); }
    bool chance(unsigned percent) { return pick(100) < percent; }
    Mfn any_frame();
    Mfn own_frame(unsigned d) { return Mfn(2 + 11 * d + pick(11)); }
    Mfn l4_of(unsigned d);
    u64 random_entry(unsigned d);
    u64 random_va();
    Status run_random_operation(unsigned d);
    void take_snapshot();
    void expect_unchanged();
    void check_flushes();
    void mirror_write(Mfn table, unsigned index, u64 value);
    void check_shadows();
    void check_table(Mfn table, std::vector<u64>& refs, std::vector<u64>& types, std::vector<u64>& writable,
                     std::vector<int>& linear);

    FakePvFrames mem_{kFrames};
    PageTypeEngine engines_[2] = {PageTypeEngine{mem_.env(), kDomains[0]}, PageTypeEngine{mem_.env(), kDomains[1]}};
    std::mt19937_64 rng_;
    std::vector<Mfn> roots_[2];        // L4 references held like NEW_BASEPTR would
    std::vector<FrameWords> shadows_[2];  // per held root: the model of its ASI shadow root
    std::vector<Mfn> descriptors_[2];  // SegDesc references held like set_gdt would
    std::vector<PageType> stale_;      // type each frame may still be cached under, until flushed
    Snapshot before_;                  // state before the current step (reused: no allocation per step)
    unsigned successes_ = 0;
};

Mfn World::any_frame() {
    if (chance(3)) return Mfn(chance(50) ? 1000 : 0xf'ffff'ffff);  // beyond the frame table
    return Mfn(pick(kFrames));
}

// A random current L4 of domain d (a plausible update_va_mapping root), else any own frame.
Mfn World::l4_of(unsigned d) {
    std::vector<Mfn> roots;
    for (u64 i = 0; i < 11; ++i)
        if (current_type(mem_.info(Mfn(2 + 11 * d + i))) == PageType::L4) roots.push_back(Mfn(2 + 11 * d + i));
    return roots.empty() ? own_frame(d) : roots[pick(roots.size())];
}

// Mostly plausible entries of the domain's own frames, with rare forbidden bits and targets.
u64 World::random_entry(unsigned d) {
    if (chance(20)) return 0;
    const Mfn target = chance(80) ? own_frame(d) : any_frame();
    u64 flags = (chance(92) ? kP : 0) | (chance(50) ? kRw : 0) | (chance(80) ? kUs : 0) | (chance(50) ? kA : 0) |
                (chance(50) ? kD : 0);
    if (chance(4)) flags |= kPs;
    if (chance(3)) flags |= u64{0x18};  // PWT|PCD
    if (chance(4)) flags |= kG;
    if (chance(5)) flags |= u64{1} << 63;
    if (chance(5)) flags |= u64{1} << 52;
    if (chance(3)) flags |= u64{1} << 10;
    return target.maddr().raw() | flags;
}

u64 World::random_va() {
    if (chance(5)) return chance(50) ? u64{1} << 63 : 0xffff'8000'0000'1000;
    u64 va = 0;
    for (unsigned shift : {39u, 30u, 21u, 12u}) va |= u64{kIndices[pick(std::size(kIndices))]} << shift;
    return (va & (u64{1} << 47)) != 0 ? va | 0xffff'0000'0000'0000 : va;  // canonical
}

Status World::run_random_operation(unsigned d) {
    PageTypeEngine& engine = engines_[d];
    const auto status = [](const Result<void>& result) { return result.ok() ? Status::Ok : result.error(); };
    const Mfn table = chance(85) ? own_frame(d) : any_frame();
    const unsigned index = chance(90) ? kIndices[pick(std::size(kIndices))] : static_cast<unsigned>(pick(512));
    const u64 op = pick(100);
    if (op < 40) return status(engine.update_entry(table, index, random_entry(d)));
    if (op < 45) return status(engine.update_entry(table, index, random_entry(d), UpdateMode::PreserveAd));
    if (op < 52) return status(engine.update_entry(table, index, 0));
    if (op < 62) return status(engine.pin(table, static_cast<PageType>(1 + pick(4))));
    if (op < 70) return status(engine.unpin(table));
    if (op < 85) {
        const Mfn root = chance(80) ? l4_of(d) : table;
        return status(engine.update_va_mapping(root, Vaddr(random_va()), random_entry(d)));
    }
    std::vector<Mfn>& held = op < 93 ? roots_[d] : descriptors_[d];
    if (chance(50) && !held.empty()) {
        const usize which = pick(held.size());
        engine.put_page_and_type(held[which]);
        held.erase(held.begin() + static_cast<long>(which));
        if (op < 93) shadows_[d].erase(shadows_[d].begin() + static_cast<long>(which));
        return Status::Ok;
    }
    const Result<void> got = engine.get_page_and_type(table, op < 93 ? PageType::L4 : PageType::SegDesc);
    if (got.ok()) held.push_back(table);
    if (got.ok() && op < 93) shadows_[d].push_back(mem_.words(table));  // the copy at NEW_BASEPTR
    return status(got);
}

void World::take_snapshot() {
    before_.infos.resize(kFrames);
    before_.words.resize(kFrames);
    for (u64 mfn = 0; mfn < kFrames; ++mfn) {
        before_.infos[mfn] = mem_.info(Mfn(mfn));
        before_.words[mfn] = mem_.words(Mfn(mfn));
    }
}

// A failed operation leaves every count as it was; entries may only differ in the bits
// validation adjusts (US, A, the guest-kernel tag set; G cleared) in tables validated and
// dropped again.
void World::expect_unchanged() {
    const Snapshot& before = before_;
    for (u64 mfn = 0; mfn < kFrames; ++mfn) {
        const mm::FrameInfo& now = mem_.info(Mfn(mfn));
        const mm::FrameInfo& was = before.infos[mfn];
        EXPECT_EQ(now.ref_count, was.ref_count) << "mfn " << mfn;
        EXPECT_EQ(now.type_count, was.type_count) << "mfn " << mfn;
        EXPECT_EQ(is_pinned(now), is_pinned(was)) << "mfn " << mfn;
        EXPECT_EQ(current_type(now), current_type(was)) << "mfn " << mfn;
        const FrameWords& words = mem_.words(Mfn(mfn));
        for (unsigned i = 0; i < 512; ++i)
            if (((words[i] ^ before.words[mfn][i]) & ~(kUs | kA | kG | kGuestKernelBit)) != 0)
                ADD_FAILURE() << "failed operation changed mfn " << mfn << " entry " << i;
    }
}

// What the image's write_entry does after the store (pv_mm.cpp entry_written): a frame whose
// stored type is L4 has every shadow that mirrors it updated, slot by slot.
void World::mirror_write(Mfn table, unsigned index, u64 value) {
    if (stored_type(mem_.info(table)) != PageType::L4 || !shadowed_slot(index)) return;
    for (unsigned d = 0; d < 2; ++d)
        for (usize i = 0; i < roots_[d].size(); ++i)
            if (roots_[d][i] == table) shadows_[d][i][index] = value;
}

// Every held root's shadow still shows exactly the guest slots of its L4 (slot 256 included: the
// read-only M2P follows the guest's L4).
void World::check_shadows() {
    for (unsigned d = 0; d < 2; ++d)
        for (usize i = 0; i < roots_[d].size(); ++i) {
            const FrameWords& l4 = mem_.words(roots_[d][i]);
            for (unsigned slot = 0; slot < 512; ++slot)
                if (shadowed_slot(slot))
                    EXPECT_EQ(shadows_[d][i][slot], l4[slot])
                        << "the shadow of root mfn " << roots_[d][i].raw() << " is stale in slot " << slot;
        }
}

void World::step() {
    const unsigned d = static_cast<unsigned>(pick(2));
    take_snapshot();
    const Status result = run_random_operation(d);
    if (result == Status::Ok) ++successes_;
    else expect_unchanged();
    check_flushes();
    check_invariants();
    check_shadows();
}

// Every type change of a frame was preceded by a flush of what may be cached under its old type.
void World::check_flushes() {
    for (Mfn flushed : mem_.flushes) stale_.at(flushed.raw()) = PageType::None;
    mem_.flushes.clear();
    for (u64 mfn = 0; mfn < kFrames; ++mfn) {
        const PageType now = current_type(mem_.info(Mfn(mfn)));
        if (now == PageType::None) continue;
        EXPECT_TRUE(stale_[mfn] == PageType::None || stale_[mfn] == now)
            << "mfn " << mfn << " became type " << int(now) << " without a flush of type " << int(stale_[mfn]);
        stale_[mfn] = now;
    }
}

// Recounts what validated table `table` holds, and checks its entries.
void World::check_table(Mfn table, std::vector<u64>& refs, std::vector<u64>& types, std::vector<u64>& writable,
                        std::vector<int>& linear) {
    const mm::FrameInfo& info = mem_.info(table);
    const PageType level = current_type(info);
    const u64 allowed = level == PageType::L1 ? kBase | kG : kBase;
    const FrameWords& words = mem_.words(table);
    for (unsigned i = 0; i < 512; ++i) {
        const u64 entry = words[i];
        if (hypervisor_slot(level, i)) {
            EXPECT_EQ(entry, FakePvFrames::hypervisor_entry(table, i));
            continue;
        }
        if ((entry & kP) == 0) continue;
        EXPECT_EQ(entry & ~allowed, 0u) << "mfn " << table.raw() << " entry " << i;
        EXPECT_NE(entry & kUs, 0u);
        if (level == PageType::L4) {
            EXPECT_NE(entry & kA, 0u);
        }
        const u64 target = target_of(entry).raw();
        ASSERT_LT(target, kFrames) << "validated entry to a frame beyond the table";
        const mm::FrameInfo& mapped = mem_.info(Mfn(target));
        // (c) only frames of the table's own domain.
        EXPECT_TRUE(mapped.owner == mm::FrameOwner::Domain && mapped.class_id == info.class_id)
            << "mfn " << table.raw() << " entry " << i << " maps foreign frame " << target;
        if (level == PageType::L1) {
            ++refs[target];
            if ((entry & kRw) != 0) {
                ++writable[target];
                // (a) writable mappings only of frames with the writable type.
                EXPECT_EQ(current_type(mapped), PageType::Writable) << "writable mapping of mfn " << target;
            }
            continue;
        }
        if (target == table.raw()) {
            EXPECT_EQ(entry & kRw, 0u) << "writable self-map";
            continue;
        }
        ++refs[target];
        ++types[target];
        if (current_type(mapped) == level) {  // linear entry
            EXPECT_EQ(entry & kRw, 0u) << "writable linear entry";
            ++linear[table.raw()];
            --linear[target];
        } else {
            EXPECT_EQ(static_cast<int>(current_type(mapped)), static_cast<int>(level) - 1)
                << "mfn " << table.raw() << " entry " << i;
        }
    }
}

void World::check_invariants() {
    std::vector<u64> refs(kFrames), types(kFrames), writable(kFrames);
    std::vector<int> linear(kFrames);
    for (u64 mfn = 0; mfn < kFrames; ++mfn) {
        const mm::FrameInfo& info = mem_.info(Mfn(mfn));
        if (is_pinned(info)) {
            EXPECT_TRUE(is_page_table(current_type(info))) << "pinned mfn " << mfn;
            ++refs[mfn];
            ++types[mfn];
        }
        if (is_page_table(current_type(info))) check_table(Mfn(mfn), refs, types, writable, linear);
    }
    for (unsigned d = 0; d < 2; ++d) {
        for (Mfn root : roots_[d]) {
            EXPECT_EQ(current_type(mem_.info(root)), PageType::L4);
            ++refs[root.raw()];
            ++types[root.raw()];
        }
        for (Mfn page : descriptors_[d]) {
            EXPECT_EQ(current_type(mem_.info(page)), PageType::SegDesc);
            ++refs[page.raw()];
            ++types[page.raw()];
        }
    }
    // (b) every count recomputed from scratch.
    for (u64 mfn = 0; mfn < kFrames; ++mfn) {
        const mm::FrameInfo& info = mem_.info(Mfn(mfn));
        EXPECT_EQ(info.ref_count, refs[mfn]) << "mfn " << mfn;
        EXPECT_EQ(type_count(info), types[mfn] + writable[mfn]) << "mfn " << mfn;
        EXPECT_TRUE(types[mfn] == 0 || writable[mfn] == 0) << "mfn " << mfn;
        EXPECT_EQ(linear_count(info), linear[mfn]) << "mfn " << mfn;
    }
}

// Drops every pin, root and descriptor reference: nothing may stay referenced.
void World::tear_down() {
    for (unsigned d = 0; d < 2; ++d) {
        for (u64 mfn = 0; mfn < kFrames; ++mfn)
            if (is_pinned(mem_.info(Mfn(mfn)))) (void)engines_[d].unpin(Mfn(mfn));
        for (Mfn root : roots_[d]) engines_[d].put_page_and_type(root);
        for (Mfn page : descriptors_[d]) engines_[d].put_page_and_type(page);
        roots_[d].clear();
        shadows_[d].clear();
        descriptors_[d].clear();
    }
    check_invariants();
    for (u64 mfn = 0; mfn < kFrames; ++mfn) {
        EXPECT_EQ(mem_.info(Mfn(mfn)).ref_count, 0u) << "mfn " << mfn;
        EXPECT_EQ(mem_.info(Mfn(mfn)).type_count, 0u) << "mfn " << mfn;
    }
}

class PageTypeRandomTest : public ::testing::TestWithParam<u64> {};

TEST_P(PageTypeRandomTest, InvariantsHoldAfterEveryStep) {
    World world(GetParam());
    constexpr unsigned kSteps = 1500;
    for (unsigned i = 0; i < kSteps; ++i) {
        world.step();
        if (::testing::Test::HasFailure()) FAIL() << "seed " << GetParam() << " step " << i;
    }
    world.tear_down();
    EXPECT_GT(world.successes(), kSteps / 5) << "the random operations should mostly do something";
}

INSTANTIATE_TEST_SUITE_P(Seeds, PageTypeRandomTest, ::testing::Range<u64>(1, 13));

}  // namespace
}  // namespace hv::pv
