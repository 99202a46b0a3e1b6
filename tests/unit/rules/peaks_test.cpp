#include "rules/peaks.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(c.limit, "0.025");
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
  EXPECT_EQ(c.limit, "0.25");
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

}  // namespace
}  // namespace labgate::rules
