// STUB: replaced by the format's implementation.
#include "connectors/csv/formats.h"

namespace labgate::csv {

ExportFormatInfo targetlynxTxtFormat() {
  ExportFormatInfo info;
  info.name = "targetlynx-txt";
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    return Status::config(s.keyPrefix + "format", "format targetlynx-txt is not implemented yet");
  };
  return info;
}

}  // namespace labgate::csv
