#include "rules/autoverify.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <type_traits>
#include <utility>

namespace labgate::rules {
namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> flagTokens(const std::string& flags) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : flags) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == ';' || c == '|') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::optional<double> parseNumber(const std::string& text) {
  std::string t = trim(text);
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

/// One batch gate: FAIL asks for `onFail`; unset is NOT_EVALUABLE under its own code
/// (`notEvaluableCode`), never the failure's (a QC that could not be evaluated was not rejected).
CheckResult gate(bool full, const char* ruleId, const char* code, const char* notEvaluableCode,
                 const std::optional<bool>& passed, const char* what, const std::string& why,
                 DispositionKind onFail) {
  if (!passed) {
    std::string message = std::string(what) + " could not be evaluated";
    message += why.empty() ? std::string(": the result holds") : ": " + why;
    return resultCheck(full, ruleId, notEvaluableCode, Outcome::kNotEvaluable, std::move(message));
  }
  return resultCheck(
      full, ruleId, code, *passed ? Outcome::kPass : Outcome::kFail,
      [&] {
        std::string message = std::string(what) + (*passed ? " accepted" : " not accepted");
        if (!*passed && !why.empty()) message += ": " + why;
        return message;
      },
      std::nullopt, std::nullopt, onFail);
}

template <class Add>
void batchGates(bool full, const BatchGates& g, Add&& add) {
  add(gate(full, "autoverify.calibration", "CAL_REJECTED", "CAL_NOT_EVALUABLE",
           g.calibrationAccepted, "calibration", g.calibrationWhy, DispositionKind::kReject));
  add(gate(full, "autoverify.qc", "QC_REJECTED", "QC_NOT_EVALUABLE", g.qcAccepted, "QC", g.qcWhy,
           DispositionKind::kReject));
  add(gate(full, "autoverify.qc_bracketing", "QC_NOT_BRACKETED", "QC_BRACKETING_NOT_EVALUABLE",
           g.qcBracketing, "QC bracketing", g.qcBracketingWhy, DispositionKind::kHold));
  add(gate(full, "autoverify.blanks", "BLANK_CARRYOVER", "BLANK_NOT_EVALUABLE", g.blanksAccepted,
           "blanks and carryover", g.blanksWhy, DispositionKind::kHold));
  add(gate(full, "autoverify.sst", "SST_FAIL", "SST_NOT_EVALUABLE", g.sstAccepted,
           "system suitability", g.sstWhy, DispositionKind::kHold));
}

/// The one step a result without a numeric value gets instead of the five value steps.
CheckResult noValue(bool full) {
  return resultCheck(full, "autoverify.value", "NO_VALUE", Outcome::kNotEvaluable,
                     "the result has no numeric value: the measuring range, absurd and critical "
                     "limits, reference interval and delta check cannot be applied");
}

CheckResult measuringRange(bool full, double x, const AnalyteLimits& l, AutoverifyDecision& d) {
  const char* id = "autoverify.measuring_range";
  if (!l.lloq || !l.uloq) {
    std::string why;
    if (l.rangeSource.empty()) {
      why = "no calibration curve and no configured LLOQ/ULOQ: the measuring range is unknown";
    } else {
      why = std::string("the measuring range is unknown: no ") +
            (!l.lloq && !l.uloq ? "LLOQ/ULOQ"
             : !l.lloq          ? "LLOQ"
                                : "ULOQ") +
            " from " + l.rangeSource;
    }
    return resultCheck(full, id, "MEASURING_RANGE", Outcome::kNotEvaluable, std::move(why), x);
  }
  if (x < *l.lloq) {
    d.displayValue = "<" + valueText(*l.lloq);
    return resultCheck(
        full, id, "BELOW_LLOQ", Outcome::kPass,
        [&] {
          return "result " + num(x) + " below the LLOQ " + num(*l.lloq) + ": reported as <LLOQ";
        },
        x, l.lloq);
  }
  if (x > *l.uloq) {
    d.displayValue = ">" + valueText(*l.uloq);
    return resultCheck(
        full, id, "DILUTE_AND_RERUN", Outcome::kFail,
        "result " + num(x) + " above the ULOQ " + num(*l.uloq) + ": dilute and re-run", x, l.uloq);
  }
  return resultCheck(full, id, "MEASURING_RANGE", Outcome::kPass, "within the measuring range", x,
                     l.uloq);
}

CheckResult absurd(bool full, double x, const AnalyteLimits& l) {
  const char* id = "autoverify.absurd";
  if (l.absurdLow && x < *l.absurdLow)
    return resultCheck(full, id, "IMPLAUSIBLE_RESULT", Outcome::kFail,
                       "result " + num(x) + " below the absurd low limit " + num(*l.absurdLow), x,
                       l.absurdLow);
  if (l.absurdHigh && x > *l.absurdHigh)
    return resultCheck(full, id, "IMPLAUSIBLE_RESULT", Outcome::kFail,
                       "result " + num(x) + " above the absurd high limit " + num(*l.absurdHigh), x,
                       l.absurdHigh);
  return resultCheck(full, id, "IMPLAUSIBLE_RESULT", Outcome::kPass,
                     l.absurdLow || l.absurdHigh ? "plausible" : "no absurd limits configured");
}

CheckResult critical(bool full, double x, const AnalyteLimits& l, const AutoverifyConfig& c,
                     AutoverifyDecision& d) {
  const char* id = "autoverify.critical";
  if (!l.criticalLow && !l.criticalHigh)
    return resultCheck(full, id, "CRITICAL_VALUE",
                       c.requireCriticalLimits ? Outcome::kNotEvaluable : Outcome::kPass,
                       "no critical limits configured");
  bool low = l.criticalLow && x < *l.criticalLow;
  bool high = l.criticalHigh && x > *l.criticalHigh;
  if (!low && !high) return resultCheck(full, id, "CRITICAL_VALUE", Outcome::kPass, "not critical");
  d.notify = true;
  d.flag = low ? "LL" : "HH";
  Outcome o = c.criticalReleaseAndNotify ? Outcome::kWarn : Outcome::kFail;
  double limit = low ? *l.criticalLow : *l.criticalHigh;
  return resultCheck(
      full, id, "CRITICAL_VALUE", o,
      "result " + num(x) +
          (low ? " below the critical low limit " : " above the critical high limit ") +
          num(limit) + ": notify immediately",
      x, limit);
}

CheckResult reference(bool full, double x, const Result& r, const AnalyteLimits& l,
                      AutoverifyDecision& d) {
  const char* id = "autoverify.reference";
  auto lo = l.referenceLow, hi = l.referenceHigh;
  if (!lo && !hi) parseReferenceRange(r.referenceRange, lo, hi);
  if (!lo && !hi)
    return resultCheck(full, id, "REFERENCE_INTERVAL", Outcome::kPass, "no reference interval");
  bool low = lo && x < *lo;
  bool high = hi && x > *hi;
  if (!low && !high)
    return resultCheck(full, id, "REFERENCE_INTERVAL", Outcome::kPass, "within the interval");
  if (d.flag.empty()) d.flag = low ? "L" : "H";
  return resultCheck(
      full, id, "REFERENCE_INTERVAL", Outcome::kWarn,
      "result " + num(x) +
          (low ? " below the reference interval's low end " + num(*lo) + " (flag L)"
               : " above the reference interval's high end " + num(*hi) + " (flag H)"),
      x, low ? lo : hi);
}

CheckResult vendorFlags(bool full, const Result& r, const AutoverifyConfig& c) {
  const char* id = "autoverify.vendor_flags";
  auto benign = [&](const std::string& t) {
    return std::any_of(c.benignVendorFlags.begin(), c.benignVendorFlags.end(),
                       [&](const std::string& b) { return upper(b) == upper(t); });
  };
  std::vector<std::string> open;
  if (r.peak && !r.peak->vendorFlags.empty())
    for (const std::string& t : flagTokens(r.peak->vendorFlags))
      if (!benign(t)) open.push_back(t);
  if (c.commentIsVendorMessage && !r.comment.empty()) {
    std::string comment = trim(r.comment);
    if (!comment.empty() && !benign(comment)) open.push_back(comment);
  }
  if (open.empty())
    return resultCheck(full, id, "VENDOR_FLAG", Outcome::kPass, "no unmapped vendor flag");
  std::string list;
  for (const std::string& t : open) list += (list.empty() ? "'" : ", '") + t + "'";
  return resultCheck(full, id, "VENDOR_FLAG", Outcome::kFail,
                     "vendor flag(s) not mapped to a benign code: " + list);
}

CheckResult delta(bool full, double value, const std::optional<PreviousResult>& previous,
                  const DeltaConfig& config) {
  const char* id = "autoverify.delta";
  if (!previous) return resultCheck(full, id, "DELTA_CHECK", Outcome::kPass, "no previous result");
  if (previous->ageDays > config.windowDays)
    return resultCheck(full, id, "DELTA_CHECK", Outcome::kPass,
                       "previous result outside the delta window");
  double diff = std::fabs(value - previous->value);
  DeltaMode mode = config.mode;
  if (mode == DeltaMode::kAuto)
    mode = config.cvAnalyticalPct && config.cvIntraIndividualPct ? DeltaMode::kRcv
                                                                 : DeltaMode::kPercent;
  if (mode == DeltaMode::kAbsolute) {
    if (!config.absolute)
      return resultCheck(full, id, "DELTA_CHECK", Outcome::kNotEvaluable,
                         "no absolute delta configured");
    return resultCheck(full, id, "DELTA_CHECK",
                       diff > *config.absolute ? Outcome::kFail : Outcome::kPass,
                       "absolute change of " + num(diff) + " vs the previous result, limit " +
                           num(*config.absolute),
                       diff, config.absolute);
  }
  double limit = config.pct;
  if (mode == DeltaMode::kRcv) {
    if (!config.cvAnalyticalPct || !config.cvIntraIndividualPct)
      return resultCheck(full, id, "DELTA_CHECK", Outcome::kNotEvaluable, "RCV needs CVa and CVi");
    double a = *config.cvAnalyticalPct, i = *config.cvIntraIndividualPct;
    limit = std::sqrt(2.0) * config.z * std::sqrt(a * a + i * i);
  }
  if (previous->value == 0)
    return resultCheck(full, id, "DELTA_CHECK", Outcome::kNotEvaluable,
                       "previous result is 0: no percent change");
  double pct = 100 * diff / std::fabs(previous->value);
  return resultCheck(
      full, id, "DELTA_CHECK", pct > limit ? Outcome::kFail : Outcome::kPass,
      [&] {
        return "change of " + num(pct) + " % vs the previous result, limit " + num(limit) + " %" +
               (mode == DeltaMode::kRcv ? " (RCV)" : "");
      },
      pct, limit);
}

/// The action of one check, as toFinding gives it, without building the Finding.
DispositionKind actionOf(const CheckResult& check, bool warnHolds) {
  switch (check.outcome) {
    case Outcome::kPass:
      return DispositionKind::kRelease;
    case Outcome::kWarn:
      return warnHolds ? DispositionKind::kHold : DispositionKind::kRelease;
    case Outcome::kFail:
      return check.onFail;
    case Outcome::kNotEvaluable:
      return DispositionKind::kHold;
  }
  return DispositionKind::kHold;
}

}  // namespace

DispositionKind dispositionOf(const CheckResult& check, bool warnHolds) {
  return actionOf(check, warnHolds);
}

bool parseReferenceRange(const std::string& text, std::optional<double>& low,
                         std::optional<double>& high) {
  std::string t = trim(text);
  if (t.empty()) return false;
  auto bound = [&](size_t skip) { return parseNumber(t.substr(skip)); };
  if (t[0] == '<' || t[0] == '>') {
    size_t skip = t.size() > 1 && t[1] == '=' ? 2 : 1;
    auto v = bound(skip);
    if (!v) return false;
    (t[0] == '<' ? high : low) = v;
    return true;
  }
  size_t dash = t.find('-', 1);  // after a leading minus sign
  if (dash == std::string::npos) return false;
  auto a = parseNumber(t.substr(0, dash));
  auto b = parseNumber(t.substr(dash + 1));
  if (!a || !b || *a > *b) return false;
  low = a;
  high = b;
  return true;
}

CheckResult checkDelta(double value, const std::optional<PreviousResult>& previous,
                       const DeltaConfig& config) {
  return delta(true, value, previous, config);
}

AutoverifyDecision autoverify(const Result& result, const BatchGates& gates,
                              const std::vector<CheckResult>& peakChecks,
                              const AnalyteLimits& limits,
                              const std::optional<PreviousResult>& previous,
                              const AutoverifyConfig& config,
                              const std::optional<SpecimenIntegrity>& specimen,
                              PassingChecks passingChecks) {
  AutoverifyDecision d;
  const bool full = passingChecks == PassingChecks::kReported;
  if (full) d.checks.reserve(peakChecks.size() + 12);
  // Each step's action is taken as it is added: the disposition is the worst, the first hard
  // failure the first step that does not release.
  auto add = [&](auto&& c, bool holdOnWarn = false) {
    if (!full && c.outcome == Outcome::kPass) return;
    DispositionKind k = actionOf(c, holdOnWarn);
    if (k != DispositionKind::kRelease && !d.firstHardFailure) d.firstHardFailure = d.checks.size();
    d.disposition = std::max(d.disposition, k);
    d.checks.push_back(std::forward<decltype(c)>(c));
  };
  if (!config.enabled)
    add(resultCheck(full, "autoverify.enabled", "AUTOVERIFY_DISABLED", Outcome::kFail,
                    "autoverification switched off"));
  batchGates(full, gates, add);
  for (const CheckResult& c : peakChecks) {
    // Peak warnings hold only when the rule set says so, and then the finding says why.
    const bool peakWarn = c.outcome == Outcome::kWarn && c.ruleId.rfind("peak.", 0) == 0;
    if (peakWarn && config.holdOnPeakWarn) {
      CheckResult held = c;
      held.message += "; held: peak warnings hold patient results (autoverify.hold_on_peak_warn)";
      add(std::move(held), true);
    } else {
      add(c);
    }
  }
  std::optional<double> x = result.numeric;
  if (x && !std::isfinite(*x)) x.reset();
  if (!x) add(noValue(full));
  if (x) add(measuringRange(full, *x, limits, d));
  if (specimen)
    add(resultCheck(
        full, "autoverify.specimen", "SPECIMEN_INTEGRITY",
        specimen->acceptable ? Outcome::kPass : Outcome::kFail,
        specimen->acceptable ? "specimen acceptable" : "specimen: " + specimen->reason));
  if (x) {
    add(absurd(full, *x, limits));
    add(critical(full, *x, limits, config, d));
    add(reference(full, *x, result, limits, d));
    add(delta(full, *x, previous, limits.delta));
  }
  add(vendorFlags(full, result, config));
  return d;
}

}  // namespace labgate::rules
