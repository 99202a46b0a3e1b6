// What the XML export formats share: the whole file read into a pugixml DOM, and the walk that
// turns it into the Records the PHI gate screens (one per element, in document order: type = the
// element name, fields = its attribute values, then its text when it has any; names = the
// attribute names and "#text"). accept() clears in the DOM every value the gate stripped, so a
// format's finish(), which interprets the DOM, never sees stripped data.
//
// Memory: XML is read whole. The file is held once, decoded to UTF-8 and parsed in place; pugixml
// adds its node and attribute structures (about 70 bytes per element and 40 per attribute), the
// line index 8 bytes per line and the record walk 8 bytes per element. For attribute-heavy exports
// like TargetLynx (~25 bytes of text per attribute) that is about 2.5 x the file size; for
// text-heavy XML about 1.5 x. The connector's maximum file size bounds it.
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
