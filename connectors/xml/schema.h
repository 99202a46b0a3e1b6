// Optional XSD validation of XML exports with libxml2 (connector key `xml.schema`). The schema is
// compiled once, when the connector starts, and shared read-only by every file the connector
// reads. libxml2's messages are captured, never printed, and reduced to markup names before they
// leave this file: a message never quotes an element's content or an attribute's value.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/status.h"
#include "engine/net/export.h"

struct _xmlSchema;  // NOLINT(bugprone-reserved-identifier): libxml2's own type name

namespace labgate::xml {

class XmlSchema {
 public:
  /// Compiles the XSD at `path`. Status::config(`key`, file + libxml2's reason) when it does not
  /// load. No network access: imports and includes resolve to local files only.
  static StatusOr<std::shared_ptr<const XmlSchema>> load(const std::string& path,
                                                         const std::string& key);
  ~XmlSchema();
  XmlSchema(const XmlSchema&) = delete;
  XmlSchema& operator=(const XmlSchema&) = delete;

  /// Validates a whole UTF-8 document (streaming; no tree is built). Status::invalid("line N",
  /// the first error, without values) when it is not valid. Thread-safe.
  Status validate(std::string_view utf8) const;

 private:
  explicit XmlSchema(_xmlSchema* schema) : schema_(schema) {}
  _xmlSchema* schema_;
};

/// The `xml.schema` key of a connector: null when unset; otherwise the compiled schema, the path
/// taken relative to ExportSettings::configDir.
StatusOr<std::shared_ptr<const XmlSchema>> schemaFromSettings(const ExportSettings& settings);

/// A libxml2 message with every quoted value removed: quoted names after "Element", "attribute",
/// "type", "facet", "pattern" and the like stay; any other quoted text becomes "a value" (or
/// disappears after the word "value"); "{...}" value sets are dropped. `inserts` are the strings
/// libxml2 formatted into the message (xmlError str1..str3): they decide where a quoted value ends,
/// and if one that is not a kept name would still appear, the reason falls back to "a value does
/// not match the schema". One line, no trailing dot.
std::string sanitizeLibxmlMessage(std::string_view message,
                                  const std::vector<std::string>& inserts = {});

}  // namespace labgate::xml
