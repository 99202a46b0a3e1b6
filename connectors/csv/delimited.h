// Delimited text (CSV, TSV, semicolon-separated) read row by row from a TextReader through the one
// RFC 4180 reader (util/csv.h): "" inside a quoted cell, delimiters and line breaks inside quotes,
// CR, LF and CRLF line ends. Memory is the current row plus one decoded chunk, whatever the file's
// size.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/csv/text.h"
#include "engine/model/status.h"
#include "engine/net/export_values.h"
#include "util/csv.h"

namespace labgate::csv {

using labgate::isMissingToken;
using labgate::parseNumber;
using labgate::trim;

struct Row {
  int line = 0;  // 1-based line the row starts on
  std::vector<std::string> cells;
  bool blank() const;  // no cells, or only empty/whitespace cells
};

/// Picks the delimiter of a header line (util/csv.h).
using util::detectDelimiter;

class DelimitedReader {
 public:
  /// `delimiter` 0: detected from the first non-blank line.
  /// `maxRowBytes`: a row longer than this is an error (a missing closing quote would otherwise
  /// swallow the rest of the file).
  explicit DelimitedReader(TextReader& text, char delimiter = 0, size_t maxRowBytes = 4 << 20);

  /// The next row (blank lines are returned as rows with no cells). False at the end. An
  /// unterminated quote or an over-long row is Status::invalid("line N", ...).
  StatusOr<bool> next(Row& row);
  char delimiter() const { return reader_.delimiter(); }
  /// Bytes of the input consumed so far (for progress).
  size_t bytesRead() const { return text_.bytesRead(); }

 private:
  TextReader& text_;
  util::CsvReader reader_;
  util::CsvRow row_;
};

}  // namespace labgate::csv
