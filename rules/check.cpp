#include "rules/check.h"

#include <algorithm>
#include <charconv>
#include <cmath>

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
  // Three significant figures (issue 20: findings people can read). Plain decimals from 0.001 to
  // below 1e6 ("0.0523", "97.6", "113", "523000"), scientific outside ("1.25e+06", "4.2e-05").
  // std::to_chars rather than snprintf: a plate of 96 × 50 results runs tens of thousands of
  // checks.
  if (!std::isfinite(value)) return std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf");
  if (value == 0) return "0";
  char buf[48];
  const double magnitude = std::fabs(value);
  std::to_chars_result r{};
  if (magnitude < 1e-3 || magnitude >= 1e6) {
    r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general, 3);
  } else {
    // Round to three significant figures first, then print the decimals that remain.
    const int exponent = static_cast<int>(std::floor(std::log10(magnitude)));
    const double scale = std::pow(10.0, 2 - exponent);
    const double rounded = std::round(value * scale) / scale;
    const int roundedExponent = static_cast<int>(std::floor(std::log10(std::fabs(rounded))));
    const int decimals = std::max(0, 2 - roundedExponent);
    r = std::to_chars(buf, buf + sizeof buf, rounded, std::chars_format::fixed, decimals);
    if (r.ec == std::errc() && decimals > 0) {
      // "0.500" → "0.5", "12.0" → "12": the figures that carry information.
      char* end = r.ptr;
      while (end[-1] == '0') --end;
      if (end[-1] == '.') --end;
      r.ptr = end;
    }
  }
  if (r.ec != std::errc()) return "?";
  return std::string(buf, r.ptr);
}

std::string valueText(double value) {
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
