// SPDX-License-Identifier: MIT
// Hypervisor command-line parser (Xen conventions, strict about unknown options).
//
// The line is split at spaces and tabs into tokens of the forms
//   name          Bool: true.  CustomBool: the parser gets "1". Other kinds: "value required".
//   no-name       Bool: false. CustomBool: the parser gets "0". Other kinds: "unknown option".
//   name=value    parsed according to the option's Kind.
// '-' and '_' are the same character inside names (Xen rule), so `no_name` negates too.
// [Xen docs/misc/xen-command-line.pandoc, "Types of parameter"]
//
// Deliberate differences from Xen: unknown options are errors; integers are decimal or 0x hex
// only (no octal, no sign); a size without suffix is bytes, not KiB.
#pragma once

#include <type_traits>

#include "hv/core/optional.hpp"
#include "hv/core/result.hpp"
#include "hv/core/status.hpp"
#include "hv/core/types.hpp"

namespace hv::cmdline {

// A non-owning view of bytes; never assumed to be NUL-terminated.
struct Token {
    const char* data = nullptr;
    usize size = 0;
};

// `token` is the whole offending `name=value` token and points into the parsed line.
// `reason` is one of the static strings below.
struct ParseError {
    Token token;
    const char* reason = nullptr;
};

namespace reason {
inline constexpr char kUnknownOption[] = "unknown option";
inline constexpr char kBadBool[] = "bad boolean value";
inline constexpr char kBadNumber[] = "bad number";
inline constexpr char kValueRequired[] = "value required";
inline constexpr char kValueNotAllowed[] = "value not allowed";
inline constexpr char kValueTooLong[] = "value too long";
inline constexpr char kBadValue[] = "bad value";
}  // namespace reason

// Parses the value of a Kind::Custom option into `target`; any status but Ok rejects it.
using CustomParser = Status (*)(Token value, void* target);

// What `Option::target` points to: Bool -> bool, UInt/Size -> u64, String -> char[capacity],
// Custom/CustomBool -> whatever the custom parser expects. CustomBool is a Custom option that
// also takes the boolean forms (Xen's `asi`, `no-asi`): its parser must accept "1" and "0".
enum class Kind : u8 { Bool, UInt, Size, String, Custom, CustomBool };

struct Option {
    const char* name;
    Kind kind;
    void* target;
    CustomParser custom = nullptr;  // Kind::Custom and Kind::CustomBool only
    usize string_capacity = 0;      // Kind::String only; bytes including the NUL
};

// The multiboot command line starts with the image file name; Yes skips that first token.
enum class SkipFirst : u8 { No, Yes };

// Applies every token of `cmdline` to `options`, left to right; a repeated option keeps
// the last value. Stops at the first bad token and returns it; targets set by earlier
// tokens keep their new values.
Result<void, ParseError> parse(Token cmdline, const Option* options, usize option_count,
                               SkipFirst skip_first);

// 1/yes/on/true/enable -> true; 0/no/off/false/disable -> false; anything else -> empty.
Optional<bool> parse_bool(Token value);
// Decimal or 0x/0X hex, no sign; empty on junk or u64 overflow.
Optional<u64> parse_uint(Token value);
// parse_uint plus one optional suffix: K/M/G/T (binary) or B (bytes), either case.
// Hex digits are read greedily, so 0x1b is 27 bytes, not 1 byte.
Optional<u64> parse_size(Token value);

// Byte-exact comparison of a token with a C string.
bool equals(Token token, const char* text);

// `item` split at its first '=': "pv=1" -> {pv, 1}; "vcpu-pt" -> {vcpu-pt, empty}.
struct KeyValue {
    Token key;
    Optional<Token> value;
};
KeyValue split_key_value(Token item);

// Calls fn(Token item) for every comma-separated item of `value`, empty ones included
// (n commas give n + 1 items, so "" is one empty item), and lets `fn` reject them.
// Returns the first status other than Ok that fn returns, else Ok.
template <class Fn>
    requires std::is_invocable_r_v<Status, Fn&, Token>
Status for_each_list_item(Token value, Fn&& fn) {
    usize start = 0;
    for (usize i = 0; i <= value.size; ++i) {
        if (i < value.size && value.data[i] != ',') continue;
        const Status status = fn(Token{value.data + start, i - start});
        if (status != Status::Ok) return status;
        start = i + 1;
    }
    return Status::Ok;
}

}  // namespace hv::cmdline
