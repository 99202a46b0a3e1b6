// Code mappings: which LIS code, name, units and number of decimals an instrument's test code
// becomes. A MappingSet is loaded from the CSV that LIS administrators edit in a spreadsheet
// (docs/mappings.md describes the format), validated as a whole at load time, and immutable after:
// it may be shared between threads without locking. applyMappings is the pipeline's map stage.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/model/mapping_stage.h"
#include "engine/model/model.h"
#include "engine/model/status.h"

namespace labgate {

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
  static StatusOr<MappingSet> parseCsv(std::string_view text, const std::string& sourceName);

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

/// The mapping stage (pure). For every result: a mapped code gets lisCode, lisName and decimals
/// from its mapping; empty units take the mapping's units; units that differ from the mapping's
/// (trimmed, case-insensitive; not checked when the mapping has no units) keep their value and
/// get Finding{"mapping.units_mismatch", kWarning, "result", ..., measured=units, limit=mapping
/// units}. An unmapped code gets its lisCode/lisName cleared, decimals -1 and
/// Finding{"mapping.unmapped", kWarning, "result", "no mapping for instrument code \"CODE\"",
/// measured=code}. Findings from an earlier run ("mapping." rule ids) are replaced, so applying a
/// set again (e.g. after an administrator fixed it) gives the same result as applying it once.
/// Instrument codes and units are not PHI.
void applyMappings(Message& message, const MappingSet& mappings);

}  // namespace labgate
