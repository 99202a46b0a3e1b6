#include "util/json_quote.h"

#include <gtest/gtest.h>

namespace labgate::util {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(jsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(jsonQuote("\n\r\t"), "\"\\n\\r\\t\"");
  EXPECT_EQ(jsonQuote(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(jsonQuote(std::string("a\0b", 3)), "\"a\\u0000b\"");
}

TEST(JsonQuote, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(jsonQuote("\xC3\xA9\xE2\x82\xAC"), "\"\xC3\xA9\xE2\x82\xAC\"");
  EXPECT_EQ(jsonQuote("a\xFF"
                      "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(jsonQuote("\xC3"), "\"\\ufffd\"");             // truncated
  EXPECT_EQ(jsonQuote("\xC0\xAF"), "\"\\ufffd\\ufffd\"");  // overlong
}

}  // namespace
}  // namespace labgate::util
