// libFuzzer harness for the delimited (and XLS) export formats of connectors/csv: the first input
// byte picks a registered format, a settings variant and how the loop ends; the rest is the file,
// run through the engine's loop open -> next -> accept -> ... -> finish (engine/net/export.h).
// Any Status is fine; a crash, leak, hang or unbounded growth is not.
//
//   byte 0 % formats          the format, in registration order (layout reads a fixed layout
//                             file written to a temporary directory at start-up)
//   byte 0 / formats % 2      settings: defaults, or decimal comma + dmy dates + latin-1
//   byte 0 / formats / 2 % 3  loop: every record accepted as read; every third field emptied first
//                             (what the PHI gate's strip policy does); or refused (next() to the
//                             end, no accept(); finish() must then give no results)
//
// Every format's detector also sees the file's head. A format whose factory fails (not written
// yet) is skipped. Built with clang by tests/CMakeLists.txt; seeds in tests/fuzz/corpus/csv.
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

#include "connectors/csv/formats.h"
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

// For format "layout": tab, comma or semicolon separated, header on line 2.
constexpr const char* kLayout = R"({
  "version": 1,
  "delimiter": "auto",
  "header_line": 2,
  "columns": {
    "sample_id": "Vial Code",
    "sample_type": "Kind",
    "analyte": "Target",
    "value": "Amount",
    "units": "Unit",
    "rt": "Ret Time",
    "area": "Peak Area",
    "is_area": "ISTD Area",
    "acquired_at": "Injected"
  },
  "sample_kinds": {"CC": "calibrator", "CTRL": "qc", "BLK": "blank"}
})";

struct Configured {
  const labgate::ExportFormatInfo* info = nullptr;
  std::shared_ptr<const ExportFormat> variants[2];  // null: the factory refused (a stub)
};

struct Setup {
  ExportFormats formats;
  std::vector<Configured> configured;
};

const Setup& setup() {
  static const Setup* made = [] {
    auto* s = new Setup;
    labgate::csv::registerCsvFormats(s->formats);
    char dir[] = "/tmp/labgate_csv_fuzz_XXXXXX";
    const bool haveDir = mkdtemp(dir) != nullptr;
    const std::string layoutPath = std::string(haveDir ? dir : "/tmp") + "/layout.json";
    if (haveDir) std::ofstream(layoutPath) << kLayout;
    for (const labgate::ExportFormatInfo& info : s->formats.all()) {
      Configured c;
      c.info = &info;
      for (int v = 0; v < 2; ++v) {
        ExportSettings settings;
        settings.keyPrefix = "connector.fuzz.";
        settings.configDir = haveDir ? dir : "/tmp";
        settings.keys["layout"] = "layout.json";
        if (v == 1) {
          settings.keys["decimal"] = "comma";
          settings.keys["date_order"] = "dmy";
          settings.keys["encoding"] = "latin-1";
        }
        // Only the keys the format declares, as the connector would allow.
        for (auto it = settings.keys.begin(); it != settings.keys.end();) {
          bool known = false;
          for (const std::string& k : info.keys) known = known || k == it->first;
          it = known ? std::next(it) : settings.keys.erase(it);
        }
        StatusOr<std::shared_ptr<const ExportFormat>> format = info.factory(settings);
        if (format.isOk()) c.variants[v] = format.value();
      }
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
  const int variant = static_cast<int>(selector / n % 2);
  const int mode = static_cast<int>(selector / n / 2 % 3);
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  for (const Configured& c : s.configured) {
    if (c.info->detect) (void)c.info->detect(std::string_view(bytes).substr(0, 64 * 1024));
  }
  if (chosen.variants[variant]) runExportLoop(*chosen.variants[variant], bytes, mode, false);
  return 0;
}
