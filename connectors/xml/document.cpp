// The shared DOM load and record walk of the XML export formats; see document.h.
#include "connectors/xml/document.h"

#include <iterator>

namespace labgate::xml {
namespace {

// A backstop at libxml2's int sizes; the connector's own limit is lower.
constexpr size_t kMaxXmlBytes = 0x7FFFFFFF;

bool isWhitespace(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

pugi::xml_node nextElement(pugi::xml_node node) {
  for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
    if (child.type() == pugi::node_element) return child;
  }
  for (pugi::xml_node at = node; at; at = at.parent()) {
    for (pugi::xml_node sibling = at.next_sibling(); sibling; sibling = sibling.next_sibling()) {
      if (sibling.type() == pugi::node_element) return sibling;
    }
  }
  return pugi::xml_node();
}

}  // namespace

std::string elementText(pugi::xml_node element) {
  std::string text;
  for (pugi::xml_node child = element.first_child(); child; child = child.next_sibling()) {
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      text += child.value();
    }
  }
  return isWhitespace(text) ? std::string() : text;
}

Status XmlParse::load(std::istream& in, const XmlSchema* schema) {
  text_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::io("line 1", "the file could not be read");
  if (text_.size() > kMaxXmlBytes) return Status::tooLarge("line 1", "XML file over 2 GiB");
  if (Status decoded = decodeToUtf8(text_); !decoded) return decoded;
  Prolog prolog = scanProlog(text_);
  lines_ = LineIndex(text_);
  if (prolog.doctype) {
    return Status::invalid("line " + std::to_string(lines_.lineAt(prolog.doctypeAt)),
                           "DOCTYPE and entity declarations are refused");
  }
  if (schema != nullptr) {
    if (Status valid = schema->validate(text_); !valid) return valid;
  }
  unsigned options = pugi::parse_default | pugi::parse_doctype;
  pugi::xml_parse_result parsed =
      document_.load_buffer_inplace(text_.data(), text_.size(), options, pugi::encoding_utf8);
  if (!parsed) {
    return Status::invalid("line " + std::to_string(lines_.lineAt(parsed.offset)),
                           std::string("not well-formed XML: ") + parsed.description());
  }
  for (pugi::xml_node node = document_.first_child(); node; node = node.next_sibling()) {
    if (node.type() == pugi::node_doctype) {
      return Status::invalid("line 1", "DOCTYPE and entity declarations are refused");
    }
  }
  if (!document_.document_element()) return Status::invalid("line 1", "no root element");
  return Status::ok();
}

int XmlParse::lineOf(pugi::xml_node node) const {
  ptrdiff_t offset = node.offset_debug();
  return offset < 0 ? 0 : lines_.lineAt(static_cast<size_t>(offset));
}

std::shared_ptr<const std::vector<std::string>> XmlParse::namesFor(pugi::xml_node element) {
  std::vector<std::string> names{""};
  for (pugi::xml_attribute a = element.first_attribute(); a; a = a.next_attribute()) {
    names.emplace_back(a.name());
  }
  if (!elementText(element).empty()) names.emplace_back("#text");
  auto& cached = names_[element.name()];
  if (!cached || *cached != names) {
    cached = std::make_shared<const std::vector<std::string>>(std::move(names));
  }
  return cached;
}

Status XmlParse::checkScreened() const {
  if (!started_ || cursor_ || accepted_ != elements_.size()) {
    return Status::invalid("line 1", "the file was not read to the end and screened");
  }
  return Status::ok();
}

StatusOr<bool> XmlParse::next(Record& record) {
  cursor_ = started_ ? (cursor_ ? nextElement(cursor_) : cursor_) : document_.document_element();
  started_ = true;
  if (!cursor_) return false;
  record.type = cursor_.name();
  record.ordinal = static_cast<int>(elements_.size());
  record.line = lineOf(cursor_);
  record.namesInLocation = true;
  record.nameRules.reset();
  record.names = namesFor(cursor_);
  record.fields.clear();
  record.fields.resize(record.names->size());
  size_t n = 1;
  for (pugi::xml_attribute a = cursor_.first_attribute(); a; a = a.next_attribute(), ++n) {
    record.fields[n].setRaw(a.value());
    record.fields[n].setText(std::string(record.fields[n].raw()));
  }
  if (n < record.fields.size()) {
    record.fields[n].setRaw(elementText(cursor_));
    record.fields[n].setText(std::string(record.fields[n].raw()));
  }
  elements_.push_back(cursor_);
  return true;
}

Status XmlParse::accept(const Record& record) {
  if (record.ordinal < 0 || static_cast<size_t>(record.ordinal) >= elements_.size()) {
    return Status::invalid("line " + std::to_string(record.line),
                           "record was not read from this file");
  }
  pugi::xml_node element = elements_[static_cast<size_t>(record.ordinal)];
  ++accepted_;
  size_t n = 1;
  for (pugi::xml_attribute a = element.first_attribute(); a; a = a.next_attribute(), ++n) {
    if (n < record.fields.size() && record.fields[n].stripped()) a.set_value("");
  }
  if (n < record.fields.size() && record.fields[n].stripped()) {
    for (pugi::xml_node child = element.first_child(); child; child = child.next_sibling()) {
      if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
        child.set_value("");
      }
    }
  }
  return Status::ok();
}

}  // namespace labgate::xml
