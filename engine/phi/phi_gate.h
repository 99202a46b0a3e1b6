// The PHI gate: decides whether a parsed Document carries patient-identifying data, before anything
// of it is written anywhere. Two kinds of rule, both loaded from a JSON pattern file
// (config/phi-patterns.json, documented key by key in docs/phi.md):
//   - structural rules: field locations that identify a patient by their position (ASTM P-6, HL7
//     PID-5, ...); they fire when the field has any non-blank content;
//   - patterns: RE2 regular expressions run over the decoded text of every field (one RE2::Set
//     pass per field, then the individual expressions for the spans), minus matches that lie
//     entirely inside an allow-list match in the same field (sample ids, eponymous analytes, lot
//     numbers, ...). Fields under `exempt_all` are not scanned; fields under `exempt` (provider
//     and facility fields) only by patterns marked `screen_exempt` (SSN, phone, e-mail, DOB).
//     A field holding non-ASCII text is also screened in its NFKC form and its ASCII fold
//     (look-alike characters, Unicode dashes, fullwidth forms; normalize.h), and UTF-8 that was
//     read as Latin-1 as the UTF-8 it was; the field itself is never changed by that.
//
// The gate never copies a field value into anything it returns: a Hit names the location and the
// rule id, nothing else. Screening is linear in the size of the document (RE2 guarantees
// linear-time matching), whatever patterns an administrator adds.
//
// Thread-safety: a PhiGate is immutable after loading; screen() may be called concurrently from any
// number of threads. Copies share the compiled expressions (copying is cheap).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/document.h"
#include "engine/model/status.h"

namespace labgate::phi {

/// What the gate does with a document that has hits.
enum class Policy {
  kRefuse,  // leave the document untouched; the pipeline refuses the whole message
  kStrip,   // clear every hit field (Field::strip(): raw and text emptied); the rest goes on
};

/// "refuse" or "strip" (exactly, lower case); anything else is a kConfig Status.
StatusOr<Policy> parsePolicy(const std::string& text);

/// One field that the gate found identifying. Never holds the field's value.
struct Hit {
  std::string location;   // Record::location(field), e.g. "P-6", "PID-5"
  std::string patternId;  // the rule that fired, e.g. "structural.P-6", "ssn.delimited"
  int recordOrdinal = 0;  // Record::ordinal of the record the field belongs to
  size_t field = 0;       // index into Record::fields
};

struct Screening {
  std::vector<Hit> hits;  // in document order; empty = clean
  bool clean() const { return hits.empty(); }
};

class PhiGate {
 public:
  /// Reads and compiles a pattern file. Any problem (unreadable file, bad JSON, unknown or missing
  /// key, duplicate id, bad location, regex RE2 refuses or that matches the empty string) is
  /// Status::config(path, reason) naming the key or rule id and RE2's own error.
  static StatusOr<PhiGate> loadFile(const std::string& path);

  /// As loadFile, from JSON text; `sourceName` is the location used in error Statuses.
  static StatusOr<PhiGate> fromJson(const std::string& json, const std::string& sourceName);

  /// Screens every field of `document` (fields[1..]; fields[0] is the record type).
  /// Structural rules for the document's format fire when the field has non-blank content that is
  /// not a configured placeholder; patterns run over Field::text() (raw() when text() is empty) of
  /// every field not under exempt_all (and its normalised forms), only the screen_exempt ones on
  /// exempt fields. A field is reported at most once, with the first rule that
  /// fired (structural rules first, then patterns in file order).
  /// Under kStrip every hit field is cleared and marked stripped; under kRefuse the document is
  /// left untouched. The returned hits are the same under both policies.
  Screening screen(Document& document, Policy policy) const;

  /// Exports: which names (column headers of a delimited file, attribute names of an XML file)
  /// identify a patient by themselves ("Patient Name", "DOB", "MRN"): the rule id of the first
  /// `columns` rule whose regex matches each name, "" for the others. The caller sets the result
  /// as Record::nameRules; screen() then treats a non-blank, non-placeholder field under such a
  /// name like a structural hit (refused, or emptied under strip: the column is dropped). A name
  /// with non-ASCII characters is classified by its ASCII fold as well ("Ｐatient Ｎame").
  std::shared_ptr<const std::vector<std::string>> classifyNames(
      const std::vector<std::string>& names) const;

  /// Number of patterns (not counting allow-list entries and structural rules).
  size_t patternCount() const;
  /// Number of allow-list entries.
  size_t allowCount() const;
  /// Number of structural locations over all formats.
  size_t structuralCount() const;

  /// The compiled rule set; defined in phi_gate.cpp.
  struct Rules;

  /// A gate with no rules: every document is clean. Exists so StatusOr<PhiGate> can hold one;
  /// the pipeline always loads a pattern file.
  PhiGate() = default;

 private:
  explicit PhiGate(std::shared_ptr<const Rules> rules) : rules_(std::move(rules)) {}

  std::shared_ptr<const Rules> rules_;
};

}  // namespace labgate::phi
