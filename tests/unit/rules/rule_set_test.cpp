// The rule engine: rule-set files are validated strictly (errors name the key), and a batch is
// evaluated in the spec's order with findings on the results they concern.
#include "rules/rule_set.h"

#include <gtest/gtest.h>

#include <algorithm>

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

/// Six calibrators on y = 0.1·x (IS area 1e5), two QCs per level, and patients, listed in
/// injection order.
Message batch(double qcLowFactor = 1.0) {
  Message m;
  m.listedInRunOrder = true;
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

const char* kRules = R"({"version":"test-1","calibration":{"weight":"1/x2"},
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

TEST(RuleEngine, ResultsWithoutCalibratorsAreNotHeldForAMissingRange) {
  // A message with patient results only (ASTM, HL7): no curve to judge, no range configured.
  auto rules = ruleSet(R"({"version":"x","checks":{"qc":false},
    "autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false}})");
  Message m;
  m.samples.push_back(
      sample("P1", SampleKind::kUnknown, "", {analyte("CORT", 2.5e5, 1e5, {}, 25)}));
  rules->evaluate(m, RulesContext{});
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kRelease) << describe(resultOf(m, "P1"));
  // With a configured range the range applies.
  auto ranged = ruleSet(R"({"version":"x","checks":{"qc":false},
    "autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false},
    "analytes":{"CORT":{"limits":{"lloq":1,"uloq":20}}}})");
  Message over;
  over.samples.push_back(
      sample("P1", SampleKind::kUnknown, "", {analyte("CORT", 2.5e5, 1e5, {}, 25)}));
  ranged->evaluate(over, RulesContext{});
  EXPECT_TRUE(hasRule(resultOf(over, "P1"), "autoverify.measuring_range"));
  EXPECT_EQ(worst(resultOf(over, "P1")), DispositionKind::kHold);
}

TEST(RuleEngine, ACurveThatCannotBeJudgedHoldsRatherThanRejects) {
  auto rules = ruleSet(kRules);
  Message m = batch();
  for (int i = 0; i < 6; ++i) m.samples[i].results[0].peak->responseRatio.reset();
  for (int i = 0; i < 6; ++i) m.samples[i].results[0].peak->area.reset();
  rules->evaluate(m, RulesContext{});
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kHold) << describe(resultOf(m, "P1"));
}

// Found by the rules fuzzer: numbers outside the integer range are errors, never a crash.
TEST(RuleSetFile, NumbersBeyondTheIntegerRangeAreErrors) {
  EXPECT_NE(error(R"({"version":"v","drift":{"history_window":9223372036854775808}})")
                .find("drift.history_window"),
            std::string::npos);
  EXPECT_NE(error(R"({"version":"v","drift":{"history_window":-1}})").find("drift.history_window"),
            std::string::npos);
}

}  // namespace
}  // namespace labgate::rules
