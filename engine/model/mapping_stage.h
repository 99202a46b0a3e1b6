// The interface of the mapping stage (mappings/ implements it): instrument codes become LIS codes,
// names, units and decimals, and unmapped codes get findings. Pure; shared between threads.
// The pipeline knows only this interface, as it knows the rules only through rules_stage.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/model/model.h"

namespace labgate {

class MappingStage {
 public:
  virtual ~MappingStage() = default;
  /// Maps every result of `message` in place. Never throws.
  virtual void apply(Message& message) const = 0;
};

/// One row of a mapping set as the store and the API see it (mappings/ parses the CSV).
struct MappingRow {
  std::string instrumentCode, lisCode, lisName, units;
  int decimals = -1;  // -1: the value as sent
};

/// One problem of a mapping spreadsheet: the 1-based line the row starts on, the 1-based column
/// (0 = the whole row) and its header name when known, and what is wrong.
struct MappingProblemInfo {
  int line = 0;
  int column = 0;
  std::string columnName;
  std::string message;
};

/// A mapping spreadsheet parsed: the stage to run and its rows when `problems` is empty.
struct ParsedMappings {
  std::shared_ptr<const MappingStage> stage;
  std::vector<MappingRow> rows;  // in file order
  std::vector<MappingProblemInfo> problems;
  /// The text as stored: the spreadsheet decoded to UTF-8.
  std::string text;
};

}  // namespace labgate
