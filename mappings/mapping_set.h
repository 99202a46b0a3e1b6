// Code mappings: which LIS code, name, units and number of decimals an instrument's test code
// becomes. A MappingSet is loaded from the CSV that LIS administrators edit in a spreadsheet
// (docs/mappings.md describes the format), validated as a whole at load time, and immutable after:
// it may be shared between threads without locking. parseSpreadsheet reads the file as
// spreadsheet programs save it and lists every problem at once; applyMappings is the pipeline's
// map stage.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/model/mapping_stage.h"
#include "engine/model/model.h"
#include "engine/model/status.h"

namespace labgate {

/// One problem of a mapping spreadsheet. `message` is complete on its own ("column decimals: ...")
/// and never holds a byte that is not text (undecodable bytes are written as 0xNN).
struct MappingProblem {
  int line = 0;            // 1-based line the row starts on (0: the file as a whole)
  int column = 0;          // 1-based column (cell) of the row; 0 = the whole row
  std::string columnName;  // the header's name of that column; "" for header and row problems
  std::string message;
};

struct MappingParse;

/// One row of a mapping set.
struct Mapping {
  std::string instrumentCode, lisCode, lisName, units;
  int decimals = -1;  // digits after the point sent to the LIS; -1 = the value as sent
};

class MappingSet : public MappingStage {
 public:
  /// An empty set (every code unmapped).
  MappingSet() = default;

  /// Reads and parses the CSV file at `path` (see parseCsv). Status::notFound(path, ...) when the
  /// file cannot be read.
  static StatusOr<MappingSet> loadCsv(const std::string& path);

  /// Parses CSV text. The header names exactly the columns instrument_code, lis_code, lis_name,
  /// units, decimals, in any order (names trimmed, case-insensitive); a missing, repeated or extra
  /// column is an error naming it. RFC 4180 quoting (commas, quotes doubled as "", line breaks
  /// inside quotes), a leading UTF-8 BOM, CRLF or LF line ends; blank lines and lines whose first
  /// non-blank character is '#' are ignored (quote a code that starts with '#'). Every value is
  /// trimmed. decimals empty = as sent, else a whole number 0..9. Errors are
  /// Status::config("<sourceName>:<line>", reason) where line is the 1-based line the row starts
  /// on and the reason names the column and what is wrong: duplicate instrument_code, empty
  /// instrument_code or lis_code, bad decimals, wrong column count, unclosed or stray quotes.
  /// parseSpreadsheet(text) with the first problem as the error; when there are more, the reason
  /// ends with "(N more problems in the file)".
  static StatusOr<MappingSet> parseCsv(std::string_view text, const std::string& sourceName);

  /// Parses a mapping spreadsheet as people save it and reports EVERY problem, not only the first.
  /// Beyond parseCsv's format: the bytes may be UTF-8 (BOM optional), UTF-16 LE/BE (Excel's
  /// "Unicode text") or Windows-1252/Latin-1 (mappings/spreadsheet_text.h); the separator is
  /// recognised from the header row (comma, semicolon or tab: whichever splits it into the most
  /// known column names); empty columns after the last header name (and rows of empty cells)
  /// are ignored, as spreadsheet programs write them. An unknown header name is answered with the
  /// nearest known one ("did you mean \"lis_code\"?"); a row with one value too many names the
  /// value that probably holds an unquoted separator (or a decimal comma) and says how to fix it.
  /// A quoting error ends its row only: reading resumes on the next line. `set` is present only
  /// when `problems` is empty; problems are in line order, at most 100 (then a last one says so).
  static MappingParse parseSpreadsheet(std::string_view bytes, const std::string& sourceName);

  /// The mapping for `instrumentCode` (exact, case-sensitive match after trimming), or nullptr.
  /// The pointer stays valid as long as this set lives.
  const Mapping* find(const std::string& instrumentCode) const;
  size_t size() const;
  /// The file name or source name the set was parsed from.
  const std::string& source() const;
  /// All mappings in file order.
  const std::vector<Mapping>& mappings() const { return mappings_; }
  /// The pipeline's map stage: applyMappings(message, *this).
  void apply(Message& message) const override;

 private:
  std::string source_;
  std::vector<Mapping> mappings_;
  std::unordered_map<std::string, size_t> index_;
};

/// What parseSpreadsheet found.
struct MappingParse {
  std::optional<MappingSet> set;  // only when there is no problem
  std::vector<MappingProblem> problems;
  std::string encoding;  // how the bytes were read: UTF-8, UTF-16LE, UTF-16BE or Windows-1252
  char separator = ',';  // ',', ';' or '\t'
};

/// The problems as text for a log or a terminal, one per line: "<source>:<line>: <message>"
/// ("<source>: <message>" for line 0). Empty when there are none.
std::string renderMappingProblems(const std::vector<MappingProblem>& problems,
                                  const std::string& source);

/// The problems as a JSON array, the "errors" member of the API's 422 problem+json:
/// [{"line":2,"column":5,"column_name":"decimals","message":"..."}, ...] in order ("column" 0 and
/// "column_name" "" for a whole row or the header).
std::string mappingProblemsJson(const std::vector<MappingProblem>& problems);

/// The mapping stage (pure). For every result: a mapped code gets lisCode, lisName and decimals
/// from its mapping; empty units take the mapping's units; units that differ from the mapping's
/// (trimmed, case-insensitive; not checked when the mapping has no units) keep their value and
/// get Finding{"mapping.units_mismatch", kWarning, "result", ..., measured=units, limit=mapping
/// units}. An unmapped code gets its lisCode/lisName cleared, decimals -1 and
/// Finding{"mapping.unmapped", kWarning, "result", "no mapping for the instrument code",
/// measured=code}. Findings from an earlier run ("mapping." rule ids) are replaced, so applying a
/// set again (e.g. after an administrator fixed it) gives the same result as applying it once.
/// Instrument codes and units are not PHI.
void applyMappings(Message& message, const MappingSet& mappings);

}  // namespace labgate
