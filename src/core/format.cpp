// SPDX-License-Identifier: MIT
// printf-style formatting into a fixed buffer.
#include "hv/core/format.hpp"

namespace hv {
namespace {

class Sink {
  public:
    Sink(char* buffer, usize capacity) : buffer_(buffer), capacity_(capacity) {}
    void put(char c) {
        if (length_ + 1 < capacity_) buffer_[length_] = c;
        ++length_;
    }
    usize finish() {
        if (capacity_ == 0) return 0;
        const usize end = length_ < capacity_ ? length_ : capacity_ - 1;
        buffer_[end] = 0;
        return end;
    }

  private:
    char* buffer_;
    usize capacity_;
    usize length_ = 0;
};

struct Spec {
    bool left = false;
    bool zero = false;
    unsigned width = 0;
    unsigned long_count = 0;
};

void put_padded(Sink& sink, const char* text, usize length, const Spec& spec, char pad) {
    usize padding = spec.width > length ? spec.width - length : 0;
    if (!spec.left)
        for (; padding > 0; --padding) sink.put(pad);
    for (usize i = 0; i < length; ++i) sink.put(text[i]);
    for (; padding > 0; --padding) sink.put(' ');
}

void put_number(Sink& sink, u64 value, unsigned base, bool negative, bool upper, const Spec& spec) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char text[24];
    usize length = 0;
    do {
        text[sizeof text - 1 - length++] = digits[value % base];
        value /= base;
    } while (value != 0);
    if (negative) {
        if (spec.zero && !spec.left) {
            // Zero padding goes between the sign and the digits.
            sink.put('-');
            Spec rest = spec;
            rest.width = spec.width > 0 ? spec.width - 1 : 0;
            put_padded(sink, text + sizeof text - length, length, rest, '0');
            return;
        }
        text[sizeof text - 1 - length++] = '-';
    }
    put_padded(sink, text + sizeof text - length, length, spec, spec.zero && !spec.left ? '0' : ' ');
}

u64 take_unsigned(va_list& args, const Spec& spec) {
    if (spec.long_count >= 1) return va_arg(args, unsigned long);
    return va_arg(args, unsigned int);
}

i64 take_signed(va_list& args, const Spec& spec) {
    if (spec.long_count >= 1) return va_arg(args, long);
    return va_arg(args, int);
}

const char* parse_spec(const char* fmt, Spec& spec) {
    for (;; ++fmt) {
        if (*fmt == '-') spec.left = true;
        else if (*fmt == '0') spec.zero = true;
        else break;
    }
    for (; *fmt >= '0' && *fmt <= '9'; ++fmt) spec.width = spec.width * 10 + static_cast<unsigned>(*fmt - '0');
    for (; *fmt == 'l' || *fmt == 'z'; ++fmt) ++spec.long_count;
    return fmt;
}

void convert(Sink& sink, char conversion, Spec& spec, va_list& args) {
    switch (conversion) {
        case 's': {
            const char* text = va_arg(args, const char*);
            if (text == nullptr) text = "(null)";
            usize length = 0;
            while (text[length] != 0) ++length;
            put_padded(sink, text, length, spec, ' ');
            return;
        }
        case 'c': {
            const char c = static_cast<char>(va_arg(args, int));
            put_padded(sink, &c, 1, spec, ' ');
            return;
        }
        case 'd':
        case 'i': {
            const i64 value = take_signed(args, spec);
            const u64 magnitude = value < 0 ? 0 - static_cast<u64>(value) : static_cast<u64>(value);
            put_number(sink, magnitude, 10, value < 0, false, spec);
            return;
        }
        case 'u': put_number(sink, take_unsigned(args, spec), 10, false, false, spec); return;
        case 'x': put_number(sink, take_unsigned(args, spec), 16, false, false, spec); return;
        case 'X': put_number(sink, take_unsigned(args, spec), 16, false, true, spec); return;
        case 'p':
            sink.put('0');
            sink.put('x');
            spec.long_count = 1;
            put_number(sink, reinterpret_cast<u64>(va_arg(args, void*)), 16, false, false, spec);
            return;
        case '%': sink.put('%'); return;
        default: sink.put('?'); return;
    }
}

}  // namespace

usize format_v(char* buffer, usize capacity, const char* fmt, va_list args) {
    Sink sink(buffer, capacity);
    va_list local;
    va_copy(local, args);
    while (*fmt != 0) {
        if (*fmt != '%') {
            sink.put(*fmt++);
            continue;
        }
        Spec spec;
        fmt = parse_spec(fmt + 1, spec);
        if (*fmt == 0) break;
        convert(sink, *fmt++, spec, local);
    }
    va_end(local);
    return sink.finish();
}

usize format(char* buffer, usize capacity, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    const usize length = format_v(buffer, capacity, fmt, args);
    va_end(args);
    return length;
}

}  // namespace hv
