// UTF-8 checks and the Latin-1 conversion, written once for the connectors that receive text in a
// declared character set (ASTM astm.charset) and for the JSON quoting (util/json_quote.h). Pure
// functions, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace labgate::util {

/// The length (2..4) of the valid UTF-8 multi-byte sequence starting at `text[at]`, or 0 when none
/// starts there (an ASCII byte, a stray continuation byte, a truncated sequence, an overlong form,
/// a surrogate or a code point above U+10FFFF).
size_t utf8SequenceLength(std::string_view text, size_t at);

/// The offset of the first byte of `text` that is not part of valid UTF-8, or npos when all are.
size_t firstInvalidUtf8(std::string_view text);

/// True when `text` is valid UTF-8 (ASCII is).
inline bool isValidUtf8(std::string_view text) {
  return firstInvalidUtf8(text) == std::string_view::npos;
}

/// `text` read as ISO 8859-1 (every byte is the code point of the same value), as UTF-8.
std::string latin1ToUtf8(std::string_view text);

}  // namespace labgate::util
