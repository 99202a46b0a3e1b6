// parse -> serialise -> parse is identity for every corpus file (../shared/corpus/hl7, skipped when
// absent) and every file of tests/data/hl7; escapeText/unescapeText and the parser's decoders
// round-trip every escape sequence, with default and unusual delimiters.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "connectors/hl7/builder.h"

namespace labgate::hl7 {
namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Empty when equal, else the first difference (location only, no values).
std::string difference(const Document& a, const Document& b) {
  if (a.format != b.format) return "format";
  if (a.records.size() != b.records.size()) return "record count";
  for (size_t i = 0; i < a.records.size(); ++i) {
    const Record& x = a.records[i];
    const Record& y = b.records[i];
    if (x.type != y.type || x.ordinal != y.ordinal) return "segment " + std::to_string(i + 1);
    if (x.fields.size() != y.fields.size()) return x.type + " field count";
    for (size_t n = 0; n < x.fields.size(); ++n) {
      if (x.fields[n].raw() != y.fields[n].raw() || x.fields[n].text() != y.fields[n].text() ||
          x.fields[n].stripped() != y.fields[n].stripped()) {
        return x.location(n);
      }
    }
  }
  return "";
}

// Round-trips every message of every file under `dir`; returns the number of messages checked.
size_t roundTripAll(const fs::path& dir) {
  size_t checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (name.rfind("fragment_", 0) == 0 || name.find("bracket_notation") != std::string::npos) {
      continue;  // not messages as such; corpus_test wraps and translates them
    }
    for (const std::string& text : splitBatch(readFile(entry.path()))) {
      StatusOr<Document> first = parseHl7(text, Hl7Options{});
      if (!first.isOk()) continue;  // deliberately broken input: nothing to round-trip
      const std::string written = serialise(first.value());
      StatusOr<Document> second = parseHl7(written, Hl7Options{});
      EXPECT_TRUE(second.isOk()) << name << ": " << second.status().toString();
      if (!second.isOk()) continue;
      EXPECT_EQ(difference(first.value(), second.value()), "") << name;
      EXPECT_EQ(serialise(second.value()), written) << name;
      ++checked;
    }
  }
  return checked;
}

TEST(Hl7RoundTrip, CorpusFiles) {
  const fs::path dir = fs::path(LABGATE_SHARED_DIR) / "corpus" / "hl7";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no shared corpus";
  EXPECT_GE(roundTripAll(dir), 26u);
}

TEST(Hl7RoundTrip, OwnDataFiles) {
  EXPECT_GE(roundTripAll(fs::path(LABGATE_TEST_DATA_DIR) / "hl7"), 5u);
}

const std::vector<std::string>& samples() {
  static const std::vector<std::string> kSamples = {
      "",
      "plain text",
      "|",
      "^~\\&",
      "a|b^c~d\\e&f",
      "\\F\\ literally",
      "line one\r\nline two\n",
      std::string("nul\0byte", 8),
      "tab\there \x7F del",
      "gr\xC3\xBC\xC3\x9F \xE2\x82\xAC",
      "\\\\\\",
      "trailing escape\\",
  };
  return kSamples;
}

TEST(Hl7RoundTrip, EscapeTextRoundTripsEveryCharacter) {
  const std::vector<Hl7Delimiters> delimiterSets = {Hl7Delimiters{},
                                                    Hl7Delimiters{'#', '$', '@', '!', '*'}};
  for (const Hl7Delimiters& d : delimiterSets) {
    for (const std::string& text : samples()) {
      const std::string escaped = escapeText(text, d);
      EXPECT_EQ(unescapeText(escaped, d), text);
      EXPECT_EQ(decodeFormattedText(escaped, d), text);
      for (char c : escaped) {
        EXPECT_TRUE(c != d.field && c != d.component && c != d.repetition && c != d.subcomponent);
      }
    }
  }
}

TEST(Hl7RoundTrip, EverySequenceDecodes) {
  const Hl7Delimiters d;
  EXPECT_EQ(unescapeText("\\F\\\\S\\\\T\\\\R\\\\E\\", d), "|^&~\\");
  EXPECT_EQ(unescapeText("\\X0D0A\\", d), "\r\n");
  EXPECT_EQ(decodeFormattedText("a\\.br\\b", d), "a\nb");
  EXPECT_EQ(escapeText("|^&~\\\r\n", d), "\\F\\\\S\\\\T\\\\R\\\\E\\\\X0D0A\\");
}

TEST(Hl7RoundTrip, EscapedValuesSurviveAMessage) {
  for (const std::string& text : samples()) {
    const std::string message =
        std::string("MSH|^~\\&|A||||||ORU^R01|R1|P|2.5.1||||||UNICODE UTF-8\rOBR|1||S\r")
            .append("OBX|1|ST|X||")
            .append(escapeText(text))
            .append("\r");
    StatusOr<Document> document = parseHl7(message, Hl7Options{});
    ASSERT_TRUE(document.isOk()) << document.status().toString();
    EXPECT_EQ(serialise(document.value()), message);
    StatusOr<Message> built = buildMessage(document.value(), Hl7Options{});
    ASSERT_TRUE(built.isOk());
    std::string expected = text;
    while (!expected.empty() && static_cast<unsigned char>(expected.back()) <= 0x20) {
      expected.pop_back();
    }
    size_t lead = 0;
    while (lead < expected.size() && static_cast<unsigned char>(expected[lead]) <= 0x20) ++lead;
    EXPECT_EQ(built->samples[0].results[0].value, expected.substr(lead));
  }
}

}  // namespace
}  // namespace labgate::hl7
