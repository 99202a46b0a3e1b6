// Per-result autoverification (../shared/spec/analytics.md §6, CLSI AUTO10-A/AUTO15): batch
// gates, peak gates, measuring range, specimen integrity, absurd limits, critical values,
// reference interval, delta check and vendor flags, in that order. Every step is evaluated and
// recorded even after the first hard failure; the disposition is the worst over all steps
// (REJECT_RERUN > HOLD > AUTO_VERIFIED). Pure: the caller applies the display value and flag.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "rules/check.h"

namespace labgate::rules {

/// Batch-level verdicts the caller computed (§2, §3, §2.4, §5). Unset = not evaluated, which
/// holds (missing never passes); a lab that runs no SST sets sstAccepted = true.
struct BatchGates {
  std::optional<bool> calibrationAccepted;  // failure → REJECT_RERUN
  std::optional<bool> qcAccepted;           // failure → REJECT_RERUN
  std::optional<bool> qcBracketing;         // accepted QC before and after this injection
  std::optional<bool> blanksAccepted;       // blanks and carryover
  std::optional<bool> sstAccepted;
  /// Why a gate left unset could not be evaluated, in a reviewer's words ("the batch has no QC
  /// injection for this analyte"): the NOT_EVALUABLE finding says it. Empty: "not evaluated".
  std::string calibrationWhy;
  std::string qcWhy;
  std::string qcBracketingWhy;
  std::string blanksWhy;
  std::string sstWhy;
};

enum class DeltaMode {
  kAuto,      // RCV when both CVs are configured, else percent
  kPercent,   // 100·|x − x_prev|/x_prev > pct
  kAbsolute,  // |x − x_prev| > absolute
  kRcv,       // |Δ%| > √2·z·√(CVa² + CVi²)
};

struct DeltaConfig {
  DeltaMode mode = DeltaMode::kAuto;
  double pct = 50;
  std::optional<double> absolute;
  std::optional<double> cvAnalyticalPct;
  std::optional<double> cvIntraIndividualPct;
  double z = 1.96;
  double windowDays = 30;
};

/// The same patient's previous result of this analyte and specimen type.
struct PreviousResult {
  double value = 0;
  double ageDays = 0;
};

/// Per-analyte limits. LLOQ/ULOQ come from the batch calibration; the reference interval falls
/// back to Result::referenceRange ("a-b", "<b", ">a") when unset.
struct AnalyteLimits {
  std::optional<double> lloq;
  std::optional<double> uloq;
  std::optional<double> referenceLow;
  std::optional<double> referenceHigh;
  std::optional<double> criticalLow;
  std::optional<double> criticalHigh;
  std::optional<double> absurdLow;
  std::optional<double> absurdHigh;
  DeltaConfig delta;
  /// Where lloq/uloq come from, for the measuring-range finding ("the batch calibration curve",
  /// "the rule set's limits.lloq/limits.uloq"); empty when neither a curve nor a configured range
  /// exists: the measuring range is unknown and the result holds (a missing value never passes).
  std::string rangeSource;
};

struct AutoverifyConfig {
  bool enabled = true;  // kill switch: false holds every result (AUTOVERIFY_DISABLED)
  /// "Release and notify" instead of the default HOLD on a critical value.
  bool criticalReleaseAndNotify = false;
  /// Critical limits must be configured (§10); without them the step is NOT_EVALUABLE (HOLD).
  bool requireCriticalLimits = true;
  /// A WARN from a peak check ("peak.*": S/N, shape, width, manual integration when it does not
  /// hold) holds a patient result, and its finding says so; by default it is a note.
  bool holdOnPeakWarn = false;
  /// Vendor flag tokens (case-insensitive) that are benign or handled elsewhere: TargetLynx
  /// integration types, and "MM" (manual integration, handled by peak.manual_integration).
  std::vector<std::string> benignVendorFlags = {"bb", "bv", "vb", "vv", "MM"};
  /// Result::comment carries the vendor's quantitation message (exports): non-empty holds
  /// unless benign.
  bool commentIsVendorMessage = true;
  /// System suitability (spec §5): a batch without an SST injection for the analyte is
  /// NOT_EVALUABLE (hold). Off: such a batch passes the SST gate; a failed SST injection holds
  /// either way.
  bool sstRequired = false;
};

/// Specimen integrity from the LIS/order (§6 step 4), when supplied.
struct SpecimenIntegrity {
  bool acceptable = true;
  std::string reason;  // "hemolysed", "too old", ...
};

struct AutoverifyDecision {
  std::vector<CheckResult> checks;  // every step, in order
  DispositionKind disposition = DispositionKind::kRelease;
  std::optional<size_t> firstHardFailure;  // index in checks of the first that holds/rejects
  std::string displayValue;                // "<0.5" / ">200"; empty = keep Result::value
  std::string flag;                        // "L", "H", "LL", "HH"; empty = none
  bool notify = false;                     // critical value: immediate notification
};

/// What one check asks of the result: PASS → release, WARN → release (hold when `warnHolds`),
/// FAIL → its onFail, NOT_EVALUABLE → hold.
DispositionKind dispositionOf(const CheckResult& check, bool warnHolds = false);

/// The reference interval of a Result::referenceRange text: "a-b", "<b", "<=b", ">a", ">=a".
bool parseReferenceRange(const std::string& text, std::optional<double>& low,
                         std::optional<double>& high);

/// The delta check alone (§6 step 8): PASS without a previous result or one outside the window.
CheckResult checkDelta(double value, const std::optional<PreviousResult>& previous,
                       const DeltaConfig& config);

/// Autoverifies one patient result (value: Result::numeric). A result with no numeric value gets
/// one NOT_EVALUABLE "autoverify.value" (NO_VALUE) step instead of one per value step. A batch
/// gate left unset is NOT_EVALUABLE with its own code (CAL_NOT_EVALUABLE, QC_NOT_EVALUABLE, ...)
/// and the reason BatchGates gives. With PassingChecks::kOmitted the
/// decision's checks are only the steps (and peak checks) that did not pass; the disposition,
/// display value, flag and notification are the same.
AutoverifyDecision autoverify(const Result& result, const BatchGates& gates,
                              const std::vector<CheckResult>& peakChecks,
                              const AnalyteLimits& limits,
                              const std::optional<PreviousResult>& previous = std::nullopt,
                              const AutoverifyConfig& config = {},
                              const std::optional<SpecimenIntegrity>& specimen = std::nullopt,
                              PassingChecks passingChecks = PassingChecks::kReported);

}  // namespace labgate::rules
