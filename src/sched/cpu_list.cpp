// SPDX-License-Identifier: MIT
// The cpus= affinity list of a module command line (see scheduler.hpp).
#include "hv/sched/scheduler.hpp"

namespace hv::sched {
namespace {

// One decimal pCPU number from text[i..) up to a separator; advances i.
Optional<unsigned> number(const char* text, usize size, usize& i) {
    const usize start = i;
    u64 value = 0;
    while (i < size && text[i] >= '0' && text[i] <= '9' && i - start < 3) value = value * 10 + (text[i++] - '0');
    if (i == start || value >= kMaxCpus) return {};
    return static_cast<unsigned>(value);
}

}  // namespace

Status parse_cpu_list(cmdline::Token value, void* target) {
    u32 mask = 0;
    usize i = 0;
    while (i < value.size) {
        const Optional<unsigned> first = number(value.data, value.size, i);
        if (!first) return Status::InvalidArgument;
        unsigned last = first.value();
        if (i < value.size && value.data[i] == '-') {
            ++i;
            const Optional<unsigned> end = number(value.data, value.size, i);
            if (!end || end.value() < first.value()) return Status::InvalidArgument;
            last = end.value();
        }
        for (unsigned cpu = first.value(); cpu <= last; ++cpu) mask |= 1u << cpu;
        if (i == value.size) break;
        if (value.data[i] != ',' || i + 1 == value.size) return Status::InvalidArgument;
        ++i;
    }
    if (mask == 0) return Status::InvalidArgument;
    *static_cast<u32*>(target) = mask;
    return Status::Ok;
}

Status parse_pin_list(cmdline::Token value, void* target) {
    PinList pins{};
    usize i = 0;
    while (i < value.size) {
        const Optional<unsigned> cpu = number(value.data, value.size, i);
        if (!cpu || pins.count == sizeof pins.cpu) return Status::InvalidArgument;
        pins.cpu[pins.count++] = static_cast<u8>(cpu.value());
        if (i == value.size) break;
        if (value.data[i] != ',' || i + 1 == value.size) return Status::InvalidArgument;
        ++i;
    }
    if (pins.count == 0) return Status::InvalidArgument;
    *static_cast<PinList*>(target) = pins;
    return Status::Ok;
}

}  // namespace hv::sched
