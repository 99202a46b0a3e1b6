// The RFC 4180 reader (see csv.h).
#include "util/csv.h"

#include <utility>

namespace labgate::util {
namespace {

bool isBlank(char c) { return c == ' ' || c == '\t'; }

bool allBlank(std::string_view text) {
  for (char c : text) {
    if (!isBlank(c)) return false;
  }
  return true;
}

}  // namespace

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

CsvReader::CsvReader(Source source, CsvOptions options)
    : source_(std::move(source)), options_(options) {}

CsvReader CsvReader::fromText(std::string_view text, CsvOptions options) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  // The reader keeps its own copy, so that it may outlive the caller's text.
  return CsvReader(
      [copy = std::string(text), given = false](std::string& out) mutable {
        if (given) return false;
        given = true;
        out.append(copy);
        return !copy.empty();
      },
      options);
}

bool CsvReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  if (!source_(buffer_)) {
    eof_ = true;
    return false;
  }
  return true;
}

bool CsvReader::ensure(size_t n) {
  while (buffer_.size() - pos_ < n) {
    if (!fill()) return false;
  }
  return true;
}

CsvReader::Result CsvReader::fail(int line, size_t column, std::string message) {
  failed_ = true;
  error_ = CsvError{line, column, std::move(message)};
  return Result::kError;
}

bool CsvReader::skipIgnoredLine() {
  if (!ensure(1)) return false;
  size_t end;
  while ((end = buffer_.find_first_of("\r\n", pos_)) == std::string::npos && fill()) {
  }
  if (end == std::string::npos) end = buffer_.size();
  std::string_view line = std::string_view(buffer_).substr(pos_, end - pos_);
  size_t first = line.find_first_not_of(" \t");
  if (first != std::string_view::npos && line[first] != options_.comment) return false;
  pos_ = end;
  if (ensure(1)) {
    const char c = buffer_[pos_++];
    if (c == '\r' && ensure(1) && buffer_[pos_] == '\n') ++pos_;
    ++line_;
    return true;
  }
  return false;  // the last line of the input, now consumed
}

CsvReader::Result CsvReader::next(CsvRow& row) {
  if (failed_) return Result::kError;
  row.cells.clear();
  if (options_.comment != 0) {
    while (skipIgnoredLine()) {
    }
  }
  if (!ensure(1)) return Result::kEnd;
  if (options_.delimiter == 0) {
    size_t end;
    while ((end = buffer_.find_first_of("\r\n", pos_)) == std::string::npos && fill()) {
    }
    options_.delimiter = detectDelimiter(std::string_view(buffer_).substr(
        pos_, end == std::string::npos ? std::string_view::npos : end - pos_));
  }
  const int startLine = line_;
  row.line = startLine;
  const bool strict = options_.strictQuotes;
  std::string cell;
  bool quoted = false;     // inside a quoted section
  bool wasQuoted = false;  // the cell has had a quoted section
  size_t rowBytes = 0;
  auto endCell = [&]() {
    row.cells.push_back(std::move(cell));
    cell.clear();
    wasQuoted = false;
  };
  auto tooLong = [&]() {
    return fail(
        startLine, row.cells.size(),
        "row longer than " + std::to_string(options_.maxRowBytes) + " bytes (an unclosed quote?)");
  };
  while (true) {
    if (!ensure(1)) {
      if (quoted) {
        return fail(startLine, row.cells.size(),
                    "quoted cell never closed before the end of the file");
      }
      const bool quotedLast = wasQuoted;
      endCell();
      if (row.cells.size() == 1 && row.cells[0].empty() && !quotedLast) row.cells.clear();
      return Result::kRow;
    }
    const char c = buffer_[pos_];
    if (quoted) {
      if (c == '"') {
        if (ensure(2) && buffer_[pos_ + 1] == '"') {
          cell.push_back('"');
          pos_ += 2;
        } else {
          quoted = false;
          ++pos_;
        }
        continue;
      }
      if (c == '\n') ++line_;
      if (c == '\r' && !(ensure(2) && buffer_[pos_ + 1] == '\n')) ++line_;
      cell.push_back(c);
      ++pos_;
      if (++rowBytes > options_.maxRowBytes) return tooLong();
      continue;
    }
    if (c == '"') {
      if (!wasQuoted && (strict ? allBlank(cell) : cell.empty())) {
        cell.clear();
        quoted = true;
        wasQuoted = true;
        ++pos_;
        continue;
      }
      if (strict) {
        return fail(startLine, row.cells.size(),
                    wasQuoted ? "text after the closing quote"
                              : "a quote inside an unquoted value (quote the whole value and "
                                "double the quotes inside it)");
      }
    } else if (c == options_.delimiter) {
      ++pos_;
      endCell();
      continue;
    } else if (c == '\r' || c == '\n') {
      ++pos_;
      if (c == '\r' && ensure(1) && buffer_[pos_] == '\n') ++pos_;
      ++line_;
      const bool quotedLast = wasQuoted;
      endCell();
      if (row.cells.size() == 1 && row.cells[0].empty() && !quotedLast) row.cells.clear();
      return Result::kRow;
    } else if (strict && wasQuoted) {
      if (!isBlank(c)) return fail(startLine, row.cells.size(), "text after the closing quote");
      ++pos_;  // blanks after the closing quote are not part of the cell
      continue;
    }
    cell.push_back(c);
    ++pos_;
    if (++rowBytes > options_.maxRowBytes) return tooLong();
  }
}

std::string csvQuote(std::string_view cell, char delimiter) {
  bool needs = false;
  for (char c : cell) {
    if (c == delimiter || c == '"' || c == '\r' || c == '\n') needs = true;
  }
  if (!needs) return std::string(cell);
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace labgate::util
