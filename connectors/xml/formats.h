// The XML export formats this folder provides, registered by name.
#pragma once

#include "engine/net/export.h"

namespace labgate::xml {

ExportFormatInfo targetlynxXmlFormat();  // targetlynx.cpp: Waters TargetLynx QUANDATASET XML
ExportFormatInfo xmlLayoutFormat();      // layout.cpp: generic XML, driven by a layout file (XPath)

/// Registers every format above, in auto-detection order.
void registerXmlFormats(ExportFormats& formats);

}  // namespace labgate::xml
