// SPDX-License-Identifier: MIT
// The C memory functions the compiler may call. Bulk work uses rep movsq/stosq: QEMU TCG
// counts every iteration of a rep string instruction, so quadword forms keep counts honest.
#include "hv/core/types.hpp"

extern "C" {

void* memset(void* destination, int value, hv::usize length) {
    auto* bytes = static_cast<hv::u8*>(destination);
    const hv::u64 pattern = 0x0101010101010101ull * static_cast<hv::u8>(value);
    hv::usize quads = length / 8;
    void* cursor = bytes;
    asm volatile("rep stosq" : "+D"(cursor), "+c"(quads) : "a"(pattern) : "memory");
    for (hv::usize i = length & ~hv::usize{7}; i < length; ++i) bytes[i] = static_cast<hv::u8>(value);
    return destination;
}

void* memcpy(void* destination, const void* source, hv::usize length) {
    hv::usize quads = length / 8;
    void* to = destination;
    const void* from = source;
    asm volatile("rep movsq" : "+D"(to), "+S"(from), "+c"(quads) : : "memory");
    auto* out = static_cast<hv::u8*>(destination);
    const auto* in = static_cast<const hv::u8*>(source);
    for (hv::usize i = length & ~hv::usize{7}; i < length; ++i) out[i] = in[i];
    return destination;
}

void* memmove(void* destination, const void* source, hv::usize length) {
    auto* out = static_cast<hv::u8*>(destination);
    const auto* in = static_cast<const hv::u8*>(source);
    if (out <= in || out >= in + length) return memcpy(destination, source, length);
    for (hv::usize i = length; i > 0; --i) out[i - 1] = in[i - 1];
    return destination;
}

int memcmp(const void* left, const void* right, hv::usize length) {
    const auto* a = static_cast<const hv::u8*>(left);
    const auto* b = static_cast<const hv::u8*>(right);
    for (hv::usize i = 0; i < length; ++i)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

hv::usize strlen(const char* text) {
    hv::usize length = 0;
    while (text[length] != 0) ++length;
    return length;
}

}  // extern "C"
