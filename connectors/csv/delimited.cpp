#include "connectors/csv/delimited.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>

namespace labgate::csv {

bool Row::blank() const {
  return std::all_of(cells.begin(), cells.end(),
                     [](const std::string& c) { return trim(c).empty(); });
}

char detectDelimiter(std::string_view line) {
  size_t tabs = 0, commas = 0, semicolons = 0;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '\t') ++tabs;
    if (c == ',') ++commas;
    if (c == ';') ++semicolons;
  }
  if (tabs > 0) return '\t';
  if (semicolons > commas) return ';';
  return ',';
}

DelimitedReader::DelimitedReader(TextReader& text, char delimiter, size_t maxRowBytes)
    : text_(text), delimiter_(delimiter), maxRowBytes_(maxRowBytes) {}

bool DelimitedReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  if (!text_.read(buffer_)) {
    eof_ = true;
    return false;
  }
  return true;
}

StatusOr<bool> DelimitedReader::next(Row& row) {
  row.cells.clear();
  row.line = line_;
  if (pos_ >= buffer_.size() && !fill()) return false;
  while (pos_ >= buffer_.size()) {  // a chunk that decoded to nothing (a lone BOM)
    if (!fill()) return false;
  }
  if (delimiter_ == 0) {
    // Detect from the first line: make sure it is in the buffer.
    while (buffer_.find_first_of("\r\n", pos_) == std::string::npos && fill()) {
    }
    size_t end = buffer_.find_first_of("\r\n", pos_);
    delimiter_ = detectDelimiter(
        std::string_view(buffer_).substr(pos_, end == std::string::npos ? end : end - pos_));
  }
  std::string cell;
  bool quoted = false;     // inside a quoted section
  bool wasQuoted = false;  // the cell started with a quote
  size_t rowBytes = 0;
  int startLine = line_;
  auto tooLong = [&]() {
    return Status::invalid(
        "line " + std::to_string(startLine),
        "row longer than " + std::to_string(maxRowBytes_) + " bytes (an unclosed quote?)");
  };
  while (true) {
    if (pos_ >= buffer_.size()) {
      if (!fill()) {
        if (quoted) {
          return Status::invalid("line " + std::to_string(startLine),
                                 "quoted cell never closed before the end of the file");
        }
        row.cells.push_back(std::move(cell));
        if (row.cells.size() == 1 && row.cells[0].empty() && !wasQuoted) row.cells.clear();
        return true;
      }
    }
    char c = buffer_[pos_];
    if (quoted) {
      if (c == '"') {
        if (pos_ + 1 >= buffer_.size() && !eof_) {
          if (!fill()) {
            ++pos_;
            quoted = false;
            continue;
          }
          continue;  // re-examine with the next chunk present
        }
        if (pos_ + 1 < buffer_.size() && buffer_[pos_ + 1] == '"') {
          cell.push_back('"');
          pos_ += 2;
        } else {
          quoted = false;
          ++pos_;
        }
        continue;
      }
      if (c == '\r' && pos_ + 1 >= buffer_.size() && !eof_ && fill()) {
        continue;  // re-examine with the next chunk: a CR LF split by the boundary is one line end
      }
      if (c == '\n') ++line_;
      if (c == '\r' && !(pos_ + 1 < buffer_.size() && buffer_[pos_ + 1] == '\n')) ++line_;
      cell.push_back(c);
      ++pos_;
      if (++rowBytes > maxRowBytes_) return tooLong();
      continue;
    }
    if (c == '"' && cell.empty() && !wasQuoted) {
      quoted = true;
      wasQuoted = true;
      ++pos_;
      continue;
    }
    if (c == delimiter_) {
      row.cells.push_back(std::move(cell));
      cell.clear();
      wasQuoted = false;
      ++pos_;
      continue;
    }
    if (c == '\r' || c == '\n') {
      ++pos_;
      if (c == '\r') {
        if (pos_ >= buffer_.size()) fill();
        if (pos_ < buffer_.size() && buffer_[pos_] == '\n') ++pos_;
      }
      ++line_;
      row.cells.push_back(std::move(cell));
      if (row.cells.size() == 1 && row.cells[0].empty() && !wasQuoted) row.cells.clear();
      return true;
    }
    cell.push_back(c);
    ++pos_;
    if (++rowBytes > maxRowBytes_) return tooLong();
  }
}

}  // namespace labgate::csv
