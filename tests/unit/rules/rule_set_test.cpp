// The rule engine: rule-set files are validated strictly (errors name the key), and a batch is
// evaluated in the spec's order with findings on the results they concern.
#include "rules/rule_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace labgate::rules {
namespace {

std::shared_ptr<const RulesStage> ruleSet(const std::string& json) {
  auto parsed = parseRuleSet(json, "t.json");
  EXPECT_TRUE(parsed.isOk()) << parsed.status().toString();
  return parsed.isOk() ? parsed.value() : nullptr;
}

std::string error(const std::string& json) {
  auto parsed = parseRuleSet(json, "t.json");
  return parsed.isOk() ? "" : parsed.status().toString();
}

TEST(RuleSetFile, ErrorsNameTheKey) {
  EXPECT_NE(error("{}").find("version: required"), std::string::npos);
  EXPECT_NE(error(R"({"version":"1","peek":{}})").find("peek: unknown key"), std::string::npos);
  EXPECT_NE(error(R"({"version":"1","calibration":{"model":"cubic"}})").find("calibration.model"),
            std::string::npos);
  EXPECT_NE(error(R"({"version":"1","qc":{"rules":["2_5s"]}})").find("unknown rule \"2_5s\""),
            std::string::npos);
  EXPECT_NE(
      error(
          R"({"version":"1","analytes":{"CORT":{"limits":{"critical_low":5,"critical_high":1}}}})")
          .find("analytes.CORT.limits.critical_low"),
      std::string::npos);
  EXPECT_NE(error(R"({"version":"1","analytes":{"CORT":{"qc_targets":{"Low":{"mean":3}}}}})")
                .find("analytes.CORT.qc_targets.Low: needs mean and sd"),
            std::string::npos);
  EXPECT_NE(error(R"({"version":"1","lua":[{"name":"x","file":"/nonexistent.lua"}]})")
                .find("lua[0].file: cannot open"),
            std::string::npos);
  EXPECT_NE(error("not json").find("not valid JSON"), std::string::npos);
  EXPECT_EQ(ruleSet(R"({"version":"v9"})")->version(), "v9");
}

Result analyte(const std::string& code, double area, double isArea, std::optional<double> nominal,
               std::optional<double> calc) {
  Result r;
  r.instrumentCode = code;
  Peak p;
  p.area = area;
  p.internalStandardArea = isArea;
  p.responseRatio = area / isArea;
  p.retentionTime = 3.40;
  p.expectedRetentionTime = 3.40;
  p.signalToNoise = 200;
  p.expectedConcentration = nominal;
  p.calculatedConcentration = calc;
  if (calc) {
    r.numeric = calc;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", *calc);
    r.value = buf;
  }
  r.peak = p;
  return r;
}

Sample sample(const std::string& id, SampleKind kind, const std::string& level,
              std::vector<Result> results) {
  Sample s;
  s.sampleId = id;
  s.kind = kind;
  s.level = level;
  s.results = std::move(results);
  return s;
}

/// Six calibrators on y = 0.1·x (IS area 1e5), two QCs per level, and patients.
Message batch(double qcLowFactor = 1.0) {
  Message m;
  m.listedInRunOrder = true;  // listed in injection order (a batch table read top to bottom)
  const double levels[] = {1, 2, 5, 10, 50, 100};
  for (double x : levels) {
    m.samples.push_back(sample("CAL" + std::to_string(int(x)), SampleKind::kCalibrator, "",
                               {analyte("CORT", 1e4 * x, 1e5, x, x)}));
  }
  // The blank after the highest calibrator (carryover).
  m.samples.push_back(sample("BLK", SampleKind::kBlank, "", {analyte("CORT", 10, 1e5, {}, {})}));
  for (int i = 0; i < 2; ++i) {
    m.samples.push_back(sample("QCL" + std::to_string(i), SampleKind::kQc, "Low",
                               {analyte("CORT", 3e4 * qcLowFactor, 1e5, 3, 3 * qcLowFactor)}));
    m.samples.push_back(sample("QCH" + std::to_string(i), SampleKind::kQc, "High",
                               {analyte("CORT", 8e5, 1e5, 80, 80)}));
  }
  m.samples.push_back(
      sample("P1", SampleKind::kUnknown, "", {analyte("CORT", 2.5e5, 1e5, {}, 25)}));
  m.samples.push_back(sample("P2", SampleKind::kUnknown, "", {analyte("CORT", 5e3, 1e5, {}, 0.5)}));
  m.samples.push_back(sample("P3", SampleKind::kUnknown, "", {analyte("CORT", 2e6, 1e5, {}, 200)}));
  // The QC after the patients closes the bracket.
  m.samples.push_back(sample("QCL9", SampleKind::kQc, "Low", {analyte("CORT", 3e4, 1e5, 3, 3)}));
  return m;
}

const Result& resultOf(const Message& m, const std::string& sampleId) {
  for (const Sample& s : m.samples) {
    if (s.sampleId == sampleId) return s.results.front();
  }
  throw std::runtime_error("no sample " + sampleId);
}

bool hasRule(const Result& r, const std::string& rule) {
  return std::any_of(r.findings.begin(), r.findings.end(),
                     [&](const Finding& f) { return f.ruleId == rule; });
}

std::string describe(const Result& r) {
  std::string out;
  for (const Finding& f : r.findings) {
    out += f.ruleId + " [" + toString(f.action) + "] " + f.message + " (" + f.measured + " vs " +
           f.limit + "); ";
  }
  return out;
}

DispositionKind worst(const Result& r) {
  DispositionKind d = DispositionKind::kRelease;
  for (const Finding& f : r.findings) {
    if (f.severity != Severity::kInfo && f.action > d) d = f.action;
  }
  return d;
}

// The test batch carries no IS RT and no qualifier: the method declares those checks not
// applicable (issue 20: a check the export cannot feed otherwise holds the patients).
const char* kRules = R"({"version":"test-1","calibration":{"weight":"1/x2"},
  "peak":{"not_applicable":["is_rt_window","ion_ratio"]},
  "qc":{"westgard":false},"autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false},
  "analytes":{"CORT":{"limits":{"reference_low":5,"reference_high":30}}}})";

TEST(RuleEngine, CleanBatchReleasesInRangeAndReportsTheRange) {
  auto rules = ruleSet(kRules);
  ASSERT_TRUE(rules);
  Message m = batch();
  rules->evaluate(m, RulesContext{});
  for (const BatchFinding& b : m.batchFindings) {
    EXPECT_EQ(b.finding.severity, Severity::kInfo) << b.finding.ruleId << " " << b.finding.message;
  }
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kRelease)
      << (p1.findings.empty() ? "" : p1.findings[0].message);
  const Result& p2 = resultOf(m, "P2");  // below the LLOQ (1): reported as "<1", releasable
  EXPECT_EQ(p2.value.rfind('<', 0), 0u) << p2.value;
  EXPECT_EQ(worst(p2), DispositionKind::kRelease) << describe(p2);
  EXPECT_EQ(p2.flags, "L") << "below the reference interval";
  const Result& p3 = resultOf(m, "P3");  // above the ULOQ (100): dilute and re-run
  EXPECT_EQ(worst(p3), DispositionKind::kHold) << describe(p3);
  EXPECT_TRUE(hasRule(p3, "autoverify.measuring_range")) << "ULOQ";
  auto slope = std::find_if(m.metrics.begin(), m.metrics.end(),
                            [](const BatchMetric& b) { return b.metric == "cal_slope"; });
  ASSERT_NE(slope, m.metrics.end());
  EXPECT_NEAR(slope->value, 0.1, 1e-12);
}

TEST(RuleEngine, FailedQcRunRejectsThePatientsOfThatAnalyte) {
  auto rules = ruleSet(kRules);
  Message m = batch(1.5);  // both low QCs at 150 %: the run fails acceptance
  rules->evaluate(m, RulesContext{});
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kReject);
  bool runFinding =
      std::any_of(m.batchFindings.begin(), m.batchFindings.end(), [](const BatchFinding& b) {
        return b.finding.ruleId == "qc.run_acceptance" &&
               b.finding.action == DispositionKind::kReject;
      });
  EXPECT_TRUE(runFinding);
}

TEST(RuleEngine, FailedCurveRejectsEveryPatientResult) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  // Three of six calibrators 40 % high: fewer than 75 % pass.
  for (int i = 0; i < 3; ++i) m.samples[i].results[0].peak->responseRatio = 0.14 * (i + 1);
  rules->evaluate(m, RulesContext{});
  EXPECT_TRUE(hasRule(resultOf(m, "P1"), "calibration.curve"));
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kReject);
}

TEST(RuleEngine, QcHistoryFeedsWestgard) {
  auto rules = ruleSet(R"({"version":"w","qc":{"westgard":true,"rules":["1_3s","2_2s"]},
    "autoverify":{"require_critical_limits":false},
    "analytes":{"CORT":{"qc_targets":{"Low":{"mean":3,"sd":0.1},"High":{"mean":80,"sd":2}}}}})");
  Message m = batch(1.05);  // low QC at 3.15: z = +1.5
  RulesContext context;
  context.instrument = "tq1";
  // The previous run's low QC at z = +2.5: with this run's +1.5 no 2_2s; the test raises it.
  context.qcHistory = [](const std::string&) {
    std::vector<QcValue> h;
    QcValue v;
    v.analyte = "CORT";
    v.level = "Low";
    v.value = 3.25;
    v.targetMean = 3;
    v.targetSd = 0.1;
    v.batch = 7;
    h.push_back(v);
    return h;
  };
  rules->evaluate(m, context);
  EXPECT_FALSE(m.qcValues.empty()) << "this run's QC values go to the history";
  EXPECT_EQ(m.qcValues.front().targetMean.value_or(0), 3);
  Message high = batch(1.1);  // z = +3 (not > 3): no 1_3s, but 2_2s with the +2.5 before
  rules->evaluate(high, context);
  bool rejected =
      std::any_of(high.batchFindings.begin(), high.batchFindings.end(), [](const BatchFinding& b) {
        return b.finding.ruleId.rfind("qc.westgard.", 0) == 0 &&
               b.finding.action == DispositionKind::kReject;
      });
  EXPECT_TRUE(rejected);
  EXPECT_EQ(worst(resultOf(high, "P1")), DispositionKind::kReject);
}

TEST(RuleEngine, WithoutAutoverificationAFailedCurveStillRejects) {
  auto rules = ruleSet(R"({"version":"x","checks":{"autoverify":false},"qc":{"westgard":false}})");
  Message m = batch();
  for (int i = 0; i < 3; ++i) m.samples[i].results[0].peak->responseRatio = 0.14 * (i + 1);
  rules->evaluate(m, RulesContext{});
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kReject) << describe(resultOf(m, "P1"));
}

// Issue 20 item 1: a message with patient results only (ASTM, HL7) has no curve to judge; with
// no configured range the measuring range is unknown, and the result holds (it used to be
// released as a plain number).
TEST(RuleEngine, ResultsWithoutCalibratorsOrLimitsHoldForAnUnknownRange) {
  auto rules = ruleSet(R"({"version":"x","checks":{"qc":false},
    "peak":{"not_applicable":["is_rt_window","ion_ratio","is_response"]},
    "autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false}})");
  Message m;
  m.samples.push_back(
      sample("P1", SampleKind::kUnknown, "", {analyte("CORT", 2.5e5, 1e5, {}, 25)}));
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  ASSERT_TRUE(hasRule(p1, "autoverify.measuring_range")) << describe(p1);
  auto range = std::find_if(p1.findings.begin(), p1.findings.end(), [](const Finding& f) {
    return f.ruleId == "autoverify.measuring_range";
  });
  EXPECT_EQ(range->message,
            "MEASURING_RANGE: no calibration curve and no configured LLOQ/ULOQ: the measuring "
            "range is unknown");
  EXPECT_EQ(p1.value, "25") << "the value is not rewritten";
  // With a configured range the range applies: above it holds, inside it releases, below it is
  // released as <LLOQ.
  auto ranged = ruleSet(R"({"version":"x","checks":{"qc":false},
    "peak":{"not_applicable":["is_rt_window","ion_ratio","is_response"]},
    "autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false},
    "analytes":{"CORT":{"limits":{"lloq":1,"uloq":20}}}})");
  Message over;
  over.samples.push_back(
      sample("P1", SampleKind::kUnknown, "", {analyte("CORT", 2.5e5, 1e5, {}, 25)}));
  over.samples.push_back(
      sample("P2", SampleKind::kUnknown, "", {analyte("CORT", 1e5, 1e5, {}, 10)}));
  over.samples.push_back(
      sample("P3", SampleKind::kUnknown, "", {analyte("CORT", 5e3, 1e5, {}, 0.5)}));
  ranged->evaluate(over, RulesContext{});
  EXPECT_TRUE(hasRule(resultOf(over, "P1"), "autoverify.measuring_range"));
  EXPECT_EQ(worst(resultOf(over, "P1")), DispositionKind::kHold);
  EXPECT_EQ(worst(resultOf(over, "P2")), DispositionKind::kRelease)
      << describe(resultOf(over, "P2"));
  EXPECT_EQ(worst(resultOf(over, "P3")), DispositionKind::kRelease)
      << describe(resultOf(over, "P3"));
  EXPECT_EQ(resultOf(over, "P3").value, "<1");
}

TEST(RuleEngine, ACurveThatCannotBeJudgedHoldsRatherThanRejects) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  for (int i = 0; i < 6; ++i) m.samples[i].results[0].peak->responseRatio.reset();
  for (int i = 0; i < 6; ++i) m.samples[i].results[0].peak->area.reset();
  rules->evaluate(m, RulesContext{});
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kHold) << describe(resultOf(m, "P1"));
}

// --- Issue 20: injection order, QC levels, Westgard targets, IS findings on their analyte --------

size_t countBatch(const Message& m, const std::string& code) {
  return static_cast<size_t>(std::count_if(
      m.batchFindings.begin(), m.batchFindings.end(),
      [&](const BatchFinding& b) { return b.finding.message.rfind(code + ":", 0) == 0; }));
}

const Finding* findingOf(const Result& r, const std::string& rule) {
  for (const Finding& f : r.findings) {
    if (f.ruleId == rule) return &f;
  }
  return nullptr;
}

TEST(RuleEngineOrder, ANameSortedExportIsJudgedInInjectionOrder) {
  // The batch as a TargetLynx summary lists it (sorted by name), with the "#" column. In
  // injection order P1 runs after the failed mid-batch QC and must be re-run; in the listed
  // order it sat between two passing QCs.
  auto rules = ruleSet(kRules);
  Message m = batch();
  m.listedInRunOrder = false;
  int64_t n = 0;
  for (Sample& s : m.samples) s.injection = ++n;  // CAL1..CAL100, BLK, QCL0, QCH0, QCL1, QCH1, P..
  // Move P1 after a failing low QC: QCL1 fails, P1 is injected right after it.
  for (Sample& s : m.samples) {
    if (s.sampleId == "QCL1") {
      s.results[0].numeric = 4.5;
      s.results[0].peak->calculatedConcentration = 4.5;
    }
    if (s.sampleId == "P1") s.injection = 11;    // after QCL1 (injection 10)
    if (s.sampleId == "QCH1") s.injection = 12;  // QCH1 closes that evaluation
  }
  std::sort(m.samples.begin(), m.samples.end(),
            [](const Sample& a, const Sample& b) { return a.sampleId < b.sampleId; });
  rules->evaluate(m, RulesContext{});
  EXPECT_TRUE(m.listedInRunOrder);
  EXPECT_EQ(countBatch(m, "RUN_ORDER_UNKNOWN"), 0u);
  for (size_t i = 1; i < m.samples.size(); ++i) {
    EXPECT_LT(*m.samples[i - 1].injection, *m.samples[i].injection) << "sorted by injection";
  }
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kReject) << describe(p1);
  const Finding* bracket = findingOf(p1, "qc.bracketing");
  ASSERT_TRUE(bracket) << describe(p1);
  EXPECT_NE(bracket->message.find("injection 11"), std::string::npos) << bracket->message;
}

TEST(RuleEngineOrder, AnUnknownOrderIsReportedOnceAndHoldsThePatients) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  m.listedInRunOrder = false;  // no injection number, no acquisition time, no run-order listing
  rules->evaluate(m, RulesContext{});
  EXPECT_FALSE(m.listedInRunOrder);
  EXPECT_EQ(countBatch(m, "RUN_ORDER_UNKNOWN"), 1u);
  const Result& p1 = resultOf(m, "P1");  // released when the order is known (CleanBatch…)
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  const Finding* bracket = findingOf(p1, "qc.bracketing");
  ASSERT_TRUE(bracket) << describe(p1);
  EXPECT_NE(bracket->message.find("injection order is unknown"), std::string::npos);
  // Each order-dependent check (bracketing; carryover from the batch's result above the ULOQ)
  // says it once on the result, briefly, referring to the batch finding.
  std::map<std::string, size_t> orderFindings;
  for (const Finding& f : p1.findings) {
    if (f.message.find("order is unknown") != std::string::npos) ++orderFindings[f.ruleId];
  }
  EXPECT_EQ(orderFindings.count("qc.bracketing"), 1u) << describe(p1);
  for (const auto& [rule, n] : orderFindings) EXPECT_EQ(n, 1u) << rule << ": " << describe(p1);
}

TEST(RuleEngineQc, AFailedQcLevelFailsTheRunWithoutALevelColumn) {
  auto rules = ruleSet(kRules);
  Message m = batch(1.5);  // both low QCs at 150 %, the high ones pass; the closing low passes
  m.samples.push_back(sample("QCH9", SampleKind::kQc, "High", {analyte("CORT", 8e5, 1e5, 80, 80)}));
  for (Sample& s : m.samples) s.level.clear();  // an export without a Level column
  rules->evaluate(m, RulesContext{});
  // 4/6 pass overall (enough), but the QC at nominal 3 passes 1 of 3.
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kReject) << describe(resultOf(m, "P1"));
  auto run =
      std::find_if(m.batchFindings.begin(), m.batchFindings.end(),
                   [](const BatchFinding& b) { return b.finding.ruleId == "qc.run_acceptance"; });
  ASSERT_NE(run, m.batchFindings.end());
  EXPECT_NE(run->finding.message.find("fewer than half pass at QC 3"), std::string::npos)
      << run->finding.message;
}

TEST(RuleEngineQc, WestgardWithoutTargetsHoldsAndNamesWhatIsMissing) {
  auto rules = ruleSet(R"({"version":"w","qc":{"westgard":true},
    "autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false}})");
  Message m = batch();
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  auto missing =
      std::find_if(m.batchFindings.begin(), m.batchFindings.end(),
                   [](const BatchFinding& b) { return b.finding.ruleId == "qc.target"; });
  ASSERT_NE(missing, m.batchFindings.end());
  EXPECT_EQ(missing->analyte, "CORT");
  EXPECT_NE(missing->finding.message.find("analytes.CORT.qc_targets"), std::string::npos)
      << missing->finding.message;
}

TEST(RuleEngineTrend, AnIsDropHoldsOnlyTheAnalyteWhoseIsDropped) {
  // Two analytes in every injection; the melatonin IS drops in P1 only. The tryptophan result
  // of P1 must not carry melatonin's IS_DROP_SINGLE.
  auto rules = ruleSet(kRules);
  Message m = batch();
  for (Sample& s : m.samples) {
    Result mel = s.results[0];
    mel.instrumentCode = "MEL";
    if (s.sampleId == "P1") mel.peak->internalStandardArea = 1e4;  // 10 % of 1e5
    s.results.push_back(mel);
  }
  rules->evaluate(m, RulesContext{});
  const Sample* p1 = nullptr;
  for (const Sample& s : m.samples) {
    if (s.sampleId == "P1") p1 = &s;
  }
  ASSERT_TRUE(p1);
  EXPECT_FALSE(hasRule(p1->results[0], "trend.is_drop_single")) << describe(p1->results[0]);
  EXPECT_TRUE(hasRule(p1->results[1], "trend.is_drop_single")) << describe(p1->results[1]);
  EXPECT_EQ(
      findingOf(p1->results[1], "trend.is_drop_single")->message.rfind("IS_DROP_SINGLE: MEL:", 0),
      0u);
}

TEST(RuleEngineTrend, IsMissingInManyInjectionsHoldsTheAnalytesPatients) {
  // Spec §5: IS_MISSING_MULTI is a batch HOLD. It used to be a batch finding with no analyte,
  // which held nothing.
  auto rules = ruleSet(kRules);
  Message m = batch();
  for (int i = 4; i <= 6; ++i) {
    m.samples.push_back(sample("P" + std::to_string(i), SampleKind::kUnknown, "",
                               {analyte("CORT", 2.5e5, 1e5, {}, 25)}));
    m.samples.back().results[0].peak->internalStandardArea.reset();
  }
  std::swap(m.samples[m.samples.size() - 4], m.samples.back());  // QCL9 closes the bracket again
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  const Finding* missing = findingOf(p1, "trend.is_missing_multi");
  ASSERT_TRUE(missing) << describe(p1);
  EXPECT_EQ(missing->action, DispositionKind::kHold);
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
}

TEST(RuleSetFile, TheIsDriftHoldRatioIsReadStrictly) {
  EXPECT_NE(error(R"({"version":"v","drift":{"is_drift_hold_ratio":-1}})")
                .find("drift.is_drift_hold_ratio"),
            std::string::npos);
  EXPECT_NE(error(R"({"version":"v","drift":{"is_drift_hold_ratio":"x"}})")
                .find("drift.is_drift_hold_ratio: must be a number"),
            std::string::npos);
  EXPECT_TRUE(ruleSet(R"({"version":"v","drift":{"is_drift_hold_ratio":0.4}})"));
}

// ---- issue 20: the lab's curve, carryover, implausible exports ----------------------------------

const BatchFinding* batchFinding(const Message& m, const std::string& rule) {
  for (const BatchFinding& b : m.batchFindings) {
    if (b.finding.ruleId == rule) return &b;
  }
  return nullptr;
}

size_t countBatchRule(const Message& m, const std::string& rule) {
  return static_cast<size_t>(
      std::count_if(m.batchFindings.begin(), m.batchFindings.end(),
                    [&](const BatchFinding& b) { return b.finding.ruleId == rule; }));
}

/// batch() on a curve that bends (response 0.1·x·(1 − 0.004·x), an exact quadratic), without the
/// patient above the ULOQ.
Message bentBatch() {
  Message m = batch();
  auto bent = [](double x) { return 0.1 * x * (1 - 0.004 * x); };
  for (Sample& s : m.samples) {
    Peak& p = *s.results[0].peak;
    if (s.kind == SampleKind::kCalibrator || s.kind == SampleKind::kQc) {
      p.responseRatio = bent(*p.expectedConcentration);
    }
  }
  std::erase_if(m.samples, [](const Sample& s) { return s.sampleId == "P3"; });
  for (Sample& s : m.samples) {
    if (s.sampleId == "P1") s.results[0].peak->responseRatio = bent(25);
  }
  return m;
}

TEST(RuleEngineCurve, TheCurveTheExportStatesIsTheOneJudged) {
  auto rules = ruleSet(kRules);
  // The rule set says linear 1/x²: the bend fails the curve and the patients are re-run.
  Message m = bentBatch();
  rules->evaluate(m, RulesContext{});
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kReject) << describe(resultOf(m, "P1"));
  const BatchFinding* curve = batchFinding(m, "calibration.curve");
  ASSERT_TRUE(curve);
  EXPECT_NE(curve->finding.message.find("linear, 1/x², from the rule set (calibration)"),
            std::string::npos)
      << curve->finding.message;
  // The export says the lab's curve is quadratic 1/x²: judged so, it passes and P1 is released.
  Message q = bentBatch();
  q.curves.push_back({"CORT", "Quadratic", "1/x^2", "Exclude"});
  rules->evaluate(q, RulesContext{});
  EXPECT_EQ(worst(resultOf(q, "P1")), DispositionKind::kRelease) << describe(resultOf(q, "P1"));
  EXPECT_FALSE(batchFinding(q, "calibration.curve"));
  // Per analyte in the rule set, without a curve in the export.
  auto perAnalyte = ruleSet(R"({"version":"a","qc":{"westgard":false},
    "peak":{"not_applicable":["is_rt_window","ion_ratio"]},
    "autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false},
    "analytes":{"CORT":{"calibration":{"model":"quadratic"}}}})");
  Message a = bentBatch();
  perAnalyte->evaluate(a, RulesContext{});
  EXPECT_EQ(worst(resultOf(a, "P1")), DispositionKind::kRelease) << describe(resultOf(a, "P1"));
}

TEST(RuleEngineCurve, AnExportCurveThisEngineCannotFitHolds) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  m.curves.push_back({"CORT", "Cubic spline", "1/x^2", ""});
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  EXPECT_TRUE(hasRule(p1, "calibration.model")) << describe(p1);
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  const BatchFinding* model = batchFinding(m, "calibration.model");
  ASSERT_TRUE(model);
  EXPECT_NE(model->finding.message.find("CAL_MODEL_UNKNOWN"), std::string::npos);
}

TEST(RuleEngineCurve, NoBlankAfterTheTopCalibratorIsOneFindingNotAHoldOnEveryPatient) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  std::erase_if(m.samples, [](const Sample& s) { return s.sampleId == "BLK"; });
  rules->evaluate(m, RulesContext{});
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kRelease) << describe(resultOf(m, "P1"));
  EXPECT_FALSE(hasRule(resultOf(m, "P1"), "calibration.carryover"));
  ASSERT_EQ(countBatchRule(m, "calibration.carryover"), 1u);
  const Finding& f = batchFinding(m, "calibration.carryover")->finding;
  EXPECT_EQ(f.action, DispositionKind::kRelease);
  EXPECT_EQ(f.severity, Severity::kWarning) << "for the reviewer to see";
  EXPECT_NE(f.message.find("no blank is injected right after the highest calibrator"),
            std::string::npos)
      << f.message;
  // A real carryover failure still holds the patients.
  Message dirty = batch();
  for (Sample& s : dirty.samples) {
    if (s.sampleId == "BLK") s.results[0].peak->area = 5000;  // 50 % of the LLOQ area
  }
  rules->evaluate(dirty, RulesContext{});
  EXPECT_EQ(worst(resultOf(dirty, "P1")), DispositionKind::kHold)
      << describe(resultOf(dirty, "P1"));
}

TEST(RuleEngineCurve, AResultRightAfterOneAboveTheUloqIsHeldAsCarryoverSuspect) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  // The blank after the ULOQ at 2000 (20 % of the LLOQ area: passes): carryover fraction 0.2 %;
  // after P3 (200) the predicted carryover is 200 · 0.002 · 5 = 2 → a result below 2 is suspect.
  for (Sample& s : m.samples) {
    if (s.sampleId == "BLK") s.results[0].peak->area = 2000;
  }
  auto p3 = std::find_if(m.samples.begin(), m.samples.end(),
                         [](const Sample& s) { return s.sampleId == "P3"; });
  p3->injection = 14;
  m.samples.insert(p3 + 1,
                   sample("P4", SampleKind::kUnknown, "", {analyte("CORT", 1.5e4, 1e5, {}, 1.5)}));
  rules->evaluate(m, RulesContext{});
  const Result& p4 = resultOf(m, "P4");
  ASSERT_TRUE(hasRule(p4, "calibration.carryover_suspect")) << describe(p4);
  EXPECT_EQ(worst(p4), DispositionKind::kHold);
  EXPECT_NE(describe(p4).find("CARRYOVER_SUSPECT: injected right after injection 14"),
            std::string::npos)
      << describe(p4);
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kRelease) << "not after P3";
}

TEST(RuleEngineCurve, WithoutAnInjectionOrderCarryoverSuspectsAreHeldOnce) {
  auto rules = ruleSet(kRules);
  Message m = batch();  // P3 is above the ULOQ
  m.listedInRunOrder = false;
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  EXPECT_TRUE(hasRule(p1, "calibration.carryover_suspect")) << describe(p1);
  EXPECT_EQ(worst(p1), DispositionKind::kHold);
  EXPECT_FALSE(hasRule(resultOf(m, "P2"), "calibration.carryover_suspect")) << "below the LLOQ";
  size_t onP1 = std::count_if(p1.findings.begin(), p1.findings.end(), [](const Finding& f) {
    return f.ruleId.rfind("calibration.carryover", 0) == 0;
  });
  EXPECT_EQ(onP1, 1u) << describe(p1);
  ASSERT_EQ(countBatchRule(m, "calibration.carryover_suspect"), 1u);
  EXPECT_EQ(batchFinding(m, "calibration.carryover_suspect")->finding.action,
            DispositionKind::kRelease)
      << "the summary holds nothing by itself";
}

TEST(RuleEngineCurve, ACutOffExportSaysReExportInsteadOfARerun) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  for (int i = 0; i < 3; ++i) m.samples[i].results[0].peak->responseRatio = 0.14 * (i + 1);
  // A second analyte in every injection but the last: the file ends in the middle of it.
  for (size_t i = 0; i + 1 < m.samples.size(); ++i) {
    Result second = m.samples[i].results[0];
    second.instrumentCode = "ALDO";
    m.samples[i].results.push_back(second);
  }
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  EXPECT_NE(describe(p1).find("re-export"), std::string::npos) << describe(p1);
  const BatchFinding* cut = batchFinding(m, "calibration.export");
  ASSERT_TRUE(cut);
  EXPECT_NE(cut->finding.message.find("EXPORT_INCOMPLETE"), std::string::npos);
}

TEST(RuleEngineCurve, ConcentrationsThatAreAreasHoldForAReExportInsteadOfARerun) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  // The concentration column holds areas: calibrators, QCs (whose run then fails) and patients.
  for (Sample& s : m.samples) {
    Result& r = s.results[0];
    if (r.peak->calculatedConcentration) r.peak->calculatedConcentration = *r.peak->area;
    if (r.numeric) r.numeric = *r.peak->area;
  }
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  EXPECT_NE(describe(p1).find("re-export"), std::string::npos) << describe(p1);
  const BatchFinding* implausible = batchFinding(m, "calibration.export");
  ASSERT_TRUE(implausible);
  EXPECT_NE(implausible->finding.message.find("EXPORT_IMPLAUSIBLE"), std::string::npos);
  for (const BatchFinding& b : m.batchFindings) {
    EXPECT_NE(b.finding.action, DispositionKind::kReject) << b.finding.message;
  }
}

TEST(RuleSetFile, CalibrationCurveKeys) {
  EXPECT_EQ(error(R"({"version":"1","calibration":{"nonlinearity_max_fraction":0.2,
    "top_is_min_fraction":0.6,"carryover_suspect_factor":4}})"),
            "");
  EXPECT_NE(error(R"({"version":"1","calibration":{"top_is_min_fraction":"x"}})")
                .find("calibration.top_is_min_fraction"),
            std::string::npos);
  EXPECT_NE(
      error(R"({"version":"1","analytes":{"C":{"calibration":{"carryover_suspect_factor":-1}}}})")
          .find("analytes.C.calibration.carryover_suspect_factor"),
      std::string::npos);
}

// Found by the rules fuzzer: numbers outside the integer range are errors, never a crash.
TEST(RuleSetFile, NumbersBeyondTheIntegerRangeAreErrors) {
  EXPECT_NE(error(R"({"version":"v","drift":{"history_window":9223372036854775808}})")
                .find("drift.history_window"),
            std::string::npos);
  EXPECT_NE(error(R"({"version":"v","drift":{"history_window":-1}})").find("drift.history_window"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Issue 20 (av-peaks): fail closed on missing data, patient peak quality, the IS, readable
// findings.

Result& patientResult(Message& m, const std::string& sampleId) {
  for (Sample& s : m.samples) {
    if (s.sampleId == sampleId) return s.results.front();
  }
  throw std::runtime_error("no sample " + sampleId);
}

size_t countRule(const Result& r, const std::string& rule) {
  return static_cast<size_t>(std::count_if(r.findings.begin(), r.findings.end(),
                                           [&](const Finding& f) { return f.ruleId == rule; }));
}

std::vector<const BatchFinding*> batchFindingsOf(const Message& m, const std::string& rule) {
  std::vector<const BatchFinding*> out;
  for (const BatchFinding& b : m.batchFindings) {
    if (b.finding.ruleId == rule) out.push_back(&b);
  }
  return out;
}

const char* kNoIonRatioDeclared = R"({"version":"t","calibration":{"weight":"1/x2"},
  "peak":{"not_applicable":["is_rt_window"]},
  "qc":{"westgard":false},"autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false},
  "analytes":{"CORT":{"limits":{"reference_low":0.1,"reference_high":300}}}})";

// Issue 20 item 2: no qualifier data anywhere in the export used to switch the ion-ratio check off
// silently (a +97 % ratio released). Now it holds each patient with one short finding and one
// batch finding per analyte — unless the method declares the check not applicable.
TEST(RuleEngineExportData, ACheckTheExportCannotFeedHoldsPatientsOnce) {
  auto rules = ruleSet(kNoIonRatioDeclared);
  Message m = batch();
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  // One short finding per held result, naming the checks; the batch finding is not copied.
  EXPECT_EQ(countRule(p1, "peak.export_data"), 1u) << describe(p1);
  const Finding* ir = findingOf(p1, "peak.export_data");
  ASSERT_NE(ir, nullptr);
  EXPECT_EQ(ir->message,
            "PEAK_DATA_MISSING: ion_ratio not evaluable: the export carries no data for them (see "
            "the batch finding PEAK_DATA_MISSING for this analyte)");
  EXPECT_EQ(ir->action, DispositionKind::kHold);
  EXPECT_EQ(countRule(p1, "peak.ion_ratio"), 0u);
  auto batchFindings = batchFindingsOf(m, "peak.export_data");
  ASSERT_EQ(batchFindings.size(), 1u);
  EXPECT_EQ(batchFindings[0]->analyte, "CORT");
  EXPECT_EQ(batchFindings[0]->finding.action, DispositionKind::kHold);
  EXPECT_NE(batchFindings[0]->finding.message.find(
                "ion_ratio (no qualifier ion ratio or qualifier area)"),
            std::string::npos)
      << batchFindings[0]->finding.message;
  EXPECT_NE(batchFindings[0]->finding.message.find("analytes.CORT.peak.not_applicable"),
            std::string::npos);
  // Calibrators and QCs are not held for it (they are never released).
  EXPECT_EQ(countRule(resultOf(m, "CAL1"), "peak.export_data"), 0u);
  // A patient whose peak was not found gets peak.not_found, not a second hold.
  Message notFound = batch();
  patientResult(notFound, "P1").peak->area.reset();
  rules->evaluate(notFound, RulesContext{});
  EXPECT_EQ(countRule(resultOf(notFound, "P1"), "peak.export_data"), 0u);

  // The same export with the check declared not applicable: released.
  auto declared = ruleSet(kRules);
  Message ok = batch();
  declared->evaluate(ok, RulesContext{});
  EXPECT_EQ(worst(resultOf(ok, "P1")), DispositionKind::kRelease) << describe(resultOf(ok, "P1"));
  EXPECT_TRUE(batchFindingsOf(ok, "peak.export_data").size() <= 1);
  for (const BatchFinding* b : batchFindingsOf(ok, "peak.export_data"))
    EXPECT_EQ(b->finding.severity, Severity::kInfo) << b->finding.message;
}

// Issue 20 item 2: no IS area in the export → derived as Area ÷ response ratio; an IS at 10 % of
// its reference holds (it used to be released: the IS check was switched off).
TEST(RuleEngineExportData, IsAreaDerivedFromTheResponseRatio) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  for (Sample& s : m.samples) s.results[0].peak->internalStandardArea.reset();
  // P1 keeps its response ratio (2.5, concentration 25) with a tenth of the area: IS 1e4, 10 %.
  patientResult(m, "P1").peak->area = 2.5e4;
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  const Finding* is = findingOf(p1, "peak.is_response");
  ASSERT_NE(is, nullptr) << describe(p1);
  EXPECT_EQ(is->measured, "10");
  EXPECT_EQ(is->limit, "50");
  EXPECT_EQ(worst(resultOf(m, "P2")), DispositionKind::kRelease) << describe(resultOf(m, "P2"));
  auto derived = batchFindingsOf(m, "peak.is_area_derived");
  ASSERT_EQ(derived.size(), 1u);
  EXPECT_EQ(derived[0]->finding.severity, Severity::kInfo);

  // Neither IS area nor response ratio: the IS check cannot run, and the patients hold.
  Message bare = batch();
  for (Sample& s : bare.samples) {
    s.results[0].peak->internalStandardArea.reset();
    s.results[0].peak->responseRatio.reset();
  }
  rules->evaluate(bare, RulesContext{});
  const Finding* missing = findingOf(resultOf(bare, "P2"), "peak.export_data");
  ASSERT_NE(missing, nullptr) << describe(resultOf(bare, "P2"));
  EXPECT_NE(missing->message.find("is_response not evaluable"), std::string::npos)
      << missing->message;
  auto why = batchFindingsOf(bare, "peak.export_data");
  ASSERT_EQ(why.size(), 1u);
  EXPECT_NE(why[0]->finding.message.find(
                "is_response (no IS area (nor an IS row or a response ratio to derive it from))"),
            std::string::npos)
      << why[0]->finding.message;
  EXPECT_EQ(worst(resultOf(bare, "P2")), DispositionKind::kHold);
}

// Issue 20 item 3: S/N is judged on an export with Final Conc. and no Calc. Conc., and with
// hold_on_peak_warn a low S/N or a tailing peak holds the patient result, saying so.
TEST(RuleEnginePatientPeaks, SignalToNoiseOnFinalConcAndPeakWarningsHold) {
  const std::string clinical = R"({"version":"c","calibration":{"weight":"1/x2"},
    "peak":{"not_applicable":["is_rt_window","ion_ratio","width"]},
    "qc":{"westgard":false},
    "autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false,
                  "hold_on_peak_warn":true}})";
  auto rules = ruleSet(clinical);
  Message m = batch();
  for (Sample& s : m.samples) s.results[0].peak->asymmetry = 1.1;
  Result& p1 = patientResult(m, "P1");
  p1.peak->finalConcentration = p1.peak->calculatedConcentration;
  p1.peak->calculatedConcentration.reset();
  p1.peak->signalToNoise = 4;
  patientResult(m, "P2").peak->asymmetry = 2.6;  // tailing (P2 is below the LLOQ)
  rules->evaluate(m, RulesContext{});
  const Finding* sn = findingOf(resultOf(m, "P1"), "peak.signal_to_noise");
  ASSERT_NE(sn, nullptr) << describe(resultOf(m, "P1"));
  EXPECT_EQ(sn->action, DispositionKind::kHold);
  EXPECT_EQ(sn->message,
            "SIGNAL_TO_NOISE: S/N 4 below 10 on a result at or above the LLOQ; held: peak "
            "warnings hold patient results (autoverify.hold_on_peak_warn)");
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kHold);
  const Finding* tailing = findingOf(resultOf(m, "P2"), "peak.shape");
  ASSERT_NE(tailing, nullptr) << describe(resultOf(m, "P2"));
  EXPECT_EQ(tailing->action, DispositionKind::kHold);
  EXPECT_NE(tailing->message.find("tailing factor 2.6 above 2"), std::string::npos);
  EXPECT_NE(tailing->message.find("held: peak warnings hold"), std::string::npos);
  EXPECT_EQ(worst(resultOf(m, "P2")), DispositionKind::kHold);

  // The research setting (warnings are notes): the same batch releases both.
  auto research = ruleSet(kRules);
  Message r = batch();
  for (Sample& s : r.samples) s.results[0].peak->asymmetry = 1.1;
  patientResult(r, "P1").peak->signalToNoise = 4;
  patientResult(r, "P2").peak->asymmetry = 2.6;
  research->evaluate(r, RulesContext{});
  EXPECT_EQ(worst(resultOf(r, "P1")), DispositionKind::kRelease) << describe(resultOf(r, "P1"));
  EXPECT_EQ(worst(resultOf(r, "P2")), DispositionKind::kRelease) << describe(resultOf(r, "P2"));
}

// Issue 20 item 4: most patients' IS outside the window → one IS_MATRIX_MISMATCH batch finding
// and a short per-result finding that refers to it, instead of a long hold text per result.
TEST(RuleEngineIs, MatrixMismatchIsReportedOnceForTheBatch) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  for (int i = 0; i < 3; ++i) {
    m.samples.push_back(sample("PX" + std::to_string(i), SampleKind::kUnknown, "",
                               {analyte("CORT", 7.5e3, 3e4, {}, 25)}));
  }
  for (const char* id : {"P1", "P2"}) {
    Result& r = patientResult(m, id);
    r.peak->internalStandardArea = 3e4;
    r.peak->responseRatio = *r.peak->area / 3e4;
  }
  rules->evaluate(m, RulesContext{});
  auto mismatch = batchFindingsOf(m, "peak.is_matrix_mismatch");
  ASSERT_EQ(mismatch.size(), 1u);
  EXPECT_EQ(mismatch[0]->analyte, "CORT");
  EXPECT_EQ(mismatch[0]->finding.message.rfind("IS_MATRIX_MISMATCH: 5 of 6 patient IS areas", 0),
            0u)
      << mismatch[0]->finding.message;
  const Result& px = resultOf(m, "PX0");
  EXPECT_EQ(worst(px), DispositionKind::kHold);
  EXPECT_EQ(countRule(px, "peak.is_response"), 1u);
  EXPECT_EQ(countRule(px, "peak.is_matrix_mismatch"), 0u);
  EXPECT_EQ(findingOf(px, "peak.is_response")->message,
            "IS_RESPONSE: IS area 30 % of the reference: see IS_MATRIX_MISMATCH");
}

// Issue 20 item 5: a QC gate that could not be evaluated says so under its own code and why.
TEST(RuleEngineFindings, QcNotEvaluableIsNotARejection) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  std::erase_if(m.samples, [](const Sample& s) { return s.kind == SampleKind::kQc; });
  rules->evaluate(m, RulesContext{});
  const Finding* qc = findingOf(resultOf(m, "P1"), "autoverify.qc");
  ASSERT_NE(qc, nullptr) << describe(resultOf(m, "P1"));
  EXPECT_EQ(qc->message,
            "QC_NOT_EVALUABLE: QC could not be evaluated: the batch has no QC injection for this "
            "analyte");
  EXPECT_EQ(qc->action, DispositionKind::kHold);
  EXPECT_EQ(findingOf(resultOf(m, "P1"), "autoverify.qc_bracketing")->message,
            "QC_BRACKETING_NOT_EVALUABLE: QC bracketing could not be evaluated: no QC injection "
            "brackets this result");
}

// Issue 20 item 5: an empty result gets one finding saying it has no value.
TEST(RuleEngineFindings, AnEmptyResultGetsOneNoValueFinding) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  Result& p1 = patientResult(m, "P1");
  p1.numeric.reset();
  p1.value.clear();
  rules->evaluate(m, RulesContext{});
  const Result& r = resultOf(m, "P1");
  EXPECT_EQ(countRule(r, "autoverify.value"), 1u) << describe(r);
  for (const char* step : {"autoverify.measuring_range", "autoverify.absurd", "autoverify.critical",
                           "autoverify.reference", "autoverify.delta"}) {
    EXPECT_EQ(countRule(r, step), 0u) << step << ": " << describe(r);
  }
  EXPECT_EQ(worst(r), DispositionKind::kHold);
}

TEST(RuleSetFile, NotApplicableNamesKnownChecks) {
  EXPECT_NE(
      error(R"({"version":"1","analytes":{"CORT":{"peak":{"not_applicable":["ion_ratios"]}}}})")
          .find("analytes.CORT.peak.not_applicable[0]: unknown check \"ion_ratios\" (known: "
                "rt_window, is_rt_window, ion_ratio, signal_to_noise, shape, width, "
                "is_response, saturation)"),
      std::string::npos);
  EXPECT_NE(error(R"({"version":"1","peak":{"not_applicable":"ion_ratio"}})")
                .find("peak.not_applicable: must be an array of strings"),
            std::string::npos);
  EXPECT_TRUE(ruleSet(R"({"version":"1","peak":{"not_applicable":["ion_ratio","shape"]}})"));
}

// Per analyte, not_applicable adds to the top-level list, and check_<name>: true turns a check
// back on: here CORT's export has no qualifier, and the method says so for CORT alone.
TEST(RuleEngineExportData, NotApplicablePerAnalyte) {
  auto perAnalyte = ruleSet(R"({"version":"t","calibration":{"weight":"1/x2"},
    "peak":{"not_applicable":["is_rt_window"]},
    "qc":{"westgard":false},"autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false},
    "analytes":{"CORT":{"peak":{"not_applicable":["ion_ratio"]}}}})");
  Message m = batch();
  perAnalyte->evaluate(m, RulesContext{});
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kRelease) << describe(resultOf(m, "P1"));
  auto back = ruleSet(R"({"version":"t","calibration":{"weight":"1/x2"},
    "peak":{"not_applicable":["is_rt_window","ion_ratio"]},
    "qc":{"westgard":false},"autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false},
    "analytes":{"CORT":{"peak":{"check_ion_ratio":true}}}})");
  Message again = batch();
  back->evaluate(again, RulesContext{});
  EXPECT_EQ(countRule(resultOf(again, "P1"), "peak.export_data"), 1u)
      << describe(resultOf(again, "P1"));
}

}  // namespace
}  // namespace labgate::rules

namespace labgate::rules {
namespace {

// ---- System suitability (spec §5): a gate on the analyte's patient results ----------------------

/// The test batch with a system-suitability injection first, its RT `rt` (the window is ±2.5 %
/// around 3.40).
Message batchWithSst(double rt) {
  Message m = batch();
  Result sst = analyte("CORT", 2e5, 1e5, {}, 20);
  sst.peak->retentionTime = rt;
  m.samples.insert(m.samples.begin(), sample("SST1", SampleKind::kSystemSuitability, "", {sst}));
  return m;
}

TEST(RuleEngineSst, AFailedSstInjectionHoldsThePatientsAndIsSaidOnceForTheBatch) {
  auto rules = ruleSet(kRules);
  Message m = batchWithSst(3.80);  // 11.8 % off the reference RT
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  const Finding* gate = findingOf(p1, "autoverify.sst");
  ASSERT_TRUE(gate) << describe(p1);
  EXPECT_NE(gate->message.find("SST_FAIL: system suitability not accepted: sample SST1 failed "
                               "RT_WINDOW (see the batch finding SST_FAIL for this analyte)"),
            std::string::npos)
      << gate->message;
  size_t batchSst = 0;
  for (const BatchFinding& b : m.batchFindings) {
    if (b.finding.ruleId != "batch.sst") continue;
    ++batchSst;
    EXPECT_EQ(b.analyte, "CORT");
    EXPECT_NE(b.finding.message.find("SST_FAIL: sample SST1 (system suitability) failed RT_WINDOW"),
              std::string::npos)
        << b.finding.message;
  }
  EXPECT_EQ(batchSst, 1u);
  size_t onP1 = 0;
  for (const Finding& f : p1.findings) onP1 += f.message.find("SST_FAIL") != std::string::npos;
  EXPECT_EQ(onP1, 1u) << "one short SST finding per held result: " << describe(p1);
}

TEST(RuleEngineSst, APassingSstInjectionReleases) {
  auto rules = ruleSet(kRules);
  Message m = batchWithSst(3.41);
  rules->evaluate(m, RulesContext{});
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kRelease) << describe(resultOf(m, "P1"));
}

TEST(RuleEngineSst, WithSstRequiredABatchWithoutSstHolds) {
  std::string text = kRules;
  const std::string from = R"("autoverify":{)";
  text.replace(text.find(from), from.size(), R"("autoverify":{"sst_required":true,)");
  auto rules = ruleSet(text);
  ASSERT_TRUE(rules);
  Message m = batch();
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  const Finding* gate = findingOf(p1, "autoverify.sst");
  ASSERT_TRUE(gate) << describe(p1);
  EXPECT_NE(gate->message.find("SST_NOT_EVALUABLE: system suitability could not be evaluated: the "
                               "batch has no system-suitability injection for this analyte "
                               "(autoverify.sst_required)"),
            std::string::npos)
      << gate->message;
  // Without the key a batch without SST passes the gate.
  Message plain = batch();
  ruleSet(kRules)->evaluate(plain, RulesContext{});
  EXPECT_EQ(worst(resultOf(plain, "P1")), DispositionKind::kRelease);
}

TEST(RuleEngineGates, AFailedGateNamesTheBatchFindingThatExplainsIt) {
  auto rules = ruleSet(kRules);
  Message m = batch(0.5);  // the low QCs read half their nominal: the QC run is rejected
  rules->evaluate(m, RulesContext{});
  const Result& p1 = resultOf(m, "P1");
  const Finding* qc = findingOf(p1, "autoverify.qc");
  ASSERT_TRUE(qc) << describe(p1);
  EXPECT_NE(qc->message.find("QC_REJECTED: QC not accepted: see the batch finding QC_"),
            std::string::npos)
      << qc->message;
}

}  // namespace
}  // namespace labgate::rules
