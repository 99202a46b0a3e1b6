// STUB: replaced by the format's implementation.
#include "connectors/xml/formats.h"

namespace labgate::xml {

ExportFormatInfo targetlynxXmlFormat() {
  ExportFormatInfo info;
  info.name = "targetlynx-xml";
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    return Status::config(s.keyPrefix + "format", "format targetlynx-xml is not implemented yet");
  };
  return info;
}

}  // namespace labgate::xml
