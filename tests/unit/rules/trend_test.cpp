#include "rules/trend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace labgate::rules {
namespace {

// ---- EWMA: the NIST/SEMATECH e-Handbook §6.3.2.4 example --------------------------------------

struct NistRow {
  double x = 0, published = 0, exact = 0;
};

std::vector<NistRow> readNistExample(const std::string& path) {
  std::vector<NistRow> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header: i,x,ewma_published_2dp,ewma_exact
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string i, x, pub, exact;
    std::getline(ss, i, ',');
    std::getline(ss, x, ',');
    std::getline(ss, pub, ',');
    std::getline(ss, exact, ',');
    rows.push_back({std::stod(x), std::stod(pub), std::stod(exact)});
  }
  return rows;
}

TEST(EwmaNist, ReproducesThePublishedValuesAndLimits) {
  const std::string path =
      std::string(LABGATE_SHARED_DIR) + "/reference/trend/nist_ehandbook_ewma_example.csv";
  if (!std::ifstream(path)) GTEST_SKIP() << "missing " << path;
  std::vector<NistRow> rows = readNistExample(path);
  ASSERT_EQ(rows.size(), 20u);
  std::vector<double> x;
  x.reserve(rows.size());
  for (const auto& r : rows) x.push_back(r.x);
  EwmaConfig cfg;
  cfg.lambda = 0.3;
  cfg.L = 3;
  const double s = 2.0539;
  EwmaRun run = ewma(x, 50.0, s, cfg);
  ASSERT_EQ(run.points.size(), 20u);
  for (size_t i = 0; i < rows.size(); ++i) {
    // Rounded to 2 dp it is the published value (half-up, as printed).
    EXPECT_DOUBLE_EQ(std::round(run.points[i].ewma * 100) / 100, rows[i].published) << i + 1;
    EXPECT_NEAR(run.points[i].ewma, rows[i].exact, 1e-9) << i + 1;
  }
  // Published steady-state limits: UCL 52.5884, LCL 47.4115 (the exact value is 47.41157, which
  // the handbook truncates; the spec's §9 table rounds it to 47.4116).
  EXPECT_NEAR(run.steadyUcl, 52.5884, 5e-5);
  EXPECT_NEAR(run.steadyLcl, 47.41157, 5e-6);
  EXPECT_NEAR(run.steadyLcl, 47.4115, 1e-4);
  EXPECT_TRUE(run.signals.empty());  // the handbook's chart shows no point out of control

  // Exact limits start narrow and approach the steady state.
  double first = 3 * s * std::sqrt(0.3 / 1.7 * (1 - 0.49));
  EXPECT_NEAR(run.points[0].ucl, 50 + first, 1e-12);
  EXPECT_LT(run.points[0].ucl, run.points[9].ucl);
  EXPECT_NEAR(run.points[19].ucl, run.steadyUcl, 1e-5);
  cfg.steadyState = true;
  EwmaRun steady = ewma(x, 50.0, s, cfg);
  EXPECT_DOUBLE_EQ(steady.points[0].ucl, run.steadyUcl);
}

// Our own EWMA series (tests/data/reference/trend/own_ewma.csv, exact values from
// tests/data/reference/generate.py): target 10, σ 0.5, λ 0.2, L 3; a drift upwards crosses the UCL
// at the tenth point. Runs without ../shared.
TEST(EwmaOwn, ReproducesTheExactValuesLimitsAndSignals) {
  const std::string path = std::string(LABGATE_TEST_DATA_DIR) + "/reference/trend/own_ewma.csv";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing " << path;
  struct Row {
    double x, ewma, ucl, lcl;
    bool signal;
  };
  std::vector<Row> rows;
  std::string line;
  std::getline(in, line);  // header: i,x,ewma_exact,ucl_exact,lcl_exact,signal
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream ss(line);
    std::vector<std::string> cells;
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 6u) << line;
    rows.push_back({std::stod(cells[1]), std::stod(cells[2]), std::stod(cells[3]),
                    std::stod(cells[4]), cells[5] == "1"});
  }
  ASSERT_EQ(rows.size(), 12u);
  std::vector<double> x;
  x.reserve(rows.size());
  for (const auto& r : rows) x.push_back(r.x);
  EwmaConfig cfg;
  cfg.lambda = 0.2;
  cfg.L = 3;
  EwmaRun run = ewma(x, 10.0, 0.5, cfg);
  ASSERT_EQ(run.points.size(), rows.size());
  std::vector<size_t> signals;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_NEAR(run.points[i].ewma, rows[i].ewma, 1e-12) << i + 1;
    EXPECT_NEAR(run.points[i].ucl, rows[i].ucl, 1e-12) << i + 1;
    EXPECT_NEAR(run.points[i].lcl, rows[i].lcl, 1e-12) << i + 1;
    EXPECT_EQ(run.points[i].signal, rows[i].signal) << i + 1;
    if (rows[i].signal) signals.push_back(i);
  }
  EXPECT_EQ(run.signals, signals);
  // Steady state: 10 ± 3·0.5·√(0.2/1.8) = 10 ± 0.5.
  EXPECT_NEAR(run.steadyUcl, 10.5, 1e-12);
  EXPECT_NEAR(run.steadyLcl, 9.5, 1e-12);
}

TEST(EwmaSignals, ShiftCrossesTheLimit) {
  std::vector<double> x(10, 0.0);
  x.insert(x.end(), 10, 2.0);  // a 2σ shift from index 10
  EwmaRun run = ewma(x, 0.0, 1.0);
  ASSERT_FALSE(run.signals.empty());
  EXPECT_GE(run.signals.front(), 10u);
  for (size_t i = 0; i < 10; ++i) EXPECT_FALSE(run.points[i].signal);
}

// ---- CUSUM -----------------------------------------------------------------------------------

TEST(CusumTabular, SignalIndexIsStrictAndResets) {
  CusumConfig cfg;
  cfg.h = 4;
  // z = 1.5 each: SH grows by 1.0 → 1, 2, 3, 4 (on h: no signal), 5 (signal at index 4).
  std::vector<double> x(10, 1.5);
  CusumRun run = cusum(x, 0.0, 1.0, cfg);
  ASSERT_EQ(run.points.size(), 10u);
  EXPECT_DOUBLE_EQ(run.points[3].high, 4.0);
  EXPECT_FALSE(run.points[3].signalHigh);
  EXPECT_TRUE(run.points[4].signalHigh);
  EXPECT_DOUBLE_EQ(run.points[4].high, 5.0);
  EXPECT_EQ(run.signals, (std::vector<size_t>{4, 9}));  // reset to 0 after each signal
  EXPECT_DOUBLE_EQ(run.points[5].high, 1.0);

  cfg.reset = false;
  run = cusum(x, 0.0, 1.0, cfg);
  EXPECT_EQ(run.signals, (std::vector<size_t>{4, 5, 6, 7, 8, 9}));
}

TEST(CusumTabular, LowSideFirAndStandardisation) {
  CusumConfig cfg;  // k 0.5, h 5
  // x = 10 − 3 with σ = 2 → z = −1.5; SL grows by 1 → signal when SL > 5, at index 5.
  std::vector<double> x(8, 7.0);
  CusumRun run = cusum(x, 10.0, 2.0, cfg);
  ASSERT_FALSE(run.signals.empty());
  EXPECT_EQ(run.signals.front(), 5u);
  EXPECT_TRUE(run.points[5].signalLow);
  EXPECT_DOUBLE_EQ(run.points[0].z, -1.5);

  cfg.fir = true;  // head start h/2 = 2.5: 3.5, 4.5, 5.5 → signal at index 2, reset to 2.5
  run = cusum(x, 10.0, 2.0, cfg);
  EXPECT_EQ(run.signals.front(), 2u);
  EXPECT_DOUBLE_EQ(run.points[3].low, 3.5);

  // In-control data around the mean never signals.
  std::vector<double> calm = {10.1, 9.8, 10.3, 9.9, 10.0, 10.2, 9.7, 10.1};
  EXPECT_TRUE(cusum(calm, 10.0, 0.5).signals.empty());
  EXPECT_TRUE(cusum(calm, 10.0, 0.0).points.empty());
}

// One-sided CUSUM (issue 19, qc.cusum two_sided false): the side switched off stays 0 and never
// signals, a head start included. z = −1.5 each: SL = 1, 2, 3 … as above; SH would be 0 anyway.
// z = +1.5 each with only the low side: nothing.
TEST(CusumTabular, OneSidedKeepsTheOtherSideAtZero) {
  CusumConfig cfg;
  cfg.high = false;
  cfg.fir = true;
  std::vector<double> low(8, 7.0), high(8, 13.0);
  CusumRun run = cusum(low, 10.0, 2.0, cfg);
  EXPECT_EQ(run.signals.front(), 2u);  // 3.5, 4.5, 5.5 with the head start 2.5
  for (const CusumPoint& p : run.points) EXPECT_EQ(p.high, 0.0);
  run = cusum(high, 10.0, 2.0, cfg);
  EXPECT_TRUE(run.signals.empty());
  for (const CusumPoint& p : run.points) EXPECT_EQ(p.high, 0.0);
  cfg.high = true;
  cfg.low = false;
  run = cusum(high, 10.0, 2.0, cfg);
  EXPECT_EQ(run.signals.front(), 2u);
  for (const CusumPoint& p : run.points) EXPECT_EQ(p.low, 0.0);
}

// ---- Levey-Jennings, moving average, Bull --------------------------------------------------

TEST(TrendLeveyJennings, ZAndBands) {
  auto pts = leveyJennings({100, 101, 102.5, 104, 95.5}, 100, 1.5);
  ASSERT_EQ(pts.size(), 5u);
  EXPECT_DOUBLE_EQ(pts[1].z, 1.0 / 1.5);
  EXPECT_EQ(pts[0].band, 0);
  EXPECT_EQ(pts[2].band, 1);  // z = 5/3
  EXPECT_EQ(pts[3].band, 2);  // z = 8/3
  EXPECT_EQ(pts[4].band, 2);  // z = −3 exactly: on the 3 SD line
  EXPECT_EQ(leveyJennings({104.6}, 100, 1.5)[0].band, 3);
  auto lines = leveyJenningsLines(100, 1.5);
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_DOUBLE_EQ(lines[0], 95.5);
  EXPECT_DOUBLE_EQ(lines[6], 104.5);
  EXPECT_TRUE(leveyJennings({1}, 0, 0).empty());
}

TEST(TrendMovingAverage, WindowAndLimits) {
  std::vector<double> x = {10, 10, 10, 10, 13, 13, 13, 13};
  auto ma = movingAverage(x, 10, 2, 4);  // limits 10 ± 3
  ASSERT_EQ(ma.size(), 5u);
  EXPECT_EQ(ma[0].index, 3u);
  EXPECT_DOUBLE_EQ(ma[0].mean, 10);
  EXPECT_DOUBLE_EQ(ma[0].ucl, 13);
  EXPECT_DOUBLE_EQ(ma[4].mean, 13);
  EXPECT_FALSE(ma[4].signal);  // on the limit
  x.push_back(14);
  ma = movingAverage(x, 10, 2, 4);
  EXPECT_TRUE(ma.back().signal);
  EXPECT_TRUE(movingAverage({1, 2}, 0, 1, 20).empty());
}

TEST(TrendBull, MovesTowardsTheBatchAndSignals) {
  BullConfig cfg;
  cfg.batchSize = 4;
  // Every value on target: no movement.
  auto b = bullAlgorithm(std::vector<double>(8, 100.0), 100, cfg);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_DOUBLE_EQ(b[0].mean, 100);
  EXPECT_FALSE(b[1].signal);
  // Every value 10 % high: d = √10, X̄_B = 100 + d² = 110 → +10 % signals.
  b = bullAlgorithm(std::vector<double>(4, 110.0), 100, cfg);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NEAR(b[0].mean, 110, 1e-12);
  EXPECT_NEAR(b[0].deviationPct, 10, 1e-10);
  EXPECT_TRUE(b[0].signal);
  // Half 4 above, half 4 below: the signed roots cancel.
  b = bullAlgorithm({104, 96, 104, 96, 101}, 100, cfg);
  ASSERT_EQ(b.size(), 1u);  // the incomplete batch is left out
  EXPECT_DOUBLE_EQ(b[0].mean, 100);
  EXPECT_EQ(b[0].endIndex, 3u);
}

// ---- Drift (§4.5) ----------------------------------------------------------------------------

Series linearRatios(size_t n, double start, double change) {
  Series s;
  for (size_t t = 0; t < n; ++t)
    s.push_back(start - change * static_cast<double>(t) / static_cast<double>(n - 1));
  return s;
}

TEST(DriftIs, BoundaryOfThirtyPercentPasses) {
  auto fit = fitLine({1, 2, 3, 4}, {3, 5, 7, 9});
  ASSERT_TRUE(fit);
  EXPECT_DOUBLE_EQ(fit->slope, 2);
  EXPECT_DOUBLE_EQ(fit->intercept, 1);
  EXPECT_FALSE(fitLine({1, 1}, {2, 3}));

  CheckResult c = checkIsDrift(linearRatios(11, 1.0, 0.30));
  EXPECT_EQ(c.outcome, Outcome::kPass) << c.measured;
  EXPECT_EQ(c.code, "IS_DRIFT");
  EXPECT_EQ(c.subject, "batch");
  EXPECT_EQ(checkIsDrift(linearRatios(7, 1.0, 0.30)).outcome, Outcome::kPass);
  EXPECT_EQ(checkIsDrift(linearRatios(11, 1.0, 0.31)).outcome, Outcome::kWarn);
  // A change of exactly 0.50 warns but does not fail.
  EXPECT_EQ(checkIsDrift(linearRatios(5, 1.0, 0.50)).outcome, Outcome::kWarn);
  // Rising IS drifts too.
  EXPECT_EQ(checkIsDrift(linearRatios(11, 1.0, -0.4)).outcome, Outcome::kWarn);
}

TEST(DriftIs, NumbersAreInThePercentTheMessageSays) {
  CheckResult warn = checkIsDrift(linearRatios(11, 1.0, 0.40));
  EXPECT_EQ(warn.measured, num(40));
  EXPECT_EQ(warn.limit, num(30));
  EXPECT_NE(warn.message.find("% of the IS reference"), std::string::npos) << warn.message;
  EXPECT_NE(warn.message.find("more than 30%"), std::string::npos) << warn.message;
  CheckResult shift = checkRtShift(4.2, {4.0, 4.0, 4.0});
  EXPECT_EQ(shift.measured, num(5));
  EXPECT_EQ(shift.limit, num(2.5));
  EXPECT_NE(shift.message.find("shift 5%, limit 2.5%"), std::string::npos) << shift.message;
  CheckResult global = checkRtShiftGlobal({0.03, 0.04});
  EXPECT_EQ(global.limit, num(2.5));
  EXPECT_NE(global.message.find("by more than 2.5%"), std::string::npos) << global.message;
}

TEST(DriftIs, FailHoldsTheLowLaterSamples) {
  Series r = linearRatios(11, 1.1, 0.7);  // 1.1 → 0.4
  r[3].reset();                           // a missing IS does not break the fit
  std::vector<size_t> hold;
  CheckResult c = checkIsDrift(r, DriftConfig{}, &hold);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(hold, (std::vector<size_t>{9, 10}));  // r = 0.47, 0.40
  EXPECT_EQ(checkIsDrift(Series{1.0}).outcome, Outcome::kNotEvaluable);
}

TEST(DriftIs, CusumOnsetOnLogRatio) {
  Series r(5, 1.0);
  for (int i = 0; i < 5; ++i) r.push_back(0.8);
  // log(0.8)/0.05 = −4.46: SL = 3.96 at index 5 (no signal), 7.93 at index 6.
  CheckResult c = checkIsDriftOnset(r, 0.05);
  EXPECT_EQ(c.outcome, Outcome::kWarn);
  EXPECT_EQ(c.code, "IS_DRIFT_ONSET");
  EXPECT_EQ(c.measured, "6");
  EXPECT_EQ(checkIsDriftOnset(Series(10, 1.0), 0.05).outcome, Outcome::kPass);
  EXPECT_EQ(checkIsDriftOnset(r, std::nullopt).outcome, Outcome::kNotEvaluable);
}

TEST(DriftRt, PredictedDriftOverTheBatch) {
  Series rt;
  for (int t = 0; t < 5; ++t) rt.push_back(2.0 + 0.05 * t);  // 0.2 min over the batch
  CheckResult c = checkRtDrift(rt, 2.0);
  EXPECT_EQ(c.outcome, Outcome::kWarn);
  EXPECT_EQ(c.code, "RT_DRIFT");
  Series calm;
  for (int t = 0; t < 5; ++t) calm.push_back(2.0 + 0.01 * t);  // 0.04 min, 2 %
  EXPECT_EQ(checkRtDrift(calm, 2.0).outcome, Outcome::kPass);
  // A long method: 0.09 min is below 0.1 min but 3 % of a 3 min RT.
  Series rel;
  for (int t = 0; t < 4; ++t) rel.push_back(3.0 + 0.03 * t);
  EXPECT_EQ(checkRtDrift(rel, 3.0).outcome, Outcome::kWarn);
}

// ---- Inter-batch -----------------------------------------------------------------------------

TEST(DriftInterBatch, SensitivityLossAgainstTheRollingMedian) {
  std::vector<double> history(5, 10.0);  // older than the last 20: ignored
  history.insert(history.end(), 20, 1000.0);
  EXPECT_DOUBLE_EQ(*rollingMedian(history), 1000);
  EXPECT_EQ(checkSensitivityLoss(500.0, history).outcome, Outcome::kPass);  // exactly 50 %
  CheckResult c = checkSensitivityLoss(499.0, history);
  EXPECT_EQ(c.outcome, Outcome::kWarn);
  EXPECT_EQ(c.code, "SENSITIVITY_LOSS");
  EXPECT_EQ(checkSensitivityLoss(300.0, history).outcome, Outcome::kWarn);
  EXPECT_EQ(checkSensitivityLoss(299.0, history).outcome, Outcome::kFail);
  EXPECT_EQ(checkSensitivityLoss(500.0, {}).outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(checkSensitivityLoss(std::nullopt, history).outcome, Outcome::kNotEvaluable);
}

TEST(DriftInterBatch, RtAndIonRatioShift) {
  std::vector<double> rt = {4.0, 4.02, 3.98, 4.0, 4.01};
  EXPECT_EQ(checkRtShift(4.1, rt).outcome, Outcome::kPass);  // exactly 2.5 %
  CheckResult c = checkRtShift(4.11, rt);
  EXPECT_EQ(c.outcome, Outcome::kWarn);
  EXPECT_EQ(c.code, "RT_SHIFT");
  // IR median 0.25: tolerance 25 %, shift limit 12.5 %.
  std::vector<double> ir = {0.25, 0.26, 0.24};
  EXPECT_EQ(checkIonRatioShift(0.28125, ir).outcome, Outcome::kPass);
  EXPECT_EQ(checkIonRatioShift(0.29, ir).outcome, Outcome::kWarn);
  EXPECT_EQ(checkIonRatioShift(0.29, {}).outcome, Outcome::kNotEvaluable);
}

// ---- §5 diagnostics --------------------------------------------------------------------------

TEST(DriftDiagnostics, SingleIsDropNeedsNormalNeighbours) {
  auto drops = checkIsDropSingle({1.0, 0.95, 0.3, 1.02, 0.98});
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].index, 2u);
  EXPECT_EQ(drops[0].check.code, "IS_DROP_SINGLE");
  EXPECT_EQ(drops[0].check.outcome, Outcome::kFail);
  EXPECT_EQ(drops[0].check.onFail, DispositionKind::kHold);
  EXPECT_EQ(drops[0].check.subject, "sample");
  EXPECT_TRUE(checkIsDropSingle({1.0, 0.4, 0.3, 1.0}).empty());  // a run of low IS is drift
  auto edge = checkIsDropSingle({0.3, 1.0, 1.0});
  ASSERT_EQ(edge.size(), 1u);
  EXPECT_EQ(edge[0].index, 0u);
  EXPECT_TRUE(checkIsDropSingle({1.0, 0.5, 1.0}).empty());  // 50 % is on the limit
}

TEST(DriftDiagnostics, MissingIsInManyInjectionsHoldsTheBatch) {
  Series two = {1000.0, std::nullopt, 0.0, 990.0};
  EXPECT_EQ(checkIsMissingMulti(two).outcome, Outcome::kPass);
  Series three = {1000.0, std::nullopt, 0.0, std::nullopt};
  CheckResult c = checkIsMissingMulti(three);
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.code, "IS_MISSING_MULTI");
  EXPECT_EQ(c.measured, "3");
}

TEST(DriftDiagnostics, GlobalRtShiftNeedsOneDirection) {
  EXPECT_EQ(checkRtShiftGlobal({0.03, 0.04, 0.05}).outcome, Outcome::kWarn);
  EXPECT_EQ(checkRtShiftGlobal({-0.03, -0.04}).outcome, Outcome::kWarn);
  EXPECT_EQ(checkRtShiftGlobal({0.03, -0.04}).outcome, Outcome::kPass);
  EXPECT_EQ(checkRtShiftGlobal({0.03, 0.02}).outcome, Outcome::kPass);
  EXPECT_EQ(checkRtShiftGlobal({0.03}).outcome, Outcome::kNotEvaluable);
}

Message driftBatch() {
  Message m;
  m.listedInRunOrder = true;  // the samples below are in injection order
  auto add = [&](SampleKind kind, const std::string& code, double is, double rt, double expRt) {
    Sample s;
    s.kind = kind;
    s.sampleId = "S" + std::to_string(m.samples.size());
    Result r;
    r.instrumentCode = code;
    r.peak = Peak{};
    r.peak->internalStandardArea = is;
    r.peak->internalStandardRt = 3.0;
    r.peak->retentionTime = rt;
    r.peak->area = 100;
    r.peak->expectedRetentionTime = expRt;
    s.results.push_back(r);
    Result other = r;
    other.instrumentCode = "B";
    other.peak->retentionTime = rt * 2;
    other.peak->expectedRetentionTime = expRt * 2;
    s.results.push_back(other);
    m.samples.push_back(s);
  };
  add(SampleKind::kDoubleBlank, "A", 0, 2.1, 2.0);
  for (int i = 0; i < 3; ++i) add(SampleKind::kCalibrator, "A", 1000, 2.1, 2.0);
  add(SampleKind::kUnknown, "A", 1000, 2.1, 2.0);
  add(SampleKind::kUnknown, "A", 200, 2.1, 2.0);  // sample index 5
  add(SampleKind::kUnknown, "A", 1000, 2.1, 2.0);
  return m;
}

TEST(DriftDiagnostics, BatchFromAMessage) {
  Message m = driftBatch();
  InjectionSeries s = injectionSeries(m, "A");
  EXPECT_EQ(s.sampleIndex, (std::vector<size_t>{1, 2, 3, 4, 5, 6}));  // double blank left out
  BatchReferences refs = computeBatchReferences(m);
  BatchDiagnostics d = diagnoseBatch(m, refs);
  ASSERT_EQ(d.samples.size(), 2u);  // analytes A and B share the failing injection
  EXPECT_EQ(d.samples[0].index, 5u);
  EXPECT_EQ(d.samples[0].check.code, "IS_DROP_SINGLE");
  bool globalShift = false;
  for (const auto& [analyteName, c] : d.batch) {
    if (c.code == "RT_SHIFT_GLOBAL") globalShift = c.outcome == Outcome::kWarn;
    if (c.code == "IS_MISSING_MULTI") {
      EXPECT_EQ(c.outcome, Outcome::kPass);
    }
    EXPECT_NE(c.outcome, Outcome::kNotEvaluable);
  }
  EXPECT_TRUE(globalShift);  // both analytes 5 % later than expected

  std::vector<BatchMetric> metrics = trendMetrics(refs);
  ASSERT_EQ(metrics.size(), 4u);  // no qualifier: no ion-ratio metric
  EXPECT_EQ(metrics[0].analyte, "A");
  EXPECT_EQ(metrics[0].metric, "cal_is_area_median");
  EXPECT_DOUBLE_EQ(metrics[0].value, 1000);
  EXPECT_EQ(metrics[1].metric, "cal_rt_mean");
  EXPECT_DOUBLE_EQ(metrics[1].value, 2.1);
}

TEST(DriftDiagnostics, AnIsDropConcernsItsOwnAnalyteAndNamesTheInjection) {
  Message m = driftBatch();
  for (size_t i = 0; i < m.samples.size(); ++i) m.samples[i].injection = int64_t(i) + 20;
  // Only analyte B's IS drops in sample 5; A's stays normal.
  m.samples[5].results[0].peak->internalStandardArea = 1000;
  m.samples[5].results[1].peak->internalStandardArea = 200;
  BatchDiagnostics d = diagnoseBatch(m, computeBatchReferences(m));
  ASSERT_EQ(d.samples.size(), 1u);
  EXPECT_EQ(d.samples[0].index, 5u);
  EXPECT_EQ(d.samples[0].analyte, "B");
  EXPECT_EQ(d.samples[0].check.message.rfind("B: injection 25: IS at 20% of the IS reference", 0),
            0u)
      << d.samples[0].check.message;
  EXPECT_EQ(d.samples[0].check.measured, num(20));
  EXPECT_EQ(d.samples[0].check.limit, num(50));
}

TEST(DriftDiagnostics, WithoutAnInjectionOrderTheOrderDependentChecksDoNotRun) {
  Message m = driftBatch();
  m.listedInRunOrder = false;
  BatchDiagnostics d = diagnoseBatch(m, computeBatchReferences(m));
  EXPECT_TRUE(d.samples.empty()) << "no neighbours without an order";
  for (const auto& [analyteName, c] : d.batch) {
    EXPECT_NE(c.code, "IS_DRIFT");
    EXPECT_NE(c.code, "RT_DRIFT");
  }
  bool missingMulti = std::any_of(d.batch.begin(), d.batch.end(), [](const AnalyteCheck& c) {
    return c.check.code == "IS_MISSING_MULTI" && c.analyte == "A";
  });
  EXPECT_TRUE(missingMulti) << "order-free checks still run, named by analyte";
}

TEST(DriftDiagnostics, AFailedIsDriftHoldsTheInjectionsWhoseIsFell) {
  Message m;
  m.listedInRunOrder = true;
  const double is[] = {1000, 1000, 1000, 900, 700, 500, 300, 200};
  for (size_t i = 0; i < std::size(is); ++i) {
    Sample s;
    s.kind = i < 3 ? SampleKind::kCalibrator : SampleKind::kUnknown;
    s.sampleId = "S" + std::to_string(i);
    s.injection = int64_t(i) + 1;
    Result r;
    r.instrumentCode = "A";
    r.peak = Peak{};
    r.peak->internalStandardArea = is[i];
    r.peak->area = 100;
    s.results.push_back(r);
    m.samples.push_back(s);
  }
  BatchDiagnostics d = diagnoseBatch(m, computeBatchReferences(m));
  bool driftFail = std::any_of(d.batch.begin(), d.batch.end(), [](const AnalyteCheck& c) {
    return c.check.code == "IS_DRIFT" && c.check.outcome == Outcome::kFail && c.analyte == "A";
  });
  EXPECT_TRUE(driftFail);
  std::vector<size_t> held;
  for (const InjectionCheck& i : d.samples) {
    if (i.check.code == "IS_DRIFT") held.push_back(i.index);
  }
  EXPECT_EQ(held, (std::vector<size_t>{6, 7})) << "the injections below 50 % of the reference";
}

}  // namespace
}  // namespace labgate::rules
