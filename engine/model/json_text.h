// JSON string literals written by hand (audit details, JSON log lines): one escaper, so that every
// such text is valid JSON whatever bytes it is given.
#pragma once

#include <string>

namespace labgate {

/// `text` as a JSON string literal with its quotes: ", \ and control characters escaped,
/// invalid UTF-8 sequences replaced by \ufffd.
std::string jsonQuote(const std::string& text);

}  // namespace labgate
