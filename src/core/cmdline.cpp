// SPDX-License-Identifier: MIT
// Hypervisor command-line parser (Xen conventions, strict about unknown options).
//
// Every loop is bounded by Token::size: the boot loader's line need not be NUL-terminated,
// and a NUL inside it is just another byte (it can only make a token unknown or invalid).
#include "hv/core/cmdline.hpp"

namespace hv::cmdline {
namespace {

constexpr u64 kU64Max = ~u64{0};

using ParseResult = Result<void, ParseError>;

ParseResult fail(Token token, const char* why) { return Error{ParseError{token, why}}; }

Token drop_front(Token token, usize count) { return {token.data + count, token.size - count}; }

bool is_separator(char c) { return c == ' ' || c == '\t'; }

// Returns the next token and removes it, and the separators before it, from `rest`.
Optional<Token> take_token(Token& rest) {
    usize begin = 0;
    while (begin < rest.size && is_separator(rest.data[begin])) ++begin;
    usize end = begin;
    while (end < rest.size && !is_separator(rest.data[end])) ++end;
    const Token token{rest.data + begin, end - begin};
    rest = drop_front(rest, end);
    if (token.size == 0) return {};
    return token;
}

// Xen treats '-' and '_' in option names as the same character.
char fold_dash(char c) { return c == '_' ? '-' : c; }

bool name_matches(Token name, const char* option_name) {
    for (usize i = 0; i < name.size; ++i) {
        // Checking the NUL first keeps us inside option_name when `name` is longer.
        if (option_name[i] == '\0') return false;
        if (fold_dash(option_name[i]) != fold_dash(name.data[i])) return false;
    }
    return option_name[name.size] == '\0';
}

const Option* find_option(Token name, const Option* options, usize option_count) {
    for (usize i = 0; i < option_count; ++i) {
        if (name_matches(name, options[i].name)) return &options[i];
    }
    return nullptr;
}

// "no-" or, since names fold dashes, "no_".
bool has_no_prefix(Token name) {
    return name.size >= 3 && name.data[0] == 'n' && name.data[1] == 'o' && fold_dash(name.data[2]) == '-';
}

bool equals_any(Token token, const char* const* words, usize word_count) {
    for (usize i = 0; i < word_count; ++i) {
        if (equals(token, words[i])) return true;
    }
    return false;
}

Optional<u8> digit_value(char c) {
    if (c >= '0' && c <= '9') return static_cast<u8>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<u8>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<u8>(c - 'A' + 10);
    return {};
}

// At least one digit below `base`, and the value must fit in a u64.
Optional<u64> parse_digits(Token digits, u64 base) {
    if (digits.size == 0) return {};
    u64 number = 0;
    for (usize i = 0; i < digits.size; ++i) {
        const Optional<u8> digit = digit_value(digits.data[i]);
        if (!digit || digit.value() >= base) return {};
        // number * base + digit <= max, rearranged so that nothing can wrap.
        if (number > (kU64Max - digit.value()) / base) return {};
        number = number * base + digit.value();
    }
    return number;
}

bool has_hex_prefix(Token value) {
    return value.size >= 2 && value.data[0] == '0' && (value.data[1] == 'x' || value.data[1] == 'X');
}

// Left shift for a size suffix letter; B means plain bytes.
Optional<u32> suffix_shift(char c) {
    switch (c) {
        case 'B': case 'b': return 0U;
        case 'K': case 'k': return 10U;
        case 'M': case 'm': return 20U;
        case 'G': case 'g': return 30U;
        case 'T': case 't': return 40U;
        default: return {};
    }
}

ParseResult store_bool(Optional<Token> value, void* target, Token token) {
    // A bare name switches the option on.
    const Optional<bool> flag = value ? parse_bool(value.value()) : Optional<bool>(true);
    if (!flag) return fail(token, reason::kBadBool);
    *static_cast<bool*>(target) = flag.value();
    return {};
}

ParseResult store_number(Optional<u64> number, void* target, Token token) {
    if (!number) return fail(token, reason::kBadNumber);
    *static_cast<u64*>(target) = number.value();
    return {};
}

// Copies only when value and NUL both fit, so a rejected value leaves the buffer untouched.
ParseResult store_string(Token value, const Option& option, Token token) {
    if (value.size >= option.string_capacity) return fail(token, reason::kValueTooLong);
    char* out = static_cast<char*>(option.target);
    for (usize i = 0; i < value.size; ++i) out[i] = value.data[i];
    out[value.size] = '\0';
    return {};
}

ParseResult store_custom(Token value, const Option& option, Token token) {
    HV_CHECK(option.custom != nullptr);
    if (option.custom(value, option.target) != Status::Ok) return fail(token, reason::kBadValue);
    return {};
}

// The values a bare `name` and `no-name` stand for, for Kind::CustomBool.
constexpr char kTrueValue[] = "1";
constexpr char kFalseValue[] = "0";

// `name=value` (or bare `name`, value empty) for a matched option.
ParseResult apply(const Option& option, Optional<Token> value, Token token) {
    HV_CHECK(option.target != nullptr);
    if (option.kind == Kind::Bool) return store_bool(value, option.target, token);
    if (option.kind == Kind::CustomBool && !value) return store_custom(Token{kTrueValue, 1}, option, token);
    if (!value) return fail(token, reason::kValueRequired);
    switch (option.kind) {
        case Kind::UInt: return store_number(parse_uint(value.value()), option.target, token);
        case Kind::Size: return store_number(parse_size(value.value()), option.target, token);
        case Kind::String: return store_string(value.value(), option, token);
        case Kind::Custom:
        case Kind::CustomBool: return store_custom(value.value(), option, token);
        case Kind::Bool: break;
    }
    panic(__FILE__, __LINE__, "cmdline: option table has a bad Kind");
}

// `no-name`: only Bool and CustomBool options can be negated, and never together with a value.
ParseResult apply_negated(Token name, Optional<Token> value, Token token, const Option* options,
                          usize option_count) {
    const Option* option = find_option(name, options, option_count);
    const bool negatable = option != nullptr && (option->kind == Kind::Bool || option->kind == Kind::CustomBool);
    if (!negatable) return fail(token, reason::kUnknownOption);
    if (value) return fail(token, reason::kValueNotAllowed);
    HV_CHECK(option->target != nullptr);
    if (option->kind == Kind::CustomBool) return store_custom(Token{kFalseValue, 1}, *option, token);
    *static_cast<bool*>(option->target) = false;
    return {};
}

ParseResult apply_token(Token token, const Option* options, usize option_count) {
    const KeyValue pair = split_key_value(token);
    // The exact name wins, so an option that is itself called "no-..." stays reachable.
    if (const Option* option = find_option(pair.key, options, option_count)) {
        return apply(*option, pair.value, token);
    }
    if (has_no_prefix(pair.key)) {
        return apply_negated(drop_front(pair.key, 3), pair.value, token, options, option_count);
    }
    return fail(token, reason::kUnknownOption);
}

}  // namespace

Result<void, ParseError> parse(Token cmdline, const Option* options, usize option_count,
                               SkipFirst skip_first) {
    HV_DEBUG_ASSERT(options != nullptr || option_count == 0);
    Token rest = cmdline;
    if (skip_first == SkipFirst::Yes) (void)take_token(rest);
    for (Optional<Token> token = take_token(rest); token; token = take_token(rest)) {
        const ParseResult result = apply_token(token.value(), options, option_count);
        if (!result.ok()) return result;
    }
    return {};
}

Optional<bool> parse_bool(Token value) {
    static constexpr const char* kTrueWords[] = {"1", "yes", "on", "true", "enable"};
    static constexpr const char* kFalseWords[] = {"0", "no", "off", "false", "disable"};
    if (equals_any(value, kTrueWords, sizeof(kTrueWords) / sizeof(kTrueWords[0]))) return true;
    if (equals_any(value, kFalseWords, sizeof(kFalseWords) / sizeof(kFalseWords[0]))) return false;
    return {};
}

Optional<u64> parse_uint(Token value) {
    if (has_hex_prefix(value)) return parse_digits(drop_front(value, 2), 16);
    return parse_digits(value, 10);
}

Optional<u64> parse_size(Token value) {
    if (value.size == 0) return {};
    const char last = value.data[value.size - 1];
    const Optional<u32> shift = suffix_shift(last);
    // In hex, a trailing b/B is a digit, not the bytes suffix.
    if (!shift || (has_hex_prefix(value) && digit_value(last))) return parse_uint(value);
    const Optional<u64> number = parse_uint(Token{value.data, value.size - 1});
    if (!number || number.value() > (kU64Max >> shift.value())) return {};
    return number.value() << shift.value();
}

bool equals(Token token, const char* text) {
    for (usize i = 0; i < token.size; ++i) {
        if (text[i] == '\0' || text[i] != token.data[i]) return false;
    }
    return text[token.size] == '\0';
}

KeyValue split_key_value(Token item) {
    for (usize i = 0; i < item.size; ++i) {
        if (item.data[i] == '=') return {Token{item.data, i}, drop_front(item, i + 1)};
    }
    return {item, {}};
}

}  // namespace hv::cmdline
