// SPDX-License-Identifier: MIT
// TLB coherence between vCPUs (vcpus=N, N >= 2). vCPU 0 switches L4[255] of the L4 that every
// vCPU runs on between two private table chains that map the same address to different pages;
// before round r it writes tag r into the page it is about to map. Once its mmu_update has
// returned it publishes the round, and a reader that saw round r published must then read tag r
// (or r + 1, when round r + 1 is already under way): tag r - 1 is a stale TLB entry, which the
// hypervisor must have flushed on the reader's pCPU before the hypercall returned. Round r + 1
// starts only when every reader has seen round r. Readers yield now and then, so with more vCPUs than
// pCPUs they are switched and migrate between pCPUs, and must never read a stale mapping either.
#include "guest.hpp"

namespace guest {

const char kTestTitle[] = "smp_tlb: L4 changes reach the other vCPUs before mmu_update returns";

namespace {

constexpr u64 kRoTable = 0x61, kRwLeaf = 0x63, kTable = 0x67, kAddrMask = 0x000ffffffffff000;
constexpr unsigned kSlot = 255;
constexpr u64 kVa = u64{kSlot} << 39;
constexpr unsigned kRounds = 200;
constexpr u64 kTimeoutNs = 5'000'000'000;
u64 tag(unsigned round) { return 0x7a90000000000000 | round; }

// Two chains: L3 -> L2 -> L1 -> data page, each table frame zeroed but for entry 0.
alignas(4096) u64 tables[2][3][512];
alignas(4096) u64 data[2][512];

unsigned readers;
volatile unsigned round_published;  // round r: chain r % 2 is hooked, and every TLB knows it
volatile unsigned acks[8];          // the last round each reader has seen
volatile bool stop;
volatile unsigned stale_reads;

u64 maddr(const void* p) { return pfn_to_mfn(reinterpret_cast<u64>(p) >> 12) << 12; }

long uvm(const void* p, u64 flags) {
    return hypercall(xen::kUpdateVaMapping, reinterpret_cast<u64>(p), maddr(p) | flags, xen::kUvmfInvlpg);
}

long hook(unsigned chain) {
    const u64 l4 = pfn_to_mfn(start_info->pt_base >> 12) << 12;
    xen::MmuUpdate update{l4 + kSlot * 8, maddr(tables[chain][0]) | kTable};
    return hypercall(xen::kMmuUpdate, reinterpret_cast<u64>(&update), 1, 0, xen::kDomidSelf);
}

u64 read_va() { return *reinterpret_cast<volatile u64*>(kVa); }

void reader(unsigned id) {
    unsigned seen = 0;
    for (u64 n = 0; !stop; ++n) {
        const unsigned round = round_published;
        const u64 value = read_va();
        if (value != tag(round) && value != tag(round + 1)) {
            // The round was published after the flush: an older value now is a stale TLB entry.
            if (__atomic_add_fetch(&stale_reads, 1, __ATOMIC_SEQ_CST) < 5)
                fail("vCPU %u: round %u read 0x%lx, expected 0x%lx\n", id, round, value, tag(round));
        }
        if (round != seen) acks[id] = seen = round;
        // Yield often and sleep now and then (a poll of no port with a 1 ms timeout), so pCPUs
        // go idle and steal queued vCPUs: the readers migrate.
        if (n % 64 == 0) yield();
        if (n % 256 == 0) {
            const xen::SchedPoll nap{0, 0, 0, system_time(id) + 1'000'000};
            hypercall(xen::kSchedOp, xen::kSchedOpPoll, reinterpret_cast<u64>(&nap));
        }
    }
}

bool prepare() {
    for (unsigned c = 0; c < 2; ++c) {
        data[c][0] = tag(c);
        tables[c][2][0] = maddr(data[c]) | kRwLeaf;
        tables[c][1][0] = maddr(tables[c][2]) | kTable;
        tables[c][0][0] = maddr(tables[c][1]) | kTable;
        for (unsigned t = 0; t < 3; ++t) {
            const long rc = uvm(tables[c][t], kRoTable);  // a page table may not be mapped writable
            if (rc != 0) {
                fail("making table %u/%u read-only: %ld\n", c, t, rc);
                return false;
            }
        }
    }
    return true;
}

}  // namespace

void test_main() {
    if (map_shared_info() == nullptr) return;
    const unsigned vcpus = vcpu_count();
    if (vcpus < 2) return error("%u vCPU(s): need 2-8\n", vcpus);
    if (!prepare()) return;
    long rc = hook(0);
    if (rc != 0) return fail("hooking chain 0: %ld\n", rc);
    if (read_va() != tag(0)) return fail("chain 0 reads 0x%lx\n", read_va());
    readers = vcpus - 1;
    for (unsigned id = 1; id < vcpus; ++id)
        if ((rc = start_vcpu(id, reader)) != 0) return fail("starting vCPU %u: %ld\n", id, rc);
    for (unsigned round = 1; round <= kRounds && stale_reads == 0; ++round) {
        data[round % 2][0] = tag(round);  // the page about to be mapped; no reader maps it now
        rc = hook(round % 2);
        if (rc != 0) return fail("round %u: mmu_update of L4[%u]: %ld\n", round, kSlot, rc);
        round_published = round;
        const u64 deadline = system_time() + kTimeoutNs;
        for (unsigned id = 1; id < vcpus; ++id)
            while (acks[id] != round) {
                if (system_time() > deadline) return fail("vCPU %u never saw round %u\n", id, round);
                yield();
            }
    }
    stop = true;
    if (stale_reads == 0) print("%u rounds, %u readers: no stale read\n", kRounds, readers);
}

}  // namespace guest
