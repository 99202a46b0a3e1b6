// Registry of connector kinds and small configuration parsers shared by connectors.
#include <charconv>
#include <stdexcept>

#include "engine/net/interfaces.h"

namespace labgate {

void Registry::addSource(const std::string& kind, SourceKind info) {
  if (sources_.count(kind)) throw std::logic_error("connector kind " + kind + " registered twice");
  sources_[kind] = std::move(info);
}

void Registry::addDestination(const std::string& kind, DestinationKind info) {
  if (destinations_.count(kind)) {
    throw std::logic_error("destination kind " + kind + " registered twice");
  }
  destinations_[kind] = std::move(info);
}

const SourceKind* Registry::sourceKind(const std::string& kind) const {
  auto it = sources_.find(kind);
  return it == sources_.end() ? nullptr : &it->second;
}

const DestinationKind* Registry::destinationKind(const std::string& kind) const {
  auto it = destinations_.find(kind);
  return it == destinations_.end() ? nullptr : &it->second;
}

const DestinationFactory* Registry::destination(const std::string& kind) const {
  const DestinationKind* info = destinationKind(kind);
  return info ? &info->factory : nullptr;
}

StatusOr<std::unique_ptr<Source>> Registry::createSource(const std::string& kind,
                                                         SourceContext context) const {
  StatusOr<const SourceKind*> found = requireSource(context.name, kind);
  if (!found.isOk()) return found.status();
  const SourceKind* info = found.value();
  if (info->codec) {
    StatusOr<std::shared_ptr<const FormatCodec>> codec =
        info->codec("connector." + context.name + ".", context.keys);
    if (!codec.isOk()) return codec.status();
    context.codec = std::move(codec).value();
  }
  return info->factory(context);
}

bool Registry::deduplicates(const std::string& kind) const {
  const SourceKind* info = sourceKind(kind);
  return info && info->deduplicate;
}

std::vector<std::string> Registry::sourceKinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, info] : sources_) kinds.push_back(kind);
  return kinds;
}

std::vector<std::string> Registry::destinationKinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, info] : destinations_) kinds.push_back(kind);
  return kinds;
}

namespace {

Status unknownKind(const std::string& key, const std::string& kind,
                   const std::vector<std::string>& known) {
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return Status::config(key, "unknown kind \"" + kind + "\" (known: " + list + ")");
}

}  // namespace

StatusOr<const SourceKind*> Registry::requireSource(const std::string& name,
                                                    const std::string& kind) const {
  const SourceKind* info = sourceKind(kind);
  if (!info) return unknownKind("connector." + name + ".kind", kind, sourceKinds());
  return info;
}

StatusOr<const DestinationKind*> Registry::requireDestination(const std::string& name,
                                                              const std::string& kind) const {
  const DestinationKind* info = destinationKind(kind);
  if (!info) return unknownKind("destination." + name + ".kind", kind, destinationKinds());
  return info;
}

StatusOr<ExportSelection> exportSelectionFor(const SourceContext& context, const std::string& kind,
                                             const ExportSettings& settings) {
  if (!context.exportFormats || !context.exportHandler) {
    return Status::config(settings.keyPrefix + "kind",
                          kind + " needs the engine's export pipeline");
  }
  return ExportSelection::configure(*context.exportFormats, settings);
}

Status parseInteger(const std::string& key, const std::string& text, int64_t min, int64_t max,
                    int64_t& out) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return Status::config(key, "expected a whole number, got \"" + text + "\"");
  }
  if (value < min || value > max) {
    return Status::config(key, "must be between " + std::to_string(min) + " and " +
                                   std::to_string(max) + ", got " + text);
  }
  out = value;
  return Status::ok();
}

Status parseHostPort(const std::string& key, const std::string& text, std::string& host,
                     uint16_t& port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::config(key, "expected host:port, got \"" + text + "\"");
  }
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int64_t value = 0;
  Status status = parseInteger(key, text.substr(colon + 1), 1, 65535, value);
  if (!status.isOk()) return Status::config(key, "bad port in \"" + text + "\"");
  port = static_cast<uint16_t>(value);
  return Status::ok();
}

}  // namespace labgate
