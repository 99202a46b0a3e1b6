// STUB: replaced by the format's implementation.
#include "connectors/csv/formats.h"

namespace labgate::csv {

ExportFormatInfo xcaliburXlsFormat() {
  ExportFormatInfo info;
  info.name = "xcalibur";
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    return Status::config(s.keyPrefix + "format", "format xcalibur is not implemented yet");
  };
  return info;
}

}  // namespace labgate::csv
