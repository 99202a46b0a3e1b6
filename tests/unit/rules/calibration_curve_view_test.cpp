// Issue 15: RulesStage::calibrationCurve, what the console's calibration chart draws, is the curve
// evaluate() judges: the same settings (the export's model and weighting winning over the rule
// set's), the same fit after auto_exclude, the same back-calculations.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "rules/rule_set.h"

namespace labgate::rules {
namespace {

std::shared_ptr<const RulesStage> ruleSet(const std::string& calibration) {
  auto parsed = parseRuleSet(R"({"version":"curve-1","calibration":{)" + calibration +
                                 R"(},"qc":{"westgard":false},)"
                                 R"("autoverify":{"require_critical_limits":false}})",
                             "t.json");
  EXPECT_TRUE(parsed.isOk()) << parsed.status().toString();
  return parsed.isOk() ? parsed.value() : nullptr;
}

/// Six calibrators on response = 0.02·x (calibrator `off` at `factor` of it), a patient.
Message batch(size_t off, double factor) {
  Message m;
  m.listedInRunOrder = true;
  const double levels[] = {1, 2, 5, 10, 50, 100};
  auto sample = [](const std::string& id, SampleKind kind, double ratio, std::optional<double> x) {
    Sample s;
    s.sampleId = id;
    s.kind = kind;
    Result r;
    r.instrumentCode = "CORT";
    Peak p;
    p.area = ratio * 1e5;
    p.internalStandardArea = 1e5;
    p.responseRatio = ratio;
    p.expectedConcentration = x;
    r.peak = p;
    s.results.push_back(r);
    return s;
  };
  for (size_t i = 0; i < 6; ++i) {
    const double x = levels[i];
    m.samples.push_back(sample("CAL" + std::to_string(i + 1), SampleKind::kCalibrator,
                               0.02 * x * (i == off ? factor : 1.0), x));
  }
  m.samples.push_back(sample("P1", SampleKind::kUnknown, 0.6, std::nullopt));
  return m;
}

double metric(const Message& m, const std::string& name) {
  for (const BatchMetric& b : m.metrics) {
    if (b.analyte == "CORT" && b.metric == name) return b.value;
  }
  return NAN;
}

TEST(CalibrationCurveView, IsTheCurveTheRulesJudgeWithTheExcludedCalibratorFlagged) {
  auto rules = ruleSet(R"("weight":"1/x2","auto_exclude":true)");
  ASSERT_TRUE(rules);
  const Message stored = batch(2, 1.4);
  std::optional<CalibrationCurveView> view = rules->calibrationCurve(stored, "CORT");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->model, "linear");
  EXPECT_EQ(view->weighting, "1/x2");
  ASSERT_TRUE(view->fitted) << view->error;
  ASSERT_EQ(view->coefficients.size(), 2u);
  EXPECT_NEAR(view->coefficients[0], 0.0, 1e-12);
  EXPECT_NEAR(view->coefficients[1], 0.02, 1e-12);
  ASSERT_EQ(view->points.size(), 6u);
  for (const CalibrationCurveView::Point& p : view->points) {
    EXPECT_EQ(p.excluded, p.sampleId == "CAL3") << p.sampleId;
    ASSERT_TRUE(p.accuracy && p.response && p.expected) << p.sampleId;
    EXPECT_NEAR(*p.accuracy, p.sampleId == "CAL3" ? 140.0 : 100.0, 1e-6) << p.sampleId;
  }
  // evaluate() keeps the fit's slope and R² as batch metrics: the same numbers.
  Message evaluated = stored;
  rules->evaluate(evaluated, RulesContext{});
  EXPECT_DOUBLE_EQ(metric(evaluated, "cal_slope"), view->coefficients[1]);
  EXPECT_DOUBLE_EQ(metric(evaluated, "cal_r_squared"), view->rSquared.value_or(NAN));
  // The message the caller holds is not changed; an analyte without calibrators has no curve.
  EXPECT_TRUE(stored.batchFindings.empty());
  EXPECT_FALSE(rules->calibrationCurve(stored, "OTHER"));
}

TEST(CalibrationCurveView, TheExportsModelWinsAsInEvaluate) {
  auto rules = ruleSet(R"("model":"linear","weight":"1/x2")");
  ASSERT_TRUE(rules);
  Message stored = batch(99, 1.0);
  stored.curves.push_back({"CORT", "Quadratic", "1/X", "Exclude"});
  std::optional<CalibrationCurveView> view = rules->calibrationCurve(stored, "CORT");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->model, "quadratic");
  EXPECT_EQ(view->weighting, "1/x");
  ASSERT_TRUE(view->fitted) << view->error;
  ASSERT_EQ(view->coefficients.size(), 3u);
  EXPECT_NEAR(view->coefficients[2], 0.0, 1e-9);
  for (const CalibrationCurveView::Point& p : view->points) EXPECT_FALSE(p.excluded);
}

TEST(CalibrationCurveView, NoneWithoutTheCalibrationCheck) {
  auto parsed = parseRuleSet(R"({"version":"v","checks":{"calibration":false},)"
                             R"("qc":{"westgard":false},)"
                             R"("autoverify":{"require_critical_limits":false}})",
                             "t.json");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_FALSE(parsed.value()->calibrationCurve(batch(99, 1.0), "CORT"));
}

}  // namespace
}  // namespace labgate::rules
