// Calibration review (../shared/spec/analytics.md §2): fitting a calibration curve (linear,
// linear through the origin, quadratic; weights none, 1/x, 1/x², 1/y, 1/y²) by weighted least
// squares (rules/linalg), back-calculating concentrations, and reviewing one analyte of a batch:
// calibrator accuracy and curve acceptance, R², the reportable range, blanks, carryover and the
// vendor's own calculation. Pure functions over the model: no I/O, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/model.h"
#include "rules/check.h"

namespace labgate::rules {

enum class CalibrationModel { kLinear, kLinearThroughOrigin, kQuadratic };
enum class CalibrationWeight { kNone, kInverseX, kInverseX2, kInverseY, kInverseY2 };

/// "linear", "linear_through_origin", "quadratic".
const char* toString(CalibrationModel model);
/// "none", "1/x", "1/x2", "1/y", "1/y2".
const char* toString(CalibrationWeight weight);
/// Accepts toString's names and "linear-origin"; nullopt for anything else.
std::optional<CalibrationModel> parseCalibrationModel(std::string_view text);
/// Accepts toString's names and "1/x^2", "1/x²", "1/y^2", "1/y²"; nullopt for anything else.
std::optional<CalibrationWeight> parseCalibrationWeight(std::string_view text);

/// The vendor's curve as an export states it (Message::curves), read into our terms. A field the
/// export leaves empty stays unset (the rule set's setting applies); `problem` says why a stated
/// curve cannot be used (a model or weighting this engine cannot fit, a forced or included origin
/// on a quadratic), in which case the curve cannot be judged as the lab's.
struct VendorCurve {
  std::optional<CalibrationModel> model;
  std::optional<CalibrationWeight> weight;
  std::string problem;
};

/// Reads the vendor's words, case-insensitively: model "Linear", "Quadratic" ("Linear through
/// zero"/"through origin" too); weighting "None"/"Equal", "1/X", "1/X^2" ("1/x2", "1/x²"), "1/Y",
/// "1/Y^2"; origin "Exclude"/"Ignore"/"" (the curve has its intercept), "Force" (through the
/// origin: linear only). "Include" (the origin as an extra point) is not fitted: a problem.
VendorCurve readVendorCurve(const ExportCurve& curve);

/// One calibration point: nominal concentration x and response y.
struct CalPoint {
  double x = 0.0;
  double y = 0.0;
};

/// A fitted curve. When `ok`, `coefficients` is intercept first (b0, b1[, b2]); for a line
/// through the origin it holds b1 only (no intercept element). `intercept`, `slope` and
/// `curvature` repeat them (0 where the model has none).
struct CalibrationFit {
  bool ok = false;
  std::string error;  // why there is no curve, when !ok
  CalibrationModel model = CalibrationModel::kLinear;
  CalibrationWeight weight = CalibrationWeight::kNone;
  std::vector<double> coefficients;
  double intercept = 0.0;
  double slope = 0.0;
  double curvature = 0.0;
  /// Weighted R² (§2.1): centred on the weighted mean for models with an intercept (R lm());
  /// uncentred (Σw·y² in the denominator) through the origin, as R lm() and NIST StRD NoInt do.
  double rSquared = 0.0;
  double residualSd = 0.0;  // √(Σw·e²/(n − p)), s(y.x) for unit weights
  size_t points = 0;
  double xMin = 0.0;  // calibrated range of x, for the quadratic root branch
  double xMax = 0.0;

  /// The response the curve predicts at concentration x.
  double responseAt(double x) const;
};

/// The number of parameters of a model (2, 1, 3).
size_t parameterCount(CalibrationModel model);

/// The weight of a point; nullopt when it is undefined (x or y ≤ 0 for an x- or y-based weight).
std::optional<double> calibrationWeight(CalibrationWeight weight, const CalPoint& point);

/// Fits y = f(x) by weighted least squares (QR, never normal equations). Fails (ok = false, with
/// `error`) for fewer points than parameters, a weight that is undefined for a point, non-finite
/// values or a rank-deficient design (e.g. all x equal).
CalibrationFit fitCalibration(const std::vector<CalPoint>& points, CalibrationModel model,
                              CalibrationWeight weight);

/// The same with explicit weights, one per point (each finite and > 0), e.g. 1/s² per level;
/// `weight` of the result stays kNone.
CalibrationFit fitCalibration(const std::vector<CalPoint>& points, CalibrationModel model,
                              const std::vector<double>& weights);

/// A concentration read back from the curve, or why there is none.
struct BackCalculation {
  std::optional<double> concentration;
  std::string problem;  // set when concentration is absent
};

/// x̂ for response y (§2.1). Linear: (y − b0)/b1. Quadratic: the root of b2·x² + b1·x + b0 − y
/// on the side of the vertex −b1/(2·b2) that holds the calibrators (for b1 > 0 the "+" root);
/// discriminant < 0 → no concentration; |b2| < 1e-12·|b1|/x_max → the linear formula.
BackCalculation backCalculate(const CalibrationFit& fit, double y);

/// Defaults of §10. Limits are percentages of nominal or fractions as named.
struct CalibrationConfig {
  CalibrationModel model = CalibrationModel::kLinear;  // simplest adequate model [STD: ICH M10]
  CalibrationWeight weight = CalibrationWeight::kInverseX2;  // usual for LC-MS/MS [PRACTICE]
  double accuracyLowPct = 85.0;  // calibrator accuracy window, % of nominal [FDA 2018; ICH M10]
  double accuracyHighPct = 115.0;
  double lloqAccuracyLowPct = 80.0;  // at the lowest nominal level
  double lloqAccuracyHighPct = 120.0;
  double minPassFraction = 0.75;  // of the non-zero calibrators
  size_t minPassLevels = 6;       // distinct concentration levels with ≥ 1 passing calibrator
  double rSquaredMin = 0.995;     // below: WARN (FAIL when rSquaredFails)
  bool rSquaredFails = false;
  bool autoExclude = false;            // exclude failing calibrators once and refit
  double blankMaxLloqFraction = 0.20;  // blank analyte area / mean LLOQ area
  double blankIsMaxFraction = 0.05;    // double-blank IS area / IS_ref
  double carryoverMaxLloqFraction = 0.20;
  double carryoverIsMaxFraction = 0.05;
  double vendorMismatchMaxFraction = 0.01;  // |ours − vendor|/|vendor|
  /// CAL_NONLINEAR (a linear model only): refitting the same points with a quadratic term moves
  /// the top level's back-calculated accuracy by more than this (fraction of nominal). [PROJECT]
  double nonlinearityMaxFraction = 0.10;
  /// CAL_TOP_IS_SUPPRESSED: the top level's median IS area below this fraction of the other
  /// calibrators' median IS area (suppression or saturation at the top of the curve). [PROJECT]
  double topIsMinFraction = 0.70;
  /// CARRYOVER_SUSPECT (spec §2.4): a result right after one above the ULOQ is held when it is at
  /// or above the LLOQ and below C_prev · CO · k (CO: the measured carryover fraction; every such
  /// result when CO was not measured). This is k.
  double carryoverSuspectFactor = 5.0;
  /// Hold every result at or above the LLOQ right after one above the ULOQ, whatever the measured
  /// carryover: the blank after the ULOQ calibrator measures carryover up to the ULOQ, not from
  /// the result above it (the clinical default). False: spec §2.4's C_prev · CO · k test only.
  bool carryoverSuspectAlways = true;
  /// A lab-set concentration above which a result counts as high for CARRYOVER_SUSPECT, besides
  /// the ULOQ (the lower of the two wins): the result injected right after one above it is held.
  /// Unset: the ULOQ only. [PROJECT, issue 19]
  std::optional<double> carryoverHighThreshold;
  /// Where `model`/`weight` came from, said in the CAL_CURVE finding ("the rule set's default",
  /// "the rule set (analytes.X.calibration)", "the export").
  std::string modelSource = "the rule set's default";

  CalibrationConfig() = default;
};

/// §2.2 for one calibrator: PASS when the accuracy lies within the window (the LLOQ window at the
/// lowest level), limits included; FAIL outside.
Outcome calibratorAccuracyOutcome(double accuracyPct, bool lloqLevel,
                                  const CalibrationConfig& config);

/// One calibrator injection of the reviewed analyte.
struct CalibratorReview {
  size_t sampleIndex = 0;  // position in Message::samples (injection order)
  std::string sampleId;
  std::string level;
  std::optional<double> nominal;   // Peak::expectedConcentration, else Sample::nominalConcentration
  std::optional<double> response;  // see calibrationResponse()
  std::optional<double> backCalculated;
  std::optional<double> accuracyPct;  // 100·x̂/nominal
  bool lloqLevel = false;             // at the lowest non-zero nominal level
  bool excluded = false;              // left out of the final fit (the analyst's or auto_exclude)
  bool analystExcluded = false;       // Peak::excludedFromCurve: counts as not accepted
  std::optional<int64_t> injection;   // Sample::injection
  Outcome outcome = Outcome::kNotEvaluable;  // its accuracy check
};

/// Where a concentration lies against the batch's reportable range (§2.3).
enum class RangePosition { kBelowLloq, kInRange, kAboveUloq, kUnknown };

/// Any sample's result for the analyte, read back from the final curve.
struct SampleConcentration {
  size_t sampleIndex = 0;
  std::string sampleId;
  SampleKind kind = SampleKind::kUnknown;
  std::optional<double> response;
  BackCalculation backCalculated;
  /// The vendor's concentration of this injection: Calc. Conc., else Final Conc. ÷ dilution
  /// (Final Conc. as is without a dilution); `vendorColumn` names which.
  std::optional<double> vendor;
  const char* vendorColumn = "";
  RangePosition range = RangePosition::kUnknown;
};

/// A check that concerns one injection's result of the analyte (CARRYOVER_SUSPECT).
struct SampleCheck {
  size_t sampleIndex = 0;
  CheckResult check;
};

/// The review of one analyte in one batch.
struct CalibrationReview {
  std::string analyte;
  CalibrationFit fit;  // the final curve (after the auto_exclude refit, if any)
  std::vector<CalibratorReview> calibrators;
  bool curveAccepted = false;
  std::optional<double> lloq;  // lowest / highest accepted calibrator level
  std::optional<double> uloq;
  std::optional<double> carryoverFraction;  // area(blank after ULOQ)/area(ULOQ)
  std::vector<SampleConcentration> samples;
  /// calibration.curve (CAL_CURVE, onFail REJECT_RERUN; NOT_EVALUABLE "re-export" when the export
  /// is implausible), calibration.accuracy (CAL_ACCURACY, one per calibrator that did not pass,
  /// the analyst's exclusions aside), calibration.r_squared (CAL_R2), calibration.nonlinearity
  /// (CAL_NONLINEAR), calibration.top_is (CAL_TOP_IS_SUPPRESSED), calibration.export
  /// (EXPORT_IMPLAUSIBLE), calibration.blank (BLANK_INTERFERENCE, one per blank),
  /// calibration.carryover (CARRYOVER), calibration.carryover_suspect (CARRYOVER_SUSPECT: the
  /// batch summary), calibration.vendor_mismatch (VENDOR_CALC_MISMATCH). Subject "analyte".
  std::vector<CheckResult> checks;
  /// calibration.carryover_suspect per result that did not pass (subject "result").
  std::vector<SampleCheck> sampleChecks;

  /// The check for the curve (calibration.curve); every patient result of the analyte takes its
  /// Finding.
  const CheckResult* curveCheck() const;
};

/// The analyte's result in a sample (instrument code or LIS code equal to `analyte`, not an
/// internal-standard result); nullptr when the sample has none.
const Result* findAnalyteResult(const Sample& sample, const std::string& analyte);

/// The response of a result: Peak::responseRatio, else area/IS area when both are present and the
/// IS area is not 0, else area.
std::optional<double> calibrationResponse(const Result& result);

/// Reviews one analyte of a batch (§2.1–2.4): fits the calibrators (non-zero nominal, in
/// injection order), checks their accuracy and the curve's acceptance, R², the reportable range,
/// the blanks and carryover, and compares our back-calculation with the vendor's.
CalibrationReview reviewCalibration(const Message& batch, const std::string& analyte,
                                    const CalibrationConfig& config = CalibrationConfig());

/// Turns the curve verdict into NOT_EVALUABLE (hold) that says "re-export": the export itself is
/// implausible or incomplete (`why`), so a re-run would not help. A PASS is left alone unless
/// `evenIfAccepted` (the export's values themselves cannot be trusted); the range is cleared.
void markReexport(CalibrationReview& review, const std::string& why, bool evenIfAccepted = false);

/// Whether the export looks cut off or incomplete: exactly one injection carries fewer analytes
/// than all the others (a file cut in the middle of a sample's rows), or exactly one analyte is in
/// fewer injections than all the others (a file cut in the middle of a compound block). PASS, or
/// NOT_EVALUABLE (code EXPORT_INCOMPLETE) saying what is missing. Needs ≥ 3 injections and,
/// for the compound check, ≥ 3 analytes.
CheckResult checkExportComplete(const Message& batch);

/// §2.3 for one concentration: in range → PASS; below the LLOQ → PASS (report "< LLOQ", never a
/// number); above the ULOQ → FAIL DILUTE_AND_RERUN (HOLD); no range or no value → NOT_EVALUABLE.
CheckResult checkReportableRange(const CalibrationReview& review,
                                 const std::optional<double>& concentration);

/// The slope tracked between batches (§2.5): b1 for a line, the derivative b1 + 2·b2·x_mid at the
/// middle of the calibrated range for a quadratic; NaN without a curve.
double trackedSlope(const CalibrationFit& fit);

/// §2.5 SLOPE_SHIFT: `slope` against the last accepted batches' slopes (`history`, oldest first;
/// the last `window` are used). WARN when outside mean ± 3·SD or more than `maxChangeFraction`
/// from their median; PASS otherwise; NOT_EVALUABLE with fewer than 2 history values (a history
/// too short to judge, not a pass) or a missing slope.
CheckResult checkSlopeShift(double slope, const std::vector<double>& history, size_t window = 20,
                            double maxChangeFraction = 0.30);

/// §2.5 CONSIDER_QUADRATIC_OR_SATURATION: the accuracy (%) of the top calibrator in recent linear
/// batches, oldest first; WARN when the last `runLength` are all below `lowPct`.
CheckResult checkTopCalibratorBias(const std::vector<double>& topAccuracyPct, size_t runLength = 3,
                                   double lowPct = 90.0);

}  // namespace labgate::rules
