// Waters TargetLynx Quantify Summary Report text: every public corpus file and two small files of
// our own (Latin-1, CRLF).
#include "connectors/csv/targetlynx_txt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "connectors/csv/formats.h"
#include "tests/unit/connectors/csv/export_test_util.h"

namespace labgate::csv {
namespace {

using labgate::testing::detectFile;
using labgate::testing::parseExportFile;
using labgate::testing::parseExportText;
using labgate::testing::sharedPath;
using labgate::testing::testDataPath;

const std::string kMicro = "\xC2\xB5";  // µ, Latin-1 0xB5 in the files

StatusOr<Message> corpus(const std::string& name, std::string* path) {
  *path = sharedPath("corpus/lcms/waters_targetlynx/" + name);
  if (path->empty()) return Status::notFound(name, "shared corpus not available");
  return parseExportFile(targetlynxTxtFormat(), *path);
}

const Result* find(const Sample& s, const std::string& code) {
  auto it = std::find_if(s.results.begin(), s.results.end(),
                         [&](const Result& r) { return r.instrumentCode == code; });
  return it == s.results.end() ? nullptr : &*it;
}

TEST(TargetLynxTxtFormat, CorpusTryptophanCompoundSummary) {
  std::string path;
  StatusOr<Message> m = corpus("msparser_TRY_QuantifyCompoundSummary.TXT", &path);
  if (path.empty()) GTEST_SKIP() << "shared corpus not available";
  ASSERT_TRUE(detectFile(targetlynxTxtFormat(), path));
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_EQ(m->sender, "Waters TargetLynx");
  EXPECT_EQ(m->sentAt, "2021-07-14T12:17:34");
  // 35 compound blocks x 119 samples, merged by sample Name across the blocks.
  ASSERT_EQ(m->samples.size(), 119u);
  EXPECT_EQ(m->resultCount(), 4165u);
  std::map<SampleKind, int> kinds;
  for (const Sample& s : m->samples) {
    EXPECT_EQ(s.results.size(), 35u) << s.sampleId;
    ++kinds[s.kind];
  }
  EXPECT_EQ(kinds[SampleKind::kUnknown], 84);  // "Sample" 76 and "sample" 8
  EXPECT_EQ(kinds[SampleKind::kCalibrator], 24);
  EXPECT_EQ(kinds[SampleKind::kBlank], 7);
  EXPECT_EQ(kinds[SampleKind::kQc], 4);

  const Sample& blank = m->samples[0];
  EXPECT_EQ(blank.sampleId, "coeliac_C1_SER_MS-TRY_PAT01_COEp11_070721_BlankShutdown");
  EXPECT_EQ(blank.level, "");  // Sample Text is read for calibrators and QCs only
  for (const Sample& s : m->samples) {
    if (s.kind == SampleKind::kUnknown) {
      EXPECT_EQ(s.level, "") << s.sampleId;  // a patient's Sample Text is a study code
    }
  }
  EXPECT_EQ(blank.kind, SampleKind::kBlank);
  EXPECT_EQ(blank.position, "V:1");
  EXPECT_EQ(blank.location, "line 8");
  const Result& trp = blank.results[0];
  EXPECT_EQ(trp.instrumentCode, "tryptophan");
  EXPECT_EQ(trp.value, "");
  // Issue 20: "bdI" is the integration code "bd" (routine, not a flag) and the flag "I".
  EXPECT_EQ(trp.peak->integrationCode, "bd");
  EXPECT_EQ(trp.peak->vendorFlags, "I");
  EXPECT_FALSE(trp.peak->excludedFromCurve);
  EXPECT_EQ(blank.injection, 109);  // "#" (and the first column): the sample-list row
  EXPECT_DOUBLE_EQ(*trp.peak->area, 2);
  EXPECT_DOUBLE_EQ(*trp.peak->internalStandardArea, 2564);
  EXPECT_DOUBLE_EQ(*trp.peak->responseRatio, 0.009);
  EXPECT_EQ(trp.peak->internalStandard, "SIL tryptophan D5");

  // The 16 "SIL" compounds are recognised as internal standards (their areas are the IS Areas).
  size_t standards = 0, manual = 0;
  for (const Sample& s : m->samples) {
    for (const Result& r : s.results) {
      if (r.internalStandard) {
        ++standards;
        EXPECT_EQ(r.instrumentCode.rfind("SIL ", 0), 0u) << r.instrumentCode;
      }
      manual += r.peak->manualIntegration ? 1 : 0;
    }
  }
  EXPECT_EQ(standards, 16u * 119u);
  EXPECT_EQ(manual, 271u);  // flags MM, MMX, MMXI, MMI
  // A summary sorted by name is not in run order; every sample has its injection number.
  EXPECT_FALSE(m->listedInRunOrder);
  std::set<int64_t> injections;
  for (const Sample& s : m->samples) {
    ASSERT_TRUE(s.injection.has_value()) << s.sampleId;
    injections.insert(*s.injection);
  }
  EXPECT_EQ(injections.size(), 119u);
  EXPECT_EQ(*injections.begin(), 1);
  EXPECT_EQ(*injections.rbegin(), 119);
}

// Issue 20: the "Primary Flags" of the tryptophan summary held 497 of 506 VENDOR_FLAG findings on
// the corpus, all ordinary integration codes; the analyst's "X" excludes 17 of tryptophan's 24
// calibrators from its curve.
TEST(TargetLynxTxtFormat, CorpusTryptophanFlagsAreCodesExclusionsAndFlags) {
  std::string path;
  StatusOr<Message> m = corpus("msparser_TRY_QuantifyCompoundSummary.TXT", &path);
  if (path.empty()) GTEST_SKIP() << "shared corpus not available";
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  std::map<std::string, int> codes, flags;
  int calibrators = 0, excluded = 0;
  for (const Sample& s : m->samples) {
    for (const Result& r : s.results) {
      ++codes[r.peak->integrationCode];
      if (!r.peak->vendorFlags.empty()) ++flags[r.peak->vendorFlags];
      if (r.instrumentCode == "tryptophan" && s.kind == SampleKind::kCalibrator) {
        ++calibrators;
        excluded += r.peak->excludedFromCurve ? 1 : 0;
      }
      if (s.kind != SampleKind::kCalibrator) {
        EXPECT_FALSE(r.peak->excludedFromCurve);
      }
    }
  }
  EXPECT_EQ(calibrators, 24);
  EXPECT_EQ(excluded, 17);
  // Only letters the report does not explain remain flags ("I"); no "X" outside calibrators.
  for (const auto& [text, n] : flags) {
    EXPECT_EQ(text, "I") << n;
  }
  EXPECT_EQ(codes.count("bdX"), 0u);
  EXPECT_GT(codes["bd"], 0);
  EXPECT_GT(codes["dd"], 0);
  EXPECT_GT(codes["db"], 0);
  EXPECT_GT(codes["MM"], 0);
  // Cal 4 at injection 5 ("bdX"): code bd, excluded.
  auto cal4 = std::find_if(m->samples.begin(), m->samples.end(),
                           [](const Sample& s) { return s.injection == 5; });
  ASSERT_NE(cal4, m->samples.end());
  EXPECT_EQ(cal4->sampleId, "coeliac_C1_SER_MS-TRY_PAT01_COEp11_070721_Cal 4_8");
  EXPECT_EQ(cal4->level, "Cal 4");
  const Result* trp = find(*cal4, "tryptophan");
  ASSERT_NE(trp, nullptr);
  EXPECT_EQ(trp->peak->integrationCode, "bd");
  EXPECT_TRUE(trp->peak->excludedFromCurve);
  EXPECT_EQ(trp->peak->vendorFlags, "");
  // Line 4308: melatonin in "QC 4": Conc. 1586.789, Std. Conc 1000, %Dev 58.7.
  auto qc4 = std::find_if(m->samples.begin(), m->samples.end(), [](const Sample& s) {
    return s.sampleId == "coeliac_C1_SER_MS-TRY_PAT01_COEp11_070721_QC 4_24";
  });
  ASSERT_NE(qc4, m->samples.end());
  EXPECT_EQ(qc4->kind, SampleKind::kQc);
  EXPECT_EQ(qc4->level, "QC 4");  // issue 20: the QC's Sample Text names its level
  EXPECT_EQ(qc4->position, "2:A,12");
  const Result* mel = find(*qc4, "Melatonin");
  ASSERT_NE(mel, nullptr);
  EXPECT_EQ(mel->location, "line 4308");
  EXPECT_EQ(mel->value, "1586.789");
  EXPECT_DOUBLE_EQ(*mel->numeric, 1586.789);
  EXPECT_DOUBLE_EQ(*mel->peak->expectedConcentration, 1000);
  EXPECT_DOUBLE_EQ(*mel->peak->accuracy, 158.7);
  EXPECT_DOUBLE_EQ(*mel->peak->retentionTime, 6.14);
  EXPECT_DOUBLE_EQ(*mel->peak->area, 4782255);
  EXPECT_DOUBLE_EQ(*mel->peak->internalStandardArea, 9799);
  EXPECT_DOUBLE_EQ(*mel->peak->responseRatio, 97610.437);
  EXPECT_EQ(mel->peak->integrationCode, "bb");
  EXPECT_EQ(mel->peak->vendorFlags, "");
  EXPECT_EQ(qc4->injection, 21);  // "#" 21 (the name's suffix is not the injection)
  // Line 4185: an internal standard with its own concentration.
  const Result* nmn = find(*qc4, "SIL beta-nicotinamide mononucleotide D3");
  ASSERT_NE(nmn, nullptr);
  EXPECT_TRUE(nmn->internalStandard);
  EXPECT_EQ(nmn->value, "11.516");
  EXPECT_DOUBLE_EQ(*nmn->peak->accuracy, 115.2);
}

TEST(TargetLynxTxtFormat, CorpusSaturationCompoundSummary) {
  std::string path;
  StatusOr<Message> m = corpus("p2m2tools_070120_Saturation_CQA.txt", &path);
  if (path.empty()) GTEST_SKIP() << "shared corpus not available";
  ASSERT_TRUE(detectFile(targetlynxTxtFormat(), path));
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_EQ(m->sentAt, "2020-01-07T17:28:50");
  ASSERT_EQ(m->samples.size(), 4u);
  EXPECT_EQ(m->resultCount(), 16u);
  EXPECT_EQ(m->samples[0].sampleId, "070120_CQA_22,18" + kMicro + "gmL");  // Latin-1 µ decoded
  EXPECT_EQ(m->samples[3].sampleId, "070120_CQA_1000" + kMicro + "gmL");
  for (const Sample& s : m->samples) EXPECT_EQ(s.kind, SampleKind::kUnknown);  // "Analyte"
  EXPECT_EQ(m->samples[0].acquiredAt, "2020-01-07T15:05:51");
  const Result* cqa1 = find(m->samples[3], "CQA1");
  ASSERT_NE(cqa1, nullptr);
  EXPECT_DOUBLE_EQ(*cqa1->peak->area, 207796.375);
  EXPECT_TRUE(cqa1->peak->manualIntegration);  // "MM"
  const Result* catMs = find(m->samples[0], "CAT_MS");
  ASSERT_NE(catMs, nullptr);
  EXPECT_FALSE(catMs->peak->area.has_value());  // no peak: empty cells
  EXPECT_FALSE(catMs->peak->retentionTime.has_value());
  EXPECT_EQ(catMs->location, "line 24");
}

TEST(TargetLynxTxtFormat, CorpusSingleSample) {
  std::string path;
  StatusOr<Message> m = corpus("p2m2tools_190522_97.txt", &path);
  if (path.empty()) GTEST_SKIP() << "shared corpus not available";
  ASSERT_TRUE(detectFile(targetlynxTxtFormat(), path));
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  ASSERT_EQ(m->samples.size(), 1u);
  const Sample& s = m->samples[0];
  EXPECT_EQ(s.sampleId, "130522_Std290920_96_Inj01");
  EXPECT_EQ(s.acquiredAt, "2022-05-13T10:38:48");
  ASSERT_EQ(s.results.size(), 6u);
  const std::vector<std::string> codes = {"CAT", "EC", "PLZ", "CAT_MS", "EC_MS", "PLZ_MS"};
  for (size_t i = 0; i < codes.size(); ++i) EXPECT_EQ(s.results[i].instrumentCode, codes[i]);
  EXPECT_DOUBLE_EQ(*s.results[5].peak->area, 979674.938);
  EXPECT_DOUBLE_EQ(*s.results[5].peak->retentionTime, 16.59);
}

TEST(TargetLynxTxtFormat, CorpusAllColumnsCompoundAndSampleReportsAgree) {
  std::string pathC, pathS;
  StatusOr<Message> byCompound =
      corpus("p2m2tools_SortieMassLynxCompoundToutesColonnes.txt", &pathC);
  StatusOr<Message> bySample = corpus("p2m2tools_SortieMassLynxSampleToutesColonnes.txt", &pathS);
  if (pathC.empty() || pathS.empty()) GTEST_SKIP() << "shared corpus not available";
  ASSERT_TRUE(detectFile(targetlynxTxtFormat(), pathC));
  ASSERT_TRUE(detectFile(targetlynxTxtFormat(), pathS));
  ASSERT_TRUE(byCompound.isOk()) << byCompound.status().toString();
  ASSERT_TRUE(bySample.isOk()) << bySample.status().toString();
  ASSERT_EQ(byCompound->samples.size(), 4u);
  ASSERT_EQ(bySample->samples.size(), 4u);
  EXPECT_EQ(byCompound->resultCount(), 16u);
  EXPECT_EQ(bySample->resultCount(), 16u);
  // The compound report lists samples sorted differently: first seen is the 500 µg/mL one.
  EXPECT_EQ(byCompound->samples[0].sampleId, "070120_CQA_500" + kMicro + "gmL");
  EXPECT_EQ(bySample->samples[0].sampleId, "070120_CQA_22,18" + kMicro + "gmL");
  EXPECT_EQ(byCompound->samples[0].position, "1:A,5");
  // Issue 20: the compound report is sorted by name; its unnamed first column is the sample-list
  // row, which Acq.Time confirms is the run order (3 = 15:45, 4 = 16:05, 1 = 15:05, 2 = 15:25).
  EXPECT_FALSE(byCompound->listedInRunOrder);
  ASSERT_EQ(byCompound->samples[0].injection, 3);
  EXPECT_EQ(byCompound->samples[0].acquiredAt, "2020-01-07T15:45:44");
  EXPECT_EQ(byCompound->samples[1].injection, 4);
  EXPECT_EQ(byCompound->samples[2].injection, 1);
  EXPECT_EQ(byCompound->samples[2].acquiredAt, "2020-01-07T15:05:51");
  EXPECT_EQ(byCompound->samples[3].injection, 2);
  // The sample report's "#" numbers compounds, not injections.
  for (const Sample& s : bySample->samples) {
    EXPECT_FALSE(s.injection.has_value()) << s.sampleId;
  }
  // It gives the acquisition time, which the rules order by.
  EXPECT_EQ(bySample->samples[0].acquiredAt, "2020-01-07T15:05:51");

  const Result* cat = find(byCompound->samples[0], "CAT");
  ASSERT_NE(cat, nullptr);
  EXPECT_DOUBLE_EQ(*cat->peak->area, 9.188);
  EXPECT_DOUBLE_EQ(*cat->peak->height, 126);
  EXPECT_DOUBLE_EQ(*cat->peak->signalToNoise, 50.015);
  EXPECT_DOUBLE_EQ(*cat->peak->width, 0.439);
  EXPECT_DOUBLE_EQ(*cat->peak->expectedRetentionTime, 3.22);
  EXPECT_EQ(cat->peak->integrationCode, "bb");
  EXPECT_EQ(cat->peak->vendorFlags, "");

  // Both reports carry the same peaks for every (sample, compound).
  for (const Sample& s : bySample->samples) {
    auto other = std::find_if(byCompound->samples.begin(), byCompound->samples.end(),
                              [&](const Sample& o) { return o.sampleId == s.sampleId; });
    ASSERT_NE(other, byCompound->samples.end()) << s.sampleId;
    for (const Result& r : s.results) {
      const Result* o = find(*other, r.instrumentCode);
      ASSERT_NE(o, nullptr) << r.instrumentCode;
      EXPECT_EQ(r.peak->area, o->peak->area) << s.sampleId << " " << r.instrumentCode;
      EXPECT_EQ(r.peak->retentionTime, o->peak->retentionTime);
      EXPECT_EQ(r.peak->height, o->peak->height);
      EXPECT_EQ(r.peak->manualIntegration, o->peak->manualIntegration);
      EXPECT_EQ(r.peak->integrationCode, o->peak->integrationCode);
    }
  }
}

TEST(TargetLynxTxtFormat, OwnCompoundReport) {
  StatusOr<Message> m =
      parseExportFile(targetlynxTxtFormat(), testDataPath("csv/b_targetlynx_compound.txt"));
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_EQ(m->sentAt, "2024-03-04T16:20:00");
  ASSERT_EQ(m->samples.size(), 3u);
  const Sample& cal = m->samples[0];
  EXPECT_EQ(cal.sampleId, "STD 5 " + kMicro + "g");
  EXPECT_EQ(cal.kind, SampleKind::kCalibrator);
  EXPECT_EQ(cal.level, "cal five");  // its Sample Text
  EXPECT_EQ(cal.acquiredAt, "2024-03-04T10:01:00");
  EXPECT_EQ(cal.injection, 1);
  EXPECT_EQ(m->samples[2].injection, 3);
  EXPECT_FALSE(m->listedInRunOrder);
  ASSERT_EQ(cal.results.size(), 2u);
  EXPECT_DOUBLE_EQ(*cal.results[0].peak->accuracy, 98.0);  // %Dev -2.0
  EXPECT_EQ(cal.results[0].peak->internalStandard, "Testosterone-d3");
  EXPECT_TRUE(cal.results[1].internalStandard);
  EXPECT_EQ(cal.results[1].location, "line 15");
  const Sample& qc = m->samples[1];
  EXPECT_EQ(qc.kind, SampleKind::kQc);
  EXPECT_TRUE(qc.results[0].peak->manualIntegration);
  EXPECT_DOUBLE_EQ(*qc.results[0].peak->expectedConcentration, 2);
  const Sample& unknown = m->samples[2];
  EXPECT_EQ(unknown.kind, SampleKind::kUnknown);
  EXPECT_EQ(unknown.results[0].value, "");
  EXPECT_FALSE(unknown.results[0].peak->area.has_value());
  EXPECT_FALSE(unknown.results[0].peak->responseRatio.has_value());
}

TEST(TargetLynxTxtFormat, OwnSampleReportWithTracePrefixes) {
  StatusOr<Message> m =
      parseExportFile(targetlynxTxtFormat(), testDataPath("csv/b_targetlynx_sample.txt"));
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  ASSERT_EQ(m->samples.size(), 2u);
  EXPECT_EQ(m->samples[0].sampleId, "QC low");
  const Result& t = m->samples[0].results[0];
  EXPECT_EQ(t.instrumentCode, "Testosterone");
  EXPECT_EQ(t.peak->integrationCode, "MM");  // "1° Det. Flags": a manual integration, no flag
  EXPECT_EQ(t.peak->vendorFlags, "");
  EXPECT_TRUE(t.peak->manualIntegration);
  EXPECT_DOUBLE_EQ(*t.peak->qualifierArea, 310);  // "2° Area"
  EXPECT_DOUBLE_EQ(*t.peak->ionRatio, 0.449);
  EXPECT_TRUE(m->samples[0].results[1].internalStandard);
  EXPECT_EQ(m->samples[1].location, "line 14");
}

// Issue 20: a compound block sorted by name, without a "#" column: the unnamed first column gives
// the injection; "Primary Flags" are taken apart into integration code, exclusion and flags; the
// report's QC flag columns that say YES are kept as flags.
TEST(TargetLynxTxtFormat, OwnFlagsAndInjectionNumbers) {
  StatusOr<Message> m =
      parseExportFile(targetlynxTxtFormat(), testDataPath("csv/b_targetlynx_flags.txt"));
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_FALSE(m->listedInRunOrder);
  ASSERT_EQ(m->samples.size(), 5u);
  struct Expected {
    const char* name;
    int64_t injection;
    const char* code;
    bool manual, excluded;
    const char* flags;
  };
  const Expected expected[] = {
      {"CAL high", 3, "bd", false, true, ""},
      {"CAL low", 1, "MM", true, true, "I"},
      {"CAL mid", 2, "bb", false, false, ""},
      // QC flag columns that say YES are flags; "Dev. Flagging Required" and "Det. Flags" are not.
      {"S-0001", 4, "dd", false, false, "peak-missing-flag=YES 1-ratio-flag=YES"},
      {"S-0002", 5, "bb", false, false, "X"},  // an "X" outside a calibrator stays a flag
  };
  for (size_t i = 0; i < 5; ++i) {
    const Sample& s = m->samples[i];
    const Expected& e = expected[i];
    EXPECT_EQ(s.sampleId, e.name);
    EXPECT_EQ(s.injection, e.injection) << e.name;
    const Peak& p = *s.results.at(0).peak;
    EXPECT_EQ(p.integrationCode, e.code) << e.name;
    EXPECT_EQ(p.manualIntegration, e.manual) << e.name;
    EXPECT_EQ(p.excludedFromCurve, e.excluded) << e.name;
    EXPECT_EQ(p.vendorFlags, e.flags) << e.name;
  }
}

TEST(TargetLynxTxtFormat, MalformedReportsAreRefused) {
  const std::string title = "Quantify Compound Summary Report\r\n\r\n";
  StatusOr<Message> noHeader =
      parseExportText(targetlynxTxtFormat(), title + "Compound 1:  X\r\n\r\n1\t1\tS1\r\n");
  ASSERT_FALSE(noHeader.isOk());
  EXPECT_EQ(noHeader.status().location(), "line 5");
  StatusOr<Message> shortRow = parseExportText(
      targetlynxTxtFormat(), title + "Compound 1:  X\r\n\r\n\t#\tName\tArea\r\n1\t1\r\n");
  ASSERT_FALSE(shortRow.isOk());
  EXPECT_EQ(shortRow.status().location(), "line 6");
  StatusOr<Message> empty = parseExportText(targetlynxTxtFormat(), title);
  ASSERT_FALSE(empty.isOk());
}

TEST(TargetLynxTxtFormat, DetectsBySignatureOnly) {
  EXPECT_TRUE(looksLikeTargetLynxTxt("Quantify Compound Summary Report \r\n\r\nPrinted"));
  EXPECT_TRUE(looksLikeTargetLynxTxt("\r\nQuantify Sample Summary Report \r\n"));
  EXPECT_FALSE(looksLikeTargetLynxTxt("Sample Name\tComponent Name\r\n"));
  EXPECT_FALSE(looksLikeTargetLynxTxt("Title\r\nQuantify Compound Summary Report\r\n"));
}

}  // namespace
}  // namespace labgate::csv
