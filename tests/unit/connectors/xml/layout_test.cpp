// The layout-driven generic XML format (connectors/xml/layout.cpp): an invented export and its
// layout, and layout files that are refused at start-up naming the key.
#include <gtest/gtest.h>

#include "connectors/xml/formats.h"
#include "tests/unit/connectors/xml/export_loop.h"
#include "util/layout_fields.h"

namespace labgate::xml {
namespace {

using testing::makeFormat;
using testing::runExport;
using testing::testData;

TEST(XmlLayout, InventedBatchThroughItsLayout) {
  auto format = makeFormat(xmlLayoutFormat(), {{"layout", "lab_batch_layout.json"}});
  ASSERT_TRUE(format.isOk()) << format.status().toString();
  std::vector<Record> records;
  auto message = runExport(*format.value(), testData("lab_batch.xml"), {}, &records);
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  EXPECT_EQ(records.size(), 13u);
  EXPECT_EQ(message->sender, "Generic TQ");
  ASSERT_EQ(message->samples.size(), 2u);

  const Sample& cal = message->samples[0];
  EXPECT_EQ(cal.sampleId, "B12-CAL2");
  EXPECT_EQ(cal.kind, SampleKind::kCalibrator);  // "Calibrant" through sample_kinds
  EXPECT_EQ(cal.level, "L2");
  EXPECT_EQ(cal.dilution, 1.0);  // "1,0" with decimal comma
  EXPECT_EQ(cal.position, "P1-A2");
  EXPECT_EQ(cal.acquiredAt, "2024-11-26T15:05");
  EXPECT_EQ(cal.dataFile, "b12_cal2.raw");
  EXPECT_EQ(cal.location, "line 4");
  ASSERT_EQ(cal.results.size(), 1u);
  const Result& cortisol = cal.results[0];
  EXPECT_EQ(cortisol.instrumentCode, "Cortisol");
  EXPECT_EQ(cortisol.value, "98,7");
  EXPECT_DOUBLE_EQ(*cortisol.numeric, 98.7);
  EXPECT_EQ(cortisol.units, "nmol/L");
  EXPECT_EQ(cortisol.location, "line 7");
  ASSERT_TRUE(cortisol.peak);
  EXPECT_DOUBLE_EQ(*cortisol.peak->retentionTime, 2.51);
  EXPECT_DOUBLE_EQ(*cortisol.peak->area, 12345.5);
  EXPECT_EQ(cortisol.peak->internalStandard, "Cortisol-d4");
  EXPECT_DOUBLE_EQ(*cortisol.peak->internalStandardArea, 50000.0);
  EXPECT_FALSE(cortisol.peak->manualIntegration);
  EXPECT_DOUBLE_EQ(*cortisol.peak->expectedConcentration, 100.0);

  const Sample& patient = message->samples[1];
  EXPECT_EQ(patient.sampleId, "S-000123");
  EXPECT_EQ(patient.kind, SampleKind::kUnknown);
  EXPECT_EQ(patient.level, "");
  EXPECT_FALSE(patient.dilution.has_value());
  ASSERT_EQ(patient.results.size(), 2u);
  EXPECT_EQ(patient.results[0].value, "N/A");
  EXPECT_FALSE(patient.results[0].numeric.has_value());
  EXPECT_TRUE(patient.results[0].peak->manualIntegration);
  EXPECT_DOUBLE_EQ(*patient.results[1].numeric, 31.25);
  EXPECT_TRUE(patient.results[1].peak->internalStandard.empty());
}

TEST(XmlLayout, IsNotAutoDetectedAndNeedsALayoutKey) {
  ExportFormatInfo info = xmlLayoutFormat();
  EXPECT_FALSE(info.detect);
  EXPECT_EQ(info.keys, (std::vector<std::string>{"layout", "xml.schema"}));
  auto missing = makeFormat(info, {});
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().location(), "connector.lcms1.layout");
}

void expectLayoutError(const std::string& file, const std::string& words) {
  auto format = makeFormat(xmlLayoutFormat(), {{"layout", file}});
  ASSERT_FALSE(format.isOk()) << file;
  EXPECT_EQ(format.status().code(), Status::Code::kConfig);
  EXPECT_EQ(format.status().location(), "connector.lcms1.layout");
  EXPECT_NE(format.status().reason().find(file), std::string::npos) << format.status().reason();
  EXPECT_NE(format.status().reason().find(words), std::string::npos) << format.status().reason();
}

TEST(XmlLayout, LayoutErrorsNameTheFileAndTheKey) {
  expectLayoutError("layout_no_sample_id.json", "fields.sample_id: required");
  expectLayoutError("layout_bad_xpath.json", "fields.rt: XPath does not compile");
  expectLayoutError("no_such_layout.json", "cannot be read");
  expectLayoutError("lab_batch.xsd", "not a JSON object");
}

TEST(XmlLayout, LayoutContentIsCheckedStrictly) {
  std::string dir = ::testing::TempDir();
  auto check = [&](const std::string& json, const std::string& words) {
    std::ofstream(dir + "/strict.json") << json;
    auto format = makeFormat(xmlLayoutFormat(), {{"layout", "strict.json"}}, dir);
    ASSERT_FALSE(format.isOk()) << json;
    EXPECT_NE(format.status().reason().find(words), std::string::npos) << format.status().reason();
  };
  const std::string fields = R"("fields":{"sample_id":"@id","analyte":"@n"})";
  check(R"({"version":2,"sample":"//S","result":"R",)" + fields + "}", "version: must be 1");
  check(R"J({"version":1,"sample":"count(//S)","result":"R",)J" + fields + "}",
        "sample: XPath must select elements");
  check(R"({"version":1,"sample":"//S",)" + fields + "}", "result: required");
  check(R"({"version":1,"sample":"//S","result":"R","colour":"red",)" + fields + "}",
        "colour: unknown key; known keys are date_format, decimal, fields, listed_in_run_order, "
        "result, sample, sample_kinds, sender, version");
  check(
      R"({"version":1,"sample":"//S","result":"R","fields":{"sample_id":"@id","analyte":"@n","patient":"@p"}})",
      "fields.patient: not a known field");
  check(
      R"({"version":1,"sample":"//S","result":"R","sample_kinds":{"Pat":"human"},)" + fields + "}",
      "sample_kinds.Pat: must be");
  check(R"({"version":1,"sample":"//S","result":"R","decimal":"dot",)" + fields + "}",
        "decimal: must be point or comma");
  check(R"({"version":1,"sample":"//S","result":"R","date_format":"iso",)" + fields + "}",
        "date_format: must be");
}

// The XML and CSV layouts read one list of fields and one vocabulary of flag words
// (util/layout_fields.h, util/flags.h); csv/layout_test.cpp pins the same for the CSV layout.
TEST(XmlLayout, AcceptsEveryCanonicalFieldTheCsvLayoutAccepts) {
  std::string dir = ::testing::TempDir();
  for (const std::string& field : util::layoutFields()) {
    std::ofstream(dir + "/field.json")
        << R"({"version":1,"sample":"//S","result":"R","fields":{"sample_id":"@id",)"
        << R"("analyte":"@n",")" << field << R"(":"@f"}})";
    auto format = makeFormat(xmlLayoutFormat(), {{"layout", "field.json"}}, dir);
    EXPECT_TRUE(format.isOk()) << field << ": " << format.status().toString();
  }
}

// Issue 20: injection, final concentration, calibrator exclusion and the lab's run-order
// declaration, as in the CSV layout.
TEST(XmlLayout, InjectionFinalConcentrationExclusionAndRunOrder) {
  std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/ordered.json")
      << R"({"version":1,"sample":"//S","result":"R","listed_in_run_order":true,)"
      << R"("fields":{"sample_id":"@id","sample_type":"@t","injection":"@inj","analyte":"@n",)"
      << R"("final_concentration":"@final","excluded_from_curve":"@x"}})";
  auto format = makeFormat(xmlLayoutFormat(), {{"layout", "ordered.json"}}, dir);
  ASSERT_TRUE(format.isOk()) << format.status().toString();
  auto message =
      runExport(*format.value(),
                "<B><S id=\"C1\" t=\"Cal\" inj=\"4\"><R n=\"A\" final=\"1.5\" x=\"true\"/></S>"
                "<S id=\"P1\" t=\"Sample\" inj=\"5\"><R n=\"A\" final=\"3\" x=\"true\"/></S></B>");
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  EXPECT_TRUE(message->listedInRunOrder);
  ASSERT_EQ(message->samples.size(), 2u);
  EXPECT_EQ(message->samples[0].injection, 4);
  EXPECT_EQ(message->samples[1].injection, 5);
  ASSERT_TRUE(message->samples[0].results.at(0).peak);
  EXPECT_TRUE(message->samples[0].results[0].peak->excludedFromCurve);
  EXPECT_DOUBLE_EQ(*message->samples[0].results[0].peak->finalConcentration, 1.5);
  ASSERT_TRUE(message->samples[1].results.at(0).peak);
  EXPECT_FALSE(message->samples[1].results[0].peak->excludedFromCurve);  // not a calibrator

  std::ofstream(dir + "/badorder.json")
      << R"({"version":1,"sample":"//S","result":"R","listed_in_run_order":1,)"
      << R"("fields":{"sample_id":"@id","analyte":"@n"}})";
  auto bad = makeFormat(xmlLayoutFormat(), {{"layout", "badorder.json"}}, dir);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().reason().find("listed_in_run_order: must be true or false"),
            std::string::npos)
      << bad.status().reason();
}

TEST(XmlLayout, ManualIsAManualIntegrationAsInTheCsvLayout) {
  std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/manual.json")
      << R"({"version":1,"sample":"//S","result":"R","fields":{"sample_id":"@id",)"
      << R"("analyte":"@n","quantifier_area":"@q","manual_integration":"@mi"}})";
  auto format = makeFormat(xmlLayoutFormat(), {{"layout", "manual.json"}}, dir);
  ASSERT_TRUE(format.isOk()) << format.status().toString();
  auto message = runExport(*format.value(),
                           "<B><S id=\"S1\"><R n=\"A\" q=\"10\" mi=\"manual\"/>"
                           "<R n=\"B\" q=\"20\" mi=\"auto\"/></S></B>");
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  ASSERT_EQ(message->samples.size(), 1u);
  ASSERT_EQ(message->samples[0].results.size(), 2u);
  const Result& manual = message->samples[0].results[0];
  ASSERT_TRUE(manual.peak);
  EXPECT_TRUE(manual.peak->manualIntegration);
  EXPECT_DOUBLE_EQ(*manual.peak->quantifierArea, 10.0);  // read, as in the CSV layout
  ASSERT_TRUE(message->samples[0].results[1].peak);
  EXPECT_FALSE(message->samples[0].results[1].peak->manualIntegration);
}

TEST(XmlLayout, UnknownSampleTypeAndEmptySelectionAreRefused) {
  auto format = makeFormat(xmlLayoutFormat(), {{"layout", "lab_batch_layout.json"}});
  ASSERT_TRUE(format.isOk());
  auto odd = runExport(*format.value(),
                       "<Batch>\n<Injection kind=\"Mystery\"><SampleName>A</SampleName>"
                       "</Injection></Batch>");
  ASSERT_FALSE(odd.isOk());
  EXPECT_EQ(odd.status().location(), "line 2");
  auto none = runExport(*format.value(), "<Other/>");
  ASSERT_FALSE(none.isOk());
  EXPECT_EQ(none.status().reason(), "no element matches the layout's sample XPath");
}

}  // namespace
}  // namespace labgate::xml
