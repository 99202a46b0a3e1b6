// SCIEX MultiQuant / Analyst / SCIEX OS tab-delimited results exports (docs/connectors/exports.md,
// spec analytics.md §7.2). The format itself is sciexFormat() in formats.h; this header exposes
// its signature test.
#pragma once

#include <string_view>

namespace labgate::csv {

/// True when a tab-separated line in `head` (the file's first bytes, any encoding) has a
/// `Sample Name` cell and a `Component Name` or `Analyte Peak Name` cell.
bool looksLikeSciex(std::string_view head);

}  // namespace labgate::csv
