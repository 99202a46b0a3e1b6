// ConsoleStore: the read models of the web console (issue 15, docs/api.md "The console's read
// models") that no other store answers: the QC series a batch's Levey-Jennings charts draw and the
// dashboard's numbers (throughput per minute, the held backlog). Read only; every query filters on
// org_id.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/store/store.h"

namespace labgate {

/// One QC value of a Levey-Jennings chart (table qc_history with its batch's time).
struct ConsoleQcPoint {
  std::string level, lot, sampleId, receivedAt;
  int64_t batch = 0;
  int64_t seq = 0;
  double value = 0;
  std::optional<double> targetMean, targetSd;
  bool excluded = false;
};

/// One minute of the dashboard's throughput chart.
struct ConsoleMinute {
  std::string minute;  // "2026-12-07T14:31" (UTC), the key the rows are grouped by
  int64_t received = 0;
  int64_t refused = 0;  // refused by the PHI gate or invalid
  int64_t results = 0;
  int64_t delivered = 0;
};

struct ConsoleHeld {
  int64_t batches = 0;
  int64_t results = 0;
  std::optional<std::string> oldestReceivedAt;
};

class ConsoleStore {
 public:
  explicit ConsoleStore(std::shared_ptr<Store> store) : store_(std::move(store)) {}

  /// The QC values of `analyte` in batch `batch` of `instrument` and, per level and lot of
  /// them, the last `earlier` values of earlier batches of the same instrument, oldest first.
  std::vector<ConsoleQcPoint> qcSeries(const std::string& orgId, const std::string& instrument,
                                       const std::string& analyte, int64_t batch, int64_t earlier);

  /// Per minute since `sinceIso` (ISO-8601 UTC, "2026-12-07T14:31:00.000Z"): messages received
  /// and their results, messages refused or invalid, outbound messages delivered. Only minutes
  /// with something in them, oldest first.
  std::vector<ConsoleMinute> throughput(const std::string& orgId, const std::string& sinceIso);

  /// Results waiting for a QA decision (held or rejected by the rules, not yet approved or
  /// rejected by QA), the batches they are in and the oldest of those batches' receipt time.
  ConsoleHeld held(const std::string& orgId);

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace labgate
