// QC trends over the stored history (rules/qc_trend.h): EWMA and CUSUM of the z-scores per
// analyte and QC level, findings only for this batch's signals, the state kept as batch metrics;
// and the rule-set keys qc.ewma / qc.cusum (rules/rule_set.cpp).
#include "rules/qc_trend.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "rules/rule_set.h"

namespace labgate::rules {
namespace {

labgate::QcValue qc(const std::string& level, double value, int64_t batch, double mean = 10,
                    double sd = 1) {
  labgate::QcValue v;
  v.analyte = "CORT";
  v.level = level;
  v.value = value;
  v.batch = batch;
  v.targetMean = mean;
  v.targetSd = sd;
  return v;
}

std::map<std::string, double> metrics(const QcTrendReview& r) {
  std::map<std::string, double> out;
  for (const BatchMetric& m : r.metrics) out[m.metric] = m.value;
  return out;
}

// Stored z (target 10, SD 1) of level Low in batches 1..4: 0, 0.5, 1, 1; this batch: z = 2.
// CUSUM k 0.5, h 2: SH = 0, 0, 0.5, 1, 1 + 2 − 0.5 = 2.5 > 2 (signal high). SH was last 0 at
// batch 2, so the shift runs since batch 3.
// EWMA λ 0.5, L 1, steady state: limit √(0.5/1.5) = 0.577; E = 0, 0.25, 0.625, 0.8125, then
// 0.5·2 + 0.5·0.8125 = 1.40625 (signal high); E was last ≤ 0 at batch 1: since batch 2.
TEST(QcTrend, SignalsOfThisBatchNameDirectionAndOnset) {
  std::vector<labgate::QcValue> stored = {qc("Low", 10, 1), qc("Low", 10.5, 2), qc("High", 50, 2),
                                          qc("Low", 11, 3), qc("Low", 11, 4)};
  std::vector<labgate::QcValue> current = {qc("Low", 12, 0)};
  QcTrendConfig config;
  config.ewma.enabled = true;
  config.ewma.lambda = 0.5;
  config.ewma.width = 1;
  config.ewma.steadyState = true;
  config.cusum.enabled = true;
  config.cusum.h = 2;
  QcTrendReview r = reviewQcTrends("CORT", stored, current, config);
  ASSERT_EQ(r.checks.size(), 2U);
  EXPECT_EQ(r.checks[0].ruleId, "trend.qc_ewma");
  EXPECT_EQ(r.checks[0].code, "QC_TREND_EWMA");
  EXPECT_EQ(r.checks[0].outcome, Outcome::kWarn);
  EXPECT_EQ(r.checks[0].measured, "1.41");
  EXPECT_EQ(r.checks[0].limit, "0.577");
  EXPECT_NE(r.checks[0].message.find("CORT QC Low"), std::string::npos) << r.checks[0].message;
  EXPECT_NE(r.checks[0].message.find("high since batch 2"), std::string::npos)
      << r.checks[0].message;
  EXPECT_EQ(r.checks[1].ruleId, "trend.qc_cusum");
  EXPECT_EQ(r.checks[1].code, "QC_TREND_CUSUM");
  EXPECT_EQ(r.checks[1].measured, "2.5");
  EXPECT_EQ(r.checks[1].limit, "2");
  EXPECT_NE(r.checks[1].message.find("high since batch 3"), std::string::npos)
      << r.checks[1].message;
  auto m = metrics(r);
  EXPECT_DOUBLE_EQ(m["qc_ewma/Low"], 1.40625);
  EXPECT_DOUBLE_EQ(m["qc_ewma_signal/Low"], 1);
  EXPECT_DOUBLE_EQ(m["qc_cusum_sh/Low"], 2.5);
  EXPECT_DOUBLE_EQ(m["qc_cusum_sl/Low"], 0);
  EXPECT_DOUBLE_EQ(m["qc_cusum_h/Low"], 2);
  EXPECT_DOUBLE_EQ(m["qc_cusum_signal/Low"], 1);
  EXPECT_EQ(m.count("qc_ewma/High"), 0U);  // no High value in this batch: not evaluated
}

// A signal only in the stored history is no finding of this batch; the state still is kept.
TEST(QcTrend, OldSignalsAreNotThisBatchsFindings) {
  std::vector<labgate::QcValue> stored = {qc("Low", 14, 1)};  // E = 2 > 0.577
  std::vector<labgate::QcValue> current = {qc("Low", 8, 0)};  // E = 0.5·(−2) + 1 = 0
  QcTrendConfig config;
  config.ewma.enabled = true;
  config.ewma.lambda = 0.5;
  config.ewma.width = 1;
  config.ewma.steadyState = true;
  QcTrendReview r = reviewQcTrends("CORT", stored, current, config);
  EXPECT_TRUE(r.checks.empty());
  auto m = metrics(r);
  EXPECT_DOUBLE_EQ(m["qc_ewma/Low"], 0);
  EXPECT_DOUBLE_EQ(m["qc_ewma_signal/Low"], 0);
}

// Low side, a hold action, values without a target or excluded left out, each value standardised
// with its own target: z = (9 − 10)/1 = −1, (18 − 20)/2 = −1, (7 − 10)/1 = −3.
// CUSUM k 0.5, h 3, one-sided low: SL = 0.5, 1, 3.5 > 3 → signal low since batch 1.
TEST(QcTrend, OneSidedLowCusumWithHoldAndOwnTargets) {
  labgate::QcValue noTarget = qc("Low", 0, 2);
  noTarget.targetMean.reset();
  labgate::QcValue excluded = qc("Low", 0, 2);
  excluded.excluded = true;
  std::vector<labgate::QcValue> stored = {qc("Low", 9, 1), noTarget, excluded,
                                          qc("Low", 18, 3, 20, 2)};
  QcTrendConfig config;
  config.cusum.enabled = true;
  config.cusum.h = 3;
  config.cusum.twoSided = false;
  config.cusum.high = false;
  config.cusum.action = DispositionKind::kHold;
  QcTrendReview r = reviewQcTrends("CORT", stored, {qc("Low", 7, 0)}, config);
  ASSERT_EQ(r.checks.size(), 1U);
  EXPECT_EQ(r.checks[0].outcome, Outcome::kFail);
  EXPECT_EQ(r.checks[0].onFail, DispositionKind::kHold);
  EXPECT_EQ(r.checks[0].measured, "3.5");
  EXPECT_NE(r.checks[0].message.find("SL 3.5"), std::string::npos) << r.checks[0].message;
  EXPECT_NE(r.checks[0].message.find("low since batch 1"), std::string::npos)
      << r.checks[0].message;
  auto m = metrics(r);
  EXPECT_DOUBLE_EQ(m["qc_cusum_signal/Low"], -1);
  // The high side of a one-sided low CUSUM never accumulates: a high shift says nothing.
  r = reviewQcTrends("CORT", {}, {qc("Low", 20, 0)}, config);
  EXPECT_TRUE(r.checks.empty());
  EXPECT_DOUBLE_EQ(metrics(r)["qc_cusum_sh/Low"], 0);
}

TEST(QcTrend, DisabledByDefault) {
  QcTrendReview r = reviewQcTrends("CORT", {}, {qc("Low", 100, 0)}, QcTrendConfig{});
  EXPECT_TRUE(r.checks.empty());
  EXPECT_TRUE(r.metrics.empty());
}

TEST(QcTrend, MetricNamesRoundTrip) {
  EXPECT_EQ(qcTrendMetricName("qc_ewma", "QC 25 ng/mL"), "qc_ewma/QC 25 ng/mL");
  auto key = parseQcTrendMetricName("qc_ewma/QC 25 ng/mL");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->name, "qc_ewma");
  EXPECT_EQ(key->level, "QC 25 ng/mL");
  EXPECT_FALSE(parseQcTrendMetricName("cal_slope"));
}

std::string parseError(const std::string& json) {
  auto parsed = parseRuleSet(json, "t.json");
  return parsed.isOk() ? "" : parsed.status().toString();
}

TEST(QcTrend, RuleSetKeysAreValidatedNamingTheKey) {
  EXPECT_EQ(parseError(R"({"version":"1","qc":{"ewma":{"enabled":true,"lambda":0.3,"width":2.7,
      "steady_state":true,"action":"hold"},"cusum":{"enabled":true,"k":0.5,"h":4,
      "two_sided":false,"side":"low","reset_after_signal":false,"action":"warn"}}})"),
            "");
  EXPECT_NE(parseError(R"({"version":"1","qc":{"ewma":{"lambda":0}}})").find("qc.ewma.lambda"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"version":"1","qc":{"ewma":{"width":-1}}})").find("qc.ewma.width"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"version":"1","qc":{"ewma":{"action":"reject"}}})")
                .find("qc.ewma.action: must be warn or hold"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"version":"1","qc":{"ewma":{"lamda":0.2}}})").find("lamda"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"version":"1","qc":{"cusum":{"h":0}}})").find("qc.cusum.h"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"version":"1","qc":{"cusum":{"side":"low"}}})")
                .find("qc.cusum.side: applies only with two_sided false"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"version":"1","qc":{"cusum":{"two_sided":false,"side":"up"}}})")
                .find("qc.cusum.side: must be high or low"),
            std::string::npos);
}

}  // namespace
}  // namespace labgate::rules
