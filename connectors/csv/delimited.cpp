#include "connectors/csv/delimited.h"

#include <algorithm>
#include <utility>

namespace labgate::csv {

bool Row::blank() const {
  return std::all_of(cells.begin(), cells.end(),
                     [](const std::string& c) { return trim(c).empty(); });
}

namespace {

util::CsvOptions exportOptions(char delimiter, size_t maxRowBytes) {
  util::CsvOptions options;
  options.delimiter = delimiter;
  options.maxRowBytes = maxRowBytes;
  return options;  // lenient quotes, as the vendors write them
}

}  // namespace

DelimitedReader::DelimitedReader(TextReader& text, char delimiter, size_t maxRowBytes)
    : text_(text),
      reader_([&text](std::string& out) { return text.read(out); },
              exportOptions(delimiter, maxRowBytes)) {}

StatusOr<bool> DelimitedReader::next(Row& row) {
  switch (reader_.next(row_)) {
    case util::CsvReader::Result::kRow:
      row.line = row_.line;
      row.cells = std::move(row_.cells);
      return true;
    case util::CsvReader::Result::kEnd:
      row.cells.clear();
      return false;
    case util::CsvReader::Result::kError:
      break;
  }
  return Status::invalid("line " + std::to_string(reader_.error().line), reader_.error().message);
}

}  // namespace labgate::csv
