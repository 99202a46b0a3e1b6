// What the XML export formats share: the whole file read into a pugixml DOM, and the walk that
// turns it into the Records the PHI gate screens (one per element, in document order: type = the
// element name, fields = its attribute values, then its text when it has any; names = the
// attribute names and "#text"). accept() clears in the DOM every value the gate stripped, so a
// format's finish(), which interprets the DOM, never sees stripped data.
//
// Memory: XML is read whole. The file is held once, decoded to UTF-8 (a UTF-16 or single-byte file
// briefly holds input and output together) and parsed in place, so the strings stay in that one
// buffer; pugixml adds its node structures (~40 bytes per attribute, ~60 per element), the line
// index 8 bytes per line and the record walk 8 bytes per element. Measured on TargetLynx exports
// (~21 bytes of text per attribute): pugixml's structures are ~2 x the file, so the total is about
// 3 x the file size; text-heavy XML comes to about 1.5 x. Validation streams (no second tree). The
// connector's maximum file size bounds all of it; files over 2 GiB are refused here regardless.
#pragma once

#include <istream>
#include <memory>
#include <pugixml.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/xml/schema.h"
#include "connectors/xml/text.h"
#include "engine/net/export.h"

namespace labgate::xml {

/// Base of every XML format's parse. The format's open() calls load(); its finish() reads
/// document().
class XmlParse : public ExportParse {
 public:
  /// Reads `in` whole, decodes it to UTF-8, refuses a DOCTYPE, validates it against `schema` when
  /// one is given, and parses it. Status::invalid("line N", reason) for any failure.
  Status load(std::istream& in, const XmlSchema* schema);

  StatusOr<bool> next(Record& record) override;
  Status accept(const Record& record) override;

 protected:
  const pugi::xml_document& document() const { return document_; }
  /// The 1-based line an element starts on.
  int lineOf(pugi::xml_node node) const;
  /// Status::invalid unless next() reached the end and every record went through accept(): a
  /// format's finish() calls it first, so it never interprets unscreened data.
  Status checkScreened() const;
  std::string locationOf(pugi::xml_node node) const {
    return "line " + std::to_string(lineOf(node));
  }

 private:
  std::shared_ptr<const std::vector<std::string>> namesFor(pugi::xml_node element);

  std::string text_;  // the decoded file; pugixml's strings point into it
  LineIndex lines_;
  pugi::xml_document document_;
  pugi::xml_node cursor_;  // the element next() yields next
  bool started_ = false;
  size_t accepted_ = 0;
  std::vector<pugi::xml_node> elements_;  // by record ordinal, for accept()
  std::unordered_map<std::string, std::shared_ptr<const std::vector<std::string>>> names_;
};

/// The element's own text (its direct text and CDATA children), "" when only whitespace.
std::string elementText(pugi::xml_node element);

}  // namespace labgate::xml
