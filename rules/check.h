// What every analytics check returns (../shared/spec/analytics.md §0): an outcome, a reason code,
// and the numbers used, and how such an outcome becomes a Finding on a result, sample or batch.
// Pure value types; the numeric modules (calibration, qc, peaks, trend, autoverify) return
// CheckResults and the rule engine attaches the Findings.
#pragma once

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/model/model.h"

namespace labgate::rules {

/// PASS, WARN, FAIL or NOT_EVALUABLE (a value the check needs is missing: never a pass).
enum class Outcome { kPass, kWarn, kFail, kNotEvaluable };

const char* toString(Outcome outcome);

/// One check's verdict. `code` is the reason code of the spec (e.g. "RT_WINDOW", "ION_RATIO",
/// "CAL_ACCURACY", "QC_1_3S"), `ruleId` the configured rule (e.g. "peak.rt_window"); `measured`
/// and `limit` are numbers as text (never a patient value: these are peak and QC numbers).
struct CheckResult {
  Outcome outcome = Outcome::kPass;
  std::string ruleId;
  std::string code;
  std::string subject;  // "result", "sample", "analyte", "batch"
  std::string message;  // words for a reviewer: what was measured against what
  std::string measured;
  std::string limit;
  /// What a FAIL (or NOT_EVALUABLE on a patient result) asks for: hold or re-run.
  DispositionKind onFail = DispositionKind::kHold;
};

/// What a function that runs several checks returns for those that pass: every check written out
/// (message, measured, limit: the default, for a reviewer or a test looking at the passes), or
/// only the checks that did not pass, for a caller that keeps only findings (the rule engine: a
/// pass never becomes a finding, and a plate of 96 × 50 results runs tens of thousands of them).
enum class PassingChecks { kReported, kOmitted };

/// The Finding for a check that did not pass (nullopt for a pass): WARN → warning severity,
/// action hold only when `warnHolds`; FAIL → error severity, action `onFail`; NOT_EVALUABLE →
/// warning severity, action hold.
std::optional<Finding> toFinding(const CheckResult& check, bool warnHolds = false);

/// One result-level check's verdict (subject "result"). `message` is text or a callable that
/// builds it. With `full` false (the rule engine: passes are dropped) a PASS is the bare outcome,
/// its words and numbers neither built nor formatted — a plate of 96 × 50 results runs tens of
/// thousands of checks that pass; every other check, and every check with `full`, is written out.
template <class Text>
CheckResult resultCheck(bool full, const char* ruleId, const char* code, Outcome outcome,
                        Text&& message, std::optional<double> measured = std::nullopt,
                        std::optional<double> limit = std::nullopt,
                        DispositionKind onFail = DispositionKind::kHold);

/// A number as text at three significant figures, for findings (message, measured, limit):
/// "0.0523", "97.6", "113", "523000", "1.25e+06". Not for values sent to the LIS (valueText).
std::string num(double value);

/// Which injection a finding concerns, in a reviewer's words: "injection 17" (the export's
/// injection number, Sample::injection) or "sample <sampleId>" when the export gives none.
std::string injectionOf(const Sample& sample);
/// A value as text with up to 6 significant digits ("0.0625", "1250"): the display value of a
/// result ("<0.0625"), where three figures would change what the lab reports.
std::string valueText(double value);

template <class Text>
CheckResult resultCheck(bool full, const char* ruleId, const char* code, Outcome outcome,
                        Text&& message, std::optional<double> measured, std::optional<double> limit,
                        DispositionKind onFail) {
  CheckResult c;
  c.outcome = outcome;
  c.onFail = onFail;
  if (!full && outcome == Outcome::kPass) return c;
  c.ruleId = ruleId;
  c.code = code;
  c.subject = "result";
  if constexpr (std::is_invocable_v<Text&>) {
    c.message = message();
  } else {
    c.message = std::forward<Text>(message);
  }
  if (measured && std::isfinite(*measured)) c.measured = num(*measured);
  if (limit && std::isfinite(*limit)) c.limit = num(*limit);
  return c;
}

}  // namespace labgate::rules
