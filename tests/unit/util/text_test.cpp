#include "util/text.h"

#include <gtest/gtest.h>

namespace labgate::util {
namespace {

TEST(Trimmed, StripsAsciiWhiteSpaceAtBothEnds) {
  EXPECT_EQ(trimmed("  a b\t"), "a b");
  EXPECT_EQ(trimmed("\r\n x \r\n"), "x");
  EXPECT_EQ(trimmed(" \t "), "");
  EXPECT_EQ(trimmed(""), "");
}

TEST(Trimmed, KeepsNonAsciiSpaces) { EXPECT_EQ(trimmed("\xC2\xA0x\xC2\xA0"), "\xC2\xA0x\xC2\xA0"); }

TEST(Lowered, FoldsAsciiLettersOnly) {
  EXPECT_EQ(lowered("Sample ID \xC3\x84"), "sample id \xC3\x84");
}

}  // namespace
}  // namespace labgate::util
