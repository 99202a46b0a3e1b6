// Skyline report CSV (spec analytics.md §7.5). The format is skylineFormat() in formats.h; this
// header exposes its signature test.
#pragma once

#include <string_view>

namespace labgate::csv {

/// True when the first non-blank line of `head` is a header (comma, semicolon or tab separated)
/// with a `Replicate Name` (or `Replicate`) cell and a molecule or peptide name cell.
bool looksLikeSkyline(std::string_view head);

}  // namespace labgate::csv
