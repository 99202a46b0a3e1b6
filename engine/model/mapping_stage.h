// The interface of the mapping stage (mappings/ implements it): instrument codes become LIS codes,
// names, units and decimals, and unmapped codes get findings. Pure; shared between threads.
// The pipeline knows only this interface, as it knows the rules only through rules_stage.h.
#pragma once

#include <algorithm>
#include <cctype>
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

/// A mapping set's name: 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'.
inline bool isMappingSetName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

/// The set a connector's mapping file (connector.NAME.mappings) is stored as: the file's name
/// without its folder and a final ".csv", each character outside the name alphabet replaced by
/// '_', cut to 64 characters ("config/mappings/lcms panel.csv" → "lcms_panel").
inline std::string mappingSetNameOfFile(const std::string& path) {
  std::string base =
      path.substr(path.find_last_of("/\\") == std::string::npos ? 0 : path.find_last_of("/\\") + 1);
  const std::string suffix = ".csv";
  if (base.size() > suffix.size()) {
    std::string tail = base.substr(base.size() - suffix.size());
    std::transform(tail.begin(), tail.end(), tail.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (tail == suffix) {
      base.resize(base.size() - suffix.size());
    }
  }
  for (char& c : base) {
    if (!isMappingSetName(std::string(1, c)) && c != '.') {
      c = '_';
    }
  }
  if (base.empty() || base[0] == '.') {
    base.insert(base.begin(), '_');
  }
  if (base.size() > 64) {
    base.resize(64);
  }
  return base;
}

}  // namespace labgate
