#include "connectors/csv/formats.h"

namespace labgate::csv {

void registerCsvFormats(ExportFormats& formats) {
  formats.add(masshunterFormat());
  formats.add(sciexFormat());
  formats.add(skylineFormat());
  formats.add(tasqFormat());
  formats.add(targetlynxTxtFormat());
  formats.add(xcaliburXlsFormat());
  formats.add(layoutFormat());
}

}  // namespace labgate::csv
