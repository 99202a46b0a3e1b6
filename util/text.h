// Trimming and case folding, written once for every reader of configuration and export text.
#pragma once

#include <string>
#include <string_view>

namespace labgate::util {

/// `text` without leading and trailing ASCII white space (space, tab, CR, LF, VT, FF). Other
/// bytes, including non-breaking spaces, are kept.
std::string_view trimmed(std::string_view text);

/// `text` with ASCII letters in lower case; other bytes unchanged (no locale).
std::string lowered(std::string_view text);

}  // namespace labgate::util
