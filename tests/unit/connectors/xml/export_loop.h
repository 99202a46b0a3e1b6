// The pipeline's loop over an export, for the XML format tests: open -> (next -> screen -> accept)*
// -> finish, with an optional screen standing in for the PHI gate.
#pragma once

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/net/export.h"

namespace labgate::xml::testing {

using Screen = std::function<void(Record&)>;

/// Runs `bytes` through `format`. `seen` (optional) receives every record as next() produced it.
inline StatusOr<Message> runExport(const ExportFormat& format, const std::string& bytes,
                                   const Screen& screen = {}, std::vector<Record>* seen = nullptr) {
  std::istringstream in(bytes);
  StatusOr<std::unique_ptr<ExportParse>> parse = format.open(in);
  if (!parse.isOk()) return parse.status();
  for (;;) {
    Record record;
    StatusOr<bool> more = parse.value()->next(record);
    if (!more.isOk()) return more.status();
    if (!more.value()) break;
    if (seen != nullptr) seen->push_back(record);
    if (screen) screen(record);
    if (Status accepted = parse.value()->accept(record); !accepted) return accepted;
  }
  return parse.value()->finish();
}

/// Builds the format named by `info` with connector keys `keys`.
inline StatusOr<std::shared_ptr<const ExportFormat>> makeFormat(
    const ExportFormatInfo& info, std::map<std::string, std::string> keys = {},
    std::string configDir = LABGATE_TEST_DATA_DIR "/xml") {
  ExportSettings settings;
  settings.keyPrefix = "connector.lcms1.";
  settings.keys = std::move(keys);
  settings.configDir = std::move(configDir);
  return info.factory(settings);
}

/// The whole file, or "" when it cannot be read.
inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::string testData(const std::string& name) {
  return readFile(std::string(LABGATE_TEST_DATA_DIR) + "/xml/" + name);
}

}  // namespace labgate::xml::testing
