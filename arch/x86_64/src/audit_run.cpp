// SPDX-License-Identifier: MIT
// The `audit` option: the isolation audit (hv/audit) run inside the hypervisor on every root.
//
// When the run ends (every domain has ended; their tables are still intact), the last pCPU audits
// each vCPU's roots as that vCPU on the pCPU it last ran on (its shadow roots with asi vcpu-pt,
// else the guest's own L4s, which are what CR3 held), then each pCPU's idle root as that pCPU
// with no domain, and prints the console protocol of hv/audit/protocol.hpp. `isola audit`
// parses it. Tables are read through the mapcache, so the walk sees guest frames too.
#include "arch/audit_run.hpp"

#include "arch/asi.hpp"
#include "arch/cpu.hpp"
#include "arch/mapcache.hpp"
#include "arch/memory.hpp"
#include "arch/pte.hpp"
#include "arch/sched.hpp"
#include "arch/smp.hpp"
#include "arch/va_layout.hpp"
#include "hv/audit/protocol.hpp"
#include "hv/audit/walker.hpp"
#include "hv/core/console.hpp"
#include "hv/core/format.hpp"
#include "hv/pv/domain.hpp"

extern "C" void* memcpy(void*, const void*, hv::usize);

namespace hv::arch {
namespace {

// Scratch for one walk: table buffers plus one bit per frame. Static: the audit runs once, on
// one pCPU, at the end; 2 Mi frames (8 GiB of RAM) is beyond what the tests boot.
constexpr u64 kMaxAuditFrames = u64{2} << 20;
u64 scratch_words[audit::audit_scratch_words(kMaxAuditFrames)];

struct ImageAuditEnv {
    u32 subject_domain;  // 0: no domain (an idle root), whose grants nobody has
    bool read_table(Mfn mfn, u64* entries) {
        if (mfn.raw() >= frame_count()) return false;
        const MappedFrame page = map_domain_page(mfn);
        memcpy(entries, page.as<u64>(), kPageSize);
        return true;
    }
    u64 frame_count() { return frame_allocator().frame_count(); }
    // Another domain's guest frame is "granted" when its owner has an entry pinned by the
    // subject's domain for it: a grant mapping (docs/pv.md), shared on purpose.
    audit::FrameTag classify(Mfn mfn) {
        audit::FrameTag tag = audit::tag_of(frame_allocator().info(mfn));
        if (tag.kind != audit::FrameKind::Guest || subject_domain == 0 || tag.domain == subject_domain) return tag;
        const pv::Domain* owner = pv::find_domain(static_cast<u16>(tag.domain));
        if (owner != nullptr && pv::grant_frame_mapped_by(*owner, mfn, static_cast<u16>(subject_domain)))
            tag.id = audit::kGrantedToSubject;
        return tag;
    }
};

void print_line(void*, const char* line) { print("%s\n", line); }

const char* class_word(IsolationClass isolation) {
    switch (isolation) {
        case IsolationClass::Global: return "global";
        case IsolationClass::PerCpu: return "percpu";
        case IsolationClass::PerDomain: return "perdomain";
        case IsolationClass::PerVcpu: return "pervcpu";
        case IsolationClass::Gap: return "gap";
    }
    return "gap";
}

void audit_one(audit::ProtocolPrinter& printer, const char* label, Mfn root, const audit::Subject& subject) {
    ImageAuditEnv env{subject.domain};
    printer.root_begin(label, subject, asi_policy().vcpu_pt);
    const audit::AuditScratch scratch{scratch_words, sizeof scratch_words / sizeof scratch_words[0]};
    const audit::AuditResult result = audit::audit_root<X86PteFormat>(env, root, subject, scratch, printer.run_sink());
    printer.root_end(result);
}

void audit_vcpu(audit::ProtocolPrinter& printer, const pv::Vcpu& vcpu, unsigned pcpu) {
    const audit::Subject subject{vcpu.domain->id, vcpu.id, pcpu};
    const u64 kernel = vcpu.asi_root[0] != 0 ? vcpu.asi_root[0] : vcpu.kernel_cr3;
    const u64 user = vcpu.asi_root[0] != 0 ? vcpu.asi_root[1] : vcpu.user_cr3;
    char label[32];
    format(label, sizeof label, "d%uv%u-kernel", vcpu.domain->id, vcpu.id);
    audit_one(printer, label, Maddr(kernel).mfn(), subject);
    if (user == 0 || user == kernel) return;
    format(label, sizeof label, "d%uv%u-user", vcpu.domain->id, vcpu.id);
    audit_one(printer, label, Maddr(user).mfn(), subject);
}

// audit-point: which pCPU stops (~0: none), and whether it already did.
u64 audit_point_cpu = ~u64{0};
bool audit_point_taken;

}  // namespace

void set_audit_point_cpu(u64 cpu) { audit_point_cpu = cpu; }

bool audit_point_due(unsigned cpu) { return !audit_point_taken && audit_point_cpu == cpu; }

[[noreturn]] void stop_at_audit_point(const pv::Vcpu& vcpu, unsigned cpu) {
    audit_point_taken = true;
    constexpr u64 kCr3Address = 0x000f'ffff'ffff'f000;  // without the PCID and flag bits
    const u64 root = read_cr3() & kCr3Address;
    char label[32];
    format(label, sizeof label, "d%uv%u-%s", vcpu.domain->id, vcpu.id, vcpu.kernel_mode ? "kernel" : "user");
    print("audit: point begin cpu=%u root=%016llx label=%s\n", cpu, static_cast<unsigned long long>(root), label);
    // The walk itself maps each table it reads in the mapcache slots in use here (the vCPU's own
    // with vcpu-pt, else this pCPU's window) and unmaps it again, so those slots may differ
    // between the walk and QEMU's later look: not compared.
    u64 first = 0, last = 0;
    mapcache_active_range(cpu, first, last);
    print("audit: point volatile %016llx %016llx mapcache\n", static_cast<unsigned long long>(first),
          static_cast<unsigned long long>(last));
    audit::MappingPrinter printer(print_line, nullptr);
    ImageAuditEnv env{vcpu.domain->id};
    const audit::AuditScratch scratch{scratch_words, sizeof scratch_words / sizeof scratch_words[0]};
    audit::enumerate_mappings<X86PteFormat>(env, Maddr(root).mfn(), scratch, printer.mapping_sink());
    const u64 maps = printer.finish();
    print("audit: point end cpu=%u root=%016llx maps=%llu\n", cpu, static_cast<unsigned long long>(root),
          static_cast<unsigned long long>(maps));
    for (;;) asm volatile("cli\n\thlt" ::: "memory");
}

void run_isolation_audit() {
    if (frame_allocator().frame_count() > kMaxAuditFrames) {
        print("isola: audit skipped: more RAM than the audit's scratch covers\n");
        return;
    }
    audit::ProtocolPrinter printer(print_line, nullptr);
    printer.begin();
    for (const Region& r : kLayout) printer.layout(r.start, r.size, r.name, class_word(r.isolation));
    for (unsigned i = 0; i < domain_total(); ++i) {
        const pv::Domain& domain = domain_at(i);
        for (unsigned v = 0; v < domain.vcpu_count; ++v) {
            const pv::Vcpu& vcpu = domain.vcpus[v];
            if (vcpu.last_loaded_cpu == 0) continue;  // never ran: no pCPU to audit it on
            audit_vcpu(printer, vcpu, vcpu.asi_cpu >= 0 ? static_cast<unsigned>(vcpu.asi_cpu) : vcpu.last_loaded_cpu - 1);
        }
    }
    for (unsigned cpu = 0; cpu < cpu_topology().online; ++cpu) {
        char label[16];
        format(label, sizeof label, "idle-c%u", cpu);
        // No domain has id 0 and no vCPU index ~0: every domain's and vCPU's frames are foreign.
        audit_one(printer, label, cpu_idle_root(cpu), audit::Subject{0, ~u32{0}, cpu});
    }
    printer.end();
}

}  // namespace hv::arch
