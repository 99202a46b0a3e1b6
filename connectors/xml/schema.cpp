// libxml2 XSD validation for XML exports; see schema.h.
#include "connectors/xml/schema.h"

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlschemas.h>

#include <cctype>
#include <filesystem>
#include <mutex>
#include <vector>

namespace labgate::xml {
namespace {

// The first error libxml2 reports during one operation.
struct ErrorCollector {
  bool seen = false;
  int line = 0;
  std::string message;
  std::vector<std::string> inserts;  // the strings libxml2 put into the message (values, types)
};

void collectError(void* context, xmlErrorPtr error) {
  auto* collector = static_cast<ErrorCollector*>(context);
  if (collector == nullptr || error == nullptr || collector->seen) return;
  if (error->level == XML_ERR_WARNING) return;
  collector->seen = true;
  collector->line = error->line;
  if (error->line <= 0 && error->node != nullptr &&
      static_cast<xmlNodePtr>(error->node)->type == XML_ELEMENT_NODE) {
    collector->line = static_cast<int>(xmlGetLineNo(static_cast<xmlNodePtr>(error->node)));
  }
  collector->message = error->message != nullptr ? error->message : "unknown libxml2 error";
  for (const char* insert : {error->str1, error->str2, error->str3}) {
    if (insert != nullptr && *insert != '\0') collector->inserts.emplace_back(insert);
  }
}

void ignoreGenericError(void*, const char*, ...) {}

// Routes this thread's libxml2 errors to `collector` while it lives (libxml2 keeps its error
// handlers per thread), so nothing reaches stderr.
class ThreadErrorScope {
 public:
  explicit ThreadErrorScope(ErrorCollector* collector)
      : structured_(xmlStructuredError),
        structuredContext_(xmlStructuredErrorContext),
        generic_(xmlGenericError),
        genericContext_(xmlGenericErrorContext) {
    xmlSetStructuredErrorFunc(collector, collectError);
    xmlSetGenericErrorFunc(nullptr, ignoreGenericError);
  }
  ~ThreadErrorScope() {
    xmlSetStructuredErrorFunc(structuredContext_, structured_);
    xmlSetGenericErrorFunc(genericContext_, generic_);
  }
  ThreadErrorScope(const ThreadErrorScope&) = delete;
  ThreadErrorScope& operator=(const ThreadErrorScope&) = delete;

 private:
  xmlStructuredErrorFunc structured_;
  void* structuredContext_;
  xmlGenericErrorFunc generic_;
  void* genericContext_;
};

void initLibxml() {
  static std::once_flag once;
  std::call_once(once, [] {
    xmlInitParser();
    // Schemas may import or include other files: local files only, never the network.
    xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
  });
}

bool keepsQuotedName(std::string_view before) {
  // The word in front of a quote decides whether the quoted text is markup (kept) or a value.
  size_t end = before.find_last_not_of(" [");
  if (end == std::string_view::npos) return false;
  size_t start = before.find_last_of(" ([,", end);
  std::string word(before.substr(start == std::string_view::npos ? 0 : start + 1,
                                 end + 1 - (start == std::string_view::npos ? 0 : start + 1)));
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return word == "element" || word == "attribute" || word == "type" || word == "facet" ||
         word == "pattern" || word == "identity-constraint" || word == "declaration" ||
         word == "namespace" || word == "child" || word == "key" || word == "keyref" ||
         word == "unique" || word == "content" || word == "decl.";
}

}  // namespace

std::string sanitizeLibxmlMessage(std::string_view message,
                                  const std::vector<std::string>& inserts) {
  std::string out;
  std::vector<std::string_view> dropped;
  for (size_t i = 0; i < message.size();) {
    char c = message[i];
    if (c == '{') {  // an enumeration's value set
      size_t close = message.find('}', i);
      if (close == std::string_view::npos) break;
      while (!out.empty() && out.back() == ' ') out.pop_back();
      i = close + 1;
      continue;
    }
    if (c != '\'') {
      out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
      ++i;
      continue;
    }
    // A string libxml2 inserted decides where the quotes close, so a value with an apostrophe
    // ("O'Brien") is dropped whole.
    size_t close = std::string_view::npos;
    for (const std::string& insert : inserts) {
      if (message.substr(i + 1, insert.size()) == insert &&
          message.substr(i + 1 + insert.size(), 1) == "'") {
        close = std::max(close == std::string_view::npos ? 0 : close, i + 1 + insert.size());
      }
    }
    if (close == std::string_view::npos) close = message.find('\'', i + 1);
    if (close == std::string_view::npos) {  // a lone quote, as in "AttValue: \" or ' expected"
      out += '\'';
      ++i;
      continue;
    }
    if (keepsQuotedName(out)) {
      out.append(message.substr(i, close - i + 1));
    } else {
      dropped.push_back(message.substr(i + 1, close - i - 1));
      std::string_view tail = std::string_view(out);
      size_t last = tail.find_last_not_of(' ');
      bool afterValue =
          last != std::string_view::npos && last >= 4 &&
          (tail.substr(last - 4, 5) == "value" || tail.substr(last - 4, 5) == "Value");
      if (afterValue) {
        while (!out.empty() && out.back() == ' ') out.pop_back();
      } else {
        out += "a value";
      }
    }
    i = close + 1;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '.')) out.pop_back();
  size_t first = out.find_first_not_of(' ');
  out = first == std::string::npos ? std::string() : out.substr(first);
  // Safety net: an inserted string that was not kept as a name must not survive anywhere.
  for (const std::string& insert : inserts) {
    bool kept = out.find("'" + insert + "'") != std::string::npos;
    if (!kept && insert.size() > 1 && out.find(insert) != std::string::npos) {
      size_t colon = out.find("': ");
      return (colon == std::string::npos ? std::string() : out.substr(0, colon + 3)) +
             "a value does not match the schema";
    }
  }
  return out;
}

StatusOr<std::shared_ptr<const XmlSchema>> XmlSchema::load(const std::string& path,
                                                           const std::string& key) {
  initLibxml();
  ErrorCollector errors;
  ThreadErrorScope scope(&errors);
  if (!std::filesystem::is_regular_file(path)) {
    return Status::config(key, "schema file " + path + " does not exist");
  }
  xmlSchemaParserCtxtPtr parser = xmlSchemaNewParserCtxt(path.c_str());
  if (parser == nullptr) return Status::config(key, "schema file " + path + " cannot be read");
  xmlSchemaSetParserStructuredErrors(parser, collectError, &errors);
  xmlSchemaPtr schema = xmlSchemaParse(parser);
  xmlSchemaFreeParserCtxt(parser);
  if (schema == nullptr) {
    // The schema is configuration, not patient data: libxml2's reason is shown whole.
    std::string reason = errors.seen ? errors.message : "not a schema";
    for (char& c : reason) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    while (!reason.empty() && (reason.back() == ' ' || reason.back() == '.')) reason.pop_back();
    std::string where = errors.line > 0 ? " line " + std::to_string(errors.line) : "";
    return Status::config(key, "schema file " + path + where + ": " + reason);
  }
  return std::shared_ptr<const XmlSchema>(new XmlSchema(schema));
}

XmlSchema::~XmlSchema() { xmlSchemaFree(schema_); }

Status XmlSchema::validate(std::string_view utf8) const {
  ErrorCollector errors;
  ThreadErrorScope scope(&errors);
  xmlTextReaderPtr reader = xmlReaderForMemory(
      utf8.data(), static_cast<int>(utf8.size()), nullptr, "UTF-8",
      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC);
  if (reader == nullptr) return Status::invalid("line 1", "the XML validator could not start");
  xmlTextReaderSetStructuredErrorHandler(reader, collectError, &errors);
  xmlSchemaValidCtxtPtr context = xmlSchemaNewValidCtxt(schema_);
  int rc = context != nullptr ? xmlTextReaderSchemaValidateCtxt(reader, context, 0) : -1;
  if (rc == 0) {
    xmlSchemaSetValidStructuredErrors(context, collectError, &errors);
    while ((rc = xmlTextReaderRead(reader)) == 1) {
    }
  }
  bool valid = rc == 0 && !errors.seen && xmlTextReaderIsValid(reader) == 1;
  xmlFreeTextReader(reader);
  if (context != nullptr) xmlSchemaFreeValidCtxt(context);
  if (valid) return Status::ok();
  std::string where = "line " + std::to_string(errors.line > 0 ? errors.line : 1);
  std::string reason =
      errors.seen ? sanitizeLibxmlMessage(errors.message, errors.inserts) : "not valid";
  return Status::invalid(where, "not valid against the schema: " + reason);
}

StatusOr<std::shared_ptr<const XmlSchema>> schemaFromSettings(const ExportSettings& settings) {
  auto it = settings.keys.find("xml.schema");
  if (it == settings.keys.end() || it->second.empty()) {
    return std::shared_ptr<const XmlSchema>();
  }
  std::filesystem::path path(it->second);
  if (path.is_relative() && !settings.configDir.empty()) path = settings.configDir / path;
  return XmlSchema::load(path.string(), settings.keyPrefix + "xml.schema");
}

}  // namespace labgate::xml
