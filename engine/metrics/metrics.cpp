// Metrics registry and the text exposition format (see metrics.h).
#include "engine/metrics/metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace labgate::metrics {
namespace {

bool validName(const std::string& name, bool allowColon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(letter || (allowColon && c == ':') || (i > 0 && digit))) return false;
  }
  return true;
}

const char* typeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string escapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

/// name{a="x",b="y"} (or name alone without labels); `extra` is appended as one more label.
std::string seriesName(const std::string& name, const std::vector<std::string>& labelNames,
                       const LabelValues& values, const std::string& extraName = "",
                       const std::string& extraValue = "") {
  std::string out = name;
  if (labelNames.empty() && extraName.empty()) return out;
  out += '{';
  for (size_t i = 0; i < labelNames.size(); ++i) {
    if (i) out += ',';
    out += labelNames[i] + "=\"" + escapeLabelValue(values[i]) + '"';
  }
  if (!extraName.empty()) {
    if (!labelNames.empty()) out += ',';
    out += extraName + "=\"" + escapeLabelValue(extraValue) + '"';
  }
  return out + '}';
}

void checkArity(const detail::Family& family, const LabelValues& labels) {
  if (labels.size() != family.labelNames.size()) {
    throw std::invalid_argument("metric " + family.name + " takes " +
                                std::to_string(family.labelNames.size()) + " label(s), got " +
                                std::to_string(labels.size()));
  }
}

}  // namespace

std::string formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", value);
    return buf;
  }
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

std::string escapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// ---- Registry ---------------------------------------------------------------------------------

detail::Family* Registry::declare(Type type, const std::string& name, const std::string& help,
                                  const std::vector<std::string>& labelNames,
                                  const std::vector<double>& buckets) {
  if (!validName(name, true)) throw std::invalid_argument("bad metric name \"" + name + "\"");
  for (const auto& label : labelNames) {
    if (!validName(label, false) || label.rfind("__", 0) == 0 ||
        (type == Type::kHistogram && label == "le")) {
      throw std::invalid_argument(fmt::format("metric {}: bad label name \"{}\"", name, label));
    }
  }
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
      throw std::invalid_argument("metric " + name + ": buckets must be finite and ascending");
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    const detail::Family& f = *it->second;
    if (f.type != type || f.labelNames != labelNames || f.buckets != buckets) {
      throw std::invalid_argument("metric " + name + " declared twice differently");
    }
    return it->second.get();
  }
  auto family = std::make_unique<detail::Family>();
  family->type = type;
  family->name = name;
  family->help = help;
  family->labelNames = labelNames;
  family->buckets = buckets;
  detail::Family* raw = family.get();
  families_.emplace(name, std::move(family));
  return raw;
}

detail::Series& Registry::seriesOf(detail::Family& family, const LabelValues& labels) {
  auto [it, inserted] = family.series.try_emplace(labels);
  if (inserted && family.type == Type::kHistogram) {
    it->second.bucketCounts.assign(family.buckets.size(), 0);
  }
  return it->second;
}

Counter Registry::counter(const std::string& name, const std::string& help,
                          const std::vector<std::string>& labelNames) {
  return Counter(this, declare(Type::kCounter, name, help, labelNames, {}));
}

Gauge Registry::gauge(const std::string& name, const std::string& help,
                      const std::vector<std::string>& labelNames) {
  return Gauge(this, declare(Type::kGauge, name, help, labelNames, {}));
}

Histogram Registry::histogram(const std::string& name, const std::string& help,
                              const std::vector<std::string>& labelNames,
                              const std::vector<double>& buckets) {
  return Histogram(this, declare(Type::kHistogram, name, help, labelNames, buckets));
}

std::string Registry::render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + escapeHelp(family->help) + "\n";
    out += "# TYPE " + name + " " + typeName(family->type) + "\n";
    for (const auto& [labels, series] : family->series) {
      if (family->type != Type::kHistogram) {
        out +=
            seriesName(name, family->labelNames, labels) + " " + formatValue(series.value) + "\n";
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < family->buckets.size(); ++i) {
        cumulative += series.bucketCounts[i];
        out += seriesName(name + "_bucket", family->labelNames, labels, "le",
                          formatValue(family->buckets[i])) +
               " " + std::to_string(cumulative) + "\n";
      }
      out += seriesName(name + "_bucket", family->labelNames, labels, "le", "+Inf") + " " +
             std::to_string(series.count) + "\n";
      out += seriesName(name + "_sum", family->labelNames, labels) + " " + formatValue(series.sum) +
             "\n";
      out += seriesName(name + "_count", family->labelNames, labels) + " " +
             std::to_string(series.count) + "\n";
    }
  }
  return out;
}

// ---- Handles ----------------------------------------------------------------------------------

void Counter::inc(const LabelValues& labels, double delta) const {
  checkArity(*family_, labels);
  if (!(delta >= 0)) throw std::invalid_argument("counter " + family_->name + " cannot go down");
  std::lock_guard<std::mutex> lock(registry_->mutex_);
  registry_->seriesOf(*family_, labels).value += delta;
}

double Counter::value(const LabelValues& labels) const {
  std::lock_guard<std::mutex> lock(registry_->mutex_);
  auto it = family_->series.find(labels);
  return it == family_->series.end() ? 0 : it->second.value;
}

void Gauge::set(const LabelValues& labels, double value) const {
  checkArity(*family_, labels);
  std::lock_guard<std::mutex> lock(registry_->mutex_);
  registry_->seriesOf(*family_, labels).value = value;
}

double Gauge::value(const LabelValues& labels) const {
  std::lock_guard<std::mutex> lock(registry_->mutex_);
  auto it = family_->series.find(labels);
  return it == family_->series.end() ? 0 : it->second.value;
}

void Histogram::observe(const LabelValues& labels, double value) const {
  checkArity(*family_, labels);
  std::lock_guard<std::mutex> lock(registry_->mutex_);
  detail::Series& series = registry_->seriesOf(*family_, labels);
  for (size_t i = 0; i < family_->buckets.size(); ++i) {
    if (value <= family_->buckets[i]) {
      ++series.bucketCounts[i];
      break;
    }
  }
  series.sum += value;
  ++series.count;
}

uint64_t Histogram::count(const LabelValues& labels) const {
  std::lock_guard<std::mutex> lock(registry_->mutex_);
  auto it = family_->series.find(labels);
  return it == family_->series.end() ? 0 : it->second.count;
}

// ---- The engine's families --------------------------------------------------------------------

Registry& registry() {
  static Registry* process = new Registry;  // never destroyed: threads may count during exit
  return *process;
}

Counter phiRefusals() {
  return registry().counter("labgate_phi_refusals_total",
                            "Messages and files refused by the PHI gate, per pattern id that "
                            "matched (counted once per refused message and pattern).",
                            {"connector", "pattern"});
}

Counter phiStripped() {
  return registry().counter("labgate_phi_stripped_total",
                            "Accepted messages from which phi.policy = strip removed fields, per "
                            "pattern id (once per message and pattern).",
                            {"connector", "pattern"});
}

Counter ruleFindings() {
  return registry().counter("labgate_rule_findings_total",
                            "Findings recorded on stored messages, by rule id and severity.",
                            {"connector", "rule", "severity"});
}

Counter logins() {
  return registry().counter("labgate_logins_total",
                            "Login records written by the REST API, by outcome (success or the "
                            "reason of the refusal).",
                            {"outcome"});
}

Counter deliveryAttempts() {
  return registry().counter("labgate_delivery_attempts_total",
                            "Delivery attempts by outcome: delivered, dead_letter (the "
                            "destination rejected the message), retry.",
                            {"destination", "outcome"});
}

Histogram deliveryLatency() {
  return registry().histogram(
      "labgate_delivery_latency_seconds",
      "Time from queueing an outbound message to the destination's positive acknowledgement.",
      {"destination"}, {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400});
}

Counter configReloads() {
  return registry().counter("labgate_config_reloads_total",
                            "Reloads of mapping sets and rule sets on SIGHUP, by result (ok, "
                            "error: at least one connector kept its previous files).",
                            {"result"});
}

Gauge backupLastSuccess() {
  return registry().gauge("labgate_backup_last_success_timestamp_seconds",
                          "Unix time of the last successful backup (absent until one succeeded).");
}

Counter controlIdReused() {
  return registry().counter("labgate_messages_control_id_reused_total",
                            "Messages stored as new although their sender had used their control "
                            "id before for other content (an instrument that restarted its "
                            "message counter; nothing was lost).",
                            {"connector"});
}

Gauge tlsCertificateExpiry() {
  return registry().gauge("labgate_tls_certificate_expiry_seconds",
                          "Unix time at which a served TLS certificate expires (notAfter), per "
                          "TLS context: api, or the connector's key prefix.",
                          {"context"});
}

void declareEngineMetrics() {
  phiRefusals();
  phiStripped();
  ruleFindings();
  logins();
  deliveryAttempts();
  deliveryLatency();
  configReloads();
  backupLastSuccess();
  controlIdReused();
  tlsCertificateExpiry();
}

}  // namespace labgate::metrics
