// The one RFC 4180 reader for delimited text (CSV, TSV, semicolon-separated): quoted cells,
// doubled quotes inside them, delimiters and line breaks inside quotes, CR, LF and CRLF line ends,
// a configurable delimiter, and the line each row starts on for error messages. It reads from a
// source of text chunks, so memory is one row plus one chunk whatever the input's size; the
// export connectors (connectors/csv), the mapping sets (mappings/), `labgate qc` and `labgate
// calibrate` all read their rows here.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace labgate::util {

struct CsvRow {
  int line = 0;  // 1-based line the row starts on
  std::vector<std::string> cells;
};

struct CsvError {
  int line = 0;       // 1-based line the row starts on
  size_t column = 0;  // 0-based cell of the row the problem is in
  std::string message;
};

struct CsvOptions {
  char delimiter = ',';          // 0: detected from the first line (detectDelimiter)
  size_t maxRowBytes = 4 << 20;  // a longer row is an error (an unclosed quote?)
  /// Strict quoting (configuration files): white space around a quoted cell is allowed, but a
  /// quote inside an unquoted cell or text after a closing quote is an error. Otherwise (exports,
  /// as the vendors write them) a quote opens a quoted section only at the start of a cell, a
  /// quote elsewhere is kept as text, and text after a closing quote is appended to the cell.
  bool strictQuotes = false;
  /// Lines that are blank (white space only) or whose first non-blank character is this one are
  /// skipped and never returned (0: every line is a row; blank lines come back with no cells).
  char comment = 0;
};

/// Picks the delimiter of a header line: tab if it has any, else ';' if it has more semicolons
/// than commas, else ','. Quoted text is not counted.
char detectDelimiter(std::string_view line);

class CsvReader {
 public:
  /// Appends the next chunk of text to `out`; false at the end (nothing appended).
  using Source = std::function<bool(std::string& out)>;

  CsvReader(Source source, CsvOptions options = {});
  /// Reads the whole of `text`, copied (a leading UTF-8 byte order mark is dropped).
  static CsvReader fromText(std::string_view text, CsvOptions options = {});

  enum class Result { kRow, kEnd, kError };
  /// The next row into `row`. A line with nothing on it is a row with no cells (unless
  /// options.comment skips it). kError leaves the problem in error(); reading stops there.
  Result next(CsvRow& row);
  const CsvError& error() const { return error_; }
  char delimiter() const { return options_.delimiter; }

 private:
  bool fill();            // reads another chunk into buffer_; false at the end
  bool ensure(size_t n);  // at least n bytes after pos_ unless the input ends first
  Result fail(int line, size_t column, std::string message);
  bool skipIgnoredLine();  // with options_.comment: true when a line was skipped

  Source source_;
  CsvOptions options_;
  std::string buffer_;
  size_t pos_ = 0;
  bool eof_ = false;
  bool failed_ = false;
  int line_ = 1;
  CsvError error_;
};

/// `cell` quoted for CSV output when it needs it (it holds the delimiter, a quote, CR or LF):
/// surrounded by quotes, inner quotes doubled.
std::string csvQuote(std::string_view cell, char delimiter = ',');

}  // namespace labgate::util
