// Agilent MassHunter Quantitative Analysis CSV exports (docs/connectors/exports.md, spec
// analytics.md §7.1): the sample-table ("wide") form, one row per injection with a two-row grouped
// header, and the compound-table form, one row per compound with the samples as column groups.
// masshunterFormat() (formats.h) is the registered format; the helpers here are its pure parts.
#pragma once

#include <string>
#include <string_view>

namespace labgate::csv {

/// The format's detector: the first line (after a BOM, in any encoding) starts with "Sample" or
/// "Compound Method" and a delimiter; or the first line has empty cells before the first
/// "<compound> Results|Method" group and the second line names a "Data File" column.
bool looksLikeMassHunter(std::string_view head);

/// "D:\\Batch\\SBLK1.d" -> "SBLK1": the acquisition's name when the export has no Name column.
std::string dataFileStem(std::string_view dataFile);

/// True when a compound name marks an internal standard: "(ISTD)", "[ISTD]" or "(IS)".
bool isInternalStandardName(std::string_view compound);

}  // namespace labgate::csv
