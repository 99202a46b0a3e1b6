// Metrics: counters, gauges and fixed-bucket histograms with labels, rendered in the Prometheus
// text exposition format 0.0.4 for GET /metrics (POCO 1.11 has no Poco::Prometheus: POCO-NOTES 11).
//
// A Registry holds metric families by name; a family is declared once with its help text and
// label names and answers a handle (Counter, Gauge, Histogram) that is cheap to copy and keep.
// The engine's families live in one process-wide registry (metrics::registry()) so that the
// pipeline, the delivery workers and the API count without being wired together; the accessors
// at the end of this file declare each of them with its name, help and labels in one place.
//
// Label values are connector and destination names, pattern ids, rule ids, severities and
// outcomes: never a field value of a message (docs/operations.md lists every family).
//
// Thread-safety: every method may be called from any thread (one mutex per registry).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace labgate::metrics {

/// The values of a series' labels, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

enum class Type { kCounter, kGauge, kHistogram };

class Registry;

namespace detail {
struct Series {
  double value = 0;                    // counter or gauge
  std::vector<uint64_t> bucketCounts;  // histogram: per bucket (not cumulative)
  double sum = 0;
  uint64_t count = 0;
};
struct Family {
  Type type = Type::kCounter;
  std::string name;
  std::string help;
  std::vector<std::string> labelNames;
  std::vector<double> buckets;  // histogram upper bounds, ascending, without +Inf
  std::map<LabelValues, Series> series;
};
}  // namespace detail

/// A monotonically increasing count. Handles stay valid as long as their registry.
class Counter {
 public:
  /// Adds `delta` (>= 0; a negative delta is a broken invariant: std::invalid_argument) to the
  /// series with `labels`, creating it at 0 first. The number of labels must match the family's
  /// (std::invalid_argument otherwise).
  void inc(const LabelValues& labels = {}, double delta = 1) const;
  /// The series' current value (0 when it does not exist): for tests and scrape-time reads.
  double value(const LabelValues& labels = {}) const;

 private:
  friend class Registry;
  Counter(Registry* registry, detail::Family* family) : registry_(registry), family_(family) {}
  Registry* registry_;
  detail::Family* family_;
};

/// A value that goes up and down.
class Gauge {
 public:
  void set(const LabelValues& labels, double value) const;
  void set(double value) const { set({}, value); }
  double value(const LabelValues& labels = {}) const;

 private:
  friend class Registry;
  Gauge(Registry* registry, detail::Family* family) : registry_(registry), family_(family) {}
  Registry* registry_;
  detail::Family* family_;
};

/// Observations counted into fixed buckets, with their sum and count.
class Histogram {
 public:
  void observe(const LabelValues& labels, double value) const;
  /// How many observations the series has (0 when it does not exist).
  uint64_t count(const LabelValues& labels = {}) const;

 private:
  friend class Registry;
  Histogram(Registry* registry, detail::Family* family) : registry_(registry), family_(family) {}
  Registry* registry_;
  detail::Family* family_;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// Declares (or finds) a family. Declaring a name again with the same type and label names
  /// answers the same family; with another type or other labels, or with a name or label name
  /// that Prometheus does not allow, it throws std::invalid_argument (a programming error).
  Counter counter(const std::string& name, const std::string& help,
                  const std::vector<std::string>& labelNames = {});
  Gauge gauge(const std::string& name, const std::string& help,
              const std::vector<std::string>& labelNames = {});
  /// `buckets`: upper bounds, strictly ascending, finite (the +Inf bucket is implied).
  Histogram histogram(const std::string& name, const std::string& help,
                      const std::vector<std::string>& labelNames,
                      const std::vector<double>& buckets);

  /// Every family in name order: # HELP and # TYPE lines, then one line per series (histograms:
  /// cumulative _bucket lines with le, _sum, _count). A family without series renders its HELP
  /// and TYPE lines only.
  std::string render() const;

 private:
  friend class Counter;
  friend class Gauge;
  friend class Histogram;
  detail::Family* declare(Type type, const std::string& name, const std::string& help,
                          const std::vector<std::string>& labelNames,
                          const std::vector<double>& buckets);
  /// The series of `labels` in `family`, created when absent; the caller holds mutex_.
  detail::Series& seriesOf(detail::Family& family, const LabelValues& labels);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<detail::Family>> families_;
};

/// "0.25", "1", "1e-06", "+Inf", "NaN": the shortest text that reads back as `value`.
std::string formatValue(double value);
/// A label value with \, " and newline escaped as the text format requires.
std::string escapeLabelValue(const std::string& value);

/// The process-wide registry the engine's families live in.
Registry& registry();

// ---- The engine's families (process-wide), declared at first use --------------------------

/// labgate_phi_refusals_total{connector,pattern}: messages or files refused by the PHI gate, once
/// per distinct pattern id that matched in each.
Counter phiRefusals();
/// labgate_phi_stripped_total{connector,pattern}: accepted messages from which the strip policy
/// removed fields, once per distinct pattern id.
Counter phiStripped();
/// labgate_rule_findings_total{connector,rule,severity}: findings of stored messages (result and
/// batch findings, mapping findings included).
Counter ruleFindings();
/// labgate_logins_total{outcome}: every login record the API writes (success, bad_password, ...).
Counter logins();
/// labgate_delivery_attempts_total{destination,outcome}: delivery attempts by outcome
/// (delivered, dead_letter, retry).
Counter deliveryAttempts();
/// labgate_delivery_latency_seconds{destination}: from queueing to the destination's positive
/// acknowledgement.
Histogram deliveryLatency();
/// labgate_config_reloads_total{result}: SIGHUP reloads of mapping sets and rule sets (ok, error).
Counter configReloads();
/// labgate_backup_last_success_timestamp_seconds: Unix time of the last successful backup; no
/// series until a backup has succeeded in this process.
Gauge backupLastSuccess();
/// labgate_messages_control_id_reused_total{connector}: messages stored as new although their
/// sender had used their control id before for other content (ADR 0010).
Counter controlIdReused();
/// labgate_tls_certificate_expiry_seconds{context}: Unix time at which a served TLS certificate
/// expires (its notAfter), per TLS context ("api", or a connector's key prefix); set when the
/// context is made (start-up).
Gauge tlsCertificateExpiry();
/// Declares every family above, so that /metrics shows their HELP and TYPE from the start.
void declareEngineMetrics();

}  // namespace labgate::metrics
