// Internal to engine/phi: the compiled form of a PHI pattern file, shared (read-only) by every copy
// of a PhiGate. rules.cpp builds it from JSON; phi_gate.cpp screens documents with it.
// Immutable after compileRules() returns, so concurrent readers need no locking (RE2 and RE2::Set
// are thread-safe for matching).
#pragma once

#include <re2/re2.h>
#include <re2/set.h>

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/model/document.h"
#include "engine/model/status.h"
#include "engine/phi/phi_gate.h"

namespace labgate::phi {

/// Field index that stands for "every field of the record" in a location written "TYPE-*".
inline constexpr size_t kAllFields = static_cast<size_t>(-1);

/// Number of SourceFormat values; rules are kept per format.
inline constexpr size_t kFormatCount = 4;

/// One compiled expression with its id.
struct CompiledPattern {
  std::string id;
  std::unique_ptr<RE2> re;
  bool numericId = false;     // skipped on fields whose whole text is a numeric value or range
  unsigned formats = ~0u;     // bit per SourceFormat the pattern applies to (all by default)
  bool screenExempt = false;  // also runs on `exempt` fields (SSN, phone, e-mail, birth dates)
};

/// A group of expressions with the RE2::Set that finds, in one pass, which of them match.
struct PatternGroup {
  std::vector<CompiledPattern> items;
  std::unique_ptr<RE2::Set> set;  // null when `items` is empty

  /// Indices (ascending) of the items that match somewhere in `text`. Falls back to matching each
  /// item on its own when the set's DFA runs out of memory, so a failure never reads as "clean".
  std::vector<int> matching(const re2::StringPiece& text) const;
};

/// Per record type: field index -> rule id (structural) or -> "" (exempt, exempt_all).
using FieldRules = std::unordered_map<std::string, std::map<size_t, std::string>>;

struct PhiGate::Rules {
  PatternGroup patterns;
  PatternGroup allows;
  PatternGroup columns;  // column and attribute names that identify a patient (exports)
  std::unique_ptr<RE2> numericValue;               // may be null: no field counts as numeric
  std::vector<std::unique_ptr<RE2>> placeholders;  // full-match values structural rules ignore
  std::array<FieldRules, kFormatCount> structural;
  std::array<FieldRules, kFormatCount> exempt;     // only screen_exempt patterns run here
  std::array<FieldRules, kFormatCount> exemptAll;  // no pattern runs here
  size_t structuralCount = 0;
};

/// Parses and compiles a pattern file's JSON text. Errors are Status::config(sourceName, ...).
StatusOr<std::shared_ptr<const PhiGate::Rules>> compileRules(const std::string& json,
                                                             const std::string& sourceName);

/// The rule registered for `type`-`field` in `rules` (exact index first, then "TYPE-*"), or null.
const std::string* findFieldRule(const FieldRules& rules, const std::string& type, size_t field);

}  // namespace labgate::phi
