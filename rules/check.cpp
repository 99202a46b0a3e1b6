#include "rules/check.h"

#include <charconv>

namespace labgate::rules {

const char* toString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass:
      return "PASS";
    case Outcome::kWarn:
      return "WARN";
    case Outcome::kFail:
      return "FAIL";
    case Outcome::kNotEvaluable:
      return "NOT_EVALUABLE";
  }
  return "NOT_EVALUABLE";
}

std::optional<Finding> toFinding(const CheckResult& check, bool warnHolds) {
  if (check.outcome == Outcome::kPass) return std::nullopt;
  Finding f;
  f.ruleId = check.ruleId.empty() ? check.code : check.ruleId;
  f.subject = check.subject;
  f.message = check.code.empty() ? check.message : check.code + ": " + check.message;
  f.measured = check.measured;
  f.limit = check.limit;
  switch (check.outcome) {
    case Outcome::kWarn:
      f.severity = warnHolds ? Severity::kWarning : Severity::kInfo;
      f.action = warnHolds ? DispositionKind::kHold : DispositionKind::kRelease;
      break;
    case Outcome::kFail:
      f.severity = Severity::kError;
      f.action = check.onFail;
      break;
    case Outcome::kNotEvaluable:
      f.severity = Severity::kWarning;
      f.action = DispositionKind::kHold;
      break;
    case Outcome::kPass:
      break;
  }
  return f;
}

std::string num(double value) {
  // std::to_chars (shortest round-trip machinery) rather than snprintf: every check formats its
  // numbers, and a plate of 96 × 50 results runs tens of thousands of checks.
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general, 6);
  if (ec != std::errc()) return "?";
  return std::string(buf, end);
}

std::string injectionOf(const Sample& sample) {
  if (sample.injection) return "injection " + std::to_string(*sample.injection);
  std::string text = "sample ";
  text += sample.sampleId;
  return text;
}

}  // namespace labgate::rules
