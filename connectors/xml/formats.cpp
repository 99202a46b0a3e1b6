#include "connectors/xml/formats.h"

namespace labgate::xml {

void registerXmlFormats(ExportFormats& formats) {
  // Their records are elements and attributes: the PHI gate applies its xml rules.
  for (ExportFormatInfo info : {targetlynxXmlFormat(), xmlLayoutFormat()}) {
    info.syntax = SourceFormat::kXml;
    formats.add(std::move(info));
  }
}

}  // namespace labgate::xml
