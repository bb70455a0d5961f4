// SPDX-License-Identifier: MIT
// Tests of the freestanding printf-style formatter.
#include "hv/core/format.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hv {
namespace {

template <class... Args>
std::string fmt(const char* f, Args... args) {
    char buffer[128];
    format(buffer, sizeof buffer, f, args...);
    return buffer;
}

TEST(Format, PlainAndPercent) { EXPECT_EQ(fmt("a%%b"), "a%b"); }

TEST(Format, Integers) {
    EXPECT_EQ(fmt("%d %i %u", -42, 7, 3000000000u), "-42 7 3000000000");
    EXPECT_EQ(fmt("%ld", -9223372036854775807L - 1), "-9223372036854775808");
    EXPECT_EQ(fmt("%lu", 18446744073709551615UL), "18446744073709551615");
}

TEST(Format, HexWidthAndPadding) {
    EXPECT_EQ(fmt("%016lx", 0xdeadbeefUL), "00000000deadbeef");
    EXPECT_EQ(fmt("%X", 0xabcu), "ABC");
    EXPECT_EQ(fmt("[%5d][%-5d][%05d]", 42, 42, -42), "[   42][42   ][-0042]");
}

TEST(Format, StringsCharsPointers) {
    EXPECT_EQ(fmt("%s|%-4s|%4s|%c", "ab", "ab", "ab", 'z'), "ab|ab  |  ab|z");
    EXPECT_EQ(fmt("%s", static_cast<const char*>(nullptr)), "(null)");
    EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0x1000)), "0x1000");
}

TEST(Format, TruncatesAndTerminates) {
    char buffer[4];
    EXPECT_EQ(format(buffer, sizeof buffer, "%s", "abcdef"), 3u);
    EXPECT_STREQ(buffer, "abc");
    EXPECT_EQ(format(buffer, 0, "x"), 0u);
}

TEST(Format, UnknownConversionAndTrailingPercent) {
    EXPECT_EQ(fmt("%q"), "?");
    EXPECT_EQ(fmt("abc%"), "abc");
}

}  // namespace
}  // namespace hv
