// Tests for mappings/mapping_set: CSV parsing (header order, quoting, BOM, CRLF, comments), every
// load error with its file:line, lookups, and the findings of the mapping stage.
#include "mappings/mapping_set.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace labgate {
namespace {

const char* kHeader = "instrument_code,lis_code,lis_name,units,decimals\n";

StatusOr<MappingSet> parse(const std::string& text) { return MappingSet::parseCsv(text, "m.csv"); }

// The error's "file:line" location and reason, for compact assertions.
void expectError(const std::string& text, const std::string& location, const std::string& words) {
  auto set = parse(text);
  ASSERT_FALSE(set.isOk()) << text;
  EXPECT_EQ(set.status().code(), Status::Code::kConfig);
  EXPECT_EQ(set.status().location(), location) << set.status().toString();
  EXPECT_NE(set.status().reason().find(words), std::string::npos) << set.status().toString();
}

TEST(MappingSetParse, ReadsRowsInFileOrder) {
  auto set = parse(std::string(kHeader) +
                   "25OHD3,VD25D3,25-OH Vitamin D3,ng/mL,1\n"
                   "TAC,TACRO,Tacrolimus,ng/mL,\n");
  ASSERT_TRUE(set.isOk()) << set.status().toString();
  EXPECT_EQ(set->size(), 2u);
  EXPECT_EQ(set->source(), "m.csv");
  const Mapping* m = set->find("25OHD3");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->lisCode, "VD25D3");
  EXPECT_EQ(m->lisName, "25-OH Vitamin D3");
  EXPECT_EQ(m->units, "ng/mL");
  EXPECT_EQ(m->decimals, 1);
  EXPECT_EQ(set->find("TAC")->decimals, -1);
  EXPECT_EQ(set->mappings()[1].instrumentCode, "TAC");
}

TEST(MappingSetParse, FindTrimsButIsCaseSensitive) {
  auto set = parse(std::string(kHeader) + "  TAC  , TACRO ,Tacrolimus,ng/mL,2\n");
  ASSERT_TRUE(set.isOk()) << set.status().toString();
  EXPECT_NE(set->find(" TAC\t"), nullptr);
  EXPECT_EQ(set->find("TAC")->lisCode, "TACRO");
  EXPECT_EQ(set->find("tac"), nullptr);
  EXPECT_EQ(set->find("TACX"), nullptr);
}

TEST(MappingSetParse, TakesColumnsInTheHeadersOrder) {
  auto set = parse(" Decimals ,UNITS,lis_name,lis_code,instrument_code\n0,ug/dL,Cortisol,CORT,F\n");
  ASSERT_TRUE(set.isOk()) << set.status().toString();
  const Mapping* m = set->find("F");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->lisCode, "CORT");
  EXPECT_EQ(m->lisName, "Cortisol");
  EXPECT_EQ(m->units, "ug/dL");
  EXPECT_EQ(m->decimals, 0);
}

TEST(MappingSetParse, HandlesQuoting) {
  auto set = parse(std::string(kHeader) +
                   "\"1,25D\",\"VD125\",\"1,25-Dihydroxyvitamin D \"\"active\"\"\",pg/mL,\"0\"\n"
                   "\"#HASH\",H,\"two\nlines\",,\n"
                   "X,Y, \"spaced\" ,,\n");
  ASSERT_TRUE(set.isOk()) << set.status().toString();
  EXPECT_EQ(set->find("1,25D")->lisName, "1,25-Dihydroxyvitamin D \"active\"");
  EXPECT_EQ(set->find("1,25D")->decimals, 0);
  EXPECT_EQ(set->find("#HASH")->lisName, "two\nlines");
  EXPECT_EQ(set->find("X")->lisName, "spaced");
}

TEST(MappingSetParse, AcceptsBomCrlfCommentsAndBlankLines) {
  auto set = parse(
      "\xEF\xBB\xBF# LC-MS/MS panel\r\n"
      "\r\n"
      "instrument_code,lis_code,lis_name,units,decimals\r\n"
      "  # a comment inside\r\n"
      "A,LA,Analyte A,nmol/L,1\r\n"
      "   \r\n"
      "B,LB,Analyte B,nmol/L,2");  // no final line break
  ASSERT_TRUE(set.isOk()) << set.status().toString();
  EXPECT_EQ(set->size(), 2u);
  EXPECT_EQ(set->find("A")->units, "nmol/L");
  EXPECT_EQ(set->find("B")->decimals, 2);
}

TEST(MappingSetParse, AcceptsAHeaderWithoutRows) {
  auto set = parse(kHeader);
  ASSERT_TRUE(set.isOk());
  EXPECT_EQ(set->size(), 0u);
}

TEST(MappingSetErrors, NameFileLineColumnAndProblem) {
  const std::string h = kHeader;
  expectError("", "m.csv:1", "no header row");
  expectError("# only a comment\n", "m.csv:1", "no header row");
  expectError("instrument_code,lis_code,lis_name,units,decimals,comment,owner\n", "m.csv:1",
              "unknown column \"comment\" in the header");
  expectError("instrument_code,lis_code,lis_name,units\n", "m.csv:1", "missing column(s) decimals");
  expectError("instrument_code,lis_code,lis_code,units,decimals\n", "m.csv:1",
              "column lis_code appears twice");
  expectError("instrument_code,lis_code,,lis_name,units,decimals\n", "m.csv:1",
              "column 3 of the header has no name");
  expectError("\n# c\n" + h + "A,LA,N,u,1\nA,LB,N,u,1\n", "m.csv:5",
              "column instrument_code: \"A\" is already mapped on line 4");
  expectError(h + "A,LA,N,u,1\n,LB,N,u,1\n", "m.csv:3", "column instrument_code is empty");
  expectError(h + "A, ,N,u,1\n", "m.csv:2", "column lis_code is empty");
  expectError(h + "A,LA,N,u,x\n", "m.csv:2", "column decimals: \"x\" is not a whole number");
  expectError(h + "A,LA,N,u,10\n", "m.csv:2", "column decimals: \"10\"");
  expectError(h + "A,LA,N,u,-1\n", "m.csv:2", "column decimals");
  expectError(h + "A,LA,N,u,1.5\n", "m.csv:2", "column decimals");
  expectError(h + "A,LA,N,u\n", "m.csv:2", "the row has 4 columns, the header has 5");
  expectError(h + "A,LA,N,u,1,extra\n", "m.csv:2", "the row has 6 columns, the header has 5");
  expectError(h + "A,LA,\"open,u,1\nB,LB,N,u,1\n", "m.csv:2",
              "column lis_name: quoted cell never closed before the end of the file");
  expectError(h + "A,LA,\"N\"x,u,1\n", "m.csv:2", "column lis_name: text after the closing quote");
  expectError(h + "A,LA,5\" vial,u,1\n", "m.csv:2", "column lis_name: a quote inside");
}

TEST(MappingSetErrors, CountLinesInsideQuotedValuesAndCrlf) {
  expectError(std::string("instrument_code,lis_code,lis_name,units,decimals\r\n") +
                  "A,LA,\"multi\r\nline\",u,1\r\nB,LB,N,u,bad\r\n",
              "m.csv:4", "column decimals");
}

TEST(MappingSetLoad, ReadsAFileAndReportsAMissingOne) {
  auto path = std::filesystem::temp_directory_path() / "labgate_mapping_set_test.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << kHeader << "A,LA,Analyte A,u,\nA,LA,Analyte A,u,\n";
  }
  auto set = MappingSet::loadCsv(path.string());
  ASSERT_FALSE(set.isOk());
  EXPECT_EQ(set.status().location(), path.string() + ":3");
  {
    std::ofstream out(path, std::ios::binary);
    out << kHeader << "A,LA,Analyte A,u,\n";
  }
  set = MappingSet::loadCsv(path.string());
  ASSERT_TRUE(set.isOk()) << set.status().toString();
  EXPECT_EQ(set->source(), path.string());
  std::filesystem::remove(path);

  auto missing = MappingSet::loadCsv(path.string());
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
}

TEST(MappingSetLoad, ParsesTheShippedExample) {
  auto set =
      MappingSet::loadCsv(std::string(LABGATE_SOURCE_DIR) + "/config/mappings/example-lcmsms.csv");
  ASSERT_TRUE(set.isOk()) << set.status().toString();
  EXPECT_GE(set->size(), 10u);
  EXPECT_NE(set->find("TACRO"), nullptr);
}

Message messageWith(std::vector<Result> results) {
  Message msg;
  Sample s;
  s.sampleId = "S1";
  s.results = std::move(results);
  msg.samples.push_back(std::move(s));
  return msg;
}

Result result(std::string code, std::string units) {
  Result r;
  r.instrumentCode = std::move(code);
  r.units = std::move(units);
  r.value = "1";
  return r;
}

MappingSet exampleSet() {
  auto set = parse(std::string(kHeader) + "TAC,TACRO,Tacrolimus,ng/mL,1\nCORT,CORT,Cortisol,,0\n");
  EXPECT_TRUE(set.isOk());
  return set.value();
}

TEST(ApplyMappings, SetsCodesNameAndDecimals) {
  Message msg = messageWith({result("TAC", "ng/mL")});
  applyMappings(msg, exampleSet());
  const Result& r = msg.samples[0].results[0];
  EXPECT_EQ(r.lisCode, "TACRO");
  EXPECT_EQ(r.lisName, "Tacrolimus");
  EXPECT_EQ(r.decimals, 1);
  EXPECT_TRUE(r.findings.empty());
}

TEST(ApplyMappings, FillsEmptyUnitsAndComparesOthersCaseInsensitively) {
  Message msg = messageWith({result("TAC", ""), result("TAC", " NG/ML "), result("TAC", "ug/L"),
                             result("CORT", "nmol/L")});
  applyMappings(msg, exampleSet());
  const auto& rs = msg.samples[0].results;
  EXPECT_EQ(rs[0].units, "ng/mL");
  EXPECT_TRUE(rs[0].findings.empty());
  EXPECT_TRUE(rs[1].findings.empty());
  ASSERT_EQ(rs[2].findings.size(), 1u);
  const Finding& f = rs[2].findings[0];
  EXPECT_EQ(f.ruleId, "mapping.units_mismatch");
  EXPECT_EQ(f.severity, Severity::kWarning);
  EXPECT_EQ(f.subject, "result");
  EXPECT_EQ(f.measured, "ug/L");
  EXPECT_EQ(f.limit, "ng/mL");
  EXPECT_EQ(rs[2].units, "ug/L");       // kept; the finding tells QA
  EXPECT_TRUE(rs[3].findings.empty());  // the mapping has no units to compare with
}

TEST(ApplyMappings, ReportsUnmappedCodesAndIsIdempotent) {
  Message msg = messageWith({result("EVERO", "ng/mL")});
  msg.samples[0].results[0].lisCode = "STALE";
  msg.samples[0].results[0].decimals = 3;
  applyMappings(msg, exampleSet());
  applyMappings(msg, exampleSet());
  const Result& r = msg.samples[0].results[0];
  EXPECT_EQ(r.lisCode, "");
  EXPECT_EQ(r.decimals, -1);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].ruleId, "mapping.unmapped");
  EXPECT_EQ(r.findings[0].severity, Severity::kWarning);
  EXPECT_EQ(r.findings[0].subject, "result");
  EXPECT_EQ(r.findings[0].message, "no mapping for the instrument code");
  EXPECT_EQ(r.findings[0].measured, "EVERO");
}

TEST(ApplyMappings, KeepsOtherStagesFindings) {
  Message msg = messageWith({result("EVERO", "")});
  msg.samples[0].results[0].findings.push_back(
      {"peak.rt_shift", Severity::kError, "result", "retention time shift", "2.1", "0.1"});
  applyMappings(msg, MappingSet());
  ASSERT_EQ(msg.samples[0].results[0].findings.size(), 2u);
  EXPECT_EQ(msg.samples[0].results[0].findings[0].ruleId, "peak.rt_shift");
}

}  // namespace
}  // namespace labgate
