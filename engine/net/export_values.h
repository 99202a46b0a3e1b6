// Values in batch exports, whatever the format: numbers in the file's locale with missing-value
// tokens, vendor sample-type words, locale-dependent date-times. Shared by connectors/csv and
// connectors/xml (a connector never includes another connector). Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/model/model.h"

namespace labgate {

enum class DateOrder { kAuto, kMdy, kDmy, kYmd };

/// A cell as a number, in the file's locale. Missing values (empty, N/A, NA, NF, #N/A, NaN, n.a.,
/// "degenerate", "No Peak", "< 0", "-", ...) are std::nullopt, never 0. `decimalComma`: ',' is the
/// decimal separator and '.' a thousands separator; otherwise the reverse. A thousands separator is
/// accepted only in groups of three digits.
std::optional<double> parseNumber(std::string_view cell, bool decimalComma = false);

/// True when `cell` is one of the missing-value tokens above (or empty).
bool isMissingToken(std::string_view cell);

/// Trims ASCII spaces and tabs at both ends.
std::string_view trim(std::string_view s);

/// Vendor sample-type words to SampleKind: Cal/Calibrator/Standard/Std -> calibrator; QC/CC ->
/// qc; Blank/MatrixBlank/Solvent Blank -> blank; DoubleBlank -> double_blank; ResponseCheck/
/// System Suitability/SST -> system_suitability; Sample/Unknown/Analyte/"" -> unknown.
/// Case and spaces are ignored. nullopt for a word it does not know.
std::optional<SampleKind> sampleKindFromVendor(std::string_view type);

/// A date-time as the quantitation software wrote it ("4/19/2018 6:37 PM", "26/11/2024 3:05 pm",
/// "27.06.2022 11:01", "2024-11-26 15:05:00", "1/20/25 17:00") as "YYYY-MM-DDTHH:MM[:SS]".
/// With DateOrder::kAuto, a first number over 12 means day-first, '.' means day-first, a 4-digit
/// first number means year-first, else month-first. nullopt if it is not a date.
std::optional<std::string> parseDateTime(std::string_view text, DateOrder order);

/// Lower-cases ASCII and collapses runs of spaces, for header matching.
std::string normalizeName(std::string_view name);

/// A Waters TargetLynx (MassLynx) peak-flag text as the TXT "Primary Flags" column and the XML
/// `pkflags` attribute write it, taken apart: "bb", "bdX", "MMXI" (msparser_TRY corpus file).
/// The first two letters are the integration code, lower case for the automatic baseline start
/// and end (b, d, v, ...), "MM" for a manual integration: routine information, not a flag. An "X"
/// after it on a calibrator is the analyst's exclusion of the point from the curve. Every other
/// letter (e.g. "I") stays a flag: its meaning is not documented to us, so it holds for review.
struct TargetLynxFlags {
  std::string integrationCode;  // "bb", "bd", "MM" or ""
  bool manual = false;          // the code holds an 'M'
  bool excludedFromCurve = false;
  std::string flags;  // what is left, as sent ("I", "X" on a non-calibrator, ...)
};
/// `calibrator`: the row is a calibrator (only there does "X" mean excluded from the curve).
TargetLynxFlags splitTargetLynxFlags(std::string_view text, bool calibrator);

/// A positive whole number (an injection or sample-list number: "17", "17.000"); nullopt for
/// anything else (missing, zero, negative, fractional).
std::optional<int64_t> parseInjectionNumber(std::string_view cell);

}  // namespace labgate
