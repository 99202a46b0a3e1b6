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

// ---- issue 20: the lab's curve
// -------------------------------------------------------------------

const CheckResult* checkOf(const CalibrationReview& rv, const std::string& ruleId) {
  for (const CheckResult& c : rv.checks) {
    if (c.ruleId == ruleId) return &c;
  }
  return nullptr;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Six levels on a curve that bends: y = x·(1 − 0.004·x), an exact quadratic.
Message bentBatch() {
  Message m;
  m.listedInRunOrder = true;
  for (double x : {1.0, 2.0, 5.0, 10.0, 50.0, 100.0})
    m.samples.push_back(calibrator(x, x * (1 - 0.004 * x)));
  return m;
}

TEST(CalibrationVendorCurve, ReadsTheVendorsWords) {
  VendorCurve q = readVendorCurve({"X", " Quadratic ", "1/x^2", "Exclude"});
  EXPECT_EQ(q.model, CalibrationModel::kQuadratic);
  EXPECT_EQ(q.weight, CalibrationWeight::kInverseX2);
  EXPECT_TRUE(q.problem.empty()) << q.problem;
  VendorCurve l = readVendorCurve({"X", "LINEAR", "1/X", ""});
  EXPECT_EQ(l.model, CalibrationModel::kLinear);
  EXPECT_EQ(l.weight, CalibrationWeight::kInverseX);
  VendorCurve n = readVendorCurve({"X", "Linear", "None", "Force"});
  EXPECT_EQ(n.model, CalibrationModel::kLinearThroughOrigin);
  EXPECT_EQ(n.weight, CalibrationWeight::kNone);
  VendorCurve partial = readVendorCurve({"X", "", "1/x2", ""});
  EXPECT_FALSE(partial.model);
  EXPECT_EQ(partial.weight, CalibrationWeight::kInverseX2);
  EXPECT_TRUE(contains(readVendorCurve({"X", "Cubic spline", "", ""}).problem, "Cubic spline"));
  EXPECT_TRUE(contains(readVendorCurve({"X", "Linear", "1/z", ""}).problem, "1/z"));
  EXPECT_TRUE(contains(readVendorCurve({"X", "Linear", "", "Include"}).problem, "origin"));
  EXPECT_TRUE(contains(readVendorCurve({"X", "Quadratic", "", "Force"}).problem, "origin"));
}

TEST(CalibrationModelChoice, TheJudgedModelDecidesAndTheFindingSaysWhichAndWhence) {
  // Linear 1/x² cannot follow the bend: the top calibrator back-calculates far from 100 %.
  CalibrationConfig linear;
  CalibrationReview rv = reviewCalibration(bentBatch(), kAnalyte, linear);
  EXPECT_NE(rv.calibrators.back().outcome, Outcome::kPass) << *rv.calibrators.back().accuracyPct;
  EXPECT_TRUE(contains(curveOf(rv).message, "linear, 1/x², from the rule set's default"))
      << curveOf(rv).message;
  // The lab's quadratic 1/x² reproduces every level exactly.
  CalibrationConfig quadratic;
  quadratic.model = CalibrationModel::kQuadratic;
  quadratic.modelSource = "the export";
  rv = reviewCalibration(bentBatch(), kAnalyte, quadratic);
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kPass) << curveOf(rv).message;
  EXPECT_NEAR(*rv.calibrators.back().accuracyPct, 100.0, 1e-9);
  EXPECT_TRUE(contains(curveOf(rv).message, "quadratic, 1/x², from the export"))
      << curveOf(rv).message;
}

TEST(CalibrationModelChoice, CurveFailureSaysWhichCriterionFailedWithNumbers) {
  // Six levels in duplicate, both replicates of level 3 at 150 %: 10/12 pass (83.3 %), 5 levels.
  Message m;
  m.listedInRunOrder = true;
  for (int x = 1; x <= 6; ++x) {
    for (int rep = 0; rep < 2; ++rep) m.samples.push_back(calibrator(x, (x == 3 ? 1.5 : 1.0) * x));
  }
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  ASSERT_EQ(curveOf(rv).outcome, Outcome::kFail);
  EXPECT_TRUE(contains(curveOf(rv).message,
                       "5 concentration levels have a passing calibrator, at least 6 are needed"))
      << curveOf(rv).message;
  EXPECT_FALSE(contains(curveOf(rv).message, "are needed;")) << "the share passes: not named";
  EXPECT_EQ(curveOf(rv).measured,
            "10/12 calibrators (" + num(100.0 * 10 / 12) + "%) and 5 levels pass");
  EXPECT_EQ(curveOf(rv).limit, ">= " + num(75.0) + "% of calibrators, >= 6 levels");
  // Too few calibrators pass: the share is named with its limit.
  rv = reviewCalibration(batchOf({1, 1.5, 1, 1, 1.5, 1, 1.5, 1}), kAnalyte, originConfig());
  EXPECT_TRUE(contains(curveOf(rv).message,
                       "1 of 8 calibrators pass (" + num(12.5) + "%), at least " + num(75.0) +
                           "% are needed; 1 concentration levels have a passing calibrator"))
      << curveOf(rv).message;
}

TEST(CalibrationExclusions, TheAnalystsExclusionsAreLeftOutAndCountAsNotAccepted) {
  // Level 8 wildly off but excluded by the analyst: the fit ignores it (slope = mean y/x of the
  // others = 1), and 7/8 still pass.
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 3});
  m.samples[7].results[0].peak->excludedFromCurve = true;
  m.samples[7].injection = 17;
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_NEAR(rv.fit.slope, 1.0, 1e-14);
  EXPECT_TRUE(rv.calibrators[7].excluded);
  EXPECT_EQ(rv.calibrators[7].outcome, Outcome::kFail);
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kPass) << curveOf(rv).message;
  EXPECT_EQ(rv.uloq, 7.0) << "an excluded level is not in the range";
  EXPECT_TRUE(contains(curveOf(rv).message, "1 of 8 calibrators (injection 17)"))
      << curveOf(rv).message;
  EXPECT_EQ(countChecks(rv, "calibration.accuracy", Outcome::kWarn), 0u)
      << "exclusions are listed in the curve finding, not one by one";
  // 17 of 24 excluded (TargetLynx "X"): the 7 left pass, but 7/24 is far below 75 %: FAIL.
  Message many;
  many.listedInRunOrder = true;
  for (int rep = 0; rep < 3; ++rep) {
    for (int x = 1; x <= 8; ++x) many.samples.push_back(calibrator(x, x));
  }
  for (size_t i = 0; i < 17; ++i) many.samples[i].results[0].peak->excludedFromCurve = true;
  rv = reviewCalibration(many, kAnalyte, originConfig());
  ASSERT_EQ(curveOf(rv).outcome, Outcome::kFail);
  EXPECT_EQ(curveOf(rv).onFail, DispositionKind::kReject);
  EXPECT_TRUE(contains(curveOf(rv).message, "7 of 24 calibrators pass")) << curveOf(rv).message;
  EXPECT_TRUE(contains(curveOf(rv).message, "17 of 24 calibrators")) << curveOf(rv).message;
  EXPECT_TRUE(contains(curveOf(rv).message, "and 9 more")) << curveOf(rv).message;
}

TEST(CalibrationVendorMismatch, ComparesWithFinalConcWhenThereIsNoCalcConc) {
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  Sample p = patient("P1", 4.0);
  p.dilution = 2;
  p.results[0].peak->finalConcentration = 8.0;  // 4.0 × dilution 2: agrees
  m.samples.push_back(p);
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(countChecks(rv, "calibration.vendor_mismatch", Outcome::kPass), 1u);
  m.samples.back().results[0].peak->finalConcentration = 8.4;  // 4.2 after dilution: 5 %
  m.samples.back().injection = 31;
  rv = reviewCalibration(m, kAnalyte, originConfig());
  const CheckResult* c = checkOf(rv, "calibration.vendor_mismatch");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, Outcome::kFail);
  EXPECT_TRUE(contains(c->message, "Final Conc.")) << c->message;
  EXPECT_TRUE(contains(c->message, "injection 31")) << c->message;
  EXPECT_EQ(c->measured, num(100 * 0.2 / 4.2) + "%");
  // Without a dilution, Final Conc. is compared as it is.
  m.samples.back().dilution.reset();
  m.samples.back().results[0].peak->finalConcentration = 4.0;
  rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(countChecks(rv, "calibration.vendor_mismatch", Outcome::kPass), 1u);
}

TEST(CalibrationShape, NonLinearityIsFlaggedForALinearCurveOnly) {
  CalibrationReview rv = reviewCalibration(bentBatch(), kAnalyte);
  const CheckResult* c = checkOf(rv, "calibration.nonlinearity");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, Outcome::kWarn);
  EXPECT_EQ(c->code, "CAL_NONLINEAR");
  EXPECT_TRUE(contains(c->message, "back-calculates to " + num(100.0) + "%")) << c->message;
  EXPECT_FALSE(toFinding(*c)->action == DispositionKind::kHold) << "a flag, not a hold";
  CalibrationConfig quadratic;
  quadratic.model = CalibrationModel::kQuadratic;
  EXPECT_FALSE(
      checkOf(reviewCalibration(bentBatch(), kAnalyte, quadratic), "calibration.nonlinearity"));
  EXPECT_FALSE(checkOf(reviewCalibration(batchOf({1, 1, 1, 1, 1, 1, 1, 1}), kAnalyte),
                       "calibration.nonlinearity"));
}

TEST(CalibrationShape, InternalStandardSuppressedAtTheTopOfTheCurve) {
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});             // IS area 1000 everywhere
  m.samples[7].results[0].peak->internalStandardArea = 600;  // 60 % at the top: below 70 %
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  const CheckResult* c = checkOf(rv, "calibration.top_is");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->code, "CAL_TOP_IS_SUPPRESSED");
  EXPECT_EQ(c->measured, num(60.0) + "%");
  EXPECT_EQ(c->limit, ">= " + num(70.0) + "%");
  m.samples[7].results[0].peak->internalStandardArea = 800;
  EXPECT_FALSE(checkOf(reviewCalibration(m, kAnalyte, originConfig()), "calibration.top_is"));
  // Without an IS area the export's response ratio gives it: area ÷ ratio.
  m.samples[7].results[0].peak->internalStandardArea.reset();
  m.samples[7].results[0].peak->area = 8 * 500.0;  // ratio 8 → IS area 500
  EXPECT_TRUE(checkOf(reviewCalibration(m, kAnalyte, originConfig()), "calibration.top_is"));
}

TEST(CalibrationExport, ConcentrationsThatAreAreasAskForAReExportNotARerun) {
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  for (Sample& s : m.samples) {
    s.results[0].peak->calculatedConcentration = 1000 * *s.nominalConcentration;
  }
  m.samples.push_back(patient("P1", 4.0, 4000.0));
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  const CheckResult* c = checkOf(rv, "calibration.export");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->code, "EXPORT_IMPLAUSIBLE");
  EXPECT_EQ(c->outcome, Outcome::kNotEvaluable);
  EXPECT_TRUE(contains(c->message, "re-export")) << c->message;
  EXPECT_TRUE(contains(c->message, num(1000) + "×")) << c->message;
  // Even a curve that fits is not trusted: the values the LIS would get are in that column.
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(curveOf(rv).onFail, DispositionKind::kHold);
  EXPECT_TRUE(contains(curveOf(rv).message, "re-export")) << curveOf(rv).message;
  EXPECT_FALSE(rv.curveAccepted);
  EXPECT_FALSE(rv.uloq);
  EXPECT_FALSE(checkOf(rv, "calibration.vendor_mismatch")) << "nothing to compare with";
}

TEST(CalibrationExport, ACutOffExportIsFound) {
  auto sampleWith = [](const std::string& id, std::vector<std::string> codes) {
    Sample s;
    s.sampleId = id;
    for (const std::string& c : codes) {
      Result r;
      r.instrumentCode = c;
      s.results.push_back(r);
    }
    return s;
  };
  Message m;
  for (int i = 0; i < 4; ++i)
    m.samples.push_back(sampleWith("S" + std::to_string(i), {"A", "B", "C"}));
  EXPECT_EQ(checkExportComplete(m).outcome, Outcome::kPass);
  m.samples.push_back(sampleWith("LAST", {"A"}));  // cut in the middle of its rows
  m.samples.back().injection = 40;
  CheckResult c = checkExportComplete(m);
  EXPECT_EQ(c.outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(c.code, "EXPORT_INCOMPLETE");
  EXPECT_TRUE(contains(c.message, "injection 40 carries 1 of the 3 analytes")) << c.message;
  // Cut in the middle of the last compound block: C is in 2 of the 5 injections.
  m.samples.back() = sampleWith("LAST", {"A", "B"});
  for (size_t i = 2; i < m.samples.size(); ++i)
    m.samples[i].results.erase(m.samples[i].results.begin() + 2, m.samples[i].results.end());
  m.samples.push_back(sampleWith("MORE", {"A", "B"}));
  c = checkExportComplete(m);
  EXPECT_EQ(c.outcome, Outcome::kNotEvaluable);
  EXPECT_TRUE(contains(c.message, "C is in 2 of the 6 injections")) << c.message;
  // markReexport: a failed curve holds, saying re-export.
  CalibrationReview rv =
      reviewCalibration(batchOf({1, 1.5, 1, 1, 1.5, 1, 1.5, 1}), kAnalyte, originConfig());
  markReexport(rv, c.message);
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(curveOf(rv).onFail, DispositionKind::kHold);
  EXPECT_EQ(curveOf(rv).message.rfind("calibration curve NOT_EVALUABLE: " + c.message +
                                          "; re-export from the quantitation software",
                                      0),
            0u)
      << curveOf(rv).message;
  EXPECT_TRUE(contains(curveOf(rv).message, "As exported: FAIL (")) << curveOf(rv).message;
  // A curve that passed on what the file holds stands.
  rv = reviewCalibration(batchOf({1, 1, 1, 1, 1, 1, 1, 1}), kAnalyte, originConfig());
  markReexport(rv, c.message);
  EXPECT_EQ(curveOf(rv).outcome, Outcome::kPass);
  EXPECT_TRUE(rv.uloq);
}

TEST(CalibrationCarryover, WithoutAnInjectionOrderTheBlankAfterTheTopIsNotSought) {
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  m.samples.push_back(blank(SampleKind::kBlank, 150.0, 1000.0));
  m.listedInRunOrder = false;
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  // No carryover check at all: the batch's one RUN_ORDER_UNKNOWN finding (rules/run_order)
  // says carryover was not evaluated; a blank listed after the top calibrator proves nothing.
  EXPECT_FALSE(checkOf(rv, "calibration.carryover"));
  EXPECT_FALSE(rv.carryoverFraction);
}

const SampleCheck* suspectOf(const CalibrationReview& rv, size_t sampleIndex) {
  for (const SampleCheck& s : rv.sampleChecks) {
    if (s.sampleIndex == sampleIndex && s.check.code == "CARRYOVER_SUSPECT") return &s;
  }
  return nullptr;
}

TEST(CalibrationCarryover, AResultRightAfterOneAboveTheUloqIsSuspect) {
  Message m = batchOf({1, 1, 1, 1, 1, 1, 1, 1});  // LLOQ 1, ULOQ 8, no blank: CO unknown
  m.samples.push_back(patient("HIGH", 12.0));
  m.samples.back().injection = 21;
  m.samples.push_back(patient("NEXT", 4.0));   // index 9: suspect
  m.samples.push_back(patient("LATER", 4.0));  // index 10: not right after
  m.samples.push_back(patient("HIGH2", 16.0));
  m.samples.push_back(patient("LOW", 0.5));  // index 12: below the LLOQ, stays reportable
  CalibrationReview rv = reviewCalibration(m, kAnalyte, originConfig());
  const SampleCheck* s = suspectOf(rv, 9);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->check.outcome, Outcome::kFail);
  EXPECT_EQ(s->check.onFail, DispositionKind::kHold);
  EXPECT_TRUE(
      contains(s->check.message, "right after injection 21, which is " + num(1.5) + "x the ULOQ"))
      << s->check.message;
  EXPECT_FALSE(suspectOf(rv, 10));
  EXPECT_FALSE(suspectOf(rv, 12));
  EXPECT_TRUE(suspectOf(rv, 8)) << "right after the top calibrator, no carryover measured";
  EXPECT_EQ(rv.sampleChecks.size(), 2u);
  // By default (carryover_suspect_always) a measured carryover fraction does not clear the
  // result after one above the ULOQ: the blank measured carryover from the ULOQ, not from 12.
  Message withBlank = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  withBlank.samples.push_back(blank(SampleKind::kBlank, 150.0, 1000.0));
  withBlank.samples.push_back(patient("HIGH", 12.0));
  withBlank.samples.push_back(patient("NEXT", 4.0));
  rv = reviewCalibration(withBlank, kAnalyte, originConfig());
  ASSERT_TRUE(suspectOf(rv, 10));
  EXPECT_TRUE(contains(suspectOf(rv, 10)->check.message, "measures carryover up to the ULOQ only"))
      << suspectOf(rv, 10)->check.message;
  // With carryover_suspect_always off (spec §2.4 alone) and a measured carryover fraction (blank
  // after the ULOQ: 150/8000), a result the predicted carryover (12 · 0.01875 · 5 = 1.125) cannot
  // make up 20 % of is not suspect.
  CalibrationConfig spec = originConfig();
  spec.carryoverSuspectAlways = false;
  rv = reviewCalibration(withBlank, kAnalyte, spec);
  EXPECT_FALSE(suspectOf(rv, 10));
  withBlank.samples.back() = patient("NEXT", 1.1);
  rv = reviewCalibration(withBlank, kAnalyte, spec);
  EXPECT_TRUE(suspectOf(rv, 10));
  // The order unknown: every patient at or above the LLOQ is held, with one batch summary.
  m.listedInRunOrder = false;
  rv = reviewCalibration(m, kAnalyte, originConfig());
  EXPECT_EQ(suspectOf(rv, 9)->check.outcome, Outcome::kNotEvaluable);
  EXPECT_TRUE(suspectOf(rv, 10));
  EXPECT_FALSE(suspectOf(rv, 12)) << "below the LLOQ";
  EXPECT_EQ(countChecks(rv, "calibration.carryover_suspect", Outcome::kNotEvaluable), 1u);
  // The top calibrator reading above its nominal is no "above the ULOQ" source: the blank after
  // it measures its carryover (here 150/8400 with 20 % of the LLOQ area allowed).
  Message topCal = batchOf({1, 1, 1, 1, 1, 1, 1, 1.05});
  topCal.samples.push_back(blank(SampleKind::kBlank, 150.0, 1000.0));
  topCal.samples.push_back(patient("AFTER", 4.0));
  rv = reviewCalibration(topCal, kAnalyte, originConfig());
  ASSERT_GT(*rv.calibrators.back().backCalculated, 8.0);
  EXPECT_TRUE(rv.sampleChecks.empty());
  // No carryover measured: the patient right after the top calibrator is suspect too.
  Message afterTop = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  afterTop.samples[7].injection = 8;
  afterTop.samples.push_back(patient("AFTER", 4.0));
  rv = reviewCalibration(afterTop, kAnalyte, originConfig());
  ASSERT_TRUE(suspectOf(rv, 8));
  EXPECT_TRUE(contains(suspectOf(rv, 8)->check.message,
                       "right after injection 8, the top calibrator (8), and no blank"))
      << suspectOf(rv, 8)->check.message;
  // With the blank after it (carryover measured and passing) it is not.
  afterTop.samples.insert(afterTop.samples.begin() + 8, blank(SampleKind::kBlank, 150.0, 1000.0));
  rv = reviewCalibration(afterTop, kAnalyte, originConfig());
  EXPECT_TRUE(rv.sampleChecks.empty());
  // Nothing above the ULOQ: nothing to suspect, whatever the order.
  Message calm = batchOf({1, 1, 1, 1, 1, 1, 1, 1});
  calm.samples.push_back(patient("P", 4.0));
  calm.listedInRunOrder = false;
  rv = reviewCalibration(calm, kAnalyte, originConfig());
  EXPECT_TRUE(rv.sampleChecks.empty());
  EXPECT_EQ(countChecks(rv, "calibration.carryover_suspect", Outcome::kNotEvaluable), 0u);
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
