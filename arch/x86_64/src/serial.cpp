// SPDX-License-Identifier: MIT
// 16550 UART on COM1: the hypervisor console. [PC16550D datasheet]
#include "arch/serial.hpp"

#include "arch/cpu.hpp"

namespace hv::arch {
namespace {

constexpr u16 kCom1 = 0x3f8;
constexpr u16 kData = 0, kInterruptEnable = 1, kFifoControl = 2, kLineControl = 3, kModemControl = 4,
              kLineStatus = 5;
constexpr u8 kLineStatusTransmitEmpty = 0x20;

}  // namespace

void serial_init() {
    outb(kCom1 + kInterruptEnable, 0x00);  // polled: no UART interrupts
    outb(kCom1 + kLineControl, 0x80);      // DLAB on to set the divisor
    outb(kCom1 + kData, 0x01);             // 115200 baud
    outb(kCom1 + kInterruptEnable, 0x00);
    outb(kCom1 + kLineControl, 0x03);  // 8N1, DLAB off
    outb(kCom1 + kFifoControl, 0xc7);  // FIFO on, cleared
    outb(kCom1 + kModemControl, 0x03);  // DTR, RTS
}

void serial_putc(char c) {
    // Bounded wait: a wedged UART must not hang the hypervisor (QEMU's is always ready).
    for (int spin = 0; spin < 100000 && (inb(kCom1 + kLineStatus) & kLineStatusTransmitEmpty) == 0; ++spin) pause();
    outb(kCom1 + kData, static_cast<u8>(c));
}

}  // namespace hv::arch
