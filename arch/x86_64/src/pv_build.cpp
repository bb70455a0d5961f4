// SPDX-License-Identifier: MIT
// PV domain builder (see pv_build.hpp). Guest frames are never in the directmap: every write to
// them goes through map_domain_page.
#include "arch/pv_build.hpp"

#include "arch/asi_roots.hpp"
#include "arch/domain_private_area.hpp"
#include "arch/mapcache.hpp"
#include "arch/perdomain_area.hpp"
#include "arch/memory.hpp"
#include "arch/pte.hpp"
#include "arch/va_layout.hpp"
#include "arch/vcpu_private_area.hpp"
#include "hv/core/cmdline.hpp"
#include "hv/core/console.hpp"
#include "hv/core/format.hpp"
#include "hv/pv/boot_layout.hpp"
#include "hv/pv/domain_mm.hpp"
#include "hv/pv/elf_image.hpp"
#include "hv/pv/vcpu_context.hpp"
#include "hv/pv/vcpu_private.hpp"
#include "hv/pv/xen_abi.hpp"
#include "hv/sched/scheduler.hpp"

extern "C" {
void* memset(void*, int, hv::usize);
void* memcpy(void*, const void*, hv::usize);
}

namespace hv::arch {
namespace {

using BuildError = Error<const char*>;

constexpr u64 kTableFlags = X86PteFormat::kP | X86PteFormat::kRw | X86PteFormat::kUs | X86PteFormat::kA |
                            X86PteFormat::kD;                                       // 0x67, as Xen
constexpr u64 kLeafFlags = X86PteFormat::kP | X86PteFormat::kRw | X86PteFormat::kUs | X86PteFormat::kA;  // 0x27
constexpr u64 kPageTableLeafFlags = X86PteFormat::kP | X86PteFormat::kUs | X86PteFormat::kA;           // 0x25: RO

struct ModuleOptions {
    char name[32] = "";
    u64 mem_bytes = 32 * MiB;
    u64 vcpus = 1;
    u32 cpus = 0;  // affinity of every vCPU (bit per pCPU); 0 = any
    sched::PinList pins{};  // pin=: vCPU i on pCPU pins.cpu[i]
    cmdline::Token guest_cmdline{};
};

// A local wrapper: the image is position-independent, and the address of a function in this
// file needs no GOT entry (the linker cannot relax one).
Status parse_cpus(cmdline::Token value, void* target) { return sched::parse_cpu_list(value, target); }
Status parse_pins(cmdline::Token value, void* target) { return sched::parse_pin_list(value, target); }

// Splits "PATH opts -- guest args" and parses the Isola options.
Result<ModuleOptions, const char*> parse_module_cmdline(const char* text) {
    ModuleOptions options;
    usize length = 0;
    while (text[length] != 0) ++length;
    usize split = length;
    for (usize i = 0; i + 1 < length; ++i)
        if (text[i] == '-' && text[i + 1] == '-' && (i == 0 || text[i - 1] == ' ') &&
            (i + 2 == length || text[i + 2] == ' ')) {
            split = i;
            break;
        }
    if (split < length) options.guest_cmdline = {text + split + 2, length - split - 2};
    while (options.guest_cmdline.size > 0 && options.guest_cmdline.data[0] == ' ')
        options.guest_cmdline = {options.guest_cmdline.data + 1, options.guest_cmdline.size - 1};
    const cmdline::Option table[] = {
        {"name", cmdline::Kind::String, options.name, nullptr, sizeof options.name},
        {"mem", cmdline::Kind::Size, &options.mem_bytes},
        {"vcpus", cmdline::Kind::UInt, &options.vcpus},
        {"cpus", cmdline::Kind::Custom, &options.cpus, parse_cpus},
        {"pin", cmdline::Kind::Custom, &options.pins, parse_pins},
    };
    if (!cmdline::parse({text, split}, table, 5, cmdline::SkipFirst::Yes).ok()) return BuildError{"bad module option"};
    if (options.vcpus == 0 || options.vcpus > pv::kMaxVcpus) return BuildError{"vcpus= must be 1-8"};
    return options;
}

// pfn -> mfn through the domain's p2m frames. They are the domain's (class PerDomain) and come
// from the domain pool, so no other domain's root reaches them through the directmap.
u64 p2m_get(const pv::Domain& d, u64 pfn) {
    const MappedFrame page = map_domain_page(d.p2m_frames[pfn / pv::kP2mEntriesPerFrame]);
    return page.as<u64>()[pfn % pv::kP2mEntriesPerFrame];
}
void p2m_set(const pv::Domain& d, u64 pfn, Mfn mfn) {
    const MappedFrame page = map_domain_page(d.p2m_frames[pfn / pv::kP2mEntriesPerFrame]);
    page.as<u64>()[pfn % pv::kP2mEntriesPerFrame] = mfn.raw();
}
Mfn pfn_to_mfn(pv::Domain& d, u64 pfn) { return Mfn(p2m_get(d, pfn)); }

void release_memory(pv::Domain& d) {
    mm::FrameAllocator& frames = frame_allocator();
    for (u64 pfn = 0; pfn < d.nr_pages; ++pfn)
        if (d.p2m_frames[pfn / pv::kP2mEntriesPerFrame].raw() != 0 && p2m_get(d, pfn) != 0) {
            set_m2p(pfn_to_mfn(d, pfn), kM2pInvalid);
            frames.free(pfn_to_mfn(d, pfn));
        }
    for (Mfn& frame : d.p2m_frames)
        if (frame.raw() != 0) frames.free(frame);
    if (d.shared_info.raw() != 0) frames.free(d.shared_info);
    for (pv::Vcpu& vcpu : d.vcpus)
        if (vcpu.domain == &d) vcpu_private_release(vcpu);
    domain_private_release(d);
    for (Mfn& frame : d.grants.frames)
        if (frame.raw() != 0) frames.free(frame);
    for (Mfn& frame : d.grants.status_frames)
        if (frame.raw() != 0) frames.free(frame);
}

void zero_guest_frame(Mfn mfn) {
    const MappedFrame page = map_domain_page(mfn);
    memset(page.bytes(), 0, kPageSize);
}

// Grant-table frames and v2 status frames, all at build time: the domain pool, held back by the
// hypervisor for this domain (Hypervisor/PerDomain) until the grant table shares them with the
// guest as Guest frames of the domain (grant_table.hpp). The table starts as v1 with frame 0.
Result<void, const char*> allocate_grant_frames(pv::Domain& d) {
    mm::FrameAllocator& frames = frame_allocator();
    const mm::FrameUse held_use{mm::FrameOwner::Hypervisor, mm::FrameClass::PerDomain, d.id};
    Mfn grant[pv::kGrantFrames] = {}, status[pv::kGrantStatusFrames] = {};
    bool allocated = true;
    const auto fill = [&](Mfn* list, unsigned count) {
        for (unsigned i = 0; i < count && allocated; ++i) {
            const Optional<Mfn> frame = frames.alloc(mm::Pool::Domain, held_use);
            if (frame) list[i] = frame.value();
            else allocated = false;
        }
    };
    fill(grant, pv::kGrantFrames);
    fill(status, pv::kGrantStatusFrames);
    if (!allocated) {
        for (const Mfn frame : grant)
            if (frame.raw() != 0) frames.free(frame);
        for (const Mfn frame : status)
            if (frame.raw() != 0) frames.free(frame);
        return BuildError{"not enough memory for the grant table"};
    }
    pv::grant_table_init(d, grant, status);  // recorded in d.grants: release_memory frees them
    return {};
}

Result<void, const char*> allocate_memory(pv::Domain& d) {
    mm::FrameAllocator& frames = frame_allocator();
    const mm::FrameUse p2m_use{mm::FrameOwner::Hypervisor, mm::FrameClass::PerDomain, d.id};
    const mm::FrameUse guest_use{mm::FrameOwner::Domain, mm::FrameClass::Guest, d.id};
    for (u64 i = 0; i < (d.nr_pages + pv::kP2mEntriesPerFrame - 1) / pv::kP2mEntriesPerFrame; ++i) {
        const Optional<Mfn> frame = frames.alloc(mm::Pool::Domain, p2m_use);
        if (!frame) return BuildError{"not enough memory for the p2m"};
        zero_guest_frame(frame.value());
        d.p2m_frames[i] = frame.value();
    }
    for (u64 pfn = 0; pfn < d.nr_pages; ++pfn) {
        const Optional<Mfn> frame = frames.alloc(mm::Pool::Domain, guest_use);
        if (!frame) return BuildError{"not enough memory for the domain"};
        zero_guest_frame(frame.value());  // no data of an earlier owner reaches the guest
        p2m_set(d, pfn, frame.value());
        set_m2p(frame.value(), pfn);
    }
    const Optional<Mfn> shared = frames.alloc(mm::Pool::Domain, guest_use);
    if (!shared) return BuildError{"not enough memory for shared_info"};
    zero_guest_frame(shared.value());
    d.shared_info = shared.value();
    return allocate_grant_frames(d);
}

// Copies bytes to guest VA `va` of the initial mapping (VA = v_start + pfn * 4 KiB).
void write_guest(pv::Domain& d, u64 v_start, u64 va, const void* source, u64 length) {
    const auto* bytes = static_cast<const u8*>(source);
    while (length > 0) {
        const u64 offset = va & (kPageSize - 1);
        const u64 step = kPageSize - offset < length ? kPageSize - offset : length;
        const MappedFrame page = map_domain_page(pfn_to_mfn(d, (va - v_start) >> kPageShift));
        memcpy(page.bytes() + offset, bytes, step);
        bytes += step;
        va += step;
        length -= step;
    }
}

// Builds the bootstrap tables in the page-table region, mapping [v_start, v_end) RW except the
// table frames themselves (RO, as the type rules demand). Returns the L4's mfn.
class InitialTables {
  public:
    InitialTables(pv::Domain& d, const pv::BootLayout& layout)
        : d_(d), layout_(layout), next_pfn_(pfn_of(layout.page_tables.start.raw()) + 1),
          l4_(pfn_to_mfn(d, pfn_of(layout.page_tables.start.raw()))) {}

    Result<Mfn, const char*> build() {
        for (u64 va = layout_.v_start.raw(); va < layout_.v_end.raw(); va += kPageSize) {
            Mfn table = l4_;
            for (mm::Level level = mm::Level::Pml4; level != mm::Level::Pt; level = mm::lower(level)) {
                const auto next = ensure_table(table, mm::index_of(va, level));
                if (!next.ok()) return BuildError{next.error()};
                table = next.value();
            }
            const u64 pfn = pfn_of(va);
            const bool is_table = pfn >= pfn_of(layout_.page_tables.start.raw()) && pfn < next_table_limit();
            set_entry(table, mm::index_of(va, mm::Level::Pt),
                      pfn_to_mfn(d_, pfn).maddr().raw() | (is_table ? kPageTableLeafFlags : kLeafFlags));
        }
        install_hypervisor_slots();
        return l4_;
    }

  private:
    u64 pfn_of(u64 va) const { return (va - layout_.v_start.raw()) >> kPageShift; }
    u64 next_table_limit() const { return pfn_of(layout_.page_tables.start.raw()) + layout_.nr_pt_frames; }

    Result<Mfn, const char*> ensure_table(Mfn table, unsigned index) {
        const MappedFrame page = map_domain_page(table);
        u64& entry = page.as<u64>()[index];
        if (entry & X86PteFormat::kP) return X86PteFormat::address(mm::Level::Pd, entry).mfn();
        if (next_pfn_ >= next_table_limit()) return BuildError{"bootstrap page tables need more frames than planned"};
        const Mfn fresh = pfn_to_mfn(d_, next_pfn_++);
        entry = fresh.maddr().raw() | kTableFlags;
        return fresh;
    }

    static void set_entry(Mfn table, unsigned index, u64 value) {
        const MappedFrame page = map_domain_page(table);
        page.as<u64>()[index] = value;
    }

    // Slots 256-271 come from the idle root; 258 is the linear map of this L4 (no user access).
    void install_hypervisor_slots() {
        const u64* idle = paging_env().table(memory_summary().idle_root);
        const MappedFrame page = map_domain_page(l4_);
        u64* l4 = page.as<u64>();
        for (unsigned slot = kHypervisorFirstSlot; slot <= kHypervisorLastSlot; ++slot) l4[slot] = idle[slot];
        l4[l4_slot_of(kLinearPtBase)] = l4_.maddr().raw() | X86PteFormat::kP | X86PteFormat::kRw | X86PteFormat::kA |
                                        X86PteFormat::kD | X86PteFormat::kXd;
    }

    pv::Domain& d_;
    const pv::BootLayout& layout_;
    u64 next_pfn_;
    Mfn l4_;
};

// 128 stubs of 32 bytes: push rcx; push r11; mov $n, %eax; syscall; pop r11; pop rcx; ret.
// The iret stub (23) also pushes rax and never returns. [pv-abi.md §2.1]
void fill_hypercall_page(u8* page) {
    memset(page, 0xcc, kPageSize);
    for (u32 n = 0; n < xen::kHypercallCount; ++n) {
        u8* stub = page + n * xen::kHypercallStubSize;
        const u8 normal[] = {0x51, 0x41, 0x53, 0xb8, 0, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3};
        const u8 iret[] = {0x51, 0x41, 0x53, 0x50, 0xb8, 0, 0, 0, 0, 0x0f, 0x05};
        const bool is_iret = n == xen::kIret;
        memcpy(stub, is_iret ? iret : normal, is_iret ? sizeof iret : sizeof normal);
        memcpy(stub + (is_iret ? 5 : 4), &n, sizeof n);
    }
}

void fill_start_info(pv::Domain& d, const pv::BootLayout& layout, const ModuleOptions& options, u64 l4_va) {
    xen::StartInfo info{};
    format(info.magic, sizeof info.magic, "xen-3.0-x86_64");
    info.nr_pages = d.nr_pages;
    info.shared_info = d.shared_info.maddr().raw();
    info.flags = xen::kSifPrivileged | xen::kSifInitDomain;
    info.pt_base = l4_va;
    info.nr_pt_frames = layout.nr_pt_frames;
    info.mfn_list = layout.p2m.start.raw();
    const usize length = options.guest_cmdline.size < sizeof info.cmd_line - 1 ? options.guest_cmdline.size
                                                                                  : sizeof info.cmd_line - 1;
    memcpy(info.cmd_line, options.guest_cmdline.data, length);
    info.first_p2m_pfn = layout.pages_in_initial_mapping;
    write_guest(d, layout.v_start.raw(), layout.start_info.start.raw(), &info, sizeof info);
}

void fill_p2m_list_and_shared_info(pv::Domain& d, const pv::BootLayout& layout) {
    for (u64 pfn = 0; pfn < d.nr_pages; ++pfn) {
        const u64 mfn = p2m_get(d, pfn);
        write_guest(d, layout.v_start.raw(), layout.p2m.start.raw() + pfn * 8, &mfn, sizeof mfn);
    }
    const MappedFrame page = map_domain_page(d.shared_info);
    auto* shared = page.as<xen::SharedInfo>();
    for (xen::VcpuInfo& vcpu : shared->vcpu_info) vcpu.evtchn_upcall_mask = 1;  // events masked at start
}

void load_segments(pv::Domain& d, const pv::PvImage& image, const pv::BootLayout& layout, const u8* file) {
    for (usize i = 0; i < image.segment_count; ++i) {
        const pv::LoadSegment& segment = image.segments[i];
        write_guest(d, layout.v_start.raw(), segment.vaddr.raw(), file + segment.file_offset, segment.file_size);
        // The bss is already zero: every guest frame was zeroed when allocated.
    }
}

// Every vCPU exists (down, its private page with a clean x87/SSE image, the affinity); vCPU 0
// gets the boot context and is the only one initialised: the guest brings up the others
// (VCPUOP_initialise, VCPUOP_up).
Result<void, const char*> init_vcpus(pv::Domain& d, const ModuleOptions& options) {
    d.vcpu_count = static_cast<unsigned>(options.vcpus);
    for (unsigned id = 0; id < d.vcpu_count; ++id) {
        pv::Vcpu& vcpu = d.vcpus[id];
        memset(&vcpu, 0, sizeof vcpu);  // no Vcpu{} temporary on the stack
        vcpu.domain = &d;
        vcpu.id = id;
        vcpu.sched.owner = &vcpu;
        vcpu.sched.affinity = id < options.pins.count ? 1u << options.pins.cpu[id] : options.cpus;
        HV_TRY(vcpu_private_create(vcpu));
        pv::reset_fxsave_area(pv::vcpu_private(vcpu)->fxsave_area);
    }
    return {};
}

void init_vcpu(pv::Domain& d, const pv::PvImage& image, const pv::BootLayout& layout, Mfn l4) {
    pv::Vcpu& vcpu = d.vcpus[0];
    vcpu.initialised = true;
    {
        const pv::VcpuPrivateView state = pv::vcpu_private(vcpu);  // no root loaded: the mapcache
        state->regs.rip = image.entry.raw();
        state->regs.rsp = layout.initial_rsp.raw();
        state->regs.rsi = layout.start_info.start.raw();
        state->regs.rflags = 0x202;
        state->regs.cs = xen::kFlatKernelCs;
        state->regs.ss = xen::kFlatKernelSs;
    }
    vcpu.kernel_cr3 = l4.maddr().raw();
    vcpu.kernel_mode = true;
}

Result<void, const char*> build_from_image(pv::Domain& d, const u8* file, usize size, const ModuleOptions& options) {
    const auto image = pv::parse_pv_elf(file, size);
    if (!image.ok()) return BuildError{image.error()};
    const auto layout = pv::compute_boot_layout(image.value(), d.nr_pages, 0);
    if (!layout.ok()) return BuildError{layout.error()};
    HV_TRY(allocate_memory(d));
    HV_TRY(perdomain_init_domain(d));  // before the first L4 validation: it points slot 260 here
    HV_TRY(domain_private_create(d));
    InitialTables tables(d, layout.value());
    const auto l4 = tables.build();
    if (!l4.ok()) return BuildError{l4.error()};
    load_segments(d, image.value(), layout.value(), file);
    if (image.value().hypercall_page) {
        const MappedFrame page = map_domain_page(
            pfn_to_mfn(d, (image.value().hypercall_page.value().raw() - layout.value().v_start.raw()) >> kPageShift));
        fill_hypercall_page(page.bytes());
    }
    fill_p2m_list_and_shared_info(d, layout.value());
    fill_start_info(d, layout.value(), options, layout.value().page_tables.start.raw());
    HV_TRY(init_vcpus(d, options));
    init_vcpu(d, image.value(), layout.value(), l4.value());
    // Type, validate and count every bootstrap table, pin the L4 and hold it as the kernel root,
    // exactly as Xen's builder does: from here on the guest's tables obey the type rules.
    pv::PageTypeEngine engine = pv::domain_engine(d);
    if (!engine.pin(l4.value(), pv::PageType::L4).ok() || !engine.get_page_and_type(l4.value(), pv::PageType::L4).ok())
        return BuildError{"the bootstrap page tables do not validate"};
    pv::set_guest_m2p_slot(l4.value(), true);  // the L4 is the kernel root from the start
    // shared_info is written by the hypervisor (event bits, time): like Xen's shared xen-heap
    // pages it holds a Writable type reference for good, so it can never become a page table.
    if (!engine.get_page_and_type(d.shared_info, pv::PageType::Writable).ok())
        return BuildError{"shared_info cannot be typed writable"};
    for (unsigned v = 0; v < d.vcpu_count; ++v) {
        HV_TRY(perdomain_init_vcpu(d.vcpus[v]));
        HV_TRY(asi_create_vcpu_roots(d.vcpus[v]));
    }
    return {};
}

}  // namespace

Result<void, const char*> build_domain(pv::Domain& d, u16 id, const boot::BootModule& module) {
    const auto options = parse_module_cmdline(module.cmdline);
    if (!options.ok()) return BuildError{options.error()};
    memset(&d, 0, sizeof d);  // no Domain{} temporary: it is far larger than a stack
    d.id = id;
    d.nr_pages = options.value().mem_bytes >> kPageShift;
    if (options.value().name[0] != 0) format(d.name, sizeof d.name, "%s", options.value().name);
    else format(d.name, sizeof d.name, "d%u", id);
    if (d.nr_pages == 0 || d.nr_pages > pv::kMaxDomainPages) return BuildError{"mem= must be 4K-256M"};
    const u64 size = module.end - module.start;
    const u64 va = vmap(Maddr(module.start), size, mm::Attrs{});
    const auto built = build_from_image(d, reinterpret_cast<const u8*>(va), size, options.value());
    vunmap(va, size);
    if (!built.ok()) {
        release_memory(d);
        memset(&d, 0, sizeof d);
        return built;
    }
    d.state = pv::DomainState::Running;
    print("isola: d%u (%s) built: %lu MiB, entry 0x%lx\n", d.id, d.name, d.nr_pages * kPageSize / MiB,
          pv::vcpu_private(d.vcpus[0])->regs.rip);
    return {};
}

}  // namespace hv::arch
