// JSON string literals written by hand (audit details, JSON log lines, backup manifests): one
// escaper, so that every such text is valid JSON whatever bytes it is given.
#pragma once

#include <string>

namespace labgate::util {

/// `text` as a JSON string literal with its quotes: ", \ and control characters escaped,
/// invalid UTF-8 sequences replaced by \ufffd (U+FFFD). Short forms \n, \r, \t; other control
/// characters and DEL as \u00XX.
std::string jsonQuote(const std::string& text);

}  // namespace labgate::util
