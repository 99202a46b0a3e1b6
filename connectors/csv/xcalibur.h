// Thermo Xcalibur Quan Browser / TraceFinder binary XLS workbooks (spec analytics.md §7.4): they
// are recognised so that a dropped workbook gets a clear refusal, and are not read.
#pragma once

#include <string_view>

namespace labgate::csv {

/// The reason every parse of an Xcalibur workbook fails with (at "line 1").
inline constexpr std::string_view kXcaliburRefusal =
    "Thermo Xcalibur binary XLS workbooks are not read: export the Quan Browser results as CSV "
    "(or use TraceFinder's CSV report) and use format \"layout\"";

/// True when `head` starts with the OLE2 compound-file signature (D0 CF 11 E0 A1 B1 1A E1) and
/// holds the Xcalibur result-sheet column names `Component Name` and `Filename` (the workbook's
/// shared strings, which come before the sheets).
bool looksLikeXcaliburXls(std::string_view head);

}  // namespace labgate::csv
