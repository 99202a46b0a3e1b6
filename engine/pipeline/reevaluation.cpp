// Held results evaluated again (see reevaluation.h).
#include "engine/pipeline/reevaluation.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <sstream>

#include "engine/log/log.h"

namespace labgate {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("reevaluation"); }

constexpr int64_t kQcHistory = 200;     // as the pipeline reads it
constexpr int64_t kMetricHistory = 20;  // as the pipeline reads it

bool isMapping(const Finding& f) { return f.ruleId.rfind("mapping.", 0) == 0; }

/// The rule ids of the findings that decide (warning severity and above).
std::vector<std::string> decidingRules(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const Finding& f : findings) {
    if (f.severity != Severity::kInfo) out.push_back(f.ruleId);
  }
  return out;
}

bool hasRule(const std::vector<Finding>& findings, const std::string& ruleId) {
  for (const Finding& f : findings) {
    if (f.ruleId == ruleId) return true;
  }
  return false;
}

bool sameFindings(const std::vector<Finding>& a, const std::vector<Finding>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].ruleId != b[i].ruleId || a[i].severity != b[i].severity ||
        a[i].message != b[i].message || a[i].measured != b[i].measured ||
        a[i].limit != b[i].limit || a[i].action != b[i].action) {
      return false;
    }
  }
  return true;
}

bool sameBatchFindings(const std::vector<BatchFinding>& a, const std::vector<BatchFinding>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].analyte != b[i].analyte || !sameFindings({a[i].finding}, {b[i].finding})) return false;
  }
  return true;
}

/// Every result of `message` in message order, as pointers.
std::vector<const Result*> flatten(const Message& message) {
  std::vector<const Result*> out;
  for (const Sample& sample : message.samples) {
    for (const Result& r : sample.results) out.push_back(&r);
  }
  return out;
}

Poco::JSON::Array::Ptr stringsJson(const std::vector<std::string>& items) {
  Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
  for (const auto& item : items) out->add(item);
  return out;
}

/// The changes of the applied results as the audit event and the reevaluations row keep them:
/// result ids, codes, dispositions and rule ids (no value, no sample id).
std::string changesJson(const std::vector<ResultChange>& results) {
  Poco::JSON::Array::Ptr changes = new Poco::JSON::Array;
  for (const ResultChange& c : results) {
    if (!c.applies) continue;
    Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    item->set("result", c.resultId);
    item->set("instrument_code", c.instrumentCode);
    Poco::JSON::Object::Ptr before = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    before->set("disposition", c.oldDisposition);
    before->set("lis_code", c.oldLisCode);
    before->set("findings", stringsJson(c.oldFindings));
    Poco::JSON::Object::Ptr after = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    after->set("disposition", c.newDisposition);
    after->set("lis_code", c.newLisCode);
    after->set("findings", stringsJson(c.newFindings));
    item->set("old", before);
    item->set("new", after);
    changes->add(item);
  }
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(changes, out);
  return out.str();
}

}  // namespace

Reevaluator::Reevaluator(std::shared_ptr<Store> store, Pipeline::DestinationMap destinations,
                         ProfileLookup profiles, std::function<void()> queued)
    : store_(std::move(store)),
      batches_(store_),
      destinations_(std::move(destinations)),
      profiles_(std::move(profiles)),
      queued_(std::move(queued)) {}

StatusOr<ReevaluationOutcome> Reevaluator::reevaluate(const ReevaluationRequest& request) {
  if (request.commit && request.mappings) {
    return Status::invalid("mappings", "a candidate mapping set is only tried (dry-run)");
  }
  std::optional<StoredBatch> batch = batches_.batch(request.orgId, request.batchId);
  if (!batch) return Status::notFound("batch", "no such batch");
  std::shared_ptr<const ConnectorProfile> profile = profiles_(batch->connector);
  if (!profile || profile->orgId != request.orgId) {
    return Status::unavailable("connector " + batch->connector,
                               "connector " + batch->connector +
                                   " of the batch is not configured any more: there is no mapping "
                                   "set or rule set to evaluate it with");
  }

  if (request.commit && batch->signatures > 0) {
    return Status::rejected("batch", "batch " + std::to_string(batch->id) +
                                         " carries electronic signatures over every result: it is "
                                         "not evaluated again (a QA decision releases its held "
                                         "results)");
  }
  ReevaluationOutcome outcome;
  outcome.batchId = batch->id;
  outcome.connector = batch->connector;
  outcome.instrument = batch->instrument;
  outcome.dryRun = !request.commit;
  outcome.signedBatch = batch->signatures > 0;
  if (batch->peaksPruned && profile->rules) {
    outcome.notes.push_back(
        "its peak data were pruned by retention (labgate archive list names the archive that "
        "holds them): the peak, calibration and ion-ratio checks lack their inputs");
  }
  if (!batch->canonical && profile->rules) {
    outcome.notes.push_back(
        "stored before re-evaluation was possible: the run order, injection numbers and export "
        "curves were not kept, so order-dependent checks may come out not evaluable");
  }

  // The batch as it arrived: findings cleared, then mapping and rules as for a new message.
  Message fresh = batch->message;
  for (Sample& sample : fresh.samples) {
    for (Result& r : sample.results) r.findings.clear();
  }
  fresh.batchFindings.clear();
  fresh.qcValues.clear();
  fresh.metrics.clear();
  const std::shared_ptr<const MappingStage> mappings =
      request.mappings ? request.mappings : profile->mappings;
  if (mappings) mappings->apply(fresh);
  if (profile->rules) {
    RulesContext context;
    context.orgId = request.orgId;
    context.instrument = batch->instrument;
    const int64_t before = batch->id;
    const std::string org = request.orgId;
    const std::string instrument = batch->instrument;
    ReevaluationStore* history = &batches_;
    context.qcHistory = [history, org, instrument, before](const std::string& analyte) {
      return history->qcHistoryBefore(org, instrument, analyte, before, kQcHistory);
    };
    context.metricHistory = [history, org, instrument, before](const std::string& analyte,
                                                               const std::string& metric) {
      return history->metricHistoryBefore(org, instrument, analyte, metric, before, kMetricHistory);
    };
    profile->rules->evaluate(fresh, context);
    fresh.rulesVersion = profile->rules->version();
    outcome.rulesVersion = fresh.rulesVersion;
  }
  const std::vector<Disposition> dispositions = decideDispositions(fresh);

  // The decimals the current mapping gives, to say where rounding would change.
  Message current = batch->message;
  if (profile->mappings) profile->mappings->apply(current);

  const std::vector<const Result*> oldResults = flatten(batch->message);
  const std::vector<const Result*> newResults = flatten(fresh);
  const std::vector<const Result*> currentResults = flatten(current);
  std::vector<DispositionKind> release(newResults.size(), DispositionKind::kHold);
  std::vector<ResultUpdate> updates;
  for (size_t i = 0; i < newResults.size() && i < batch->rows.size(); ++i) {
    const StoredResultRow& row = batch->rows[i];
    if (row.internalStandard) continue;  // never mapped, reported or sent
    const Result& before = *oldResults[i];
    const Result& after = *newResults[i];
    ResultChange c;
    c.resultId = row.id;
    c.sampleKind = row.sampleKind;
    c.instrumentCode = before.instrumentCode;
    c.oldLisCode = before.lisCode;
    c.newLisCode = after.lisCode;
    c.oldUnits = before.units;
    c.newUnits = after.units;
    c.oldDisposition = row.disposition;
    c.newDisposition = toString(dispositions[i].kind);
    c.oldDecimals = currentResults[i]->decimals;
    c.newDecimals = after.decimals;
    c.oldFindings = decidingRules(before.findings);
    c.newFindings = decidingRules(after.findings);
    const bool wasUnmapped = hasRule(before.findings, "mapping.unmapped");
    const bool isUnmapped = hasRule(after.findings, "mapping.unmapped");
    if (wasUnmapped && !isUnmapped) c.changes.emplace_back("newly_mapped");
    if (!wasUnmapped && isUnmapped) c.changes.emplace_back("now_unmapped");
    if (wasUnmapped && isUnmapped) c.changes.emplace_back("still_unmapped");
    if (!wasUnmapped && !isUnmapped && c.oldLisCode != c.newLisCode) {
      c.changes.emplace_back("code_changed");
    }
    if (hasRule(after.findings, "mapping.units_mismatch")) c.changes.emplace_back("units_mismatch");
    if (c.oldDecimals != c.newDecimals) c.changes.emplace_back("decimals_changed");
    const bool findingsDiffer = !sameFindings(before.findings, after.findings);
    if (findingsDiffer) c.changes.emplace_back("findings_changed");
    if (c.oldDisposition != c.newDisposition) c.changes.emplace_back("disposition_changed");

    // May it change?
    const bool waiting = (row.disposition == "hold" || row.disposition == "reject");
    if (outcome.signedBatch) {
      c.kept = "batch signed";
    } else if (!row.qaState.empty()) {
      c.kept = "qa_" + row.qaState;
    } else if (!waiting) {
      c.kept = "released";
    } else if (request.scope == ReevaluationRequest::Scope::kMappingOnly) {
      bool mappingOnly = false;
      bool other = false;
      for (const Finding& f : before.findings) {
        if (f.severity == Severity::kInfo) continue;
        if (isMapping(f)) {
          mappingOnly = true;
        } else {
          other = true;
        }
      }
      if (mappingOnly && !other) {
        c.eligible = true;
      } else {
        c.kept = "held for other reasons";
      }
    } else {
      c.eligible = true;
    }
    c.applies = c.eligible && (findingsDiffer || c.oldDisposition != c.newDisposition ||
                               c.oldLisCode != c.newLisCode || before.lisName != after.lisName ||
                               c.oldUnits != c.newUnits);
    if (c.applies) {
      ++outcome.changed;
      if (dispositions[i].kind == DispositionKind::kRelease) {
        ++outcome.released;
        release[i] = DispositionKind::kRelease;
      }
      ResultUpdate u;
      u.resultId = row.id;
      u.expectedDisposition = row.disposition;
      u.lisCode = after.lisCode;
      u.lisName = after.lisName;
      u.units = after.units;
      u.decimals = after.decimals;
      u.disposition = dispositions[i].kind;
      u.findings = after.findings;
      updates.push_back(std::move(u));
    }
    outcome.results.push_back(std::move(c));
  }
  if (!request.commit || updates.empty()) return outcome;

  // Newly released results go to the destinations exactly as auto-released ones do.
  std::vector<Disposition> mask(release.size());
  for (size_t i = 0; i < release.size(); ++i) mask[i].kind = release[i];
  ReevaluationCommit commit;
  commit.orgId = request.orgId;
  commit.batchId = batch->id;
  commit.actor = request.actor;
  commit.reason = request.reason;
  commit.cause = request.cause;
  commit.rulesVersion = profile->rules ? fresh.rulesVersion : batch->rulesVersion;
  commit.updates = std::move(updates);
  commit.replaceBatchFindings =
      profile->rules != nullptr &&
      !sameBatchFindings(batch->message.batchFindings, fresh.batchFindings);
  commit.batchFindings = fresh.batchFindings;
  commit.outbound = renderForDestinations(releasedPart(fresh, mask), *profile, destinations_);
  commit.changesJson = changesJson(outcome.results);
  Poco::JSON::Object::Ptr detail = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  detail->set("batch", batch->id);
  detail->set("cause", request.cause);
  detail->set("reason", request.reason);
  detail->set("rules_version", commit.rulesVersion);
  detail->set("released", outcome.released);
  detail->set("outbound", static_cast<int64_t>(commit.outbound.size()));
  std::ostringstream text;
  Poco::JSON::Stringifier::stringify(detail, text);
  // The changes array is spliced in as JSON (it is the same text the reevaluations row keeps).
  std::string audit = text.str();
  audit.insert(audit.size() - 1, ",\"changes\":" + commit.changesJson);
  commit.audit.orgId = request.orgId;
  commit.audit.actor = request.actor;
  commit.audit.action = "batch.reevaluated";
  commit.audit.detail = audit;

  StatusOr<int64_t> written = batches_.commit(commit);
  if (!written.isOk()) return written.status();
  outcome.committed = true;
  outcome.reevaluationId = written.value();
  outcome.outbound = static_cast<int64_t>(commit.outbound.size());
  logInfo(logger(),
          "batch {}: evaluated again by {} ({}): {} result(s) changed, {} released, {} "
          "outbound",
          static_cast<Poco::Int64>(batch->id), request.actor, request.cause,
          static_cast<Poco::Int64>(outcome.changed), static_cast<Poco::Int64>(outcome.released),
          static_cast<Poco::Int64>(outcome.outbound));
  if (!commit.outbound.empty() && queued_) queued_();
  return outcome;
}

std::vector<ReevaluationOutcome> Reevaluator::reevaluateHeldForMapping(
    const std::string& orgId, const std::vector<std::string>& connectors, const std::string& actor,
    const std::string& reason) {
  std::vector<ReevaluationOutcome> out;
  for (const std::string& connector : connectors) {
    for (int64_t id : batches_.heldForMapping(orgId, connector)) {
      ReevaluationRequest request;
      request.orgId = orgId;
      request.batchId = id;
      request.actor = actor;
      request.reason = reason;
      request.cause = "mapping_activation";
      request.scope = ReevaluationRequest::Scope::kMappingOnly;
      request.commit = true;
      StatusOr<ReevaluationOutcome> done = reevaluate(request);
      if (!done.isOk()) {
        logWarning(logger(), "batch {} of connector {} not evaluated again: {}",
                   static_cast<Poco::Int64>(id), connector, done.status().toString());
        continue;
      }
      out.push_back(std::move(done).value());
    }
  }
  return out;
}

DryRunReport Reevaluator::dryRun(const std::string& orgId, const std::string& instrument,
                                 int64_t last,
                                 const std::shared_ptr<const MappingStage>& candidate) {
  DryRunReport report;
  report.instrument = instrument;
  for (int64_t id : batches_.lastBatches(orgId, instrument, std::clamp<int64_t>(last, 1, 1000))) {
    ReevaluationRequest request;
    request.orgId = orgId;
    request.batchId = id;
    request.scope = ReevaluationRequest::Scope::kMappingOnly;
    request.mappings = candidate;
    StatusOr<ReevaluationOutcome> done = reevaluate(request);
    if (!done.isOk()) {
      ReevaluationOutcome skipped;
      skipped.batchId = id;
      skipped.instrument = instrument;
      skipped.notes.push_back(done.status().reason());
      report.outcomes.push_back(std::move(skipped));
      continue;
    }
    const ReevaluationOutcome& o = done.value();
    ++report.batches;
    for (const ResultChange& c : o.results) {
      ++report.results;
      for (const std::string& change : c.changes) {
        if (change == "newly_mapped") ++report.newlyMapped;
        if (change == "still_unmapped") ++report.stillUnmapped;
        if (change == "now_unmapped") ++report.nowUnmapped;
        if (change == "units_mismatch") ++report.unitsMismatch;
        if (change == "decimals_changed") ++report.decimalsChanged;
        if (change == "code_changed") ++report.codeChanged;
      }
    }
    report.wouldChange += o.changed;
    report.wouldRelease += o.released;
    report.outcomes.push_back(std::move(done).value());
  }
  return report;
}

}  // namespace labgate
