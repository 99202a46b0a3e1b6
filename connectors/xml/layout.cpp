// STUB: replaced by the format's implementation.
#include "connectors/xml/formats.h"

namespace labgate::xml {

ExportFormatInfo xmlLayoutFormat() {
  ExportFormatInfo info;
  info.name = "xml-layout";
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    return Status::config(s.keyPrefix + "format", "format xml-layout is not implemented yet");
  };
  return info;
}

}  // namespace labgate::xml
