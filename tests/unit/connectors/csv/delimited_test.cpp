// The delimited reader (quotes, line ends, delimiters, errors) and the export value parsers the
// delimited formats use (numbers in both locales, missing tokens, date-times).
#include "connectors/csv/delimited.h"

#include <gtest/gtest.h>

#include <sstream>

namespace labgate::csv {
namespace {

struct Rows {
  std::vector<Row> rows;
  Status status;
  char delimiter = 0;
};

Rows readAll(const std::string& text, char delimiter = 0, size_t maxRow = 4 << 20) {
  std::istringstream in(text);
  TextReader reader(in);
  DelimitedReader rows(reader, delimiter, maxRow);
  Rows out;
  Row row;
  while (true) {
    StatusOr<bool> got = rows.next(row);
    if (!got.isOk()) {
      out.status = got.status();
      break;
    }
    if (!got.value()) break;
    out.rows.push_back(row);
  }
  out.delimiter = rows.delimiter();
  return out;
}

TEST(Delimited, QuotesAndEscapes) {
  Rows r = readAll("a,\"b,c\",\"say \"\"hi\"\"\",\n");
  ASSERT_TRUE(r.status.isOk());
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].cells, (std::vector<std::string>{"a", "b,c", "say \"hi\"", ""}));
}

TEST(Delimited, NewlineInQuotesKeepsLineNumbers) {
  Rows r = readAll("h1,h2\n\"two\nlines\",x\r\nnext,y\n");
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[1].cells[0], "two\nlines");
  EXPECT_EQ(r.rows[1].line, 2);
  EXPECT_EQ(r.rows[2].line, 4);
}

TEST(Delimited, LineEnds) {
  for (const char* text : {"a,b\r\nc,d\r\n", "a,b\rc,d\r", "a,b\nc,d", "a,b\r\nc,d"}) {
    Rows r = readAll(text);
    ASSERT_EQ(r.rows.size(), 2u) << text;
    EXPECT_EQ(r.rows[1].cells, (std::vector<std::string>{"c", "d"})) << text;
    EXPECT_EQ(r.rows[1].line, 2) << text;
  }
}

TEST(Delimited, BlankLinesAreEmptyRows) {
  Rows r = readAll("a\n\nb\n");
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_TRUE(r.rows[1].cells.empty());
  EXPECT_TRUE(r.rows[1].blank());
  EXPECT_EQ(r.rows[2].line, 3);
}

TEST(Delimited, DetectsDelimiter) {
  EXPECT_EQ(readAll("a\tb,c\n1\t2\n").delimiter, '\t');
  EXPECT_EQ(readAll("a;b;c,d\n").delimiter, ';');
  EXPECT_EQ(readAll("a,b\n").delimiter, ',');
  EXPECT_EQ(readAll("\"a;b;c\",d\n").delimiter, ',');  // quoted text does not count
  EXPECT_EQ(detectDelimiter("x;\"1,2\";y"), ';');
  Rows r = readAll("a;\"1,5\";c\n");
  EXPECT_EQ(r.rows[0].cells, (std::vector<std::string>{"a", "1,5", "c"}));
}

TEST(Delimited, UnterminatedQuoteNamesItsLine) {
  Rows r = readAll("h\nok\n\"never closed\nmore\n");
  ASSERT_FALSE(r.status.isOk());
  EXPECT_EQ(r.status.code(), Status::Code::kInvalid);
  EXPECT_EQ(r.status.location(), "line 3");
  EXPECT_NE(r.status.reason().find("never closed"), std::string::npos);
}

TEST(Delimited, RowTooLong) {
  Rows r = readAll("a,b\n" + std::string(200, 'x') + "\n", 0, 100);
  ASSERT_FALSE(r.status.isOk());
  EXPECT_EQ(r.status.location(), "line 2");
  EXPECT_NE(r.status.reason().find("longer than 100 bytes"), std::string::npos);
}

TEST(Delimited, QuoteAndCrlfAcrossChunkBoundary) {
  const size_t chunk = 64 * 1024;
  std::string text = "\"" + std::string(chunk - 2, 'x') + "\"\"\",b\r\nc,d\r\n";
  Rows r = readAll(text);
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].cells[0], std::string(chunk - 2, 'x') + "\"");
  EXPECT_EQ(r.rows[1].line, 2);
  // A CR LF inside quotes split by the chunk boundary is one line end.
  std::string quoted = "\"" + std::string(chunk - 2, 'y') + "\r\nz\",q\nnext\n";
  r = readAll(quoted);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[1].line, 3);
}

TEST(ExportValues, Numbers) {
  EXPECT_EQ(*parseNumber("3.422"), 3.422);
  EXPECT_EQ(*parseNumber(" -1.5e3 "), -1500);
  EXPECT_EQ(*parseNumber("1,234"), 1234);
  EXPECT_EQ(*parseNumber("1,234,567.5"), 1234567.5);
  EXPECT_EQ(*parseNumber("9,754", true), 9.754);
  EXPECT_EQ(*parseNumber("1.234,5", true), 1234.5);
  EXPECT_EQ(*parseNumber("0,056", true), 0.056);
  EXPECT_FALSE(parseNumber("0,056"));  // never 56 with a point decimal
  EXPECT_FALSE(parseNumber("0.056", true));
  EXPECT_FALSE(parseNumber("12,34"));  // not a group of three
  EXPECT_FALSE(parseNumber("1,2345"));
  for (const char* missing :
       {"", "  ", "N/A", "n/a", "NA", "NF", "#N/A", "NaN", "degenerate", "No Peak", "< 0", "-"}) {
    EXPECT_FALSE(parseNumber(missing)) << missing;
    EXPECT_TRUE(isMissingToken(missing)) << missing;
  }
  EXPECT_FALSE(parseNumber("12abc"));
  EXPECT_FALSE(parseNumber("inf"));
}

TEST(ExportValues, DateTimes) {
  using O = DateOrder;
  EXPECT_EQ(*parseDateTime("4/19/2018 6:37 PM", O::kAuto), "2018-04-19T18:37");
  EXPECT_EQ(*parseDateTime("4/20/2018 12:05 AM", O::kAuto), "2018-04-20T00:05");
  EXPECT_EQ(*parseDateTime("26/11/2024 3:05 pm", O::kAuto), "2024-11-26T15:05");
  EXPECT_EQ(*parseDateTime("27.06.2022 11:01", O::kAuto), "2022-06-27T11:01");
  EXPECT_EQ(*parseDateTime("2024-11-26 15:05:00", O::kAuto), "2024-11-26T15:05:00");
  EXPECT_EQ(*parseDateTime("1/20/25 17:00", O::kAuto), "2025-01-20T17:00");
  EXPECT_EQ(*parseDateTime("3/8/23 19:39", O::kDmy), "2023-08-03T19:39");
  EXPECT_EQ(*parseDateTime("3/8/23", O::kMdy), "2023-03-08");
  EXPECT_FALSE(parseDateTime("13/13/2020", O::kAuto));
  EXPECT_FALSE(parseDateTime("4/19/2018 13:37 PM", O::kAuto));
  EXPECT_FALSE(parseDateTime("3.422", O::kAuto));
  EXPECT_FALSE(parseDateTime("yesterday", O::kAuto));
}

TEST(ExportValues, SampleKinds) {
  EXPECT_EQ(*sampleKindFromVendor("Cal"), SampleKind::kCalibrator);
  EXPECT_EQ(*sampleKindFromVendor("QC"), SampleKind::kQc);
  EXPECT_EQ(*sampleKindFromVendor("DoubleBlank"), SampleKind::kDoubleBlank);
  EXPECT_EQ(*sampleKindFromVendor("Matrix Blank"), SampleKind::kBlank);
  EXPECT_EQ(*sampleKindFromVendor("ResponseCheck"), SampleKind::kSystemSuitability);
  EXPECT_EQ(*sampleKindFromVendor("CC"), SampleKind::kQc);
  EXPECT_EQ(*sampleKindFromVendor("Sample"), SampleKind::kUnknown);
  EXPECT_FALSE(sampleKindFromVendor("Patient"));
}

}  // namespace
}  // namespace labgate::csv
