// Document: a parsed message in its source's own shape (records/segments/rows and their fields),
// before it becomes the canonical Message. It is what the PHI gate screens: every field's decoded
// text, addressed by a location a person can read ("P-6", "PID-5", "column \"Patient Name\"").
//
// Parsers produce a Document; the PHI gate inspects it (and, under the strip policy, clears
// fields); the format's builder then turns the remaining fields into a Message. No I/O, no
// framework types.
#pragma once

#include <string>
#include <vector>

namespace labgate {

/// One field of a record. `raw` is the field exactly as sent (delimiters and escapes intact), from
/// which a builder reads components; `text` is the decoded form that PHI patterns are run over
/// (escapes resolved, component and repeat delimiters turned into spaces).
struct Field {
  std::string raw;
  std::string text;
  bool stripped = false;  // set by the PHI gate under the strip policy; raw and text are then empty
};

/// One record (ASTM), segment (HL7) or row (CSV). `fields[n]` (n >= 1) is field n in the
/// standard's 1-based numbering, so ASTM P-6 is fields[6]; in ASTM, field 1 is the record type
/// itself. `fields[0]` holds the record type too, so the numbering needs no offset.
struct Record {
  std::string type;  // "H", "P", "O", "R", "C", "L", "M", "Q" (ASTM); "PID", "OBX" (HL7)
  int ordinal = 0;   // 0-based position of the record in the message
  std::vector<Field> fields;

  /// The field's location for reports, e.g. "P-6". Names the place, never the value.
  std::string location(size_t field) const { return type + "-" + std::to_string(field); }
  /// The field's raw text, or "" when the record is shorter.
  const std::string& raw(size_t field) const;
};

enum class SourceFormat { kAstm, kHl7, kCsv, kXml };

struct Document {
  SourceFormat format = SourceFormat::kAstm;
  std::vector<Record> records;
};

}  // namespace labgate
