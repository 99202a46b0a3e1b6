// Test helpers for the export formats: run a file through the whole ExportParse loop the pipeline
// runs (open -> next -> accept -> finish), without a PHI gate (records are accepted unchanged).
#pragma once

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/model/document.h"
#include "engine/model/model.h"
#include "engine/model/status.h"
#include "engine/net/export.h"

namespace labgate::testing {

/// The shared corpus folder (LABGATE_SHARED_DIR) joined with `rel`; "" when the shared folder is
/// absent, so that a test can GTEST_SKIP().
inline std::string sharedPath(const std::string& rel) {
#ifdef LABGATE_SHARED_DIR
  std::string root = LABGATE_SHARED_DIR;
#else
  std::string root;
#endif
  if (root.empty()) return "";
  std::ifstream probe(root + "/" + rel, std::ios::binary);
  return probe ? root + "/" + rel : "";
}

/// tests/data/<rel>.
inline std::string testDataPath(const std::string& rel) {
#ifdef LABGATE_TEST_DATA_DIR
  return std::string(LABGATE_TEST_DATA_DIR) + "/" + rel;
#else
  return rel;
#endif
}

inline std::string readFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Records next() produced, in order (filled when `records` is given).
using RecordLog = std::vector<Record>;

/// Runs the full loop over `in` with the format configured by `keys` (configDir: `configDir`).
inline StatusOr<Message> parseExportStream(const ExportFormatInfo& info, std::istream& in,
                                           std::map<std::string, std::string> keys = {},
                                           RecordLog* records = nullptr,
                                           const std::string& configDir = "") {
  ExportSettings settings;
  settings.keyPrefix = "connector.test.";
  settings.keys = std::move(keys);
  settings.configDir = configDir;
  StatusOr<std::shared_ptr<const ExportFormat>> format = info.factory(settings);
  if (!format.isOk()) return format.status();
  StatusOr<std::unique_ptr<ExportParse>> parse = format.value()->open(in);
  if (!parse.isOk()) return parse.status();
  ExportParse& p = *parse.value();
  while (true) {
    Record record;
    StatusOr<bool> got = p.next(record);
    if (!got.isOk()) return got.status();
    if (!got.value()) break;
    if (records) records->push_back(record);
    Status accepted = p.accept(record);
    if (!accepted.isOk()) return accepted;
  }
  return p.finish();
}

/// As parseExportStream, for the file at `path` (opened in binary).
inline StatusOr<Message> parseExportFile(const ExportFormatInfo& info, const std::string& path,
                                         std::map<std::string, std::string> keys = {},
                                         RecordLog* records = nullptr,
                                         const std::string& configDir = "") {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::notFound(path, "cannot open");
  return parseExportStream(info, in, std::move(keys), records, configDir);
}

/// As parseExportStream, for bytes in memory.
inline StatusOr<Message> parseExportText(const ExportFormatInfo& info, const std::string& bytes,
                                         std::map<std::string, std::string> keys = {},
                                         RecordLog* records = nullptr,
                                         const std::string& configDir = "") {
  std::istringstream in(bytes);
  return parseExportStream(info, in, std::move(keys), records, configDir);
}

/// The format's detector on the file's first 64 KiB, as ExportFormats::detect() calls it.
inline bool detectFile(const ExportFormatInfo& info, const std::string& path) {
  if (!info.detect) return false;
  std::ifstream in(path, std::ios::binary);
  std::string head(64 * 1024, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return info.detect(head);
}

}  // namespace labgate::testing
