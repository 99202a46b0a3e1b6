// Bruker TASQ TSV: the public (truncated) bile-acid batch and small files of our own.
#include "connectors/csv/tasq.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "connectors/csv/formats.h"
#include "tests/unit/connectors/csv/export_test_util.h"

namespace labgate::csv {
namespace {

using labgate::testing::detectFile;
using labgate::testing::parseExportFile;
using labgate::testing::sharedPath;
using labgate::testing::testDataPath;

TEST(TasqFormat, CorpusBileAcidsFirst300Rows) {
  std::string path = sharedPath("corpus/lcms/bruker_tasq/msparser_BA_first300rows.TSV");
  if (path.empty()) GTEST_SKIP() << "shared corpus not available";
  ASSERT_TRUE(detectFile(tasqFormat(), path));
  StatusOr<Message> m = parseExportFile(tasqFormat(), path);
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_EQ(m->sender, "Bruker TASQ");
  // The file was cut after 300 whole rows: the last analysis has 12 of its 32 analytes. The cut is
  // at a row end, so nothing in the file says it is incomplete and it is read as it stands.
  ASSERT_EQ(m->samples.size(), 10u);
  EXPECT_EQ(m->resultCount(), 300u);
  const std::string prefix = "covid19_mauritius_PLA_MS-BILE-EVOQ_COVr44_COVp261_";
  for (size_t i = 0; i < 10; ++i) {
    const Sample& s = m->samples[i];
    EXPECT_EQ(s.results.size(), i == 9 ? 12u : 32u) << s.sampleId;
    EXPECT_EQ(s.kind, i < 5 ? SampleKind::kUnknown : SampleKind::kCalibrator) << s.sampleId;
  }
  EXPECT_EQ(m->samples[0].sampleId, prefix + "BA Check solution_4");
  EXPECT_EQ(m->samples[5].sampleId, prefix + "Cal8_10");
  EXPECT_EQ(m->samples[9].sampleId, prefix + "Cal4_14");
  EXPECT_EQ(m->samples[0].acquiredAt, "2023-04-19T11:58:42");
  EXPECT_EQ(m->samples[1].location, "line 34");

  // 15 "[IS]" analytes per complete analysis: 143 internal-standard rows in all.
  size_t standards = 0, manual = 0;
  for (const Sample& s : m->samples) {
    for (const Result& r : s.results) {
      standards += r.internalStandard ? 1 : 0;
      manual += r.peak->manualIntegration ? 1 : 0;
    }
  }
  EXPECT_EQ(standards, 143u);
  EXPECT_EQ(manual, 1u);

  const Result& is = m->samples[0].results[0];
  EXPECT_EQ(is.instrumentCode, "CA-d4 [IS]");
  EXPECT_TRUE(is.internalStandard);
  EXPECT_EQ(is.value, "0.9");
  EXPECT_EQ(is.units, "units");
  EXPECT_DOUBLE_EQ(*is.peak->area, 244807);
  EXPECT_DOUBLE_EQ(*is.peak->height, 64227);
  EXPECT_DOUBLE_EQ(*is.peak->retentionTime, 6.77);
  EXPECT_DOUBLE_EQ(*is.peak->expectedRetentionTime, 6.76);
  EXPECT_DOUBLE_EQ(*is.peak->expectedConcentration, 1.0);
  EXPECT_DOUBLE_EQ(*is.peak->accuracy, 93.58);
  EXPECT_DOUBLE_EQ(*is.peak->signalToNoise, 1655);
  EXPECT_DOUBLE_EQ(*is.peak->qualifierArea, 2941);
  EXPECT_DOUBLE_EQ(*is.peak->ionRatio, 0.013);
  EXPECT_DOUBLE_EQ(*is.peak->width, 3.65 / 60.0);  // seconds in the file, minutes here
  EXPECT_EQ(is.peak->vendorFlags, "below-lowest-cal=RED");

  const Result& cdca = m->samples[0].results[2];
  EXPECT_EQ(cdca.instrumentCode, "Chenodeoxycholic acid (CDCA)");
  EXPECT_EQ(cdca.location, "line 4");
  EXPECT_FALSE(cdca.internalStandard);
  EXPECT_DOUBLE_EQ(*cdca.numeric, 52.1);
  EXPECT_FALSE(cdca.peak->expectedConcentration.has_value());
  EXPECT_FALSE(cdca.peak->accuracy.has_value());
  EXPECT_EQ(cdca.peak->internalStandard, "CDCA-d4");
  EXPECT_DOUBLE_EQ(*cdca.peak->internalStandardArea, 142728);
  EXPECT_DOUBLE_EQ(*cdca.peak->internalStandardRt, 8.34);
  EXPECT_DOUBLE_EQ(*cdca.peak->responseRatio, 1.812);

  // Line 167: Cal8_10, Deoxycholic acid, integrated by hand.
  const Sample& cal8 = m->samples[5];
  auto dca = std::find_if(cal8.results.begin(), cal8.results.end(), [](const Result& r) {
    return r.instrumentCode == "Deoxycholic acid (DCA)";
  });
  ASSERT_NE(dca, cal8.results.end());
  EXPECT_EQ(dca->location, "line 167");
  EXPECT_TRUE(dca->peak->manualIntegration);

  const Result& last = m->samples[9].results[11];
  EXPECT_EQ(last.instrumentCode, "Glycochnodeoxycholic acid (GCDCA)");
  EXPECT_EQ(last.location, "line 301");
  EXPECT_EQ(last.value, "422.0");
  EXPECT_DOUBLE_EQ(*last.peak->expectedConcentration, 400);
  EXPECT_DOUBLE_EQ(*last.peak->accuracy, 105.5);
  EXPECT_DOUBLE_EQ(*last.peak->area, 8320714);
  EXPECT_EQ(last.peak->internalStandard, "GCDCA-d4");
}

TEST(TasqFormat, SmallFile) {
  StatusOr<Message> m = parseExportFile(tasqFormat(), testDataPath("csv/b_tasq_small.tsv"));
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  ASSERT_EQ(m->samples.size(), 2u);
  const Sample& cal = m->samples[0];
  EXPECT_EQ(cal.kind, SampleKind::kCalibrator);  // "CALIBRANT"
  EXPECT_EQ(cal.dataFile, "D:\\Data\\Cal1_01.d");
  EXPECT_EQ(cal.acquiredAt, "2024-03-05T09:01:02");
  EXPECT_TRUE(cal.results[0].internalStandard);
  EXPECT_EQ(cal.results[1].units, "ng/mL");
  EXPECT_DOUBLE_EQ(*cal.results[1].peak->accuracy, 96);

  const Result& missing = m->samples[1].results[1];
  EXPECT_EQ(missing.value, "");
  EXPECT_FALSE(missing.numeric.has_value());
  EXPECT_FALSE(missing.peak->area.has_value());
  EXPECT_FALSE(missing.peak->retentionTime.has_value());
  EXPECT_TRUE(missing.peak->manualIntegration);
  EXPECT_EQ(missing.peak->vendorFlags, "below-lowest-cal=RED");
}

TEST(TasqFormat, FileCutInsideARowIsRefusedWhole) {
  StatusOr<Message> m = parseExportFile(tasqFormat(), testDataPath("csv/b_tasq_truncated.tsv"));
  ASSERT_FALSE(m.isOk());
  EXPECT_EQ(m.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(m.status().location(), "line 4");
}

TEST(TasqFormat, DetectsAndReadsDates) {
  EXPECT_TRUE(looksLikeTasq("\"AnalysisName\"\t\"AnalysisPath\"\t\"AnalyteName\"\r\n"));
  EXPECT_FALSE(looksLikeTasq("AnalysisName,AnalyteName\n"));
  EXPECT_FALSE(looksLikeTasq("Sample Name\tComponent Name\n"));
  EXPECT_EQ(parseWeekdayDateTime("Wed Apr 19 11:58:42 AWST 2023").value_or(""),
            "2023-04-19T11:58:42");
  EXPECT_EQ(parseWeekdayDateTime("Tue Jan 07 17:28:50 2020").value_or(""), "2020-01-07T17:28:50");
  EXPECT_FALSE(parseWeekdayDateTime("2023-04-21 08:42:38.146").has_value());
}

}  // namespace
}  // namespace labgate::csv
