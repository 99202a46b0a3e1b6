// Delimited text (CSV, TSV, semicolon-separated) read row by row from a TextReader: RFC 4180
// quoting ("" inside a quoted cell, delimiters and line breaks inside quotes), CR, LF and CRLF line
// ends. Memory is the current row plus one decoded chunk, whatever the file's size.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/csv/text.h"
#include "engine/model/status.h"
#include "engine/net/export_values.h"

namespace labgate::csv {

using labgate::isMissingToken;
using labgate::parseNumber;
using labgate::trim;

struct Row {
  int line = 0;  // 1-based line the row starts on
  std::vector<std::string> cells;
  bool blank() const;  // no cells, or only empty/whitespace cells
};

/// Picks the delimiter of a header line: tab if it has any, else ';' if it has more semicolons
/// than commas, else ','. Quoted text is not counted.
char detectDelimiter(std::string_view line);

class DelimitedReader {
 public:
  /// `delimiter` 0: detected from the first non-blank line.
  /// `maxRowBytes`: a row longer than this is an error (a missing closing quote would otherwise
  /// swallow the rest of the file).
  explicit DelimitedReader(TextReader& text, char delimiter = 0, size_t maxRowBytes = 4 << 20);

  /// The next row (blank lines are returned as rows with no cells). False at the end. An
  /// unterminated quote or an over-long row is Status::invalid("line N", ...).
  StatusOr<bool> next(Row& row);
  char delimiter() const { return delimiter_; }
  /// Bytes of the input consumed so far (for progress).
  size_t bytesRead() const { return text_.bytesRead(); }

 private:
  bool fill();  // reads another chunk into buffer_; false at the end

  TextReader& text_;
  char delimiter_;
  size_t maxRowBytes_;
  std::string buffer_;
  size_t pos_ = 0;
  bool eof_ = false;
  int line_ = 1;
};

}  // namespace labgate::csv
