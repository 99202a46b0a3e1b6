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

bool ExportSelection::isExportKey(const ExportFormats& formats, const std::string& key) {
  if (key == "format") return true;
  for (const auto& f : formats.all()) {
    for (const auto& k : f.keys) {
      if (k == key) return true;
    }
  }
  return false;
}

StatusOr<ExportSelection> ExportSelection::configure(const ExportFormats& formats,
                                                     const ExportSettings& settings) {
  ExportSelection out;
  out.formats_ = &formats;
  out.settings_ = settings;
  auto it = settings.keys.find("format");
  std::string name = it == settings.keys.end() ? "auto" : it->second;
  if (name != "auto") {
    const ExportFormatInfo* info = formats.find(name);
    if (!info) {
      std::string known;
      for (const auto& n : formats.names()) known += (known.empty() ? "" : ", ") + n;
      return Status::config(settings.keyPrefix + "format",
                            "unknown format \"" + name + "\" (known: auto, " + known + ")");
    }
    StatusOr<std::shared_ptr<const ExportFormat>> made = info->factory(settings);
    if (!made.isOk()) return made.status();
    out.fixed_ = name;
    out.configured_.push_back({name, made.value()});
    return out;
  }
  for (const auto& info : formats.all()) {
    if (!info.detect) continue;
    StatusOr<std::shared_ptr<const ExportFormat>> made = info.factory(settings);
    if (!made.isOk()) return made.status();
    out.configured_.push_back({info.name, made.value()});
  }
  return out;
}

StatusOr<ExportSelection::Choice> ExportSelection::choose(std::string_view head,
                                                          const std::string& requested) const {
  if (!requested.empty()) {
    for (const auto& c : configured_) {
      if (c.name == requested) return c;
    }
    const ExportFormatInfo* info = formats_ ? formats_->find(requested) : nullptr;
    if (!info) {
      std::string known;
      for (const auto& n : formats_->names()) known += (known.empty() ? "" : ", ") + n;
      return Status::invalid("format",
                             "unknown format \"" + requested + "\" (known: " + known + ")");
    }
    StatusOr<std::shared_ptr<const ExportFormat>> made = info->factory(settings_);
    if (!made.isOk()) {
      return Status::invalid(
          "format", "format \"" + requested +
                        "\" cannot be used by this connector: " + made.status().toString());
    }
    return Choice{requested, made.value()};
  }
  if (!fixed_.empty()) return configured_.front();
  for (const auto& c : configured_) {
    const ExportFormatInfo* info = formats_->find(c.name);
    if (info && info->detect && info->detect(head)) return c;
  }
  if (head.starts_with("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") || head.starts_with("PK\x03\x04")) {
    return Status::invalid("line 1",
                           "an Excel workbook (or another binary document) is not read: export "
                           "the results from the quantitation software as CSV or tab-separated "
                           "text");
  }
  std::string tried;
  for (const auto& c : configured_) tried += (tried.empty() ? "" : ", ") + c.name;
  return Status::invalid("line 1", "the file is not in a format this connector recognises (tried " +
                                       tried +
                                       "); name the format with the connector's \"format\" "
                                       "key or a layout");
}

void ExportSelection::assign(ExportJob& job, std::string_view head,
                             const std::string& requested) const {
  StatusOr<Choice> choice = choose(head, requested);
  if (choice.isOk()) {
    job.format = choice->format;
    job.formatName = choice->name;
    const ExportFormatInfo* info = formats_ ? formats_->find(choice->name) : nullptr;
    job.syntax = info ? info->syntax : SourceFormat::kCsv;
  } else {
    job.format.reset();
    job.formatError = choice.status();
    job.formatName = "unknown";
  }
}

}  // namespace labgate
