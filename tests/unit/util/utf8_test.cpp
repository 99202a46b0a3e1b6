#include "util/utf8.h"

#include <gtest/gtest.h>

namespace labgate::util {
namespace {

TEST(Utf8, SequenceLengths) {
  EXPECT_EQ(utf8SequenceLength("\xC3\xA9", 0), 2u);
  EXPECT_EQ(utf8SequenceLength("\xE2\x82\xAC", 0), 3u);
  EXPECT_EQ(utf8SequenceLength("\xF0\x9F\x98\x80", 0), 4u);
  EXPECT_EQ(utf8SequenceLength("a", 0), 0u);
  EXPECT_EQ(utf8SequenceLength("\xED\xA0\x80", 0), 0u);  // surrogate
}

TEST(Utf8, ValidityAndLatin1) {
  EXPECT_TRUE(isValidUtf8("abc \xC3\xA9"));
  EXPECT_EQ(firstInvalidUtf8("ab\xFF"), 2u);
  EXPECT_EQ(latin1ToUtf8("\xE9"), "\xC3\xA9");
}

}  // namespace
}  // namespace labgate::util
