#include "connectors/xml/formats.h"

namespace labgate::xml {

void registerXmlFormats(ExportFormats& formats) {
  formats.add(targetlynxXmlFormat());
  formats.add(xmlLayoutFormat());
}

}  // namespace labgate::xml
