// GET /metrics and GET /ready (see observability.h).
#include "engine/service/observability.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Array.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <optional>

#include "engine/metrics/metrics.h"
#include "engine/store/signatures.h"
#include "labgate/version.h"

namespace labgate {
namespace {

/// A numeric member of `object`, or nullopt when absent or not a number.
std::optional<double> number(const Poco::JSON::Object& object, const std::string& key) {
  if (!object.has(key)) return std::nullopt;
  Poco::Dynamic::Var value = object.get(key);
  if (!value.isNumeric()) return std::nullopt;
  return value.convert<double>();
}

std::string text(const Poco::JSON::Object& object, const std::string& key) {
  if (!object.has(key) || object.isNull(key)) return "";
  return object.get(key).toString();
}

/// The members of `health` named `key` (connectors, destinations), as objects.
std::vector<Poco::JSON::Object::Ptr> objects(const Poco::JSON::Object& health,
                                             const std::string& key) {
  std::vector<Poco::JSON::Object::Ptr> out;
  Poco::JSON::Array::Ptr array = health.getArray(key);
  if (!array) return out;
  for (size_t i = 0; i < array->size(); ++i) {
    Poco::JSON::Object::Ptr item = array->getObject(static_cast<unsigned>(i));
    if (item) out.push_back(item);
  }
  return out;
}

/// Connector families: stream sources (astm-tcp, hl7-mllp) count messages_*, export sources
/// count files_* or uploads_*: each mapped to received, stored, refused (by reason), duplicate,
/// failed.
void addConnectors(metrics::Registry& scrape, const Poco::JSON::Object& health) {
  auto up = scrape.gauge(
      "labgate_connector_up",
      "1 while the connector serves (listening, watching or ready), else 0 (stopped, or a fault "
      "such as a watched folder's processed/ that is not a real folder).",
      {"connector", "kind"});
  auto connections = scrape.gauge("labgate_connector_connections",
                                  "Open connections of a TCP connector.", {"connector"});
  auto received = scrape.counter(
      "labgate_messages_received_total",
      "Messages (or export files) a connector handed to the pipeline, whatever became of them.",
      {"connector"});
  auto stored = scrape.counter("labgate_messages_stored_total",
                               "Messages (or export files) committed to the store.", {"connector"});
  auto refused = scrape.counter(
      "labgate_messages_refused_total",
      "Messages not accepted, by reason: phi (the PHI gate), invalid (not a valid message), "
      "rejected (an export file refused for either).",
      {"connector", "reason"});
  auto duplicate =
      scrape.counter("labgate_messages_duplicate_total",
                     "Resent messages or files recognised as stored before.", {"connector"});
  auto failed = scrape.counter("labgate_messages_failed_total",
                               "Commits that failed (the sender was told so and sends again).",
                               {"connector"});
  auto discarded = scrape.counter(
      "labgate_messages_discarded_total",
      "Partial messages the link layer dropped (stalled or closed connections, over-size).",
      {"connector"});
  auto results = scrape.counter("labgate_results_accepted_total",
                                "Results of accepted export files.", {"connector"});
  auto closedConnections = scrape.counter(
      "labgate_connections_closed_total",
      "Connections a TCP connector closed on its own, by reason: idle (silent for "
      "idle_timeout_seconds outside a transfer), evicted (the longest idle, to make room for a new "
      "connection when max_connections were taken), tls_handshake_timeout.",
      {"connector", "reason"});

  for (const auto& c : objects(health, "connectors")) {
    const std::string name = text(*c, "name");
    const std::string state = text(*c, "state");
    up.set({name, text(*c, "kind")},
           state == "stopped" || state == "fault" || state.empty() ? 0 : 1);
    if (auto v = number(*c, "connections")) connections.set({name}, *v);
    for (const auto& [field, reason] :
         {std::pair<const char*, const char*>{"connections_closed_idle", "idle"},
          {"connections_evicted", "evicted"},
          {"tls_handshake_timeouts", "tls_handshake_timeout"}}) {
      if (auto v = number(*c, field)) closedConnections.inc({name, reason}, *v);
    }
    if (auto accepted = number(*c, "messages_accepted")) {
      const double phi = number(*c, "messages_refused_phi").value_or(0);
      const double invalid = number(*c, "messages_invalid").value_or(0);
      const double dup = number(*c, "messages_duplicate").value_or(0);
      const double fail = number(*c, "messages_failed").value_or(0);
      received.inc({name}, *accepted + phi + invalid + dup + fail);
      stored.inc({name}, *accepted);
      refused.inc({name, "phi"}, phi);
      refused.inc({name, "invalid"}, invalid);
      duplicate.inc({name}, dup);
      failed.inc({name}, fail);
      if (auto v = number(*c, "messages_discarded")) discarded.inc({name}, *v);
      continue;
    }
    for (const std::string prefix : {"files_", "uploads_"}) {
      auto imported = number(*c, prefix + "imported");
      if (!imported) continue;
      const double rejected = number(*c, prefix + "rejected").value_or(0);
      const double dup = number(*c, prefix + "duplicate").value_or(0);
      const double fail = number(*c, prefix + "retrying").value_or(0);
      received.inc({name}, *imported + rejected + dup + fail);
      stored.inc({name}, *imported);
      refused.inc({name, "rejected"}, rejected);
      duplicate.inc({name}, dup);
      failed.inc({name}, fail);
    }
    if (auto v = number(*c, "results_accepted")) results.inc({name}, *v);
  }
}

void addDestinations(metrics::Registry& scrape, const Poco::JSON::Object& health, Store* store) {
  auto delivered =
      scrape.counter("labgate_messages_delivered_total",
                     "Outbound messages the destination acknowledged positively.", {"destination"});
  auto dead = scrape.counter(
      "labgate_messages_dead_letter_total",
      "Outbound messages the destination rejected (AE/AR): dead-lettered with the reason.",
      {"destination"});
  auto depth = scrape.gauge("labgate_queue_depth", "Outbound messages waiting for delivery.",
                            {"destination"});
  auto age = scrape.gauge("labgate_queue_oldest_age_seconds",
                          "How long the oldest queued message has waited (0 when none waits).",
                          {"destination"});
  auto retrying = scrape.gauge(
      "labgate_destination_retrying",
      "1 while the destination cannot be reached or does not answer (deliveries retry).",
      {"destination"});
  for (const auto& d : objects(health, "destinations")) {
    const std::string name = text(*d, "name");
    delivered.inc({name}, number(*d, "delivered").value_or(0));
    dead.inc({name}, number(*d, "dead_letter").value_or(0));
    depth.set({name}, number(*d, "queue_depth").value_or(0));
    std::optional<int64_t> waited = store ? store->oldestQueuedAgeMillis(name) : std::nullopt;
    age.set({name}, waited ? static_cast<double>(*waited) / 1000.0 : 0.0);
    retrying.set({name}, text(*d, "state") == "retrying" ? 1 : 0);
  }
}

/// Audit forwarding (docs/audit.md), from /health's "audit_forwarding".
void addAuditForwarding(metrics::Registry& scrape, const Poco::JSON::Object& health) {
  if (!health.has("audit_forwarding")) return;
  auto lag = scrape.gauge("labgate_audit_forward_lag_events",
                          "Audit events a forwarder has not forwarded yet.", {"forwarder"});
  auto age = scrape.gauge(
      "labgate_audit_forward_oldest_age_seconds",
      "How long the oldest audit event not yet forwarded has waited (0 when none waits).",
      {"forwarder"});
  auto retrying = scrape.gauge(
      "labgate_audit_forward_retrying",
      "1 while the forwarder's receiver cannot be reached or refuses (it retries).", {"forwarder"});
  for (const auto& f : objects(health, "audit_forwarding")) {
    const std::string name = text(*f, "name");
    lag.set({name}, number(*f, "lag_events").value_or(0));
    age.set({name}, number(*f, "oldest_age_seconds").value_or(0));
    retrying.set({name}, text(*f, "state") == "retrying" ? 1 : 0);
  }
}

/// QA: held results waiting for a decision per instrument, and how long the oldest has waited
/// (since its batch was received).
void addQaWaiting(metrics::Registry& scrape, Store* store) {
  auto waiting = scrape.gauge("labgate_qa_waiting_results",
                              "Held results waiting for a QA decision (docs/signatures.md).",
                              {"org", "instrument"});
  auto oldest = scrape.gauge(
      "labgate_qa_oldest_waiting_age_seconds",
      "How long the oldest result waiting for a QA decision has waited since its batch arrived.",
      {"org", "instrument"});
  if (!store) return;
  const int64_t now = Poco::Timestamp().epochMicroseconds() / 1000;
  for (const auto& w : SignatureStore::waitingByInstrument(*store)) {
    waiting.set({w.orgId, w.instrument}, static_cast<double>(w.results));
    std::optional<int64_t> since = isoToUnixMillis(w.oldestReceivedAt);
    oldest.set({w.orgId, w.instrument},
               since ? static_cast<double>(std::max<int64_t>(0, now - *since)) / 1000.0 : 0.0);
  }
}

/// The QC trends (rules/qc_trend.h): the state each instrument × analyte × QC level had after its
/// last batch, kept as per-batch metrics "qc_ewma/<level>", "qc_cusum_sh/<level>" ...
void addQcTrends(metrics::Registry& scrape, Store* store) {
  auto signal = scrape.gauge(
      "labgate_qc_trend_signal",
      "1 while a QC trend signals: the last batch with a value of the level raised a QC_TREND_* "
      "finding (docs/rules.md).",
      {"org", "instrument", "analyte", "level", "method"});
  auto statistic = scrape.gauge(
      "labgate_qc_trend_statistic",
      "The QC trend's statistic after the last batch, in SD units (EWMA of the z-scores: side "
      "value; CUSUM: side high is SH, low is SL).",
      {"org", "instrument", "analyte", "level", "method", "side"});
  auto limit = scrape.gauge(
      "labgate_qc_trend_limit",
      "The QC trend's limit after the last batch, in SD units (EWMA: lower and upper control "
      "limit; CUSUM: h).",
      {"org", "instrument", "analyte", "level", "method", "side"});
  if (!store) return;
  for (const Store::LatestMetric& m : store->latestQcTrendState()) {
    const size_t slash = m.metric.find('/');
    if (slash == std::string::npos) continue;
    const std::string name = m.metric.substr(0, slash);
    const std::string level = m.metric.substr(slash + 1);
    const std::string method = name.rfind("qc_ewma", 0) == 0 ? "ewma" : "cusum";
    auto labels = [&](const char* side) -> metrics::LabelValues {
      return {m.orgId, m.instrument, m.analyte, level, method, side};
    };
    if (name == "qc_ewma_signal" || name == "qc_cusum_signal") {
      signal.set({m.orgId, m.instrument, m.analyte, level, method}, m.value != 0 ? 1 : 0);
    } else if (name == "qc_ewma") {
      statistic.set(labels("value"), m.value);
    } else if (name == "qc_cusum_sh") {
      statistic.set(labels("high"), m.value);
    } else if (name == "qc_cusum_sl") {
      statistic.set(labels("low"), m.value);
    } else if (name == "qc_ewma_ucl") {
      limit.set(labels("high"), m.value);
    } else if (name == "qc_ewma_lcl") {
      limit.set(labels("low"), m.value);
    } else if (name == "qc_cusum_h") {
      limit.set(labels("high"), m.value);
      limit.set(labels("low"), m.value);
    }
  }
}

}  // namespace

std::string renderMetrics(const Poco::JSON::Object& health, Store* store) {
  metrics::Registry scrape;
  scrape.gauge("labgate_build_info", "The running labgated's version (always 1).", {"version"})
      .set({kVersion}, 1);
  addConnectors(scrape, health);
  addDestinations(scrape, health, store);
  addAuditForwarding(scrape, health);
  addQaWaiting(scrape, store);
  addQcTrends(scrape, store);
  // A backup service that reports its last success on /health sets the gauge here too.
  const std::string lastBackup = text(health, "last_backup_at");
  Poco::DateTime at;
  int tzd = 0;
  if (!lastBackup.empty() &&
      Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, lastBackup, at, tzd)) {
    metrics::backupLastSuccess().set(static_cast<double>(at.timestamp().epochTime() - tzd));
  }
  return scrape.render() + metrics::registry().render();
}

Readiness checkReadiness(const Poco::JSON::Object& health, Store* store) {
  Readiness out;
  out.ready = true;
  Poco::JSON::Array::Ptr checks = new Poco::JSON::Array;
  auto add = [&](const std::string& name, bool ok, const std::string& detail) {
    Poco::JSON::Object::Ptr check = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    check->set("name", name);
    check->set("ok", ok);
    if (!ok) check->set("detail", detail);
    checks->add(check);
    out.ready = out.ready && ok;
  };
  Status ping = store ? store->ping() : Status::unavailable("store", "not open");
  add("store", ping.isOk(), ping.isOk() ? "" : "cannot write: " + ping.toString());
  for (const auto& d : objects(health, "destinations")) {
    const bool retrying = text(*d, "state") == "retrying";
    add("destination:" + text(*d, "name"), !retrying,
        "not reachable or not answering: deliveries are retrying");
  }
  for (const auto& c : objects(health, "connectors")) {
    const bool stopped = text(*c, "state") == "stopped";
    add("connector:" + text(*c, "name"), !stopped, "not listening");
  }
  out.body = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out.body->set("status", out.ready ? "ready" : "not ready");
  out.body->set("checks", checks);
  return out;
}

}  // namespace labgate
