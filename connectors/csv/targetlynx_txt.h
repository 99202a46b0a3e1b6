// Waters TargetLynx Quantify Compound / Sample Summary Report text (spec analytics.md §7.3). The
// format is targetlynxTxtFormat() in formats.h; this header exposes its signature test.
#pragma once

#include <string_view>

namespace labgate::csv {

/// True when the first non-blank line of `head` starts with "Quantify Compound Summary Report"
/// or "Quantify Sample Summary Report".
bool looksLikeTargetLynxTxt(std::string_view head);

}  // namespace labgate::csv
