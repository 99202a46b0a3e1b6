// Document: a parsed message in its source's own shape (records/segments/rows and their fields),
// before it becomes the canonical Message. It is what the PHI gate screens: every field's decoded
// text, addressed by a location a person can read ("P-6", "PID-5", "column \"Patient Name\"").
//
// Parsers produce a Document; the PHI gate inspects it (and, under the strip policy, clears
// fields); the format's builder then turns the remaining fields into a Message. No I/O, no
// framework types.
#pragma once

#include <memory>
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
  std::string type;  // "H", "P", "O", "R", "C", "L", "M", "Q" (ASTM); "PID", "OBX" (HL7);
                     // "column" (a row of a delimited export); the element name (XML export)
  int ordinal = 0;   // 0-based position of the record in the message
  std::vector<Field> fields;

  /// Exports only: the 1-based line the record starts on (0 for ASTM and HL7).
  int line = 0;
  /// Exports only: the name of each field (names[n] for fields[n]): the column header of a
  /// delimited export, the attribute name of an XML element. The PHI gate classifies names
  /// (a column called "Patient Name" identifies a patient whatever its values look like).
  std::shared_ptr<const std::vector<std::string>> names;
  /// Set by the caller from PhiGate::classifyNames(*names): the rule id for each field whose name
  /// identifies a patient, "" for the others. Shared by every row under the same header.
  std::shared_ptr<const std::vector<std::string>> nameRules;
  /// XML: names are markup (element and attribute names), so locations may show them. A delimited
  /// export's headers are data and are never put into a location.
  bool namesInLocation = false;

  /// The field's location for reports: "P-6" (ASTM, HL7), "line 12 column 5" (delimited export),
  /// "line 40 PEAK@area" (XML). Names the place, never the value.
  std::string location(size_t field) const;
  /// The field's raw text, or "" when the record is shorter.
  const std::string& raw(size_t field) const;
};

enum class SourceFormat { kAstm, kHl7, kCsv, kXml };

struct Document {
  SourceFormat format = SourceFormat::kAstm;
  std::vector<Record> records;
};

}  // namespace labgate
