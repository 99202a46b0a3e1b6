// Layout-driven delimited exports: a JSON layout file, written by the LIS administrator, names the
// columns of an export no built-in format knows (docs/connectors/exports.md, "layout").
// layoutFormat() (formats.h) is the registered format; the layout itself is read here.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "connectors/csv/common.h"
#include "engine/model/status.h"
#include "util/layout_fields.h"

namespace labgate::csv {

/// A validated layout file.
struct Layout {
  std::string path;    // as resolved, for messages
  char delimiter = 0;  // 0: detected
  int headerLine = 1;
  std::map<std::string, std::string> columns;     // canonical field -> header name
  std::map<std::string, SampleKind> sampleKinds;  // normalised vendor word -> kind
  std::optional<DelimitedSettings::Decimal> decimal;
  std::optional<DateOrder> dateOrder;
  std::optional<Encoding> encoding;
  /// The lab declares that its export lists the injections in the order they were run
  /// ("listed_in_run_order": true); otherwise the rules need an injection or acquisition column.
  bool listedInRunOrder = false;
};

/// The canonical fields `columns` may name (util/layout_fields.h; the XML layouts' too).
using util::layoutFields;

/// Parses and validates layout JSON; every error is Status::config(`path`, "<key>: <reason>").
StatusOr<Layout> parseLayout(const std::string& path, const std::string& json);

/// Reads the file at `path` (relative paths against `configDir`) and parses it.
StatusOr<Layout> loadLayout(const std::string& path, const std::string& configDir);

}  // namespace labgate::csv
