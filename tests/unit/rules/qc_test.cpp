#include "rules/qc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace labgate::rules {
namespace {

// A batch built injection by injection, one analyte ("TESTO") unless told otherwise.
class Batch {
 public:
  Batch() { message_.listedInRunOrder = true; }  // injections are added in run order
  /// A QC injection: `observed` against `nominal` (the sample's nominal concentration).
  Batch& qc(const std::string& level, double observed, double nominal = 100,
            const std::string& analyte = "TESTO") {
    Sample s;
    s.sampleId = "QC" + std::to_string(message_.samples.size() + 1);
    s.kind = SampleKind::kQc;
    s.level = level;
    s.lot = "LOT1";
    s.nominalConcentration = nominal;
    s.results.push_back(result(analyte, observed));
    message_.samples.push_back(s);
    return *this;
  }
  Batch& patient(const std::string& analyte = "TESTO") {
    Sample s;
    s.sampleId = "P" + std::to_string(message_.samples.size() + 1);
    s.results.push_back(result(analyte, 42));
    message_.samples.push_back(s);
    return *this;
  }
  Batch& calibrator() {
    Sample s;
    s.sampleId = "CAL" + std::to_string(message_.samples.size() + 1);
    s.kind = SampleKind::kCalibrator;
    s.results.push_back(result("TESTO", 10));
    message_.samples.push_back(s);
    return *this;
  }
  Message& message() { return message_; }

 private:
  static Result result(const std::string& analyte, double value) {
    Result r;
    r.instrumentCode = analyte;
    r.numeric = value;
    return r;
  }
  Message message_;
};

QcReviewOptions noWestgard() {
  QcReviewOptions o;
  o.applyWestgard = false;
  return o;
}

const CheckResult* find(const std::vector<CheckResult>& checks, const std::string& ruleId,
                        size_t nth = 0) {
  for (const CheckResult& c : checks) {
    if (c.ruleId == ruleId && nth-- == 0) return &c;
  }
  return nullptr;
}

std::vector<DispositionKind> kinds(const QcReview& review) {
  std::vector<DispositionKind> out;
  for (const SampleDisposition& d : review.dispositions) out.push_back(d.kind);
  return out;
}

constexpr auto kRelease = DispositionKind::kRelease;
constexpr auto kHold = DispositionKind::kHold;
constexpr auto kReject = DispositionKind::kReject;

// --- Accuracy (§3.1)
// -------------------------------------------------------------------------------

TEST(QcAccuracy, LimitsAreInclusiveAndWiderAtTheLloq) {
  Batch b;
  b.qc("L1", 115).qc("L1", 115.1).qc("L2", 85).qc("L2", 84.9).qc("LLOQ", 120).qc("lloq", 120.5);
  QcReview r = reviewQc(b.message(), {}, noWestgard());
  ASSERT_EQ(r.analytes.size(), 1u);
  const auto& inj = r.analytes[0].injections;
  ASSERT_EQ(inj.size(), 6u);
  std::vector<Outcome> expected{Outcome::kPass, Outcome::kFail, Outcome::kPass,
                                Outcome::kFail, Outcome::kPass, Outcome::kFail};
  for (size_t i = 0; i < inj.size(); ++i) EXPECT_EQ(inj[i].outcome, expected[i]) << i;
  EXPECT_TRUE(inj[4].lloq);
  EXPECT_TRUE(inj[5].lloq);
  const CheckResult* fail = find(r.checks, "qc.accuracy", 1);
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->outcome, Outcome::kFail);
  EXPECT_EQ(fail->code, "QC_ACCURACY");
  EXPECT_EQ(fail->subject, "analyte");
  EXPECT_EQ(fail->measured, num(115.1) + "%");
  EXPECT_EQ(fail->limit, "85–115%");
  EXPECT_EQ(find(r.checks, "qc.accuracy", 4)->limit, "80–120%");
}

TEST(QcAccuracy, NominalFromThePeakThenTheSampleThenTheVendorsAccuracy) {
  Batch b;
  b.qc("L1", 55, 100);
  b.message().samples[0].results[0].peak = Peak{};
  b.message().samples[0].results[0].peak->expectedConcentration = 50;  // 110%
  b.qc("L2", 80, 0);  // no usable nominal: the vendor's accuracy
  b.message().samples[1].results[0].peak = Peak{};
  b.message().samples[1].results[0].peak->accuracy = 99.0;
  b.qc("L2", 80, 0);  // nothing: not evaluable, never a pass
  b.message().samples[2].results[0].numeric.reset();
  QcReview r = reviewQc(b.message(), {}, noWestgard());
  const auto& inj = r.analytes[0].injections;
  EXPECT_DOUBLE_EQ(*inj[0].accuracy, 110.0);
  EXPECT_EQ(inj[0].outcome, Outcome::kPass);
  EXPECT_DOUBLE_EQ(*inj[1].accuracy, 99.0);
  EXPECT_FALSE(inj[2].accuracy);
  EXPECT_EQ(inj[2].outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(find(r.checks, "qc.accuracy", 2)->outcome, Outcome::kNotEvaluable);
  // 2 of 3 pass overall, but L2 has 1 of 2: exactly half is enough.
  EXPECT_EQ(find(r.checks, "qc.run_acceptance")->outcome, Outcome::kPass);
}

// --- Run acceptance (§3.1)
// -------------------------------------------------------------------------

TEST(QcRunAcceptance, TwoThirdsOverallAndHalfPerLevel) {
  auto acceptance = [](Batch& b) {
    QcReview r = reviewQc(b.message(), {}, noWestgard());
    const CheckResult* c = find(r.checks, "qc.run_acceptance");
    return c ? *c : CheckResult{};
  };
  // 4/6 pass, one failure at each of two levels: accepted.
  Batch ok;
  ok.qc("L1", 100).qc("L2", 130).qc("L3", 100).qc("L1", 70).qc("L2", 100).qc("L3", 100);
  CheckResult c = acceptance(ok);
  EXPECT_EQ(c.outcome, Outcome::kPass);
  EXPECT_EQ(c.measured, "4/6 pass; L1 1/2; L2 1/2; L3 2/2");
  // 4/6 pass but both L2 fail: rejected for the level.
  Batch level;
  level.qc("L1", 100).qc("L2", 130).qc("L3", 100).qc("L1", 100).qc("L2", 70).qc("L3", 100);
  c = acceptance(level);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.onFail, kReject);
  EXPECT_NE(c.message.find("fewer than half pass at QC L2"), std::string::npos);
  // 3/6 pass, every level at half: rejected overall.
  Batch overall;
  overall.qc("L1", 100).qc("L2", 130).qc("L3", 100).qc("L1", 70).qc("L2", 100).qc("L3", 150);
  EXPECT_EQ(acceptance(overall).outcome, Outcome::kFail);
}

TEST(QcRunAcceptance, ARejectedRunRejectsEveryPatient) {
  Batch b;
  b.qc("L1", 100).qc("L2", 100).patient().patient().qc("L1", 130).qc("L2", 130).patient();
  QcReview r = reviewQc(b.message(), {}, noWestgard());
  EXPECT_EQ(r.analytes[0].outcome, Outcome::kFail);
  EXPECT_EQ(kinds(r), (std::vector<DispositionKind>{kReject, kReject, kReject}));
  EXPECT_EQ(r.dispositions[0].reason.code, "QC_RUN_REJECTED");
  EXPECT_EQ(r.dispositions[0].sampleId, "P3");
  EXPECT_EQ(r.dispositions[0].sampleIndex, 2u);
}

TEST(QcRunAcceptance, PatientsWithoutAnyQcAreHeld) {
  Batch b;
  b.qc("L1", 100).patient().qc("L1", 100).patient("CORT");
  QcReview r = reviewQc(b.message(), {}, noWestgard());
  ASSERT_EQ(r.analytes.size(), 2u);
  EXPECT_EQ(r.analytes[1].analyte, "CORT");
  EXPECT_EQ(r.analytes[1].outcome, Outcome::kNotEvaluable);
  const CheckResult* missing = find(r.analytes[1].checks, "qc.run_acceptance");
  EXPECT_EQ(missing->code, "QC_MISSING");
  EXPECT_EQ(kinds(r), (std::vector<DispositionKind>{kRelease, kHold}));
}

// --- Bracketing (§3.6)
// -----------------------------------------------------------------------------

using V = BracketVerdict;
constexpr BracketInput P{InjectionRole::kPatient, Outcome::kPass};
constexpr BracketInput Q{InjectionRole::kQc, Outcome::kPass};
constexpr BracketInput F{InjectionRole::kQc, Outcome::kFail};
constexpr BracketInput U{InjectionRole::kQc, Outcome::kNotEvaluable};
constexpr BracketInput O{InjectionRole::kOther, Outcome::kPass};

TEST(QcBracketing, PatientsBetweenPassingQcAreBracketed) {
  std::vector<BracketInput> seq{P, Q, Q, P, O, P, Q, P};
  EXPECT_EQ(bracketPatients(seq),
            (std::vector<V>{V::kNotBracketed, V::kNotPatient, V::kNotPatient, V::kBracketed,
                            V::kNotPatient, V::kBracketed, V::kNotPatient, V::kNotBracketed}));
}

TEST(QcBracketing, AMidBatchFailureRejectsEverythingAfterTheLastPassingQc) {
  // Q | P P | Q F (one evaluation, fails) | P | Q | P Q
  std::vector<BracketInput> seq{Q, P, P, Q, F, P, Q, P, Q};
  EXPECT_EQ(bracketPatients(seq),
            (std::vector<V>{V::kNotPatient, V::kAfterFailure, V::kAfterFailure, V::kNotPatient,
                            V::kNotPatient, V::kAfterFailure, V::kNotPatient, V::kAfterFailure,
                            V::kNotPatient}));
  // Before the last passing evaluation: untouched.
  std::vector<BracketInput> later{Q, P, Q, P, F, P};
  EXPECT_EQ(bracketPatients(later),
            (std::vector<V>{V::kNotPatient, V::kBracketed, V::kNotPatient, V::kAfterFailure,
                            V::kNotPatient, V::kAfterFailure}));
  // A failure at the very start: nothing passed before it.
  std::vector<BracketInput> first{P, F, P, Q, P, Q};
  EXPECT_EQ(bracketPatients(first)[0], V::kAfterFailure);
  EXPECT_EQ(bracketPatients(first)[4], V::kAfterFailure);
}

TEST(QcBracketing, ANotEvaluableQcHoldsButDoesNotReject) {
  std::vector<BracketInput> seq{Q, P, U, P, Q, P, Q};
  EXPECT_EQ(bracketPatients(seq),
            (std::vector<V>{V::kNotPatient, V::kNotBracketed, V::kNotPatient, V::kNotBracketed,
                            V::kNotPatient, V::kBracketed, V::kNotPatient}));
  EXPECT_TRUE(bracketPatients(std::vector<BracketInput>{}).empty());
}

TEST(QcBracketing, ReviewAppliesItPerAnalyteWithTheRunStillAccepted) {
  // 5 of 6 QC pass (run accepted), but the mid-batch L2 fails: every patient after the first
  // evaluation (the last passing one before it) is re-run; P1, before any QC, is held.
  Batch b;
  b.patient().qc("L1", 100).qc("L2", 100).patient().qc("L1", 100).qc("L2", 120).patient();
  b.calibrator().patient().qc("L1", 100).qc("L2", 100).patient();
  QcReview r = reviewQc(b.message(), {}, noWestgard());
  EXPECT_EQ(find(r.checks, "qc.run_acceptance")->outcome, Outcome::kPass);
  EXPECT_EQ(r.analytes[0].outcome, Outcome::kPass);
  EXPECT_EQ(kinds(r), (std::vector<DispositionKind>{kHold, kReject, kReject, kReject, kReject}));
  EXPECT_EQ(r.dispositions[0].reason.code, "QC_NOT_BRACKETED");
  EXPECT_EQ(r.dispositions[1].reason.code, "QC_BRACKET_FAILED");
  EXPECT_EQ(r.dispositions[1].reason.ruleId, "qc.bracketing");
  Batch good;
  good.qc("L1", 100).patient().calibrator().patient().qc("L1", 100);
  QcReview g = reviewQc(good.message(), {}, noWestgard());
  EXPECT_EQ(kinds(g), (std::vector<DispositionKind>{kRelease, kRelease}));
  EXPECT_EQ(g.dispositions[0].reason.outcome, Outcome::kPass);
}

// --- Westgard on the history
// ----------------------------------------------------------------------

QcHistory historyWithTargets() {
  QcHistory h;
  h.targets.push_back({"TESTO", "L1", "LOT1", 100, 5, false});
  h.targets.push_back({"TESTO", "L2", "", 300, 10, false});
  return h;
}

QcReviewOptions westgardRun(int run) {
  QcReviewOptions o;
  o.instrument = "QQQ-1";
  o.run = run;
  return o;
}

TEST(QcWestgard, NewValuesCarryTheSeriesRunAndTarget) {
  Batch b;
  b.qc("L1", 101, 100).qc("L2", 297, 300).patient().qc("L1", 99, 100);
  QcReview r = reviewQc(b.message(), historyWithTargets(), westgardRun(7));
  const AnalyteQcReview& a = r.analytes[0];
  EXPECT_EQ(a.series, "TESTO@QQQ-1");
  EXPECT_EQ(a.series, qcSeriesKey("TESTO", "QQQ-1", ""));
  EXPECT_EQ(qcSeriesKey("TESTO", "QQQ-1", "v2"), "TESTO@QQQ-1#v2");
  ASSERT_EQ(a.newValues.size(), 3u);
  EXPECT_EQ(a.newValues[1].level, "L2");
  EXPECT_EQ(a.newValues[1].targetMean, 300);
  EXPECT_EQ(a.newValues[1].targetSd, 10);
  EXPECT_EQ(a.newValues[2].seqInRun, 3);
  EXPECT_EQ(a.newValues[2].run, 7);
  EXPECT_EQ(a.newValues[0].lot, "LOT1");
  ASSERT_TRUE(a.westgard);
  EXPECT_FALSE(a.westgard->rejected);
  EXPECT_EQ(a.outcome, Outcome::kPass);
}

TEST(QcWestgard, A2_2sWithThePreviousRunRejectsAndSaysSystematic) {
  QcHistory h = historyWithTargets();
  QcValue prior;
  prior.series = "TESTO@QQQ-1";
  prior.level = "L1";
  prior.lot = "LOT1";
  prior.run = 6;
  prior.value = 111;  // z = +2.2
  prior.targetMean = 100;
  prior.targetSd = 5;
  h.values.push_back(prior);
  prior.series = "OTHER@QQQ-1";  // another series never counts
  h.values.push_back(prior);
  Batch b;
  b.qc("L1", 112, 100).qc("L2", 300, 300).patient().qc("L1", 100, 100).qc("L2", 300, 300);
  QcReview r = reviewQc(b.message(), h, westgardRun(7));
  const CheckResult* c = find(r.checks, "qc.westgard.2_2s");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, Outcome::kFail);
  EXPECT_EQ(c->code, "QC_2_2S");
  EXPECT_EQ(c->onFail, kReject);
  EXPECT_NE(c->message.find("systematic"), std::string::npos);
  EXPECT_EQ(find(r.checks, "qc.westgard.1_2s")->outcome, Outcome::kWarn);
  EXPECT_EQ(find(r.checks, "qc.run_acceptance")->outcome, Outcome::kPass);
  EXPECT_EQ(r.analytes[0].outcome, Outcome::kFail);
  EXPECT_EQ(kinds(r), std::vector<DispositionKind>{kReject});
  // Without the statistical rules (bioanalytical mode) the same batch passes.
  QcReviewOptions bio = westgardRun(7);
  bio.applyWestgard = false;
  EXPECT_EQ(reviewQc(b.message(), h, bio).analytes[0].outcome, Outcome::kPass);
  // And 1_3s in this run: random error.
  Batch wild;
  wild.qc("L1", 116, 100).qc("L2", 300, 300).patient().qc("L1", 100, 100);
  QcReview w = reviewQc(wild.message(), historyWithTargets(), westgardRun(1));
  EXPECT_NE(find(w.checks, "qc.westgard.1_3s")->message.find("random"), std::string::npos);
}

TEST(QcWestgard, AMissingTargetIsNotEvaluableAndAProvisionalOneWarns) {
  QcHistory h;
  h.targets.push_back({"TESTO", "L1", "LOT1", 100, 5, true});
  h.targets.push_back({"TESTO", "L2", "LOT1", 300, 0, false});  // SD 0: unusable
  Batch b;
  b.qc("L1", 100).qc("L2", 300, 300).patient().qc("L1", 100).qc("L2", 300, 300);
  QcReview r = reviewQc(b.message(), h, westgardRun(1));
  std::vector<std::string> codes;
  for (const CheckResult& c : r.checks) {
    if (c.ruleId == "qc.target") codes.push_back(c.code);
  }
  EXPECT_EQ(codes, (std::vector<std::string>{"QC_TARGET_PROVISIONAL", "QC_TARGET_MISSING"}));
  EXPECT_EQ(r.analytes[0].newValues.size(), 2u);
  EXPECT_EQ(r.analytes[0].outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(kinds(r), std::vector<DispositionKind>{kHold});
  EXPECT_EQ(r.dispositions[0].reason.code, "QC_NOT_EVALUABLE");
  EXPECT_NE(r.dispositions[0].reason.message.find("(see QC_TARGET_MISSING)"), std::string::npos)
      << r.dispositions[0].reason.message;
}

// --- Issue 20: injection order, levels from the nominal, readable findings
// ---------------------------------------------------------------------------

TEST(QcIssue20, AnUnknownInjectionOrderHoldsEveryPatientForBracketing) {
  Batch b;
  b.qc("L1", 100).patient().qc("L1", 100).patient();
  b.message().listedInRunOrder = false;  // nothing says which QC ran before which patient
  QcReview r = reviewQc(b.message(), {}, noWestgard());
  EXPECT_EQ(r.analytes[0].outcome, Outcome::kPass) << "the QC itself passed";
  EXPECT_EQ(kinds(r), (std::vector<DispositionKind>{kHold, kHold}));
  EXPECT_EQ(r.dispositions[0].reason.code, "QC_NOT_BRACKETED");
  EXPECT_EQ(r.dispositions[0].reason.outcome, Outcome::kNotEvaluable);
  EXPECT_NE(r.dispositions[0].reason.message.find("injection order is unknown"), std::string::npos);
  // A rejected run still rejects, whatever the order.
  Batch rejected;
  rejected.qc("L1", 150).patient().qc("L1", 150);
  rejected.message().listedInRunOrder = false;
  QcReview x = reviewQc(rejected.message(), {}, noWestgard());
  EXPECT_EQ(kinds(x), std::vector<DispositionKind>{kReject});
  EXPECT_EQ(x.dispositions[0].reason.code, "QC_RUN_REJECTED");
}

TEST(QcIssue20, WithoutALevelColumnEachNominalIsItsOwnLevel) {
  // Two low QCs (nominal 3) fail, four high ones (nominal 80) pass: 4/6 overall is enough, but
  // the low level has 0/2. Lumped into one level (the old behaviour) the run passed.
  Batch b;
  b.qc("", 4.5, 3).qc("", 80, 80).qc("", 81, 80).patient().qc("", 4.4, 3).qc("", 79, 80);
  b.qc("", 80, 80);
  for (Sample& s : b.message().samples) {
    if (!s.results.empty()) s.results[0].units = "ng/mL";
  }
  QcReview r = reviewQc(b.message(), {}, noWestgard());
  const auto& inj = r.analytes[0].injections;
  ASSERT_EQ(inj.size(), 6u);
  EXPECT_EQ(inj[0].level, "QC 3 ng/mL");
  EXPECT_EQ(inj[1].level, "QC 80 ng/mL");
  const CheckResult* c = find(r.checks, "qc.run_acceptance");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, Outcome::kFail);
  EXPECT_EQ(c->measured, "4/6 pass; QC 3 ng/mL 0/2; QC 80 ng/mL 4/4");
  EXPECT_NE(c->message.find("fewer than half pass at QC 3 ng/mL (0/2 pass)"), std::string::npos)
      << c->message;
  EXPECT_EQ(kinds(r), std::vector<DispositionKind>{kReject});
  // A nominal derived from a rounded accuracy (24.98 for 25) falls in the same level.
  Batch derived;
  derived.qc("", 25, 24.98).qc("", 25, 25.01);
  QcReview d = reviewQc(derived.message(), {}, noWestgard());
  EXPECT_EQ(d.analytes[0].injections[0].level, d.analytes[0].injections[1].level);
  EXPECT_EQ(d.analytes[0].injections[0].level, "QC 25");
  Batch large;
  large.qc("", 20000, 20000).qc("", 12, 12.345);
  QcReview l = reviewQc(large.message(), {}, noWestgard());
  EXPECT_EQ(l.analytes[0].injections[0].level, "QC 20000");
  EXPECT_EQ(l.analytes[0].injections[1].level, "QC 12.3");
}

TEST(QcIssue20, FindingsNameTheLevelTheInjectionAndTheLimit) {
  Batch b;
  b.qc("Low", 100).qc("Low", 120);
  b.message().samples[0].injection = 16;
  b.message().samples[1].injection = 17;
  QcReview r = reviewQc(b.message(), {}, noWestgard());
  const CheckResult* fail = find(r.checks, "qc.accuracy", 1);
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->message, "TESTO: QC Low (sample QC2, injection 17) accuracy " + num(120) +
                               "% of nominal 100, outside 85–115%");
  EXPECT_EQ(fail->measured, num(120) + "%");
  const CheckResult* run = find(r.checks, "qc.run_acceptance");
  EXPECT_EQ(run->message,
            "TESTO: QC run acceptance FAILED: 1/2 pass; Low 1/2; fewer than 2/3 of all QC "
            "injections pass");
}

TEST(QcIssue20, WestgardWithoutTargetsNamesTheMissingTargetAndHolds) {
  Batch b;
  b.qc("Low", 100).patient().qc("Low", 100);
  b.message().samples[0].injection = 3;
  QcReview r = reviewQc(b.message(), {}, westgardRun(1));
  const CheckResult* missing = find(r.checks, "qc.target");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->code, "QC_TARGET_MISSING");
  EXPECT_EQ(missing->outcome, Outcome::kNotEvaluable);
  EXPECT_NE(missing->message.find("Westgard rules not evaluated"), std::string::npos);
  EXPECT_NE(missing->message.find("analytes.TESTO.qc_targets.\"Low\""), std::string::npos)
      << missing->message;
  EXPECT_NE(missing->message.find("injection 3"), std::string::npos) << missing->message;
  EXPECT_EQ(kinds(r), std::vector<DispositionKind>{kHold});
}

TEST(QcIssue20, WestgardFindingsNameTheInjection) {
  Batch b;
  b.qc("L1", 116, 100).qc("L2", 300, 300).patient().qc("L1", 100, 100);
  b.message().samples[0].injection = 12;
  QcReview r = reviewQc(b.message(), historyWithTargets(), westgardRun(1));
  const CheckResult* c = find(r.checks, "qc.westgard.1_3s");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->message,
            "TESTO: Westgard 1_3s violation (one value beyond ±3 SD) in run: z +3.2 (run 1, QC "
            "L1, sample QC1, injection 12); likely random error: the run is rejected");
}

TEST(QcIssue20, BracketingFindingsNameTheInjection) {
  Batch b;
  b.patient().qc("L1", 100).patient().qc("L1", 130).patient().qc("L1", 100);
  for (size_t i = 0; i < b.message().samples.size(); ++i) {
    b.message().samples[i].injection = static_cast<int64_t>(i) + 31;
  }
  QcReview r = reviewQc(b.message(), {}, noWestgard());
  ASSERT_EQ(r.dispositions.size(), 3u);
  EXPECT_NE(r.dispositions[0].reason.message.find("injection 31 is not bracketed"),
            std::string::npos)
      << r.dispositions[0].reason.message;
  EXPECT_NE(r.dispositions[1].reason.message.find(
                "injection 33 ran after the last passing QC before a failed QC"),
            std::string::npos)
      << r.dispositions[1].reason.message;
}

// --- Targets (§3.3)
// ---------------------------------------------------------------------------------

TEST(QcTargets, TwentyValuesOverTwentyRunsAndTenDaysWithOneOutlierRemoved) {
  std::vector<TargetPoint> points;
  points.reserve(22);
  for (int i = 0; i < 21; ++i) points.push_back({100.0 + (i % 5) - 2, i, i / 2});
  points.push_back({140, 21, 11});
  QcTargetEstimate t = establishTarget(points);
  EXPECT_EQ(t.removed, std::vector<size_t>{21});
  EXPECT_EQ(t.summary.n, 21u);
  EXPECT_NEAR(t.summary.mean, 100.0 - 2.0 / 21, 1e-12);
  EXPECT_EQ(t.runs, 21u);
  EXPECT_EQ(t.days, 11u);
  EXPECT_FALSE(t.provisional);
  EXPECT_TRUE(t.why.empty());
}

TEST(QcTargets, ProvisionalBelowTwentyValuesOrTooFewRunsOrDays) {
  std::vector<double> twelve(12, 0);
  for (size_t i = 0; i < twelve.size(); ++i) twelve[i] = 50 + static_cast<double>(i % 3);
  QcTargetEstimate t = establishTarget(twelve);
  EXPECT_TRUE(t.provisional);
  EXPECT_EQ(t.why, "12 values < 20");
  EXPECT_EQ(t.runs, 0u);
  std::vector<TargetPoint> sameDay;
  sameDay.reserve(20);
  for (int i = 0; i < 20; ++i) sameDay.push_back({50.0 + i % 3, i, 3});
  QcTargetEstimate d = establishTarget(sameDay);
  EXPECT_TRUE(d.provisional);
  EXPECT_EQ(d.why, "1 days < 10");
  std::vector<double> twenty(20, 0);
  for (size_t i = 0; i < twenty.size(); ++i) twenty[i] = 50 + static_cast<double>(i % 3);
  EXPECT_FALSE(establishTarget(twenty).provisional);
  EXPECT_NEAR(familyFalseRejection(0.0455, 20, 2), 1 - std::pow(0.9545, 40), 1e-15);
  EXPECT_NEAR(familyFalseRejection(0.0455, 20, 2), 0.845, 0.001);
}

// --- Sigma (§3.4)
// -------------------------------------------------------------------------------------

TEST(QcSigma, MetricAndTheRulesItSuggests) {
  EXPECT_DOUBLE_EQ(sigmaMetric(10, -2, 1.5), 8.0 / 1.5);
  EXPECT_TRUE(std::isnan(sigmaMetric(10, 1, 0)));
  auto names = [](double sigma, int levels) {
    return joinRules(suggestRules(sigma, levels).rules);
  };
  EXPECT_EQ(names(6.0, 2), "1_3s");
  EXPECT_EQ(names(5.99, 2), "1_3s;2_2s;R_4s");
  EXPECT_EQ(names(5.0, 2), "1_3s;2_2s;R_4s");
  EXPECT_EQ(names(4.0, 2), "1_3s;2_2s;R_4s;4_1s");
  EXPECT_EQ(names(3.99, 2), "1_3s;2_2s;R_4s;4_1s;8_x");
  EXPECT_EQ(names(6.5, 3), "1_3s");
  EXPECT_EQ(names(5.5, 3), "1_3s;2of3_2s;R_4s");
  EXPECT_EQ(names(4.5, 3), "1_3s;2of3_2s;R_4s;3_1s");
  EXPECT_EQ(names(3.5, 3), "1_3s;2of3_2s;R_4s;3_1s;6_x");
  RuleSuggestion s = suggestRules(4.5);
  EXPECT_EQ(s.measurements, 4);
  EXPECT_EQ(s.runs, 1);
  EXPECT_EQ(s.alternative, "N=2, R=2");
  RuleSuggestion low = suggestRules(2.9);
  EXPECT_EQ(low.measurements, 4);
  EXPECT_EQ(low.runs, 2);
  EXPECT_TRUE(low.methodUnacceptable);
  EXPECT_FALSE(suggestRules(3.0).methodUnacceptable);
  EXPECT_EQ(suggestRules(6.0).measurements, 2);
  EXPECT_TRUE(suggestRules(NAN).rules.empty());
  EXPECT_EQ(checkSigma(2.9).outcome, Outcome::kFail);
  EXPECT_EQ(checkSigma(2.9).code, "METHOD_UNACCEPTABLE_PERFORMANCE");
  EXPECT_EQ(checkSigma(3.0).outcome, Outcome::kPass);
  EXPECT_EQ(checkSigma(NAN).outcome, Outcome::kNotEvaluable);
}

}  // namespace
}  // namespace labgate::rules
