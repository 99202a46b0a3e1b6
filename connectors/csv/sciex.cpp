// STUB: replaced by the format's implementation.
#include "connectors/csv/formats.h"

namespace labgate::csv {

ExportFormatInfo sciexFormat() {
  ExportFormatInfo info;
  info.name = "sciex";
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    return Status::config(s.keyPrefix + "format", "format sciex is not implemented yet");
  };
  return info;
}

}  // namespace labgate::csv
