#include "rules/peaks.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace labgate::rules {
namespace {

Peak goodPeak() {
  Peak p;
  p.retentionTime = 5.0;
  p.area = 10000;
  p.height = 2000;
  p.internalStandardArea = 50000;
  p.internalStandardRt = 4.0;
  p.quantifierArea = 10000;
  p.qualifierArea = 2500;
  p.signalToNoise = 50;
  p.width = 0.1;
  p.asymmetry = 1.1;
  p.calculatedConcentration = 10;
  return p;
}

AnalyteReference goodRef() {
  AnalyteReference r;
  r.meanCalibratorRt = 5.0;
  r.meanCalibratorIsRt = 4.0;
  r.meanCalibratorRrt = 1.25;
  r.meanCalibratorIonRatio = 0.25;
  r.meanIsArea = 50000;
  r.medianIsArea = 50000;
  r.isAreaCvPct = 8;
  r.isAreaCount = 10;
  r.medianCalibratorWidth = 0.1;
  r.uloqCalibratorHeight = 100000;
  return r;
}

TEST(PeakRtWindow, RelativeLimitIsInclusiveAndMissingIsNotEvaluable) {
  PeakConfig cfg;
  Peak p = goodPeak();
  p.retentionTime = 5.125;  // exactly 2.5 % off
  CheckResult c = checkRtWindow(p, goodRef(), cfg);
  EXPECT_EQ(c.outcome, Outcome::kPass);
  EXPECT_EQ(c.ruleId, "peak.rt_window");
  EXPECT_EQ(c.subject, "result");
  p.retentionTime = 5.13;
  c = checkRtWindow(p, goodRef(), cfg);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.code, "RT_WINDOW");
  // Issue 20: measured and limit in the unit of the message (percent).
  EXPECT_EQ(c.limit, "2.5");
  EXPECT_EQ(c.measured, num(100 * 0.13 / 5.0));
  EXPECT_NE(c.message.find("relative deviation 2.6 % (limit 2.5 %)"), std::string::npos)
      << c.message;
  EXPECT_EQ(c.onFail, DispositionKind::kHold);
  p.retentionTime.reset();
  EXPECT_EQ(checkRtWindow(p, goodRef(), cfg).outcome, Outcome::kNotEvaluable);
}

TEST(PeakRtWindow, FallsBackToTheExpectedRtWithoutCalibrators) {
  PeakConfig cfg;
  Peak p = goodPeak();
  p.retentionTime = 6.0;
  p.expectedRetentionTime = 6.1;
  AnalyteReference ref;
  EXPECT_EQ(checkRtWindow(p, ref, cfg).outcome, Outcome::kPass);  // 1.6 % off the expected RT
  ref.meanCalibratorRt = 5.0;                                     // the calibrator mean wins
  EXPECT_EQ(checkRtWindow(p, ref, cfg).outcome, Outcome::kFail);
  p.expectedRetentionTime.reset();
  EXPECT_EQ(checkRtWindow(p, AnalyteReference{}, cfg).outcome, Outcome::kNotEvaluable);
}

TEST(PeakRtWindow, AbsoluteAndRelativeRtModes) {
  PeakConfig cfg;
  cfg.rtMode = RtMode::kAbsolute;
  Peak p = goodPeak();
  p.retentionTime = 5.0625;
  EXPECT_EQ(checkRtWindow(p, goodRef(), cfg).outcome, Outcome::kPass);
  p.retentionTime = 5.11;
  EXPECT_EQ(checkRtWindow(p, goodRef(), cfg).outcome, Outcome::kFail);

  cfg.rtMode = RtMode::kRelativeRt;
  // Both analyte and IS moved 4 %: RRT unchanged, so the RRT window passes.
  p.retentionTime = 5.2;
  p.internalStandardRt = 4.16;
  EXPECT_EQ(checkRtWindow(p, goodRef(), cfg).outcome, Outcome::kPass);
  p.internalStandardRt = 4.0;
  EXPECT_EQ(checkRtWindow(p, goodRef(), cfg).outcome, Outcome::kFail);
  p.internalStandardRt.reset();
  EXPECT_EQ(checkRtWindow(p, goodRef(), cfg).outcome, Outcome::kNotEvaluable);
}

TEST(PeakRtWindow, InternalStandardRt) {
  Peak p = goodPeak();
  p.internalStandardRt = 4.2;  // 5 %
  CheckResult c = checkIsRtWindow(p, goodRef(), PeakConfig{});
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.ruleId, "peak.is_rt_window");
}

TEST(PeakIonRatio, ToleranceTableBoundaries) {
  EXPECT_DOUBLE_EQ(ionRatioTolerance(0.51), 0.20);
  EXPECT_DOUBLE_EQ(ionRatioTolerance(0.50), 0.25);
  EXPECT_DOUBLE_EQ(ionRatioTolerance(0.21), 0.25);
  EXPECT_DOUBLE_EQ(ionRatioTolerance(0.20), 0.30);
  EXPECT_DOUBLE_EQ(ionRatioTolerance(0.11), 0.30);
  EXPECT_DOUBLE_EQ(ionRatioTolerance(0.10), 0.50);
  PeakConfig flat;
  flat.ionRatioFlatTol = 0.30;
  EXPECT_DOUBLE_EQ(ionRatioTolerance(0.9, flat), 0.30);
}

TEST(PeakIonRatio, DeviationOnTheToleranceLimitPasses) {
  PeakConfig cfg;
  Peak p = goodPeak();
  p.qualifierArea = 3125;  // IR 0.3125 vs 0.25: exactly +25 %
  CheckResult c = checkIonRatio(p, goodRef(), cfg);
  EXPECT_EQ(c.outcome, Outcome::kPass);
  p.qualifierArea = 3200;
  c = checkIonRatio(p, goodRef(), cfg);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.code, "ION_RATIO");
  // Issue 20: percent, as the message says (relative deviation 28 %, tolerance 25 %).
  EXPECT_EQ(c.limit, "25");
  EXPECT_EQ(c.measured, "28");
  EXPECT_NE(c.message.find("relative deviation 28 % (tolerance 25 %)"), std::string::npos)
      << c.message;
  // The vendor's own ratio is used when exported.
  p.ionRatio = 0.25;
  EXPECT_EQ(checkIonRatio(p, goodRef(), cfg).outcome, Outcome::kPass);
}

TEST(PeakIonRatio, ConfiguredReferenceMissingQualifierAndSaturation) {
  PeakConfig cfg;
  cfg.ionRatioReference = 0.6;  // tolerance 20 %
  Peak p = goodPeak();
  p.qualifierArea = 5000;  // 0.5 vs 0.6: 16.7 %
  EXPECT_EQ(checkIonRatio(p, goodRef(), cfg).outcome, Outcome::kPass);

  Peak noQual = goodPeak();
  noQual.qualifierArea.reset();
  EXPECT_EQ(checkIonRatio(noQual, goodRef(), PeakConfig{}, 5.0).outcome, Outcome::kFail);
  EXPECT_EQ(checkIonRatio(noQual, goodRef(), PeakConfig{}, 20.0).outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(checkIonRatio(noQual, goodRef(), PeakConfig{}).outcome, Outcome::kNotEvaluable);

  Peak high = goodPeak();
  high.qualifierArea = 4000;
  high.height = 150000;  // above the ULOQ calibrator's height
  CheckResult c = checkIonRatio(high, goodRef(), PeakConfig{});
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.code, "POSSIBLE_SATURATION");

  EXPECT_EQ(checkIonRatio(goodPeak(), AnalyteReference{}, PeakConfig{}).outcome,
            Outcome::kNotEvaluable);
}

TEST(PeakSignalToNoise, LloqCalibratorAndPatients) {
  PeakConfig cfg;
  Peak p = goodPeak();
  p.signalToNoise = 10;
  EXPECT_EQ(checkSignalToNoise(p, SampleKind::kCalibrator, true, cfg)->outcome, Outcome::kPass);
  p.signalToNoise = 5;
  EXPECT_EQ(checkSignalToNoise(p, SampleKind::kCalibrator, true, cfg)->outcome, Outcome::kWarn);
  p.signalToNoise = 4.9;
  auto c = checkSignalToNoise(p, SampleKind::kCalibrator, true, cfg);
  EXPECT_EQ(c->outcome, Outcome::kFail);
  EXPECT_EQ(c->ruleId, "peak.signal_to_noise");
  p.signalToNoise.reset();
  EXPECT_EQ(checkSignalToNoise(p, SampleKind::kCalibrator, true, cfg)->outcome,
            Outcome::kNotEvaluable);
  EXPECT_FALSE(checkSignalToNoise(p, SampleKind::kCalibrator, false, cfg));
  EXPECT_FALSE(checkSignalToNoise(p, SampleKind::kQc, false, cfg));

  p.signalToNoise = 9;  // a patient at/above the LLOQ only warns
  EXPECT_EQ(checkSignalToNoise(p, SampleKind::kUnknown, false, cfg, 10.0)->outcome, Outcome::kWarn);
  EXPECT_FALSE(checkSignalToNoise(p, SampleKind::kUnknown, false, cfg, 11.0));  // below LLOQ

  EXPECT_EQ(checkLloqOverBlank(500.0, 100.0).outcome, Outcome::kPass);
  EXPECT_EQ(checkLloqOverBlank(499.0, 100.0).outcome, Outcome::kFail);
  EXPECT_EQ(checkLloqOverBlank(std::nullopt, 100.0).outcome, Outcome::kNotEvaluable);
}

TEST(PeakShape, TailingAndFrontingBySampleKind) {
  PeakConfig cfg;
  Peak p = goodPeak();
  p.asymmetry = 2.0;
  EXPECT_EQ(checkShape(p, SampleKind::kUnknown, cfg).outcome, Outcome::kPass);
  p.asymmetry = 0.8;
  EXPECT_EQ(checkShape(p, SampleKind::kUnknown, cfg).outcome, Outcome::kPass);
  p.asymmetry = 2.1;
  EXPECT_EQ(checkShape(p, SampleKind::kUnknown, cfg).outcome, Outcome::kWarn);
  EXPECT_EQ(checkShape(p, SampleKind::kCalibrator, cfg).outcome, Outcome::kFail);
  EXPECT_EQ(checkShape(p, SampleKind::kQc, cfg).outcome, Outcome::kFail);
  p.asymmetry = 0.7;
  CheckResult c = checkShape(p, SampleKind::kUnknown, cfg);
  EXPECT_EQ(c.outcome, Outcome::kWarn);
  EXPECT_EQ(c.code, "PEAK_FRONTING");
  EXPECT_EQ(c.ruleId, "peak.shape");
  p.asymmetry.reset();
  EXPECT_EQ(checkShape(p, SampleKind::kUnknown, cfg).outcome, Outcome::kNotEvaluable);
}

TEST(PeakWidth, RatioToTheCalibratorMedian) {
  PeakConfig cfg;
  Peak p = goodPeak();
  AnalyteReference ref = goodRef();
  ref.medianCalibratorWidth = 0.125;
  p.width = 0.25;  // exactly 2×
  EXPECT_EQ(checkWidth(p, SampleKind::kUnknown, ref, cfg).outcome, Outcome::kPass);
  p.width = 0.0625;  // exactly 0.5×
  EXPECT_EQ(checkWidth(p, SampleKind::kUnknown, ref, cfg).outcome, Outcome::kPass);
  p.width = 0.3;
  EXPECT_EQ(checkWidth(p, SampleKind::kUnknown, ref, cfg).outcome, Outcome::kWarn);
  // Issue 20: the message states the measured ratio and the limits.
  EXPECT_EQ(checkWidth(p, SampleKind::kUnknown, ref, cfg).message,
            "width 0.3 is 2.4 x the calibrators' median 0.125 (limits 0.5–2 x)");
  EXPECT_EQ(checkWidth(p, SampleKind::kCalibrator, ref, cfg).outcome, Outcome::kFail);
  EXPECT_EQ(checkWidth(p, SampleKind::kUnknown, AnalyteReference{}, cfg).outcome,
            Outcome::kNotEvaluable);
}

TEST(PeakIsResponse, WindowMissingAndDoubleBlank) {
  PeakConfig cfg;
  Peak p = goodPeak();
  AnalyteReference ref = goodRef();  // IS_ref 50000
  p.internalStandardArea = 25000;    // exactly 50 %
  EXPECT_EQ(checkIsResponse(p, SampleKind::kUnknown, ref, cfg).outcome, Outcome::kPass);
  p.internalStandardArea = 75000;  // exactly 150 %
  EXPECT_EQ(checkIsResponse(p, SampleKind::kUnknown, ref, cfg).outcome, Outcome::kPass);
  p.internalStandardArea = 24999;
  CheckResult c = checkIsResponse(p, SampleKind::kUnknown, ref, cfg);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.onFail, DispositionKind::kHold);
  EXPECT_EQ(c.ruleId, "peak.is_response");
  p.internalStandardArea = 75001;
  EXPECT_EQ(checkIsResponse(p, SampleKind::kUnknown, ref, cfg).outcome, Outcome::kFail);

  p.internalStandardArea.reset();
  c = checkIsResponse(p, SampleKind::kUnknown, ref, cfg);
  EXPECT_EQ(c.code, "IS_MISSING");
  EXPECT_EQ(c.onFail, DispositionKind::kReject);
  p.internalStandardArea = 0;
  EXPECT_EQ(checkIsResponse(p, SampleKind::kBlank, ref, cfg).code, "IS_MISSING");

  EXPECT_EQ(checkIsResponse(p, SampleKind::kDoubleBlank, ref, cfg).outcome, Outcome::kPass);
  p.internalStandardArea = 2500;  // 5 %
  EXPECT_EQ(checkIsResponse(p, SampleKind::kDoubleBlank, ref, cfg).outcome, Outcome::kPass);
  p.internalStandardArea = 2600;
  EXPECT_EQ(checkIsResponse(p, SampleKind::kDoubleBlank, ref, cfg).outcome, Outcome::kFail);

  p.internalStandardArea = 40000;
  EXPECT_EQ(checkIsResponse(p, SampleKind::kUnknown, AnalyteReference{}, cfg).outcome,
            Outcome::kNotEvaluable);
}

TEST(PeakIsResponse, BatchCv) {
  PeakConfig cfg;
  AnalyteReference ref;
  EXPECT_EQ(checkIsCv(ref, cfg).outcome, Outcome::kNotEvaluable);
  ref.isAreaCvPct = 15;
  CheckResult c = checkIsCv(ref, cfg);
  EXPECT_EQ(c.outcome, Outcome::kPass);
  EXPECT_EQ(c.subject, "batch");
  ref.isAreaCvPct = 25;
  EXPECT_EQ(checkIsCv(ref, cfg).outcome, Outcome::kWarn);
  ref.isAreaCvPct = 25.1;
  EXPECT_EQ(checkIsCv(ref, cfg).outcome, Outcome::kFail);
}

TEST(PeakSaturation, VendorFlagHeightAndUloq) {
  PeakConfig cfg;
  Peak p = goodPeak();
  EXPECT_EQ(checkSaturation(p, goodRef(), cfg, 500.0).outcome, Outcome::kPass);
  p.vendorFlags = "bb; sat";
  CheckResult c = checkSaturation(p, goodRef(), cfg, 500.0);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.code, "SATURATION");
  p.vendorFlags.clear();
  p.height = 120000;  // exactly 1.2 × the ULOQ calibrator's height
  EXPECT_EQ(checkSaturation(p, goodRef(), cfg, 500.0).outcome, Outcome::kPass);
  p.height = 120001;
  c = checkSaturation(p, goodRef(), cfg, 500.0);
  EXPECT_EQ(c.code, "DILUTE_AND_RERUN");
  EXPECT_EQ(c.onFail, DispositionKind::kHold);
  p.height = 2000;
  p.calculatedConcentration = 500.5;
  EXPECT_EQ(checkSaturation(p, goodRef(), cfg, 500.0).code, "DILUTE_AND_RERUN");
  p.height.reset();
  EXPECT_EQ(checkSaturation(p, AnalyteReference{}, cfg).outcome, Outcome::kNotEvaluable);
}

TEST(PeakNotFound, BySampleKind) {
  PeakConfig cfg;
  Peak p;
  EXPECT_FALSE(peakFound(p));
  EXPECT_EQ(checkNotFound(p, SampleKind::kUnknown, true, cfg).outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(checkNotFound(p, SampleKind::kBlank, false, cfg).outcome, Outcome::kPass);
  EXPECT_EQ(checkNotFound(p, SampleKind::kDoubleBlank, false, cfg).outcome, Outcome::kPass);
  EXPECT_EQ(checkNotFound(p, SampleKind::kCalibrator, true, cfg).outcome, Outcome::kFail);
  cfg.rtWindowSearched = true;
  CheckResult c = checkNotFound(p, SampleKind::kUnknown, true, cfg);
  EXPECT_EQ(c.outcome, Outcome::kPass);
  EXPECT_EQ(c.code, "NOT_DETECTED");
  EXPECT_EQ(checkNotFound(p, SampleKind::kUnknown, false, cfg).outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(checkNotFound(goodPeak(), SampleKind::kUnknown, false, cfg).outcome, Outcome::kPass);
}

TEST(PeakManualIntegration, HoldsPatientsInClinicalModeElseWarns) {
  PeakConfig cfg;
  Peak p = goodPeak();
  EXPECT_EQ(checkManualIntegration(p, SampleKind::kUnknown, cfg).outcome, Outcome::kPass);
  p.manualIntegration = true;
  CheckResult c = checkManualIntegration(p, SampleKind::kUnknown, cfg);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.onFail, DispositionKind::kHold);
  EXPECT_EQ(checkManualIntegration(p, SampleKind::kQc, cfg).outcome, Outcome::kWarn);
  cfg.manualIntegrationHolds = false;
  EXPECT_EQ(checkManualIntegration(p, SampleKind::kUnknown, cfg).outcome, Outcome::kWarn);
}

Result analyte(const std::string& code, double rt, double is, double qual, double quant, double sn,
               double width, double height) {
  Result r;
  r.instrumentCode = code;
  Peak p;
  p.retentionTime = rt;
  p.area = quant;
  p.quantifierArea = quant;
  p.qualifierArea = qual;
  p.internalStandardArea = is;
  p.internalStandardRt = rt - 0.01;
  p.signalToNoise = sn;
  p.width = width;
  p.height = height;
  p.expectedRetentionTime = 2.5;
  r.peak = p;
  return r;
}

Message referenceBatch() {
  Message m;
  auto add = [&](SampleKind kind, double level, Result r) {
    Sample s;
    s.kind = kind;
    s.nominalConcentration = level;
    s.results.push_back(std::move(r));
    m.samples.push_back(std::move(s));
  };
  add(SampleKind::kCalibrator, 1, analyte("TST", 2.40, 1000, 50, 100, 6, 0.10, 10));  // S/N < 10
  add(SampleKind::kCalibrator, 10, analyte("TST", 2.42, 1100, 300, 1000, 40, 0.12, 100));
  add(SampleKind::kCalibrator, 100, analyte("TST", 2.44, 900, 3200, 10000, 400, 0.14, 1000));
  add(SampleKind::kQc, 50, analyte("TST", 2.60, 1400, 1500, 5000, 200, 0.30, 500));
  add(SampleKind::kUnknown, 0, analyte("TST", 2.90, 100, 10, 10, 1, 0.90, 1));
  Result is;
  is.instrumentCode = "TST-d4";
  is.internalStandard = true;
  is.peak = Peak{};
  is.peak->expectedRetentionTime = 2.49;
  m.samples[0].results.push_back(is);
  for (Sample& s : m.samples) s.results[0].peak->internalStandard = "TST-d4";
  return m;
}

TEST(PeakReferences, CalibratorMeansFromTheBatch) {
  BatchReferences refs = computeBatchReferences(referenceBatch());
  ASSERT_EQ(refs.analytes.count("TST"), 1u);
  EXPECT_EQ(refs.analytes.count("TST-d4"), 0u);
  AnalyteReference r = refs.of("TST");
  EXPECT_NEAR(*r.meanCalibratorRt, 2.42, 1e-12);
  EXPECT_NEAR(*r.meanCalibratorIsRt, 2.41, 1e-12);
  // IR_ref leaves out the S/N-6 calibrator: (0.3 + 0.32)/2.
  EXPECT_NEAR(*r.meanCalibratorIonRatio, 0.31, 1e-12);
  // IS_ref over cal + QC: (1000 + 1100 + 900 + 1400)/4; patient excluded.
  EXPECT_NEAR(*r.meanIsArea, 1100, 1e-9);
  EXPECT_EQ(r.isAreaCount, 4u);
  EXPECT_NEAR(*r.medianCalibratorIsArea, 1000, 1e-9);  // calibrators only
  EXPECT_NEAR(*r.isAreaCvPct, 100 * 216.024689946929 / 1100, 1e-6);
  EXPECT_NEAR(*r.medianCalibratorWidth, 0.12, 1e-12);
  EXPECT_NEAR(*r.uloqCalibratorHeight, 1000, 1e-12);
  EXPECT_NEAR(*r.expectedRt, 2.5, 1e-12);
  EXPECT_NEAR(*r.expectedIsRt, 2.49, 1e-12);
  EXPECT_FALSE(refs.of("OTHER").meanCalibratorRt);

  // An acceptance predicate drops the QC from IS_ref.
  BatchReferences onlyCal = computeBatchReferences(
      referenceBatch(), PeakConfig{},
      [](const Sample& s, const Result&) { return s.kind == SampleKind::kCalibrator; });
  EXPECT_NEAR(*onlyCal.of("TST").meanIsArea, 1000, 1e-9);
}

TEST(PeakCheckAll, RunsEveryEnabledCheckInOrder) {
  Message m = referenceBatch();
  BatchReferences refs = computeBatchReferences(m);
  PeakContext ctx;
  ctx.kind = SampleKind::kQc;
  ctx.lloq = 1;
  ctx.uloq = 100;
  m.samples[3].results[0].peak->asymmetry = 1.0;
  auto checks = checkPeak(m.samples[3].results[0], refs.of("TST"), PeakConfig{}, ctx);
  std::vector<std::string> ids;
  ids.reserve(checks.size());
  for (const auto& c : checks) ids.push_back(c.ruleId);
  EXPECT_EQ(ids, (std::vector<std::string>{"peak.not_found", "peak.rt_window", "peak.is_rt_window",
                                           "peak.ion_ratio", "peak.shape", "peak.width",
                                           "peak.is_response", "peak.saturation",
                                           "peak.manual_integration"}));

  Result missing;
  missing.instrumentCode = "TST";
  missing.peak = Peak{};
  missing.peak->internalStandardArea = 1100;
  ctx.kind = SampleKind::kUnknown;
  checks = checkPeak(missing, refs.of("TST"), PeakConfig{}, ctx);
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_EQ(checks[0].ruleId, "peak.not_found");
  EXPECT_EQ(checks[0].outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(checks[1].outcome, Outcome::kPass);  // IS fine

  Result noPeak;
  checks = checkPeak(noPeak, refs.of("TST"), PeakConfig{}, ctx);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].outcome, Outcome::kNotEvaluable);
}

// Issue 20 item 4: the IS reference is a median the top calibrators cannot inflate, and
// patients are compared with the QCs (matrix-matched) when the batch has two or more.
TEST(PeakIsResponse, MedianReferenceAndTheQcsForPatients) {
  Message m;
  auto add = [&](SampleKind kind, double isArea) {
    Sample s;
    s.kind = kind;
    Result r;
    r.instrumentCode = "TST";
    r.peak = Peak{};
    r.peak->retentionTime = 2.0;
    r.peak->area = 1000;
    r.peak->internalStandardArea = isArea;
    s.results.push_back(r);
    m.samples.push_back(s);
  };
  // Five calibrators at 100000, the two top ones with their IS enhanced to 900000.
  for (double a : {100000.0, 100000.0, 100000.0, 900000.0, 900000.0})
    add(SampleKind::kCalibrator, a);
  AnalyteReference ref = computeBatchReferences(m).of("TST");
  EXPECT_NEAR(*ref.meanIsArea, 420000, 1e-6);  // the mean would put a normal IS at 24 %
  EXPECT_NEAR(*ref.medianIsArea, 100000, 1e-6);
  EXPECT_FALSE(ref.qcMedianIsArea) << "no QC: patients use the cal/QC median";
  PeakConfig cfg;
  Peak patient = *m.samples[0].results[0].peak;
  patient.internalStandardArea = 95000;
  CheckResult c = checkIsResponse(patient, SampleKind::kUnknown, ref, cfg);
  EXPECT_EQ(c.outcome, Outcome::kPass) << c.message;
  EXPECT_EQ(c.measured, "95");

  add(SampleKind::kQc, 60000);
  add(SampleKind::kQc, 64000);
  ref = computeBatchReferences(m).of("TST");
  ASSERT_TRUE(ref.qcMedianIsArea);
  EXPECT_NEAR(*ref.qcMedianIsArea, 62000, 1e-6);
  patient.internalStandardArea = 40000;  // 64.5 % of the QCs, 40 % of the cal/QC median
  EXPECT_EQ(checkIsResponse(patient, SampleKind::kUnknown, ref, cfg).outcome, Outcome::kPass);
  c = checkIsResponse(patient, SampleKind::kCalibrator, ref, cfg);
  EXPECT_EQ(c.outcome, Outcome::kFail) << "a calibrator is compared with the cal/QC median";
  patient.internalStandardArea = 6200;  // 10 % of the QC median
  c = checkIsResponse(patient, SampleKind::kUnknown, ref, cfg);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.measured, "10");
  EXPECT_EQ(c.limit, "50");
  EXPECT_EQ(c.message,
            "IS area 10 % of the QC median 62000, outside 50–150 % (ion suppression, "
            "pipetting/IS addition error): re-extract or reinject");
}

// Issue 20 item 4: when most patients of an analyte fall outside the IS window, one batch
// finding says so, and each result's finding is short and refers to it.
TEST(PeakIsResponse, MatrixMismatchIsOneBatchFinding) {
  Message m;
  auto add = [&](SampleKind kind, double isArea) {
    Sample s;
    s.kind = kind;
    Result r;
    r.instrumentCode = "TST";
    r.peak = Peak{};
    r.peak->internalStandardArea = isArea;
    s.results.push_back(r);
    m.samples.push_back(s);
  };
  for (int i = 0; i < 3; ++i) add(SampleKind::kCalibrator, 100000);
  for (double a : {30000.0, 32000.0, 28000.0, 90000.0}) add(SampleKind::kUnknown, a);
  AnalyteReference ref = computeBatchReferences(m).of("TST");
  PeakConfig cfg;
  CheckResult batch = checkIsMatrixMismatch(m, "TST", ref, cfg);
  EXPECT_EQ(batch.outcome, Outcome::kFail);
  EXPECT_EQ(batch.code, "IS_MATRIX_MISMATCH");
  EXPECT_EQ(batch.ruleId, "peak.is_matrix_mismatch");
  EXPECT_EQ(batch.subject, "analyte");
  EXPECT_EQ(batch.measured, "31");  // the patients' median IS, percent of the reference
  EXPECT_EQ(batch.limit, "50");
  EXPECT_EQ(batch.message.rfind("3 of 4 patient IS areas outside 50–150 % of the cal/QC median "
                                "100000 (patient median 31 %)",
                                0),
            0u)
      << batch.message;
  // Half or fewer outside: no mismatch; too few patients: none either.
  m.samples[3].results[0].peak->internalStandardArea = 95000;
  EXPECT_EQ(checkIsMatrixMismatch(m, "TST", ref, cfg).outcome, Outcome::kPass);
  EXPECT_EQ(checkIsMatrixMismatch(m, "TST", ref, cfg, 10).outcome, Outcome::kPass);

  PeakContext pc;
  pc.kind = SampleKind::kUnknown;
  pc.isMatrixMismatch = true;
  Result r = m.samples[4].results[0];
  r.peak->retentionTime = 2.0;
  r.peak->area = 100;
  std::vector<CheckResult> checks = checkPeak(r, ref, cfg, pc);
  auto is = std::find_if(checks.begin(), checks.end(),
                         [](const CheckResult& c) { return c.ruleId == "peak.is_response"; });
  ASSERT_NE(is, checks.end());
  EXPECT_EQ(is->outcome, Outcome::kFail);
  EXPECT_EQ(is->message, "IS area 32 % of the reference: see IS_MATRIX_MISMATCH");
}

// Issue 20 item 2: where the export allows, the IS area is derived: from the IS's own row, or
// as Area ÷ response ratio for an analyte with no IS area at all (never mixed with real ones).
TEST(PeakIsResponse, DerivedInternalStandardAreas) {
  Message m;
  Sample s;
  Result a;
  a.instrumentCode = "TST";
  a.peak = Peak{};
  a.peak->area = 5000;
  a.peak->responseRatio = 0.5;
  a.peak->internalStandard = "TST-d4";
  Result is;
  is.instrumentCode = "TST-d4";
  is.internalStandard = true;
  is.peak = Peak{};
  is.peak->area = 12000;
  is.peak->retentionTime = 3.1;
  Result b = a;
  b.instrumentCode = "OTHER";
  b.peak->internalStandard.clear();
  Result c = b;
  c.instrumentCode = "MIXED";
  Result second = is;  // a second IS in the batch: an analyte naming none gets no IS row
  second.instrumentCode = "SECOND-d3";
  s.results = {a, is, b, c, second};
  m.samples.push_back(s);
  Sample s2 = s;
  s2.results[3].peak->internalStandardArea = 7777;  // MIXED: one injection has a real IS area
  m.samples.push_back(s2);
  std::vector<std::string> derived = deriveInternalStandardAreas(m);
  EXPECT_EQ(derived, std::vector<std::string>{"OTHER"});
  const Sample& first = m.samples[0];
  EXPECT_EQ(first.results[0].peak->internalStandardArea.value_or(0), 12000) << "from the IS row";
  EXPECT_EQ(first.results[0].peak->internalStandardRt.value_or(0), 3.1);
  EXPECT_EQ(first.results[2].peak->internalStandardArea.value_or(0), 10000) << "5000 ÷ 0.5";
  EXPECT_FALSE(first.results[3].peak->internalStandardArea) << "MIXED is left alone";
  // With a single IS in the batch, an analyte that names none takes that one; with two, nothing
  // is guessed.
  Message single;
  Sample one;
  Result unnamed = a;
  unnamed.peak->internalStandard.clear();
  unnamed.peak->responseRatio.reset();
  one.results = {unnamed, is};
  single.samples.push_back(one);
  Message two = single;
  Result otherIs = is;
  otherIs.instrumentCode = "OTHER-d3";
  two.samples[0].results.push_back(otherIs);
  deriveInternalStandardAreas(single);
  deriveInternalStandardAreas(two);
  EXPECT_EQ(single.samples[0].results[0].peak->internalStandardArea.value_or(0), 12000);
  EXPECT_FALSE(two.samples[0].results[0].peak->internalStandardArea);
  // An IS row without a peak: no IS area, except in a double blank, where "no IS" is area 0.
  Message empty = single;
  empty.samples[0].results[0].peak->internalStandardArea.reset();
  empty.samples[0].results[1].peak->area.reset();
  Message doubleBlank = empty;
  doubleBlank.samples[0].kind = SampleKind::kDoubleBlank;
  deriveInternalStandardAreas(empty);
  deriveInternalStandardAreas(doubleBlank);
  EXPECT_FALSE(empty.samples[0].results[0].peak->internalStandardArea);
  EXPECT_EQ(doubleBlank.samples[0].results[0].peak->internalStandardArea.value_or(-1), 0);
}

// Issue 20 item 3: S/N is judged on exports that carry Final Conc. instead of Calc. Conc.
TEST(PeakSignalToNoise, FinalConcentrationWhenThereIsNoCalculatedOne) {
  Peak p = goodPeak();
  p.calculatedConcentration.reset();
  p.finalConcentration = 20;
  p.signalToNoise = 4;
  PeakConfig cfg;
  auto sn = checkSignalToNoise(p, SampleKind::kUnknown, false, cfg, 5.0);
  ASSERT_TRUE(sn) << "Final Conc. 20 ≥ LLOQ 5: S/N is judged";
  EXPECT_EQ(sn->outcome, Outcome::kWarn);
  EXPECT_EQ(sn->message, "S/N 4 below 10 on a result at or above the LLOQ");
  // Final Conc. ÷ dilution is what the LLOQ speaks of: 20 ÷ 10 = 2 < 5, "<LLOQ", no S/N check.
  EXPECT_FALSE(checkSignalToNoise(p, SampleKind::kUnknown, false, cfg, 5.0, 10.0));
  EXPECT_EQ(concentrationOf(p, 10.0).value_or(0), 2);
  EXPECT_EQ(concentrationOf(p).value_or(0), 20);
  p.calculatedConcentration = 7;
  EXPECT_EQ(concentrationOf(p, 10.0).value_or(0), 7) << "Calc. Conc. first";
  // Through checkPeak, with the sample's dilution in the context.
  Result r;
  r.peak = p;
  r.peak->calculatedConcentration.reset();
  PeakContext pc;
  pc.kind = SampleKind::kUnknown;
  pc.lloq = 5;
  pc.passingChecks = PassingChecks::kOmitted;
  std::vector<CheckResult> checks = checkPeak(r, goodRef(), cfg, pc);
  EXPECT_TRUE(std::any_of(checks.begin(), checks.end(), [](const CheckResult& c) {
    return c.ruleId == "peak.signal_to_noise" && c.outcome == Outcome::kWarn;
  }));
}

TEST(PeakChecks, NamesTheRuleSetUses) {
  PeakConfig cfg;
  for (const std::string& name : peakCheckNames()) {
    EXPECT_TRUE(peakCheckOn(cfg, name)) << name;
    EXPECT_TRUE(setPeakCheck(cfg, name, false)) << name;
    EXPECT_FALSE(peakCheckOn(cfg, name)) << name;
  }
  EXPECT_FALSE(cfg.checkIonRatio);
  EXPECT_FALSE(setPeakCheck(cfg, "ion_ratios", false));
  EXPECT_FALSE(peakCheckOn(cfg, "ion_ratios"));
}

}  // namespace
}  // namespace labgate::rules
