// Tests of astm.charset in the E1394 record parser (connectors/astm/records.h): whatever the
// instrument sends, what leaves the parser is valid UTF-8 or a Status naming the field (issue 18,
// finding 11). All messages here are invented.
#include <gtest/gtest.h>

#include "connectors/astm/records.h"
#include "engine/model/utf8.h"

namespace labgate::astm {
namespace {

// "µmol/L" with µ as one ISO 8859-1 byte (0xB5) in R-5, and "é" (0xE9) in the sample id O-3.
const std::string kLatin1Message =
    "H|\\^&|||Analyzer^1\rP|1\rO|1|S\xE9"
    "1||^^^GLU\rR|1|^^^GLU|5.6|\xB5mol/L\rL|1|N\r";

TEST(AstmCharset, InvalidUtf8IsRefusedNamingTheFieldUnderUtf8) {
  AstmOptions options;  // charset utf-8, the default
  auto parsed = parseRecords(kLatin1Message, options);
  ASSERT_FALSE(parsed.isOk());
  EXPECT_EQ(parsed.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(parsed.status().location(), "O-3");
  EXPECT_NE(parsed.status().reason().find("astm.charset"), std::string::npos)
      << "the reason names the key to set";
  EXPECT_TRUE(isValidUtf8(parsed.status().toString())) << "the reason quotes no bytes";
}

TEST(AstmCharset, Latin1IsConvertedToUtf8) {
  AstmOptions options;
  options.charset = AstmOptions::Charset::kLatin1;
  auto parsed = parseRecords(kLatin1Message, options);
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  for (const Record& record : parsed.value().records) {
    for (const Field& field : record.fields) {
      EXPECT_TRUE(isValidUtf8(field.raw()) && isValidUtf8(field.text())) << record.type;
    }
  }
  auto built = buildMessage(parsed.value(), options);
  ASSERT_TRUE(built.isOk()) << built.status().toString();
  ASSERT_EQ(built->samples.size(), 1u);
  EXPECT_EQ(built->samples[0].sampleId,
            "S\xC3\xA9"
            "1");
  ASSERT_EQ(built->samples[0].results.size(), 1u);
  EXPECT_EQ(built->samples[0].results[0].units, "\xC2\xB5mol/L");
}

TEST(AstmCharset, ValidUtf8PassesUnchangedUnderUtf8) {
  const std::string text =
      "H|\\^&|||Analyzer^1\rP|1\rO|1|S1||^^^GLU\rR|1|^^^GLU|5.6|\xC2\xB5mol/L\rL|1|N\r";
  auto parsed = parseRecords(text, AstmOptions());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed.value().records[3].fields[5].text(), "\xC2\xB5mol/L");
}

TEST(AstmCharset, AHexEscapeThatDecodesToInvalidUtf8IsRefused) {
  const std::string text =
      "H|\\^&|||Analyzer^1\rP|1\rO|1|S1||^^^GLU\rR|1|^^^GLU|5.6|&XB5&mol/L\rL|1|N\r";
  for (auto charset : {AstmOptions::Charset::kUtf8, AstmOptions::Charset::kLatin1}) {
    AstmOptions options;
    options.charset = charset;
    auto parsed = parseRecords(text, options);
    ASSERT_FALSE(parsed.isOk());
    EXPECT_EQ(parsed.status().location(), "R-5");
  }
}

}  // namespace
}  // namespace labgate::astm
