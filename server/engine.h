// Engine: the running service assembled from an EngineConfig and a Registry of connector kinds.
// Owns the store, the PHI gate, the pipeline, one delivery worker per destination, the sources
// and the HTTP server (GET /health). start() brings everything up or returns the Status that
// stopped it (naming the key or file); stop() takes it down in reverse order.
#pragma once

#include <Poco/JSON/Object.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/model/status.h"
#include "engine/net/interfaces.h"
#include "engine/pipeline/pipeline.h"
#include "engine/pipeline/reevaluation.h"
#include "engine/service/config.h"
#include "engine/service/profiles.h"

namespace labgate {

class Engine {
 public:
  Engine(EngineConfig config, const Registry& registry);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Status start();
  /// Stops in order: the HTTP server, then every connector at once (each stops accepting and lets
  /// its connections finish the message they are in), the delivery workers (a delivery in
  /// progress is cancelled and stays queued), and last the store (its writer drains).
  void stop();
  /// Reads every connector's mapping set and rule set again (SIGHUP) and swaps them into the
  /// running pipeline without touching a connection. A connector whose files fail keeps its
  /// previous ones; the first failure is returned (naming key and file), every one is logged.
  Status reload();
  /// After a mapping-set activation (issue 14): the stored batches of `connectors` with results
  /// held only for mapping reasons are evaluated again with the connectors' current profiles and
  /// committed (engine/pipeline/reevaluation.h); newly released results are queued.
  std::vector<ReevaluationOutcome> reevaluateHeldForMapping(
      const std::string& orgId, const std::vector<std::string>& connectors,
      const std::string& actor, const std::string& reason);
  /// The /health document: status, version, connectors, destinations with queue depths.
  Poco::JSON::Object::Ptr health() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// Sets up the root logger: console (stderr) and a rotating file under the data directory.
Status configureLogging(const EngineConfig& config);

}  // namespace labgate
