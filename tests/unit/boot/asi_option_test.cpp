// SPDX-License-Identifier: MIT
// Tests of the `asi=` option: the seed's option properties [asi-reference.md §8.1] adapted to
// Isola, malformed values, the boot log lines, and fuzzing against a reference model.
//
// §8.1 items 1-5 are tested below, with item 1 changed to our default (every feature on for PV).
// Items 6-10 do not apply to Isola:
//   6  the "ASI is not functional" boot warning: our ASI is finished, so there is no warning;
//   7, 8, 9  XPTI interplay and the XPTI log line: Isola has no XPTI (every domain is an
//      unprivileged PV domU, and per-vCPU roots are the isolation);
//   10 flush_root_pt == (xpti || vcpu_pt): no XPTI, and root resync is the lead's per-vCPU root
//      code, not option parsing.
// There is no hardware domain either, so "PV, HVM and hwdom" below is just "PV and HVM".
#include "hv/boot/asi_option.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "hv/boot/options.hpp"

namespace hv::boot {
namespace {

constexpr AsiFeatures kNone{};
constexpr AsiFeatures kAll = kAllAsiFeatures;
constexpr AsiFeatures kVcpuPtOnly{.vcpu_pt = true};
constexpr AsiFeatures kZeroStackOnly{.zero_stack = true};
constexpr AsiFeatures kPtAndStack{.vcpu_pt = true, .cpu_stack = true};

std::string log_line(const AsiPolicy& policy, GuestType type) {
    char buffer[160];
    const usize length = format_asi_features(buffer, sizeof buffer, policy, type);
    EXPECT_EQ(length, std::strlen(buffer));
    return buffer;
}

// Parses a whole hypervisor command line held in a block of exactly its size (ASan flags reads
// past Token::size), as the image does.
struct AsiOptionTest : ::testing::Test {
    std::unique_ptr<char[]> bytes;
    cmdline::Token line;
    HvOptions options;

    // Parses from the defaults each time.
    bool parse(std::string_view args) {
        options = HvOptions{};
        const std::string text = "isola.bin " + std::string(args);
        bytes = std::make_unique<char[]>(text.size());
        std::memcpy(bytes.get(), text.data(), text.size());
        line = {bytes.get(), text.size()};
        const auto result = parse_hv_options(line, options);
        if (!result.ok()) {
            error_token = std::string(result.error().token.data, result.error().token.size);
            error_reason = result.error().reason;
        }
        return result.ok();
    }
    AsiFeatures pv() const { return options.asi.pv; }
    AsiFeatures hvm() const { return options.asi.hvm; }

    std::string error_token;
    std::string error_reason;
};

// §8.1.1 (adapted): with no asi= option, PV guests get every feature and HVM none, and the boot
// log says so.
TEST_F(AsiOptionTest, DefaultIsEverythingForPv) {
    ASSERT_TRUE(parse(""));
    EXPECT_EQ(pv(), kAll);
    EXPECT_EQ(hvm(), kNone);
    EXPECT_EQ(log_line(options.asi, GuestType::Pv), "ASI features for PV guests: vcpu-pt cpu-stack zero-stack");
    EXPECT_EQ(log_line(options.asi, GuestType::Hvm), "ASI features for HVM guests: None (no HVM guests)");
}

// §8.1.2: bare `asi` and `asi=1` (and every true word) enable everything for PV and HVM.
TEST_F(AsiOptionTest, TrueEnablesEverything) {
    for (const char* text : {"asi", "asi=1", "asi=yes", "asi=on", "asi=true", "asi=enable", "asi=0 asi"}) {
        ASSERT_TRUE(parse(text)) << text;
        EXPECT_EQ(pv(), kAll) << text;
        EXPECT_EQ(hvm(), kAll) << text;
    }
    EXPECT_EQ(log_line(options.asi, GuestType::Hvm),
              "ASI features for HVM guests: vcpu-pt cpu-stack zero-stack (no effect: Isola has no HVM guests)");
}

// §8.1.2: `asi=0` (and every false word, and `no-asi`) disables everything.
TEST_F(AsiOptionTest, FalseDisablesEverything) {
    for (const char* text : {"asi=0", "asi=no", "asi=off", "asi=false", "asi=disable", "no-asi", "asi no_asi"}) {
        ASSERT_TRUE(parse(text)) << text;
        EXPECT_EQ(pv(), kNone) << text;
        EXPECT_EQ(hvm(), kNone) << text;
    }
    EXPECT_EQ(log_line(options.asi, GuestType::Pv), "ASI features for PV guests: None");
}

// §8.1.3: `pv` / `hvm` switch all features of one type only.
TEST_F(AsiOptionTest, TypeSwitchesTouchOneType) {
    ASSERT_TRUE(parse("asi=0,pv"));
    EXPECT_EQ(pv(), kAll);
    EXPECT_EQ(hvm(), kNone);
    ASSERT_TRUE(parse("asi=hvm"));
    EXPECT_EQ(pv(), kAll);  // the default, untouched
    EXPECT_EQ(hvm(), kAll);
    ASSERT_TRUE(parse("asi=1,no-pv"));
    EXPECT_EQ(pv(), kNone);
    EXPECT_EQ(hvm(), kAll);
    ASSERT_TRUE(parse("asi=pv=0,hvm=on"));
    EXPECT_EQ(pv(), kNone);
    EXPECT_EQ(hvm(), kAll);
    ASSERT_TRUE(parse("asi=no-hvm"));
    EXPECT_EQ(hvm(), kNone);
}

// §8.1.4: `vcpu-pt=pv` enables only per-vCPU tables for PV.
TEST_F(AsiOptionTest, FeatureForOneType) {
    ASSERT_TRUE(parse("asi=0,vcpu-pt=pv"));
    EXPECT_EQ(pv(), kVcpuPtOnly);
    EXPECT_EQ(hvm(), kNone);
    EXPECT_EQ(log_line(options.asi, GuestType::Pv), "ASI features for PV guests: vcpu-pt");
    EXPECT_EQ(log_line(options.asi, GuestType::Hvm), "ASI features for HVM guests: None (no HVM guests)");
    ASSERT_TRUE(parse("asi=0,zero-stack=hvm=1"));
    EXPECT_EQ(pv(), kNone);
    EXPECT_EQ(hvm(), kZeroStackOnly);
}

// §8.1.4: `vcpu-pt=pv=0` and `vcpu-pt=no-pv` disable it again (cpu-stack off, or it would
// force vcpu-pt back on).
TEST_F(AsiOptionTest, FeatureOffForOneType) {
    for (const char* text : {"asi=no-cpu-stack,vcpu-pt=pv=0", "asi=no-cpu-stack,vcpu-pt=no-pv",
                             "asi=cpu-stack=0,vcpu-pt=pv=off"}) {
        ASSERT_TRUE(parse(text)) << text;
        EXPECT_EQ(pv(), kZeroStackOnly) << text;
    }
}

// A feature with a boolean (or bare, or `no-`) applies to both types.
TEST_F(AsiOptionTest, FeatureForBothTypes) {
    ASSERT_TRUE(parse("asi=0,zero-stack"));
    EXPECT_EQ(pv(), kZeroStackOnly);
    EXPECT_EQ(hvm(), kZeroStackOnly);
    ASSERT_TRUE(parse("asi=1,no-zero-stack"));
    EXPECT_EQ(pv(), kPtAndStack);
    EXPECT_EQ(hvm(), kPtAndStack);
    ASSERT_TRUE(parse("asi=0,vcpu-pt=yes"));
    EXPECT_EQ(pv(), kVcpuPtOnly);
    EXPECT_EQ(hvm(), kVcpuPtOnly);
}

// §8.1.5: cpu-stack on for a type forces vcpu-pt on for that type after parsing.
TEST_F(AsiOptionTest, CpuStackImpliesVcpuPt) {
    ASSERT_TRUE(parse("asi=0,cpu-stack=hvm"));
    EXPECT_EQ(hvm(), kPtAndStack);
    EXPECT_EQ(pv(), kNone);
    ASSERT_TRUE(parse("asi=0,cpu-stack"));
    EXPECT_EQ(pv(), kPtAndStack);
    EXPECT_EQ(hvm(), kPtAndStack);
}

// §8.1.5: disabling vcpu-pt while cpu-stack stays on has no effect (Xen: `asi,no-vcpu-pt`).
TEST_F(AsiOptionTest, NoVcpuPtWithCpuStackHasNoEffect) {
    for (const char* text : {"asi=no-vcpu-pt", "asi=1,no-vcpu-pt", "asi=vcpu-pt=no-pv", "asi=vcpu-pt=pv=0"}) {
        ASSERT_TRUE(parse(text)) << text;
        EXPECT_EQ(pv(), kAll) << text;
    }
}

// The dependency runs after the whole line, so the order of the items does not matter.
TEST_F(AsiOptionTest, DependencyAfterWholeLine) {
    ASSERT_TRUE(parse("asi=0,cpu-stack=pv asi=vcpu-pt=no-pv"));
    EXPECT_EQ(pv(), kPtAndStack);
}

// zero-stack has no dependency.
TEST_F(AsiOptionTest, ZeroStackAlone) {
    ASSERT_TRUE(parse("asi=0,zero-stack=pv"));
    EXPECT_EQ(pv(), kZeroStackOnly);
}

// A comma ends an item, so `vcpu-pt=pv,hvm` is "vcpu-pt for PV" and "everything for HVM".
TEST_F(AsiOptionTest, CommaEndsTheSelector) {
    ASSERT_TRUE(parse("asi=0,vcpu-pt=pv,hvm"));
    EXPECT_EQ(pv(), kVcpuPtOnly);
    EXPECT_EQ(hvm(), kAll);
}

// Several asi= options accumulate, as in Xen (the "last one wins" rule is for plain values).
TEST_F(AsiOptionTest, RepeatedOptionsAccumulate) {
    ASSERT_TRUE(parse("asi=0 asi=zero-stack=pv asi=vcpu-pt=hvm"));
    EXPECT_EQ(pv(), kZeroStackOnly);
    EXPECT_EQ(hvm(), kVcpuPtOnly);
}

// §8.1.4: an unknown or malformed item rejects the option with "bad value" on the whole token.
TEST_F(AsiOptionTest, MalformedValuesAreBadValue) {
    const char* const kBad[] = {
        "asi=",           "asi=,",           "asi=pv,",          "asi=,pv",
        "asi=bogus",      "asi=maybe",       "asi=no-",          "asi=pv=maybe",     "asi=no-pv=1",
        "asi=pv=pv",      "asi=pv=",         "asi=vcpu-pt=",     "asi=vcpu-pt=maybe", "asi=vcpu-pt=pv=2",
        "asi=vcpu-pt=pv=0=1", "asi=no-vcpu-pt=1", "asi=no-vcpu-pt=pv", "asi=vcpu-pt=no-pv=1", "asi=cpu-stack=xen",
        "asi=VCPU-PT",    "asi=vcpu_pt",     "asi=Pv",           "asi=xpti",         "asi=hwdom",
        "asi=dom0",       "asi=vcpu-pt=hwdom", "asi=vcpu-pt=pv,hvm,", "asi=1,,0",      "asi=pv=1=1",
    };
    for (const char* text : kBad) {
        SCOPED_TRACE(text);
        ASSERT_FALSE(parse(text));
        EXPECT_EQ(error_reason, cmdline::reason::kBadValue);
        const std::string_view view(text);
        // The error names the first bad option token, whole.
        EXPECT_EQ(error_token, view.substr(view.find("asi"), view.find(' ') - view.find("asi")));
    }
}

// A `,asi=pv` token is an unknown option named ",asi=pv"; keep that case out of the loop above.
TEST_F(AsiOptionTest, LeadingCommaIsUnknownOption) {
    ASSERT_FALSE(parse(",asi=pv"));
    EXPECT_EQ(error_reason, cmdline::reason::kUnknownOption);
}

// `no-asi=1` is refused before the parser sees it.
TEST_F(AsiOptionTest, NegatedWithValueIsRefused) {
    ASSERT_FALSE(parse("no-asi=1"));
    EXPECT_EQ(error_reason, cmdline::reason::kValueNotAllowed);
}

// A rejected item leaves the whole option unapplied, even the good items before it.
TEST(AsiOptionParse, RejectedListChangesNothing) {
    AsiPolicy policy;
    const std::string text = "0,hvm,bogus";
    EXPECT_EQ(parse_asi(cmdline::Token{text.data(), text.size()}, &policy), Status::InvalidArgument);
    EXPECT_EQ(policy, AsiPolicy{});
}

// The log line is truncated cleanly, never overrun, and always NUL-terminated.
TEST(AsiOptionFormat, TruncatesToCapacity) {
    const AsiPolicy policy;
    for (usize capacity = 1; capacity < 64; ++capacity) {
        std::unique_ptr<char[]> buffer = std::make_unique<char[]>(capacity);
        const usize length = format_asi_features(buffer.get(), capacity, policy, GuestType::Pv);
        EXPECT_LT(length, capacity);
        EXPECT_EQ(std::strlen(buffer.get()), length);
    }
    char none[1] = {'x'};
    EXPECT_EQ(format_asi_features(none, 0, policy, GuestType::Hvm), 0U);
    EXPECT_EQ(none[0], 'x');
}

// ---- Fuzzing against a reference model ------------------------------------------------------

// A second, independent reading of the grammar in asi_option.hpp, over std::string.
struct Reference {
    AsiPolicy policy;

    static int as_bool(const std::string& word) {
        for (const char* yes : {"1", "yes", "on", "true", "enable"})
            if (word == yes) return 1;
        for (const char* no : {"0", "no", "off", "false", "disable"})
            if (word == no) return 0;
        return -1;
    }
    static bool* flag(AsiFeatures& features, const std::string& name) {
        if (name == "vcpu-pt") return &features.vcpu_pt;
        if (name == "cpu-stack") return &features.cpu_stack;
        if (name == "zero-stack") return &features.zero_stack;
        return nullptr;
    }
    // "[no-]word[=value]" -> on/off, or -1 if malformed. `word` gets the bare name.
    static int switch_of(const std::string& text, std::string& word) {
        const bool negated = text.rfind("no-", 0) == 0;
        const usize eq = text.find('=');
        word = text.substr(negated ? 3 : 0, eq == std::string::npos ? std::string::npos : eq - (negated ? 3 : 0));
        if (eq == std::string::npos) return negated ? 0 : 1;
        if (negated) return -1;
        return as_bool(text.substr(eq + 1));
    }
    AsiFeatures* type(const std::string& word) {
        return word == "pv" ? &policy.pv : word == "hvm" ? &policy.hvm : nullptr;
    }
    bool item(const std::string& text) {
        if (const int all = as_bool(text); all >= 0) {
            policy.pv = policy.hvm = all ? kAll : kNone;
            return true;
        }
        std::string word;
        const int on = switch_of(text, word);
        if (AsiFeatures* features = type(word)) {
            if (on < 0) return false;
            *features = on ? kAll : kNone;
            return true;
        }
        if (flag(policy.pv, word) == nullptr) return false;
        const usize eq = text.find('=');
        const std::string value = eq == std::string::npos ? "" : text.substr(eq + 1);
        if (eq == std::string::npos || text.rfind("no-", 0) == 0 || as_bool(value) >= 0) {
            if (on < 0) return false;
            *flag(policy.pv, word) = *flag(policy.hvm, word) = on != 0;
            return true;
        }
        std::string type_word;
        const int type_on = switch_of(value, type_word);
        AsiFeatures* features = type(type_word);
        if (features == nullptr || type_on < 0) return false;
        *flag(*features, word) = type_on != 0;
        return true;
    }
    bool list(const std::string& text) {
        Reference copy = *this;
        usize start = 0;
        for (;;) {
            const usize comma = text.find(',', start);
            if (!copy.item(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)))
                return false;
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        *this = copy;
        return true;
    }
};

constexpr const char* kFragments[] = {"pv", "hvm", "vcpu-pt", "cpu-stack", "zero-stack", "no-", "=", ",", "1",
                                      "0", "on", "no", "yes", "off", "pv=", "hvm=", "x", "-", "_", "\xff"};

std::string random_value(std::mt19937& random) {
    std::string text;
    const unsigned count = random() % 10;
    for (unsigned i = 0; i < count; ++i) text += kFragments[random() % std::size(kFragments)];
    if (!text.empty() && random() % 8 == 0) text[random() % text.size()] = '\0';
    return text;
}

// Random values never crash the parser, agree with the reference model item for item, and a
// rejected value leaves the policy untouched.
TEST(AsiOptionFuzz, MatchesReferenceModel) {
    std::mt19937 random(6);
    unsigned accepted = 0;
    for (int round = 0; round < 40000; ++round) {
        const std::string text = random_value(random);
        const std::unique_ptr<char[]> bytes = std::make_unique<char[]>(text.size() + 1);
        std::memcpy(bytes.get(), text.data(), text.size());
        Reference reference;
        reference.policy.hvm = (round & 1) != 0 ? kZeroStackOnly : kNone;
        AsiPolicy policy = reference.policy;
        const bool ok = parse_asi(cmdline::Token{bytes.get(), text.size()}, &policy) == Status::Ok;
        ASSERT_EQ(ok, reference.list(text)) << testing::PrintToString(text);
        ASSERT_EQ(policy, reference.policy) << testing::PrintToString(text);
        accepted += ok ? 1 : 0;
    }
    EXPECT_GT(accepted, 1000U);  // the fragments do reach the accepting paths
}

// Random bytes after `asi=` never crash the whole-line parser, and errors point into the line.
TEST_F(AsiOptionTest, FuzzRandomBytes) {
    std::mt19937 random(66);
    for (int round = 0; round < 20000; ++round) {
        std::string value(random() % 24, '\0');
        for (char& byte : value) {
            byte = static_cast<char>(random());
            if (byte == ' ' || byte == '\t') byte = ',';  // keep it one token
        }
        if (!parse("asi=" + value)) {
            ASSERT_EQ(error_token.rfind("asi=", 0), 0U);
            ASSERT_EQ(options.asi, AsiPolicy{});
        } else {
            ASSERT_TRUE(!pv().cpu_stack || pv().vcpu_pt);
            ASSERT_TRUE(!hvm().cpu_stack || hvm().vcpu_pt);
        }
    }
}

}  // namespace
}  // namespace hv::boot
