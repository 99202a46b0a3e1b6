// ReevaluationStore: what evaluating a stored batch again reads and writes (the engine side is
// engine/pipeline/reevaluation.h; docs/adr/0014-reevaluation.md).
//
// - batch() rebuilds the canonical Message of a stored batch (samples, results with their peaks
//   and findings, export curves, run order) with each result's row id, disposition and QA state.
//   The received bytes are not needed (docs/adr/0002): everything the mapping and the rules read
//   is stored (messages.canonical = 1; batches stored before migration 11 lack the run order,
//   injection numbers and export curves).
// - commit() writes one re-evaluation in ONE transaction: the findings it replaces move to
//   findings_history (append-only), the new findings, codes and dispositions of the updated
//   results, the batch findings when the rules ran, the outbound items of newly released results
//   and the audit event. It checks inside that transaction that the batch carries no signature and
//   that each updated result still has the disposition and QA state it was read with.
//
// Every query filters on org_id: another organisation's batch is "not found".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/model/status.h"
#include "engine/store/store.h"

namespace labgate {

/// One result row of a stored batch, in message order (parallel to the rebuilt message).
struct StoredResultRow {
  int64_t id = 0;
  std::string sampleKind;   // "unknown", "qc", ...
  std::string disposition;  // "release", "hold", "reject"
  std::string qaState;      // "" until QA signed something about it
  bool internalStandard = false;
};

struct StoredBatch {
  int64_t id = 0;
  std::string orgId, connector, instrument, receivedAt, rulesVersion;
  /// Stored with everything the rules read (messages.canonical): false for batches stored before
  /// migration 11 (no run order, injection numbers or export curves).
  bool canonical = false;
  /// Its peak rows were pruned by retention (engine/store/retention.h): the rules lack them.
  bool peaksPruned = false;
  int64_t signatures = 0;             // electronic signatures on the batch
  Message message;                    // as stored: codes, units, findings of the last evaluation
  std::vector<StoredResultRow> rows;  // one per result of `message`, in message order
};

/// What a re-evaluation writes for one result.
struct ResultUpdate {
  int64_t resultId = 0;
  std::string expectedDisposition;  // as read: the commit refuses if it changed since
  std::string lisCode, lisName, units;
  int decimals = -1;  // the new mapping's digits for the LIS
  DispositionKind disposition = DispositionKind::kHold;
  std::vector<Finding> findings;
};

struct ReevaluationCommit {
  std::string orgId;
  int64_t batchId = 0;
  std::string actor, reason;
  std::string cause;  // "request" (POST .../reevaluation) or "mapping_activation"
  std::string rulesVersion;
  std::vector<ResultUpdate> updates;
  /// The rules ran: the batch's findings are replaced by these (the old ones kept in history).
  bool replaceBatchFindings = false;
  std::vector<BatchFinding> batchFindings;
  std::vector<OutboundDraft> outbound;
  std::string changesJson;  // JSON array: what changed per result (the row and the audit detail)
  AuditEvent audit;         // action batch.reevaluated; subject set by commit()
};

/// A code seen without a mapping (GET /api/v1/unmapped-codes).
struct UnmappedCode {
  std::string instrument, code, firstSeen, lastSeen;
  int64_t results = 0;  // results that arrived with it (also those evaluated again since)
  int64_t waiting = 0;  // results held now with a mapping.unmapped finding and no QA decision
};

class ReevaluationStore {
 public:
  explicit ReevaluationStore(std::shared_ptr<Store> store);

  std::optional<StoredBatch> batch(const std::string& orgId, int64_t id);

  /// The batches of `connector` with a result held only for mapping reasons (its findings of
  /// warning severity and above all "mapping.*"), without QA decision and without a signature on
  /// the batch, oldest first.
  std::vector<int64_t> heldForMapping(const std::string& orgId, const std::string& connector);

  /// The last `limit` batches of `instrument`, newest first.
  std::vector<int64_t> lastBatches(const std::string& orgId, const std::string& instrument,
                                   int64_t limit);

  /// The QC history and per-batch metrics the rules read, as they stood when batch
  /// `beforeMessage` arrived (rows of earlier batches only), oldest first.
  std::vector<QcValue> qcHistoryBefore(const std::string& orgId, const std::string& instrument,
                                       const std::string& analyte, int64_t beforeMessage,
                                       int64_t limit);
  std::vector<double> metricHistoryBefore(const std::string& orgId, const std::string& instrument,
                                          const std::string& analyte, const std::string& metric,
                                          int64_t beforeMessage, int64_t limit);

  /// Writes `commit` (see the file comment). Status::rejected when the batch is signed or a result
  /// changed since it was read; Status::notFound when the batch is not the organisation's.
  /// Returns the re-evaluation's id.
  StatusOr<int64_t> commit(const ReevaluationCommit& commit);

  /// Each code seen without a mapping, per instrument ("" = every instrument of the organisation).
  std::vector<UnmappedCode> unmappedCodes(const std::string& orgId, const std::string& instrument);

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace labgate
