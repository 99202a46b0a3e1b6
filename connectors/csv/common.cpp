#include "connectors/csv/common.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include "util/text.h"

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

DelimitedParse::DelimitedParse(std::istream& in, const DelimitedSettings& settings, char delimiter)
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
    f.setRaw(std::move(row_.cells[i]));
    f.setText(std::string(f.raw()));
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
    std::string_view c = trim(record.fields[i].raw());
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

std::string_view cell(const Record& record, size_t n) { return record.raw(n); }

std::string trimmed(const Record& record, size_t n) {
  return std::string(util::trimmed(cell(record, n)));
}

Status checkRowWidth(const Record& record, size_t headerWidth, const std::string& where,
                     bool extraCellsAllowed) {
  size_t width = record.fields.empty() ? 0 : record.fields.size() - 1;
  if (width < headerWidth) {
    return Status::invalid(where, "row has " + std::to_string(width) + " cells, the header " +
                                      std::to_string(headerWidth) + ": a truncated or damaged row");
  }
  if (extraCellsAllowed) return Status::ok();
  for (size_t i = headerWidth + 1; i <= width; ++i) {
    if (!trim(cell(record, i)).empty()) {
      return Status::invalid(where, "row has more cells than the header");
    }
  }
  return Status::ok();
}

std::string HeaderIndex::canonical(std::string_view name) {
  std::string out = normalizeName(trim(name));
  for (size_t at = out.find("\xC2\xBA"); at != std::string::npos; at = out.find("\xC2\xBA", at)) {
    out.replace(at, 2, "\xC2\xB0");  // º (ordinal indicator) read as ° (degree): TargetLynx 1°/2°
  }
  return out;
}

HeaderIndex::HeaderIndex(const Record& record) {
  for (size_t i = 1; i < record.fields.size(); ++i)
    names_.push_back(canonical(record.fields[i].raw()));
}

HeaderIndex::HeaderIndex(const std::vector<std::string>& cells) {
  for (const std::string& c : cells) names_.push_back(canonical(c));
}

size_t HeaderIndex::find(std::initializer_list<std::string_view> aliases) const {
  for (std::string_view alias : aliases) {
    auto it = std::find(names_.begin(), names_.end(), canonical(alias));
    if (it != names_.end()) return static_cast<size_t>(it - names_.begin()) + 1;
  }
  return 0;
}

}  // namespace labgate::csv
