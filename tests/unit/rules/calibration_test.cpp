// rules/calibration: curve fitting against published examples (Massart 1997, DIN 32645, read at
// run time from ../shared/reference/calibration when it is there) and against our own data sets
// (tests/data/reference/calibration, expected values computed in exact rationals by
// tests/data/reference/generate.py; always run), weighted fits against closed forms, the
// quadratic back-calculation, and the batch review (§2.2–2.4 of the analytics spec).
#include "rules/calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace labgate::rules {
namespace {

const char* kAnalyte = "TESTO";

/// The (x, y) pairs of a two-column reference CSV with a quoted header line.
const std::string kSharedCalibration = std::string(LABGATE_SHARED_DIR) + "/reference/calibration/";
const std::string kOwnCalibration = std::string(LABGATE_TEST_DATA_DIR) + "/reference/calibration/";

bool loadReference(const std::string& name, std::vector<CalPoint>& points,
                   const std::string& dir = kSharedCalibration) {
  std::ifstream in(dir + name);
  if (!in) return false;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream cells(line);
    std::string x, y;
    if (!std::getline(cells, x, ',') || !std::getline(cells, y, ',')) continue;
    points.push_back({std::stod(x), std::stod(y)});
  }
  return !points.empty();
}

void expectRelative(double actual, double expected, double tolerance, const char* what) {
  EXPECT_LE(std::fabs(actual - expected), tolerance * std::fabs(expected))
      << what << ": " << actual << " expected " << expected;
}

// Massart et al. 1997, example 1: unweighted line. The book gives x0(15) = 6.1, x0(90) = 43.9;
// SOURCES.md quotes R lm()'s digits, reproduced here to 1e-12. The confidence intervals (±4.9,
// ±3.2) need Student t quantiles, which this module does not implement: not checked.
TEST(CalibrationReference, MassartExample1Unweighted) {
  std::vector<CalPoint> pts;
  if (!loadReference("massart97ex1.csv", pts)) GTEST_SKIP() << "massart97ex1.csv not found";
  CalibrationFit fit = fitCalibration(pts, CalibrationModel::kLinear, CalibrationWeight::kNone);
  ASSERT_TRUE(fit.ok) << fit.error;
  expectRelative(fit.intercept, 2.92380952380952, 1e-12, "b0");
  expectRelative(fit.slope, 1.98171428571429, 1e-12, "b1");
  expectRelative(fit.rSquared, 0.994819592290487, 1e-12, "R²");
  expectRelative(*backCalculate(fit, 15).concentration, 6.09381007304883, 1e-12, "x0(15)");
  expectRelative(*backCalculate(fit, 90).concentration, 43.9398308342945, 1e-12, "x0(90)");
  EXPECT_NEAR(*backCalculate(fit, 15).concentration, 6.1, 0.05);  // the book's rounding
  EXPECT_NEAR(*backCalculate(fit, 90).concentration, 43.9, 0.05);
}

// Massart example 3: WLS on the six level means with the book's weights (p. 200).
// Book: x0(15) = 5.9, x0(90) = 44.1; R lm(): the digits below. CIs not checked (t quantiles).
TEST(CalibrationReference, MassartExample3WeightedLevelMeans) {
  std::vector<CalPoint> pts;
  if (!loadReference("massart97ex3.csv", pts)) GTEST_SKIP() << "massart97ex3.csv not found";
  const std::vector<double> levels{0, 10, 20, 30, 40, 50};
  std::vector<CalPoint> means;
  for (double level : levels) {
    double sum = 0;
    int n = 0;
    for (const CalPoint& p : pts) {
      if (p.x == level) {
        sum += p.y;
        ++n;
      }
    }
    ASSERT_EQ(n, 5);
    means.push_back({level, sum / n});
  }
  CalibrationFit fit =
      fitCalibration(means, CalibrationModel::kLinear,
                     std::vector<double>{1.984, 1.417, 1.262, 0.372, 0.199, 0.109});
  ASSERT_TRUE(fit.ok) << fit.error;
  expectRelative(fit.intercept, 3.48268320773344, 1e-12, "b0");
  expectRelative(fit.slope, 1.9636139984539, 1e-12, "b1");
  expectRelative(*backCalculate(fit, 15).concentration, 5.86536702291542, 1e-12, "x0(15)");
  expectRelative(*backCalculate(fit, 90).concentration, 44.0602464946717, 1e-12, "x0(90)");
  EXPECT_NEAR(*backCalculate(fit, 15).concentration, 5.9, 0.05);
  EXPECT_NEAR(*backCalculate(fit, 90).concentration, 44.1, 0.05);
}

// DIN 32645 example: b0, b1 and s(y.x) as R lm() gives them. The published decision limit (0.07),
// detection limit (0.14), LOQ (0.212) and CI half-width (0.07434) need t quantiles: not checked.
TEST(CalibrationReference, Din32645) {
  std::vector<CalPoint> pts;
  if (!loadReference("din32645.csv", pts)) GTEST_SKIP() << "din32645.csv not found";
  CalibrationFit fit = fitCalibration(pts, CalibrationModel::kLinear, CalibrationWeight::kNone);
  ASSERT_TRUE(fit.ok) << fit.error;
  expectRelative(fit.intercept, 2480.86666666667, 1e-12, "b0");
  expectRelative(fit.slope, 9661.93939393939, 1e-12, "b1");
  expectRelative(fit.residualSd, 192.293923539729, 1e-12, "s(y.x)");
}

/// Weighted line by the closed form (weighted means), for comparison with the QR fit.
void closedFormLine(const std::vector<CalPoint>& pts, CalibrationWeight weight, double& b0,
                    double& b1) {
  long double sw = 0, sx = 0, sy = 0;
  for (const CalPoint& p : pts) {
    long double w = *calibrationWeight(weight, p);
    sw += w;
    sx += w * p.x;
    sy += w * p.y;
  }
  long double xbar = sx / sw, ybar = sy / sw, sxy = 0, sxx = 0;
  for (const CalPoint& p : pts) {
    long double w = *calibrationWeight(weight, p);
    sxy += w * (p.x - xbar) * (p.y - ybar);
    sxx += w * (p.x - xbar) * (p.x - xbar);
  }
  b1 = static_cast<double>(sxy / sxx);
  b0 = static_cast<double>(ybar - sxy / sxx * xbar);
}

/// Every weighting agrees with the closed form, and weighting changes which levels back-calculate
/// within 85–115% (80–120% at the lowest): unweighted, the low levels are lost.
void expectWeightingDecidesWhichLevelsPass(const std::vector<CalPoint>& pts) {
  CalibrationConfig cfg;
  std::vector<int> passing;
  for (CalibrationWeight w :
       {CalibrationWeight::kNone, CalibrationWeight::kInverseX, CalibrationWeight::kInverseX2,
        CalibrationWeight::kInverseY, CalibrationWeight::kInverseY2}) {
    CalibrationFit fit = fitCalibration(pts, CalibrationModel::kLinear, w);
    ASSERT_TRUE(fit.ok) << fit.error;
    double b0 = 0, b1 = 0;
    closedFormLine(pts, w, b0, b1);
    expectRelative(fit.slope, b1, 1e-12, toString(w));
    expectRelative(fit.intercept, b0, 1e-10, toString(w));
    ASSERT_TRUE(fitCalibration(pts, CalibrationModel::kQuadratic, w).ok);
    int pass = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
      double acc = 100 * *backCalculate(fit, pts[i].y).concentration / pts[i].x;
      pass += calibratorAccuracyOutcome(acc, i == 0, cfg) == Outcome::kPass;
    }
    passing.push_back(pass);
  }
  EXPECT_LT(passing[0], passing[2]) << "1/x² should keep more levels than no weighting";
}

// DIN 38402-51 b6 (LC-MS/MS carbamazepine, 12 levels): no published fit.
TEST(CalibrationReference, Din38402b6WeightingDecidesWhichLevelsPass) {
  std::vector<CalPoint> pts;
  if (!loadReference("din38402b6.csv", pts)) GTEST_SKIP() << "din38402b6.csv not found";
  expectWeightingDecidesWhichLevelsPass(pts);
}

// ---- Our own data sets (tests/data/reference/calibration): run without ../shared ----------------

/// expected.txt: "key value..." lines written by generate.py.
std::map<std::string, std::string> ownExpected() {
  std::map<std::string, std::string> out;
  std::ifstream in(kOwnCalibration + "expected.txt");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find(' ');
    if (space != std::string::npos) out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

double number(const std::map<std::string, std::string>& values, const std::string& key) {
  auto it = values.find(key);
  if (it == values.end()) {
    ADD_FAILURE() << key << " missing from tests/data/reference/calibration/expected.txt";
    return NAN;
  }
  return std::stod(it->second);
}

TEST(OwnCalibration, UnweightedLine) {
  std::vector<CalPoint> pts;
  ASSERT_TRUE(loadReference("own_line.csv", pts, kOwnCalibration));
  const auto want = ownExpected();
  CalibrationFit fit = fitCalibration(pts, CalibrationModel::kLinear, CalibrationWeight::kNone);
  ASSERT_TRUE(fit.ok) << fit.error;
  expectRelative(fit.intercept, number(want, "line.b0"), 1e-12, "b0");
  expectRelative(fit.slope, number(want, "line.b1"), 1e-12, "b1");
  expectRelative(fit.rSquared, number(want, "line.r2"), 1e-12, "R²");
  expectRelative(fit.residualSd, number(want, "line.syx"), 1e-11, "s(y.x)");
  expectRelative(*backCalculate(fit, 50).concentration, number(want, "line.x0_50"), 1e-12,
                 "x0(50)");
  expectRelative(*backCalculate(fit, 150).concentration, number(want, "line.x0_150"), 1e-12,
                 "x0(150)");
}

TEST(OwnCalibration, ExplicitAndInverseXSquaredWeights) {
  std::vector<CalPoint> pts;
  ASSERT_TRUE(loadReference("own_weighted.csv", pts, kOwnCalibration));
  const auto want = ownExpected();
  std::vector<double> weights;
  std::istringstream listed(want.count("weighted.weights") ? want.at("weighted.weights") : "");
  for (double w = 0; listed >> w;) weights.push_back(w);
  ASSERT_EQ(weights.size(), pts.size());
  CalibrationFit fit = fitCalibration(pts, CalibrationModel::kLinear, weights);
  ASSERT_TRUE(fit.ok) << fit.error;
  expectRelative(fit.intercept, number(want, "weighted.b0"), 1e-11, "b0");
  expectRelative(fit.slope, number(want, "weighted.b1"), 1e-12, "b1");
  expectRelative(*backCalculate(fit, 1).concentration, number(want, "weighted.x0_1"), 1e-12,
                 "x0(1)");
  expectRelative(*backCalculate(fit, 15).concentration, number(want, "weighted.x0_15"), 1e-12,
                 "x0(15)");
  CalibrationFit x2 = fitCalibration(pts, CalibrationModel::kLinear, CalibrationWeight::kInverseX2);
  ASSERT_TRUE(x2.ok) << x2.error;
  expectRelative(x2.intercept, number(want, "weighted_x2.b0"), 1e-11, "b0 (1/x²)");
  expectRelative(x2.slope, number(want, "weighted_x2.b1"), 1e-12, "b1 (1/x²)");
}

TEST(OwnCalibration, WeightingDecidesWhichLevelsPass) {
  std::vector<CalPoint> pts;
  ASSERT_TRUE(loadReference("own_heteroscedastic.csv", pts, kOwnCalibration));
  ASSERT_EQ(pts.size(), 12u);
  expectWeightingDecidesWhichLevelsPass(pts);
}

TEST(CalibrationFitting, ThroughOriginAndItsUncentredRSquared) {
  std::vector<CalPoint> pts{{1, 2.1}, {2, 3.9}, {4, 8.2}};
  CalibrationFit fit =
      fitCalibration(pts, CalibrationModel::kLinearThroughOrigin, CalibrationWeight::kInverseX);
  ASSERT_TRUE(fit.ok);
  // b1 = Σw·x·y/Σw·x² with w = 1/x: Σy/Σx.
  double b1 = (2.1 + 3.9 + 8.2) / 7.0;
  EXPECT_NEAR(fit.slope, b1, 1e-15);
  ASSERT_EQ(fit.coefficients.size(), 1u);
  EXPECT_EQ(fit.intercept, 0.0);
  double rss = 0, tss = 0;
  for (const CalPoint& p : pts) {
    rss += (p.y - b1 * p.x) * (p.y - b1 * p.x) / p.x;
    tss += p.y * p.y / p.x;
  }
  EXPECT_NEAR(fit.rSquared, 1 - rss / tss, 1e-14);
}

TEST(CalibrationFitting, WeightedRSquaredIsCentredOnTheWeightedMean) {
  std::vector<CalPoint> pts{{1, 1.1}, {2, 1.9}, {5, 5.3}, {10, 9.6}};
  CalibrationFit fit =
      fitCalibration(pts, CalibrationModel::kLinear, CalibrationWeight::kInverseY2);
  ASSERT_TRUE(fit.ok);
  double sw = 0, swy = 0;
  for (const CalPoint& p : pts) {
    sw += 1 / (p.y * p.y);
    swy += p.y / (p.y * p.y);
  }
  double ybar = swy / sw, rss = 0, tss = 0;
  for (const CalPoint& p : pts) {
    double w = 1 / (p.y * p.y), e = p.y - fit.responseAt(p.x);
    rss += w * e * e;
    tss += w * (p.y - ybar) * (p.y - ybar);
  }
  EXPECT_NEAR(fit.rSquared, 1 - rss / tss, 1e-14);
}

TEST(CalibrationFitting, FailuresSayWhy) {
  EXPECT_FALSE(
      fitCalibration({{1, 1}, {2, 2}}, CalibrationModel::kQuadratic, CalibrationWeight::kNone).ok);
  CalibrationFit zero = fitCalibration({{0, 1}, {1, 2}, {2, 3}}, CalibrationModel::kLinear,
                                       CalibrationWeight::kInverseX);
  EXPECT_FALSE(zero.ok);
  EXPECT_NE(zero.error.find("1/x"), std::string::npos);
  EXPECT_FALSE(
      fitCalibration({{2, 1}, {2, 2}, {2, 3}}, CalibrationModel::kLinear, CalibrationWeight::kNone)
          .ok);
  EXPECT_FALSE(backCalculate(CalibrationFit{}, 1.0).concentration);
}

TEST(CalibrationBackCalculation, QuadraticTakesTheCalibratorBranch) {
  // Saturating curve y = 0.5 + 2x − 0.05x² over x = 1..10 (b1 > 0, b2 < 0: the "+" root).
  std::vector<CalPoint> pts;
  for (double x = 1; x <= 10; ++x) pts.push_back({x, 0.5 + 2 * x - 0.05 * x * x});
  CalibrationFit fit = fitCalibration(pts, CalibrationModel::kQuadratic, CalibrationWeight::kNone);
  ASSERT_TRUE(fit.ok);
  EXPECT_NEAR(fit.curvature, -0.05, 1e-12);
  EXPECT_NEAR(*backCalculate(fit, 0.5 + 2 * 7 - 0.05 * 49).concentration, 7.0, 1e-10);
  // Upward curve y = 5 − 2x + x² over x = 3..10 (vertex at 1, b1 < 0): the larger root.
  pts.clear();
  for (double x = 3; x <= 10; ++x) pts.push_back({x, 5 - 2 * x + x * x});
  fit = fitCalibration(pts, CalibrationModel::kQuadratic, CalibrationWeight::kInverseX);
  ASSERT_TRUE(fit.ok);
  EXPECT_NEAR(*backCalculate(fit, 5 - 2 * 4 + 16).concentration, 4.0, 1e-9);
  // Below the parabola's minimum (4): discriminant < 0, no concentration.
  BackCalculation none = backCalculate(fit, 3.0);
  EXPECT_FALSE(none.concentration);
  EXPECT_NE(none.problem.find("discriminant"), std::string::npos);
}

TEST(CalibrationBackCalculation, NegligibleCurvatureFallsBackToTheLine) {
  CalibrationFit fit;
  fit.ok = true;
  fit.model = CalibrationModel::kQuadratic;
  fit.intercept = 1.0;
  fit.slope = 2.0;
  fit.xMin = 1;
  fit.xMax = 100;
  fit.curvature = 1e-16;  // < 1e-12·|b1|/x_max = 2e-14
  EXPECT_DOUBLE_EQ(*backCalculate(fit, 201.0).concentration, 100.0);
  fit.curvature = -1e-3;
  double x = *backCalculate(fit, 1.0 + 2.0 * 50 - 1e-3 * 2500).concentration;
  EXPECT_NEAR(x, 50.0, 1e-9);
}

TEST(CalibrationAcceptance, LimitsAreInclusive) {
  CalibrationConfig cfg;
  EXPECT_EQ(calibratorAccuracyOutcome(115.0, false, cfg), Outcome::kPass);
  EXPECT_EQ(calibratorAccuracyOutcome(115.0001, false, cfg), Outcome::kFail);
  EXPECT_EQ(calibratorAccuracyOutcome(85.0, false, cfg), Outcome::kPass);
  EXPECT_EQ(calibratorAccuracyOutcome(84.9999, false, cfg), Outcome::kFail);
  EXPECT_EQ(calibratorAccuracyOutcome(120.0, true, cfg), Outcome::kPass);
  EXPECT_EQ(calibratorAccuracyOutcome(120.0001, true, cfg), Outcome::kFail);
  EXPECT_EQ(calibratorAccuracyOutcome(80.0, true, cfg), Outcome::kPass);
  EXPECT_EQ(calibratorAccuracyOutcome(79.9999, true, cfg), Outcome::kFail);
  EXPECT_EQ(calibratorAccuracyOutcome(118.0, false, cfg), Outcome::kFail);
  EXPECT_EQ(calibratorAccuracyOutcome(NAN, false, cfg), Outcome::kNotEvaluable);
}

// ---- batch review -------------------------------------------------------------------------------

Result analyteResult(std::optional<double> ratio, std::optional<double> area,
                     std::optional<double> isArea) {
  Result r;
  r.instrumentCode = kAnalyte;
  Peak p;
  p.responseRatio = ratio;
  p.area = area;
  p.internalStandardArea = isArea;
  r.peak = p;
  return r;
}

/// A calibrator whose response ratio is `ratio` (area = 1000·ratio, IS area 1000).
Sample calibrator(double nominal, std::optional<double> ratio) {
  Sample s;
  s.kind = SampleKind::kCalibrator;
  s.sampleId = "CAL-" + std::to_string(nominal);
  s.nominalConcentration = nominal;
  std::optional<double> area;
  if (ratio) area = 1000 * *ratio;
  s.results.push_back(analyteResult(ratio, area, 1000.0));
  return s;
}

Sample blank(SampleKind kind, std::optional<double> area, std::optional<double> isArea) {
  Sample s;
  s.kind = kind;
  s.sampleId = kind == SampleKind::kDoubleBlank ? "DBLK" : "BLK";
  s.results.push_back(analyteResult(std::nullopt, area, isArea));
  return s;
}

Sample patient(const std::string& id, double ratio, std::optional<double> vendor = {}) {
  Sample s;
  s.sampleId = id;
  s.results.push_back(analyteResult(ratio, 1000 * ratio, 1000.0));
  s.results.back().peak->calculatedConcentration = vendor;
  return s;
}

/// Calibrators at 1..8 on y = x; `ratios` overrides the ratio (response / nominal) per level.
/// Listed in injection order.
Message batchOf(const std::vector<double>& ratios) {
  Message m;
  m.listedInRunOrder = true;
  for (size_t i = 0; i < ratios.size(); ++i) {
    double x = static_cast<double>(i + 1);
    m.samples.push_back(calibrator(x, ratios[i] * x));
  }
  return m;
}

/// Through the origin with 1/x², the slope is the mean of y/x: the numbers stay easy to follow.
CalibrationConfig originConfig() {
  CalibrationConfig cfg;
  cfg.model = CalibrationModel::kLinearThroughOrigin;
  cfg.weight = CalibrationWeight::kInverseX2;
  return cfg;
}

const CheckResult& curveOf(const CalibrationReview& rv) {
  static const CheckResult none;
  return rv.curveCheck() ? *rv.curveCheck() : none;
}

size_t countChecks(const CalibrationReview& rv, const std::string& ruleId, Outcome outcome) {
  size_t n = 0;
  for (const CheckResult& c : rv.checks) n += c.ruleId == ruleId && c.outcome == outcome;
  return n;
}

TEST(CalibrationReview, AllCalibratorsPassAndTheRangeIsTheirs) {
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  m.samples.push_back(patient("P1", 4.5));
  CalibrationReview rv = reviewCalibration(m, kAnalyte);  // defaults: linear, 1/x²
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kPass);
  EXPECT_EQ(curveOf(rv).onFail, DispositionKind::kReject);
  EXPECT_TRUE(rv.curveAccepted);
  EXPECT_EQ(rv.lloq, 1.0);
  EXPECT_EQ(rv.uloq, 8.0);
  EXPECT_EQ(countChecks(rv, "calibration.r_squared", Outcome::kPass), 1u);
  ASSERT_EQ(rv.samples.size(), 9u);
  EXPECT_NEAR(*rv.samples.back().backCalculated.concentration, 4.5, 1e-12);
  EXPECT_EQ(rv.samples.back().range, RangePosition::kInRange);
}

TEST(CalibrationReview, SeventyFivePercentRuleAtItsBoundary) {
  // Levels 2 and 5 at 150% fail; 6/8 = 75% pass at 6 levels → the curve passes.
  CalibrationReview rv =
      reviewCalibration(batchOf({1, 1.5, 1, 1, 1.5, 1, 1, 1}), kAnalyte, originConfig());
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kPass) << curveOf(rv).message;
  EXPECT_EQ(countChecks(rv, "calibration.accuracy", Outcome::kWarn), 2u);
  // A third failing level: 5/8 → FAIL, which asks for a re-run of the analyte's patients.
  rv = reviewCalibration(batchOf({1, 1.5, 1, 1, 1.5, 1, 1.5, 1}), kAnalyte, originConfig());
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kFail);
  EXPECT_FALSE(rv.lloq);
  auto finding = toFinding(curveOf(rv));
  ASSERT_TRUE(finding);
  EXPECT_EQ(finding->action, DispositionKind::kReject);
}

TEST(CalibrationReview, SixLevelRuleWithReplicates) {
  // Six levels in duplicate. One replicate failing at two levels: 10/12 pass, 6 levels → PASS.
  auto duplicates = [](int failLevelA, int failLevelB, bool both) {
    Message m;
    for (int x = 1; x <= 6; ++x) {
      bool fails = x == failLevelA || x == failLevelB;
      m.samples.push_back(calibrator(x, (fails ? 1.5 : 1.0) * x));
      m.samples.push_back(calibrator(x, (fails && both ? 1.5 : 1.0) * x));
    }
    return m;
  };
  CalibrationReview rv = reviewCalibration(duplicates(2, 4, false), kAnalyte, originConfig());
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kPass) << curveOf(rv).message;
  // Both replicates of level 3 failing: 10/12 pass but only 5 levels → FAIL.
  rv = reviewCalibration(duplicates(3, 3, true), kAnalyte, originConfig());
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kFail) << curveOf(rv).message;
}

TEST(CalibrationReview, LloqWindowAndRangeTruncation) {
  // 118% passes at the LLOQ level (80–120) but not elsewhere (85–115).
  CalibrationConfig cfg = originConfig();
  cfg.model = CalibrationModel::kLinear;
  cfg.weight = CalibrationWeight::kNone;
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  m.samples[0] = calibrator(1, 1.18);  // tiny influence on an unweighted line over 1..8
  CalibrationReview rv = reviewCalibration(m, kAnalyte, cfg);
  ASSERT_TRUE(rv.calibrators[0].lloqLevel);
  EXPECT_EQ(rv.calibrators[0].outcome, Outcome::kPass) << *rv.calibrators[0].accuracyPct;
  EXPECT_EQ(rv.lloq, 1.0);
  // The nominal LLOQ and ULOQ calibrators failing: the range shrinks to the next accepted levels.
  rv = reviewCalibration(batchOf({1.5, 1, 1, 1, 1, 1, 1, 0.5}), kAnalyte, originConfig());
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kPass) << curveOf(rv).message;
  EXPECT_EQ(rv.lloq, 2.0);
  EXPECT_EQ(rv.uloq, 7.0);
}

TEST(CalibrationReview, AutoExcludeRefitsOnceWithoutCascade) {
  // Level 8 at 50%: slope = mean ratio = 0.9375, others at 106.7% pass, level 8 fails.
  CalibrationConfig cfg = originConfig();
  CalibrationReview rv = reviewCalibration(batchOf({1, 1, 1, 1, 1, 1, 1, 0.5}), kAnalyte, cfg);
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kPass);
  EXPECT_NEAR(rv.fit.slope, 0.9375, 1e-14);
  EXPECT_FALSE(rv.calibrators[7].excluded);
  cfg.autoExclude = true;
  rv = reviewCalibration(batchOf({1, 1, 1, 1, 1, 1, 1, 0.5}), kAnalyte, cfg);
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kPass);
  EXPECT_TRUE(rv.calibrators[7].excluded);
  EXPECT_NEAR(rv.fit.slope, 1.0, 1e-14);
  EXPECT_EQ(rv.uloq, 7.0);
  // Level 7 at 82%: 89.6% with level 8 in the fit, 84.2% once level 8 is excluded → FAIL.
  rv = reviewCalibration(batchOf({1, 1, 1, 1, 1, 1, 0.82, 0.5}), kAnalyte, cfg);
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kFail);
  EXPECT_NE(curveOf(rv).message.find("refit"), std::string::npos);
}

TEST(CalibrationReview, MissingValuesAreNeverAPass) {
  EXPECT_EQ(curveOf(reviewCalibration(Message{}, kAnalyte)).outcome, Outcome::kNotEvaluable);
  // Two calibrators without a response: 6/8 at best, could pass → NOT_EVALUABLE, not PASS.
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1.5});
  m.samples[1] = calibrator(2, std::nullopt);
  m.samples[2] = calibrator(3, std::nullopt);
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kNotEvaluable) << curveOf(rv).message;
  EXPECT_EQ(countChecks(rv, "calibration.accuracy", Outcome::kNotEvaluable), 2u);
  // All responses missing: no curve, no R², no back-calculation.
  Message empty = batchOf({1, 1, 1, 1, 1, 1});
  for (Sample& s : empty.samples) s = calibrator(*s.nominalConcentration, std::nullopt);
  rv = reviewCalibration(empty, kAnalyte);
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(countChecks(rv, "calibration.r_squared", Outcome::kNotEvaluable), 1u);
}

TEST(CalibrationReview, ResponseIsTheRatioElseAreaOverIsElseArea) {
  Result r = analyteResult(0.5, 300.0, 1000.0);
  EXPECT_EQ(calibrationResponse(r), 0.5);
  r.peak->responseRatio.reset();
  EXPECT_EQ(calibrationResponse(r), 0.3);
  r.peak->internalStandardArea.reset();
  EXPECT_EQ(calibrationResponse(r), 300.0);
  r.peak->area.reset();
  EXPECT_FALSE(calibrationResponse(r));
}

TEST(CalibrationReview, BlanksAgainstTheLloqAreaAndIsRef) {
  // LLOQ calibrator area = 1000, IS_ref = 1000.
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  m.samples.insert(m.samples.begin(), blank(SampleKind::kBlank, 200.0, 1000.0));     // exactly 20%
  m.samples.insert(m.samples.begin(), blank(SampleKind::kDoubleBlank, 10.0, 50.0));  // 1%, 5%
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(countChecks(rv, "calibration.blank", Outcome::kPass), 2u);
  m.samples[1] = blank(SampleKind::kBlank, 200.1, 1000.0);
  m.samples[0] = blank(SampleKind::kDoubleBlank, 10.0, 50.1);
  rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(countChecks(rv, "calibration.blank", Outcome::kFail), 2u);
  // No peak integrated in the blank ("NF"): nothing interferes, the blank passes.
  m.samples[1] = blank(SampleKind::kBlank, std::nullopt, 1000.0);
  rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(countChecks(rv, "calibration.blank", Outcome::kNotEvaluable), 0u);
  EXPECT_EQ(countChecks(rv, "calibration.blank", Outcome::kFail), 1u) << "the double blank's IS";
}

TEST(CalibrationReview, CarryoverBlankAfterTheUloq) {
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});  // ULOQ area 8000, LLOQ area 1000
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(countChecks(rv, "calibration.carryover", Outcome::kNotEvaluable), 1u);
  m.samples.push_back(blank(SampleKind::kBlank, 150.0, 1000.0));
  rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(countChecks(rv, "calibration.carryover", Outcome::kPass), 1u);
  ASSERT_TRUE(rv.carryoverFraction);
  EXPECT_DOUBLE_EQ(*rv.carryoverFraction, 150.0 / 8000.0);
  m.samples.back() = blank(SampleKind::kBlank, 250.0, 1000.0);
  rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(countChecks(rv, "calibration.carryover", Outcome::kFail), 1u);
  // A double blank there also needs its IS ≤ 5% of IS_ref.
  m.samples.back() = blank(SampleKind::kDoubleBlank, 10.0, 60.0);
  rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(countChecks(rv, "calibration.carryover", Outcome::kFail), 1u);
}

TEST(CalibrationReview, VendorMismatchAboveOnePercent) {
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  m.samples.push_back(patient("P1", 4.0, 4.04));  // 0.99% of the vendor value: passes
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(countChecks(rv, "calibration.vendor_mismatch", Outcome::kPass), 1u);
  m.samples.push_back(patient("P2", 4.0, 4.1));
  rv = reviewCalibration(m, kAnalyte, originConfig());
  ASSERT_EQ(countChecks(rv, "calibration.vendor_mismatch", Outcome::kFail), 1u);
  for (const CheckResult& c : rv.checks) {
    if (c.ruleId != "calibration.vendor_mismatch") continue;
    EXPECT_EQ(c.code, "VENDOR_CALC_MISMATCH");
    EXPECT_EQ(c.onFail, DispositionKind::kHold);
    EXPECT_NE(c.message.find("P2"), std::string::npos);
  }
}

TEST(CalibrationReview, ReportableRange) {
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  m.samples.push_back(patient("HIGH", 9.0));
  m.samples.push_back(patient("LOW", 0.5));
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(rv.samples[8].range, RangePosition::kAboveUloq);
  EXPECT_EQ(rv.samples[9].range, RangePosition::kBelowLloq);
  CheckResult high = checkReportableRange(rv, rv.samples[8].backCalculated.concentration);
  EXPECT_EQ(high.outcome, Outcome::kFail);
  EXPECT_EQ(high.code, "DILUTE_AND_RERUN");
  CheckResult low = checkReportableRange(rv, rv.samples[9].backCalculated.concentration);
  EXPECT_EQ(low.outcome, Outcome::kPass);
  EXPECT_EQ(low.measured, "< LLOQ");
  EXPECT_EQ(checkReportableRange(rv, 8.0).outcome, Outcome::kPass);
  EXPECT_EQ(checkReportableRange(rv, std::nullopt).outcome, Outcome::kNotEvaluable);
}

TEST(CalibrationHistory, SlopeShift) {
  std::vector<double> history{1.00, 1.02, 0.98, 1.01, 0.99};
  EXPECT_EQ(checkSlopeShift(1.0, history).outcome, Outcome::kPass);
  EXPECT_EQ(checkSlopeShift(1.10, history).outcome, Outcome::kWarn);  // beyond mean ± 3 SD
  // A noisy history: 3 SD is wide, but 35% from the median is a shift.
  std::vector<double> noisy{1.0, 0.6, 1.4, 0.7, 1.3, 1.0};
  EXPECT_EQ(checkSlopeShift(1.29, noisy).outcome, Outcome::kPass);
  EXPECT_EQ(checkSlopeShift(1.35, noisy).outcome, Outcome::kWarn);
  EXPECT_EQ(checkSlopeShift(1.0, {1.0}).outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(checkSlopeShift(NAN, history).outcome, Outcome::kNotEvaluable);
  CalibrationFit quad;
  quad.ok = true;
  quad.slope = 2;
  quad.curvature = -0.1;
  quad.xMin = 0;
  quad.xMax = 10;
  EXPECT_DOUBLE_EQ(trackedSlope(quad), 1.0);  // 2 + 2·(−0.1)·5
}

TEST(CalibrationHistory, TopCalibratorBiasedLow) {
  EXPECT_EQ(checkTopCalibratorBias({95, 89, 88, 89.9}).outcome, Outcome::kWarn);
  EXPECT_EQ(checkTopCalibratorBias({89, 88, 90}).outcome, Outcome::kPass);
  EXPECT_EQ(checkTopCalibratorBias({89, 88}).outcome, Outcome::kPass);
}

TEST(CalibrationNames, ParseAndPrint) {
  EXPECT_EQ(parseCalibrationModel("linear-origin"), CalibrationModel::kLinearThroughOrigin);
  EXPECT_EQ(parseCalibrationModel("linear_through_origin"), CalibrationModel::kLinearThroughOrigin);
  EXPECT_FALSE(parseCalibrationModel("cubic"));
  EXPECT_EQ(parseCalibrationWeight("1/x2"), CalibrationWeight::kInverseX2);
  EXPECT_EQ(parseCalibrationWeight("1/y^2"), CalibrationWeight::kInverseY2);
  EXPECT_FALSE(parseCalibrationWeight("1/z"));
  EXPECT_STREQ(toString(CalibrationWeight::kInverseY), "1/y");
}

}  // namespace
}  // namespace labgate::rules
