// The delimited and binary export formats this folder provides, registered by name.
#pragma once

#include "engine/net/export.h"

namespace labgate::csv {

ExportFormatInfo masshunterFormat();  // masshunter.cpp: Agilent MassHunter Quant CSV (both forms)
ExportFormatInfo sciexFormat();       // sciex.cpp: SCIEX MultiQuant / Analyst / OS TSV
ExportFormatInfo skylineFormat();     // skyline.cpp: Skyline report CSV
ExportFormatInfo tasqFormat();        // tasq.cpp: Bruker TASQ TSV
ExportFormatInfo targetlynxTxtFormat();  // targetlynx_txt.cpp: Waters Quantify Summary Report TXT
ExportFormatInfo xcaliburXlsFormat();    // xcalibur.cpp: Thermo XLS workbooks (refused, clearly)
ExportFormatInfo layoutFormat();         // layout.cpp: generic delimited, driven by a layout file

/// Registers every format above, in auto-detection order.
void registerCsvFormats(ExportFormats& formats);

}  // namespace labgate::csv
