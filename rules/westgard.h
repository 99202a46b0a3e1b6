// Westgard multirules over a QC history (../shared/spec/analytics.md §3.2, §3.5): which runs
// the configured rules reject, which warn, and whether the error looks random or systematic.
//
// A history is a list of QcValues. `series` groups the values that the across-level scope looks at
// together (one analyte on one instrument and method version); (series, level, lot) is one control
// material, the within-level scope. Chronological order is run, then the configured level order,
// then seq_in_run. Every run of every series is judged with the values up to and including it,
// and a rule fires for run k only through a window that holds a value of run k (old violations
// never re-reject). Pure functions; no state.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace labgate::rules {

enum class WestgardRule {
  k1_2s,
  k1_3s,
  k2_2s,
  kR_4s,
  k4_1s,
  k10_x,
  k8_x,
  k12_x,
  k9_x,
  k2of3_2s,
  k3_1s,
  k6_x,
};

/// The rule's name as Westgard writes it: "1_2s", "R_4s", "2of3_2s", "10_x".
const char* toString(WestgardRule rule);

/// What the rule asks, in a reviewer's words: "one value beyond ±3 SD".
const char* meaningOf(WestgardRule rule);

/// The rule for a name as toString writes it (case-insensitive: "r_4s" works); nullopt otherwise.
std::optional<WestgardRule> parseWestgardRule(std::string_view name);

/// The default set for two control levels (N = 2): 1_3s, 2_2s, R_4s, 4_1s, 10_x (§10).
std::vector<WestgardRule> defaultWestgardRules();

/// The default set for three control levels (N = 3): 1_3s, 2of3_2s, R_4s, 3_1s, 6_x (§10).
std::vector<WestgardRule> defaultWestgardRulesN3();

/// One QC measurement. z = (value − targetMean)/targetSd.
struct QcValue {
  std::string series;  // analyte + instrument (+ method version): the across-level group
  std::string level;   // control level ("L1", "L2", ...)
  std::string lot;     // control material lot: a new lot starts a new within-level history
  int run = 0;         // chronological run index
  int seqInRun = 0;    // order within the run (replicates of one level)
  /// Where the value was measured, for a reviewer ("injection 17"); empty for a stored value.
  std::string injection;
  double value = 0;
  double targetMean = 0;
  double targetSd = 0;
  bool excluded = false;  // documented error: skipped by every window

  /// NaN when the SD is not positive or a number is not finite.
  double z() const;
};

enum class R4sMode {
  kStrict,  // one value > +2 SD and another < −2 SD in the same run (the default)
  kRange,   // the range of the run's z-values > 4 SD
};

struct WestgardOptions {
  /// The rejection rules. 1_2s, if listed, is ignored here: it is always a warning.
  std::vector<WestgardRule> rules = defaultWestgardRules();
  /// The manual flowchart's gate: evaluate the rejection rules only in a run with a 1_2s warning.
  bool use12sGate = false;
  R4sMode r4sMode = R4sMode::kStrict;
  /// The order of levels inside a run for the across-level scope; levels not listed follow in the
  /// order in which they first appear in the history.
  std::vector<std::string> levelOrder;
};

/// One rule firing: which rule, in which scope ("run", "level L1", "across levels") and the
/// values it saw, as words for a reviewer.
struct RuleHit {
  WestgardRule rule = WestgardRule::k1_3s;
  std::string scope;
  std::string detail;
};

/// Likely error type (§3.5): 1_3s and R_4s point to random error; 2_2s, 4_1s, n_x, 2of3_2s and
/// 3_1s to systematic error.
enum class ErrorHint { kNone, kRandom, kSystematic, kRandomAndSystematic };

const char* toString(ErrorHint hint);

/// The verdict for one run of one series.
struct RunDecision {
  std::string series;
  int run = 0;
  bool rejected = false;
  std::vector<WestgardRule> rejects;   // distinct, in the order of WestgardRule
  std::vector<WestgardRule> warnings;  // 1_2s
  std::vector<RuleHit> hits;           // every firing, rejects and warnings
  ErrorHint hint = ErrorHint::kNone;
  size_t valuesEvaluated = 0;  // values of this run with a z (excluded and invalid ones not)
  size_t valuesInvalid = 0;    // values of this run without a z (SD ≤ 0, not finite)
};

/// Judges every (series, run) in `history`, in the order each first appears there. Values with
/// an invalid z count in `valuesInvalid` and are otherwise skipped like excluded ones.
std::vector<RunDecision> evaluateWestgard(std::span<const QcValue> history,
                                          const WestgardOptions& options = {});

/// The decision for one run of one series (an empty decision when the history has none of it).
RunDecision evaluateWestgardRun(std::span<const QcValue> history, const std::string& series,
                                int run, const WestgardOptions& options = {});

/// The same, on values given by address (e.g. one series picked out of a larger history without
/// copying it).
RunDecision evaluateWestgardRun(std::span<const QcValue* const> history, const std::string& series,
                                int run, const WestgardOptions& options = {});

/// Rule names joined by `separator` ("1_3s;R_4s").
std::string joinRules(const std::vector<WestgardRule>& rules, std::string_view separator = ";");

}  // namespace labgate::rules
