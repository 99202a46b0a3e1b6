// The layout-driven delimited format: layout validation at factory time, and parsing.
#include "connectors/csv/layout.h"

#include <gtest/gtest.h>

#include "connectors/csv/formats.h"
#include "tests/unit/connectors/csv/export_test_util.h"
#include "util/layout_fields.h"

namespace labgate::csv {
namespace {

using labgate::testing::parseExportFile;
using labgate::testing::parseExportText;
using labgate::testing::testDataPath;

TEST(Layout, ParsesRowsIntoSamples) {
  StatusOr<Message> m =
      parseExportFile(layoutFormat(), testDataPath("csv/layout_rows.csv"),
                      {{"layout", "csv/layout_basic.json"}}, nullptr, testDataPath(""));
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  ASSERT_EQ(m.value().samples.size(), 2u);
  const Sample& k1 = m.value().samples[0];
  EXPECT_EQ(k1.sampleId, "K1");
  EXPECT_EQ(k1.kind, SampleKind::kCalibrator);  // "KAL" from the layout's sample_kinds
  EXPECT_EQ(k1.acquiredAt, "2025-03-02T08:10");
  EXPECT_EQ(k1.location, "line 4");
  ASSERT_EQ(k1.results.size(), 3u);  // Testo, Cort and (later row) Andro
  EXPECT_EQ(k1.results[0].instrumentCode, "Testo");
  EXPECT_DOUBLE_EQ(*k1.results[0].numeric, 1.5);
  EXPECT_EQ(k1.results[0].units, "ng/mL");
  EXPECT_DOUBLE_EQ(*k1.results[0].peak->area, 1234.5);
  EXPECT_DOUBLE_EQ(*k1.results[0].peak->retentionTime, 2.51);
  EXPECT_DOUBLE_EQ(*k1.results[0].peak->internalStandardArea, 50000);
  EXPECT_EQ(k1.results[0].location, "line 4 column 3");
  EXPECT_FALSE(k1.results[1].numeric);  // N/A
  EXPECT_FALSE(k1.results[1].peak->area);
  EXPECT_EQ(k1.results[2].instrumentCode, "Andro");
  const Sample& q1 = m.value().samples[1];
  EXPECT_EQ(q1.kind, SampleKind::kQc);  // "Kontrolle": case is ignored
  EXPECT_DOUBLE_EQ(*q1.results[0].numeric, 0.056);
}

TEST(Layout, MissingHeaderColumnNamesIt) {
  std::string layoutDir = ::testing::TempDir();
  std::string path = layoutDir + "/l1.json";
  {
    std::ofstream(path) << R"({"version":1,"columns":{"sample_id":"Sample","analyte":"Analyte",
      "area":"Area"}})";
  }
  StatusOr<Message> m =
      parseExportText(layoutFormat(), "Sample,Analyte,Conc\nS1,A,1\n", {{"layout", path}});
  ASSERT_FALSE(m.isOk());
  EXPECT_EQ(m.status().toString(),
            "line 1: column \"Area\" named by the layout is not in the header");
}

struct BadLayout {
  const char* json;
  const char* reason;
};

TEST(Layout, FactoryValidatesStrictly) {
  const BadLayout cases[] = {
      {R"({"columns":{"sample_id":"S","analyte":"A"}})", "version: required"},
      {R"({"version":2,"columns":{"sample_id":"S","analyte":"A"}})", "version: must be 1"},
      {R"({"version":1,"columns":{"analyte":"A"}})", "columns.sample_id: required"},
      {R"({"version":1,"columns":{"sample_id":"S"}})", "columns.analyte: required"},
      {R"({"version":1,"columns":{"sample_id":"S","analyte":"A","colour":"C"}})",
       "columns.colour: not a field a layout can name"},
      {R"({"version":1,"columns":{"sample_id":"","analyte":"A"}})",
       "columns.sample_id: must be a non-empty column header"},
      {R"({"version":1,"delimiter":"|","columns":{"sample_id":"S","analyte":"A"}})",
       "delimiter: must be"},
      {R"({"version":1,"header_line":0,"columns":{"sample_id":"S","analyte":"A"}})",
       "header_line: must be a line number from 1"},
      {R"({"version":1,"decimal":"dot","columns":{"sample_id":"S","analyte":"A"}})",
       "decimal: must be point, comma or auto"},
      {R"({"version":1,"date_format":"dd.mm","columns":{"sample_id":"S","analyte":"A"}})",
       "date_format: must be"},
      {R"({"version":1,"encoding":"ebcdic","columns":{"sample_id":"S","analyte":"A"}})",
       "encoding: unknown encoding"},
      {R"({"version":1,"sample_kinds":{"X":"patient"},"columns":{"sample_id":"S","analyte":"A"}})",
       "sample_kinds.X: must be"},
      {R"({"version":1,"wide":true,"columns":{"sample_id":"S","analyte":"A"}})",
       "wide: unknown key; known keys are columns, date_format, decimal, delimiter, encoding, "
       "header_line, listed_in_run_order, sample_kinds, version"},
      {R"({"version":1,)", "(file): not valid JSON"},
  };
  for (const BadLayout& c : cases) {
    StatusOr<Layout> l = parseLayout("config/layouts/x.json", c.json);
    ASSERT_FALSE(l.isOk()) << c.json;
    EXPECT_EQ(l.status().code(), Status::Code::kConfig);
    EXPECT_EQ(l.status().location(), "config/layouts/x.json");
    EXPECT_EQ(l.status().reason().rfind(c.reason, 0), 0u) << l.status().reason();
  }
}

// The CSV and XML layouts read one list of fields and one vocabulary of flag words
// (util/layout_fields.h, util/flags.h); xml/layout_test.cpp pins the same for the XML layout.
TEST(Layout, AcceptsEveryCanonicalFieldTheXmlLayoutAccepts) {
  for (const std::string& field : util::layoutFields()) {
    StatusOr<Layout> l =
        parseLayout("x.json", R"({"version":1,"columns":{"sample_id":"S","analyte":"A",")" + field +
                                  R"(":"C"}})");
    EXPECT_TRUE(l.isOk()) << field << ": " << l.status().toString();
  }
}

TEST(Layout, ManualIsAManualIntegrationAsInTheXmlLayout) {
  std::string path = ::testing::TempDir() + "/manual.json";
  {
    std::ofstream(path) << R"({"version":1,"columns":{"sample_id":"Sample","analyte":"Analyte",
      "quantifier_area":"Q","manual_integration":"MI"}})";
  }
  StatusOr<Message> m = parseExportText(
      layoutFormat(), "Sample,Analyte,Q,MI\nS1,A,10,manual\nS1,B,20,auto\n", {{"layout", path}});
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  ASSERT_EQ(m.value().samples.size(), 1u);
  const std::vector<Result>& results = m.value().samples[0].results;
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[0].peak);
  EXPECT_TRUE(results[0].peak->manualIntegration);  // was automatic before util/flags.h
  ASSERT_TRUE(results[1].peak);
  EXPECT_FALSE(results[1].peak->manualIntegration);
}

// Issue 20: a generic export can give the injection number, the final concentration and the
// analyst's calibrator exclusions, and the lab can declare that its rows are in run order.
TEST(Layout, InjectionFinalConcentrationExclusionAndRunOrder) {
  std::string path = ::testing::TempDir() + "/ordered.json";
  {
    std::ofstream(path) << R"({"version":1,"listed_in_run_order":true,"columns":{
      "sample_id":"Sample","sample_type":"Type","analyte":"Analyte","value":"Conc",
      "injection":"Inj","final_concentration":"Final","calculated_concentration":"Calc",
      "excluded_from_curve":"Excl"}})";
  }
  StatusOr<Message> m = parseExportText(layoutFormat(),
                                        "Sample,Type,Analyte,Conc,Inj,Final,Calc,Excl\n"
                                        "C1,Cal,A,1.1,7,1.1,1.1,yes\n"
                                        "C2,Cal,A,2.0,8,2.0,2.0,no\n"
                                        "P1,Sample,A,8.0,9,8.0,4.0,yes\n",
                                        {{"layout", path}});
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_TRUE(m->listedInRunOrder);
  ASSERT_EQ(m->samples.size(), 3u);
  EXPECT_EQ(m->samples[0].injection, 7);
  EXPECT_EQ(m->samples[2].injection, 9);
  EXPECT_TRUE(m->samples[0].results[0].peak->excludedFromCurve);
  EXPECT_FALSE(m->samples[1].results[0].peak->excludedFromCurve);
  EXPECT_FALSE(m->samples[2].results[0].peak->excludedFromCurve);  // not a calibrator
  EXPECT_DOUBLE_EQ(*m->samples[2].results[0].peak->finalConcentration, 8.0);
  EXPECT_DOUBLE_EQ(*m->samples[2].results[0].peak->calculatedConcentration, 4.0);

  // Without the key, nothing says the rows are in run order.
  StatusOr<Layout> plain =
      parseLayout("x.json", R"({"version":1,"columns":{"sample_id":"S","analyte":"A"}})");
  ASSERT_TRUE(plain.isOk());
  EXPECT_FALSE(plain->listedInRunOrder);
  StatusOr<Layout> bad = parseLayout(
      "x.json",
      R"({"version":1,"listed_in_run_order":"yes","columns":{"sample_id":"S","analyte":"A"}})");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().reason().find("listed_in_run_order: must be true or false"),
            std::string::npos)
      << bad.status().reason();
}

TEST(Layout, FactoryNeedsTheLayoutKeyAndFile) {
  ExportSettings s;
  s.keyPrefix = "connector.lab.";
  auto f = layoutFormat().factory(s);
  ASSERT_FALSE(f.isOk());
  EXPECT_EQ(f.status().location(), "connector.lab.layout");
  s.keys["layout"] = "layouts/none.json";
  s.configDir = "/nonexistent";
  f = layoutFormat().factory(s);
  ASSERT_FALSE(f.isOk());
  EXPECT_EQ(f.status().location(), "/nonexistent/layouts/none.json");
  EXPECT_FALSE(layoutFormat().detect);
  EXPECT_EQ(layoutFormat().keys.back(), "layout");
}

TEST(Layout, RowWidthAndEmptyIdAreErrors) {
  std::string path = ::testing::TempDir() + "/l2.json";
  { std::ofstream(path) << R"({"version":1,"columns":{"sample_id":"S","analyte":"A"}})"; }
  StatusOr<Message> m = parseExportText(layoutFormat(), "S,A\nx,y\nz\n", {{"layout", path}});
  ASSERT_FALSE(m.isOk());
  EXPECT_EQ(m.status().toString(), "line 3: row has 1 cells, header has 2");
  m = parseExportText(layoutFormat(), "S,A\n,y\n", {{"layout", path}});
  ASSERT_FALSE(m.isOk());
  EXPECT_EQ(m.status().location(), "line 2 column 1");
  m = parseExportText(layoutFormat(), "S,A\n", {{"layout", path}});
  ASSERT_FALSE(m.isOk());
  EXPECT_EQ(m.status().reason(), "no sample rows");
}

}  // namespace
}  // namespace labgate::csv
