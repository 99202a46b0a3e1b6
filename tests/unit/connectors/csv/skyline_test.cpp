// Skyline report CSV: the two public MRMhub fixtures and a quantification report of our own in a
// decimal-comma culture.
#include "connectors/csv/skyline.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "connectors/csv/formats.h"
#include "tests/unit/connectors/csv/export_test_util.h"

namespace labgate::csv {
namespace {

using labgate::testing::detectFile;
using labgate::testing::parseExportFile;
using labgate::testing::parseExportText;
using labgate::testing::sharedPath;
using labgate::testing::testDataPath;

const Result* find(const Sample& s, const std::string& code) {
  auto it = std::find_if(s.results.begin(), s.results.end(),
                         [&](const Result& r) { return r.instrumentCode == code; });
  return it == s.results.end() ? nullptr : &*it;
}

void checkMrmhubFixture(const std::string& rel) {
  std::string path = sharedPath(rel);
  if (path.empty()) GTEST_SKIP() << "shared corpus not available";
  ASSERT_TRUE(detectFile(skylineFormat(), path));
  StatusOr<Message> m = parseExportFile(skylineFormat(), path);
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_EQ(m->sender, "Skyline");
  // 108 transition rows; 6 replicates; a Result per (molecule, precursor) in each replicate.
  ASSERT_EQ(m->samples.size(), 6u);
  const std::vector<std::string> ids = {"SBLK1", "SBLK2", "SST1", "SST2", "SST4", "SST5"};
  const std::vector<size_t> counts = {8, 9, 9, 9, 8, 8};
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(m->samples[i].sampleId, ids[i]);
    EXPECT_EQ(m->samples[i].results.size(), counts[i]) << ids[i];
    EXPECT_EQ(m->samples[i].kind, SampleKind::kUnknown);  // no Sample Type column
  }
  EXPECT_EQ(m->resultCount(), 51u);
  EXPECT_EQ(m->samples[2].location, "line 39");

  // Aldosterone has two precursors (359 and 361), so both are named; no concentration columns.
  const Sample& sblk1 = m->samples[0];
  const Result* aldo359 = find(sblk1, "Aldosterone (359)");
  ASSERT_NE(aldo359, nullptr);
  EXPECT_EQ(aldo359->location, "line 2");
  EXPECT_EQ(aldo359->value, "");
  EXPECT_DOUBLE_EQ(*aldo359->peak->area, 36);  // Peak Rank 1 (line 3) is the quantifier
  EXPECT_DOUBLE_EQ(*aldo359->peak->retentionTime, 2.7);
  EXPECT_DOUBLE_EQ(*aldo359->peak->qualifierArea, 2);
  EXPECT_DOUBLE_EQ(*aldo359->peak->ionRatio, 2.0 / 36.0);
  // Both transitions ranked 2: file order decides.
  const Result* aldo361 = find(sblk1, "Aldosterone (361)");
  ASSERT_NE(aldo361, nullptr);
  EXPECT_DOUBLE_EQ(*aldo361->peak->area, 121860);
  EXPECT_DOUBLE_EQ(*aldo361->peak->qualifierArea, 80);
  // Cortisol has a 361 precursor in SBLK2 and SST1 only: not in SBLK1.
  EXPECT_EQ(find(sblk1, "Cortisol (361)"), nullptr);
  EXPECT_NE(find(m->samples[1], "Cortisol (361)"), nullptr);
  // A molecule with one precursor keeps its plain name.
  EXPECT_NE(find(sblk1, "Cortisone 13C3"), nullptr);
  EXPECT_NE(find(sblk1, "Cortisol D4 (367)"), nullptr);

  const Result* cortisol = find(m->samples[2], "Cortisol (363)");
  ASSERT_NE(cortisol, nullptr);
  EXPECT_DOUBLE_EQ(*cortisol->peak->area, 695348);
  EXPECT_DOUBLE_EQ(*cortisol->peak->quantifierArea, 695348);
  EXPECT_DOUBLE_EQ(*cortisol->peak->qualifierArea, 420767);
  EXPECT_DOUBLE_EQ(*cortisol->peak->ionRatio, 420767.0 / 695348.0);
  EXPECT_DOUBLE_EQ(*cortisol->peak->retentionTime, 3.05);

  const Result* cortisone = find(m->samples[5], "Cortisone");
  ASSERT_NE(cortisone, nullptr);
  EXPECT_DOUBLE_EQ(*cortisone->peak->area, 261429);
  EXPECT_DOUBLE_EQ(*cortisone->peak->qualifierArea, 235489);
  EXPECT_EQ(cortisone->location, "line 106");
}

TEST(SkylineFormat, CorpusMoleculeTransitionResults) {
  checkMrmhubFixture("corpus/lcms/skyline/mrmhub_Skyline_MoleculeTransitionResults_1.csv");
}

TEST(SkylineFormat, CorpusWithoutMzColumns) {
  checkMrmhubFixture("corpus/lcms/skyline/mrmhub_Skyline_MoleculeTransitionResults_1_noMZ.csv");
}

TEST(SkylineFormat, QuantificationReportInDecimalCommaCulture) {
  StatusOr<Message> m = parseExportFile(skylineFormat(), testDataPath("csv/b_skyline_culture.csv"));
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  ASSERT_EQ(m->samples.size(), 3u);
  EXPECT_EQ(m->resultCount(), 5u);

  const Sample& cal = m->samples[0];
  EXPECT_EQ(cal.sampleId, "Cal_A");
  EXPECT_EQ(cal.kind, SampleKind::kCalibrator);
  const Result& c = cal.results[0];
  EXPECT_EQ(c.instrumentCode, "Cortisol");
  EXPECT_EQ(c.value, "10,4");
  EXPECT_DOUBLE_EQ(*c.numeric, 10.4);
  EXPECT_DOUBLE_EQ(*c.peak->expectedConcentration, 10);
  EXPECT_DOUBLE_EQ(*c.peak->accuracy, 104.0);
  EXPECT_DOUBLE_EQ(*c.peak->area, 12500.5);
  EXPECT_DOUBLE_EQ(*c.peak->retentionTime, 3.05);
  EXPECT_DOUBLE_EQ(*c.peak->qualifierArea, 4100);
  EXPECT_FALSE(c.internalStandard);
  EXPECT_TRUE(cal.results[1].internalStandard);  // Standard Type "Internal Standard"
  EXPECT_EQ(cal.results[1].value, "#N/A");

  // #N/A and an empty Area: no peak, nothing made up.
  const Sample& qc = m->samples[1];
  EXPECT_EQ(qc.kind, SampleKind::kQc);
  EXPECT_EQ(qc.results[0].value, "#N/A");
  EXPECT_FALSE(qc.results[0].numeric.has_value());
  EXPECT_FALSE(qc.results[0].peak->area.has_value());
  EXPECT_FALSE(qc.results[0].peak->qualifierArea.has_value());
  EXPECT_FALSE(qc.results[0].peak->ionRatio.has_value());

  // A transition marked Quantitative = False is never the quantifier.
  const Result& p = m->samples[2].results[0];
  EXPECT_DOUBLE_EQ(*p.peak->area, 9000);
  EXPECT_DOUBLE_EQ(*p.peak->qualifierArea, 2500);
  EXPECT_DOUBLE_EQ(*p.numeric, 24.8);
}

TEST(SkylineFormat, ShortRowIsRefused) {
  StatusOr<Message> m =
      parseExportText(skylineFormat(), "Molecule Name,Replicate Name,Area\nA,R1,10\nA,R2\n");
  ASSERT_FALSE(m.isOk());
  EXPECT_EQ(m.status().location(), "line 3");
}

// Issue 20: "Exclude From Calibration" on a calibrator replicate excludes its points from the
// curve.
TEST(SkylineFormat, ExcludedCalibratorReplicates) {
  const std::string report =
      "Molecule Name,Replicate Name,Sample Type,Area,Analyte Concentration,"
      "Exclude From Calibration\n"
      "Drug,Cal_1,Standard,100,1,False\n"
      "Drug,Cal_2,Standard,180,2,True\n"
      "Drug,S-1,Unknown,150,,True\n";
  StatusOr<Message> m = parseExportText(skylineFormat(), report);
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_FALSE(m->listedInRunOrder);
  ASSERT_EQ(m->samples.size(), 3u);
  EXPECT_FALSE(m->samples[0].results.at(0).peak->excludedFromCurve);
  EXPECT_TRUE(m->samples[1].results.at(0).peak->excludedFromCurve);
  EXPECT_FALSE(m->samples[2].results.at(0).peak->excludedFromCurve);  // not a calibrator
}

TEST(SkylineFormat, DetectsBySignatureOnly) {
  EXPECT_TRUE(looksLikeSkyline("Molecule Name,Replicate Name,Area\r\n"));
  EXPECT_TRUE(looksLikeSkyline("\xEF\xBB\xBFPeptide Sequence;Replicate Name;Area\n"));
  EXPECT_TRUE(looksLikeSkyline("\"Molecule\"\t\"Replicate\"\t\"Area\"\n"));
  EXPECT_FALSE(looksLikeSkyline("Replicate Name,Area\n"));  // no molecule column
  EXPECT_FALSE(looksLikeSkyline("Sample,,Cortisol Results\n,Name,Area\n"));
}

}  // namespace
}  // namespace labgate::csv
