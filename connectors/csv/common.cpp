#include "connectors/csv/common.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <regex>

namespace labgate::csv {

std::vector<std::string> delimitedKeys() { return {"encoding", "decimal", "date_order"}; }

StatusOr<DelimitedSettings> parseDelimitedSettings(const ExportSettings& settings) {
  DelimitedSettings out;
  auto get = [&](const std::string& key) -> const std::string* {
    auto it = settings.keys.find(key);
    return it == settings.keys.end() ? nullptr : &it->second;
  };
  if (const std::string* v = get("encoding")) {
    StatusOr<Encoding> e = parseEncoding(settings.keyPrefix + "encoding", *v);
    if (!e.isOk()) return e.status();
    out.encoding = e.value();
  }
  if (const std::string* v = get("decimal")) {
    if (*v == "auto") {
      out.decimal = DelimitedSettings::Decimal::kAuto;
    } else if (*v == "point" || *v == ".") {
      out.decimal = DelimitedSettings::Decimal::kPoint;
    } else if (*v == "comma" || *v == ",") {
      out.decimal = DelimitedSettings::Decimal::kComma;
    } else {
      return Status::config(settings.keyPrefix + "decimal",
                            "\"" + *v + "\" is not auto, point or comma");
    }
  }
  if (const std::string* v = get("date_order")) {
    if (*v == "auto") {
      out.dateOrder = DelimitedSettings::DateOrder::kAuto;
    } else if (*v == "mdy") {
      out.dateOrder = DelimitedSettings::DateOrder::kMdy;
    } else if (*v == "dmy") {
      out.dateOrder = DelimitedSettings::DateOrder::kDmy;
    } else if (*v == "ymd") {
      out.dateOrder = DelimitedSettings::DateOrder::kYmd;
    } else {
      return Status::config(settings.keyPrefix + "date_order",
                            "\"" + *v + "\" is not auto, mdy, dmy or ymd");
    }
  }
  return out;
}

DelimitedParse::DelimitedParse(std::istream& in, const DelimitedSettings& settings,
                               char delimiter)
    : settings_(settings),
      text_(in, settings.encoding),
      reader_(text_, delimiter, settings.maxRowBytes) {
  if (settings.decimal == DelimitedSettings::Decimal::kPoint) decimalComma_ = false;
  if (settings.decimal == DelimitedSettings::Decimal::kComma) decimalComma_ = true;
}

StatusOr<bool> DelimitedParse::next(Record& record) {
  StatusOr<bool> got = reader_.next(row_);
  if (!got.isOk() || !got.value()) return got;
  record.type = "column";
  record.ordinal = ordinal_++;
  record.line = row_.line;
  record.names = names_;
  record.nameRules.reset();
  record.namesInLocation = false;
  record.fields.clear();
  record.fields.resize(row_.cells.size() + 1);
  for (size_t i = 0; i < row_.cells.size(); ++i) {
    Field& f = record.fields[i + 1];
    f.raw = std::move(row_.cells[i]);
    f.text = f.raw;
  }
  return true;
}

Status DelimitedParse::accept(const Record& record) { return interpret(record); }

void DelimitedParse::setHeader(std::vector<std::string> names) {
  // names[n] belongs to fields[n]: shift by one so that the 1-based numbering holds.
  names.insert(names.begin(), std::string());
  names_ = std::make_shared<const std::vector<std::string>>(std::move(names));
}

void DelimitedParse::observeDecimals(const Record& record) {
  if (decimalComma_) return;
  bool comma = false, point = false;
  for (size_t i = 1; i < record.fields.size(); ++i) {
    std::string_view c = trim(record.fields[i].raw);
    size_t digitsBefore = 0, digitsAfter = 0;
    char sep = 0;
    size_t k = (!c.empty() && (c[0] == '-' || c[0] == '+')) ? 1 : 0;
    bool ok = k < c.size();
    for (; k < c.size() && ok; ++k) {
      char ch = c[k];
      if (std::isdigit(static_cast<unsigned char>(ch))) {
        (sep ? digitsAfter : digitsBefore)++;
      } else if ((ch == ',' || ch == '.') && sep == 0) {
        sep = ch;
      } else {
        ok = false;
      }
    }
    if (!ok || sep == 0 || digitsBefore == 0 || digitsAfter == 0) continue;
    // "1,234" could be a thousands separator; only a group other than three digits decides.
    if (sep == ',' && (digitsAfter != 3 || c[c[0] == '-' ? 1 : 0] == '0')) comma = true;
    if (sep == '.' && (digitsAfter != 3 || c[c[0] == '-' ? 1 : 0] == '0')) point = true;
  }
  if (comma && !point) decimalComma_ = true;
  if (point && !comma) decimalComma_ = false;
}

const std::string& cell(const Record& record, size_t n) { return record.raw(n); }

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

std::optional<std::string> parseDateTime(std::string_view text,
                                         DelimitedSettings::DateOrder order) {
  static const std::regex kDate(
      R"(^\s*(\d{1,4})([/.\-])(\d{1,2})\2(\d{1,4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?)?\s*$)");
  std::string s(text);
  std::smatch m;
  if (!std::regex_match(s, m, kDate)) return std::nullopt;
  int a = std::stoi(m[1]), b = std::stoi(m[3]), c = std::stoi(m[4]);
  int year, month, day;
  using O = DelimitedSettings::DateOrder;
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

}  // namespace labgate::csv
