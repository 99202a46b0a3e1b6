#include "engine/net/export.h"

namespace labgate {

void ExportFormats::add(ExportFormatInfo info) { formats_.push_back(std::move(info)); }

const ExportFormatInfo* ExportFormats::find(const std::string& name) const {
  for (const auto& f : formats_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const ExportFormatInfo* ExportFormats::detect(std::string_view head) const {
  for (const auto& f : formats_) {
    if (f.detect && f.detect(head)) return &f;
  }
  return nullptr;
}

std::vector<std::string> ExportFormats::names() const {
  std::vector<std::string> out;
  for (const auto& f : formats_) out.push_back(f.name);
  return out;
}

}  // namespace labgate
