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
#include <string_view>
#include <utility>
#include <vector>

namespace labgate {

/// The text a parser's view fields point into (the received message, converted to UTF-8), and how
/// such a field's decoded text is made. A Record holds it (shared by every copy of the Record), so
/// a view Field stays valid as long as a Record or Document holding its source lives.
class FieldSource {
 public:
  explicit FieldSource(std::string text) : text_(std::move(text)) {}
  FieldSource(const FieldSource&) = delete;
  FieldSource& operator=(const FieldSource&) = delete;
  virtual ~FieldSource() = default;

  /// The text the fields point into.
  std::string_view text() const { return text_; }
  /// Field::text() of a kDecoded view field whose raw text is `raw`.
  virtual std::string decode(std::string_view raw) const = 0;

 private:
  std::string text_;
};

/// One field of a record. raw() is the field exactly as sent (delimiters and escapes intact), from
/// which a builder reads components; text() is the decoded form that PHI patterns are run over
/// (escapes resolved, component and repeat delimiters turned into spaces).
///
/// A field either owns both strings (ASTM, exports, fields made by code) or is a view into its
/// Record's FieldSource (HL7): raw() is then a view into the received text, and text() is made when
/// it is first read (zero-copy parsing: a reader that asks for a handful of fields decodes only
/// those). A first text() of a view field writes a cache, so two threads must not read the same
/// Document's text() at once without a lock (nothing does: a Document belongs to one connection).
class Field {
 public:
  /// How a view field's text() comes from its raw().
  enum class View : unsigned char {
    kVerbatim,  // text() == raw() (MSH-1, MSH-2, the segment id)
    kTrimmed,   // raw() without leading and trailing bytes <= 0x20 (no delimiter, no escape in it)
    kDecoded,   // FieldSource::decode(raw()), made on the first text()
  };

  Field() = default;
  /// An owned field.
  Field(std::string raw, std::string text, bool stripped = false)
      : raw_(std::move(raw)), text_(std::move(text)), stripped_(stripped) {}
  /// A view field: `raw` lies inside `source`'s text, which must outlive the field (the Record that
  /// holds the field holds the source).
  Field(std::string_view raw, View view, const FieldSource* source)
      : view_(raw), source_(source), kind_(static_cast<Kind>(view)) {}

  /// The field as sent.
  std::string_view raw() const { return kind_ == Kind::kOwned ? std::string_view(raw_) : view_; }
  /// The decoded text (decoded on the first call for a view field).
  std::string_view text() const {
    switch (kind_) {
      case Kind::kOwned:
      case Kind::kVerbatim:
        return kind_ == Kind::kOwned ? std::string_view(text_) : view_;
      case Kind::kTrimmed:
        return trimmedView();
      case Kind::kDecoded:
        if (!decoded_) {
          text_ = source_->decode(view_);
          decoded_ = true;
        }
        return text_;
    }
    return {};
  }
  /// Set by the PHI gate under the strip policy; raw() and text() are then empty.
  bool stripped() const { return stripped_; }
  /// True for a view field (raw() points into the Record's FieldSource).
  bool isView() const { return kind_ != Kind::kOwned; }

  /// Replace raw() (text() keeps its current value); the field owns its strings afterwards.
  void setRaw(std::string raw) {
    own();
    raw_ = std::move(raw);
  }
  /// Replace text() (raw() keeps its current value); the field owns its strings afterwards.
  void setText(std::string text) {
    own();
    text_ = std::move(text);
  }
  /// Empties raw() and text() and marks the field stripped (the PHI gate's strip policy).
  void strip() {
    raw_.clear();
    text_.clear();
    view_ = {};
    source_ = nullptr;
    kind_ = Kind::kOwned;
    stripped_ = true;
  }

 private:
  enum class Kind : unsigned char { kVerbatim, kTrimmed, kDecoded, kOwned };

  std::string_view trimmedView() const {
    std::string_view v = view_;
    while (!v.empty() && static_cast<unsigned char>(v.front()) <= 0x20) v.remove_prefix(1);
    while (!v.empty() && static_cast<unsigned char>(v.back()) <= 0x20) v.remove_suffix(1);
    return v;
  }
  // Turns a view field into an owned one with the same raw() and text().
  void own() {
    if (kind_ == Kind::kOwned) return;
    std::string text(this->text());
    raw_ = std::string(view_);
    text_ = std::move(text);
    view_ = {};
    source_ = nullptr;
    kind_ = Kind::kOwned;
  }

  std::string raw_;           // kOwned: the raw text
  mutable std::string text_;  // kOwned: the text; kDecoded: the cache
  std::string_view view_;     // view kinds: raw() inside source_->text()
  const FieldSource* source_ = nullptr;
  Kind kind_ = Kind::kOwned;
  mutable bool decoded_ = false;
  bool stripped_ = false;
};

/// One record (ASTM), segment (HL7) or row (CSV). `fields[n]` (n >= 1) is field n in the
/// standard's 1-based numbering, so ASTM P-6 is fields[6]; in ASTM, field 1 is the record type
/// itself. `fields[0]` holds the record type too, so the numbering needs no offset.
struct Record {
  std::string type;  // "H", "P", "O", "R", "C", "L", "M", "Q" (ASTM); "PID", "OBX" (HL7);
                     // "column" (a row of a delimited export); the element name (XML export)
  int ordinal = 0;   // 0-based position of the record in the message
  std::vector<Field> fields;
  /// What the view fields point into (HL7); null when every field owns its text.
  std::shared_ptr<const FieldSource> source;

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
  std::string_view raw(size_t field) const;
};

enum class SourceFormat { kAstm, kHl7, kCsv, kXml };

struct Document {
  SourceFormat format = SourceFormat::kAstm;
  std::vector<Record> records;
};

}  // namespace labgate
