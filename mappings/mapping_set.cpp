// Loading mapping sets from CSV and the mapping stage (see mapping_set.h for the contracts).
#include "mappings/mapping_set.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "util/csv.h"
#include "util/text.h"

namespace labgate {
namespace {

constexpr std::array<std::string_view, 5> kColumns = {"instrument_code", "lis_code", "lis_name",
                                                      "units", "decimals"};
enum Column { kInstrumentCode, kLisCode, kLisName, kUnits, kDecimals };

std::string_view trim(std::string_view s) { return util::trimmed(s); }

std::string lower(std::string_view s) { return util::lowered(s); }

std::string joinColumns() {
  std::string out;
  for (std::string_view c : kColumns) out.append(out.empty() ? "" : ",").append(c);
  return out;
}

// Reads the rows through the one RFC 4180 reader (util/csv.h), strict about quotes, skipping
// blank and comment lines; values are trimmed.
class CsvReader {
 public:
  CsvReader(std::string_view text, const std::string& source)
      : reader_(util::CsvReader::fromText(text, options())), source_(source) {}

  // Reads the next row into `fields`; false at the end of the text. `columnName(i)` names the
  // i-th column (0-based) in error messages. rowLine() is the line the row started on.
  template <typename NameFn>
  StatusOr<bool> next(std::vector<std::string>& fields, NameFn columnName) {
    fields.clear();
    util::CsvRow row;
    switch (reader_.next(row)) {
      case util::CsvReader::Result::kEnd:
        return false;
      case util::CsvReader::Result::kError:
        rowLine_ = reader_.error().line;
        return error("column " + columnName(reader_.error().column) + ": " +
                     reader_.error().message);
      case util::CsvReader::Result::kRow:
        break;
    }
    rowLine_ = row.line;
    for (const std::string& cell : row.cells) fields.emplace_back(trim(cell));
    return true;
  }

  Status error(const std::string& reason) const {
    return Status::config(source_ + ":" + std::to_string(rowLine_), reason);
  }
  int rowLine() const { return rowLine_; }

 private:
  static util::CsvOptions options() {
    util::CsvOptions options;
    options.strictQuotes = true;
    options.comment = '#';
    return options;
  }

  util::CsvReader reader_;
  const std::string& source_;
  int rowLine_ = 1;
};

// The position of each known column in the file's rows, from the header row.
StatusOr<std::array<size_t, kColumns.size()>> readHeader(const std::vector<std::string>& names,
                                                         const CsvReader& reader) {
  std::array<size_t, kColumns.size()> at;
  at.fill(SIZE_MAX);
  std::string unknown;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string name = lower(trim(names[i]));
    if (name.empty())
      return reader.error("column " + std::to_string(i + 1) + " of the header has no name");
    auto it = std::find(kColumns.begin(), kColumns.end(), name);
    if (it == kColumns.end()) {
      unknown += (unknown.empty() ? "" : ", ") + names[i];
      continue;
    }
    size_t k = static_cast<size_t>(it - kColumns.begin());
    if (at[k] != SIZE_MAX) return reader.error("column " + name + " appears twice in the header");
    at[k] = i;
  }
  if (!unknown.empty()) {
    return reader.error("unknown column(s) " + unknown + " in the header; the columns are " +
                        joinColumns());
  }
  std::string missing;
  for (size_t k = 0; k < kColumns.size(); ++k) {
    if (at[k] == SIZE_MAX) missing += (missing.empty() ? "" : ", ") + std::string(kColumns[k]);
  }
  if (!missing.empty()) {
    return reader.error("missing column(s) " + missing + " in the header; the columns are " +
                        joinColumns());
  }
  return at;
}

// decimals: "" -> -1, "0".."9" -> the number, anything else -> -2.
int parseDecimals(const std::string& text) {
  if (text.empty()) return -1;
  if (text.size() > 2 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -2;
  int value = std::stoi(text);
  return value <= 9 ? value : -2;
}

bool sameUnits(std::string_view a, std::string_view b) { return lower(trim(a)) == lower(trim(b)); }

}  // namespace

StatusOr<MappingSet> MappingSet::loadCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::notFound(path, "the mappings file cannot be opened");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::io(path, "the mappings file cannot be read");
  return parseCsv(text.str(), path);
}

StatusOr<MappingSet> MappingSet::parseCsv(std::string_view text, const std::string& sourceName) {
  CsvReader reader(text, sourceName);
  std::vector<std::string> row;
  auto headerNames = [](size_t i) { return std::to_string(i + 1); };
  StatusOr<bool> got = reader.next(row, headerNames);
  if (!got.isOk()) return got.status();
  if (!got.value()) {
    return Status::config(sourceName + ":1", "no header row; the columns are " + joinColumns());
  }
  StatusOr<std::array<size_t, kColumns.size()>> header = readHeader(row, reader);
  if (!header.isOk()) return header.status();
  const auto& at = header.value();
  const std::vector<std::string> names = row;
  auto columnName = [&names](size_t i) {
    return i < names.size() ? std::string(trim(names[i])) : std::to_string(i + 1);
  };

  MappingSet set;
  set.source_ = sourceName;
  std::unordered_map<std::string, int> lineOf;
  while (true) {
    got = reader.next(row, columnName);
    if (!got.isOk()) return got.status();
    if (!got.value()) break;
    if (row.size() != names.size()) {
      return reader.error("the row has " + std::to_string(row.size()) +
                          " columns, the header has " + std::to_string(names.size()));
    }
    Mapping m;
    m.instrumentCode = row[at[kInstrumentCode]];
    m.lisCode = row[at[kLisCode]];
    m.lisName = row[at[kLisName]];
    m.units = row[at[kUnits]];
    m.decimals = parseDecimals(row[at[kDecimals]]);
    if (m.instrumentCode.empty()) return reader.error("column instrument_code is empty");
    if (m.lisCode.empty()) return reader.error("column lis_code is empty");
    if (m.decimals == -2) {
      return reader.error("column decimals: \"" + row[at[kDecimals]] +
                          "\" is not a whole number from 0 to 9 (leave it empty for as sent)");
    }
    auto [it, inserted] = lineOf.emplace(m.instrumentCode, reader.rowLine());
    if (!inserted) {
      return reader.error("column instrument_code: \"" + m.instrumentCode +
                          "\" is already mapped on line " + std::to_string(it->second));
    }
    set.index_.emplace(m.instrumentCode, set.mappings_.size());
    set.mappings_.push_back(std::move(m));
  }
  return set;
}

const Mapping* MappingSet::find(const std::string& instrumentCode) const {
  auto it = index_.find(std::string(trim(instrumentCode)));
  return it == index_.end() ? nullptr : &mappings_[it->second];
}

size_t MappingSet::size() const { return mappings_.size(); }

const std::string& MappingSet::source() const { return source_; }

void MappingSet::apply(Message& message) const { applyMappings(message, *this); }

void applyMappings(Message& message, const MappingSet& mappings) {
  for (Sample& sample : message.samples) {
    for (Result& r : sample.results) {
      std::erase_if(r.findings,
                    [](const Finding& f) { return f.ruleId.rfind("mapping.", 0) == 0; });
      if (r.internalStandard) continue;  // never reported, so never mapped
      const Mapping* m = mappings.find(r.instrumentCode);
      if (m == nullptr) {
        r.lisCode.clear();
        r.lisName.clear();
        r.decimals = -1;
        // The code is named: instrument codes are not PHI, and the administrator needs it to
        // add the row (GET /api/v1/unmapped-codes lists them).
        const std::string code(trim(r.instrumentCode));
        r.findings.push_back({"mapping.unmapped", Severity::kWarning, "result",
                              "no mapping for instrument code \"" + code + "\"", code, ""});
        continue;
      }
      r.lisCode = m->lisCode;
      r.lisName = m->lisName;
      r.decimals = m->decimals;
      if (trim(r.units).empty()) {
        r.units = m->units;
      } else if (!m->units.empty() && !sameUnits(r.units, m->units)) {
        r.findings.push_back({"mapping.units_mismatch", Severity::kWarning, "result",
                              "the result's units differ from the mapping's units",
                              std::string(trim(r.units)), m->units});
      }
    }
  }
}

}  // namespace labgate
