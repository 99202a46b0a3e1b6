// Bruker TASQ results exported as quoted tab-separated text (spec analytics.md §7.6). The format
// is tasqFormat() in formats.h; this header exposes its signature test and its date reader.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace labgate::csv {

/// True when the first non-blank line of `head` is a tab-separated header with `AnalysisName` and
/// `AnalyteName` cells (quoted or not).
bool looksLikeTasq(std::string_view head);

/// A date written the C/Java way, "Wed Apr 19 11:58:42 AWST 2023" (the zone is optional and
/// ignored: the time is local to the instrument, as the other exports write it), as
/// "YYYY-MM-DDTHH:MM:SS". nullopt if it is not such a date.
std::optional<std::string> parseWeekdayDateTime(std::string_view text);

}  // namespace labgate::csv
