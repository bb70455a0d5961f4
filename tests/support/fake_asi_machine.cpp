// SPDX-License-Identifier: MIT
// The fake ASI machine (layout and roots in fake_asi_machine.hpp).
#include "support/fake_asi_machine.hpp"

#include "arch/va_layout.hpp"

namespace hv::test {
namespace {

using audit::FrameKind;
using audit::FrameTag;
using mm::Level;
using Format = arch::X86PteFormat;

constexpr FrameTag kGlobal{FrameKind::Global, 0, 0};
constexpr u64 kLapicMfn = 0xfee00;
constexpr unsigned kGuestSlot = 0, kRoM2pSlot = 256, kLinearSlot = 258, kPerdomainSlot = 260, kXenSlot = 261,
                   kDirectmapSlot = 262;

// First frames of each range (header table).
constexpr u64 kImage = 0x100, kFrameTable = 0x200, kM2p = 0x240, kPool = 0x400, kStacks = 0x500,
              kDomainFrames = 0x540, kVcpuFrames = 0x580, kFreePool = 0x590, kPoolEnd = 0x800, kGuest = 0x2000;
constexpr u64 kGuestFrames = 0x800, kStackFrames = 4 + arch::kIstCount,  // primary (4 pages) + IST
              kDomainFrameCount = 4, kVcpuFrameCount = 4;

u64 stack_mfn(unsigned cpu) { return kStacks + cpu * 0x10; }
u64 domain_mfn(unsigned d) { return kDomainFrames + (d - 1) * 0x10; }
u64 vcpu_mfn(unsigned d, unsigned v) { return kVcpuFrames + ((d - 1) * FakeAsiMachine::kVcpus + v) * kVcpuFrameCount; }
u64 vcpu_va(unsigned v) { return arch::kPerdomainBase + GiB + v * 0x10000; }

FrameTag percpu(unsigned c) { return FrameTag{FrameKind::PerCpu, 0, c}; }
FrameTag perdomain(unsigned d) { return FrameTag{FrameKind::PerDomain, d, 0}; }
FrameTag pervcpu(unsigned d, unsigned v) { return FrameTag{FrameKind::PerVcpu, d, v}; }
FrameTag guest(unsigned d) { return FrameTag{FrameKind::Guest, d, 0}; }

void map_4k(FakeAsiMachine::Table& table, u64 va, u64 mfn, u64 count) {
    const auto mapped = table.map(Vaddr(va), Mfn(mfn).maddr(), count * kPageSize, mm::Attrs{.write = true}, mm::PageSize::k4K);
    HV_CHECK(mapped.ok());
}

// One pCPU's stacks as the layout places them: the primary stack, then each IST stack after a guard.
void map_stacks(FakeAsiMachine::Table& table, unsigned cpu) {
    map_4k(table, arch::cpu_primary_stack_base(cpu), stack_mfn(cpu), arch::kPrimaryStackSize / kPageSize);
    for (unsigned ist = 0; ist < arch::kIstCount; ++ist)
        map_4k(table, arch::cpu_ist_stack_base(cpu, ist), stack_mfn(cpu) + 4 + ist, 1);
}

}  // namespace

FakeAsiMachine::FakeAsiMachine() : env_(paging_.memory(), kFrameCount) {
    env_.tag(Mfn(kImage), 0x100, kGlobal);
    env_.tag(Mfn(kFrameTable), 0x40, kGlobal);
    env_.tag(Mfn(kM2p), 0x40, kGlobal);
    env_.tag(Mfn(kPool), kPoolEnd - kPool, kGlobal);  // the hypervisor pool; the rest below overrides
    for (unsigned c = 0; c < kCpus; ++c) env_.tag(Mfn(stack_mfn(c)), kStackFrames, percpu(c));
    for (unsigned d = 1; d <= kDomains; ++d) {
        env_.tag(Mfn(domain_mfn(d)), kDomainFrameCount, perdomain(d));
        for (unsigned v = 0; v < kVcpus; ++v) env_.tag(Mfn(vcpu_mfn(d, v)), kVcpuFrameCount, pervcpu(d, v));
        env_.tag(Mfn(kGuest + (d - 1) * kGuestFrames), kGuestFrames, guest(d));
    }
    env_.tag(Mfn(kFreePool), kPoolEnd - kFreePool, FrameTag{FrameKind::Free, 0, 0});

    // Subtrees the roots link to. Each is built in a scratch root whose slot entries are reused.
    global_ = tree(kGlobal, [](Table& t) {
        map_4k(t, arch::kRoM2pBase, kM2p, 0x40);
        map_4k(t, arch::kM2pBase, kM2p, 0x40);
        map_4k(t, arch::kVmapBase, kLapicMfn, 1);
        map_4k(t, arch::kImageBase, kImage, 0x100);
        map_4k(t, arch::kFrameTableBase, kFrameTable, 0x40);
    });
    directmap_on_ = tree(kGlobal, [](Table& t) { map_4k(t, arch::kDirectmapBase + kPool * kPageSize, kPool, kStacks - kPool); });
    directmap_off_ = tree(kGlobal, [](Table& t) { map_4k(t, arch::kDirectmapBase + kPool * kPageSize, kPool, kPoolEnd - kPool); });
    stacks_all_ = tree(kGlobal, [](Table& t) {
        for (unsigned c = 0; c < kCpus; ++c) map_stacks(t, c);
    });
    for (unsigned c = 0; c < kCpus; ++c) stacks_[c] = tree(percpu(c), [c](Table& t) { map_stacks(t, c); });
    for (unsigned d = 1; d <= kDomains; ++d) {
        guest_[d - 1] = tree(guest(d), [d](Table& t) { map_4k(t, 0, kGuest + (d - 1) * kGuestFrames, kGuestFrames); });
        perdomain_[d - 1] = tree(perdomain(d), [d](Table& t) {
            map_4k(t, arch::kPerdomainBase, domain_mfn(d), kDomainFrameCount);
            for (unsigned v = 0; v < kVcpus; ++v) map_4k(t, vcpu_va(v), vcpu_mfn(d, v), kVcpuFrameCount);
        });
        for (unsigned v = 0; v < kVcpus; ++v) {
            pervcpu_[d - 1][v] = tree(pervcpu(d, v), [d, v](Table& t) {
                map_4k(t, arch::kPerdomainBase, domain_mfn(d), kDomainFrameCount);
                map_4k(t, vcpu_va(v), vcpu_mfn(d, v), kVcpuFrameCount);
            });
        }
    }
    slot_261_off_ = slot_261_l3(kGlobal, stacks_all_);
}

// A scratch root with `build`'s mappings; every table it allocated is tagged `table_tag`.
Mfn FakeAsiMachine::tree(FrameTag table_tag, const Build& build) {
    FakeMachineMemory& memory = paging_.memory();
    // Frames are never freed here, so the next mfn is kFirstMfn + the frames handed out so far.
    const u64 first = FakeMachineMemory::kFirstMfn + memory.frame_count();
    Table table(paging_, memory.alloc_frame());
    build(table);
    env_.tag(Mfn(first), FakeMachineMemory::kFirstMfn + memory.frame_count() - first, table_tag);
    return table.root();
}

Mfn FakeAsiMachine::new_table(FrameTag tag) {
    const Mfn table = paging_.memory().alloc_frame();
    env_.tag(table, 1, tag);
    return table;
}

Mfn FakeAsiMachine::child(Mfn table, unsigned index) {
    return Format::address(Level::Pml4, entry(table, index)).mfn();
}

// Slot 261's L3: the global L2s of `global_`, plus the cpu_stacks GiB of `stacks_tree`.
Mfn FakeAsiMachine::slot_261_l3(FrameTag tag, Mfn stacks_tree) {
    const Mfn l3 = new_table(tag);
    const Mfn global_l3 = child(global_, kXenSlot);
    for (unsigned i = 0; i < mm::kEntriesPerTable; ++i) entry(l3, i) = entry(global_l3, i);
    const unsigned stacks = mm::index_of(arch::kCpuStacksBase, Level::Pdpt);
    entry(l3, stacks) = entry(child(stacks_tree, kXenSlot), stacks);
    return l3;
}

Mfn FakeAsiMachine::vcpu_frame(u32 domain, u32 vcpu) { return Mfn(vcpu_mfn(domain, vcpu)); }

void FakeAsiMachine::plant(Mfn root, u64 va, Mfn frame) {
    FakeMachineMemory& memory = paging_.memory();
    const u64 first = FakeMachineMemory::kFirstMfn + memory.frame_count();
    Table table(paging_, root);
    map_4k(table, va, frame.raw(), 1);
    env_.tag(Mfn(first), FakeMachineMemory::kFirstMfn + memory.frame_count() - first, kGlobal);
}

Mfn FakeAsiMachine::root(bool asi, u32 domain, u32 vcpu, u32 pcpu) {
    HV_CHECK(domain >= 1 && domain <= kDomains && vcpu < kVcpus && pcpu < kCpus);
    // With ASI off every vCPU of the domain, on any pCPU, loads the guest's own L4.
    const auto key = asi ? std::make_tuple(true, domain, vcpu, pcpu) : std::make_tuple(false, domain, 0U, 0U);
    if (const auto found = roots_.find(key); found != roots_.end()) return found->second;
    const Mfn root = new_table(asi ? pervcpu(domain, vcpu) : guest(domain));
    entry(root, kGuestSlot) = entry(guest_[domain - 1], kGuestSlot);
    entry(root, kRoM2pSlot) = entry(global_, kRoM2pSlot);
    entry(root, kLinearSlot) = Format::make_table(Level::Pml4, root);
    const Mfn slot_260 = asi ? pervcpu_[domain - 1][vcpu] : perdomain_[domain - 1];
    entry(root, kPerdomainSlot) = entry(slot_260, kPerdomainSlot);
    const Mfn slot_261 = asi ? slot_261_l3(percpu(pcpu), stacks_[pcpu]) : slot_261_off_;
    entry(root, kXenSlot) = Format::make_table(Level::Pml4, slot_261);
    entry(root, kDirectmapSlot) = entry(asi ? directmap_on_ : directmap_off_, kDirectmapSlot);
    roots_.emplace(key, root);
    return root;
}

}  // namespace hv::test
