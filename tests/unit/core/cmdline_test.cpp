// SPDX-License-Identifier: MIT
// Command-line parser tests: tokens, option kinds, number helpers, list helper, fuzzing.
#include "hv/core/cmdline.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace hv::cmdline {
namespace {

using namespace std::string_literals;

// Copies text into a heap block of exactly its size with no NUL after it, so ASan flags any
// read past Token::size.
class Line {
  public:
    explicit Line(std::string_view text) : bytes_(std::make_unique<char[]>(text.size())), size_(text.size()) {
        if (size_ != 0) std::memcpy(bytes_.get(), text.data(), size_);
    }
    Token token() const { return {bytes_.get(), size_}; }

  private:
    std::unique_ptr<char[]> bytes_;
    usize size_;
};

std::string to_string(Token token) { return {token.data, token.size}; }

bool is_inside(Token outer, Token inner) {
    const auto begin = reinterpret_cast<std::uintptr_t>(outer.data);
    const auto at = reinterpret_cast<std::uintptr_t>(inner.data);
    return at >= begin && at + inner.size <= begin + outer.size;
}

bool is_known_reason(const char* why) {
    for (const char* known : {reason::kUnknownOption, reason::kBadBool, reason::kBadNumber, reason::kValueRequired,
                              reason::kValueNotAllowed, reason::kValueTooLong, reason::kBadValue}) {
        if (why == known) return true;
    }
    return false;
}

struct Outcome {
    bool ok;
    std::string token;   // the offending token on error
    std::string reason;  // the reason on error
};

// Parses `text` and checks the error invariants every caller relies on.
Outcome parse_text(std::string_view text, const Option* options, usize option_count,
                   SkipFirst skip_first = SkipFirst::No) {
    const Line line(text);
    const Result<void, ParseError> result = parse(line.token(), options, option_count, skip_first);
    if (result.ok()) return {true, {}, {}};
    const ParseError error = result.error();
    EXPECT_TRUE(is_inside(line.token(), error.token)) << "error token outside the input";
    EXPECT_GT(error.token.size, 0U);
    EXPECT_TRUE(is_known_reason(error.reason));
    return {false, to_string(error.token), error.reason};
}

// A list option in Xen's style: asi=pv=<bool>,vcpu-pt.
struct AsiSettings {
    bool pv = false;
    bool vcpu_pt = false;
};

Status parse_asi_item(Token item, AsiSettings& asi) {
    const KeyValue pair = split_key_value(item);
    bool* flag = equals(pair.key, "pv") ? &asi.pv : equals(pair.key, "vcpu-pt") ? &asi.vcpu_pt : nullptr;
    if (flag == nullptr) return Status::InvalidArgument;
    const Optional<bool> value = pair.value ? parse_bool(pair.value.value()) : Optional<bool>(true);
    if (!value) return Status::InvalidArgument;
    *flag = value.value();
    return Status::Ok;
}

Status parse_asi(Token value, void* target) {
    AsiSettings& asi = *static_cast<AsiSettings*>(target);
    return for_each_list_item(value, [&](Token item) { return parse_asi_item(item, asi); });
}

// Records every value it is given, to check exactly what reaches a custom parser.
Status record_value(Token value, void* target) {
    static_cast<std::vector<Token>*>(target)->push_back(value);
    return Status::Ok;
}

constexpr usize kConsoleCapacity = 8;

class CmdlineTest : public testing::Test {
  protected:
    Outcome run(std::string_view text, SkipFirst skip_first = SkipFirst::No) {
        return parse_text(text, options_.data(), options_.size(), skip_first);
    }

    bool sync_console_ = false;
    bool bootscrub_ = true;
    u64 maxcpus_ = 0;
    u64 cmci_threshold_ = 0;
    u64 conring_size_ = 0;
    char console_[kConsoleCapacity] = "unset";
    AsiSettings asi_;
    std::vector<Token> recorded_;
    std::array<Option, 8> options_{{
        {"sync_console", Kind::Bool, &sync_console_},
        {"bootscrub", Kind::Bool, &bootscrub_},
        {"maxcpus", Kind::UInt, &maxcpus_},
        {"cmci-threshold", Kind::UInt, &cmci_threshold_},
        {"conring_size", Kind::Size, &conring_size_},
        {"console", Kind::String, console_, nullptr, kConsoleCapacity},
        {"asi", Kind::Custom, &asi_, parse_asi},
        {"record", Kind::Custom, &recorded_, record_value},
    }};
};

using CmdlineParse = CmdlineTest;
using CmdlineBoolOption = CmdlineTest;
using CmdlineUIntOption = CmdlineTest;
using CmdlineSizeOption = CmdlineTest;
using CmdlineStringOption = CmdlineTest;
using CmdlineCustomOption = CmdlineTest;

// ---- Tokens and the whole line -------------------------------------------------------------

// An empty line, even one with no buffer at all, sets nothing and succeeds.
TEST_F(CmdlineParse, EmptyLineIsOk) {
    EXPECT_TRUE(run("").ok);
    EXPECT_TRUE(parse(Token{}, options_.data(), options_.size(), SkipFirst::No).ok());
    EXPECT_TRUE(parse(Token{}, options_.data(), options_.size(), SkipFirst::Yes).ok());
    EXPECT_FALSE(sync_console_);
}

// Spaces and tabs alone are not tokens.
TEST_F(CmdlineParse, WhitespaceOnlyIsOk) {
    EXPECT_TRUE(run(" \t  \t ").ok);
    EXPECT_TRUE(run(" \t ", SkipFirst::Yes).ok);
}

// Tabs separate tokens just like spaces, and runs of separators are one separator.
TEST_F(CmdlineParse, TabsAndSpaceRunsSeparateTokens) {
    EXPECT_TRUE(run("\t sync_console\t\tmaxcpus=4 \t console=vga  ").ok);
    EXPECT_TRUE(sync_console_);
    EXPECT_EQ(maxcpus_, 4U);
    EXPECT_STREQ(console_, "vga");
}

// With SkipFirst::Yes the multiboot image name is not parsed as an option.
TEST_F(CmdlineParse, SkipFirstSkipsImageName) {
    EXPECT_TRUE(run("/boot/isola.elf maxcpus=4", SkipFirst::Yes).ok);
    EXPECT_EQ(maxcpus_, 4U);
}

// SkipFirst::Yes skips the first token even after leading whitespace, and only that one.
TEST_F(CmdlineParse, SkipFirstSkipsExactlyOneToken) {
    EXPECT_TRUE(run("  \t/boot/isola.elf", SkipFirst::Yes).ok);
    const Outcome outcome = run(" isola.elf bogus", SkipFirst::Yes);
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.token, "bogus");
}

// With SkipFirst::No the image name is an ordinary (and here unknown) token.
TEST_F(CmdlineParse, SkipFirstNoParsesImageName) {
    const Outcome outcome = run("/boot/isola.elf maxcpus=4");
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.token, "/boot/isola.elf");
    EXPECT_EQ(outcome.reason, reason::kUnknownOption);
}

// Token::size is authoritative: bytes after it are never looked at.
TEST_F(CmdlineParse, StopsAtTokenSize) {
    const char text[] = "maxcpus=12 bogus";
    EXPECT_TRUE(parse(Token{text, 9}, options_.data(), options_.size(), SkipFirst::No).ok());
    EXPECT_EQ(maxcpus_, 1U);
}

// An unknown name is an error that reports the whole name=value token.
TEST_F(CmdlineParse, UnknownOptionIsError) {
    const Outcome outcome = run("maxcpus=2 frobnicate=1 sync_console");
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.token, "frobnicate=1");
    EXPECT_EQ(outcome.reason, reason::kUnknownOption);
}

// Parsing stops at the first bad token; earlier tokens stay applied, later ones are not.
TEST_F(CmdlineParse, StopsAtFirstError) {
    const Outcome outcome = run("maxcpus=3 bogus maxcpus=5 sync_console");
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(maxcpus_, 3U);
    EXPECT_FALSE(sync_console_);
}

// When an option repeats, the last value wins (Xen behaviour).
TEST_F(CmdlineParse, LastValueWins) {
    EXPECT_TRUE(run("maxcpus=1 maxcpus=2 no-sync_console sync_console").ok);
    EXPECT_EQ(maxcpus_, 2U);
    EXPECT_TRUE(sync_console_);
}

// '-' and '_' are interchangeable in names, in either direction.
TEST_F(CmdlineParse, DashAndUnderscoreAreEquivalent) {
    EXPECT_TRUE(run("sync-console cmci_threshold=3 conring-size=1K").ok);
    EXPECT_TRUE(sync_console_);
    EXPECT_EQ(cmci_threshold_, 3U);
    EXPECT_EQ(conring_size_, 1024U);
}

// A prefix or extension of a name is not that name.
TEST_F(CmdlineParse, PartialNamesAreUnknown) {
    EXPECT_EQ(run("sync").reason, reason::kUnknownOption);
    EXPECT_EQ(run("sync_console_x").reason, reason::kUnknownOption);
    EXPECT_EQ(run("maxcpu=1").reason, reason::kUnknownOption);
}

// Names are case-sensitive, as in Xen.
TEST_F(CmdlineParse, NamesAreCaseSensitive) {
    EXPECT_EQ(run("MAXCPUS=1").reason, reason::kUnknownOption);
}

// A token with an empty name is unknown, with or without a value.
TEST_F(CmdlineParse, EmptyNameIsUnknown) {
    EXPECT_EQ(run("=").reason, reason::kUnknownOption);
    EXPECT_EQ(run("=5").token, "=5");
    EXPECT_EQ(run("=5").reason, reason::kUnknownOption);
}

// A NUL byte inside the line is an ordinary byte, so the name no longer matches.
TEST_F(CmdlineParse, EmbeddedNulIsNotAName) {
    const Outcome outcome = run("maxcpus\0=1"s);
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.token, "maxcpus\0=1"s);
    EXPECT_EQ(outcome.reason, reason::kUnknownOption);
}

// A newline is not a separator, so it becomes part of the token.
TEST_F(CmdlineParse, NewlineIsNotASeparator) {
    EXPECT_EQ(run("sync_console\n").reason, reason::kUnknownOption);
}

// A megabyte-long unknown token is reported whole.
TEST_F(CmdlineParse, VeryLongTokenIsReportedWhole) {
    const std::string token(1 << 20, 'a');
    const Outcome outcome = run("sync_console " + token + " maxcpus=1");
    EXPECT_EQ(outcome.token.size(), token.size());
    EXPECT_EQ(outcome.reason, reason::kUnknownOption);
}

// Many tokens parse without trouble.
TEST_F(CmdlineParse, ManyTokens) {
    std::string text;
    for (int i = 0; i < 10000; ++i) text += "sync_console maxcpus=" + std::to_string(i) + " ";
    EXPECT_TRUE(run(text).ok);
    EXPECT_EQ(maxcpus_, 9999U);
}

// An empty option table rejects every token and accepts an empty line.
TEST(CmdlineParseTable, EmptyTableRejectsEverything) {
    EXPECT_TRUE(parse_text("  ", nullptr, 0).ok);
    EXPECT_EQ(parse_text("x", nullptr, 0).reason, reason::kUnknownOption);
}

// An option that is itself named "no-..." is matched exactly before negation is tried.
TEST(CmdlineParseTable, ExactNameBeatsNoPrefix) {
    u64 level = 0;
    bool hpet = true;
    const Option options[] = {{"no-hpet-level", Kind::UInt, &level}, {"hpet-level", Kind::Bool, &hpet}};
    EXPECT_TRUE(parse_text("no-hpet-level=7", options, 2).ok);
    EXPECT_EQ(level, 7U);
    EXPECT_TRUE(hpet);
    EXPECT_EQ(parse_text("no-hpet-level", options, 2).reason, reason::kValueRequired);
}

// ---- Bool --------------------------------------------------------------------------------

// A bare name means true.
TEST_F(CmdlineBoolOption, BareNameSetsTrue) {
    EXPECT_TRUE(run("sync_console").ok);
    EXPECT_TRUE(sync_console_);
}

// "no-name" and, since names fold dashes, "no_name" mean false.
TEST_F(CmdlineBoolOption, NoPrefixSetsFalse) {
    EXPECT_TRUE(run("no-bootscrub").ok);
    EXPECT_FALSE(bootscrub_);
    bootscrub_ = true;
    EXPECT_TRUE(run("no_bootscrub").ok);
    EXPECT_FALSE(bootscrub_);
}

// Every Xen boolean word works as a value.
TEST_F(CmdlineBoolOption, ValueWords) {
    for (const char* word : {"1", "yes", "on", "true", "enable"}) {
        sync_console_ = false;
        EXPECT_TRUE(run("sync_console="s + word).ok) << word;
        EXPECT_TRUE(sync_console_) << word;
    }
    for (const char* word : {"0", "no", "off", "false", "disable"}) {
        sync_console_ = true;
        EXPECT_TRUE(run("sync_console="s + word).ok) << word;
        EXPECT_FALSE(sync_console_) << word;
    }
}

// Other words, other case, and an empty value are "bad boolean value".
TEST_F(CmdlineBoolOption, BadValues) {
    for (const char* text : {"sync_console=2", "sync_console=YES", "sync_console=", "sync_console=yess",
                             "sync_console=ye", "sync_console==1"}) {
        const Outcome outcome = run(text);
        EXPECT_FALSE(outcome.ok) << text;
        EXPECT_EQ(outcome.token, text);
        EXPECT_EQ(outcome.reason, reason::kBadBool) << text;
    }
    EXPECT_FALSE(sync_console_);
}

// "no-name=value" is an error, whatever the value.
TEST_F(CmdlineBoolOption, NoPrefixWithValueIsError) {
    for (const char* text : {"no-bootscrub=1", "no-bootscrub=0", "no-bootscrub="}) {
        const Outcome outcome = run(text);
        EXPECT_EQ(outcome.token, text);
        EXPECT_EQ(outcome.reason, reason::kValueNotAllowed) << text;
    }
    EXPECT_TRUE(bootscrub_);
}

// "no-" cannot negate options of other kinds, unknown names, or nothing.
TEST_F(CmdlineBoolOption, NoPrefixOnlyForKnownBools) {
    for (const char* text : {"no-maxcpus", "no-console", "no-asi", "no-conring_size", "no-frob", "no-", "no_",
                             "no", "no-no-bootscrub", "nobootscrub"}) {
        EXPECT_EQ(run(text).reason, reason::kUnknownOption) << text;
    }
    EXPECT_TRUE(bootscrub_);
}

// ---- UInt --------------------------------------------------------------------------------

// Decimal and 0x/0X hex with either digit case.
TEST_F(CmdlineUIntOption, DecimalAndHex) {
    EXPECT_TRUE(run("maxcpus=42").ok);
    EXPECT_EQ(maxcpus_, 42U);
    EXPECT_TRUE(run("maxcpus=0x2a").ok);
    EXPECT_EQ(maxcpus_, 42U);
    EXPECT_TRUE(run("maxcpus=0X2A").ok);
    EXPECT_EQ(maxcpus_, 42U);
}

// A number option needs a value.
TEST_F(CmdlineUIntOption, BareNameRequiresValue) {
    const Outcome outcome = run("maxcpus");
    EXPECT_EQ(outcome.token, "maxcpus");
    EXPECT_EQ(outcome.reason, reason::kValueRequired);
}

// Empty values, junk, signs, a lone 0x and overflow are "bad number" and change nothing.
TEST_F(CmdlineUIntOption, BadNumbers) {
    maxcpus_ = 7;
    for (const char* text : {"maxcpus=", "maxcpus=0x", "maxcpus=x10", "maxcpus=-1", "maxcpus=+1", "maxcpus=1.5",
                             "maxcpus=12abc", "maxcpus=0x1g", "maxcpus==4", "maxcpus=99999999999999999999",
                             "maxcpus=0x10000000000000000", "maxcpus=1K"}) {
        const Outcome outcome = run(text);
        EXPECT_EQ(outcome.token, text);
        EXPECT_EQ(outcome.reason, reason::kBadNumber) << text;
    }
    EXPECT_EQ(maxcpus_, 7U);
}

// parse_uint accepts the full u64 range and rejects one past it.
TEST(CmdlineParseUint, Limits) {
    EXPECT_EQ(parse_uint(Line("0").token()).value(), 0U);
    EXPECT_EQ(parse_uint(Line("18446744073709551615").token()).value(), ~u64{0});
    EXPECT_FALSE(parse_uint(Line("18446744073709551616").token()));
    EXPECT_FALSE(parse_uint(Line("18446744073709551620").token()));
    EXPECT_EQ(parse_uint(Line("0xffffffffffffffff").token()).value(), ~u64{0});
    EXPECT_EQ(parse_uint(Line("0x0000000000000000000000ffffffffffffffff").token()).value(), ~u64{0});
    EXPECT_FALSE(parse_uint(Line("0x1ffffffffffffffff").token()));
}

// Leading zeros are decimal (no octal, unlike Xen) and never overflow.
TEST(CmdlineParseUint, LeadingZerosAreDecimal) {
    EXPECT_EQ(parse_uint(Line("010").token()).value(), 10U);
    EXPECT_EQ(parse_uint(Line(std::string(200, '0') + "1").token()).value(), 1U);
}

// Empty and sign-prefixed input, an empty token and "0x" alone are rejected.
TEST(CmdlineParseUint, RejectsJunk) {
    for (const char* text : {"", "0x", "0X", "x", " 1", "1 ", "-0", "+0", "0x-1", "0b1", "1e3"}) {
        EXPECT_FALSE(parse_uint(Line(text).token())) << text;
    }
    EXPECT_FALSE(parse_uint(Token{}));
}

// parse_uint agrees with a 128-bit reference on random decimal and hex strings.
TEST(CmdlineParseUint, MatchesReferenceOnRandomDigits) {
    std::mt19937_64 random(1234);
    for (int round = 0; round < 20000; ++round) {
        const bool hex = (random() & 1) != 0;
        const int length = 1 + static_cast<int>(random() % 24);
        std::string digits;
        unsigned __int128 reference = 0;
        for (int i = 0; i < length; ++i) {
            const unsigned digit = static_cast<unsigned>(random() % (hex ? 16 : 10));
            digits += "0123456789abcdef"[digit];
            if (reference <= ~u64{0}) reference = reference * (hex ? 16 : 10) + digit;
        }
        const Optional<u64> parsed = parse_uint(Line((hex ? "0x" : "") + digits).token());
        ASSERT_EQ(parsed.has_value(), reference <= ~u64{0}) << digits;
        if (parsed) {
            ASSERT_EQ(parsed.value(), static_cast<u64>(reference)) << digits;
        }
    }
}

// ---- Size --------------------------------------------------------------------------------

// A size option takes a suffixed number and stores bytes.
TEST_F(CmdlineSizeOption, StoresBytes) {
    EXPECT_TRUE(run("conring_size=16k").ok);
    EXPECT_EQ(conring_size_, 16 * KiB);
    EXPECT_EQ(run("conring_size").reason, reason::kValueRequired);
    EXPECT_EQ(run("conring_size=").reason, reason::kBadNumber);
    EXPECT_EQ(run("conring_size=16Q").reason, reason::kBadNumber);
    EXPECT_EQ(conring_size_, 16 * KiB);
}

// Each suffix scales by its binary unit, in either case; no suffix or B means bytes.
TEST(CmdlineParseSize, Suffixes) {
    EXPECT_EQ(parse_size(Line("5").token()).value(), 5U);
    EXPECT_EQ(parse_size(Line("5B").token()).value(), 5U);
    EXPECT_EQ(parse_size(Line("5b").token()).value(), 5U);
    EXPECT_EQ(parse_size(Line("5K").token()).value(), 5 * KiB);
    EXPECT_EQ(parse_size(Line("5k").token()).value(), 5 * KiB);
    EXPECT_EQ(parse_size(Line("5M").token()).value(), 5 * MiB);
    EXPECT_EQ(parse_size(Line("5m").token()).value(), 5 * MiB);
    EXPECT_EQ(parse_size(Line("5G").token()).value(), 5 * GiB);
    EXPECT_EQ(parse_size(Line("5g").token()).value(), 5 * GiB);
    EXPECT_EQ(parse_size(Line("5T").token()).value(), 5 * TiB);
    EXPECT_EQ(parse_size(Line("5t").token()).value(), 5 * TiB);
}

// Hex sizes take suffixes too, but a trailing b/B is a hex digit.
TEST(CmdlineParseSize, HexWithSuffix) {
    EXPECT_EQ(parse_size(Line("0x10M").token()).value(), 16 * MiB);
    EXPECT_EQ(parse_size(Line("0x1b").token()).value(), 0x1bU);
    EXPECT_EQ(parse_size(Line("0x1B").token()).value(), 0x1bU);
}

// Scaling that would overflow u64 is rejected; the largest exact fit is not.
TEST(CmdlineParseSize, Overflow) {
    EXPECT_EQ(parse_size(Line("16777215T").token()).value(), 16777215 * TiB);
    EXPECT_FALSE(parse_size(Line("16777216T").token()));
    EXPECT_EQ(parse_size(Line("17179869183G").token()).value(), 17179869183 * GiB);
    EXPECT_FALSE(parse_size(Line("17179869184G").token()));
    EXPECT_FALSE(parse_size(Line("0xffffffffffffffffK").token()));
    EXPECT_EQ(parse_size(Line("18446744073709551615B").token()).value(), ~u64{0});
    EXPECT_FALSE(parse_size(Line("99999999999999999999").token()));
    EXPECT_FALSE(parse_size(Line("99999999999999999999K").token()));
}

// A suffix needs a number, only one suffix is allowed, and unknown suffixes are rejected.
TEST(CmdlineParseSize, RejectsJunk) {
    for (const char* text : {"", "K", "b", "0x", "0xK", "0xM", "10KB", "10kk", "10X", "10 K", "K10", "-1K", "1.5M"}) {
        EXPECT_FALSE(parse_size(Line(text).token())) << text;
    }
    EXPECT_FALSE(parse_size(Token{}));
}

// ---- String ------------------------------------------------------------------------------

// The value is copied and NUL-terminated, and may itself contain '='.
TEST_F(CmdlineStringOption, CopiesValue) {
    EXPECT_TRUE(run("console=a=b").ok);
    EXPECT_STREQ(console_, "a=b");
}

// The longest value that fits with its NUL is accepted.
TEST_F(CmdlineStringOption, ExactFit) {
    EXPECT_TRUE(run("console=" + std::string(kConsoleCapacity - 1, 'x')).ok);
    EXPECT_EQ(std::string(console_), std::string(kConsoleCapacity - 1, 'x'));
}

// One byte more is "value too long", and the buffer keeps its old contents.
TEST_F(CmdlineStringOption, TooLongLeavesBufferAlone) {
    const std::string text = "console=" + std::string(kConsoleCapacity, 'x');
    const Outcome outcome = run(text);
    EXPECT_EQ(outcome.token, text);
    EXPECT_EQ(outcome.reason, reason::kValueTooLong);
    EXPECT_STREQ(console_, "unset");
    EXPECT_EQ(run("console=" + std::string(100000, 'y')).reason, reason::kValueTooLong);
}

// "console=" stores the empty string; a bare name needs a value.
TEST_F(CmdlineStringOption, EmptyValueAndBareName) {
    EXPECT_TRUE(run("console=").ok);
    EXPECT_STREQ(console_, "");
    EXPECT_EQ(run("console").reason, reason::kValueRequired);
}

// A zero-capacity buffer cannot even hold the empty string.
TEST(CmdlineStringTable, ZeroCapacity) {
    char buffer[1] = {'q'};
    const Option options[] = {{"s", Kind::String, buffer, nullptr, 0}};
    EXPECT_EQ(parse_text("s=", options, 1).reason, reason::kValueTooLong);
    EXPECT_EQ(buffer[0], 'q');
}

// ---- Custom ------------------------------------------------------------------------------

// A Xen-style list option sets each named sub-option.
TEST_F(CmdlineCustomOption, ListOption) {
    EXPECT_TRUE(run("asi=pv=1,vcpu-pt").ok);
    EXPECT_TRUE(asi_.pv);
    EXPECT_TRUE(asi_.vcpu_pt);
    EXPECT_TRUE(run("asi=pv=off").ok);
    EXPECT_FALSE(asi_.pv);
}

// A custom parser's failure is "bad value" on the whole token.
TEST_F(CmdlineCustomOption, ParserFailureIsBadValue) {
    for (const char* text : {"asi=bogus", "asi=pv=maybe", "asi=", "asi=pv,", "asi=,pv"}) {
        const Outcome outcome = run(text);
        EXPECT_EQ(outcome.token, text);
        EXPECT_EQ(outcome.reason, reason::kBadValue) << text;
    }
}

// A bare custom name needs a value and "no-" does not apply to it.
TEST_F(CmdlineCustomOption, BareAndNegatedNames) {
    EXPECT_EQ(run("asi").reason, reason::kValueRequired);
    EXPECT_EQ(run("no-asi").reason, reason::kUnknownOption);
}

// The parser gets exactly the bytes after the first '=', pointing into the line.
TEST_F(CmdlineCustomOption, ReceivesValueInPlace) {
    const Line line("x record=a=b,c record= y");
    const Option* options = options_.data() + options_.size() - 1;  // only "record"
    const Result<void, ParseError> result = parse(line.token(), options, 1, SkipFirst::Yes);
    EXPECT_FALSE(result.ok());
    ASSERT_EQ(recorded_.size(), 2U);
    EXPECT_EQ(to_string(recorded_[0]), "a=b,c");
    EXPECT_EQ(recorded_[0].data, line.token().data + 9);
    EXPECT_EQ(recorded_[1].size, 0U);
    EXPECT_TRUE(is_inside(line.token(), recorded_[1]));
}

// A CustomBool option hands its parser "1" for a bare name and "0" for `no-name`, so a list
// option can also be a plain boolean (Xen's `asi` / `no-asi`).
TEST(CmdlineCustomBoolOption, BareAndNegatedNamesReachTheParser) {
    std::vector<std::string> recorded;  // copies: the line is gone after parse_text
    const CustomParser record_copy = [](Token value, void* target) {
        static_cast<std::vector<std::string>*>(target)->push_back(to_string(value));
        return Status::Ok;
    };
    const Option options[] = {{"asi", Kind::CustomBool, &recorded, record_copy}};
    EXPECT_TRUE(parse_text("asi no-asi no_asi asi=pv", options, 1).ok);
    EXPECT_EQ(recorded, (std::vector<std::string>{"1", "0", "0", "pv"}));
}

// `no-name=value` is still refused for a CustomBool option, before the parser sees anything.
TEST(CmdlineCustomBoolOption, NegatedWithValueIsError) {
    std::vector<Token> recorded;
    const Option options[] = {{"asi", Kind::CustomBool, &recorded, record_value}};
    const Outcome outcome = parse_text("no-asi=1", options, 1);
    EXPECT_EQ(outcome.reason, reason::kValueNotAllowed);
    EXPECT_TRUE(recorded.empty());
}

// A CustomBool parser that rejects the boolean forms makes them "bad value" on the whole token.
TEST(CmdlineCustomBoolOption, ParserVerdictCounts) {
    int unused = 0;
    const Option options[] = {
        {"flag", Kind::CustomBool, &unused, [](Token, void*) { return Status::InvalidArgument; }}};
    EXPECT_EQ(parse_text("flag", options, 1).reason, reason::kBadValue);
    EXPECT_EQ(parse_text("no-flag", options, 1).token, "no-flag");
}

// ---- Helpers for custom parsers ----------------------------------------------------------

std::vector<std::string> list_items(std::string_view text) {
    std::vector<std::string> items;
    const Line line(text);
    const Status status = for_each_list_item(line.token(), [&](Token item) {
        EXPECT_TRUE(is_inside(line.token(), item));
        items.push_back(to_string(item));
        return Status::Ok;
    });
    EXPECT_EQ(status, Status::Ok);
    return items;
}

// Items are split at every comma, and empty items are passed on, not dropped.
TEST(CmdlineListItems, SplitsIncludingEmptyItems) {
    using Items = std::vector<std::string>;
    EXPECT_EQ(list_items("a,bb,c"), (Items{"a", "bb", "c"}));
    EXPECT_EQ(list_items("single"), (Items{"single"}));
    EXPECT_EQ(list_items(""), (Items{""}));
    EXPECT_EQ(list_items(","), (Items{"", ""}));
    EXPECT_EQ(list_items("a,,b"), (Items{"a", "", "b"}));
    EXPECT_EQ(list_items("a,"), (Items{"a", ""}));
    EXPECT_EQ(list_items(",a"), (Items{"", "a"}));
    EXPECT_EQ(list_items("k=v,x=y=z"), (Items{"k=v", "x=y=z"}));
}

// A value with no buffer is a single empty item and is never dereferenced.
TEST(CmdlineListItems, NullTokenIsOneEmptyItem) {
    int calls = 0;
    EXPECT_EQ(for_each_list_item(Token{}, [&](Token item) {
                  ++calls;
                  EXPECT_EQ(item.size, 0U);
                  return Status::Ok;
              }),
              Status::Ok);
    EXPECT_EQ(calls, 1);
}

// The first failing status is returned and later items are not visited.
TEST(CmdlineListItems, StopsAtFirstFailure) {
    std::vector<std::string> seen;
    const Line line("a,bad,c,bad2");
    const Status status = for_each_list_item(line.token(), [&](Token item) {
        seen.push_back(to_string(item));
        if (equals(item, "bad")) return Status::Unsupported;
        if (equals(item, "bad2")) return Status::Busy;
        return Status::Ok;
    });
    EXPECT_EQ(status, Status::Unsupported);
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "bad"}));
}

// equals is byte-exact over the token and the whole C string.
TEST(CmdlineEquals, ByteExact) {
    EXPECT_TRUE(equals(Line("pv").token(), "pv"));
    EXPECT_TRUE(equals(Token{}, ""));
    EXPECT_FALSE(equals(Line("pv").token(), "p"));
    EXPECT_FALSE(equals(Line("p").token(), "pv"));
    EXPECT_FALSE(equals(Line("PV").token(), "pv"));
    EXPECT_FALSE(equals(Line("vcpu_pt").token(), "vcpu-pt"));  // only names fold dashes
    EXPECT_FALSE(equals(Line("p\0"s).token(), "p"));
    EXPECT_FALSE(equals(Token{}, "x"));
}

// split_key_value splits at the first '=' and tells "x=" (empty value) from "x" (none).
TEST(CmdlineSplitKeyValue, SplitsAtFirstEquals) {
    const Line with_value("a=b=c");
    KeyValue pair = split_key_value(with_value.token());
    EXPECT_EQ(to_string(pair.key), "a");
    ASSERT_TRUE(pair.value);
    EXPECT_EQ(to_string(pair.value.value()), "b=c");

    const Line empty_value("x=");
    pair = split_key_value(empty_value.token());
    ASSERT_TRUE(pair.value);
    EXPECT_EQ(pair.value.value().size, 0U);

    const Line no_value("vcpu-pt");
    pair = split_key_value(no_value.token());
    EXPECT_EQ(to_string(pair.key), "vcpu-pt");
    EXPECT_FALSE(pair.value);

    const Line empty_key("=v");
    pair = split_key_value(empty_key.token());
    EXPECT_EQ(pair.key.size, 0U);
    EXPECT_EQ(to_string(pair.value.value()), "v");
}

// ---- Fuzzing -----------------------------------------------------------------------------

// Fragments that steer random lines into the interesting paths of the parser.
constexpr const char* kFragments[] = {
    "sync_console", "bootscrub", "maxcpus", "cmci-threshold", "conring_size", "console", "asi", "record",
    "no-", "no_", "=", "==", ",", " ", "\t", "0x", "0", "1", "9", "ff", "K", "T", "b", "pv", "vcpu-pt", "yes",
    "off", "-", "_", "99999999999999999999", "\0", "\n", "\xff", "xxxxxxxxxx"};

std::string random_fragments(std::mt19937& random) {
    std::string text;
    const unsigned count = random() % 16;
    for (unsigned i = 0; i < count; ++i) {
        const char* fragment = kFragments[random() % std::size(kFragments)];
        text += fragment[0] == '\0' ? "\0"s : std::string(fragment);
    }
    return text;
}

std::string random_bytes(std::mt19937& random) {
    std::string text(random() % 64, '\0');
    for (char& byte : text) byte = static_cast<char>(random());
    return text;
}

// Random input never crashes, errors point inside the input, and strings stay terminated.
TEST_F(CmdlineTest, FuzzRandomLines) {
    std::mt19937 random(20240601);
    for (int round = 0; round < 30000; ++round) {
        const std::string text = (round % 2 == 0) ? random_fragments(random) : random_bytes(random);
        const SkipFirst skip = (random() & 1) != 0 ? SkipFirst::Yes : SkipFirst::No;
        recorded_.clear();
        run(text, skip);  // parse_text checks the error invariants
        ASSERT_NE(std::memchr(console_, '\0', kConsoleCapacity), nullptr);
        if (HasFailure()) FAIL() << "input: " << testing::PrintToString(text);
    }
}

// The number helpers accept random bytes without crashing and agree with each other.
TEST(CmdlineFuzz, NumberHelpers) {
    std::mt19937 random(7);
    for (int round = 0; round < 30000; ++round) {
        std::string text = random_bytes(random).substr(0, 1 + random() % 8);
        if ((round & 1) != 0) text = "0x" + text;
        const Line line(text);
        const Optional<u64> as_uint = parse_uint(line.token());
        const Optional<u64> as_size = parse_size(line.token());
        // Every valid integer is also a valid size with the same value.
        if (as_uint) {
            ASSERT_EQ(as_size.value(), as_uint.value()) << testing::PrintToString(text);
        }
        (void)parse_bool(line.token());
        (void)for_each_list_item(line.token(), [](Token) { return Status::Ok; });
    }
}

}  // namespace
}  // namespace hv::cmdline
