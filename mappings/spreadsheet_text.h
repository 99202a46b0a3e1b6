// The bytes of a mapping spreadsheet as people save them, turned into UTF-8 text before the CSV
// reader sees them: UTF-8 with or without a BOM, UTF-16 LE/BE (Excel's "Unicode text", with a BOM,
// or recognised by its NUL bytes), and Windows-1252/Latin-1 (a file with bytes that are not UTF-8
// and no UTF-8 text elsewhere). Bytes that are no character are replaced by U+FFFD and reported
// with their line and character position, never echoed. Pure functions, no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace labgate::mappings {

/// A byte (or UTF-16 unit) that is no character of the file's encoding, or a control character.
struct DecodeProblem {
  int line = 0;       // 1-based line of the decoded text (CR, LF and CRLF end a line)
  int character = 0;  // 1-based character of that line
  std::string message;
};

struct DecodedText {
  std::string text;      // UTF-8, without a BOM
  std::string encoding;  // "UTF-8", "UTF-16LE", "UTF-16BE" or "Windows-1252"
  bool bom = false;      // the file started with a byte order mark
  std::vector<DecodeProblem> problems;
};

/// Decodes `bytes`: a BOM decides; without one, NUL bytes in alternate positions mean UTF-16;
/// otherwise UTF-8, unless some bytes are not valid UTF-8 and no valid multi-byte sequence is
/// present, which is read as Windows-1252 (0x80-0x9F as Windows-1252, the rest as Latin-1).
/// Problems: a byte that is not UTF-8 in a file that also has UTF-8 text, one of the five bytes
/// Windows-1252 leaves undefined, an unpaired UTF-16 surrogate, an odd final byte of UTF-16, and a
/// control character other than tab, CR and LF. At most 20 problems are listed.
DecodedText decodeSpreadsheetText(std::string_view bytes);

/// `text` safe to quote in a message: control characters and bytes that are not valid UTF-8 as
/// \xNN, and at most `maxCharacters` characters (then "...").
std::string printable(std::string_view text, size_t maxCharacters = 60);

}  // namespace labgate::mappings
