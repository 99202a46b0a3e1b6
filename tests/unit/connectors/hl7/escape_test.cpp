// Tests for connectors/hl7/escape: encoding delimiters and control characters, decoding every
// sequence LabGate knows, passing unknown ones through, and round trips.
#include "connectors/hl7/escape.h"

#include <gtest/gtest.h>

namespace labgate::hl7 {
namespace {

TEST(EscapeText, EncodesEveryDelimiter) {
  EXPECT_EQ(escapeText("a|b^c~d\\e&f"), "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f");
}

TEST(EscapeText, LeavesPlainTextAndUtf8Alone) {
  EXPECT_EQ(escapeText("25-OH Vitamin D3 µg/L"), "25-OH Vitamin D3 µg/L");
  EXPECT_EQ(escapeText(""), "");
}

TEST(EscapeText, WritesControlRunsAsOneHexSequence) {
  EXPECT_EQ(escapeText("line1\r\nline2"), "line1\\X0D0A\\line2");
  EXPECT_EQ(escapeText("a\nb"), "a\\X0A\\b");
  EXPECT_EQ(escapeText(std::string_view("\x01x\x7F", 3)), "\\X01\\x\\X7F\\");
  EXPECT_EQ(escapeText("tab\there"), "tab\\X09\\here");
}

TEST(EscapeText, UsesTheMessagesOwnDelimiters) {
  Hl7Delimiters d{'#', '@', '*', '!', '$'};
  EXPECT_EQ(escapeText("a#b@c*d!e$f|g", d), "a!F!b!S!c!R!d!E!e!T!f|g");
  EXPECT_EQ(unescapeText("a!F!b!S!c!R!d!E!e!T!f", d), "a#b@c*d!e$f");
}

TEST(UnescapeText, DecodesEverySequence) {
  EXPECT_EQ(unescapeText("\\F\\\\S\\\\T\\\\R\\\\E\\"), "|^&~\\");
  EXPECT_EQ(unescapeText("x\\X0D0A\\y"), "x\r\ny");
  EXPECT_EQ(unescapeText("x\\X41a2\\y"), "xA\xa2y");
  EXPECT_EQ(unescapeText("one\\.br\\two"), "one\ntwo");
}

TEST(UnescapeText, PassesUnknownAndMalformedSequencesThrough) {
  EXPECT_EQ(unescapeText("\\H\\bold\\N\\"), "\\H\\bold\\N\\");
  EXPECT_EQ(unescapeText("\\Zlocal\\"), "\\Zlocal\\");
  EXPECT_EQ(unescapeText("\\X0\\"), "\\X0\\");    // odd number of digits
  EXPECT_EQ(unescapeText("\\XZZ\\"), "\\XZZ\\");  // not hex
  EXPECT_EQ(unescapeText("\\X\\"), "\\X\\");
  EXPECT_EQ(unescapeText("tail \\F"), "tail \\F");  // no closing escape
  EXPECT_EQ(unescapeText("\\"), "\\");
  EXPECT_EQ(unescapeText("\\\\"), "\\\\");  // empty sequence
}

TEST(EscapeRoundTrip, GivesBackTheOriginalText) {
  const std::string texts[] = {
      "a|b^c~d\\e&f", "multi\r\nline\rtext\n", "\\F\\ literally", std::string("nul\0byte", 8), "",
      "µ ± ≥ 5"};
  for (const std::string& t : texts) {
    EXPECT_EQ(unescapeText(escapeText(t)), t) << t;
  }
}

TEST(EscapeRoundTrip, DecodedLineBreaksSurviveReEncoding) {
  std::string decoded = unescapeText("A\\X0D0A\\B\\.br\\C");
  EXPECT_EQ(decoded, "A\r\nB\nC");
  EXPECT_EQ(escapeText(decoded), "A\\X0D0A\\B\\X0A\\C");
  EXPECT_EQ(unescapeText(escapeText(decoded)), decoded);
}

}  // namespace
}  // namespace labgate::hl7
