// Tests of the ASTM option keys and their value parsing (connectors/astm/options.h).
#include "connectors/astm/options.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "astm_test_util.h"

namespace labgate::astm {
namespace {

TEST(AstmOptions, DefaultsMatchTheDocumentedContract) {
  const AstmOptions o;
  EXPECT_EQ(o.maxFrameBytes, 64u * 1024);
  EXPECT_EQ(o.maxMessageBytes, 1024u * 1024);
  EXPECT_FALSE(o.strictFrameNumbers);
  EXPECT_TRUE(o.allowMissingChecksum);
  EXPECT_TRUE(o.allowLowercaseChecksum);
  EXPECT_EQ(o.receiveTimeoutSeconds, 30);
  EXPECT_FALSE(o.acceptUnframed);  // issue 18 finding 9: unframed records only when asked for
  EXPECT_FALSE(o.deliverWithoutTerminator);
  EXPECT_EQ(o.maxConsecutiveNaks, 6);
  EXPECT_TRUE(o.decimalComma);
  EXPECT_TRUE(o.skipCommentLines);
  EXPECT_TRUE(o.stripFramePrefix);
  EXPECT_TRUE(o.qcFromProcessingId);
  EXPECT_EQ(o.testCodeComponent, 0);
  EXPECT_TRUE(o.testCodeComponents.empty());
  EXPECT_EQ(o.testCodeSeparator, "/");
}

TEST(AstmOptions, EveryKeyIsAccepted) {
  const auto keys = astmOptionKeys();
  EXPECT_EQ(keys.size(), 17u);
  for (const auto& key : keys) {
    AstmOptions o;
    const bool numeric =
        key.find("bytes") != std::string::npos || key.find("seconds") != std::string::npos ||
        key.find("naks") != std::string::npos || key.find("component") != std::string::npos;
    const std::string value = key == "charset"               ? "latin-1"
                              : key == "test_code_separator" ? "/"
                              : numeric                      ? "5"
                                                             : "false";
    const Status s = setAstmOption(o, key, value);
    const bool tooSmall = key == "max_frame_bytes" || key == "max_message_bytes";
    EXPECT_EQ(s.isOk(), !tooSmall) << key << ": " << s.toString();
  }
}

TEST(AstmOptions, ValuesAreParsed) {
  AstmOptions o;
  EXPECT_TRUE(setAstmOption(o, "max_frame_bytes", "128K").isOk());
  EXPECT_EQ(o.maxFrameBytes, 128u * 1024);
  EXPECT_TRUE(setAstmOption(o, "max_message_bytes", " 2M ").isOk());
  EXPECT_EQ(o.maxMessageBytes, 2u * 1024 * 1024);
  EXPECT_TRUE(setAstmOption(o, "strict_frame_numbers", "Yes").isOk());
  EXPECT_TRUE(o.strictFrameNumbers);
  EXPECT_TRUE(setAstmOption(o, "decimal_comma", "off").isOk());
  EXPECT_FALSE(o.decimalComma);
  EXPECT_TRUE(setAstmOption(o, "receive_timeout_seconds", "15").isOk());
  EXPECT_EQ(o.receiveTimeoutSeconds, 15);
  EXPECT_TRUE(setAstmOption(o, "test_code_component", "5").isOk());
  EXPECT_EQ(o.testCodeComponent, 5);
  EXPECT_EQ(AstmOptions().charset, AstmOptions::Charset::kUtf8) << "the default";
  EXPECT_TRUE(setAstmOption(o, "charset", "ISO-8859-1").isOk());
  EXPECT_EQ(o.charset, AstmOptions::Charset::kLatin1);
  EXPECT_TRUE(setAstmOption(o, "charset", "utf-8").isOk());
  EXPECT_EQ(o.charset, AstmOptions::Charset::kUtf8);
}

TEST(AstmOptions, BadValuesAreConfigErrorsNamingTheKey) {
  AstmOptions o;
  const AstmOptions before = o;
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"max_frame_bytes", "lots"},
                                                        {"max_frame_bytes", "-1"},
                                                        {"max_frame_bytes", "3"},
                                                        {"receive_timeout_seconds", "0"},
                                                        {"receive_timeout_seconds", "30s"},
                                                        {"accept_unframed", "maybe"},
                                                        {"test_code_component", "99"},
                                                        {"charset", "windows-1250"}}) {
    const Status s = setAstmOption(o, key, value);
    ASSERT_FALSE(s.isOk()) << key << "=" << value;
    EXPECT_EQ(s.code(), Status::Code::kConfig);
    EXPECT_EQ(s.location(), key);
    EXPECT_FALSE(s.reason().empty());
  }
  EXPECT_EQ(o.maxFrameBytes, before.maxFrameBytes);
  EXPECT_EQ(o.receiveTimeoutSeconds, before.receiveTimeoutSeconds);
  EXPECT_EQ(o.acceptUnframed, before.acceptUnframed);
}

TEST(AstmOptions, CompositeTestCodes) {
  AstmOptions o;
  ASSERT_TRUE(setAstmOption(o, "test_code_components", " 2, 4,7 ,8").isOk());
  EXPECT_EQ(o.testCodeComponents, (std::vector<int>{2, 4, 7, 8}));
  ASSERT_TRUE(setAstmOption(o, "test_code_separator", "::").isOk());
  EXPECT_EQ(o.testCodeSeparator, "::");
  for (const std::string bad : {"", "0", "33", "2,,4", "2,4,2", "a", "1,2,3,4,5,6,7,8,9"}) {
    AstmOptions fresh;
    const Status s = setAstmOption(fresh, "test_code_components", bad);
    EXPECT_FALSE(s.isOk()) << bad;
    EXPECT_EQ(s.location(), "test_code_components") << bad;
    EXPECT_TRUE(fresh.testCodeComponents.empty()) << bad;
  }
  for (const std::string bad : {"", " ", "a b", "12345", "\t"}) {
    AstmOptions fresh;
    EXPECT_FALSE(setAstmOption(fresh, "test_code_separator", bad).isOk()) << bad;
  }
  // One component or a composite code, not both (either order), naming the other key.
  AstmOptions one;
  ASSERT_TRUE(setAstmOption(one, "test_code_component", "5").isOk());
  Status both = setAstmOption(one, "test_code_components", "2,7");
  EXPECT_FALSE(both.isOk());
  EXPECT_NE(both.reason().find("astm.test_code_component "), std::string::npos) << both.reason();
  AstmOptions composite;
  ASSERT_TRUE(setAstmOption(composite, "test_code_components", "2,7").isOk());
  both = setAstmOption(composite, "test_code_component", "5");
  EXPECT_FALSE(both.isOk());
  EXPECT_NE(both.reason().find("astm.test_code_components"), std::string::npos) << both.reason();
}

TEST(AstmOptions, UnframedRecordsOnlyWhenAskedFor) {
  AstmOptions o;
  ASSERT_FALSE(o.acceptUnframed);
  ASSERT_TRUE(setAstmOption(o, "accept_unframed", "true").isOk());
  EXPECT_TRUE(o.acceptUnframed);
  ASSERT_TRUE(setAstmOption(o, "accept_unframed", "false").isOk());
  EXPECT_FALSE(o.acceptUnframed);
}

TEST(AstmOptions, UnknownKeyIsRefused) {
  AstmOptions o;
  const Status s = setAstmOption(o, "max_frame_size", "100");
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), Status::Code::kConfig);
  EXPECT_EQ(s.location(), "max_frame_size");
}

TEST(AstmOptions, EveryKeyIsDocumented) {
  const auto doc = testing::readFile(std::filesystem::path(LABGATE_SOURCE_DIR) / "docs" /
                                     "connectors" / "astm.md");
  ASSERT_FALSE(doc.empty());
  for (const auto& key : astmOptionKeys()) {
    EXPECT_NE(doc.find("`connector.NAME.astm." + key + "`"), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace labgate::astm
