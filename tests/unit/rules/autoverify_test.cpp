#include "rules/autoverify.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace labgate::rules {
namespace {

BatchGates allAccepted() {
  BatchGates g;
  g.calibrationAccepted = true;
  g.qcAccepted = true;
  g.qcBracketing = true;
  g.blanksAccepted = true;
  g.sstAccepted = true;
  return g;
}

AnalyteLimits limits() {
  AnalyteLimits l;
  l.lloq = 0.5;
  l.uloq = 200;
  l.referenceLow = 2;
  l.referenceHigh = 20;
  l.criticalLow = 1;
  l.criticalHigh = 100;
  l.absurdLow = 0;
  l.absurdHigh = 1000;
  return l;
}

Result patient(double value) {
  Result r;
  r.instrumentCode = "TST";
  r.numeric = value;
  r.value = std::to_string(value);
  r.peak = Peak{};
  return r;
}

const CheckResult* find(const AutoverifyDecision& d, const std::string& ruleId) {
  auto it = std::find_if(d.checks.begin(), d.checks.end(),
                         [&](const CheckResult& c) { return c.ruleId == ruleId; });
  return it == d.checks.end() ? nullptr : &*it;
}

TEST(AutoverifyAll, CleanResultIsReleasedWithEveryStepRecorded) {
  AutoverifyDecision d = autoverify(patient(10), allAccepted(), {}, limits());
  EXPECT_EQ(d.disposition, DispositionKind::kRelease);
  EXPECT_FALSE(d.firstHardFailure);
  EXPECT_TRUE(d.displayValue.empty());
  EXPECT_TRUE(d.flag.empty());
  EXPECT_FALSE(d.notify);
  std::vector<std::string> ids;
  for (const auto& c : d.checks) ids.push_back(c.ruleId);
  EXPECT_EQ(ids, (std::vector<std::string>{
                     "autoverify.calibration", "autoverify.qc", "autoverify.qc_bracketing",
                     "autoverify.blanks", "autoverify.sst", "autoverify.measuring_range",
                     "autoverify.absurd", "autoverify.critical", "autoverify.reference",
                     "autoverify.delta", "autoverify.vendor_flags"}));
  for (const auto& c : d.checks) EXPECT_EQ(c.outcome, Outcome::kPass) << c.ruleId;
}

TEST(AutoverifyBatchGates, CalibrationAndQcRejectOthersHold) {
  auto with = [](auto set) {
    BatchGates g = allAccepted();
    set(g);
    return autoverify(patient(10), g, {}, limits()).disposition;
  };
  EXPECT_EQ(with([](BatchGates& g) { g.calibrationAccepted = false; }), DispositionKind::kReject);
  EXPECT_EQ(with([](BatchGates& g) { g.qcAccepted = false; }), DispositionKind::kReject);
  EXPECT_EQ(with([](BatchGates& g) { g.qcBracketing = false; }), DispositionKind::kHold);
  EXPECT_EQ(with([](BatchGates& g) { g.blanksAccepted = false; }), DispositionKind::kHold);
  EXPECT_EQ(with([](BatchGates& g) { g.sstAccepted = false; }), DispositionKind::kHold);
  // Not evaluated is never a pass.
  AutoverifyDecision d = autoverify(patient(10), BatchGates{}, {}, limits());
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  EXPECT_EQ(find(d, "autoverify.sst")->outcome, Outcome::kNotEvaluable);
}

CheckResult peakCheck(Outcome outcome, DispositionKind onFail = DispositionKind::kHold) {
  CheckResult c;
  c.outcome = outcome;
  c.ruleId = "peak.test";
  c.code = "PEAK_TEST";
  c.subject = "result";
  c.onFail = onFail;
  return c;
}

TEST(AutoverifyPeakGates, FailHoldsWarnNotesUnlessEscalated) {
  auto run = [](CheckResult c, AutoverifyConfig cfg = {}) {
    return autoverify(patient(10), allAccepted(), {peakCheck(Outcome::kPass), c}, limits(),
                      std::nullopt, cfg);
  };
  AutoverifyDecision d = run(peakCheck(Outcome::kFail));
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  ASSERT_TRUE(d.firstHardFailure);
  EXPECT_EQ(*d.firstHardFailure, 6u);  // after the 5 gates and the first peak check
  EXPECT_EQ(run(peakCheck(Outcome::kFail, DispositionKind::kReject)).disposition,
            DispositionKind::kReject);
  EXPECT_EQ(run(peakCheck(Outcome::kNotEvaluable)).disposition, DispositionKind::kHold);
  EXPECT_EQ(run(peakCheck(Outcome::kWarn)).disposition, DispositionKind::kRelease);
  AutoverifyConfig escalate;
  escalate.holdOnPeakWarn = true;
  EXPECT_EQ(run(peakCheck(Outcome::kWarn), escalate).disposition, DispositionKind::kHold);
}

TEST(AutoverifyMeasuringRange, BelowLloqReportsLessThanAboveUloqHolds) {
  AutoverifyDecision d = autoverify(patient(0.3), allAccepted(), {}, limits());
  EXPECT_EQ(find(d, "autoverify.measuring_range")->code, "BELOW_LLOQ");
  EXPECT_EQ(d.displayValue, "<0.5");
  // 0.3 is below the critical low of 1: holds on that step, not on the range.
  EXPECT_EQ(find(d, "autoverify.measuring_range")->outcome, Outcome::kPass);

  AnalyteLimits noCritical = limits();
  noCritical.criticalLow.reset();
  noCritical.referenceLow.reset();
  d = autoverify(patient(0.3), allAccepted(), {}, noCritical);
  EXPECT_EQ(d.disposition, DispositionKind::kRelease);
  EXPECT_EQ(d.displayValue, "<0.5");

  d = autoverify(patient(0.5), allAccepted(), {}, noCritical);  // on the LLOQ: a number
  EXPECT_TRUE(d.displayValue.empty());

  d = autoverify(patient(200), allAccepted(), {}, limits());  // on the ULOQ
  EXPECT_EQ(find(d, "autoverify.measuring_range")->outcome, Outcome::kPass);
  d = autoverify(patient(200.5), allAccepted(), {}, limits());
  const CheckResult* c = find(d, "autoverify.measuring_range");
  EXPECT_EQ(c->code, "DILUTE_AND_RERUN");
  EXPECT_EQ(c->outcome, Outcome::kFail);
  EXPECT_EQ(d.displayValue, ">200");
  EXPECT_EQ(d.disposition, DispositionKind::kHold);

  AnalyteLimits noRange = limits();
  noRange.uloq.reset();
  d = autoverify(patient(10), allAccepted(), {}, noRange);
  EXPECT_EQ(find(d, "autoverify.measuring_range")->outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
}

TEST(AutoverifySpecimen, IntegrityOnlyWhenSupplied) {
  AutoverifyDecision d = autoverify(patient(10), allAccepted(), {}, limits(), std::nullopt, {},
                                    SpecimenIntegrity{false, "hemolysed"});
  const CheckResult* c = find(d, "autoverify.specimen");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, Outcome::kFail);
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  EXPECT_FALSE(find(autoverify(patient(10), allAccepted(), {}, limits()), "autoverify.specimen"));
}

TEST(AutoverifyAbsurd, ImplausibleHolds) {
  AnalyteLimits l = limits();
  l.uloq = 5000;
  l.criticalHigh = 5000;
  AutoverifyDecision d = autoverify(patient(1000.1), allAccepted(), {}, l);
  EXPECT_EQ(find(d, "autoverify.absurd")->code, "IMPLAUSIBLE_RESULT");
  EXPECT_EQ(find(d, "autoverify.absurd")->outcome, Outcome::kFail);
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  d = autoverify(patient(1000), allAccepted(), {}, l);  // on the limit
  EXPECT_EQ(find(d, "autoverify.absurd")->outcome, Outcome::kPass);
}

TEST(AutoverifyCritical, HoldsAndNotifiesOrReleasesAndNotifies) {
  AutoverifyDecision d = autoverify(patient(150), allAccepted(), {}, limits());
  EXPECT_EQ(find(d, "autoverify.critical")->code, "CRITICAL_VALUE");
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  EXPECT_TRUE(d.notify);
  EXPECT_EQ(d.flag, "HH");
  d = autoverify(patient(0.9), allAccepted(), {}, limits());
  EXPECT_EQ(d.flag, "LL");
  EXPECT_TRUE(d.notify);
  d = autoverify(patient(100), allAccepted(), {}, limits());  // on the limit
  EXPECT_FALSE(d.notify);
  EXPECT_EQ(d.flag, "H");

  AutoverifyConfig releaseAndNotify;
  releaseAndNotify.criticalReleaseAndNotify = true;
  d = autoverify(patient(150), allAccepted(), {}, limits(), std::nullopt, releaseAndNotify);
  EXPECT_EQ(d.disposition, DispositionKind::kRelease);
  EXPECT_TRUE(d.notify);

  AnalyteLimits none = limits();
  none.criticalLow.reset();
  none.criticalHigh.reset();
  d = autoverify(patient(10), allAccepted(), {}, none);
  EXPECT_EQ(find(d, "autoverify.critical")->outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  AutoverifyConfig optional;
  optional.requireCriticalLimits = false;
  EXPECT_EQ(autoverify(patient(10), allAccepted(), {}, none, std::nullopt, optional).disposition,
            DispositionKind::kRelease);
}

TEST(AutoverifyReference, FlagsButStillReleases) {
  AutoverifyDecision d = autoverify(patient(25), allAccepted(), {}, limits());
  EXPECT_EQ(d.flag, "H");
  EXPECT_EQ(find(d, "autoverify.reference")->outcome, Outcome::kWarn);
  EXPECT_EQ(d.disposition, DispositionKind::kRelease);
  d = autoverify(patient(1.5), allAccepted(), {}, limits());
  EXPECT_EQ(d.flag, "L");
  EXPECT_EQ(d.disposition, DispositionKind::kRelease);

  AnalyteLimits fromResult = limits();
  fromResult.referenceLow.reset();
  fromResult.referenceHigh.reset();
  Result r = patient(25);
  r.referenceRange = "5 - 22.5";
  EXPECT_EQ(autoverify(r, allAccepted(), {}, fromResult).flag, "H");

  std::optional<double> lo, hi;
  EXPECT_TRUE(parseReferenceRange("0.5-2.0", lo, hi));
  EXPECT_DOUBLE_EQ(*lo, 0.5);
  EXPECT_DOUBLE_EQ(*hi, 2.0);
  lo.reset();
  hi.reset();
  EXPECT_TRUE(parseReferenceRange("<5", lo, hi));
  EXPECT_FALSE(lo);
  EXPECT_DOUBLE_EQ(*hi, 5);
  EXPECT_TRUE(parseReferenceRange(">= 1.2", lo, hi));
  EXPECT_DOUBLE_EQ(*lo, 1.2);
  EXPECT_TRUE(parseReferenceRange("-1-1", lo, hi));
  EXPECT_DOUBLE_EQ(*lo, -1);
  EXPECT_FALSE(parseReferenceRange("negative", lo, hi));
  EXPECT_FALSE(parseReferenceRange("", lo, hi));
}

TEST(AutoverifyDelta, PercentAbsoluteAndRcv) {
  DeltaConfig pct;  // nothing configured: 50 %
  EXPECT_EQ(checkDelta(15, PreviousResult{10, 3}, pct).outcome, Outcome::kPass);  // exactly 50 %
  CheckResult c = checkDelta(15.1, PreviousResult{10, 3}, pct);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.code, "DELTA_CHECK");
  EXPECT_EQ(checkDelta(15.1, PreviousResult{10, 31}, pct).outcome, Outcome::kPass);  // too old
  EXPECT_EQ(checkDelta(15.1, std::nullopt, pct).outcome, Outcome::kPass);
  EXPECT_EQ(checkDelta(1, PreviousResult{0, 1}, pct).outcome, Outcome::kNotEvaluable);

  DeltaConfig abs;
  abs.mode = DeltaMode::kAbsolute;
  abs.absolute = 2;
  EXPECT_EQ(checkDelta(12, PreviousResult{10, 1}, abs).outcome, Outcome::kPass);
  EXPECT_EQ(checkDelta(12.5, PreviousResult{10, 1}, abs).outcome, Outcome::kFail);

  DeltaConfig rcv;  // auto with both CVs → RCV = √2·1.96·√(5² + 10²) = 30.99 %
  rcv.cvAnalyticalPct = 5;
  rcv.cvIntraIndividualPct = 10;
  c = checkDelta(13, PreviousResult{10, 1}, rcv);
  EXPECT_EQ(c.outcome, Outcome::kPass);
  c = checkDelta(13.2, PreviousResult{10, 1}, rcv);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  // The limit is formatted for a check that did not pass (a passing check becomes no finding).
  // Three significant figures (issue 20), the same unit (percent) as the message.
  EXPECT_EQ(c.limit, num(30.9903));
  EXPECT_EQ(c.limit, "31");
  EXPECT_NE(c.message.find("limit 31 %"), std::string::npos) << c.message;

  AnalyteLimits l = limits();
  l.delta = pct;
  AutoverifyDecision d = autoverify(patient(16), allAccepted(), {}, l, PreviousResult{10, 2});
  EXPECT_EQ(find(d, "autoverify.delta")->outcome, Outcome::kFail);
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
}

TEST(AutoverifyVendorFlags, UnmappedFlagsHoldBenignOnesDoNot) {
  Result r = patient(10);
  r.peak->vendorFlags = "!";
  AutoverifyDecision d = autoverify(r, allAccepted(), {}, limits());
  EXPECT_EQ(find(d, "autoverify.vendor_flags")->outcome, Outcome::kFail);
  EXPECT_EQ(d.disposition, DispositionKind::kHold);

  r.peak->vendorFlags = "bb";
  EXPECT_EQ(autoverify(r, allAccepted(), {}, limits()).disposition, DispositionKind::kRelease);
  r.peak->vendorFlags = "MM";  // handled by peak.manual_integration
  EXPECT_EQ(autoverify(r, allAccepted(), {}, limits()).disposition, DispositionKind::kRelease);

  r.peak->vendorFlags.clear();
  r.comment = "Quantitation message: peak not integrated by method";
  EXPECT_EQ(autoverify(r, allAccepted(), {}, limits()).disposition, DispositionKind::kHold);
  AutoverifyConfig cfg;
  cfg.commentIsVendorMessage = false;
  EXPECT_EQ(autoverify(r, allAccepted(), {}, limits(), std::nullopt, cfg).disposition,
            DispositionKind::kRelease);
  cfg.commentIsVendorMessage = true;
  cfg.benignVendorFlags.push_back("Quantitation message: peak not integrated by method");
  EXPECT_EQ(autoverify(r, allAccepted(), {}, limits(), std::nullopt, cfg).disposition,
            DispositionKind::kRelease);
}

TEST(AutoverifyOrder, FirstHardFailureStillRecordsLaterFindingsAndWorstWins) {
  BatchGates g = allAccepted();
  g.calibrationAccepted = false;  // REJECT_RERUN
  Result r = patient(150);        // critical high: HOLD + notify, flag HH
  r.peak->vendorFlags = "!";
  AutoverifyDecision d =
      autoverify(r, g, {peakCheck(Outcome::kFail)}, limits(), PreviousResult{50, 1});
  EXPECT_EQ(d.disposition, DispositionKind::kReject);
  ASSERT_TRUE(d.firstHardFailure);
  EXPECT_EQ(*d.firstHardFailure, 0u);
  EXPECT_EQ(d.checks[0].ruleId, "autoverify.calibration");
  EXPECT_EQ(find(d, "peak.test")->outcome, Outcome::kFail);
  EXPECT_EQ(find(d, "autoverify.critical")->outcome, Outcome::kFail);
  EXPECT_EQ(find(d, "autoverify.delta")->outcome, Outcome::kFail);
  EXPECT_EQ(find(d, "autoverify.vendor_flags")->outcome, Outcome::kFail);
  EXPECT_TRUE(d.notify);
  EXPECT_EQ(d.flag, "HH");

  // Hold + hold stays hold; a later reject still wins.
  AutoverifyDecision later = autoverify(
      patient(150), allAccepted(), {peakCheck(Outcome::kFail, DispositionKind::kReject)}, limits());
  EXPECT_EQ(later.disposition, DispositionKind::kReject);
  EXPECT_EQ(*later.firstHardFailure, 5u);
}

TEST(AutoverifyOrder, KillSwitchAndMissingValue) {
  AutoverifyConfig off;
  off.enabled = false;
  AutoverifyDecision d = autoverify(patient(10), allAccepted(), {}, limits(), std::nullopt, off);
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  EXPECT_EQ(d.checks[0].code, "AUTOVERIFY_DISABLED");
  EXPECT_GT(d.checks.size(), 10u);  // the rest is still recorded

  Result r = patient(10);
  r.numeric.reset();
  d = autoverify(r, allAccepted(), {}, limits());
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  // Issue 20: one finding says the result has no value, not five identical ones.
  EXPECT_EQ(find(d, "autoverify.value")->outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(find(d, "autoverify.value")->code, "NO_VALUE");
  EXPECT_NE(find(d, "autoverify.value")->message.find("no numeric value"), std::string::npos);
  for (const char* step : {"autoverify.measuring_range", "autoverify.absurd", "autoverify.critical",
                           "autoverify.reference", "autoverify.delta"}) {
    EXPECT_EQ(find(d, step), nullptr) << step;
  }
  size_t notEvaluable = 0;
  for (const CheckResult& c : d.checks) notEvaluable += c.outcome == Outcome::kNotEvaluable;
  EXPECT_EQ(notEvaluable, 1u);
  EXPECT_EQ(dispositionOf(peakCheck(Outcome::kWarn)), DispositionKind::kRelease);
}

// Issue 20: a gate that could not be evaluated has its own code and says why; it never reads as
// a rejection ("QC_REJECTED: QC not evaluated").
TEST(AutoverifyBatchGates, NotEvaluableGatesHaveTheirOwnCodeAndSayWhy) {
  BatchGates g = allAccepted();
  g.qcAccepted.reset();
  g.qcWhy = "the batch has no QC injection for this analyte";
  g.calibrationAccepted.reset();
  AutoverifyDecision d = autoverify(patient(10), g, {}, limits());
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  const CheckResult* qc = find(d, "autoverify.qc");
  ASSERT_NE(qc, nullptr);
  EXPECT_EQ(qc->code, "QC_NOT_EVALUABLE");
  EXPECT_EQ(qc->outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(qc->message,
            "QC could not be evaluated: the batch has no QC injection for this analyte");
  EXPECT_EQ(find(d, "autoverify.calibration")->code, "CAL_NOT_EVALUABLE");
  auto f = toFinding(*qc);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->message.rfind("QC_NOT_EVALUABLE: ", 0), 0u) << f->message;
  EXPECT_EQ(f->action, DispositionKind::kHold);
  // A rejected QC keeps its code.
  g = allAccepted();
  g.qcAccepted = false;
  AutoverifyDecision rejected = autoverify(patient(10), g, {}, limits());
  EXPECT_EQ(find(rejected, "autoverify.qc")->code, "QC_REJECTED");
}

// Issue 20 item 1: no curve and no configured range → the measuring range is unknown: hold.
TEST(AutoverifyMeasuringRange, UnknownRangeHoldsAndSaysWhy) {
  AnalyteLimits none;
  AutoverifyDecision d = autoverify(patient(250), allAccepted(), {}, none);
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  const CheckResult* range = find(d, "autoverify.measuring_range");
  ASSERT_NE(range, nullptr);
  EXPECT_EQ(range->outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(range->message,
            "no calibration curve and no configured LLOQ/ULOQ: the measuring range is unknown");
  EXPECT_TRUE(d.displayValue.empty());
  // A curve that gave no ULOQ says where the range should have come from.
  AnalyteLimits partial;
  partial.lloq = 1;
  partial.rangeSource = "the batch calibration curve";
  AutoverifyDecision partialDecision = autoverify(patient(5), allAccepted(), {}, partial);
  range = find(partialDecision, "autoverify.measuring_range");
  EXPECT_EQ(range->message,
            "the measuring range is unknown: no ULOQ from the batch calibration curve");
}

// Below a known LLOQ: released as <LLOQ, the LLOQ written in full (not at three figures).
TEST(AutoverifyMeasuringRange, BelowAKnownLloqIsReleasedAsLessThanTheFullLloq) {
  AnalyteLimits l = limits();
  l.lloq = 0.0625;
  l.criticalLow.reset();
  l.referenceLow.reset();
  AutoverifyDecision d = autoverify(patient(0.03), allAccepted(), {}, l);
  EXPECT_EQ(d.disposition, DispositionKind::kRelease);
  EXPECT_EQ(d.displayValue, "<0.0625");
  l.lloq = 1234.5;
  l.uloq = 1e5;
  EXPECT_EQ(autoverify(patient(1000), allAccepted(), {}, l).displayValue, "<1234.5");
  AutoverifyDecision belowDecision = autoverify(patient(1000), allAccepted(), {}, l);
  const CheckResult* below = find(belowDecision, "autoverify.measuring_range");
  EXPECT_EQ(below->message, "result 1000 below the LLOQ 1230: reported as <LLOQ");
}

// Issue 20 item 3: with hold_on_peak_warn a peak warning (tailing, width, S/N) holds a patient
// result, and the finding says why it held.
TEST(AutoverifyPeakGates, HeldPeakWarningsSaySo) {
  CheckResult tailing;
  tailing.outcome = Outcome::kWarn;
  tailing.ruleId = "peak.shape";
  tailing.code = "PEAK_SHAPE";
  tailing.message = "tailing factor 2.6 above 2";
  AutoverifyConfig clinical;
  clinical.holdOnPeakWarn = true;
  AutoverifyDecision d =
      autoverify(patient(10), allAccepted(), {tailing}, limits(), std::nullopt, clinical);
  EXPECT_EQ(d.disposition, DispositionKind::kHold);
  EXPECT_NE(find(d, "peak.shape")->message.find("held: peak warnings hold patient results"),
            std::string::npos);
  // A warning of another kind (a trend note) does not become a peak gate.
  CheckResult trend = tailing;
  trend.ruleId = "trend.rt_drift";
  EXPECT_EQ(
      autoverify(patient(10), allAccepted(), {trend}, limits(), std::nullopt, clinical).disposition,
      DispositionKind::kRelease);
  // Without the key a tailing warning is a note.
  EXPECT_EQ(autoverify(patient(10), allAccepted(), {tailing}, limits()).disposition,
            DispositionKind::kRelease);
}

// Issue 20 item 6: TargetLynx integration codes live in Peak::integrationCode and are never a
// vendor flag, whatever the benign list says.
TEST(AutoverifyVendorFlags, IntegrationCodesAreNotFlags) {
  AutoverifyConfig noBenign;
  noBenign.benignVendorFlags.clear();
  for (const char* code : {"bb", "bd", "db", "dd", "MM", "VV"}) {
    Result r = patient(10);
    r.peak->integrationCode = code;
    AutoverifyDecision d = autoverify(r, allAccepted(), {}, limits(), std::nullopt, noBenign);
    EXPECT_EQ(d.disposition, DispositionKind::kRelease) << code;
    EXPECT_EQ(find(d, "autoverify.vendor_flags")->outcome, Outcome::kPass) << code;
  }
}

}  // namespace
}  // namespace labgate::rules
