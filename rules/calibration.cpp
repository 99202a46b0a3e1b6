#include "rules/calibration.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "rules/linalg.h"
#include "rules/stats.h"
#include "util/text.h"

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

/// "1/x²" for a reviewer (toString says "1/x2", the rule-set spelling).
std::string weightWords(CalibrationWeight weight) {
  switch (weight) {
    case CalibrationWeight::kNone:
      return "no weighting";
    case CalibrationWeight::kInverseX:
      return "1/x";
    case CalibrationWeight::kInverseX2:
      return "1/x²";
    case CalibrationWeight::kInverseY:
      return "1/y";
    case CalibrationWeight::kInverseY2:
      return "1/y²";
  }
  return "no weighting";
}

}  // namespace

VendorCurve readVendorCurve(const ExportCurve& curve) {
  VendorCurve out;
  const std::string model = util::lowered(util::trimmed(curve.model));
  const std::string weight = util::lowered(util::trimmed(curve.weighting));
  const std::string origin = util::lowered(util::trimmed(curve.origin));
  if (model == "linear") {
    out.model = CalibrationModel::kLinear;
  } else if (model == "quadratic") {
    out.model = CalibrationModel::kQuadratic;
  } else if (model == "linear through zero" || model == "linear through origin" ||
             model == "linear-origin") {
    out.model = CalibrationModel::kLinearThroughOrigin;
  } else if (!model.empty()) {
    out.problem = "the export's curve type \"" + curve.model + "\" is not one this engine fits";
  }
  if (weight == "none" || weight == "equal" || weight == "1") {
    out.weight = CalibrationWeight::kNone;
  } else if (!weight.empty()) {
    out.weight = parseCalibrationWeight(weight);
    if (!out.weight && out.problem.empty()) {
      out.problem =
          "the export's weighting \"" + curve.weighting + "\" is not one this engine uses";
    }
  }
  if (origin == "force" || origin == "forced") {
    if (out.model == CalibrationModel::kLinear ||
        out.model == CalibrationModel::kLinearThroughOrigin) {
      out.model = CalibrationModel::kLinearThroughOrigin;
    } else if (out.problem.empty()) {
      out.problem =
          "the export forces the curve through the origin, which this engine fits for a "
          "linear curve only";
    }
  } else if (origin == "include" && out.problem.empty()) {
    out.problem =
        "the export includes the origin as a calibration point, which this engine does "
        "not fit";
  } else if (!origin.empty() && origin != "exclude" && origin != "ignore" && out.problem.empty()) {
    out.problem = "the export's origin setting \"" + curve.origin + "\" is unknown";
  }
  return out;
}

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

/// "calibrator Cal B_5 (injection 12)": its name, and the injection number when the export gives
/// one.
std::string calibratorWords(const Work& w, const CalibratorReview& c) {
  std::string words = "calibrator " + c.sampleId;
  if (c.sampleIndex < w.batch.samples.size() && w.batch.samples[c.sampleIndex].injection) {
    words += " (" + injectionOf(w.batch.samples[c.sampleIndex]) + ")";
  }
  return words;
}

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
    c.injection = s.injection;
    c.nominal = nominalOf(s, *r);
    if (c.nominal && *c.nominal == 0.0) continue;
    // The analyst left this point out of the vendor's curve: we fit without it too, and it counts
    // as not accepted.
    c.analystExcluded = c.excluded = r->peak && r->peak->excludedFromCurve;
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
    c.outcome = c.analystExcluded ? Outcome::kFail
                                  : calibratorAccuracyOutcome(*c.accuracyPct, c.lloqLevel, cfg);
  }
  // An excluded point is not accepted whatever its values (also without a response or a curve).
  for (CalibratorReview& c : w.review.calibrators) {
    if (c.analystExcluded) c.outcome = Outcome::kFail;
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

/// What the acceptance counts: passing calibrators, all (non-zero) calibrators, levels with a
/// passing calibrator, and the calibrators the analyst excluded.
struct Counts {
  size_t passing = 0;
  size_t total = 0;
  size_t levels = 0;
  std::vector<const CalibratorReview*> excluded;
};

Counts countCalibrators(const Work& w) {
  Counts n;
  std::set<double> levels;
  for (const CalibratorReview& c : w.review.calibrators) {
    ++n.total;
    if (c.analystExcluded) n.excluded.push_back(&c);
    if (c.outcome != Outcome::kPass) continue;
    ++n.passing;
    levels.insert(*c.nominal);
  }
  n.levels = levels.size();
  return n;
}

std::string countSummary(const Counts& n) {
  double share = n.total > 0 ? 100.0 * static_cast<double>(n.passing) / n.total : 0.0;
  return std::to_string(n.passing) + "/" + std::to_string(n.total) + " calibrators (" + pct(share) +
         ") and " + std::to_string(n.levels) + " levels pass";
}

/// Why the counts fail the acceptance, in words: "5 levels have a passing calibrator, at least 6
/// are needed; ...".
std::string acceptanceShortfall(const Work& w, const Counts& n) {
  std::string why;
  double share = n.total > 0 ? static_cast<double>(n.passing) / n.total : 0.0;
  if (share < w.config.minPassFraction) {
    why = std::to_string(n.passing) + " of " + std::to_string(n.total) + " calibrators pass (" +
          pct(100 * share) + "), at least " + pct(100 * w.config.minPassFraction) + " are needed";
  }
  if (n.levels < w.config.minPassLevels) {
    if (!why.empty()) why += "; ";
    why += std::to_string(n.levels) + " concentration levels have a passing calibrator, at least " +
           std::to_string(w.config.minPassLevels) + " are needed";
  }
  return why;
}

/// "; excluded by the analyst: 17 of 24 calibrators (injection 8, injection 107, ...)".
std::string exclusionWords(const Work& w, const Counts& n) {
  if (n.excluded.empty()) return {};
  std::string words = "; excluded from the curve by the analyst (counted as not accepted): " +
                      std::to_string(n.excluded.size()) + " of " + std::to_string(n.total) +
                      " calibrators (";
  const size_t shown = std::min<size_t>(n.excluded.size(), 8);
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) words += ", ";
    words += injectionOf(w.batch.samples[n.excluded[i]->sampleIndex]);
  }
  if (shown < n.excluded.size())
    words += ", and " + std::to_string(n.excluded.size() - shown) + " more";
  return words + ")";
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
      if (c.outcome == Outcome::kFail && !c.analystExcluded) c.excluded = anyFailed = true;
    }
    if (anyFailed) {
      rv.fit = fitIncluded(w);
      evaluateCalibrators(w);
      for (size_t i = 0; i < rv.calibrators.size(); ++i) {
        if (passedBefore[i] && rv.calibrators[i].outcome != Outcome::kPass) cascade = true;
      }
    }
  }
  const std::string limit = ">= " + pct(100 * w.config.minPassFraction) +
                            " of calibrators, >= " + std::to_string(w.config.minPassLevels) +
                            " levels";
  const Counts n = countCalibrators(w);
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
    message = countSummary(n);
  } else if (meetsAcceptance(w, true) && (rv.fit.ok || rv.fit.points < rv.calibrators.size())) {
    outcome = Outcome::kNotEvaluable;
    message = rv.fit.ok ? "calibrators with missing values decide the curve: " + countSummary(n)
                        : "the curve cannot be fitted because values are missing: " + rv.fit.error;
  } else if (!rv.fit.ok) {
    outcome = Outcome::kFail;
    message = "the curve cannot be fitted: " + rv.fit.error;
  } else {
    outcome = Outcome::kFail;
    message = acceptanceShortfall(w, n);
  }
  rv.curveAccepted = outcome == Outcome::kPass;
  const std::string curve = std::string(toString(w.config.model)) + ", " +
                            weightWords(w.config.weight) + ", from " + w.config.modelSource;
  rv.checks.push_back(makeCheck(outcome, "calibration.curve", "CAL_CURVE",
                                "calibration curve " + std::string(toString(outcome)) + " (" +
                                    curve + "): " + message + exclusionWords(w, n),
                                countSummary(n), limit, DispositionKind::kReject));
}

void addCalibratorChecks(Work& w) {
  const CalibrationConfig& cfg = w.config;
  for (const CalibratorReview& c : w.review.calibrators) {
    // The analyst's exclusions are listed in the CAL_CURVE finding, not one by one.
    if (c.outcome == Outcome::kPass || c.analystExcluded) continue;
    std::string window =
        c.lloqLevel ? num(cfg.lloqAccuracyLowPct) + "-" + num(cfg.lloqAccuracyHighPct) + "%"
                    : num(cfg.accuracyLowPct) + "-" + num(cfg.accuracyHighPct) + "%";
    if (c.outcome == Outcome::kNotEvaluable) {
      w.review.checks.push_back(makeCheck(
          Outcome::kNotEvaluable, "calibration.accuracy", "CAL_ACCURACY",
          calibratorWords(w, c) + ": accuracy cannot be evaluated (nominal, response or curve "
                                  "missing)",
          "", window));
      continue;
    }
    // A failing calibrator is flagged (WARN); its consequence is the curve's acceptance.
    w.review.checks.push_back(makeCheck(Outcome::kWarn, "calibration.accuracy", "CAL_ACCURACY",
                                        calibratorWords(w, c) + " at " + num(*c.nominal) +
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
      sc.vendorColumn = "Calc. Conc.";
    } else if (r->peak && present(r->peak->finalConcentration)) {
      // Final Conc. = calculated × dilution: back to the injection's concentration.
      sc.vendor = r->peak->finalConcentration;
      if (present(s.dilution) && *s.dilution > 0) *sc.vendor /= *s.dilution;
      sc.vendorColumn = "Final Conc.";
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
  // Which blank follows the top calibrator depends on the injection order; without one, the
  // batch's RUN_ORDER_UNKNOWN finding already says that carryover was not evaluated (one finding
  // for the reviewer, not one more per analyte).
  if (!w.batch.listedInRunOrder) return;
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
    w.review.checks.push_back(makeCheck(
        Outcome::kNotEvaluable, "calibration.carryover", "CARRYOVER",
        "carryover not evaluated: no blank is injected right after the highest calibrator (a "
        "batch design matter for the reviewer; results after one above the ULOQ are judged by "
        "CARRYOVER_SUSPECT)"));
  }
}

/// §2.1 independent recomputation over calibrators and patient samples that carry the vendor's
/// concentration: the largest relative difference decides.
void addVendorCheck(Work& w) {
  double worst = -1;
  std::string worstId;
  const char* worstColumn = "";
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
      worstId = injectionOf(w.batch.samples[sc.sampleIndex]);
      worstColumn = sc.vendorColumn;
    }
  }
  const std::string limit = "<= " + pct(100 * w.config.vendorMismatchMaxFraction);
  const char* rule = "calibration.vendor_mismatch";
  if (worst > w.config.vendorMismatchMaxFraction) {
    w.review.checks.push_back(
        makeCheck(Outcome::kFail, rule, "VENDOR_CALC_MISMATCH",
                  "our back-calculation differs from the vendor's " + std::string(worstColumn) +
                      " by up to " + pct(100 * worst) + " (" + worstId + "), limit " +
                      pct(100 * w.config.vendorMismatchMaxFraction) + " (curve " +
                      toString(w.config.model) + ", " + weightWords(w.config.weight) + ")",
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

/// The included calibrators as points (the fit's input).
std::vector<CalPoint> includedPoints(const Work& w) {
  std::vector<CalPoint> points;
  for (const CalibratorReview& c : w.review.calibrators) {
    if (!c.excluded && c.nominal && c.response) points.push_back({*c.nominal, *c.response});
  }
  return points;
}

/// CAL_NONLINEAR: a linear curve refitted with a quadratic term (same points, same weighting);
/// when the top level's mean back-calculated accuracy moves by more than nonlinearityMaxFraction
/// of nominal, the curvature matters there. WARN (a flag for the reviewer).
void addNonlinearityCheck(Work& w) {
  const CalibrationFit& line = w.review.fit;
  if (!line.ok || line.model == CalibrationModel::kQuadratic) return;
  std::vector<CalPoint> points = includedPoints(w);
  std::set<double> levels;
  for (const CalPoint& p : points) levels.insert(p.x);
  if (levels.size() < 4) return;  // a quadratic through 3 levels always fits: nothing to learn
  CalibrationFit quad = fitCalibration(points, CalibrationModel::kQuadratic, w.config.weight);
  if (!quad.ok) return;
  const double top = *levels.rbegin();
  double linSum = 0, quadSum = 0;
  size_t n = 0;
  for (const CalPoint& p : points) {
    if (p.x != top) continue;
    BackCalculation a = backCalculate(line, p.y);
    BackCalculation b = backCalculate(quad, p.y);
    if (!a.concentration || !b.concentration) continue;
    linSum += 100.0 * *a.concentration / top;
    quadSum += 100.0 * *b.concentration / top;
    ++n;
  }
  if (n == 0) return;
  const double linAcc = linSum / static_cast<double>(n);
  const double quadAcc = quadSum / static_cast<double>(n);
  const double moved = std::fabs(linAcc - quadAcc);
  const double limit = 100 * w.config.nonlinearityMaxFraction;
  if (moved <= limit) return;
  w.review.checks.push_back(
      makeCheck(Outcome::kWarn, "calibration.nonlinearity", "CAL_NONLINEAR",
                "the curve bends at the top: with a quadratic term the top calibrator (" +
                    num(top) + ") back-calculates to " + pct(quadAcc) + " instead of " +
                    pct(linAcc) + " (" + num(moved) + " points, limit " + num(limit) +
                    "); check the method's curve type, or detector saturation",
                pct(moved), "<= " + pct(limit)));
}

std::optional<double> isAreaOrDerived(const Result* r) {
  if (!r || !r->peak) return std::nullopt;
  const Peak& p = *r->peak;
  if (present(p.internalStandardArea)) return p.internalStandardArea;
  // IS area = analyte area ÷ the vendor's response ratio (area/IS area).
  if (present(p.area) && present(p.responseRatio) && *p.responseRatio > 0) {
    return *p.area / *p.responseRatio;
  }
  return std::nullopt;
}

/// CAL_TOP_IS_SUPPRESSED: the median IS area of the top-level calibrators against the median of
/// the other calibrators (at least two of them). WARN below topIsMinFraction.
void addTopIsCheck(Work& w) {
  std::optional<double> top;
  for (const CalibratorReview& c : w.review.calibrators) {
    if (c.nominal && (!top || *c.nominal > *top)) top = c.nominal;
  }
  if (!top) return;
  std::vector<double> topAreas, others;
  for (const CalibratorReview& c : w.review.calibrators) {
    std::optional<double> is =
        isAreaOrDerived(findAnalyteResult(w.batch.samples[c.sampleIndex], w.analyte));
    if (!is || !c.nominal) continue;
    (*c.nominal == *top ? topAreas : others).push_back(*is);
  }
  if (topAreas.empty() || others.size() < 2) return;
  const double ref = median(others);
  if (ref <= 0) return;
  const double ratio = median(topAreas) / ref;
  if (ratio >= w.config.topIsMinFraction) return;
  w.review.checks.push_back(
      makeCheck(Outcome::kWarn, "calibration.top_is", "CAL_TOP_IS_SUPPRESSED",
                "the internal standard at the top calibrator (" + num(*top) + ") is at " +
                    pct(100 * ratio) + " of the other calibrators' median IS area, limit " +
                    pct(100 * w.config.topIsMinFraction) +
                    ": ion suppression or saturation at the top of the curve",
                pct(100 * ratio), ">= " + pct(100 * w.config.topIsMinFraction)));
}

/// An export whose calibrator concentrations lie a factor ≥ kImplausibleFactor from their
/// nominal (median over ≥ 3 calibrators) carries something else in its concentration column.
constexpr double kImplausibleFactor = 10.0;

void addPlausibilityCheck(Work& w) {
  std::vector<double> ratios;
  const char* column = "";
  for (const SampleConcentration& sc : w.review.samples) {
    if (sc.kind != SampleKind::kCalibrator || !sc.vendor) continue;
    for (const CalibratorReview& c : w.review.calibrators) {
      if (c.sampleIndex != sc.sampleIndex || !c.nominal || *c.nominal <= 0) continue;
      ratios.push_back(*sc.vendor / *c.nominal);
      column = sc.vendorColumn;
    }
  }
  if (ratios.size() < 3) return;
  const double m = median(ratios);
  if (m < kImplausibleFactor && m > 1.0 / kImplausibleFactor) return;
  const std::string why = "the export's " + std::string(column) + " of the calibrators is " +
                          num(m) + "× their nominal concentration (median of " +
                          std::to_string(ratios.size()) +
                          "): the column probably holds areas or another quantity";
  w.review.checks.push_back(
      makeCheck(Outcome::kNotEvaluable, "calibration.export", "EXPORT_IMPLAUSIBLE",
                why + "; re-export from the quantitation software", num(m) + "x nominal",
                "within " + num(kImplausibleFactor) + "x of nominal"));
  // The values the LIS would receive come from that column: nothing is judged, nothing released.
  markReexport(w.review, why, true);
}

/// CARRYOVER_SUSPECT (spec §2.4): results right after one above the ULOQ, in injection order.
void addCarryoverSuspects(Work& w) {
  CalibrationReview& rv = w.review;
  if (!rv.uloq) return;  // no accepted range: the curve's verdict already holds the results
  const char* rule = "calibration.carryover_suspect";
  const char* code = "CARRYOVER_SUSPECT";
  std::map<size_t, const SampleConcentration*> bySample;
  std::vector<const SampleConcentration*> above;
  // High: above the ULOQ, or above the lab's carryover threshold when that is lower.
  const double high = w.config.carryoverHighThreshold
                          ? std::min(*w.config.carryoverHighThreshold, *rv.uloq)
                          : *rv.uloq;
  for (const SampleConcentration& sc : rv.samples) {
    bySample[sc.sampleIndex] = &sc;
    // A calibrator's carryover is what the blank after the top calibrator measures.
    if (sc.kind == SampleKind::kCalibrator) continue;
    const std::optional<double> x =
        sc.backCalculated.concentration ? sc.backCalculated.concentration : sc.vendor;
    if (x && *x > high) above.push_back(&sc);
  }
  const std::string limit =
      high < *rv.uloq ? "carryover threshold " + num(high) + " (ULOQ " + num(*rv.uloq) + ")"
                      : "ULOQ " + num(*rv.uloq);
  auto patientAtRisk = [](const SampleConcentration& sc) {
    return sc.kind == SampleKind::kUnknown && sc.range != RangePosition::kBelowLloq;
  };
  if (!w.batch.listedInRunOrder) {
    if (above.empty()) return;
    size_t held = 0;
    for (const SampleConcentration& sc : rv.samples) {
      if (!patientAtRisk(sc)) continue;
      ++held;
      rv.sampleChecks.push_back(
          {sc.sampleIndex,
           makeCheck(Outcome::kNotEvaluable, rule, code,
                     "carryover from a result above the ULOQ cannot be excluded: the injection "
                     "order is unknown (see the batch finding)",
                     "", limit)});
    }
    if (held == 0) return;  // nobody to hold: nothing for the reviewer either
    rv.checks.push_back(makeCheck(
        Outcome::kNotEvaluable, rule, code,
        std::to_string(above.size()) +
            " injection(s) above the ULOQ in a batch whose injection order is unknown: the "
            "results after them cannot be found; " +
            std::to_string(held) + " result(s) at or above the LLOQ held",
        std::to_string(above.size()) + " above ULOQ", limit));
    return;
  }
  const double k = w.config.carryoverSuspectFactor;
  for (const SampleConcentration* prev : above) {
    auto next = bySample.find(prev->sampleIndex + 1);
    if (next == bySample.end() || !patientAtRisk(*next->second)) continue;
    const SampleConcentration& sc = *next->second;
    const double cPrev =
        prev->backCalculated.concentration ? *prev->backCalculated.concentration : *prev->vendor;
    const std::optional<double> x =
        sc.backCalculated.concentration ? sc.backCalculated.concentration : sc.vendor;
    // With a measured carryover fraction and carryover_suspect_always off, only a result the
    // predicted carryover could make up ≥ 1/k of is suspect; otherwise every result at or above
    // the LLOQ is.
    const bool always = w.config.carryoverSuspectAlways;
    if (!always && rv.carryoverFraction && x && *x >= cPrev * *rv.carryoverFraction * k) continue;
    std::string why = "injected right after " + injectionOf(w.batch.samples[prev->sampleIndex]) +
                      ", which is " +
                      (cPrev > *rv.uloq ? num(cPrev / *rv.uloq) + "x the ULOQ"
                                        : "above the carryover threshold " + num(high)) +
                      ": possible carryover; reinject";
    if (always) {
      why += " (the blank after the ULOQ calibrator measures carryover up to the ULOQ only)";
    } else if (rv.carryoverFraction) {
      why += " (predicted carryover ≥ 1/" + num(k) + " of this result, carryover fraction " +
             pct(100 * *rv.carryoverFraction) + ")";
    } else {
      why += " (no carryover fraction measured in this batch)";
    }
    rv.sampleChecks.push_back(
        {sc.sampleIndex, makeCheck(Outcome::kFail, rule, code, why,
                                   num(cPrev / *rv.uloq) + "x ULOQ before", limit)});
  }
  if (rv.carryoverFraction) return;
  // No blank after the top calibrator measured carryover: a patient right after a top-level
  // calibrator is the one result that carryover from it could reach unseen.
  std::optional<double> top;
  for (const CalibratorReview& c : rv.calibrators) {
    if (c.nominal && (!top || *c.nominal > *top)) top = c.nominal;
  }
  for (const CalibratorReview& c : rv.calibrators) {
    if (!top || c.nominal != top) continue;
    auto next = bySample.find(c.sampleIndex + 1);
    if (next == bySample.end() || !patientAtRisk(*next->second)) continue;
    rv.sampleChecks.push_back(
        {next->second->sampleIndex,
         makeCheck(Outcome::kFail, rule, code,
                   "injected right after " + injectionOf(w.batch.samples[c.sampleIndex]) +
                       ", the top calibrator (" + num(*top) +
                       "), and no blank after the top calibrator measured carryover in this "
                       "batch: possible carryover; reinject",
                   "top calibrator before", limit)});
  }
}

}  // namespace

void markReexport(CalibrationReview& review, const std::string& why, bool evenIfAccepted) {
  for (CheckResult& c : review.checks) {
    if (c.ruleId != "calibration.curve") continue;
    if (c.outcome == Outcome::kPass && !evenIfAccepted) return;
    // "calibration curve FAIL (…): why" becomes "calibration curve NOT_EVALUABLE: <export>; …
    // As exported: FAIL (…): why".
    const std::string prefix = "calibration curve ";
    std::string asExported =
        c.message.rfind(prefix, 0) == 0 ? c.message.substr(prefix.size()) : c.message;
    c.outcome = Outcome::kNotEvaluable;
    c.onFail = DispositionKind::kHold;
    c.message = prefix;
    c.message += toString(Outcome::kNotEvaluable);
    c.message += ": ";
    c.message += why;
    c.message += "; re-export from the quantitation software (a re-run would not help). ";
    c.message += "As exported: ";
    c.message += asExported;
  }
  review.curveAccepted = false;
  review.lloq.reset();
  review.uloq.reset();
}

CheckResult checkExportComplete(const Message& batch) {
  std::map<std::string, size_t> injectionsOf;  // analyte → injections carrying it
  std::vector<std::pair<const Sample*, size_t>> analytesOf;
  for (const Sample& s : batch.samples) {
    std::set<std::string> codes;
    for (const Result& r : s.results) {
      if (!r.internalStandard) codes.insert(r.instrumentCode);
    }
    if (codes.empty()) continue;
    for (const std::string& c : codes) ++injectionsOf[c];
    analytesOf.emplace_back(&s, codes.size());
  }
  CheckResult ok;
  ok.ruleId = "calibration.export";
  ok.code = "EXPORT_INCOMPLETE";
  ok.subject = "batch";
  if (analytesOf.size() < 3) return ok;
  // Exactly one injection short of analytes that every other injection carries.
  size_t most = 0;
  for (const auto& a : analytesOf) most = std::max(most, a.second);
  std::vector<const std::pair<const Sample*, size_t>*> shortSamples;
  for (const auto& a : analytesOf) {
    if (a.second < most) shortSamples.push_back(&a);
  }
  if (shortSamples.size() == 1) {
    ok.outcome = Outcome::kNotEvaluable;
    ok.message = injectionOf(*shortSamples[0]->first) + " carries " +
                 std::to_string(shortSamples[0]->second) + " of the " + std::to_string(most) +
                 " analytes every other injection carries: the export looks cut off or "
                 "incomplete";
    ok.measured = std::to_string(shortSamples[0]->second) + " analytes";
    ok.limit = std::to_string(most) + " analytes";
    return ok;
  }
  if (injectionsOf.size() < 3) return ok;
  size_t widest = 0;
  for (const auto& [code, n] : injectionsOf) widest = std::max(widest, n);
  std::vector<std::pair<std::string, size_t>> narrow;
  for (const auto& [code, n] : injectionsOf) {
    if (n < widest) narrow.emplace_back(code, n);
  }
  if (narrow.size() == 1) {
    ok.outcome = Outcome::kNotEvaluable;
    ok.message = narrow[0].first + " is in " + std::to_string(narrow[0].second) + " of the " +
                 std::to_string(widest) +
                 " injections every other analyte is in: the export looks cut off or incomplete";
    ok.measured = std::to_string(narrow[0].second) + " injections";
    ok.limit = std::to_string(widest) + " injections";
  }
  return ok;
}

CalibrationReview reviewCalibration(const Message& batch, const std::string& analyte,
                                    const CalibrationConfig& config) {
  Work w{batch, analyte, config, {}};
  w.review.analyte = analyte;
  collectCalibrators(w);
  reviewCurve(w);
  addCalibratorChecks(w);
  addRSquaredCheck(w);
  addNonlinearityCheck(w);
  addTopIsCheck(w);
  setRange(w);
  readBackSamples(w);
  addPlausibilityCheck(w);
  BlankReferences refs = blankReferences(w);
  addBlankChecks(w, refs);
  addCarryoverChecks(w, refs);
  addCarryoverSuspects(w);
  // An implausible export has no meaningful vendor concentrations to compare with.
  const bool implausible =
      std::any_of(w.review.checks.begin(), w.review.checks.end(),
                  [](const CheckResult& c) { return c.code == "EXPORT_IMPLAUSIBLE"; });
  if (!implausible) addVendorCheck(w);
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
