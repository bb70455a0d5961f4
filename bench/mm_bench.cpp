// SPDX-License-Identifier: MIT
// Host-native timings of the mm core: per-domain populate/destroy on the fast and the slow path,
// create(populate)+destroy, and mapcache map+unmap.
//
// The environment imitates the image closely enough that the core's own cost is what is
// measured:
//   - machine memory is one memfd, mapped once as a "directmap": env.table(mfn) is arithmetic;
//   - the linear window is real: a 512 GiB PROT_NONE reservation in which the bench maps the
//     root, L3, L2 and L1 frames at exactly the offsets mm::linear_entry_va() computes for slot
//     258, so env.linear_entry() is the image's pure arithmetic and the store goes through a
//     second host mapping of the table frame, as it goes through the self-map in the image;
//   - invalidations are counted, not executed (INVLPG is the arch's cost, not the core's), and
//     freed frames are reused at once (the image defers reuse to the flush).
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "hv/mm/linear_map.hpp"
#include "hv/mm/mapcache.hpp"
#include "hv/mm/perdomain.hpp"

namespace {

using hv::GiB;
using hv::kPageSize;
using hv::Mfn;
using hv::Optional;
using hv::u64;
using hv::u8;
using hv::Vaddr;
using hv::arch::X86PteFormat;
using hv::mm::Level;
using hv::mm::Populate;
using hv::mm::VcpuRef;

constexpr unsigned kSelfSlot = 258;
constexpr unsigned kPerdomainSlot = 260;
constexpr u64 kWindowBase = hv::arch::l4_slot_base(kSelfSlot);
constexpr u64 kWindowSize = 512 * GiB;

[[noreturn]] void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

// Frames in a memfd, a directmap of them, and a linear window to alias them into.
class BenchMemory {
  public:
    static constexpr u64 kFrames = u64{1} << 14;  // 64 MiB
    static constexpr u64 kFirstMfn = 0x1000;

    BenchMemory() {
        fd_ = memfd_create("isola_mm_bench", 0);
        if (fd_ < 0 || ftruncate(fd_, static_cast<off_t>(kFrames * kPageSize)) != 0) die("memfd");
        void* direct = mmap(nullptr, kFrames * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
        void* window = mmap(nullptr, kWindowSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (direct == MAP_FAILED || window == MAP_FAILED) die("mmap");
        direct_ = static_cast<u8*>(direct);
        window_ = static_cast<u8*>(window);
        for (u64 i = kFrames; i > 0; --i) free_.push_back(kFirstMfn + i - 1);
    }
    ~BenchMemory() {
        munmap(window_, kWindowSize);
        munmap(direct_, kFrames * kPageSize);
        close(fd_);
    }
    BenchMemory(const BenchMemory&) = delete;
    BenchMemory& operator=(const BenchMemory&) = delete;

    u64* frame(Mfn mfn) { return reinterpret_cast<u64*>(direct_ + (mfn.raw() - kFirstMfn) * kPageSize); }

    // A zeroed frame, as the env contract asks.
    Optional<Mfn> alloc() {
        if (free_.empty()) return {};
        const Mfn mfn(free_.back());
        free_.pop_back();
        std::memset(frame(mfn), 0, kPageSize);
        return mfn;
    }
    void free(Mfn mfn) { free_.push_back(mfn.raw()); }

    // The host address of linear-window VA `linear`.
    u64* window_at(u64 linear) { return reinterpret_cast<u64*>(window_ + (linear - kWindowBase)); }

    // Shows frame `mfn` on the window page holding `linear`, as the self-map would.
    void alias(u64 linear, Mfn mfn) {
        u8* const page = window_ + hv::align_down(linear - kWindowBase, kPageSize);
        const off_t offset = static_cast<off_t>((mfn.raw() - kFirstMfn) * kPageSize);
        if (mmap(page, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_, offset) == MAP_FAILED)
            die("mmap alias");
    }

  private:
    int fd_ = -1;
    u8* direct_ = nullptr;
    u8* window_ = nullptr;
    std::vector<u64> free_;
};

class BenchEnv {
  public:
    // --- PerdomainEnv ---
    u64* table(Mfn mfn) { return memory_.frame(mfn); }
    Optional<Mfn> alloc_table() { return memory_.alloc(); }
    void free_table(Mfn mfn) { memory_.free(mfn); }
    Optional<Mfn> alloc_page() { return memory_.alloc(); }
    void free_page(Mfn mfn) { memory_.free(mfn); }
    void invalidate(Vaddr, Level) { ++invalidations_; }
    bool loaded(const VcpuRef& vcpu) const {
        return loaded_ && vcpu.domain_id == loaded_vcpu_.domain_id && vcpu.vcpu_id == loaded_vcpu_.vcpu_id;
    }
    u64* linear_entry(Level level, Vaddr va) {
        return memory_.window_at(hv::mm::linear_entry_va(kSelfSlot, level, va.raw()));
    }

    // --- Bench controls ---
    void load(const VcpuRef& vcpu) {
        loaded_ = true;
        loaded_vcpu_ = vcpu;
    }
    void unload() { loaded_ = false; }

    // Aliases the tables that translate `va` in `root` into the window (what the hardware's
    // pass through the self entry does). Call after the tables exist.
    void map_linear(Mfn root, u64 va) {
        Mfn table = root;
        for (Level level = Level::Pml4;; level = hv::mm::lower(level)) {
            memory_.alias(hv::mm::linear_entry_va(kSelfSlot, level, va), table);
            if (level == Level::Pt) return;
            const u64 entry = memory_.frame(table)[hv::mm::index_of(va, level)];
            if (!X86PteFormat::present(level, entry)) die("map_linear: missing table");
            table = X86PteFormat::address(level, entry).mfn();
        }
    }

    Mfn alloc_root() { return memory_.alloc().value(); }
    u64* frame(Mfn mfn) { return memory_.frame(mfn); }
    u64 invalidations() const { return invalidations_; }

  private:
    BenchMemory memory_;
    bool loaded_ = false;
    VcpuRef loaded_vcpu_{};
    u64 invalidations_ = 0;
};

enum class Path { Fast, Slow };

// One vCPU with its L3 and root, a range of `pages` reserved at `va`, and the path chosen.
struct Setup {
    using Api = hv::mm::Perdomain<X86PteFormat, BenchEnv>;
    static constexpr u64 kVa = hv::arch::kPerdomainBase + GiB + 2 * hv::MiB - 8 * kPageSize;  // crosses an L1 at 16 pages

    Setup(Path path, u64 pages) {
        vcpu = VcpuRef{api.create_l3().value(), 1, 0};
        root = env.alloc_root();
        env.frame(root)[kPerdomainSlot] = X86PteFormat::make_table(Level::Pml4, vcpu.l3);
        env.frame(root)[kSelfSlot] = X86PteFormat::make_table(Level::Pml4, root);
        check(api.create(vcpu, Vaddr(kVa), pages, Populate::No).ok());
        if (path == Path::Fast) {
            for (u64 i = 0; i < pages; ++i) env.map_linear(root, kVa + i * kPageSize);
            env.load(vcpu);
        }
    }
    static void check(bool ok) {
        if (!ok) die("bench setup");
    }

    BenchEnv env;
    Api api{env, kPerdomainSlot};
    VcpuRef vcpu{};
    Mfn root{};
};

// populate() of given frames then destroy() of the same pages; tables exist throughout.
void populate_destroy(benchmark::State& state, Path path) {
    const u64 pages = static_cast<u64>(state.range(0));
    Setup setup(path, pages);
    std::vector<Mfn> mfns;
    for (u64 i = 0; i < pages; ++i) mfns.push_back(Mfn(0x8'0000 + i));
    const Vaddr va(Setup::kVa);
    Setup::check(setup.api.populate(setup.vcpu, va, mfns.data(), pages, hv::mm::Attrs{.write = true}).ok());
    Setup::check(setup.api.destroy(setup.vcpu, va, pages).ok());
    for (auto _ : state) {
        auto populated = setup.api.populate(setup.vcpu, va, mfns.data(), pages, hv::mm::Attrs{.write = true});
        auto destroyed = setup.api.destroy(setup.vcpu, va, pages);
        benchmark::DoNotOptimize(populated);
        benchmark::DoNotOptimize(destroyed);
    }
    state.counters["invalidations/iter"] =
        benchmark::Counter(static_cast<double>(setup.env.invalidations()) / static_cast<double>(state.iterations()));
}

// create() with populate (fresh zeroed owned frames) then destroy() (frees them).
void create_populate_destroy(benchmark::State& state, Path path) {
    const u64 pages = static_cast<u64>(state.range(0));
    Setup setup(path, pages);
    const Vaddr va(Setup::kVa);
    for (auto _ : state) {
        auto created = setup.api.create(setup.vcpu, va, pages, Populate::Yes);
        auto destroyed = setup.api.destroy(setup.vcpu, va, pages);
        benchmark::DoNotOptimize(created);
        benchmark::DoNotOptimize(destroyed);
    }
}

BENCHMARK_CAPTURE(populate_destroy, fast, Path::Fast)->Arg(1)->Arg(16);
BENCHMARK_CAPTURE(populate_destroy, slow, Path::Slow)->Arg(1)->Arg(16);
BENCHMARK_CAPTURE(create_populate_destroy, fast, Path::Fast)->Arg(1)->Arg(16);
BENCHMARK_CAPTURE(create_populate_destroy, slow, Path::Slow)->Arg(1)->Arg(16);

// The arch side of a mapcache: an L1 in memory and a counting "TLB".
struct BenchMapcacheEnv {
    Vaddr slot_va(unsigned slot) { return Vaddr(hv::arch::kPerdomainBase + GiB + slot * kPageSize); }
    void write_pte(unsigned slot, u64 entry) { __atomic_store_n(&l1[slot], entry, __ATOMIC_RELEASE); }
    void invalidate(Vaddr) { ++invalidations; }

    alignas(kPageSize) u64 l1[512]{};
    u64 invalidations = 0;
};

template <unsigned N>
void mapcache_map_unmap(benchmark::State& state) {
    BenchMapcacheEnv env;
    hv::mm::Mapcache<X86PteFormat, BenchMapcacheEnv, N> cache(env);
    u64 mfn = 0x1000;
    for (auto _ : state) {
        const auto frame = cache.map(Mfn(mfn));
        benchmark::DoNotOptimize(frame.va());
        mfn = (mfn + 1) & 0xffff;
    }
    if (cache.slots_in_use() != 0) die("mapcache leak");
}

// The same with one mapping held for the whole run (the usual case: a nested map).
template <unsigned N>
void mapcache_map_unmap_one_held(benchmark::State& state) {
    BenchMapcacheEnv env;
    hv::mm::Mapcache<X86PteFormat, BenchMapcacheEnv, N> cache(env);
    const auto held = cache.map(Mfn(0x42));
    for (auto _ : state) {
        const auto frame = cache.map(Mfn(0x1000));
        benchmark::DoNotOptimize(frame.va());
    }
}

BENCHMARK(mapcache_map_unmap<16>);
BENCHMARK(mapcache_map_unmap<64>);
BENCHMARK(mapcache_map_unmap_one_held<16>);

}  // namespace

BENCHMARK_MAIN();
