// Thermo Xcalibur Quan Browser XLS (BIFF8 inside an OLE2 compound file). LabGate does not read
// binary workbooks: the format exists so that such a file is recognised by its signature and
// refused with a message that says what to export instead, not quarantined as "unknown format".
#include "connectors/csv/xcalibur.h"

#include <array>

#include "connectors/csv/common.h"
#include "connectors/csv/formats.h"

namespace labgate::csv {

namespace {

constexpr std::array<unsigned char, 8> kOle2Signature = {0xD0, 0xCF, 0x11, 0xE0,
                                                         0xA1, 0xB1, 0x1A, 0xE1};

/// The parse of a workbook: no record, one clear error.
class XcaliburParse : public ExportParse {
 public:
  StatusOr<bool> next(Record&) override {
    return Status::invalid("line 1", std::string(kXcaliburRefusal));
  }
  Status accept(const Record&) override {
    return Status::invalid("line 1", std::string(kXcaliburRefusal));
  }
  StatusOr<Message> finish() override {
    return Status::invalid("line 1", std::string(kXcaliburRefusal));
  }
};

class XcaliburFormat : public ExportFormat {
 public:
  StatusOr<std::unique_ptr<ExportParse>> open(std::istream&) const override {
    return std::unique_ptr<ExportParse>(std::make_unique<XcaliburParse>());
  }
};

/// `text` in the head as 8-bit characters (BIFF8 "compressed" strings) or as UTF-16LE.
bool holds(std::string_view head, std::string_view text) {
  if (head.find(text) != std::string_view::npos) return true;
  std::string wide;
  for (char c : text) {
    wide.push_back(c);
    wide.push_back('\0');
  }
  return head.find(wide) != std::string_view::npos;
}

}  // namespace

bool looksLikeXcaliburXls(std::string_view head) {
  if (head.size() < kOle2Signature.size()) return false;
  for (size_t i = 0; i < kOle2Signature.size(); ++i) {
    if (static_cast<unsigned char>(head[i]) != kOle2Signature[i]) return false;
  }
  return holds(head, "Component Name") && holds(head, "Filename");
}

ExportFormatInfo xcaliburXlsFormat() {
  ExportFormatInfo info;
  info.name = "xcalibur-xls";
  info.description =
      "Thermo Xcalibur Quan Browser binary XLS workbook: recognised and refused (export CSV "
      "instead)";
  info.detect = looksLikeXcaliburXls;
  // The common delimited keys are accepted (a connector with format = auto sets them for the text
  // formats) and checked, though a refused workbook has no use for them.
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    StatusOr<DelimitedSettings> settings = parseDelimitedSettings(s);
    if (!settings.isOk()) return settings.status();
    return std::shared_ptr<const ExportFormat>(std::make_shared<XcaliburFormat>());
  };
  info.keys = delimitedKeys();
  return info;
}

}  // namespace labgate::csv
