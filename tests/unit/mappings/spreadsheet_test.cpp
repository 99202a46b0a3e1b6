// Tests for MappingSet::parseSpreadsheet: spreadsheets as people save them (UTF-16 "Unicode
// text", Latin-1, semicolons, Excel's empty columns) and every problem of a bad file listed at
// once, with line, column and a hint; undecodable bytes never echoed. The files are our own, in
// tests/data/mappings/.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "mappings/mapping_set.h"
#include "mappings/spreadsheet_text.h"

namespace labgate {
namespace {

std::string readData(const std::string& name) {
  std::ifstream in(std::string(LABGATE_SOURCE_DIR) + "/tests/data/mappings/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string describe(const MappingParse& parsed) {
  return renderMappingProblems(parsed.problems, "m.csv");
}

// Every problem message is printable: no control character, only valid UTF-8.
void expectPrintable(const MappingParse& parsed) {
  for (const MappingProblem& p : parsed.problems) {
    EXPECT_EQ(mappings::printable(p.message, 100000), p.message) << p.message;
  }
}

// The set of the three test rows all files below carry.
void expectTheThreeRows(const MappingParse& parsed) {
  ASSERT_TRUE(parsed.set.has_value()) << describe(parsed);
  EXPECT_TRUE(parsed.problems.empty());
  const MappingSet& set = *parsed.set;
  ASSERT_EQ(set.size(), 3u);
  EXPECT_EQ(set.find("25OHD3")->decimals, 1);
  EXPECT_EQ(set.find("E2")->lisName, "\xC3\x96stradiol (LC-MS/MS)");  // Ö as UTF-8
  EXPECT_EQ(set.find("TAC")->units, "\xC2\xB5g/L");                   // µ as UTF-8
  EXPECT_EQ(set.find("TAC")->decimals, -1);
}

TEST(MappingSpreadsheet, ReadsExcelUnicodeTextUtf16LeWithTabs) {
  MappingParse parsed = MappingSet::parseSpreadsheet(readData("excel-unicode-text-utf16le.txt"),
                                                     "excel-unicode-text-utf16le.txt");
  EXPECT_EQ(parsed.encoding, "UTF-16LE");
  EXPECT_EQ(parsed.separator, '\t');
  expectTheThreeRows(parsed);
  EXPECT_EQ(parsed.set->source(), "excel-unicode-text-utf16le.txt");
}

TEST(MappingSpreadsheet, ReadsUtf16BeWithBom) {
  MappingParse parsed = MappingSet::parseSpreadsheet(readData("utf16be-bom.csv"), "b.csv");
  EXPECT_EQ(parsed.encoding, "UTF-16BE");
  EXPECT_EQ(parsed.separator, ',');
  expectTheThreeRows(parsed);
}

TEST(MappingSpreadsheet, ReadsUtf16WithoutBomFromItsNulBytes) {
  const std::string text = "instrument_code,lis_code,lis_name,units,decimals\nA,LA,N,u,1\n";
  std::string le;
  for (char c : text) {
    le.push_back(c);
    le.push_back('\0');
  }
  MappingParse parsed = MappingSet::parseSpreadsheet(le, "le.csv");
  EXPECT_EQ(parsed.encoding, "UTF-16LE");
  ASSERT_TRUE(parsed.set.has_value()) << describe(parsed);
  EXPECT_EQ(parsed.set->find("A")->lisCode, "LA");
}

TEST(MappingSpreadsheet, ReadsLatin1AsWindows1252) {
  MappingParse parsed = MappingSet::parseSpreadsheet(readData("latin1.csv"), "latin1.csv");
  EXPECT_EQ(parsed.encoding, "Windows-1252");
  expectTheThreeRows(parsed);
}

TEST(MappingSpreadsheet, ReadsASemicolonFileWithExcelsEmptyColumnsAndRows) {
  MappingParse parsed = MappingSet::parseSpreadsheet(readData("semicolon.csv"), "semicolon.csv");
  EXPECT_EQ(parsed.encoding, "UTF-8");
  EXPECT_EQ(parsed.separator, ';');
  ASSERT_TRUE(parsed.set.has_value()) << describe(parsed);
  ASSERT_EQ(parsed.set->size(), 2u);
  // A comma inside a value of a semicolon-separated file is just text.
  EXPECT_EQ(parsed.set->find("25OHD3")->lisName, "25-OH Vitamin D3, total");
  EXPECT_EQ(parsed.set->find("E2")->lisName, "\xC3\x96stradiol");
}

TEST(MappingSpreadsheet, ListsEveryProblemOfABadFileWithLineAndColumn) {
  MappingParse parsed = MappingSet::parseSpreadsheet(readData("many-errors.csv"), "bad.csv");
  EXPECT_FALSE(parsed.set.has_value());
  expectPrintable(parsed);
  struct Expected {
    int line;
    int column;
    std::string columnName;
    std::string words;
  };
  const std::vector<Expected> expected = {
      {1, 2, "", "unknown column \"lis code\" in the header; did you mean \"lis_code\"?"},
      {1, 0, "", "missing column(s) lis_code in the header"},
      {2, 0, "",
       "the row has 6 columns, the header has 5: \"25-OH Vitamin D3, total\" seems to be one "
       "value with an unquoted comma; put it in double quotes, or save the file with another "
       "separator"},
      {3, 0, "", "\"1,5\" looks like one value split at its comma (a decimal comma"},
      {4, 1, "instrument_code", "column instrument_code is empty"},
      {5, 5, "decimals", "column decimals: \"x\" is not a whole number from 0 to 9"},
      {7, 3, "lis_name", "column lis_name: "},
      {8, 0, "", "the row has 4 columns, the header has 5 (a value is missing"},
      {10, 1, "instrument_code", "column instrument_code: \"SIRO\" is already mapped on line 9"},
  };
  ASSERT_EQ(parsed.problems.size(), expected.size()) << describe(parsed);
  for (size_t i = 0; i < expected.size(); ++i) {
    const MappingProblem& p = parsed.problems[i];
    SCOPED_TRACE(p.message);
    EXPECT_EQ(p.line, expected[i].line);
    EXPECT_EQ(p.column, expected[i].column);
    EXPECT_EQ(p.columnName, expected[i].columnName);
    EXPECT_NE(p.message.find(expected[i].words), std::string::npos);
  }
}

TEST(MappingSpreadsheet, RendersProblemsOnePerLine) {
  MappingParse parsed = MappingSet::parseSpreadsheet(readData("many-errors.csv"), "bad.csv");
  const std::string text = renderMappingProblems(parsed.problems, "config/mappings/bad.csv");
  EXPECT_NE(text.find("config/mappings/bad.csv:1: unknown column \"lis code\""), std::string::npos)
      << text;
  EXPECT_NE(text.find("\nconfig/mappings/bad.csv:10: column instrument_code: \"SIRO\""),
            std::string::npos)
      << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 9);
  EXPECT_EQ(renderMappingProblems({}, "x"), "");
}

TEST(MappingSpreadsheet, RendersProblemsAsTheApisJsonList) {
  EXPECT_EQ(mappingProblemsJson({}), "[]");
  EXPECT_EQ(mappingProblemsJson({{1, 2, "", "unknown column \"lis code\" in the header"},
                                 {5, 5, "decimals", "column decimals: \"x\" is not"}}),
            "[{\"line\":1,\"column\":2,\"column_name\":\"\",\"message\":\"unknown column "
            "\\\"lis code\\\" in the header\"},{\"line\":5,\"column\":5,\"column_name\":"
            "\"decimals\",\"message\":\"column decimals: \\\"x\\\" is not\"}]");
}

TEST(MappingSpreadsheet, ParseCsvReportsTheFirstProblemAndHowManyMore) {
  StatusOr<MappingSet> set = MappingSet::parseCsv(readData("many-errors.csv"), "bad.csv");
  ASSERT_FALSE(set.isOk());
  EXPECT_EQ(set.status().location(), "bad.csv:1");
  EXPECT_NE(set.status().reason().find("did you mean \"lis_code\"?"), std::string::npos);
  EXPECT_NE(set.status().reason().find("(8 more problems in the file)"), std::string::npos)
      << set.status().reason();
}

TEST(MappingSpreadsheet, SuggestsTheNearestKnownColumn) {
  auto firstProblem = [](const std::string& header) {
    MappingParse parsed = MappingSet::parseSpreadsheet(header + "\n", "h.csv");
    return parsed.problems.empty() ? std::string() : parsed.problems.front().message;
  };
  EXPECT_NE(firstProblem("Instrument Code,lis_code,lis_name,units,decimals")
                .find("did you mean \"instrument_code\"?"),
            std::string::npos);
  EXPECT_NE(firstProblem("instrument_code,lis_code,lis_name,unit,decimals")
                .find("did you mean \"units\"?"),
            std::string::npos);
  EXPECT_NE(firstProblem("instrument_code,LIS-Name,lis_code,units,decimals")
                .find("did you mean \"lis_name\"?"),
            std::string::npos);
  // Nothing near: the list of columns instead.
  const std::string far = firstProblem("instrument_code,lis_code,lis_name,units,decimals,owner");
  EXPECT_NE(far.find("unknown column \"owner\" in the header; the columns are"), std::string::npos)
      << far;
}

TEST(MappingSpreadsheet, HintsAtAnUnquotedSeparatorInOtherSeparators) {
  MappingParse parsed = MappingSet::parseSpreadsheet(
      "instrument_code;lis_code;lis_name;units;decimals\nA;LA;Name; with semicolon;u;1\n", "s.csv");
  ASSERT_EQ(parsed.problems.size(), 1u) << describe(parsed);
  EXPECT_NE(parsed.problems[0].message.find(
                "\"Name; with semicolon\" seems to be one value with an unquoted semicolon"),
            std::string::npos)
      << parsed.problems[0].message;
}

TEST(MappingSpreadsheet, ResumesAfterAQuoteNeverClosed) {
  MappingParse parsed = MappingSet::parseSpreadsheet(
      "instrument_code,lis_code,lis_name,units,decimals\nA,LA,\"open,u,1\nB,LB,N,u,x\n", "q.csv");
  ASSERT_EQ(parsed.problems.size(), 2u) << describe(parsed);
  EXPECT_EQ(parsed.problems[0].line, 2);
  EXPECT_NE(parsed.problems[0].message.find("column lis_name: quoted cell never closed"),
            std::string::npos);
  EXPECT_EQ(parsed.problems[1].line, 3);
  EXPECT_EQ(parsed.problems[1].columnName, "decimals");
}

TEST(MappingSpreadsheet, NeverEchoesUndecodableBytes) {
  // UTF-8 text (the µ) with a stray 0xFF byte, a NUL, and a byte Windows-1252 does not define.
  MappingParse mixed = MappingSet::parseSpreadsheet(
      "instrument_code,lis_code,lis_name,units,decimals\nA,LA,N\xFF,\xC2\xB5g/L,1\nB\x01,LB,N,u,\n",
      "x.csv");
  EXPECT_FALSE(mixed.set.has_value());
  expectPrintable(mixed);
  ASSERT_EQ(mixed.problems.size(), 2u) << describe(mixed);
  EXPECT_EQ(mixed.problems[0].line, 2);
  EXPECT_NE(mixed.problems[0].message.find("character 7: byte 0xFF is not UTF-8"),
            std::string::npos)
      << mixed.problems[0].message;
  EXPECT_EQ(mixed.problems[1].line, 3);
  EXPECT_NE(mixed.problems[1].message.find("character 2: control character 0x01"),
            std::string::npos)
      << mixed.problems[1].message;

  MappingParse cp1252 = MappingSet::parseSpreadsheet(
      "instrument_code,lis_code,lis_name,units,decimals\nA\x81,LA,N,u,1\n", "y.csv");
  expectPrintable(cp1252);
  ASSERT_EQ(cp1252.problems.size(), 1u) << describe(cp1252);
  EXPECT_NE(cp1252.problems[0].message.find("byte 0x81 is no character in Windows-1252"),
            std::string::npos);

  // A value quoted back in a message shows a control character as \xNN.
  MappingParse decimals = MappingSet::parseSpreadsheet(
      "instrument_code,lis_code,lis_name,units,decimals\nA,LA,N,u,\"1\x7F\"\n", "z.csv");
  expectPrintable(decimals);
  bool shown = false;
  for (const auto& p : decimals.problems) {
    shown = shown || p.message.find("\"1\\x7F\" is not a whole number") != std::string::npos;
  }
  EXPECT_TRUE(shown) << describe(decimals);
}

TEST(MappingSpreadsheet, UnpairedUtf16SurrogateIsReportedNotEchoed) {
  std::string bytes = "\xFF\xFE";
  for (char c : std::string("instrument_code,lis_code,lis_name,units,decimals\nA")) {
    bytes.push_back(c);
    bytes.push_back('\0');
  }
  bytes += std::string("\x00\xD8", 2);  // a high surrogate followed by ','
  for (char c : std::string(",LA,N,u,1\n")) {
    bytes.push_back(c);
    bytes.push_back('\0');
  }
  MappingParse parsed = MappingSet::parseSpreadsheet(bytes, "s.txt");
  ASSERT_EQ(parsed.problems.size(), 1u) << describe(parsed);
  EXPECT_EQ(parsed.problems[0].line, 2);
  EXPECT_NE(parsed.problems[0].message.find("character 2: UTF-16 unit 0xD800"), std::string::npos)
      << parsed.problems[0].message;
}

TEST(MappingSpreadsheet, StopsListingAfterAHundredProblems) {
  std::string text = "instrument_code,lis_code,lis_name,units,decimals\n";
  for (int i = 0; i < 150; ++i) text += "A" + std::to_string(i) + ",L,N,u,x\n";
  MappingParse parsed = MappingSet::parseSpreadsheet(text, "big.csv");
  ASSERT_EQ(parsed.problems.size(), 101u);
  EXPECT_EQ(parsed.problems.back().line, 0);
  EXPECT_NE(parsed.problems.back().message.find("more than 100 problems"), std::string::npos);
}

TEST(MappingSpreadsheet, AHeaderNamingNoColumnStopsThere) {
  MappingParse parsed = MappingSet::parseSpreadsheet("A,LA,N,u,1\nB,LB,N,u,1\n", "n.csv");
  ASSERT_EQ(parsed.problems.size(), 1u) << describe(parsed);
  EXPECT_NE(parsed.problems.back().message.find("the first row is not a header"), std::string::npos)
      << describe(parsed);
  for (const auto& p : parsed.problems) EXPECT_EQ(p.line, 1) << p.message;
}

// Arbitrary bytes (mutations of the test files and random noise, from a fixed seed): the parser
// never crashes, every message is printable, and a set comes back exactly when there is no
// problem.
TEST(MappingSpreadsheet, ArbitraryBytesNeverBreakTheParserOrItsMessages) {
  std::vector<std::string> seeds;
  for (const char* name : {"excel-unicode-text-utf16le.txt", "utf16be-bom.csv", "latin1.csv",
                           "semicolon.csv", "many-errors.csv"}) {
    seeds.push_back(readData(name));
  }
  std::mt19937 random(20261207);
  auto byte = [&] { return static_cast<char>(random() & 0xFF); };
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = seeds[static_cast<size_t>(round) % seeds.size()];
    const int edits = 1 + static_cast<int>(random() % 8);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const size_t at = random() % bytes.size();
      switch (random() % 4) {
        case 0:
          bytes[at] = byte();
          break;
        case 1:
          bytes.insert(at, 1, "\",;\t\r\n#\xFF\x00"[random() % 9]);
          break;
        case 2:
          bytes.erase(at, 1 + random() % 4);
          break;
        default:
          bytes.insert(at, bytes.substr(random() % bytes.size(), random() % 16));
      }
    }
    if (round % 10 == 0) {
      bytes.clear();
      for (size_t i = random() % 200; i > 0; --i) bytes.push_back(byte());
    }
    const MappingParse parsed = MappingSet::parseSpreadsheet(bytes, "fuzz.csv");
    ASSERT_EQ(parsed.set.has_value(), parsed.problems.empty()) << round;
    ASSERT_LE(parsed.problems.size(), 101u) << round;
    for (const MappingProblem& p : parsed.problems) {
      ASSERT_EQ(mappings::printable(p.message, 100000), p.message) << round;
      ASSERT_GE(p.line, 0) << round;
      ASSERT_GE(p.column, 0) << round;
    }
  }
}

}  // namespace
}  // namespace labgate
