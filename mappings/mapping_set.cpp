// Loading mapping sets from CSV and the mapping stage (see mapping_set.h for the contracts).
#include "mappings/mapping_set.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>

#include "mappings/spreadsheet_text.h"
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

constexpr size_t kMaxProblems = 100;

std::string quoted(std::string_view value) { return "\"" + mappings::printable(value) + "\""; }

std::string separatorName(char separator) {
  if (separator == ';') return "semicolon";
  if (separator == '\t') return "tab";
  return "comma";
}

// "12", "-3": the parts of a number written with a decimal comma.
bool isWholeNumber(std::string_view text) {
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Header names compared loosely for "did you mean": lower case, blanks and hyphens as '_'.
std::string looseName(std::string_view name) {
  std::string out = lower(trim(name));
  for (char& c : out) {
    if (c == ' ' || c == '-' || c == '.') c = '_';
  }
  return out;
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known column an unknown header name probably meant, or "".
std::string_view nearestColumn(std::string_view name) {
  const std::string loose = looseName(name);
  std::string_view best;
  size_t bestDistance = SIZE_MAX;
  for (std::string_view known : kColumns) {
    const size_t d = editDistance(loose, known);
    if (d < bestDistance) {
      bestDistance = d;
      best = known;
    }
  }
  if (bestDistance == 0) return best;
  const size_t allowed = std::max<size_t>(2, best.size() / 3);
  return bestDistance <= allowed ? best : std::string_view();
}

// The first line that is not blank and not a comment (the header), as decoded text.
std::string_view headerLine(std::string_view text) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find_first_of("\r\n", at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = trim(text.substr(at, end - at));
    if (!line.empty() && line.front() != '#') return line;
    at = end + 1;
  }
  return {};
}

// The separator that splits the header into the most known column names (ties: comma, then
// semicolon, then tab); the reader's own guess when none gives any.
char pickSeparator(std::string_view header) {
  char best = 0;
  size_t bestKnown = 0;
  for (char separator : {',', ';', '\t'}) {
    size_t known = 0;
    size_t at = 0;
    while (at <= header.size()) {
      size_t end = header.find(separator, at);
      if (end == std::string_view::npos) end = header.size();
      std::string name = lower(trim(header.substr(at, end - at)));
      if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
        name = std::string(trim(std::string_view(name).substr(1, name.size() - 2)));
      }
      if (std::find(kColumns.begin(), kColumns.end(), name) != kColumns.end()) ++known;
      at = end + 1;
    }
    if (known > bestKnown) {
      bestKnown = known;
      best = separator;
    }
  }
  return best != 0 ? best : util::detectDelimiter(header);
}

// The rows of the decoded text through the one RFC 4180 reader (util/csv.h), strict about
// quotes, skipping blank and comment lines. After a quoting error the reader starts again on the
// line after the one the failed row started on, so that one mistake does not hide the others.
class Rows {
 public:
  Rows(std::string_view text, char separator) : text_(text), separator_(separator) {
    lineStarts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) {
        lineStarts_.push_back(i + 1);
      }
    }
    startAt(1);
  }

  util::CsvReader::Result next(util::CsvRow& row, util::CsvError& error) {
    if (!reader_) return util::CsvReader::Result::kEnd;
    const util::CsvReader::Result result = reader_->next(row);
    if (result == util::CsvReader::Result::kRow) row.line += lineOffset_;
    if (result == util::CsvReader::Result::kError) {
      error = reader_->error();
      error.line += lineOffset_;
      startAt(error.line + 1);
    }
    return result;
  }

 private:
  void startAt(int line) {
    reader_.reset();
    if (line < 1 || static_cast<size_t>(line) > lineStarts_.size()) return;
    util::CsvOptions options;
    options.delimiter = separator_;
    options.strictQuotes = true;
    options.comment = '#';
    reader_.emplace(util::CsvReader::fromText(text_.substr(lineStarts_[line - 1]), options));
    lineOffset_ = line - 1;
  }

  std::string_view text_;
  char separator_;
  std::vector<size_t> lineStarts_;  // offset of each line's first character
  std::optional<util::CsvReader> reader_;
  int lineOffset_ = 0;
};

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

namespace {

// One parse of a spreadsheet: collects every problem, builds the set when there is none.
class SpreadsheetParser {
 public:
  explicit SpreadsheetParser(MappingParse& out) : out_(out) {}

  // Reads the header; false when the rows cannot be read against it.
  bool readHeader(Rows& rows) {
    util::CsvRow row;
    util::CsvError error;
    switch (rows.next(row, error)) {
      case util::CsvReader::Result::kEnd:
        problem(1, 0, "", "no header row; the columns are " + joinColumns());
        return false;
      case util::CsvReader::Result::kError:
        problem(error.line, static_cast<int>(error.column) + 1, "",
                "column " + std::to_string(error.column + 1) + " of the header: " + error.message);
        return false;
      case util::CsvReader::Result::kRow:
        break;
    }
    headerLine_ = row.line;
    for (const std::string& cell : row.cells) names_.emplace_back(trim(cell));
    while (!names_.empty() && names_.back().empty()) names_.pop_back();  // Excel's extra columns
    at_.fill(SIZE_MAX);
    const size_t problemsBefore = out_.problems.size();
    size_t known = 0;
    for (size_t i = 0; i < names_.size(); ++i) known += checkHeaderName(i) ? 1 : 0;
    std::string missing;
    for (size_t k = 0; k < kColumns.size(); ++k) {
      if (at_[k] == SIZE_MAX) missing += (missing.empty() ? "" : ", ") + std::string(kColumns[k]);
    }
    if (!missing.empty()) {
      problem(headerLine_, 0, "",
              "missing column(s) " + missing + " in the header; the columns are " + joinColumns());
    }
    if (known == 0) {
      // Not a header at all (a file without one, or another kind of file): one problem, not one
      // per cell.
      out_.problems.resize(problemsBefore);
      problem(headerLine_, 0, "",
              "the first row is not a header: it names none of the columns (" + joinColumns() +
                  "); the rows are not read");
    }
    return known > 0;
  }

  void readRows(Rows& rows) {
    util::CsvRow row;
    util::CsvError error;
    while (!full()) {
      const util::CsvReader::Result result = rows.next(row, error);
      if (result == util::CsvReader::Result::kEnd) break;
      if (result == util::CsvReader::Result::kError) {
        problem(error.line, static_cast<int>(error.column) + 1, nameOf(error.column),
                "column " + nameOf(error.column) + ": " + error.message);
        continue;
      }
      readRow(row);
    }
  }

  bool full() const { return out_.problems.size() >= kMaxProblems; }
  /// The rows read, in file order (complete only when there was no problem).
  std::vector<Mapping>& mappings() { return mappings_; }

 private:
  bool checkHeaderName(size_t i) {
    const std::string& name = names_[i];
    const int column = static_cast<int>(i) + 1;
    if (name.empty()) {
      problem(headerLine_, column, "",
              "column " + std::to_string(column) + " of the header has no name");
      return false;
    }
    const std::string low = lower(name);
    auto it = std::find(kColumns.begin(), kColumns.end(), low);
    if (it == kColumns.end()) {
      std::string message = "unknown column " + quoted(name) + " in the header";
      const std::string_view nearest = nearestColumn(name);
      if (!nearest.empty()) {
        message += "; did you mean \"" + std::string(nearest) + "\"?";
      } else {
        message += "; the columns are " + joinColumns();
      }
      problem(headerLine_, column, "", message);
      return false;
    }
    const auto k = static_cast<size_t>(it - kColumns.begin());
    if (at_[k] != SIZE_MAX) {
      problem(headerLine_, column, "", "column " + low + " appears twice in the header");
      return true;
    }
    at_[k] = i;
    return true;
  }

  // The header's name of column i (0-based) for a message, or its number when it has none.
  std::string nameOf(size_t i) const {
    return i < names_.size() && !names_[i].empty() ? mappings::printable(names_[i])
                                                   : std::to_string(i + 1);
  }

  // The value of known column k in `cells`, "" when the header lacks it.
  std::string_view value(const std::vector<std::string>& cells, size_t k) const {
    return at_[k] < cells.size() ? std::string_view(cells[at_[k]]) : std::string_view();
  }

  void readRow(const util::CsvRow& row) {
    std::vector<std::string> cells;
    cells.reserve(row.cells.size());
    for (const std::string& cell : row.cells) cells.emplace_back(trim(cell));
    if (std::all_of(cells.begin(), cells.end(), [](const std::string& c) { return c.empty(); })) {
      return;  // a row of empty cells, as spreadsheet programs write below the data
    }
    while (cells.size() > names_.size() && cells.back().empty()) cells.pop_back();
    if (cells.size() != names_.size()) {
      problem(row.line, 0, "", columnCountMessage(row.cells, cells.size()));
      return;
    }
    Mapping m;
    m.instrumentCode = value(cells, kInstrumentCode);
    m.lisCode = value(cells, kLisCode);
    m.lisName = value(cells, kLisName);
    m.units = value(cells, kUnits);
    m.decimals = parseDecimals(std::string(value(cells, kDecimals)));
    if (at_[kInstrumentCode] != SIZE_MAX && m.instrumentCode.empty()) {
      cellProblem(row.line, kInstrumentCode,
                  "column instrument_code is empty (every row maps one instrument code)");
    }
    if (at_[kLisCode] != SIZE_MAX && m.lisCode.empty()) {
      cellProblem(row.line, kLisCode, "column lis_code is empty (the LIS code the result gets)");
    }
    if (m.decimals == -2) {
      cellProblem(row.line, kDecimals,
                  "column decimals: " + quoted(value(cells, kDecimals)) +
                      " is not a whole number from 0 to 9 (leave it empty for as sent)");
    }
    if (!m.instrumentCode.empty()) {
      auto [it, inserted] = lineOf_.emplace(m.instrumentCode, row.line);
      if (!inserted) {
        cellProblem(row.line, kInstrumentCode,
                    "column instrument_code: " + quoted(m.instrumentCode) +
                        " is already mapped on line " + std::to_string(it->second));
      }
    }
    if (!out_.problems.empty()) return;  // nothing of a file with a problem is used
    mappings_.push_back(std::move(m));
  }

  // A row that passes the checks of readRow (used to find where a value was split).
  bool plausible(const std::vector<std::string>& cells) const {
    auto filled = [&](size_t k) { return at_[k] == SIZE_MAX || !value(cells, k).empty(); };
    return filled(kInstrumentCode) && filled(kLisCode) &&
           parseDecimals(std::string(value(cells, kDecimals))) != -2;
  }

  std::string columnCountMessage(const std::vector<std::string>& raw, size_t count) const;

  void cellProblem(int line, size_t k, std::string message) {
    problem(line, static_cast<int>(at_[k]) + 1, std::string(kColumns[k]), std::move(message));
  }

  void problem(int line, int column, std::string columnName, std::string message) {
    if (full()) return;
    out_.problems.push_back({line, column, std::move(columnName), std::move(message)});
  }

  MappingParse& out_;
  std::vector<Mapping> mappings_;
  int headerLine_ = 1;
  std::vector<std::string> names_;  // the header's names, trimmed, without trailing empty ones
  std::array<size_t, kColumns.size()> at_{};
  std::unordered_map<std::string, int> lineOf_;
};

std::string SpreadsheetParser::columnCountMessage(const std::vector<std::string>& raw,
                                                  size_t count) const {
  const char separator = out_.separator;
  std::string message = "the row has " + std::to_string(count) + " columns, the header has " +
                        std::to_string(names_.size());
  if (count < names_.size()) {
    return message + " (a value is missing: an empty value still needs its " +
           separatorName(separator) + ")";
  }
  const std::string fix = "put it in double quotes, or save the file with another separator";
  if (count == names_.size() + 1) {
    // Which two neighbouring cells were probably one value? A number split at a decimal comma
    // first, then a value whose second part starts with a blank ("D3, total"), then the only
    // join that leaves a row that passes the checks.
    std::string decimalComma, blankAfter, onlyPlausible;
    size_t plausibleCount = 0;
    for (size_t i = 0; i + 1 < count; ++i) {
      const std::string_view left = trim(raw[i]);
      const std::string& right = raw[i + 1];
      std::string_view rightText = right;
      while (!rightText.empty() && std::isspace(static_cast<unsigned char>(rightText.back()))) {
        rightText.remove_suffix(1);
      }
      const std::string joined = std::string(left) + separator + std::string(rightText);
      std::vector<std::string> cells;
      for (size_t j = 0; j < count; ++j) {
        if (j == i + 1) continue;
        cells.emplace_back(j == i ? joined : std::string(trim(raw[j])));
      }
      const bool ok = plausible(cells);
      if (separator == ',' && decimalComma.empty() && isWholeNumber(left) && isWholeNumber(right)) {
        decimalComma = joined;
      }
      if (ok && blankAfter.empty() && !right.empty() && right.front() == ' ') blankAfter = joined;
      if (ok) {
        ++plausibleCount;
        onlyPlausible = joined;
      }
    }
    if (!decimalComma.empty()) {
      return message + ": " + quoted(decimalComma) +
             " looks like one value split at its comma (a decimal comma, or a comma in a code); " +
             fix;
    }
    const std::string& guess = !blankAfter.empty()   ? blankAfter
                               : plausibleCount == 1 ? onlyPlausible
                                                     : std::string();
    if (!guess.empty()) {
      return message + ": " + quoted(guess) + " seems to be one value with an unquoted " +
             separatorName(separator) + "; " + fix;
    }
  }
  return message + " (does a value hold a " + separatorName(separator) + "? " + fix + ")";
}

}  // namespace

MappingParse MappingSet::parseSpreadsheet(std::string_view bytes, const std::string& sourceName) {
  MappingParse out;
  mappings::DecodedText decoded = mappings::decodeSpreadsheetText(bytes);
  out.encoding = decoded.encoding;
  for (const mappings::DecodeProblem& p : decoded.problems) {
    out.problems.push_back(
        {p.line, 0, "", "character " + std::to_string(p.character) + ": " + p.message});
  }
  out.separator = pickSeparator(headerLine(decoded.text));
  SpreadsheetParser parser(out);
  Rows rows(decoded.text, out.separator);
  if (parser.readHeader(rows)) parser.readRows(rows);
  std::stable_sort(
      out.problems.begin(), out.problems.end(),
      [](const MappingProblem& a, const MappingProblem& b) { return a.line < b.line; });
  if (parser.full()) {
    out.problems.push_back({0, 0, "",
                            "more than " + std::to_string(kMaxProblems) +
                                " problems; the rest of the file was not checked"});
  }
  if (!out.problems.empty()) return out;
  MappingSet set;
  set.source_ = sourceName;
  set.mappings_ = std::move(parser.mappings());
  for (size_t i = 0; i < set.mappings_.size(); ++i)
    set.index_.emplace(set.mappings_[i].instrumentCode, i);
  out.set = std::move(set);
  return out;
}

StatusOr<MappingSet> MappingSet::parseCsv(std::string_view text, const std::string& sourceName) {
  MappingParse parsed = parseSpreadsheet(text, sourceName);
  if (parsed.set) return std::move(*parsed.set);
  const MappingProblem& first = parsed.problems.front();
  std::string reason = first.message;
  if (parsed.problems.size() > 1) {
    reason += " (" + std::to_string(parsed.problems.size() - 1) + " more problem" +
              (parsed.problems.size() > 2 ? "s" : "") + " in the file)";
  }
  return Status::config(sourceName + ":" + std::to_string(std::max(first.line, 1)), reason);
}

StatusOr<MappingSet> MappingSet::loadCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::notFound(path, "the mappings file cannot be opened");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::io(path, "the mappings file cannot be read");
  return parseCsv(text.str(), path);
}

std::string renderMappingProblems(const std::vector<MappingProblem>& problems,
                                  const std::string& source) {
  std::string out;
  for (const MappingProblem& p : problems) {
    out += source;
    if (p.line > 0) out += ":" + std::to_string(p.line);
    out += ": ";
    out += p.message;
    out += '\n';
  }
  return out;
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
