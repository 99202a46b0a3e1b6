// What the delimited export formats share: the row-to-Record plumbing of ExportParse, the
// vocabulary of sample types, locale-aware dates and decimal separators.
#pragma once

#include <functional>
#include <initializer_list>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/csv/delimited.h"
#include "connectors/csv/text.h"
#include "engine/net/export.h"

namespace labgate::csv {

using labgate::normalizeName;
using labgate::parseDateTime;
using labgate::sampleKindFromVendor;

/// Settings every delimited format reads from its connector's keys (docs/connectors/exports.md):
///   encoding    auto | utf-8 | utf-16 | utf-16le | utf-16be | latin-1   (default auto)
///   decimal     auto | point | comma                                   (default auto)
///   date_order  auto | mdy | dmy | ymd                                  (default auto)
struct DelimitedSettings {
  Encoding encoding = Encoding::kAuto;
  enum class Decimal { kAuto, kPoint, kComma } decimal = Decimal::kAuto;
  using DateOrder = labgate::DateOrder;
  DateOrder dateOrder = DateOrder::kAuto;
  size_t maxRowBytes = 4 << 20;
};

/// Reads the common keys; Status::config naming the full key when a value is bad.
StatusOr<DelimitedSettings> parseDelimitedSettings(const ExportSettings& settings);
/// The names of the common keys, for ExportFormatInfo::keys.
std::vector<std::string> delimitedKeys();

/// Base of every delimited format's parse: turns rows into the Records the PHI gate screens
/// (type "column", fields[1..] = cells, line = the row's first line, names = the current header
/// as set by setHeader()) and hands each screened row to interpret().
class DelimitedParse : public ExportParse {
 public:
  DelimitedParse(std::istream& in, const DelimitedSettings& settings, char delimiter = 0);

  StatusOr<bool> next(Record& record) override;
  Status accept(const Record& record) override;

 protected:
  /// One screened row: cells are record.fields[1..].raw (stripped cells are empty).
  virtual Status interpret(const Record& record) = 0;

  /// Column names for the rows that follow (what the PHI gate classifies: a column named
  /// "Patient Name" is refused whatever its values look like).
  void setHeader(std::vector<std::string> names);

  /// The file's decimal separator: settings, or guessed from the data seen so far.
  bool decimalComma() const { return decimalComma_.value_or(false); }
  /// Call with each data row before parsing its numbers (no-op once decided).
  void observeDecimals(const Record& record);
  std::optional<double> number(std::string_view cell) const {
    return parseNumber(cell, decimalComma());
  }

  const DelimitedSettings& settings() const { return settings_; }
  char delimiter() const { return reader_.delimiter(); }

 private:
  DelimitedSettings settings_;
  TextReader text_;
  DelimitedReader reader_;
  Row row_;
  int ordinal_ = 0;
  std::shared_ptr<const std::vector<std::string>> names_;
  std::optional<bool> decimalComma_;
};

/// A header row's names, normalised (case, spaces; "º" read as "°"): find() gives the 1-based
/// column of the first alias present, 0 when none is. Vendors' exports are mapped by name through
/// alias lists, never by position.
class HeaderIndex {
 public:
  explicit HeaderIndex(const Record& record);
  explicit HeaderIndex(const std::vector<std::string>& cells);
  size_t find(std::initializer_list<std::string_view> aliases) const;
  size_t size() const { return names_.size(); }

 private:
  static std::string canonical(std::string_view name);
  std::vector<std::string> names_;
};

/// A delimited format whose parse is `Parse(std::istream&, const DelimitedSettings&)`.
template <typename Parse>
class DelimitedFormat : public ExportFormat {
 public:
  explicit DelimitedFormat(DelimitedSettings settings) : settings_(settings) {}
  StatusOr<std::unique_ptr<ExportParse>> open(std::istream& in) const override {
    return std::unique_ptr<ExportParse>(std::make_unique<Parse>(in, settings_));
  }

 private:
  DelimitedSettings settings_;
};

/// The registration of a DelimitedFormat<Parse>, configured from the common settings (encoding,
/// decimal, date_order).
template <typename Parse>
ExportFormatInfo delimitedFormatInfo(std::string name, std::string description,
                                     std::function<bool(std::string_view)> detect) {
  ExportFormatInfo info;
  info.name = std::move(name);
  info.description = std::move(description);
  info.detect = std::move(detect);
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    StatusOr<DelimitedSettings> settings = parseDelimitedSettings(s);
    if (!settings.isOk()) return settings.status();
    return std::shared_ptr<const ExportFormat>(
        std::make_shared<DelimitedFormat<Parse>>(settings.value()));
  };
  info.keys = delimitedKeys();
  return info;
}

/// A data row against its header's width: fewer cells is a truncated or damaged row; more
/// non-empty cells than the header (unless `extraCellsAllowed`) is a row that does not line up.
/// Either refuses the whole file, never a partial import. `where` is "line N".
Status checkRowWidth(const Record& record, size_t headerWidth, const std::string& where,
                     bool extraCellsAllowed = false);

/// A cell of a record (fields[n].raw(), n 1-based), "" past the end.
std::string_view cell(const Record& record, size_t n);

/// That cell without leading and trailing white space (util::trimmed).
std::string trimmed(const Record& record, size_t n);

}  // namespace labgate::csv
