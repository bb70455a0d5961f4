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
    kEDOM = 33, kERANGE = 34, kENOSYS = 38, kETIME = 62, kEILSEQ = 84, kEOPNOTSUPP = 95,
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
// Bit 31 of mmu_update's and mmuext_op's count: set by a continuation (`done` already counts the
// earlier rounds). [xen/include/public/xen.h MMU_UPDATE_PREEMPTED]
inline constexpr std::uint32_t kMmuUpdatePreempted = 0x80000000u;

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

// sched_op SCHEDOP_poll argument. [pv-abi.md §3.2]
struct SchedPoll {
    std::uint64_t ports;  // guest pointer to uint32_t[nr_ports]
    std::uint32_t nr_ports;
    std::uint32_t pad;
    std::uint64_t timeout;  // absolute system time in ns; 0 = none
};
static_assert(sizeof(SchedPoll) == 0x18 && offsetof(SchedPoll, timeout) == 0x10);
inline constexpr unsigned kSchedPollMaxPorts = 128;

// event_channel_op (32): commands and argument layouts, 2-level ABI.
// [Xen ABI xen/include/public/event_channel.h, pv-abi.md §3.13, §4.8]
enum EvtchnOp : std::uint32_t {
    kEvtchnOpBindInterdomain = 0,
    kEvtchnOpBindVirq = 1,
    kEvtchnOpBindPirq = 2,
    kEvtchnOpClose = 3,
    kEvtchnOpSend = 4,
    kEvtchnOpStatus = 5,
    kEvtchnOpAllocUnbound = 6,
    kEvtchnOpBindIpi = 7,
    kEvtchnOpBindVcpu = 8,
    kEvtchnOpUnmask = 9,
    kEvtchnOpReset = 10,
    kEvtchnOpInitControl = 11,
    kEvtchnOpExpandArray = 12,
    kEvtchnOpSetPriority = 13,
    kEvtchnOpResetCont = 14,
};
inline constexpr unsigned kEvtchn2lPorts = 64 * 64;  // bits of shared_info.evtchn_pending
enum EvtchnStatusValue : std::uint32_t {
    kEvtchnStatClosed = 0,
    kEvtchnStatUnbound = 1,
    kEvtchnStatInterdomain = 2,
    kEvtchnStatPirq = 3,
    kEvtchnStatVirq = 4,
    kEvtchnStatIpi = 5,
};
// VIRQs: 0-15 generic, 16-23 arch. Per-vCPU ones: TIMER, DEBUG, XENOPROF, XENPMU.
inline constexpr unsigned kNrVirqs = 24;
inline constexpr unsigned kVirqTimer = 0;
inline constexpr unsigned kVirqDebug = 1;
inline constexpr unsigned kVirqConsole = 2;
inline constexpr unsigned kVirqXenoprof = 7;
inline constexpr unsigned kVirqXenpmu = 13;

struct EvtchnAllocUnbound {
    std::uint16_t dom, remote_dom;
    std::uint32_t port;  // out
};
static_assert(sizeof(EvtchnAllocUnbound) == 8);
struct EvtchnBindInterdomain {
    std::uint16_t remote_dom;
    std::uint16_t pad;
    std::uint32_t remote_port;
    std::uint32_t local_port;  // out
};
static_assert(sizeof(EvtchnBindInterdomain) == 12 && offsetof(EvtchnBindInterdomain, local_port) == 8);
struct EvtchnBindVirq {
    std::uint32_t virq, vcpu;
    std::uint32_t port;  // out
};
static_assert(sizeof(EvtchnBindVirq) == 12);
struct EvtchnBindPirq {
    std::uint32_t pirq, flags;
    std::uint32_t port;  // out
};
struct EvtchnBindIpi {
    std::uint32_t vcpu;
    std::uint32_t port;  // out
};
// close, send and unmask take just a port.
struct EvtchnPortArg {
    std::uint32_t port;
};
struct EvtchnStatus {
    std::uint16_t dom;
    std::uint16_t pad;
    std::uint32_t port;
    std::uint32_t status;  // out: EvtchnStatusValue
    std::uint32_t vcpu;    // out: the vCPU notified
    union {
        struct {
            std::uint16_t dom;
        } unbound;
        struct {
            std::uint16_t dom;
            std::uint16_t pad;
            std::uint32_t port;
        } interdomain;
        std::uint32_t pirq;
        std::uint32_t virq;
    } u;
};
static_assert(sizeof(EvtchnStatus) == 24 && offsetof(EvtchnStatus, u) == 0x10);
struct EvtchnBindVcpu {
    std::uint32_t port, vcpu;
};
struct EvtchnReset {
    std::uint16_t dom;
};
struct EvtchnInitControl {
    std::uint64_t control_gfn;
    std::uint32_t offset, vcpu;
    std::uint8_t link_bits;  // out
    std::uint8_t pad[7];
};
static_assert(sizeof(EvtchnInitControl) == 24 && offsetof(EvtchnInitControl, link_bits) == 0x10);
inline constexpr unsigned kEvtchnFifoControlBlockSize = 0x48;
struct EvtchnExpandArray {
    std::uint64_t array_gfn;
};
struct EvtchnSetPriority {
    std::uint32_t port, priority;
};

// multicall (13): RDI = entry array, RSI = entry count (32 bits). [pv-abi.md §3.20]
struct MulticallEntry {
    std::uint64_t op;
    std::uint64_t result;
    std::uint64_t args[6];
};
static_assert(sizeof(MulticallEntry) == 64 && offsetof(MulticallEntry, args) == 0x10);

// vm_assist (21). [pv-abi.md §3.17, Xen ABI xen/include/public/xen.h]
inline constexpr unsigned kVmAsstCmdEnable = 0;
inline constexpr unsigned kVmAsstCmdDisable = 1;
inline constexpr unsigned kVmAsstType4gbSegments = 0;
inline constexpr unsigned kVmAsstType4gbSegmentsNotify = 1;
inline constexpr unsigned kVmAsstTypeWritablePagetables = 2;
inline constexpr unsigned kVmAsstTypePaeExtendedCr3 = 3;
inline constexpr unsigned kVmAsstTypeArchitecturalIopl = 4;
inline constexpr unsigned kVmAsstTypeRunstateUpdateFlag = 5;
inline constexpr unsigned kVmAsstTypeM2pStrict = 32;

// physdev_op (33). [pv-abi.md §3.16, Xen ABI xen/include/public/physdev.h]
inline constexpr unsigned kPhysdevOpSetIopl = 6;
inline constexpr unsigned kPhysdevOpSetIobitmap = 7;
struct PhysdevSetIopl {
    std::uint32_t iopl;
};

// set_segment_base (25). [pv-abi.md §3.22]
inline constexpr unsigned kSegbaseFs = 0;
inline constexpr unsigned kSegbaseGsUser = 1;
inline constexpr unsigned kSegbaseGsKernel = 2;
inline constexpr unsigned kSegbaseGsUserSel = 3;

// Default debug-register values. [pv-abi.md §7]
inline constexpr std::uint64_t kDr6Default = 0xffff0ff0;
inline constexpr std::uint64_t kDr7Default = 0x400;

// memory_op (12): RDI = cmd (subop in bits 0-5, continuation extent above), RSI = argument.
// [pv-abi.md §3.11, Xen ABI xen/include/public/memory.h]
enum MemoryOp : std::uint32_t {
    kXenmemIncreaseReservation = 0,
    kXenmemDecreaseReservation = 1,
    kXenmemMaximumRamPage = 2,
    kXenmemCurrentReservation = 3,
    kXenmemMaximumReservation = 4,
    kXenmemMachphysMfnList = 5,
    kXenmemPopulatePhysmap = 6,
    kXenmemAddToPhysmap = 7,
    kXenmemMemoryMap = 9,
    kXenmemMachineMemoryMap = 10,
    kXenmemExchange = 11,
    kXenmemMachphysMapping = 12,
    kXenmemMaximumGpfn = 14,
};
inline constexpr std::uint64_t kMemopCmdMask = 0x3f;
inline constexpr unsigned kMemopExtentShift = 6;
// mem_flags: bits 0-7 address width, bits 8-15 NUMA node + 1, then these.
inline constexpr std::uint32_t kXenmemfPopulateOnDemand = 1u << 16;
inline constexpr std::uint32_t kXenmemfExactNodeRequest = 1u << 17;
inline constexpr std::uint32_t kXenmemfVnode = 1u << 18;
struct MemoryReservation {
    std::uint64_t extent_start;  // guest pointer to xen_pfn_t[]
    std::uint64_t nr_extents;
    std::uint32_t extent_order;
    std::uint32_t mem_flags;
    std::uint16_t domid;
};
static_assert(sizeof(MemoryReservation) == 0x20 && offsetof(MemoryReservation, domid) == 0x18);
struct MemoryExchange {
    MemoryReservation in;
    MemoryReservation out;
    std::uint64_t nr_exchanged;
};
static_assert(sizeof(MemoryExchange) == 0x48 && offsetof(MemoryExchange, nr_exchanged) == 0x40);
inline constexpr std::uint32_t kXenmapspaceGmfnForeign = 4;
struct AddToPhysmap {
    std::uint16_t domid;
    std::uint16_t size;
    std::uint32_t space;
    std::uint64_t idx;
    std::uint64_t gpfn;
};
static_assert(sizeof(AddToPhysmap) == 0x18);
struct MemoryMap {
    std::uint32_t nr_entries;
    std::uint32_t pad;
    std::uint64_t buffer;  // guest pointer to e820 entries
};
static_assert(sizeof(MemoryMap) == 0x10);
struct MachphysMapping {
    std::uint64_t v_start, v_end, max_mfn;
};
static_assert(sizeof(MachphysMapping) == 0x18);
inline constexpr std::uint64_t kMachToPhysVirtEnd = 0xffff804000000000;

// xen_version (17): the remaining commands. [pv-abi.md §3.12, Xen ABI xen/include/public/version.h]
inline constexpr unsigned kXenVersionCompileInfo = 2;
inline constexpr unsigned kXenVersionCapabilities = 3;
inline constexpr unsigned kXenVersionChangeset = 4;
inline constexpr unsigned kXenVersionPlatformParameters = 5;
inline constexpr unsigned kXenVersionGetFeatures = 6;
inline constexpr unsigned kXenVersionPagesize = 7;
inline constexpr unsigned kXenVersionGuestHandle = 8;
inline constexpr unsigned kXenVersionCommandline = 9;
inline constexpr unsigned kXenVersionBuildId = 10;
struct XenCompileInfo {
    char compiler[64];
    char compile_by[16];
    char compile_domain[32];
    char compile_date[32];
};
static_assert(sizeof(XenCompileInfo) == 144);
inline constexpr unsigned kXenCapabilitiesSize = 1024;
inline constexpr unsigned kXenChangesetSize = 64;
inline constexpr unsigned kXenCommandlineSize = 1024;
inline constexpr unsigned kXenGuestHandleSize = 16;
struct XenFeatureInfo {
    std::uint32_t submap_idx;
    std::uint32_t submap;
};
// XENFEAT_* bit numbers in submap 0. [Xen ABI xen/include/public/features.h]
inline constexpr unsigned kXenFeatWritablePageTables = 0;
inline constexpr unsigned kXenFeatAutoTranslatedPhysmap = 2;
inline constexpr unsigned kXenFeatPaePgdirAbove4gb = 4;
inline constexpr unsigned kXenFeatMmuPtUpdatePreserveAd = 5;
inline constexpr unsigned kXenFeatHighmemAssist = 6;
inline constexpr unsigned kXenFeatGnttabMapAvailBits = 7;
inline constexpr unsigned kXenFeatDom0 = 11;
inline constexpr unsigned kXenFeatMemoryOpVnodeSupported = 13;
inline constexpr unsigned kXenFeatDirectMapped = 17;  // gfn == mfn: every PV guest

// ---- grant_table_op (20): RDI = cmd, RSI = array of per-op structures, RDX = count; each op's
// result is its `status` (GNTST_*). [pv-abi.md §3.14, Xen ABI xen/include/public/grant_table.h]
enum GnttabOp : std::uint32_t {
    kGnttabOpMapGrantRef = 0,
    kGnttabOpUnmapGrantRef = 1,
    kGnttabOpSetupTable = 2,
    kGnttabOpDumpTable = 3,
    kGnttabOpTransfer = 4,
    kGnttabOpCopy = 5,
    kGnttabOpQuerySize = 6,
    kGnttabOpUnmapAndReplace = 7,
    kGnttabOpSetVersion = 8,
    kGnttabOpGetStatusFrames = 9,
    kGnttabOpGetVersion = 10,
    kGnttabOpSwapGrantRef = 11,
    kGnttabOpCacheFlush = 12,
};
// Bits 12 and up of cmd carry a continuation argument (cache_flush only; elsewhere -EINVAL).
inline constexpr std::uint32_t kGnttabOpCmdMask = 0xfff;
enum GnttabStatus : std::int16_t {
    kGntstOkay = 0,
    kGntstGeneralError = -1,
    kGntstBadDomain = -2,
    kGntstBadGntref = -3,
    kGntstBadHandle = -4,
    kGntstBadVirtAddr = -5,
    kGntstBadDevAddr = -6,
    kGntstNoDeviceSpace = -7,
    kGntstPermissionDenied = -8,
    kGntstBadPage = -9,
    kGntstBadCopyArg = -10,
    kGntstAddressTooBig = -11,
    kGntstEagain = -12,
    kGntstNoSpace = -13,
};
// Grant entry flags (GTF_*): type in bits 0-1, then modifiers; reading/writing are set by the
// hypervisor while the entry is mapped (v2: in the status frames instead).
inline constexpr std::uint16_t kGtfInvalid = 0;
inline constexpr std::uint16_t kGtfPermitAccess = 1;
inline constexpr std::uint16_t kGtfAcceptTransfer = 2;
inline constexpr std::uint16_t kGtfTransitive = 3;
inline constexpr std::uint16_t kGtfTypeMask = 3;
inline constexpr std::uint16_t kGtfReadonly = 1u << 2;
inline constexpr std::uint16_t kGtfReading = 1u << 3;
inline constexpr std::uint16_t kGtfWriting = 1u << 4;
inline constexpr std::uint16_t kGtfPwt = 1u << 5;
inline constexpr std::uint16_t kGtfPcd = 1u << 6;
inline constexpr std::uint16_t kGtfPat = 1u << 7;
inline constexpr std::uint16_t kGtfSubPage = 1u << 8;
// Entries 0-7 belong to the toolstack; they survive a version switch.
inline constexpr unsigned kGnttabReservedEntries = 8;

struct GrantEntryV1 {
    std::uint16_t flags;
    std::uint16_t domid;  // the domain allowed to map the frame
    std::uint32_t frame;  // a PV granter's mfn
};
static_assert(sizeof(GrantEntryV1) == 8 && offsetof(GrantEntryV1, frame) == 4);
struct GrantEntryHeader {
    std::uint16_t flags;
    std::uint16_t domid;
};
union GrantEntryV2 {
    GrantEntryHeader hdr;
    struct {
        GrantEntryHeader hdr;
        std::uint32_t pad0;
        std::uint64_t frame;
    } full_page;
    struct {
        GrantEntryHeader hdr;
        std::uint16_t page_off;
        std::uint16_t length;
        std::uint64_t frame;
    } sub_page;
    struct {
        GrantEntryHeader hdr;
        std::uint16_t trans_domid;
        std::uint16_t pad0;
        std::uint32_t gref;
    } transitive;
    std::uint32_t spacer[4];
};
static_assert(sizeof(GrantEntryV2) == 16 && offsetof(GrantEntryV2, full_page.frame) == 8);
using GrantStatus = std::uint16_t;  // v2 status frames: GTF_reading/GTF_writing per entry

// map_grant_ref flags (GNTMAP_*); bits 16+ are copied into the PTE's available bits.
inline constexpr std::uint32_t kGnttabMapDeviceMap = 1u << 0;
inline constexpr std::uint32_t kGnttabMapHostMap = 1u << 1;
inline constexpr std::uint32_t kGnttabMapReadonly = 1u << 2;
inline constexpr std::uint32_t kGnttabMapApplicationMap = 1u << 3;
inline constexpr std::uint32_t kGnttabMapContainsPte = 1u << 4;
inline constexpr unsigned kGnttabMapGuestAvailShift = 16;

struct GnttabMapGrantRef {
    std::uint64_t host_addr;
    std::uint32_t flags;
    std::uint32_t ref;
    std::uint16_t dom;
    std::int16_t status;  // out
    std::uint32_t handle;  // out
    std::uint64_t dev_bus_addr;  // in/out
};
static_assert(sizeof(GnttabMapGrantRef) == 32 && offsetof(GnttabMapGrantRef, status) == 0x12 &&
              offsetof(GnttabMapGrantRef, dev_bus_addr) == 0x18);
struct GnttabUnmapGrantRef {
    std::uint64_t host_addr;
    std::uint64_t dev_bus_addr;
    std::uint32_t handle;
    std::int16_t status;  // out
};
static_assert(sizeof(GnttabUnmapGrantRef) == 24 && offsetof(GnttabUnmapGrantRef, status) == 0x14);
struct GnttabSetupTable {
    std::uint16_t dom;
    std::uint32_t nr_frames;
    std::int16_t status;       // out
    std::uint64_t frame_list;  // guest pointer to uint64_t[nr_frames] (out)
};
static_assert(sizeof(GnttabSetupTable) == 24 && offsetof(GnttabSetupTable, status) == 8 &&
              offsetof(GnttabSetupTable, frame_list) == 0x10);
struct GnttabQuerySize {
    std::uint16_t dom;
    std::uint32_t nr_frames;      // out
    std::uint32_t max_nr_frames;  // out
    std::int16_t status;          // out
};
static_assert(sizeof(GnttabQuerySize) == 16 && offsetof(GnttabQuerySize, status) == 12);
struct GnttabUnmapAndReplace {
    std::uint64_t host_addr;
    std::uint64_t new_addr;
    std::uint32_t handle;
    std::int16_t status;  // out
};
static_assert(sizeof(GnttabUnmapAndReplace) == 24 && offsetof(GnttabUnmapAndReplace, status) == 0x14);
struct GnttabSetVersion {
    std::uint32_t version;  // in/out
};
struct GnttabGetStatusFrames {
    std::uint32_t nr_frames;
    std::uint16_t dom;
    std::int16_t status;       // out
    std::uint64_t frame_list;  // guest pointer to uint64_t[nr_frames] (out)
};
static_assert(sizeof(GnttabGetStatusFrames) == 16 && offsetof(GnttabGetStatusFrames, status) == 6);
struct GnttabGetVersion {
    std::uint16_t dom;
    std::uint16_t pad;
    std::uint32_t version;  // out
};
static_assert(sizeof(GnttabGetVersion) == 8);
struct GnttabSwapGrantRef {
    std::uint32_t ref_a;
    std::uint32_t ref_b;
    std::int16_t status;  // out
};
static_assert(sizeof(GnttabSwapGrantRef) == 12);
struct GnttabTransfer {
    std::uint64_t mfn;
    std::uint16_t domid;
    std::int16_t status;  // out
};
static_assert(sizeof(GnttabTransfer) == 16);
struct GnttabCopyPtr {
    union {
        std::uint32_t ref;
        std::uint64_t gmfn;
    } u;
    std::uint16_t domid;
    std::uint16_t offset;
};
struct GnttabCopy {
    GnttabCopyPtr source;
    GnttabCopyPtr dest;
    std::uint16_t len;
    std::uint16_t flags;  // GNTCOPY_source_gref 1, GNTCOPY_dest_gref 2
    std::int16_t status;  // out
};
static_assert(sizeof(GnttabCopy) == 40 && offsetof(GnttabCopy, status) == 0x24);
struct GnttabCacheFlush {
    std::uint64_t dev_bus_addr;  // union with a grant ref (GNTTAB_CACHE_SOURCE_GREF)
    std::uint16_t offset;
    std::uint16_t length;
    std::uint32_t op;  // GNTTAB_CACHE_*
};
static_assert(sizeof(GnttabCacheFlush) == 16);
inline constexpr std::uint32_t kGnttabCacheInval = 1u << 0;
inline constexpr std::uint32_t kGnttabCacheClean = 1u << 1;
inline constexpr std::uint32_t kGnttabCacheSourceGref = 1u << 31;

// vcpu_op (24) commands and arguments. [pv-abi.md §3.15; Xen ABI xen/include/public/vcpu.h]
inline constexpr unsigned kVcpuOpInitialise = 0;
inline constexpr unsigned kVcpuOpUp = 1;
inline constexpr unsigned kVcpuOpDown = 2;
inline constexpr unsigned kVcpuOpIsUp = 3;
inline constexpr unsigned kVcpuOpSetPeriodicTimer = 6;
inline constexpr unsigned kVcpuOpStopPeriodicTimer = 7;
inline constexpr unsigned kVcpuOpSetSingleshotTimer = 8;
inline constexpr unsigned kVcpuOpStopSingleshotTimer = 9;
inline constexpr std::uint32_t kVcpuSshotTmrFuture = 1;  // -ETIME if the deadline has passed

struct VcpuSetPeriodicTimer {
    std::uint64_t period_ns;
};
struct VcpuSetSingleshotTimer {
    std::uint64_t timeout_abs_ns;  // Xen system time
    std::uint32_t flags;
    std::uint32_t pad;
};
static_assert(sizeof(VcpuSetSingleshotTimer) == 16);

// struct cpu_user_regs (64-bit): the guest registers inside vcpu_guest_context.
struct CpuUserRegs {
    std::uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi;
    std::uint32_t error_code, entry_vector;
    std::uint64_t rip;
    std::uint16_t cs, pad0[1];
    std::uint8_t saved_upcall_mask, pad1[3];
    std::uint64_t rflags, rsp;
    std::uint16_t ss, pad2[3];
    std::uint16_t es, pad3[3];
    std::uint16_t ds, pad4[3];
    std::uint16_t fs, pad5[3];
    std::uint16_t gs, pad6[3];
};
static_assert(sizeof(CpuUserRegs) == 200 && offsetof(CpuUserRegs, rip) == 0x80 && offsetof(CpuUserRegs, ss) == 0xa0);

inline constexpr std::uint64_t kVgcfI387Valid = 1u << 0;
inline constexpr std::uint64_t kVgcfInKernel = 1u << 2;
inline constexpr std::uint64_t kVgcfFailsafeDisablesEvents = 1u << 3;
inline constexpr std::uint64_t kVgcfSyscallDisablesEvents = 1u << 4;

struct VcpuGuestContext {
    std::uint8_t fpu_ctxt[512];
    std::uint64_t flags;
    CpuUserRegs user_regs;
    TrapInfo trap_ctxt[256];
    std::uint64_t ldt_base, ldt_ents;
    std::uint64_t gdt_frames[16];
    std::uint64_t gdt_ents;
    std::uint64_t kernel_ss, kernel_sp;
    std::uint64_t ctrlreg[8];
    std::uint64_t debugreg[8];
    std::uint64_t event_callback_eip, failsafe_callback_eip, syscall_callback_eip;
    std::uint64_t vm_assist;
    std::uint64_t fs_base, gs_base_kernel, gs_base_user;
};
static_assert(offsetof(VcpuGuestContext, user_regs) == 0x208 && offsetof(VcpuGuestContext, trap_ctxt) == 0x2d0);
static_assert(offsetof(VcpuGuestContext, ldt_base) == 0x12d0 && offsetof(VcpuGuestContext, gdt_ents) == 0x1360);
static_assert(offsetof(VcpuGuestContext, ctrlreg) == 0x1378 && offsetof(VcpuGuestContext, event_callback_eip) == 0x13f8);
static_assert(offsetof(VcpuGuestContext, fs_base) == 0x1418 && sizeof(VcpuGuestContext) == 0x1430);

}  // namespace xen
