// Held results evaluated again (issue 14; docs/adr/0014-reevaluation.md, docs/mappings.md).
//
// A stored batch is rebuilt from the store's canonical content (the received bytes are not kept,
// docs/adr/0002), its results' findings are cleared, and the mapping and the rules run again:
// the connector's current profile, or a candidate mapping set (a dry-run of a new version). The
// rules read the QC history and the per-batch metrics as they stood when the batch arrived.
//
// What may change: only results that wait for a decision (disposition hold or reject, no QA
// state), and of those, after a mapping-set activation, only results held for mapping reasons
// alone (every finding of warning severity or above is "mapping.*"). Results released, sent,
// signed (reviewed, approved, rejected ...) are never changed, and a batch carrying any
// electronic signature is not changed at all: the signed record covers every result of the batch.
//
// A committed re-evaluation writes in ONE transaction (ReevaluationStore::commit): the replaced
// findings into findings_history, the new findings, codes and dispositions, the outbound items of
// newly released results (rendered exactly as the pipeline renders auto-released ones) and the
// audit event "batch.reevaluated" with actor, reason and old → new per result.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/mapping_stage.h"
#include "engine/pipeline/pipeline.h"
#include "engine/store/reevaluation_store.h"

namespace labgate {

/// What to evaluate again and how.
struct ReevaluationRequest {
  std::string orgId = "default";
  int64_t batchId = 0;
  std::string actor;   // "user:alice", "configuration", ...
  std::string reason;  // audited with the change
  std::string cause = "request";
  /// kWaiting: every result waiting for a decision may change (a rule-set change);
  /// kMappingOnly: only results held for mapping reasons alone (a mapping-set activation).
  enum class Scope { kWaiting, kMappingOnly };
  Scope scope = Scope::kWaiting;
  bool commit = false;  // false: a dry-run, nothing is written
  /// A candidate mapping stage instead of the connector's current one (dry-runs only).
  std::shared_ptr<const MappingStage> mappings;
};

/// One patient result of the batch, before and after.
struct ResultChange {
  int64_t resultId = 0;
  std::string sampleKind;
  std::string instrumentCode;
  std::string oldLisCode, newLisCode;
  std::string oldUnits, newUnits;
  std::string oldDisposition, newDisposition;
  int oldDecimals = -1;  // what the connector's current mapping gives (-1 = as sent)
  int newDecimals = -1;
  std::vector<std::string> oldFindings, newFindings;  // rule ids, warning severity and above
  /// What differs, in this order: "newly_mapped", "now_unmapped", "still_unmapped",
  /// "code_changed", "units_mismatch", "decimals_changed", "findings_changed",
  /// "disposition_changed".
  std::vector<std::string> changes;
  /// May this result change? When not, `kept` says why: "released", "qa_<state>", "held for
  /// other reasons", "batch signed", "internal standard".
  bool eligible = false;
  std::string kept;
  /// Eligible and something differs: the re-evaluation changes it (or, in a dry-run, would).
  bool applies = false;
};

struct ReevaluationOutcome {
  int64_t batchId = 0;
  std::string connector, instrument;
  bool dryRun = true;
  bool committed = false;
  int64_t reevaluationId = 0;  // committed: the reevaluations row
  std::string rulesVersion;    // of the rules that ran ("" = none)
  bool signedBatch = false;    // carries signatures: nothing changes
  std::vector<std::string> notes;
  std::vector<ResultChange> results;  // patient results, in message order
  int64_t changed = 0;                // results that change (or would)
  int64_t released = 0;               // of them, now released
  int64_t outbound = 0;               // items queued (committed only)
};

/// A mapping version tried on the last batches of an instrument.
struct DryRunReport {
  std::string instrument;
  int64_t batches = 0;
  int64_t results = 0;
  int64_t newlyMapped = 0, stillUnmapped = 0, nowUnmapped = 0, unitsMismatch = 0,
          decimalsChanged = 0, codeChanged = 0;
  int64_t wouldChange = 0, wouldRelease = 0;
  std::vector<ReevaluationOutcome> outcomes;  // newest batch first
};

class Reevaluator {
 public:
  /// The connector's current profile (null when no such connector is configured).
  using ProfileLookup =
      std::function<std::shared_ptr<const ConnectorProfile>(const std::string& connector)>;

  Reevaluator(std::shared_ptr<Store> store, Pipeline::DestinationMap destinations,
              ProfileLookup profiles, std::function<void()> queued);

  /// Evaluates one batch again. Status::notFound (not the organisation's batch),
  /// Status::unavailable (its connector is not configured any more), Status::rejected (commit:
  /// the batch is signed, or changed meanwhile), Status::invalid (a candidate mapping with commit).
  StatusOr<ReevaluationOutcome> reevaluate(const ReevaluationRequest& request);

  /// After a mapping-set activation: every stored batch of `connectors` with a result held only
  /// for mapping reasons, evaluated again and committed (scope kMappingOnly, cause
  /// "mapping_activation"). A batch that fails is logged and skipped; the others go on.
  std::vector<ReevaluationOutcome> reevaluateHeldForMapping(
      const std::string& orgId, const std::vector<std::string>& connectors,
      const std::string& actor, const std::string& reason);

  /// What `candidate` would change on the last `last` batches of `instrument` (1..1000):
  /// nothing is written. Scope kMappingOnly, as an activation would apply it.
  DryRunReport dryRun(const std::string& orgId, const std::string& instrument, int64_t last,
                      const std::shared_ptr<const MappingStage>& candidate);

 private:
  std::shared_ptr<Store> store_;
  ReevaluationStore batches_;
  Pipeline::DestinationMap destinations_;
  ProfileLookup profiles_;
  std::function<void()> queued_;
};

}  // namespace labgate
