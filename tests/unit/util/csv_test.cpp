#include "util/csv.h"

#include <gtest/gtest.h>

namespace labgate::util {
namespace {

using Cells = std::vector<std::string>;

std::vector<CsvRow> readAll(std::string_view text, CsvOptions options = {}) {
  CsvReader reader = CsvReader::fromText(text, options);
  std::vector<CsvRow> rows;
  CsvRow row;
  CsvReader::Result result;
  while ((result = reader.next(row)) == CsvReader::Result::kRow) rows.push_back(row);
  EXPECT_EQ(result, CsvReader::Result::kEnd) << reader.error().message;
  return rows;
}

CsvError errorOf(std::string_view text, CsvOptions options = {}) {
  CsvReader reader = CsvReader::fromText(text, options);
  CsvRow row;
  CsvReader::Result result;
  while ((result = reader.next(row)) == CsvReader::Result::kRow) {
  }
  EXPECT_EQ(result, CsvReader::Result::kError);
  return reader.error();
}

TEST(CsvReader, QuotedFieldsDoubledQuotesDelimitersAndNewlines) {
  auto rows = readAll("a,\"b,c\",\"say \"\"hi\"\"\"\n\"two\nlines\",x,\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].cells, (Cells{"a", "b,c", "say \"hi\""}));
  EXPECT_EQ(rows[0].line, 1);
  EXPECT_EQ(rows[1].cells, (Cells{"two\nlines", "x", ""}));
  EXPECT_EQ(rows[1].line, 2);
}

TEST(CsvReader, CrLfAndLfAndLineNumbersAfterEmbeddedNewlines) {
  auto rows = readAll("h1,h2\r\n\"a\r\nb\",c\r\n\r\nd,e");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].cells, (Cells{"a\r\nb", "c"}));
  EXPECT_EQ(rows[2].cells, Cells{});  // a blank line: no cells
  EXPECT_EQ(rows[2].line, 4);
  EXPECT_EQ(rows[3].cells, (Cells{"d", "e"}));
  EXPECT_EQ(rows[3].line, 5);
}

TEST(CsvReader, ConfigurableAndDetectedDelimiter) {
  CsvOptions tsv;
  tsv.delimiter = '\t';
  EXPECT_EQ(readAll("a\tb,c\n", tsv)[0].cells, (Cells{"a", "b,c"}));
  CsvOptions detect;
  detect.delimiter = 0;
  EXPECT_EQ(readAll("a;b;c,d\n1;2;3\n", detect)[1].cells, (Cells{"1", "2", "3"}));
  EXPECT_EQ(detectDelimiter("a\tb"), '\t');
  EXPECT_EQ(detectDelimiter("\"a;b;c\",d"), ',');
}

TEST(CsvReader, ChunksSplitAnywhereGiveTheSameRows) {
  const std::string text = "x,\"q\"\"uo\r\nte\"\r\ny,z\r\n";
  size_t at = 0;
  CsvReader reader([&](std::string& out) {
    if (at >= text.size()) return false;
    out += text[at++];  // one byte at a time
    return true;
  });
  CsvRow row;
  ASSERT_EQ(reader.next(row), CsvReader::Result::kRow);
  EXPECT_EQ(row.cells, (Cells{"x", "q\"uo\r\nte"}));
  ASSERT_EQ(reader.next(row), CsvReader::Result::kRow);
  EXPECT_EQ(row.cells, (Cells{"y", "z"}));
  EXPECT_EQ(row.line, 3);
  EXPECT_EQ(reader.next(row), CsvReader::Result::kEnd);
}

TEST(CsvReader, ByteOrderMarkDropped) {
  EXPECT_EQ(readAll("\xEF\xBB\xBFname,value\n")[0].cells, (Cells{"name", "value"}));
}

TEST(CsvReader, LenientQuotesAsVendorsWriteThem) {
  EXPECT_EQ(readAll("5\" vial,\"a\"b\n")[0].cells, (Cells{"5\" vial", "ab"}));
}

TEST(CsvReader, StrictQuotes) {
  CsvOptions strict;
  strict.strictQuotes = true;
  EXPECT_EQ(readAll("  \"a, b\"  ,c\n", strict)[0].cells, (Cells{"a, b", "c"}));
  CsvError e = errorOf("x,y\nok,5\" vial\n", strict);
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 1u);
  EXPECT_EQ(e.message,
            "a quote inside an unquoted value (quote the whole value and double the quotes "
            "inside it)");
  e = errorOf("\"a\" b,c\n", strict);
  EXPECT_EQ(e.message, "text after the closing quote");
  EXPECT_EQ(e.column, 0u);
}

TEST(CsvReader, UnclosedQuoteAndOverlongRowNameTheLineTheRowStartsOn) {
  CsvError e = errorOf("a\nb,\"never\nclosed\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.message, "quoted cell never closed before the end of the file");
  CsvOptions small;
  small.maxRowBytes = 8;
  e = errorOf("ok\n0123456789\n", small);
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.message, "row longer than 8 bytes (an unclosed quote?)");
}

TEST(CsvReader, CommentAndBlankLinesSkipped) {
  CsvOptions options;
  options.comment = '#';
  auto rows = readAll("# a \"comment\"\n\n  \t\na,b\n  # another\nc,d\n", options);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].line, 4);
  EXPECT_EQ(rows[1].cells, (Cells{"c", "d"}));
  EXPECT_EQ(rows[1].line, 6);
}

TEST(CsvQuote, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(csvQuote("plain"), "plain");
  EXPECT_EQ(csvQuote("a,b"), "\"a,b\"");
  EXPECT_EQ(csvQuote("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csvQuote("a\tb", '\t'), "\"a\tb\"");
}

}  // namespace
}  // namespace labgate::util
