// What the engine tells its operators besides /health: GET /metrics (the Prometheus text format
// 0.0.4) and GET /ready (readiness: the store takes writes, every destination is reachable).
// Both are built from the /health document (Engine::health(): the connectors' and destinations'
// own counters, read at scrape time instead of being counted twice) plus a few store reads, and
// the process-wide metrics registry (engine/metrics/metrics.h) for what only the pipeline, the
// delivery workers and the API see. Nothing here carries a field value of a message: labels are
// connector and destination names, pattern ids, rule ids and outcomes.
#pragma once

#include <Poco/JSON/Object.h>

#include <string>

#include "engine/store/store.h"

namespace labgate {

/// The GET /metrics body. `store` may be null (no queue ages then).
std::string renderMetrics(const Poco::JSON::Object& health, Store* store);

/// The answer of GET /ready: `ready`, and the body {"status":"ready"|"not ready","checks":[...]},
/// each check {"name","ok"} plus "detail" when it failed.
struct Readiness {
  bool ready = false;
  Poco::JSON::Object::Ptr body;
};

/// Runs the readiness checks: "store" (an empty write through the store's writer), and one per
/// destination ("destination:NAME": not retrying) and per listening connector
/// ("connector:NAME": not stopped).
Readiness checkReadiness(const Poco::JSON::Object& health, Store* store);

}  // namespace labgate
