#include "rules/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "rules/linalg.h"

namespace labgate::rules {

namespace {

bool present(const std::optional<double>& v) { return v.has_value() && std::isfinite(*v); }

CheckResult makeCheck(Outcome outcome, const char* ruleId, const char* code, std::string message,
                      std::string measured = {}, std::string limit = {},
                      DispositionKind onFail = DispositionKind::kHold) {
  CheckResult c;
  c.outcome = outcome;
  c.ruleId = ruleId;
  c.code = code;
  c.subject = "analyte";
  c.message = std::move(message);
  c.measured = std::move(measured);
  c.limit = std::move(limit);
  c.onFail = onFail;
  return c;
}

std::string pct(double value) { return num(value) + "%"; }

}  // namespace

const char* toString(CalibrationModel model) {
  switch (model) {
    case CalibrationModel::kLinear:
      return "linear";
    case CalibrationModel::kLinearThroughOrigin:
      return "linear_through_origin";
    case CalibrationModel::kQuadratic:
      return "quadratic";
  }
  return "linear";
}

const char* toString(CalibrationWeight weight) {
  switch (weight) {
    case CalibrationWeight::kNone:
      return "none";
    case CalibrationWeight::kInverseX:
      return "1/x";
    case CalibrationWeight::kInverseX2:
      return "1/x2";
    case CalibrationWeight::kInverseY:
      return "1/y";
    case CalibrationWeight::kInverseY2:
      return "1/y2";
  }
  return "none";
}

std::optional<CalibrationModel> parseCalibrationModel(std::string_view text) {
  if (text == "linear") return CalibrationModel::kLinear;
  if (text == "linear_through_origin" || text == "linear-origin") {
    return CalibrationModel::kLinearThroughOrigin;
  }
  if (text == "quadratic") return CalibrationModel::kQuadratic;
  return std::nullopt;
}

std::optional<CalibrationWeight> parseCalibrationWeight(std::string_view text) {
  if (text == "none") return CalibrationWeight::kNone;
  if (text == "1/x") return CalibrationWeight::kInverseX;
  if (text == "1/x2" || text == "1/x^2" || text == "1/x²") return CalibrationWeight::kInverseX2;
  if (text == "1/y") return CalibrationWeight::kInverseY;
  if (text == "1/y2" || text == "1/y^2" || text == "1/y²") return CalibrationWeight::kInverseY2;
  return std::nullopt;
}

size_t parameterCount(CalibrationModel model) {
  switch (model) {
    case CalibrationModel::kLinear:
      return 2;
    case CalibrationModel::kLinearThroughOrigin:
      return 1;
    case CalibrationModel::kQuadratic:
      return 3;
  }
  return 2;
}

double CalibrationFit::responseAt(double x) const {
  return intercept + slope * x + curvature * x * x;
}

std::optional<double> calibrationWeight(CalibrationWeight weight, const CalPoint& point) {
  switch (weight) {
    case CalibrationWeight::kNone:
      return 1.0;
    case CalibrationWeight::kInverseX:
      if (point.x > 0) return 1.0 / point.x;
      return std::nullopt;
    case CalibrationWeight::kInverseX2:
      if (point.x > 0) return 1.0 / (point.x * point.x);
      return std::nullopt;
    case CalibrationWeight::kInverseY:
      if (point.y > 0) return 1.0 / point.y;
      return std::nullopt;
    case CalibrationWeight::kInverseY2:
      if (point.y > 0) return 1.0 / (point.y * point.y);
      return std::nullopt;
  }
  return std::nullopt;
}

CalibrationFit fitCalibration(const std::vector<CalPoint>& points, CalibrationModel model,
                              CalibrationWeight weight) {
  std::vector<double> ws;
  for (const CalPoint& pt : points) {
    std::optional<double> w = calibrationWeight(weight, pt);
    if (!w || !std::isfinite(*w)) {
      CalibrationFit fit;
      fit.model = model;
      fit.weight = weight;
      fit.points = points.size();
      fit.error = std::string("weight ") + toString(weight) + " is undefined at x = " + num(pt.x) +
                  ", y = " + num(pt.y) + " (needs a value > 0)";
      return fit;
    }
    ws.push_back(*w);
  }
  CalibrationFit fit = fitCalibration(points, model, ws);
  fit.weight = weight;
  return fit;
}

CalibrationFit fitCalibration(const std::vector<CalPoint>& points, CalibrationModel model,
                              const std::vector<double>& weights) {
  CalibrationFit fit;
  fit.model = model;
  fit.points = points.size();
  const size_t p = parameterCount(model);
  if (points.size() < p) {
    fit.error = std::string(toString(model)) + " needs at least " + std::to_string(p) +
                " points, got " + std::to_string(points.size());
    return fit;
  }
  std::vector<double> xs;
  std::vector<double> ys;
  std::vector<double> ws = weights;
  if (ws.size() != points.size()) {
    fit.error = "one weight per point is needed";
    return fit;
  }
  for (size_t i = 0; i < points.size(); ++i) {
    const CalPoint& pt = points[i];
    if (!std::isfinite(pt.x) || !std::isfinite(pt.y)) {
      fit.error = "a calibration point is not a finite number";
      return fit;
    }
    if (!std::isfinite(ws[i]) || ws[i] <= 0) {
      fit.error = "weight " + num(ws[i]) + " at x = " + num(pt.x) + " is not positive and finite";
      return fit;
    }
    xs.push_back(pt.x);
    ys.push_back(pt.y);
  }
  const bool intercept = model != CalibrationModel::kLinearThroughOrigin;
  const int degree = model == CalibrationModel::kQuadratic ? 2 : 1;
  linalg::LeastSquaresFit ls =
      linalg::solveLeastSquares(linalg::polynomialDesign(xs, degree, intercept), ys, ws);
  if (!ls.ok()) {
    fit.error = std::string("cannot fit the ") + toString(model) + " model: " + ls.message;
    return fit;
  }
  fit.ok = true;
  fit.coefficients = ls.coefficients;
  if (intercept) {
    fit.intercept = ls.coefficients[0];
    fit.slope = ls.coefficients[1];
    if (degree == 2) fit.curvature = ls.coefficients[2];
  } else {
    fit.slope = ls.coefficients[0];
  }
  fit.rSquared = linalg::rSquared(ys, ls.residuals, ws, intercept);
  fit.residualSd = ls.residualSd;
  auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
  fit.xMin = *lo;
  fit.xMax = *hi;
  return fit;
}

BackCalculation backCalculate(const CalibrationFit& fit, double y) {
  BackCalculation out;
  if (!fit.ok) {
    out.problem = "no calibration curve";
    return out;
  }
  if (!std::isfinite(y)) {
    out.problem = "response missing";
    return out;
  }
  const double b0 = fit.intercept;
  const double b1 = fit.slope;
  const double b2 = fit.curvature;
  const double xScale = std::max(std::fabs(fit.xMax), std::fabs(fit.xMin));
  const bool linear = fit.model != CalibrationModel::kQuadratic ||
                      std::fabs(b2) * xScale < 1e-12 * std::fabs(b1) || b2 == 0.0;
  if (linear) {
    if (b1 == 0.0) {
      out.problem = "slope is 0";
      return out;
    }
    out.concentration = (y - b0) / b1;
    return out;
  }
  // Roots of b2·x² + b1·x + c = 0, c = b0 − y, in the cancellation-free form.
  const double c = b0 - y;
  const double disc = b1 * b1 - 4.0 * b2 * c;
  if (disc < 0) {
    out.problem = "response outside the quadratic curve (discriminant < 0)";
    return out;
  }
  const double sq = std::sqrt(disc);
  const double q = -0.5 * (b1 + (b1 >= 0 ? sq : -sq));
  double r1 = q / b2;
  double r2 = q != 0.0 ? c / q : r1;
  // The branch that holds the calibrators: the side of the vertex where their midpoint lies.
  const double vertex = -b1 / (2.0 * b2);
  const bool right = 0.5 * (fit.xMin + fit.xMax) >= vertex;
  double hi = std::max(r1, r2);
  double lo = std::min(r1, r2);
  out.concentration = right ? hi : lo;
  return out;
}

Outcome calibratorAccuracyOutcome(double accuracyPct, bool lloqLevel,
                                  const CalibrationConfig& config) {
  double lo = lloqLevel ? config.lloqAccuracyLowPct : config.accuracyLowPct;
  double hi = lloqLevel ? config.lloqAccuracyHighPct : config.accuracyHighPct;
  if (!std::isfinite(accuracyPct)) return Outcome::kNotEvaluable;
  return accuracyPct < lo || accuracyPct > hi ? Outcome::kFail : Outcome::kPass;
}

const CheckResult* CalibrationReview::curveCheck() const {
  for (const CheckResult& c : checks) {
    if (c.ruleId == "calibration.curve") return &c;
  }
  return nullptr;
}

namespace {

// Analyte codes are a few characters: compared inline rather than through a memcmp call, as this
// runs for every result of a sample, for every sample and analyte.
bool sameCode(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

const Result* findAnalyteResult(const Sample& sample, const std::string& analyte) {
  for (const Result& r : sample.results) {
    if (r.internalStandard) continue;
    if (sameCode(r.instrumentCode, analyte) || (!r.lisCode.empty() && sameCode(r.lisCode, analyte)))
      return &r;
  }
  return nullptr;
}

std::optional<double> calibrationResponse(const Result& result) {
  if (!result.peak) return std::nullopt;
  const Peak& p = *result.peak;
  if (present(p.responseRatio)) return p.responseRatio;
  if (present(p.area) && present(p.internalStandardArea) && *p.internalStandardArea != 0.0) {
    return *p.area / *p.internalStandardArea;
  }
  if (present(p.area)) return p.area;
  return std::nullopt;
}

namespace {

/// The working state of one review.
struct Work {
  const Message& batch;
  const std::string& analyte;
  const CalibrationConfig& config;
  CalibrationReview review;
};

std::optional<double> nominalOf(const Sample& sample, const Result& result) {
  if (result.peak && present(result.peak->expectedConcentration)) {
    return result.peak->expectedConcentration;
  }
  if (present(sample.nominalConcentration)) return sample.nominalConcentration;
  return std::nullopt;
}

std::optional<double> areaOf(const Result* r) {
  if (r && r->peak && present(r->peak->area)) return r->peak->area;
  return std::nullopt;
}

std::optional<double> isAreaOf(const Result* r) {
  if (r && r->peak && present(r->peak->internalStandardArea)) return r->peak->internalStandardArea;
  return std::nullopt;
}

bool isBlank(const Sample& s) {
  return s.kind == SampleKind::kBlank || s.kind == SampleKind::kDoubleBlank;
}

/// Calibrators with a nominal concentration other than 0 (a zero calibrator is a blank); ones
/// without a nominal concentration are kept (NOT_EVALUABLE) so that they count as not passing.
void collectCalibrators(Work& w) {
  for (size_t i = 0; i < w.batch.samples.size(); ++i) {
    const Sample& s = w.batch.samples[i];
    if (s.kind != SampleKind::kCalibrator) continue;
    const Result* r = findAnalyteResult(s, w.analyte);
    if (!r) continue;
    CalibratorReview c;
    c.sampleIndex = i;
    c.sampleId = s.sampleId;
    c.level = s.level;
    c.nominal = nominalOf(s, *r);
    if (c.nominal && *c.nominal == 0.0) continue;
    c.response = calibrationResponse(*r);
    w.review.calibrators.push_back(c);
  }
  std::optional<double> lowest;
  for (const CalibratorReview& c : w.review.calibrators) {
    if (c.nominal && *c.nominal > 0 && (!lowest || *c.nominal < *lowest)) lowest = c.nominal;
  }
  for (CalibratorReview& c : w.review.calibrators) c.lloqLevel = lowest && c.nominal == lowest;
}

CalibrationFit fitIncluded(const Work& w) {
  std::vector<CalPoint> points;
  for (const CalibratorReview& c : w.review.calibrators) {
    if (!c.excluded && c.nominal && c.response) points.push_back({*c.nominal, *c.response});
  }
  return fitCalibration(points, w.config.model, w.config.weight);
}

/// Back-calculates every calibrator on the current fit and sets its accuracy outcome.
void evaluateCalibrators(Work& w) {
  const CalibrationConfig& cfg = w.config;
  for (CalibratorReview& c : w.review.calibrators) {
    c.backCalculated.reset();
    c.accuracyPct.reset();
    c.outcome = Outcome::kNotEvaluable;
    if (!c.nominal || !c.response || !w.review.fit.ok) continue;
    BackCalculation bc = backCalculate(w.review.fit, *c.response);
    if (!bc.concentration) continue;
    c.backCalculated = bc.concentration;
    c.accuracyPct = 100.0 * *bc.concentration / *c.nominal;
    c.outcome = calibratorAccuracyOutcome(*c.accuracyPct, c.lloqLevel, cfg);
  }
}

/// §2.2 counting: ≥ minPassFraction of the non-zero calibrators pass and ≥ minPassLevels distinct
/// levels have a passing calibrator. `optimistic` counts NOT_EVALUABLE calibrators as passing.
bool meetsAcceptance(const Work& w, bool optimistic) {
  size_t total = w.review.calibrators.size();
  size_t passing = 0;
  std::set<double> levels;
  for (const CalibratorReview& c : w.review.calibrators) {
    bool pass = c.outcome == Outcome::kPass || (optimistic && c.outcome == Outcome::kNotEvaluable);
    if (!pass) continue;
    ++passing;
    if (c.nominal)
      levels.insert(*c.nominal);
    else if (optimistic)
      levels.insert(-1.0 - static_cast<double>(levels.size()));
  }
  return total > 0 && static_cast<double>(passing) >= w.config.minPassFraction * total &&
         levels.size() >= w.config.minPassLevels;
}

std::string countSummary(const Work& w) {
  size_t passing = 0;
  std::set<double> levels;
  for (const CalibratorReview& c : w.review.calibrators) {
    if (c.outcome != Outcome::kPass) continue;
    ++passing;
    levels.insert(*c.nominal);
  }
  return std::to_string(passing) + "/" + std::to_string(w.review.calibrators.size()) +
         " calibrators and " + std::to_string(levels.size()) + " levels pass";
}

/// Fits, evaluates, applies auto_exclude (once, no cascade) and adds the curve check.
void reviewCurve(Work& w) {
  CalibrationReview& rv = w.review;
  rv.fit = fitIncluded(w);
  evaluateCalibrators(w);
  bool cascade = false;
  if (w.config.autoExclude && rv.fit.ok) {
    std::vector<bool> passedBefore;
    bool anyFailed = false;
    for (CalibratorReview& c : rv.calibrators) {
      passedBefore.push_back(c.outcome == Outcome::kPass);
      if (c.outcome == Outcome::kFail) c.excluded = anyFailed = true;
    }
    if (anyFailed) {
      rv.fit = fitIncluded(w);
      evaluateCalibrators(w);
      for (size_t i = 0; i < rv.calibrators.size(); ++i) {
        if (passedBefore[i] && rv.calibrators[i].outcome != Outcome::kPass) cascade = true;
      }
    }
  }
  const std::string limit = ">= " + num(100 * w.config.minPassFraction) +
                            "% of calibrators, >= " + std::to_string(w.config.minPassLevels) +
                            " levels";
  Outcome outcome;
  std::string message;
  if (rv.calibrators.empty()) {
    outcome = Outcome::kNotEvaluable;
    message = "no calibrators for " + w.analyte;
  } else if (cascade) {
    outcome = Outcome::kFail;
    message = "a calibrator that passed fails after excluding the failing ones and refitting";
  } else if (rv.fit.ok && meetsAcceptance(w, false)) {
    outcome = Outcome::kPass;
    message = countSummary(w);
  } else if (meetsAcceptance(w, true) && (rv.fit.ok || rv.fit.points < rv.calibrators.size())) {
    outcome = Outcome::kNotEvaluable;
    message = rv.fit.ok ? "calibrators with missing values decide the curve: " + countSummary(w)
                        : "curve cannot be fitted because values are missing: " + rv.fit.error;
  } else {
    outcome = Outcome::kFail;
    message = rv.fit.ok ? countSummary(w) : rv.fit.error;
  }
  rv.curveAccepted = outcome == Outcome::kPass;
  rv.checks.push_back(
      makeCheck(outcome, "calibration.curve", "CAL_CURVE",
                "calibration curve " + std::string(toString(outcome)) + ": " + message,
                countSummary(w), limit, DispositionKind::kReject));
}

void addCalibratorChecks(Work& w) {
  const CalibrationConfig& cfg = w.config;
  for (const CalibratorReview& c : w.review.calibrators) {
    if (c.outcome == Outcome::kPass) continue;
    std::string window =
        c.lloqLevel ? num(cfg.lloqAccuracyLowPct) + "-" + num(cfg.lloqAccuracyHighPct) + "%"
                    : num(cfg.accuracyLowPct) + "-" + num(cfg.accuracyHighPct) + "%";
    if (c.outcome == Outcome::kNotEvaluable) {
      w.review.checks.push_back(
          makeCheck(Outcome::kNotEvaluable, "calibration.accuracy", "CAL_ACCURACY",
                    "calibrator " + c.sampleId +
                        ": accuracy cannot be evaluated (nominal, response or curve "
                        "missing)",
                    "", window));
      continue;
    }
    // A failing calibrator is flagged (WARN); its consequence is the curve's acceptance.
    w.review.checks.push_back(makeCheck(Outcome::kWarn, "calibration.accuracy", "CAL_ACCURACY",
                                        "calibrator " + c.sampleId + " at " + num(*c.nominal) +
                                            " back-calculates to " + pct(*c.accuracyPct) +
                                            (c.excluded ? " (excluded from the fit)" : ""),
                                        pct(*c.accuracyPct), window));
  }
}

void addRSquaredCheck(Work& w) {
  const CalibrationFit& fit = w.review.fit;
  const std::string limit = ">= " + num(w.config.rSquaredMin);
  if (!fit.ok || !std::isfinite(fit.rSquared)) {
    w.review.checks.push_back(makeCheck(Outcome::kNotEvaluable, "calibration.r_squared", "CAL_R2",
                                        "no R² without a curve", "", limit));
    return;
  }
  Outcome low = w.config.rSquaredFails ? Outcome::kFail : Outcome::kWarn;
  Outcome outcome = fit.rSquared >= w.config.rSquaredMin ? Outcome::kPass : low;
  char digits[32];
  std::snprintf(digits, sizeof digits, "%.6f", fit.rSquared);
  w.review.checks.push_back(makeCheck(outcome, "calibration.r_squared", "CAL_R2",
                                      std::string("weighted R² ") + digits, digits, limit));
}

void setRange(Work& w) {
  CalibrationReview& rv = w.review;
  if (!rv.curveAccepted) return;
  for (const CalibratorReview& c : rv.calibrators) {
    if (c.outcome != Outcome::kPass) continue;
    if (!rv.lloq || *c.nominal < *rv.lloq) rv.lloq = c.nominal;
    if (!rv.uloq || *c.nominal > *rv.uloq) rv.uloq = c.nominal;
  }
}

void readBackSamples(Work& w) {
  CalibrationReview& rv = w.review;
  for (size_t i = 0; i < w.batch.samples.size(); ++i) {
    const Sample& s = w.batch.samples[i];
    const Result* r = findAnalyteResult(s, w.analyte);
    if (!r) continue;
    SampleConcentration sc;
    sc.sampleIndex = i;
    sc.sampleId = s.sampleId;
    sc.kind = s.kind;
    sc.response = calibrationResponse(*r);
    sc.backCalculated = sc.response ? backCalculate(rv.fit, *sc.response)
                                    : BackCalculation{std::nullopt, "response missing"};
    if (r->peak && present(r->peak->calculatedConcentration)) {
      sc.vendor = r->peak->calculatedConcentration;
    }
    const std::optional<double>& x = sc.backCalculated.concentration;
    if (x && rv.lloq && rv.uloq) {
      sc.range = *x < *rv.lloq   ? RangePosition::kBelowLloq
                 : *x > *rv.uloq ? RangePosition::kAboveUloq
                                 : RangePosition::kInRange;
    }
    rv.samples.push_back(sc);
  }
}

/// Mean analyte area of the calibrators at the lowest nominal level, and IS_ref: the mean IS area
/// of the accepted calibrators and of the QCs (the QC module judges those; all count here).
struct BlankReferences {
  std::optional<double> lloqArea;
  std::optional<double> isRef;
};

BlankReferences blankReferences(const Work& w) {
  BlankReferences refs;
  double areaSum = 0, isSum = 0;
  size_t areaN = 0, isN = 0;
  for (const CalibratorReview& c : w.review.calibrators) {
    const Result* r = findAnalyteResult(w.batch.samples[c.sampleIndex], w.analyte);
    if (c.lloqLevel && areaOf(r)) {
      areaSum += *areaOf(r);
      ++areaN;
    }
    if (c.outcome == Outcome::kPass && isAreaOf(r)) {
      isSum += *isAreaOf(r);
      ++isN;
    }
  }
  for (const Sample& s : w.batch.samples) {
    const Result* r = s.kind == SampleKind::kQc ? findAnalyteResult(s, w.analyte) : nullptr;
    if (isAreaOf(r)) {
      isSum += *isAreaOf(r);
      ++isN;
    }
  }
  if (areaN > 0) refs.lloqArea = areaSum / static_cast<double>(areaN);
  if (isN > 0) refs.isRef = isSum / static_cast<double>(isN);
  return refs;
}

/// Analyte area ≤ maxLloq·LLOQ area and, for a double blank, IS area ≤ maxIs·IS_ref.
CheckResult judgeBlank(const Sample& s, const Result* r, const BlankReferences& refs,
                       double maxLloq, double maxIs, const char* ruleId, const char* code,
                       const std::string& what) {
  const std::string limit =
      "<= " + pct(100 * maxLloq) + " of LLOQ area" +
      (s.kind == SampleKind::kDoubleBlank ? ", IS <= " + pct(100 * maxIs) + " of IS_ref" : "");
  std::optional<double> area = areaOf(r);
  if (!area && r && refs.lloqArea && *refs.lloqArea > 0) {
    // No peak integrated in the blank ("NF", empty): nothing interferes. That is the blank's
    // best outcome, not a missing value.
    area = 0.0;
  }
  if (!area || !refs.lloqArea || *refs.lloqArea <= 0) {
    return makeCheck(Outcome::kNotEvaluable, ruleId, code,
                     what + " " + s.sampleId + ": blank area or LLOQ area missing", "", limit);
  }
  double fraction = *area / *refs.lloqArea;
  std::string measured = pct(100 * fraction) + " of LLOQ area";
  bool pass = fraction <= maxLloq;
  // The IS part needs IS areas; an export that carries none (refs.isRef unset because no
  // calibrator or QC has one) is judged on the analyte alone.
  if (s.kind == SampleKind::kDoubleBlank && (refs.isRef || isAreaOf(r))) {
    std::optional<double> is = isAreaOf(r);
    if (!is || !refs.isRef || *refs.isRef <= 0) {
      return makeCheck(Outcome::kNotEvaluable, ruleId, code,
                       what + " " + s.sampleId + ": IS area or IS_ref missing", measured, limit);
    }
    double isFraction = *is / *refs.isRef;
    measured += ", IS " + pct(100 * isFraction) + " of IS_ref";
    pass = pass && isFraction <= maxIs;
  }
  return makeCheck(pass ? Outcome::kPass : Outcome::kFail, ruleId, code,
                   what + " " + s.sampleId + (pass ? " within limits" : " exceeds its limit"),
                   measured, limit);
}

void addBlankChecks(Work& w, const BlankReferences& refs) {
  for (const Sample& s : w.batch.samples) {
    if (!isBlank(s)) continue;
    const Result* r = findAnalyteResult(s, w.analyte);
    if (!r) continue;
    w.review.checks.push_back(judgeBlank(s, r, refs, w.config.blankMaxLloqFraction,
                                         w.config.blankIsMaxFraction, "calibration.blank",
                                         "BLANK_INTERFERENCE", "blank"));
  }
}

/// Every blank injected right after a calibrator at the highest nominal level.
void addCarryoverChecks(Work& w, const BlankReferences& refs) {
  std::optional<double> top;
  for (const CalibratorReview& c : w.review.calibrators) {
    if (c.nominal && (!top || *c.nominal > *top)) top = c.nominal;
  }
  bool found = false;
  for (const CalibratorReview& c : w.review.calibrators) {
    if (!top || c.nominal != top || c.sampleIndex + 1 >= w.batch.samples.size()) continue;
    const Sample& next = w.batch.samples[c.sampleIndex + 1];
    if (!isBlank(next)) continue;
    found = true;
    const Result* blank = findAnalyteResult(next, w.analyte);
    std::optional<double> uloqArea =
        areaOf(findAnalyteResult(w.batch.samples[c.sampleIndex], w.analyte));
    std::optional<double> blankArea = areaOf(blank);
    if (blankArea && uloqArea && *uloqArea > 0) {
      double co = *blankArea / *uloqArea;
      if (!w.review.carryoverFraction || co > *w.review.carryoverFraction) {
        w.review.carryoverFraction = co;
      }
    }
    w.review.checks.push_back(judgeBlank(next, blank, refs, w.config.carryoverMaxLloqFraction,
                                         w.config.carryoverIsMaxFraction, "calibration.carryover",
                                         "CARRYOVER", "blank after the ULOQ calibrator"));
  }
  if (!found) {
    w.review.checks.push_back(makeCheck(Outcome::kNotEvaluable, "calibration.carryover",
                                        "CARRYOVER",
                                        "no blank injected right after the highest calibrator"));
  }
}

/// §2.1 independent recomputation over calibrators and patient samples that carry the vendor's
/// concentration: the largest relative difference decides.
void addVendorCheck(Work& w) {
  double worst = -1;
  std::string worstId;
  bool compared = false;
  bool missing = false;
  for (const SampleConcentration& sc : w.review.samples) {
    if (sc.kind != SampleKind::kCalibrator && sc.kind != SampleKind::kUnknown) continue;
    if (!sc.vendor) continue;
    if (!sc.backCalculated.concentration) {
      missing = true;
      continue;
    }
    compared = true;
    double ours = *sc.backCalculated.concentration;
    double rel = *sc.vendor != 0 ? std::fabs(ours - *sc.vendor) / std::fabs(*sc.vendor)
                 : ours == 0     ? 0.0
                                 : HUGE_VAL;
    if (rel > worst) {
      worst = rel;
      worstId = sc.sampleId;
    }
  }
  const std::string limit = "<= " + pct(100 * w.config.vendorMismatchMaxFraction);
  const char* rule = "calibration.vendor_mismatch";
  if (worst > w.config.vendorMismatchMaxFraction) {
    w.review.checks.push_back(
        makeCheck(Outcome::kFail, rule, "VENDOR_CALC_MISMATCH",
                  "our back-calculation differs from the vendor's, most in sample " + worstId,
                  pct(100 * worst), limit));
  } else if (missing) {
    w.review.checks.push_back(makeCheck(Outcome::kNotEvaluable, rule, "VENDOR_CALC_MISMATCH",
                                        "vendor concentrations cannot be recomputed", "", limit));
  } else if (compared) {
    w.review.checks.push_back(makeCheck(Outcome::kPass, rule, "VENDOR_CALC_MISMATCH",
                                        "our back-calculation agrees with the vendor's",
                                        pct(100 * worst), limit));
  }
}

}  // namespace

CalibrationReview reviewCalibration(const Message& batch, const std::string& analyte,
                                    const CalibrationConfig& config) {
  Work w{batch, analyte, config, {}};
  w.review.analyte = analyte;
  collectCalibrators(w);
  reviewCurve(w);
  addCalibratorChecks(w);
  addRSquaredCheck(w);
  setRange(w);
  readBackSamples(w);
  BlankReferences refs = blankReferences(w);
  addBlankChecks(w, refs);
  addCarryoverChecks(w, refs);
  addVendorCheck(w);
  return std::move(w.review);
}

CheckResult checkReportableRange(const CalibrationReview& review,
                                 const std::optional<double>& concentration) {
  const char* rule = "calibration.range";
  if (!review.lloq || !review.uloq || !concentration || !std::isfinite(*concentration)) {
    return makeCheck(Outcome::kNotEvaluable, rule, "REPORTABLE_RANGE",
                     "no reportable range or no concentration");
  }
  const std::string limit = num(*review.lloq) + "-" + num(*review.uloq);
  if (*concentration > *review.uloq) {
    return makeCheck(Outcome::kFail, rule, "DILUTE_AND_RERUN",
                     "above the ULOQ: report \"> ULOQ\", dilute and re-run", "> ULOQ", limit);
  }
  if (*concentration < *review.lloq) {
    return makeCheck(Outcome::kPass, rule, "BELOW_LLOQ", "below the LLOQ: report \"< LLOQ\"",
                     "< LLOQ", limit);
  }
  return makeCheck(Outcome::kPass, rule, "REPORTABLE_RANGE", "within the reportable range",
                   "in range", limit);
}

double trackedSlope(const CalibrationFit& fit) {
  if (!fit.ok) return std::nan("");
  return fit.slope + fit.curvature * (fit.xMin + fit.xMax);
}

CheckResult checkSlopeShift(double slope, const std::vector<double>& history, size_t window,
                            double maxChangeFraction) {
  const char* rule = "calibration.slope_shift";
  size_t from = history.size() > window ? history.size() - window : 0;
  std::vector<double> recent(history.begin() + static_cast<std::ptrdiff_t>(from), history.end());
  if (!std::isfinite(slope) || recent.size() < 2) {
    return makeCheck(Outcome::kNotEvaluable, rule, "SLOPE_SHIFT",
                     "slope or enough accepted batches missing");
  }
  double mean = 0;
  for (double v : recent) mean += v;
  mean /= static_cast<double>(recent.size());
  double ss = 0;
  for (double v : recent) ss += (v - mean) * (v - mean);
  double sd = std::sqrt(ss / static_cast<double>(recent.size() - 1));
  std::vector<double> sorted = recent;
  std::sort(sorted.begin(), sorted.end());
  size_t mid = sorted.size() / 2;
  double median = sorted.size() % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
  double change = median != 0 ? std::fabs(slope - median) / std::fabs(median) : HUGE_VAL;
  bool outside = std::fabs(slope - mean) > 3 * sd;
  bool shifted = change > maxChangeFraction;
  std::string limit = "mean " + num(mean) + " +/- 3 SD (" + num(sd) +
                      "), <= " + pct(100 * maxChangeFraction) + " from median " + num(median);
  return makeCheck(outside || shifted ? Outcome::kWarn : Outcome::kPass, rule, "SLOPE_SHIFT",
                   outside || shifted ? "slope moved against the last accepted batches"
                                      : "slope in line with the last accepted batches",
                   num(slope) + " (" + pct(100 * change) + " from median)", limit);
}

CheckResult checkTopCalibratorBias(const std::vector<double>& topAccuracyPct, size_t runLength,
                                   double lowPct) {
  const char* rule = "calibration.top_calibrator_bias";
  const char* code = "CONSIDER_QUADRATIC_OR_SATURATION";
  std::string limit = "not < " + pct(lowPct) + " in " + std::to_string(runLength) + " batches";
  if (topAccuracyPct.size() < runLength || runLength == 0) {
    return makeCheck(Outcome::kPass, rule, code, "too few batches for a run", "", limit);
  }
  bool allLow = std::all_of(topAccuracyPct.end() - static_cast<std::ptrdiff_t>(runLength),
                            topAccuracyPct.end(), [&](double a) { return a < lowPct; });
  return makeCheck(allLow ? Outcome::kWarn : Outcome::kPass, rule, code,
                   allLow ? "top calibrator biased low in consecutive batches: consider a "
                            "quadratic model or detector saturation"
                          : "top calibrator not repeatedly biased low",
                   pct(topAccuracyPct.back()), limit);
}

}  // namespace labgate::rules
