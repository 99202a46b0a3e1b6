#include "engine/net/export_values.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <regex>

namespace labgate {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool isMissingToken(std::string_view cell) {
  std::string_view t = trim(cell);
  if (t.empty()) return true;
  static const std::array<std::string_view, 16> kTokens = {
      "n/a", "na", "nf", "#n/a", "nan",       "n.a.", "degenerate", "no peak",
      "< 0", "<0", "-",  "--",   "not found", "null", "none",       "#value!"};
  std::string l = lower(t);
  return std::find(kTokens.begin(), kTokens.end(), l) != kTokens.end();
}

std::optional<double> parseNumber(std::string_view cell, bool decimalComma) {
  std::string_view t = trim(cell);
  if (t.empty() || isMissingToken(t)) return std::nullopt;
  char decimal = decimalComma ? ',' : '.';
  char thousands = decimalComma ? '.' : ',';
  std::string digits;
  digits.reserve(t.size());
  size_t i = 0;
  if (t[i] == '+' || t[i] == '-') digits.push_back(t[i++]);
  size_t groupDigits = 0;
  bool sawDigit = false, sawDecimal = false, sawThousands = false;
  for (; i < t.size(); ++i) {
    char c = t[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
      sawDigit = true;
      ++groupDigits;
    } else if (c == thousands && !sawDecimal && sawDigit) {
      if (!sawThousands && digits.back() == '0' && groupDigits == 1) return std::nullopt;  // 0,056
      if (sawThousands ? groupDigits != 3 : groupDigits > 3) return std::nullopt;
      sawThousands = true;
      groupDigits = 0;
    } else if (c == decimal && !sawDecimal) {
      if (sawThousands && groupDigits != 3) return std::nullopt;
      digits.push_back('.');
      sawDecimal = true;
      sawThousands = false;
    } else if ((c == 'e' || c == 'E') && sawDigit) {
      if (sawThousands && groupDigits != 3) return std::nullopt;
      sawThousands = false;
      digits.append(t.substr(i));
      i = t.size();
      break;
    } else {
      return std::nullopt;
    }
  }
  if (sawThousands && groupDigits != 3) return std::nullopt;
  if (!sawDigit) return std::nullopt;
  double value = 0;
  const char* begin = digits.data();
  if (*begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, digits.data() + digits.size(), value);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string normalizeName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool space = false;
  for (char c : trim(name)) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::optional<SampleKind> sampleKindFromVendor(std::string_view type) {
  std::string t;
  for (char c : type) {
    if (c == ' ' || c == '_' || c == '-') continue;
    t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  static const std::array<std::pair<std::string_view, SampleKind>, 26> kWords = {{
      {"", SampleKind::kUnknown},
      {"sample", SampleKind::kUnknown},
      {"unknown", SampleKind::kUnknown},
      {"unknownsample", SampleKind::kUnknown},
      {"analyte", SampleKind::kUnknown},
      {"cal", SampleKind::kCalibrator},
      {"calibration", SampleKind::kCalibrator},
      {"calibrator", SampleKind::kCalibrator},
      {"standard", SampleKind::kCalibrator},
      {"std", SampleKind::kCalibrator},
      {"stdbracket", SampleKind::kCalibrator},
      {"stdupdate", SampleKind::kCalibrator},
      {"stdclear", SampleKind::kCalibrator},
      {"qc", SampleKind::kQc},
      {"cc", SampleKind::kQc},
      {"qualitycontrol", SampleKind::kQc},
      {"blank", SampleKind::kBlank},
      {"matrixblank", SampleKind::kBlank},
      {"solventblank", SampleKind::kBlank},
      {"solvent", SampleKind::kBlank},
      {"doubleblank", SampleKind::kDoubleBlank},
      {"responsecheck", SampleKind::kSystemSuitability},
      {"systemsuitability", SampleKind::kSystemSuitability},
      {"sst", SampleKind::kSystemSuitability},
      {"suitability", SampleKind::kSystemSuitability},
      {"zero", SampleKind::kBlank},
  }};
  for (const auto& [word, kind] : kWords) {
    if (t == word) return kind;
  }
  return std::nullopt;
}

std::optional<std::string> parseDateTime(std::string_view text, DateOrder order) {
  static const std::regex kDate(
      R"(^\s*(\d{1,4})([/.\-])(\d{1,2})\2(\d{1,4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?)?\s*$)");
  std::string s(text);
  std::smatch m;
  if (!std::regex_match(s, m, kDate)) return std::nullopt;
  int a = std::stoi(m[1]), b = std::stoi(m[3]), c = std::stoi(m[4]);
  int year, month, day;
  using O = DateOrder;
  O use = order;
  if (use == O::kAuto) {
    if (m[1].length() == 4) {
      use = O::kYmd;
    } else if (m[2] == "." || a > 12) {
      use = O::kDmy;
    } else {
      use = O::kMdy;
    }
  }
  if (use == O::kYmd) {
    year = a;
    month = b;
    day = c;
  } else if (use == O::kDmy) {
    day = a;
    month = b;
    year = c;
  } else {
    month = a;
    day = b;
    year = c;
  }
  if (year < 100) year += 2000;
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 1900 || year > 2999) {
    return std::nullopt;
  }
  char buf[96];
  if (!m[5].matched) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
    return std::string(buf);
  }
  int hour = std::stoi(m[5]), minute = std::stoi(m[6]);
  if (m[8].matched) {
    bool pm = m[8].str()[0] == 'P' || m[8].str()[0] == 'p';
    if (hour < 1 || hour > 12) return std::nullopt;
    hour = hour % 12 + (pm ? 12 : 0);
  }
  if (hour > 23 || minute > 59) return std::nullopt;
  if (m[7].matched) {
    int second = std::stoi(m[7]);
    if (second > 59) return std::nullopt;
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute,
                  second);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d", year, month, day, hour, minute);
  }
  return std::string(buf);
}

TargetLynxFlags splitTargetLynxFlags(std::string_view text, bool calibrator) {
  TargetLynxFlags out;
  std::string_view t = trim(text);
  auto codeLetter = [](char c) { return (c >= 'a' && c <= 'z') || c == 'M'; };
  if (t.size() >= 2 && codeLetter(t[0]) && codeLetter(t[1])) {
    out.integrationCode = std::string(t.substr(0, 2));
    out.manual = out.integrationCode.find('M') != std::string::npos;
    t.remove_prefix(2);
  }
  for (char c : t) {
    if (c == 'X' && calibrator) {
      out.excludedFromCurve = true;
    } else if (c != ' ' && c != '\t') {
      out.flags.push_back(c);
    }
  }
  return out;
}

std::optional<int64_t> parseInjectionNumber(std::string_view cell) {
  std::optional<double> n = parseNumber(cell);
  if (!n || *n < 1 || *n > 1e12 || std::floor(*n) != *n) return std::nullopt;
  return static_cast<int64_t>(*n);
}

}  // namespace labgate
