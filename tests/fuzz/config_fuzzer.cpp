// libFuzzer harness for the engine configuration (engine/service/config.h). The input is a
// configuration file, read two ways:
//
//   1. split here into `key = value` lines (a tiny properties reader of the harness's own: lines
//      split at \n, \r trimmed, # and ! comments and blank lines skipped, the key up to the first
//      '=' or ':', both sides trimmed of spaces and tabs, the last of a repeated key kept) and
//      given to parseEngineConfig();
//   2. written to /tmp/labgate_config_fuzz_<pid>.properties and given to loadEngineConfig(), which
//      reads it with Poco's PropertyFileConfiguration (escapes, continuation lines).
//
// Any Status is fine; a crash, an escaping exception, a leak or a hang is not. Nothing in the
// configuration is opened by these functions (paths are only kept). Built with clang by
// tests/CMakeLists.txt; seeds in tests/fuzz/corpus/config.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <string_view>

#include "engine/service/config.h"

namespace {

std::string_view trimmed(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::map<std::string, std::string> splitProperties(std::string_view text) {
  std::map<std::string, std::string> keys;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trimmed(line);
    if (line.empty() || line.front() == '#' || line.front() == '!') continue;
    const size_t sep = line.find_first_of("=:");
    std::string_view key = trimmed(line.substr(0, sep));
    std::string_view value =
        sep == std::string_view::npos ? std::string_view() : trimmed(line.substr(sep + 1));
    keys[std::string(key)] = std::string(value);
  }
  return keys;
}

const std::string& filePath() {
  static const std::string* path = [] {
    auto* p =
        new std::string("/tmp/labgate_config_fuzz_" + std::to_string(getpid()) + ".properties");
    std::atexit([] { std::remove(filePath().c_str()); });
    return p;
  }();
  return *path;
}

void check(const labgate::StatusOr<labgate::EngineConfig>& config) {
  if (config.isOk()) {
    const labgate::EngineConfig& c = config.value();
    for (const labgate::ConnectorConfig& connector : c.connectors) {
      (void)connector.allow.toStrings();
    }
  } else {
    (void)config.status().toString();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(labgate::parseEngineConfig(splitProperties(text)));

  const std::string& path = filePath();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  check(labgate::loadEngineConfig(path));
  return 0;
}
