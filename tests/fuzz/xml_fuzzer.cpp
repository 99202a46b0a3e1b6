// libFuzzer harness for the XML export formats of connectors/xml: the first input byte picks a
// registered format and how the loop ends; the rest is the file, run through the engine's loop
// open -> next -> accept -> ... -> finish (engine/net/export.h). Any Status is fine; a crash,
// leak, hang or unbounded growth is not.
//
//   byte 0 % formats      the format, in registration order (xml-layout reads a fixed layout file
//                         written to a temporary directory at start-up)
//   byte 0 / formats % 3  loop: every record accepted as read; every third field emptied first
//                         (what the PHI gate's strip policy does); or refused (next() to the end,
//                         no accept(); finish() must then refuse to interpret the document)
//
// Every format's detector also sees the file's head. A format whose factory fails (not written
// yet) is skipped. No XSD (xml.schema) is configured: validation is libxml2's. Built with clang by
// tests/CMakeLists.txt; seeds in tests/fuzz/corpus/xml.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/xml/formats.h"
#include "engine/net/export.h"
#include "tests/fuzz/export_fuzz_loop.h"

namespace {

using labgate::ExportFormat;
using labgate::ExportFormats;
using labgate::ExportParse;
using labgate::ExportSettings;
using labgate::Message;
using labgate::Record;
using labgate::Status;
using labgate::StatusOr;

// For format "xml-layout": <Run><Vial code kind><Measurement target rt area>Amount ...
constexpr const char* kLayout = R"({
  "version": 1,
  "sample": "//Vial",
  "result": "Measurement",
  "fields": {
    "sample_id": "@code",
    "sample_type": "@kind",
    "position": "@slot",
    "acquired_at": "../@started",
    "analyte": "@target",
    "value": "Amount",
    "units": "Amount/@unit",
    "rt": "@rt",
    "area": "@area",
    "is_area": "Istd/@area",
    "manual_integration": "@manual"
  },
  "sample_kinds": {"CC": "calibrator", "CTRL": "qc", "BLK": "blank"}
})";

struct Configured {
  const labgate::ExportFormatInfo* info = nullptr;
  std::shared_ptr<const ExportFormat> format;  // null: the factory refused (a stub)
};

struct Setup {
  ExportFormats formats;
  std::vector<Configured> configured;
};

const Setup& setup() {
  static const Setup* made = [] {
    auto* s = new Setup;
    labgate::xml::registerXmlFormats(s->formats);
    char dir[] = "/tmp/labgate_xml_fuzz_XXXXXX";
    const bool haveDir = mkdtemp(dir) != nullptr;
    const std::string layoutPath = std::string(haveDir ? dir : "/tmp") + "/layout.json";
    if (haveDir) std::ofstream(layoutPath) << kLayout;
    for (const labgate::ExportFormatInfo& info : s->formats.all()) {
      Configured c;
      c.info = &info;
      ExportSettings settings;
      settings.keyPrefix = "connector.fuzz.";
      settings.configDir = haveDir ? dir : "/tmp";
      for (const std::string& key : info.keys) {
        if (key == "layout") settings.keys["layout"] = "layout.json";
      }
      StatusOr<std::shared_ptr<const ExportFormat>> format = info.factory(settings);
      if (format.isOk()) c.format = format.value();
      s->configured.push_back(std::move(c));
    }
    if (haveDir) {
      std::remove(layoutPath.c_str());
      rmdir(dir);
    }
    return s;
  }();
  return *made;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Setup& s = setup();
  if (s.configured.empty()) return 0;
  const size_t n = s.configured.size();
  const size_t selector = data[0];
  const Configured& chosen = s.configured[selector % n];
  const int mode = static_cast<int>(selector / n % 3);
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  for (const Configured& c : s.configured) {
    if (c.info->detect) (void)c.info->detect(std::string_view(bytes).substr(0, 64 * 1024));
  }
  if (chosen.format) runExportLoop(*chosen.format, bytes, mode, true);
  return 0;
}
