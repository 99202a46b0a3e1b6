// SCIEX MultiQuant / Analyst TSV: the public corpus file (read from LABGATE_SHARED_DIR) and small
// files of our own in tests/data/csv.
#include "connectors/csv/sciex.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "connectors/csv/formats.h"
#include "tests/unit/connectors/csv/export_test_util.h"

namespace labgate::csv {
namespace {

using labgate::testing::detectFile;
using labgate::testing::parseExportFile;
using labgate::testing::parseExportText;
using labgate::testing::RecordLog;
using labgate::testing::sharedPath;
using labgate::testing::testDataPath;

TEST(SciexFormat, CorpusMultiQuantAreasOnly) {
  std::string path = sharedPath("corpus/lcms/sciex_multiquant/msorganiser_SciExTestData.txt");
  if (path.empty()) GTEST_SKIP() << "shared corpus not available";
  ASSERT_TRUE(detectFile(sciexFormat(), path));
  StatusOr<Message> m = parseExportFile(sciexFormat(), path);
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_EQ(m->sender, "SCIEX MultiQuant/Analyst");
  // 13664 data rows: 61 samples x 224 components, no Sample Type column (all unknown).
  ASSERT_EQ(m->samples.size(), 61u);
  EXPECT_EQ(m->resultCount(), 13664u);
  for (const Sample& s : m->samples) {
    EXPECT_EQ(s.results.size(), 224u) << s.sampleId;
    EXPECT_EQ(s.kind, SampleKind::kUnknown);
  }
  EXPECT_EQ(m->samples[0].sampleId, "Blank 01");
  EXPECT_EQ(m->samples[5].sampleId, "WE Mix_1ugml_inj1");
  EXPECT_EQ(m->samples[17].sampleId, "solvent blank_inj1");
  EXPECT_EQ(m->samples[60].sampleId, "Blank 17");
  EXPECT_EQ(m->samples[1].location, "line 226");

  const Result& first = m->samples[0].results[0];
  EXPECT_EQ(first.instrumentCode, "496.5 / 257.1");
  EXPECT_EQ(first.location, "line 2");
  EXPECT_EQ(first.value, "");  // no concentration column in this export
  EXPECT_FALSE(first.numeric.has_value());
  ASSERT_TRUE(first.peak.has_value());
  EXPECT_DOUBLE_EQ(*first.peak->area, 4758.83137492473);
  EXPECT_DOUBLE_EQ(*first.peak->retentionTime, 9.57305645493725);
  EXPECT_DOUBLE_EQ(*first.peak->width, 1.80973196432391);
  EXPECT_DOUBLE_EQ(*first.peak->signalToNoise, 10.1307169361238);

  // "N/A" is a missing value, never 0.
  const Result& second = m->samples[0].results[1];
  EXPECT_EQ(second.instrumentCode, "524.5 / 257.3");
  EXPECT_FALSE(second.peak->area.has_value());
  EXPECT_FALSE(second.peak->retentionTime.has_value());

  // Line 1135: WE Mix_1ugml_inj1, component "524.5 / 507.3a".
  const Sample& we = m->samples[5];
  auto it = std::find_if(we.results.begin(), we.results.end(),
                         [](const Result& r) { return r.instrumentCode == "524.5 / 507.3a"; });
  ASSERT_NE(it, we.results.end());
  EXPECT_EQ(it->location, "line 1135");
  EXPECT_DOUBLE_EQ(*it->peak->area, 27034929.4866892);
  EXPECT_DOUBLE_EQ(*it->peak->signalToNoise, 7023.55266836239);

  const Result& last = m->samples[60].results[223];
  EXPECT_EQ(last.instrumentCode, "552.5 / 283.3");
  EXPECT_EQ(last.location, "line 13665");
  EXPECT_DOUBLE_EQ(*last.peak->area, 875.213943792373);

  size_t withArea = 0;
  for (const Sample& s : m->samples) {
    for (const Result& r : s.results) withArea += r.peak->area.has_value() ? 1 : 0;
  }
  EXPECT_EQ(withArea, 4043u);  // 9621 rows say N/A
}

TEST(SciexFormat, AnalystNamingMetadataLinesAndStatusTokens) {
  RecordLog records;
  StatusOr<Message> m =
      parseExportFile(sciexFormat(), testDataPath("csv/b_sciex_analyst.txt"), {}, &records);
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  // The metadata lines before the header still reach the gate, without column names.
  ASSERT_GE(records.size(), 4u);
  EXPECT_EQ(records[0].line, 1);
  EXPECT_EQ(records[0].names, nullptr);
  ASSERT_NE(records[4].names, nullptr);
  EXPECT_EQ((*records[4].names)[1], "Sample Name");

  ASSERT_EQ(m->samples.size(), 4u);
  EXPECT_EQ(m->resultCount(), 7u);
  const Sample& cal = m->samples[0];
  EXPECT_EQ(cal.sampleId, "CAL 1");
  EXPECT_EQ(cal.kind, SampleKind::kCalibrator);
  EXPECT_EQ(cal.position, "12");
  EXPECT_EQ(cal.acquiredAt, "2024-03-14T09:05:12");
  EXPECT_EQ(cal.location, "line 5");
  ASSERT_EQ(cal.results.size(), 2u);
  const Result& t = cal.results[0];
  EXPECT_EQ(t.instrumentCode, "Testosterone");
  EXPECT_EQ(t.value, "1.04");
  EXPECT_DOUBLE_EQ(*t.numeric, 1.04);
  EXPECT_FALSE(t.internalStandard);
  EXPECT_DOUBLE_EQ(*t.peak->calculatedConcentration, 1.04);
  EXPECT_DOUBLE_EQ(*t.peak->expectedConcentration, 1.0);
  EXPECT_DOUBLE_EQ(*t.peak->accuracy, 104.0);
  EXPECT_DOUBLE_EQ(*t.peak->area, 1520.5);
  EXPECT_DOUBLE_EQ(*t.peak->height, 410);
  EXPECT_EQ(t.peak->internalStandard, "Testosterone-d3");
  EXPECT_DOUBLE_EQ(*t.peak->internalStandardArea, 50210);
  EXPECT_DOUBLE_EQ(*t.peak->responseRatio, 0.0303);
  EXPECT_DOUBLE_EQ(*t.peak->retentionTime, 3.12);
  EXPECT_DOUBLE_EQ(*t.peak->expectedRetentionTime, 3.10);
  EXPECT_DOUBLE_EQ(*t.peak->internalStandardRt, 3.11);
  EXPECT_DOUBLE_EQ(*t.peak->width, 0.051);
  EXPECT_DOUBLE_EQ(*t.peak->signalToNoise, 25.3);
  EXPECT_DOUBLE_EQ(*t.peak->asymmetry, 1.08);
  EXPECT_FALSE(t.peak->manualIntegration);
  // The component another row names as its IS is an internal standard.
  EXPECT_TRUE(cal.results[1].internalStandard);
  EXPECT_EQ(cal.results[1].peak->internalStandard, "");

  const Sample& qc = m->samples[1];
  EXPECT_EQ(qc.kind, SampleKind::kQc);
  EXPECT_EQ(qc.results[0].value, "degenerate");
  EXPECT_FALSE(qc.results[0].numeric.has_value());
  EXPECT_FALSE(qc.results[0].peak->calculatedConcentration.has_value());
  EXPECT_TRUE(qc.results[0].peak->manualIntegration);

  // ACC-0001 comes back after "Solvent": one sample, rows in file order.
  const Sample& acc = m->samples[2];
  EXPECT_EQ(acc.sampleId, "ACC-0001");
  EXPECT_DOUBLE_EQ(*acc.dilution, 2);
  ASSERT_EQ(acc.results.size(), 2u);
  EXPECT_EQ(acc.results[0].value, "< 0");
  EXPECT_EQ(acc.results[1].location, "line 11");
  EXPECT_TRUE(acc.results[1].internalStandard);

  const Sample& solvent = m->samples[3];
  EXPECT_EQ(solvent.kind, SampleKind::kBlank);
  EXPECT_EQ(solvent.results[0].value, "No Peak");
  EXPECT_FALSE(solvent.results[0].peak->area.has_value());
}

// Issue 20: a calibrator the analyst did not use for the curve ("Used" False in MultiQuant, "Use
// Record" 0 in Analyst) is excluded from it; the flag means nothing on other samples.
TEST(SciexFormat, UnusedCalibratorsAreExcludedFromTheCurve) {
  const std::string multiQuant =
      "Sample Name\tSample Type\tComponent Name\tActual Concentration\tArea\tUsed\n"
      "Cal 1\tStandard\tDrug\t1\t100\tTrue\n"
      "Cal 2\tStandard\tDrug\t2\t210\tFalse\n"
      "Cal 3\tStandard\tDrug\t4\t400\t\n"
      "S-1\tUnknown\tDrug\tN/A\t300\tFalse\n";
  StatusOr<Message> m = parseExportText(sciexFormat(), multiQuant);
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_FALSE(m->listedInRunOrder);
  ASSERT_EQ(m->samples.size(), 4u);
  EXPECT_FALSE(m->samples[0].results[0].peak->excludedFromCurve);
  EXPECT_TRUE(m->samples[1].results[0].peak->excludedFromCurve);
  EXPECT_FALSE(m->samples[2].results[0].peak->excludedFromCurve);  // empty: nothing said
  EXPECT_FALSE(m->samples[3].results[0].peak->excludedFromCurve);  // not a calibrator

  const std::string analyst =
      "Sample Name\tSample Type\tAnalyte Peak Name\tAnalyte Peak Area\tUse Record\n"
      "Cal 1\tStandard\tDrug\t100\t1\n"
      "Cal 2\tStandard\tDrug\t210\t0\n";
  StatusOr<Message> a = parseExportText(sciexFormat(), analyst);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_FALSE(a->samples[0].results[0].peak->excludedFromCurve);
  EXPECT_TRUE(a->samples[1].results[0].peak->excludedFromCurve);
}

TEST(SciexFormat, TruncatedFileIsRefusedWhole) {
  StatusOr<Message> m = parseExportFile(sciexFormat(), testDataPath("csv/b_sciex_truncated.txt"));
  ASSERT_FALSE(m.isOk());
  EXPECT_EQ(m.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(m.status().location(), "line 7");
}

TEST(SciexFormat, NoHeaderOrNoRowsIsInvalid) {
  StatusOr<Message> none = parseExportText(sciexFormat(), "a\tb\n1\t2\n");
  ASSERT_FALSE(none.isOk());
  EXPECT_EQ(none.status().location(), "line 1");
  StatusOr<Message> empty = parseExportText(sciexFormat(), "Sample Name\tComponent Name\tArea\n");
  ASSERT_FALSE(empty.isOk());
  EXPECT_NE(empty.status().reason().find("no sample rows"), std::string::npos);
}

TEST(SciexFormat, DetectsBySignatureOnly) {
  EXPECT_TRUE(looksLikeSciex("Sample Name\tComponent Name\tArea\r\n"));
  EXPECT_TRUE(looksLikeSciex("Peak Name: X\r\n\r\nSample Name\tAnalyte Peak Name\tArea\r\n"));
  EXPECT_FALSE(looksLikeSciex("Sample Name,Component Name,Area\n"));  // not tab-separated
  EXPECT_FALSE(looksLikeSciex("Sample Name\tArea\n"));
  EXPECT_FALSE(looksLikeSciex(""));
}

}  // namespace
}  // namespace labgate::csv
