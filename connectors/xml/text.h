// The bytes of an XML export before a parser sees them: the encoding (BOM or XML declaration)
// decoded to UTF-8, the prolog scanned for the root element and a DOCTYPE, and line numbers by
// byte offset. Pure functions; no XML library types.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/status.h"

namespace labgate::xml {

/// Decodes `bytes` to UTF-8 without a BOM, in place: UTF-8 (BOM optional), UTF-16LE/BE (BOM, or
/// the "<?" pattern without one), or what the XML declaration names for an ASCII-compatible file
/// (UTF-8, US-ASCII, ISO-8859-1/latin1, windows-1252). Status::invalid("line N", reason) for any
/// other encoding (UTF-32, EBCDIC, ...) or for bytes that are not valid in the encoding. While a
/// conversion runs, the input and the output are both held (about 2.5 x the input for UTF-16).
Status decodeToUtf8(std::string& bytes);

/// What precedes the root element.
struct Prolog {
  bool doctype = false;  // a <!DOCTYPE before the root element
  size_t doctypeAt = 0;  // its offset
  std::string root;      // the root element's name; "" when `text` ends first
};

/// Scans ASCII-compatible `text` past the XML declaration, processing instructions, comments and
/// whitespace to the first element.
Prolog scanProlog(std::string_view text);

/// The first bytes of a file as ASCII, for signature detection: a UTF-16 head (BOM or "<?" pattern)
/// keeps the low byte of each unit; a UTF-8 BOM is dropped; other non-ASCII bytes become '?'.
std::string asciiHead(std::string_view head);

/// Maps byte offsets in a text to 1-based line numbers. Built before an in-place parse changes the
/// text; 8 bytes per line.
class LineIndex {
 public:
  LineIndex() = default;
  explicit LineIndex(std::string_view text);
  int lineAt(size_t offset) const;

 private:
  std::vector<size_t> newlines_;
};

}  // namespace labgate::xml
