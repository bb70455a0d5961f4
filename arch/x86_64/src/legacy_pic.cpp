// SPDX-License-Identifier: MIT
// The legacy 8259 PICs: moved off the exception vectors and masked. The firmware leaves them at
// vectors 8-15, where the PIT's IRQ 0 would look like a #DF as soon as interrupts are enabled
// (guests always run with IF=1). [8259A datasheet; SDM 3A §6.15]
#include "arch/cpu.hpp"
#include "arch/legacy_pic.hpp"

namespace hv::arch {
namespace {
constexpr u16 kMasterCommand = 0x20, kMasterData = 0x21, kSlaveCommand = 0xa0, kSlaveData = 0xa1;
constexpr u8 kVectorBase = 0x20;  // IRQ 0-15 -> vectors 0x20-0x2f, should one ever fire
}  // namespace

void disable_legacy_pic() {
    outb(kMasterCommand, 0x11);  // ICW1: initialise, ICW4 follows
    outb(kSlaveCommand, 0x11);
    outb(kMasterData, kVectorBase);  // ICW2: vector base
    outb(kSlaveData, kVectorBase + 8);
    outb(kMasterData, 0x04);  // ICW3: slave on IRQ 2
    outb(kSlaveData, 0x02);
    outb(kMasterData, 0x01);  // ICW4: 8086 mode
    outb(kSlaveData, 0x01);
    outb(kMasterData, 0xff);  // mask every IRQ
    outb(kSlaveData, 0xff);
}

}  // namespace hv::arch
