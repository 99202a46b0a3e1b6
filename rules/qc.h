// QC review of one batch (../shared/spec/analytics.md §3): per analyte, the accuracy of every QC
// injection, bioanalytical run acceptance (§3.1), the Westgard multirules on the QC history
// (§3.2, rules/westgard.h), bracketing of the patient injections by passing QC (§3.6); plus the
// pieces a lab uses around it: establishing QC targets (§3.3), the sigma metric and the rule set
// it suggests (§3.4).
//
// Pure functions, structs in and structs out. The caller (the pipeline) supplies the prior history
// and the targets from the store and appends the new values this review returns; nothing here
// reads or writes anything.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "rules/check.h"
#include "rules/stats.h"
#include "rules/westgard.h"

namespace labgate::rules {

// --- Batch review ----------------------------------------------------------------------------

struct QcAcceptanceOptions {
  double accuracyLow = 85;  // percent of nominal; a value exactly on a limit passes
  double accuracyHigh = 115;
  double lloqAccuracyLow = 80;
  double lloqAccuracyHigh = 120;
  std::vector<std::string> lloqLevels = {"LLOQ"};  // QC levels (case-insensitive) run at the LLOQ
  /// Run acceptance: passing/all ≥ minPassNumerator/minPassDenominator (2/3) overall, and
  /// passing ≥ half at each level.
  int minPassNumerator = 2;
  int minPassDenominator = 3;
};

/// The established (or provisional) target of one control material.
struct QcTarget {
  std::string analyte;
  std::string level;
  std::string lot;  // empty: any lot of this analyte and level
  double mean = 0;
  double sd = 0;
  bool provisional = false;
};

/// What the store knows before this batch: prior QC values (any series; runs before this one) and
/// the targets.
struct QcHistory {
  std::vector<QcValue> values;
  std::vector<QcTarget> targets;
};

struct QcReviewOptions {
  QcAcceptanceOptions acceptance;
  bool applyWestgard = true;  // clinical mode: the statistical rules in addition (§3.1)
  WestgardOptions westgard;
  std::string instrument;  // the instrument the batch ran on (part of the series key)
  std::string method;      // method version (part of the series key)
  int run = 0;             // this batch's run index in the history, after every prior one
};

/// The Westgard series key of an analyte on an instrument and method version.
std::string qcSeriesKey(const std::string& analyte, const std::string& instrument,
                        const std::string& method);

/// One QC injection of one analyte. `sampleIndex` indexes Message::samples.
struct QcInjection {
  size_t sampleIndex = 0;
  std::string sampleId;
  std::string
      injection;  // "sample QC_Low_3, injection 17" (no injection number: "sample QC_Low_3")
  /// The sample's Level; without one, the level its nominal concentration names ("QC 25 ng/mL":
  /// QCs of one analyte with the same nominal, to 3 significant figures, are one level).
  std::string level;
  std::string lot;
  bool lloq = false;
  std::optional<double> observed;  // the result's concentration
  std::optional<double> nominal;
  std::optional<double> accuracy;  // percent of nominal (computed, else the vendor's)
  Outcome outcome = Outcome::kNotEvaluable;
};

/// What QC means for one patient injection of one analyte: released as far as QC goes, HOLD (not
/// bracketed, or QC not evaluable), or REJECT_RERUN (run rejected, or after a failed QC).
struct SampleDisposition {
  size_t sampleIndex = 0;
  std::string sampleId;
  std::string analyte;
  DispositionKind kind = DispositionKind::kRelease;
  CheckResult reason;  // ruleId "qc.bracketing" or "qc.run": why (outcome kPass when released)
};

struct AnalyteQcReview {
  std::string analyte;
  std::string series;
  /// The run for this analyte: PASS, FAIL (acceptance or Westgard rejected it) or NOT_EVALUABLE
  /// (no QC, or no target for a QC level).
  Outcome outcome = Outcome::kNotEvaluable;
  std::vector<QcInjection> injections;  // in injection order
  std::optional<RunDecision> westgard;
  std::vector<QcValue> newValues;  // this batch's QC values, to append to the history
  std::vector<CheckResult> checks;
};

struct QcReview {
  std::vector<AnalyteQcReview> analytes;        // in order of first appearance in the batch
  std::vector<CheckResult> checks;              // every analyte's checks, in the same order
  std::vector<SampleDisposition> dispositions;  // every patient injection × analyte
};

/// Reviews the QC of a batch. QC samples are SampleKind::kQc, patient samples kUnknown; the order
/// of Message::samples is the injection order when Message::listedInRunOrder is true (the rule
/// engine sorts the batch first); when it is false bracketing is not evaluable and every patient
/// not already re-run for a rejected run is held (QC_NOT_BRACKETED). An analyte is a result's
/// instrumentCode; internal-standard results are skipped. A QC sample without a Level takes the
/// level of its nominal concentration (QcInjection::level), so each level is judged on its own.
///
/// Checks (subject "analyte"): "qc.accuracy" per QC injection (QC_ACCURACY; a FAIL holds);
/// "qc.run_acceptance" (QC_RUN_ACCEPTANCE, FAIL → re-run; NOT_EVALUABLE QC_MISSING when an
/// analyte has patients but no QC); "qc.westgard.<rule>" per rejecting rule (QC_<RULE>, FAIL →
/// re-run) and for the 1_2s warning (WARN); "qc.target" (QC_TARGET_MISSING → NOT_EVALUABLE,
/// QC_TARGET_PROVISIONAL → WARN).
QcReview reviewQc(const Message& batch, const QcHistory& history, const QcReviewOptions& options);

// --- Bracketing (§3.6) ------------------------------------------------------------------------

enum class InjectionRole { kPatient, kQc, kOther };

/// One injection in injection order: a patient sample, a QC injection with its outcome, or
/// anything else (calibrators, blanks), which neither brackets nor splits a QC evaluation.
struct BracketInput {
  InjectionRole role = InjectionRole::kOther;
  Outcome qcOutcome = Outcome::kPass;
};

enum class BracketVerdict {
  kNotPatient,
  kBracketed,     // the QC evaluations before and after it both pass
  kNotBracketed,  // no QC evaluation before or after it, or one is not evaluable: HOLD
  kAfterFailure,  // after the last passing QC evaluation before a failed one: REJECT_RERUN
};

/// A QC evaluation is a group of QC injections with no patient between them; it fails if one of
/// them fails, is not evaluable if one is (and none fails), else passes. Given the first failed
/// evaluation, every patient after the last passing evaluation before it is kAfterFailure
/// (patients after a later passing evaluation included: the batch is re-run from the last good
/// QC). One verdict per input.
std::vector<BracketVerdict> bracketPatients(std::span<const BracketInput> injections);

// --- Targets (§3.3) ---------------------------------------------------------------------------

struct TargetOptions {
  size_t minValues = 20;  // fewer values (after outlier removal) → provisional
  size_t minRuns = 20;    // when runs are known
  size_t minDays = 10;    // when days are known
  double outlierSd = 3;   // removed once, strictly beyond
};

/// A QC value for target establishment; run and day < 0 when unknown.
struct TargetPoint {
  double value = 0;
  int run = -1;
  int day = -1;  // e.g. days since an epoch
};

struct QcTargetEstimate {
  Summary summary;              // of the values kept
  std::vector<size_t> removed;  // input indexes removed as outliers
  size_t runs = 0;              // distinct runs among the kept values (0: unknown)
  size_t days = 0;              // distinct days among the kept values (0: unknown)
  bool provisional = true;
  std::string why;  // what makes it provisional ("12 values < 20"), empty otherwise
};

QcTargetEstimate establishTarget(std::span<const TargetPoint> points,
                                 const TargetOptions& options = {});
QcTargetEstimate establishTarget(std::span<const double> values, const TargetOptions& options = {});

/// The chance that at least one of analytes·levels independent controls falsely rejects:
/// 1 − (1 − pFalseReject)^(analytes·levels).
double familyFalseRejection(double pFalseReject, int analytes, int levels);

// --- Sigma metric (§3.4) ----------------------------------------------------------------------

/// σ = (TEa% − |bias%|)/CV%; NaN when CV% is not positive or a number is not finite.
double sigmaMetric(double teaPercent, double biasPercent, double cvPercent);

/// The Westgard Sigma Rules suggestion for 2 (or 3) control levels: the rules and N measurements
/// per run over R runs; `methodUnacceptable` below 3 sigma. A suggestion only: a human applies it.
struct RuleSuggestion {
  std::vector<WestgardRule> rules;
  int measurements = 0;     // N
  int runs = 0;             // R
  std::string alternative;  // e.g. "N=2, R=2"
  bool methodUnacceptable = false;
};

/// For a NaN sigma: no rules, methodUnacceptable false (not evaluable; see checkSigma).
RuleSuggestion suggestRules(double sigma, int levels = 2);

/// "qc.sigma": PASS at ≥ 3 sigma, FAIL METHOD_UNACCEPTABLE_PERFORMANCE below (holds),
/// NOT_EVALUABLE for NaN.
CheckResult checkSigma(double sigma);

}  // namespace labgate::rules
