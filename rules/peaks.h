// Peak validation for one analyte in one injection (../shared/spec/analytics.md §1): retention
// time window, qualifier/quantifier ion ratio, S/N at the LLOQ, peak shape and width, internal-
// standard response, saturation, "not found" handling and integration provenance. Each check is a
// pure function of the Peak, the batch references (computeBatchReferences) and a PeakConfig, and
// returns a CheckResult (subject "result", ruleId "peak.*"). Limits are strict (§0): a value
// exactly on a limit passes; a value the check needs that is missing gives NOT_EVALUABLE.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "rules/check.h"

namespace labgate::rules {

/// How the RT window is measured (§1.1).
enum class RtMode {
  kRelative,    // |RT − RT_ref|/RT_ref ≤ rtRelTol
  kAbsolute,    // |RT − RT_ref| ≤ rtAbsTolMin
  kRelativeRt,  // RRT = RT/RT_IS, |RRT − RRT_ref|/RRT_ref ≤ rtRelTol
};

/// Tunables of the peak checks; the defaults are those of §10. Per-analyte overrides are the
/// caller's job (copy and change).
struct PeakConfig {
  RtMode rtMode = RtMode::kRelative;
  double rtRelTol = 0.025;
  double rtAbsTolMin = 0.1;
  /// A configured ("manual") reference ion ratio; when unset, the batch calibrator mean is used.
  std::optional<double> ionRatioReference;
  /// A flat relative tolerance (e.g. 0.30 for SANTE/11312/2021) instead of the §1.2 table.
  std::optional<double> ionRatioFlatTol;
  double ionRatioMinCalibratorSn = 10;  // calibrators below this S/N are left out of IR_ref
  double snPass = 10;                   // S/N ≥ this passes
  double snFail = 5;                    // S/N < this fails (LLOQ calibrator)
  double tailingMin = 0.8;
  double tailingMax = 2.0;
  double widthRatioMin = 0.5;
  double widthRatioMax = 2.0;
  double isWindowLowPct = 50;
  double isWindowHighPct = 150;
  double isCvWarnPct = 15;
  double isCvFailPct = 25;
  double doubleBlankIsMaxPct = 5;
  double uloqHeightFactor = 1.2;
  /// Clinical mode: a manual integration on a patient result holds (FAIL, HOLD); otherwise it is
  /// a WARN asking for reviewer attribution.
  bool manualIntegrationHolds = true;
  /// A patient peak that was not found counts as "not detected" (PASS) when the IS passed and
  /// the caller confirms the RT window was searched; otherwise NOT_EVALUABLE (HOLD).
  bool rtWindowSearched = false;
  /// Vendor flag tokens (case-insensitive) that mean detector saturation.
  std::vector<std::string> saturationFlags = {"SAT", "SATURATED", "SATURATION"};
  /// Which checks checkPeak runs. The rule set switches a check off with `check_<name>: false` or
  /// by listing it in `not_applicable` (the method declares it does not apply to the analyte);
  /// the engine switches off a check the export cannot feed, and holds the patient results it
  /// would have judged (NOT_EVALUABLE) unless the rule set declared it not applicable.
  bool checkRt = true;
  bool checkIsRt = true;
  bool checkIonRatio = true;
  bool checkSignalToNoise = true;
  bool checkShape = true;
  bool checkWidth = true;
  bool checkIsResponse = true;
  bool checkSaturation = true;
};

/// The batch references of one analyte (§1.1, §1.2, §1.5, §1.6, §1.7), from its calibrators and
/// QCs. Every field is unset when the batch gives no value for it.
struct AnalyteReference {
  std::optional<double> meanCalibratorRt;
  std::optional<double> meanCalibratorIsRt;
  std::optional<double> meanCalibratorRrt;
  std::optional<double> meanCalibratorIonRatio;
  std::optional<double> meanIsArea;  // accepted calibrators and QCs
  /// The IS reference (§1.6): the median IS area of the accepted calibrators and QCs. A median,
  /// not the mean, so that the top calibrators (whose IS is often suppressed or enhanced) do not
  /// move it.
  std::optional<double> medianIsArea;
  /// The matrix-matched IS reference for patients: the median IS area of the batch's QCs (spiked
  /// into the patients' matrix), when at least two QCs carry one; else unset (patients are then
  /// compared with medianIsArea).
  std::optional<double> qcMedianIsArea;
  std::optional<double> isAreaCvPct;             // CV% of the IS area over calibrators and QCs
  std::optional<double> medianCalibratorIsArea;  // the inter-batch sensitivity metric (§4.5)
  std::optional<double> medianCalibratorWidth;
  std::optional<double> uloqCalibratorHeight;  // height at the highest calibrator level
  std::optional<double> expectedRt;            // from the method/export when the batch has none
  std::optional<double> expectedIsRt;
  size_t isAreaCount = 0;
};

/// References per analyte (keyed by Result::instrumentCode).
struct BatchReferences {
  std::map<std::string, AnalyteReference> analytes;
  /// The reference of `analyte`, or an empty one.
  AnalyteReference of(const std::string& analyte) const;
};

/// Which calibrator/QC results count as accepted (default: all of them).
using AcceptedPredicate = std::function<bool(const Sample&, const Result&)>;

/// Means/medians of the calibrators and QCs of `message` per analyte (IS results, flagged
/// Result::internalStandard, are skipped as analytes). IR_ref leaves out calibrators whose S/N is
/// below config.ionRatioMinCalibratorSn.
BatchReferences computeBatchReferences(const Message& message, const PeakConfig& config = {},
                                       const AcceptedPredicate& accepted = nullptr);

/// The maximum relative ion-ratio deviation for reference ratio `irRef` (§1.2 table, or the
/// flat tolerance when configured).
double ionRatioTolerance(double irRef, const PeakConfig& config = {});

/// The peak's ion ratio qualifier/quantifier: Peak::ionRatio, else qualifierArea over
/// quantifierArea (or area).
std::optional<double> ionRatioOf(const Peak& peak);

/// The analyte's RT vs the reference RT (§1.1): mean calibrator RT, else the expected RT.
CheckResult checkRtWindow(const Peak& peak, const AnalyteReference& ref, const PeakConfig& config);

/// The IS RT vs the calibrators' mean IS RT (§1.1), ruleId "peak.is_rt_window".
CheckResult checkIsRtWindow(const Peak& peak, const AnalyteReference& ref,
                            const PeakConfig& config);

/// Ion ratio vs IR_ref (§1.2). A missing qualifier with a quantifier above the LLOQ fails; a
/// failure on a peak higher than the ULOQ calibrator gets code POSSIBLE_SATURATION.
CheckResult checkIonRatio(const Peak& peak, const AnalyteReference& ref, const PeakConfig& config,
                          std::optional<double> lloq = std::nullopt);

/// S/N (§1.3): the LLOQ calibrator passes at ≥ 10, warns at 5–10, fails below 5; a patient result
/// at or above the LLOQ warns below 10. nullopt when the check does not apply to this injection.
/// The patient's concentration is concentrationOf(peak, dilution): Calc. Conc., else Final Conc.
std::optional<CheckResult> checkSignalToNoise(const Peak& peak, SampleKind kind,
                                              bool isLloqCalibrator, const PeakConfig& config,
                                              std::optional<double> lloq = std::nullopt,
                                              std::optional<double> dilution = std::nullopt);

/// LLOQ response vs blank (§1.3): area(LLOQ) ≥ 5 × area(blank).
CheckResult checkLloqOverBlank(std::optional<double> lloqArea, std::optional<double> blankArea);

/// Tailing/asymmetry (§1.4): outside [0.8, 2.0] → WARN for patients, FAIL for cal/QC/SST.
CheckResult checkShape(const Peak& peak, SampleKind kind, const PeakConfig& config);

/// Width vs the calibrators' median width (§1.5): outside [0.5, 2.0]·W_ref → WARN/FAIL as shape.
CheckResult checkWidth(const Peak& peak, SampleKind kind, const AnalyteReference& ref,
                       const PeakConfig& config);

/// IS response (§1.6): 50–150 % of IS_ref; IS missing or 0 outside a double blank → FAIL with
/// REJECT_RERUN (code IS_MISSING); in a double blank the IS must be ≤ 5 % of IS_ref. IS_ref is
/// the median IS area of the calibrators and QCs; for a patient the QCs' median when the batch
/// has two or more QC IS areas (matrix-matched). Measured and limit in percent of IS_ref.
CheckResult checkIsResponse(const Peak& peak, SampleKind kind, const AnalyteReference& ref,
                            const PeakConfig& config);

/// Batch CV of the IS area over cal+QC (§1.6): ≤ 15 % PASS, ≤ 25 % WARN, above FAIL (subject
/// "batch").
CheckResult checkIsCv(const AnalyteReference& ref, const PeakConfig& config);

/// Saturation/over-range (§1.7): a vendor saturation flag → FAIL SATURATION; height above
/// 1.2 × the ULOQ calibrator's height or concentration above the ULOQ → FAIL DILUTE_AND_RERUN
/// (HOLD).
CheckResult checkSaturation(const Peak& peak, const AnalyteReference& ref, const PeakConfig& config,
                            std::optional<double> uloq = std::nullopt);

/// A peak without RT or area (§1.1): PASS on blanks; on a patient "not detected" (PASS) only when
/// `isPassed` and config.rtWindowSearched, else NOT_EVALUABLE; on cal/QC/SST FAIL.
CheckResult checkNotFound(const Peak& peak, SampleKind kind, bool isPassed,
                          const PeakConfig& config);

/// Whether the peak has both RT and area.
bool peakFound(const Peak& peak);

/// The concentration the peak checks compare with the LLOQ/ULOQ (on-column, the calibration's
/// scale): Calc. Conc. (Peak::calculatedConcentration); else Final Conc. ÷ the sample's dilution
/// when the dilution is known and > 0; else Final Conc. as is (a Final Conc. is never below the
/// calculated one, so a check that applies at or above the LLOQ applies at least as often).
std::optional<double> concentrationOf(const Peak& peak,
                                      std::optional<double> dilution = std::nullopt);

/// The peak checks the rule set can name (`not_applicable`) and the engine can find the export
/// unable to feed: "rt_window", "is_rt_window", "ion_ratio", "signal_to_noise", "shape",
/// "width", "is_response", "saturation" (each the check's ruleId without "peak.").
const std::vector<std::string>& peakCheckNames();

/// Switches the check named `name` (peakCheckNames) in `config`; false for an unknown name.
bool setPeakCheck(PeakConfig& config, const std::string& name, bool on);

/// Whether `config` runs the check named `name`.
bool peakCheckOn(const PeakConfig& config, const std::string& name);

/// Fills what the IS checks need where the export allows: first, on exports that give the IS as
/// its own result row, an analyte's missing IS area and IS RT from the row of the IS its peak
/// names (Peak::internalStandard) — or, when it names none and the batch has one IS only, that
/// IS — in the same sample; then Peak::internalStandardArea as
/// Area ÷ Peak::responseRatio for every analyte of which NO
/// injection carries an IS area but some carry area and response ratio (the vendor's response is
/// area/IS area up to a constant per analyte, e.g. the IS concentration, so every derived area of
/// one analyte shares one factor and the IS checks, which compare ratios, stay right; a batch
/// mixing real and derived areas would not, so an analyte with any real IS area is left alone).
/// Returns the analytes whose IS areas were derived from the response ratio.
std::vector<std::string> deriveInternalStandardAreas(Message& message);

/// The batch-level screen of the patients' IS response for one analyte (§1.6): when at least
/// `minPatients` patient injections carry an IS area and more than half of them fall outside
/// the IS window of the patients' reference (qcMedianIsArea, else medianIsArea), the calibrators
/// and QCs are probably not matrix-matched: FAIL IS_MATRIX_MISMATCH (ruleId
/// "peak.is_matrix_mismatch", subject "analyte", hold), stating how many fell outside and the
/// median patient IS as a percent of the reference. PASS otherwise (also with too few patients).
CheckResult checkIsMatrixMismatch(const Message& message, const std::string& analyte,
                                  const AnalyteReference& ref, const PeakConfig& config,
                                  size_t minPatients = 3);

/// Manual integration (§1.8): HOLD (FAIL) for patients in clinical mode, else WARN.
CheckResult checkManualIntegration(const Peak& peak, SampleKind kind, const PeakConfig& config);

/// What checkPeak needs to know about the injection beyond the peak.
struct PeakContext {
  SampleKind kind = SampleKind::kUnknown;
  bool isLloqCalibrator = false;
  std::optional<double> lloq;
  std::optional<double> uloq;
  /// The sample's dilution factor (Final Conc. ÷ dilution is compared with the LLOQ/ULOQ).
  std::optional<double> dilution;
  /// The analyte's patients mostly fall outside the IS window (checkIsMatrixMismatch): an IS
  /// response failure of a patient is written short and refers to the batch finding.
  bool isMatrixMismatch = false;
  /// kOmitted: checkPeak returns only the checks that did not pass.
  PassingChecks passingChecks = PassingChecks::kReported;
};

/// Every enabled §1 check on one result's peak, in the spec's order; a result without a peak
/// gives one NOT_EVALUABLE "peak.not_found". When the peak was not found only the not-found, IS
/// and manual-integration checks run.
std::vector<CheckResult> checkPeak(const Result& result, const AnalyteReference& ref,
                                   const PeakConfig& config, const PeakContext& context);

}  // namespace labgate::rules
