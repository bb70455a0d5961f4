// SPDX-License-Identifier: MIT
// The Xen 64-bit PV guest ABI: public numbers and structure layouts, written from the public
// interface description (docs: ../shared/docs/pv-abi.md; Xen's xen/include/public/). Shared by
// the hypervisor and the guest runtime, so both sides agree by construction and the static_asserts
// pin every offset the ABI fixes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xen {

// Hypercall numbers. [Xen ABI xen/include/public/xen.h]
enum Hypercall : std::uint32_t {
    kSetTrapTable = 0,
    kMmuUpdate = 1,
    kSetGdt = 2,
    kStackSwitch = 3,
    kSetCallbacks = 4,
    kFpuTaskswitch = 5,
    kSetDebugreg = 8,
    kGetDebugreg = 9,
    kUpdateDescriptor = 10,
    kMemoryOp = 12,
    kMulticall = 13,
    kUpdateVaMapping = 14,
    kSetTimerOp = 15,
    kXenVersion = 17,
    kConsoleIo = 18,
    kGrantTableOp = 20,
    kVmAssist = 21,
    kIret = 23,
    kVcpuOp = 24,
    kSetSegmentBase = 25,
    kMmuextOp = 26,
    kSchedOp = 29,
    kCallbackOp = 30,
    kEventChannelOp = 32,
    kPhysdevOp = 33,
};
inline constexpr unsigned kHypercallCount = 128;
inline constexpr unsigned kHypercallStubSize = 32;

// Errno values; hypercalls return their negation. [Xen ABI xen/include/public/errno.h]
enum Errno : long {
    kEPERM = 1, kENOENT = 2, kESRCH = 3, kEINTR = 4, kEIO = 5, kE2BIG = 7, kEAGAIN = 11, kENOMEM = 12,
    kEACCES = 13, kEFAULT = 14, kEBUSY = 16, kEEXIST = 17, kENODEV = 19, kEINVAL = 22, kENOSPC = 28,
    kEDOM = 33, kERANGE = 34, kENOSYS = 38, kEILSEQ = 84, kEOPNOTSUPP = 95,
};

// console_io commands.
inline constexpr unsigned kConsoleIoWrite = 0;
inline constexpr unsigned kConsoleIoRead = 1;

// sched_op commands and shutdown reasons.
inline constexpr unsigned kSchedOpYield = 0;
inline constexpr unsigned kSchedOpBlock = 1;
inline constexpr unsigned kSchedOpShutdown = 2;
inline constexpr unsigned kSchedOpPoll = 3;
enum ShutdownReason : std::uint32_t {
    kShutdownPoweroff = 0,
    kShutdownReboot = 1,
    kShutdownSuspend = 2,
    kShutdownCrash = 3,
    kShutdownWatchdog = 4,
};
struct SchedShutdown {
    std::uint32_t reason;
};

// xen_version commands.
inline constexpr unsigned kXenVersionVersion = 0;
inline constexpr unsigned kXenVersionExtraversion = 1;

// Flat selectors in Xen's reserved GDT page (page 14). [Xen ABI arch-x86/xen-x86_64.h]
inline constexpr std::uint16_t kFlatRing3Cs64 = 0xe033;
inline constexpr std::uint16_t kFlatRing3Cs32 = 0xe023;
inline constexpr std::uint16_t kFlatRing3Ss64 = 0xe02b;
inline constexpr std::uint16_t kFlatKernelCs = kFlatRing3Cs64;
inline constexpr std::uint16_t kFlatKernelSs = kFlatRing3Ss64;
inline constexpr unsigned kFirstReservedGdtPage = 14;
inline constexpr unsigned kFirstReservedGdtEntry = kFirstReservedGdtPage * 512;

// Hypervisor virtual range a 64-bit PV guest may not touch, and the read-only M2P in it.
inline constexpr std::uint64_t kHypervisorVirtStart = 0xffff800000000000;
inline constexpr std::uint64_t kHypervisorVirtEnd = 0xffff880000000000;
inline constexpr std::uint64_t kMachToPhysVirtStart = 0xffff800000000000;

// start_info flags.
inline constexpr std::uint32_t kSifPrivileged = 1u << 0;
inline constexpr std::uint32_t kSifInitDomain = 1u << 1;

// struct start_info for x86-64 (0x490 bytes). RSI points at it on entry.
struct StartInfo {
    char magic[32];                // "xen-3.0-x86_64"
    std::uint64_t nr_pages;
    std::uint64_t shared_info;     // machine address of the shared-info frame
    std::uint32_t flags;
    std::uint32_t pad0;
    std::uint64_t store_mfn;
    std::uint32_t store_evtchn;
    std::uint32_t pad1;
    union {
        struct {
            std::uint64_t mfn;
            std::uint32_t evtchn;
        } domu;
        struct {
            std::uint32_t info_off;
            std::uint32_t info_size;
        } dom0;
    } console;
    std::uint64_t pt_base;         // VA of the bootstrap L4
    std::uint64_t nr_pt_frames;
    std::uint64_t mfn_list;        // VA of the p2m array
    std::uint64_t mod_start;
    std::uint64_t mod_len;
    char cmd_line[1024];
    std::uint64_t first_p2m_pfn;
    std::uint64_t nr_p2m_frames;
};
static_assert(offsetof(StartInfo, nr_pages) == 0x20 && offsetof(StartInfo, flags) == 0x30);
static_assert(offsetof(StartInfo, console) == 0x48 && offsetof(StartInfo, pt_base) == 0x58);
static_assert(offsetof(StartInfo, mfn_list) == 0x68 && offsetof(StartInfo, cmd_line) == 0x80);
static_assert(offsetof(StartInfo, first_p2m_pfn) == 0x480 && sizeof(StartInfo) == 0x490);

struct VcpuTimeInfo {
    std::uint32_t version, pad0;
    std::uint64_t tsc_timestamp, system_time;
    std::uint32_t tsc_to_system_mul;
    std::int8_t tsc_shift;
    std::uint8_t flags;
    std::uint8_t pad1[2];
};
static_assert(sizeof(VcpuTimeInfo) == 32);

struct VcpuInfo {
    std::uint8_t evtchn_upcall_pending;
    std::uint8_t evtchn_upcall_mask;  // the virtual interrupt flag: 1 = events masked
    std::uint8_t pad[6];
    std::uint64_t evtchn_pending_sel;
    std::uint64_t cr2;
    std::uint64_t arch_pad;
    VcpuTimeInfo time;
};
static_assert(sizeof(VcpuInfo) == 64);

struct SharedInfo {
    VcpuInfo vcpu_info[32];
    std::uint64_t evtchn_pending[64];
    std::uint64_t evtchn_mask[64];
    std::uint32_t wc_version, wc_sec, wc_nsec, wc_sec_hi;
    std::uint64_t max_pfn, pfn_to_mfn_frame_list_list, nmi_reason, p2m_cr3, p2m_vaddr, p2m_generation;
};
static_assert(offsetof(SharedInfo, evtchn_pending) == 0x800 && offsetof(SharedInfo, wc_version) == 0xc00);
static_assert(sizeof(SharedInfo) == 0xc40);

// ELF note types (owner "Xen"). [Xen ABI xen/include/public/elfnote.h]
enum ElfNote : std::uint32_t {
    kNoteInfo = 0,
    kNoteEntry = 1,
    kNoteHypercallPage = 2,
    kNoteVirtBase = 3,
    kNotePaddrOffset = 4,
    kNoteXenVersion = 5,
    kNoteGuestOs = 6,
    kNoteGuestVersion = 7,
    kNoteLoader = 8,
    kNotePaeMode = 9,
    kNoteFeatures = 10,
    kNoteBsdSymtab = 11,
    kNoteHvStartLow = 12,
    kNoteL1MfnValid = 13,
    kNoteSuspendCancel = 14,
    kNoteInitP2m = 15,
    kNoteModStartPfn = 16,
    kNoteSupportedFeatures = 17,
    kNotePhys32Entry = 18,
};

// set_trap_table entries: the list ends at an entry whose address is 0. [pv-abi.md §3.3]
struct TrapInfo {
    std::uint8_t vector;
    std::uint8_t flags;  // bits 0-1 DPL, bit 2 mask events
    std::uint16_t cs;
    std::uint32_t pad;
    std::uint64_t address;
};
static_assert(sizeof(TrapInfo) == 16 && offsetof(TrapInfo, address) == 8);
inline constexpr std::uint8_t kTrapDplMask = 0x3;
inline constexpr std::uint8_t kTrapMaskEvents = 0x4;

// callback_op. [pv-abi.md §3.4]
inline constexpr unsigned kCallbackOpRegister = 0;
inline constexpr unsigned kCallbackOpUnregister = 1;
inline constexpr unsigned kCallbackTypeEvent = 0;
inline constexpr unsigned kCallbackTypeFailsafe = 1;
inline constexpr unsigned kCallbackTypeSyscall = 2;
inline constexpr unsigned kCallbackTypeSysenterDeprecated = 3;
inline constexpr unsigned kCallbackTypeNmi = 4;
inline constexpr unsigned kCallbackTypeSysenter = 5;
inline constexpr unsigned kCallbackTypeSyscall32 = 7;
inline constexpr std::uint16_t kCallbackFlagMaskEvents = 0x1;
struct CallbackRegister {
    std::uint16_t type;
    std::uint16_t flags;
    std::uint32_t pad;
    std::uint64_t address;
};
static_assert(sizeof(CallbackRegister) == 16);
struct CallbackUnregister {
    std::uint16_t type;
    std::uint16_t pad;
};

// The iret hypercall's frame at the guest RSP. [pv-abi.md §4.6]
struct IretContext {
    std::uint64_t rax, r11, rcx, flags, rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(IretContext) == 72);
inline constexpr std::uint64_t kVgcfInSyscall = 0x100;


// Vectors whose bounce frame carries an error code (Xen's list). [pv-abi.md §4.2]
inline constexpr std::uint32_t kErrorCodeVectors =
    (1u << 8) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 14) | (1u << 17) | (1u << 21) |
    (1u << 29) | (1u << 30);
// The bounce frame's CS quadword holds the saved evtchn_upcall_mask in bits 32-39.
inline constexpr unsigned kBounceCsMaskShift = 32;

// Domain ids with special meaning. [Xen ABI xen/include/public/xen.h]
inline constexpr std::uint16_t kDomidSelf = 0x7ff0;
inline constexpr std::uint16_t kDomidIo = 0x7ff1;
inline constexpr std::uint16_t kDomidXen = 0x7ff2;

// mmu_update: the low 2 bits of `ptr` select the command. [pv-abi.md §3.9]
struct MmuUpdate {
    std::uint64_t ptr;
    std::uint64_t val;
};
static_assert(sizeof(MmuUpdate) == 16);
inline constexpr unsigned kMmuNormalPtUpdate = 0;
inline constexpr unsigned kMmuMachphysUpdate = 1;
inline constexpr unsigned kMmuPtUpdatePreserveAd = 2;
inline constexpr unsigned kMmuPtUpdateNoTranslate = 3;

// mmuext_op. [pv-abi.md §3.8]
struct MmuextOp {
    std::uint32_t cmd;
    std::uint32_t pad;
    std::uint64_t arg1;  // mfn or linear_addr
    std::uint64_t arg2;  // nr_ents, vcpumask pointer or src_mfn
};
static_assert(sizeof(MmuextOp) == 24 && offsetof(MmuextOp, arg1) == 8 && offsetof(MmuextOp, arg2) == 16);
enum MmuextCmd : std::uint32_t {
    kMmuextPinL1Table = 0,
    kMmuextPinL2Table = 1,
    kMmuextPinL3Table = 2,
    kMmuextPinL4Table = 3,
    kMmuextUnpinTable = 4,
    kMmuextNewBaseptr = 5,
    kMmuextTlbFlushLocal = 6,
    kMmuextInvlpgLocal = 7,
    kMmuextTlbFlushMulti = 8,
    kMmuextInvlpgMulti = 9,
    kMmuextTlbFlushAll = 10,
    kMmuextInvlpgAll = 11,
    kMmuextFlushCache = 12,
    kMmuextSetLdt = 13,
    kMmuextNewUserBaseptr = 15,
    kMmuextClearPage = 16,
    kMmuextCopyPage = 17,
    kMmuextFlushCacheGlobal = 18,
    kMmuextMarkSuper = 19,
    kMmuextUnmarkSuper = 20,
};

// update_va_mapping flags: bits 0-1 flush type, bits 2+ vCPU selection. [pv-abi.md §3.10]
inline constexpr std::uint64_t kUvmfNone = 0;
inline constexpr std::uint64_t kUvmfTlbFlush = 1;
inline constexpr std::uint64_t kUvmfInvlpg = 2;
inline constexpr std::uint64_t kUvmfFlushTypeMask = 3;
inline constexpr std::uint64_t kUvmfLocal = 0;
inline constexpr std::uint64_t kUvmfAll = 4;

}  // namespace xen
