// SPDX-License-Identifier: MIT
// multicall (13): results written back entry by entry, nesting refused, bad lists failing with
// -EFAULT (before or after running entries, as the fault point dictates), the 32-bit count, and an
// iret entry ending the list in user mode with the iret frame's RAX (xsa-213). [pv-abi §3.20]
#include "guest.hpp"

extern "C" {
// Issues a bare-SYSCALL multicall with an iret frame for user mode on the stack; see below.
long multicall_iret_asm(const xen::MulticallEntry* entries, unsigned long count);
void multicall_user_stub();
extern guest::u64 guest_exec_user_saved_rsp;
}

// The iret entry resumes at multicall_user_stub in user mode with RAX = 0xdead; its `int $0x20`
// goes through exec_user's return path (guest_exec_user_return), which unwinds to our caller with
// that RAX. If the multicall returns normally instead, the kernel path unwinds the same way.
asm(R"(
    .pushsection .text
    .globl multicall_iret_asm, multicall_user_stub
multicall_iret_asm:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, guest_exec_user_saved_rsp(%rip)
    /* struct iret_context, lowest first: rax r11 rcx flags rip cs rflags rsp ss */
    pushq $0xe02b
    leaq guest_user_stack_top(%rip), %rax
    pushq %rax
    pushfq
    andq $~0x200, (%rsp)
    pushq $0xe033
    leaq multicall_user_stub(%rip), %rax
    pushq %rax
    pushq $0
    pushq $0
    pushq $0
    pushq $0xdead
    movl $13, %eax
    syscall
    /* Only if the multicall returned in kernel mode (it should not). */
    movq guest_exec_user_saved_rsp(%rip), %rsp
    movq $0, guest_exec_user_saved_rsp(%rip)
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret
multicall_user_stub:
    int $0x20
    ud2
    .popsection
)");

namespace guest {

const char kTestTitle[] = "multicall: results, nesting, bad lists, 32-bit count, iret ends the list";

namespace {

constexpr u64 kXenArea = 0xffff830000000000;
constexpr u64 kNonCanonical = 0x0000800000000000;
constexpr u64 kUnmapped = 0x40000000;
constexpr u64 kPteFlags = 0x63;  // P|RW|A|D

long xen_version_number;

xen::MulticallEntry entry(u64 op, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0) {
    return xen::MulticallEntry{op, 0x5a5a5a5a, {a0, a1, a2, a3, a4, 0}};
}

long multicall(const xen::MulticallEntry* entries, u64 count) {
    return hypercall(xen::kMulticall, reinterpret_cast<u64>(entries), count);
}

// Two pages: the multicall list may end at the first page's end, with the second one unmapped
// or the first one read-only.
alignas(4096) xen::MulticallEntry pages[2][4096 / sizeof(xen::MulticallEntry)];

u64 pte_of(const void* va, bool writable) {
    const u64 mfn = pfn_to_mfn(reinterpret_cast<u64>(va) >> 12);
    return (mfn << 12) | (writable ? kPteFlags : kPteFlags & ~u64{2});
}
long remap(const void* va, u64 pte) {
    return hypercall(xen::kUpdateVaMapping, reinterpret_cast<u64>(va), pte, xen::kUvmfInvlpg);
}

void results_are_written() {
    char extra[16] = {};
    xen::MulticallEntry list[] = {
        entry(xen::kXenVersion, xen::kXenVersionVersion),
        entry(xen::kXenVersion, xen::kXenVersionExtraversion, reinterpret_cast<u64>(extra)),
        entry(99),
        entry(~u64{0}),
        entry(xen::kXenVersion, xen::kXenVersionExtraversion, kXenArea),
        entry(xen::kVmAssist, 7, xen::kVmAsstTypeArchitecturalIopl),
    };
    expect_eq("multicall of 6", multicall(list, 6), 0);
    expect_eq("  [0] xen_version", static_cast<long>(list[0].result), xen_version_number);
    expect_eq("  [1] extraversion", static_cast<long>(list[1].result), 0);
    if (extra[0] != '.') fail("  [1] extraversion not written: '%s'\n", extra);
    expect_eq("  [2] hypercall 99", static_cast<long>(list[2].result), -xen::kENOSYS);
    expect_eq("  [3] hypercall ~0", static_cast<long>(list[3].result), -xen::kENOSYS);
    expect_eq("  [4] extraversion into Xen's area", static_cast<long>(list[4].result), -xen::kEFAULT);
    expect_eq("  [5] vm_assist bad command", static_cast<long>(list[5].result), -xen::kENOSYS);
    if (list[0].op != xen::kXenVersion || list[0].args[0] != xen::kXenVersionVersion)
        fail("multicall changed an entry's op or arguments\n");

    // Only the low 32 bits of the count matter; a zero count runs nothing.
    xen::MulticallEntry two[] = {entry(xen::kXenVersion, xen::kXenVersionVersion), entry(99)};
    expect_eq("count 2 + 2^32", multicall(two, (u64{1} << 32) | 2), 0);
    expect_eq("  [0]", static_cast<long>(two[0].result), xen_version_number);
    expect_eq("  [1]", static_cast<long>(two[1].result), -xen::kENOSYS);
    two[0].result = 0x77;
    expect_eq("count 2^32 (0 entries)", multicall(two, u64{1} << 32), 0);
    expect_eq("  [0] untouched", static_cast<long>(two[0].result), 0x77);
}

void nesting_is_refused() {
    xen::MulticallEntry inner[] = {entry(xen::kXenVersion, xen::kXenVersionVersion)};
    xen::MulticallEntry outer[] = {
        entry(xen::kMulticall, reinterpret_cast<u64>(inner), 1),
        entry(xen::kXenVersion, xen::kXenVersionVersion),
    };
    expect_eq("multicall containing a multicall", multicall(outer, 2), 0);
    expect_eq("  [0] nested multicall", static_cast<long>(outer[0].result), -xen::kEINVAL);
    expect_eq("  inner entry not run", static_cast<long>(inner[0].result), 0x5a5a5a5a);
    expect_eq("  [1] runs after it", static_cast<long>(outer[1].result), xen_version_number);
}

void bad_lists() {
    const xen::MulticallEntry one[] = {entry(xen::kXenVersion, 0)};
    expect_eq("list in Xen's area", multicall(reinterpret_cast<const xen::MulticallEntry*>(kXenArea), 1), -xen::kEFAULT);
    expect_eq("list in Xen's area, count 0", multicall(reinterpret_cast<const xen::MulticallEntry*>(kXenArea), 0),
              -xen::kEFAULT);
    expect_eq("non-canonical list", multicall(reinterpret_cast<const xen::MulticallEntry*>(kNonCanonical), 1),
              -xen::kEFAULT);
    expect_eq("unmapped list", multicall(reinterpret_cast<const xen::MulticallEntry*>(kUnmapped), 1), -xen::kEFAULT);
    expect_eq("count 0", multicall(one, 0), 0);

    // The list runs into an unmapped page: the entry before it has run and reports its result.
    xen::MulticallEntry* last = &pages[0][sizeof pages[0] / sizeof pages[0][0] - 1];
    *last = entry(xen::kXenVersion, xen::kXenVersionVersion);
    expect_eq("unmap the second page", remap(pages[1], 0), 0);
    expect_eq("list running into an unmapped page", multicall(last, 2), -xen::kEFAULT);
    expect_eq("  entry before the hole ran", static_cast<long>(last->result), xen_version_number);
    expect_eq("remap the second page", remap(pages[1], pte_of(pages[1], true)), 0);

    // A read-only list: the entry runs, but its result cannot be written.
    char extra[16] = {};
    pages[0][0] = entry(xen::kXenVersion, xen::kXenVersionExtraversion, reinterpret_cast<u64>(extra));
    pages[0][1] = entry(xen::kXenVersion, xen::kXenVersionExtraversion, reinterpret_cast<u64>(extra) + 1);
    expect_eq("make the list read-only", remap(pages[0], pte_of(pages[0], false)), 0);
    expect_eq("read-only list", multicall(pages[0], 2), -xen::kEFAULT);
    if (extra[0] != '.') fail("read-only list: entry 0 did not run\n");
    if (extra[1] == '.') fail("read-only list: entry 1 ran after the failed write-back\n");
    expect_eq("  result not written", static_cast<long>(pages[0][0].result), 0x5a5a5a5a);
    expect_eq("make the list writable", remap(pages[0], pte_of(pages[0], true)), 0);
}

// xsa-213: an iret entry ends the multicall; RAX is the iret frame's; later entries never run.
void iret_ends_the_list() {
    if (exec_user([]() -> long { return 5; }) != 5) return error("exec_user does not work\n");
    xen::MulticallEntry list[] = {entry(xen::kIret), entry(xen::kXenVersion, xen::kXenVersionVersion)};
    list[1].result = 0;
    const long rc = multicall_iret_asm(list, 2);
    expect_eq("multicall [iret, xen_version] returns the iret frame's RAX", rc, 0xdead);
    expect_eq("  xen_version after the iret not run", static_cast<long>(list[1].result), 0);
    print("  iret entry's own result field: 0x%lx\n", list[0].result);
}

}  // namespace

void test_main() {
    if (!setup_traps()) return;
    xen_version_number = hypercall(xen::kXenVersion, xen::kXenVersionVersion);
    results_are_written();
    nesting_is_refused();
    bad_lists();
    iret_ends_the_list();
}

}  // namespace guest
