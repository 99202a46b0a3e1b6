// Stored batches evaluated again (see reevaluation_store.h).
#include "engine/store/reevaluation_store.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>

#include <map>
#include <utility>

#include "engine/store/store_impl.h"

using namespace Poco::Data::Keywords;  // NOLINT(google-build-using-namespace): SQL binding keywords
using Poco::Data::Session;
using Poco::Data::Statement;

namespace labgate {
namespace {

SampleKind sampleKindOf(const std::string& text) {
  for (SampleKind kind :
       {SampleKind::kUnknown, SampleKind::kCalibrator, SampleKind::kQc, SampleKind::kBlank,
        SampleKind::kDoubleBlank, SampleKind::kSystemSuitability}) {
    if (text == toString(kind)) {
      return kind;
    }
  }
  return SampleKind::kUnknown;
}

Severity severityOf(const std::string& text) {
  if (text == "info") {
    return Severity::kInfo;
  }
  return text == "error" ? Severity::kError : Severity::kWarning;
}

DispositionKind actionOf(const std::string& text) {
  if (text == "release") {
    return DispositionKind::kRelease;
  }
  return text == "reject" ? DispositionKind::kReject : DispositionKind::kHold;
}

void readSamples(Session& s, const std::string& orgId, int64_t messageId, Message& message,
                 std::map<int64_t, size_t>& sampleIndex) {
  int64_t row = 0;
  std::string kind;
  Sample sample;
  Poco::Nullable<double> nominal;
  Poco::Nullable<double> dilution;
  Poco::Nullable<Poco::Int64> injection;
  Statement select(s);
  select << "SELECT id, sample_id, kind, position, acquired_at, level, lot, "
            "nominal_concentration, dilution, data_file, injection FROM samples WHERE org_id = ? "
            "AND message_id = ? ORDER BY id"_sql,
      bind(orgId), bind(messageId), into(row), into(sample.sampleId), into(kind),
      into(sample.position), into(sample.acquiredAt), into(sample.level), into(sample.lot),
      into(nominal), into(dilution), into(sample.dataFile), into(injection), range(0, 1);
  eachRow(select, [&] {
    Sample made = sample;
    made.kind = sampleKindOf(kind);
    made.nominalConcentration = optionalOf(nominal);
    made.dilution = optionalOf(dilution);
    if (!injection.isNull()) {
      made.injection = static_cast<int64_t>(injection.value());
    }
    sampleIndex[row] = message.samples.size();
    message.samples.push_back(std::move(made));
  });
}

struct ResultPlace {
  size_t sample = 0;
  size_t result = 0;
};

void readResults(Session& s, const std::string& orgId, int64_t messageId, Message& message,
                 const std::map<int64_t, size_t>& sampleIndex, std::vector<StoredResultRow>& rows,
                 std::map<int64_t, ResultPlace>& places) {
  int64_t sampleRow = 0;
  Result r;
  Poco::Nullable<double> numeric;
  int internal = 0;
  StoredResultRow stored;
  Statement select(s);
  select << "SELECT r.id, r.sample_row_id, sa.kind, r.instrument_code, r.lis_code, r.lis_name, "
            "r.value, r.numeric_value, r.units, r.reference_range, r.flags, r.status, "
            "r.measured_at, r.comment, r.disposition, r.qa_state, r.internal_standard FROM results "
            "r JOIN samples sa ON sa.id = r.sample_row_id WHERE r.org_id = ? AND r.message_id = ? "
            "ORDER BY r.id"_sql,
      bind(orgId), bind(messageId), into(stored.id), into(sampleRow), into(stored.sampleKind),
      into(r.instrumentCode), into(r.lisCode), into(r.lisName), into(r.value), into(numeric),
      into(r.units), into(r.referenceRange), into(r.flags), into(r.status), into(r.measuredAt),
      into(r.comment), into(stored.disposition), into(stored.qaState), into(internal), range(0, 1);
  // Results were inserted sample by sample in message order: row ids keep that order.
  std::vector<std::pair<int64_t, std::pair<Result, StoredResultRow>>> read;
  eachRow(select, [&] {
    Result made = r;
    made.numeric = optionalOf(numeric);
    made.internalStandard = internal != 0;
    StoredResultRow madeRow = stored;
    madeRow.internalStandard = made.internalStandard;
    read.push_back({sampleRow, {std::move(made), std::move(madeRow)}});
  });
  for (auto& [sampleRowId, pair] : read) {
    auto it = sampleIndex.find(sampleRowId);
    if (it == sampleIndex.end()) {
      continue;
    }
    Sample& sample = message.samples[it->second];
    places[pair.second.id] = ResultPlace{it->second, sample.results.size()};
    sample.results.push_back(std::move(pair.first));
    rows.push_back(std::move(pair.second));
  }
}

void readPeaks(Session& s, const std::string& orgId, int64_t messageId, Message& message,
               const std::map<int64_t, ResultPlace>& places) {
  int64_t resultId = 0;
  Peak p;
  Poco::Nullable<double> rt, expectedRt, area, height, isArea, isRt, quant, qual, ratio, sn, width,
      asym, calc, expected, accuracy, response, finalConc;
  int manual = 0;
  int excluded = 0;
  Statement select(s);
  select << "SELECT p.result_id, p.retention_time, p.expected_retention_time, p.area, p.height, "
            "p.internal_standard, p.internal_standard_area, p.internal_standard_rt, "
            "p.quantifier_area, p.qualifier_area, p.ion_ratio, p.signal_to_noise, p.width, "
            "p.asymmetry, p.manual_integration, p.calculated_concentration, "
            "p.expected_concentration, p.accuracy, p.response_ratio, p.vendor_flags, "
            "p.final_concentration, p.integration_code, p.excluded_from_curve FROM peaks p JOIN "
            "results r ON r.id = p.result_id WHERE r.org_id = ? AND r.message_id = ? ORDER BY "
            "p.result_id"_sql,
      bind(orgId), bind(messageId), into(resultId), into(rt), into(expectedRt), into(area),
      into(height), into(p.internalStandard), into(isArea), into(isRt), into(quant), into(qual),
      into(ratio), into(sn), into(width), into(asym), into(manual), into(calc), into(expected),
      into(accuracy), into(response), into(p.vendorFlags), into(finalConc), into(p.integrationCode),
      into(excluded), range(0, 1);
  eachRow(select, [&] {
    auto it = places.find(resultId);
    if (it == places.end()) {
      return;
    }
    Peak made = p;
    made.retentionTime = optionalOf(rt);
    made.expectedRetentionTime = optionalOf(expectedRt);
    made.area = optionalOf(area);
    made.height = optionalOf(height);
    made.internalStandardArea = optionalOf(isArea);
    made.internalStandardRt = optionalOf(isRt);
    made.quantifierArea = optionalOf(quant);
    made.qualifierArea = optionalOf(qual);
    made.ionRatio = optionalOf(ratio);
    made.signalToNoise = optionalOf(sn);
    made.width = optionalOf(width);
    made.asymmetry = optionalOf(asym);
    made.manualIntegration = manual != 0;
    made.calculatedConcentration = optionalOf(calc);
    made.expectedConcentration = optionalOf(expected);
    made.accuracy = optionalOf(accuracy);
    made.responseRatio = optionalOf(response);
    made.finalConcentration = optionalOf(finalConc);
    made.excludedFromCurve = excluded != 0;
    message.samples[it->second.sample].results[it->second.result].peak = std::move(made);
  });
}

void readFindings(Session& s, const std::string& orgId, int64_t messageId, Message& message,
                  const std::map<int64_t, ResultPlace>& places) {
  int64_t resultId = 0;
  Finding f;
  std::string severity;
  std::string action;
  Statement select(s);
  select << "SELECT f.result_id, f.rule_id, f.severity, f.subject, f.message, f.measured, "
            "f.limit_value, f.action FROM findings f JOIN results r ON r.id = f.result_id WHERE "
            "f.org_id = ? AND r.org_id = ? AND r.message_id = ? ORDER BY f.id"_sql,
      bind(orgId), bind(orgId), bind(messageId), into(resultId), into(f.ruleId), into(severity),
      into(f.subject), into(f.message), into(f.measured), into(f.limit), into(action), range(0, 1);
  eachRow(select, [&] {
    auto it = places.find(resultId);
    if (it == places.end()) {
      return;
    }
    Finding made = f;
    made.severity = severityOf(severity);
    made.action = actionOf(action);
    message.samples[it->second.sample].results[it->second.result].findings.push_back(
        std::move(made));
  });
}

void readBatchLevel(Session& s, const std::string& orgId, int64_t messageId, Message& message) {
  {
    ExportCurve curve;
    Statement select(s);
    select << "SELECT analyte, model, weighting, origin FROM export_curves WHERE org_id = ? AND "
              "message_id = ? ORDER BY id"_sql,
        bind(orgId), bind(messageId), into(curve.analyte), into(curve.model), into(curve.weighting),
        into(curve.origin), range(0, 1);
    eachRow(select, [&] { message.curves.push_back(curve); });
  }
  {
    BatchFinding b;
    std::string severity;
    std::string action;
    Statement select(s);
    select << "SELECT analyte, rule_id, severity, subject, message, measured, limit_value, action "
              "FROM batch_findings WHERE org_id = ? AND message_id = ? ORDER BY id"_sql,
        bind(orgId), bind(messageId), into(b.analyte), into(b.finding.ruleId), into(severity),
        into(b.finding.subject), into(b.finding.message), into(b.finding.measured),
        into(b.finding.limit), into(action), range(0, 1);
    eachRow(select, [&] {
      BatchFinding made = b;
      made.finding.severity = severityOf(severity);
      made.finding.action = actionOf(action);
      message.batchFindings.push_back(std::move(made));
    });
  }
}

/// Moves the findings of result `resultId` into findings_history (re-evaluation `reevaluation`).
void supersedeResultFindings(Session& s, const std::string& orgId, int64_t messageId,
                             int64_t resultId, const std::string& at, int64_t reevaluation) {
  s << "INSERT INTO findings_history (org_id, message_id, result_id, analyte, rule_id, severity, "
       "subject, message, measured, limit_value, action, superseded_at, reevaluation_id) SELECT "
       "org_id, ?, result_id, '', rule_id, severity, subject, message, measured, limit_value, "
       "action, ?, ? FROM findings WHERE org_id = ? AND result_id = ? ORDER BY id"_sql,
      bind(messageId), bind(at), bind(reevaluation), bind(orgId), bind(resultId), now;
  s << "DELETE FROM findings WHERE org_id = ? AND result_id = ?"_sql, bind(orgId), bind(resultId),
      now;
}

void insertFinding(Session& s, const std::string& orgId, int64_t resultId, const Finding& f) {
  s << "INSERT INTO findings (org_id, result_id, rule_id, severity, subject, message, measured, "
       "limit_value, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"_sql,
      bind(orgId), bind(resultId), bind(f.ruleId), bind(std::string(toString(f.severity))),
      bind(f.subject), bind(f.message), bind(f.measured), bind(f.limit),
      bind(std::string(toString(f.action))), now;
}

}  // namespace

ReevaluationStore::ReevaluationStore(std::shared_ptr<Store> store) : store_(std::move(store)) {}

std::optional<StoredBatch> ReevaluationStore::batch(const std::string& orgId, int64_t id) {
  return store_->impl_->read([&](Session& s) -> std::optional<StoredBatch> {
    StoredBatch out;
    int runOrder = 0;
    int canonical = 0;
    Statement select(s);
    select
        << "SELECT id, org_id, connector, instrument, received_at, rules_version, control_id, "
           "sender, listed_in_run_order, canonical FROM messages WHERE org_id = ? AND id = ?"_sql,
        bind(orgId), bind(id), into(out.id), into(out.orgId), into(out.connector),
        into(out.instrument), into(out.receivedAt), into(out.rulesVersion),
        into(out.message.controlId), into(out.message.sender), into(runOrder), into(canonical);
    if (select.execute() == 0) {
      return std::nullopt;
    }
    out.canonical = canonical != 0;
    int64_t pruned = 0;
    s << "SELECT COUNT(*) FROM retention_pruned WHERE message_id = ? AND peaks_pruned_at <> ''"_sql,
        bind(id), into(pruned), now;
    out.peaksPruned = pruned > 0;
    out.message.listedInRunOrder = runOrder != 0;
    out.message.rulesVersion = out.rulesVersion;
    s << "SELECT COUNT(*) FROM signatures WHERE org_id = ? AND message_id = ?"_sql, bind(orgId),
        bind(id), into(out.signatures), now;
    std::map<int64_t, size_t> sampleIndex;
    std::map<int64_t, ResultPlace> places;
    readSamples(s, orgId, id, out.message, sampleIndex);
    readResults(s, orgId, id, out.message, sampleIndex, out.rows, places);
    readPeaks(s, orgId, id, out.message, places);
    readFindings(s, orgId, id, out.message, places);
    readBatchLevel(s, orgId, id, out.message);
    return out;
  });
}

std::vector<int64_t> ReevaluationStore::heldForMapping(const std::string& orgId,
                                                       const std::string& connector) {
  return store_->impl_->read([&](Session& s) {
    std::vector<int64_t> out;
    int64_t id = 0;
    Statement select(s);
    select << "SELECT DISTINCT r.message_id FROM results r JOIN messages m ON m.id = r.message_id "
              "WHERE m.org_id = ? AND m.connector = ? AND r.org_id = ? AND r.disposition IN "
              "('hold', 'reject') AND r.qa_state = '' AND EXISTS (SELECT 1 FROM findings f WHERE "
              "f.result_id = r.id AND f.severity != 'info' AND f.rule_id LIKE 'mapping.%') AND "
              "NOT EXISTS (SELECT 1 FROM findings f WHERE f.result_id = r.id AND f.severity != "
              "'info' AND f.rule_id NOT LIKE 'mapping.%') AND NOT EXISTS (SELECT 1 FROM "
              "signatures g WHERE g.message_id = m.id) ORDER BY r.message_id"_sql,
        bind(orgId), bind(connector), bind(orgId), into(id), range(0, 1);
    eachRow(select, [&] { out.push_back(id); });
    return out;
  });
}

std::vector<int64_t> ReevaluationStore::lastBatches(const std::string& orgId,
                                                    const std::string& instrument, int64_t limit) {
  return store_->impl_->read([&](Session& s) {
    std::vector<int64_t> out;
    s << "SELECT id FROM messages WHERE org_id = ? AND instrument = ? ORDER BY id DESC LIMIT ?"_sql,
        bind(orgId), bind(instrument), bind(limit), into(out), now;
    return out;
  });
}

std::vector<QcValue> ReevaluationStore::qcHistoryBefore(const std::string& orgId,
                                                        const std::string& instrument,
                                                        const std::string& analyte,
                                                        int64_t beforeMessage, int64_t limit) {
  return store_->impl_->read([&](Session& s) {
    std::vector<QcValue> out;
    QcValue row;
    Poco::Nullable<double> mean;
    Poco::Nullable<double> sd;
    int excluded = 0;
    int rejected = 0;
    Statement select(s);
    select << "SELECT message_id, level, lot, sample_id, seq, value, target_mean, target_sd, "
              "excluded, run_rejected FROM (SELECT * FROM qc_history WHERE org_id = ? AND "
              "instrument = ? AND analyte = ? AND message_id < ? ORDER BY id DESC LIMIT ?) AS "
              "recent ORDER "
              "BY id"_sql,
        bind(orgId), bind(instrument), bind(analyte), bind(beforeMessage), bind(limit),
        into(row.batch), into(row.level), into(row.lot), into(row.sampleId), into(row.seq),
        into(row.value), into(mean), into(sd), into(excluded), into(rejected), range(0, 1);
    eachRow(select, [&] {
      QcValue v = row;
      v.analyte = analyte;
      v.targetMean = optionalOf(mean);
      v.targetSd = optionalOf(sd);
      v.excluded = excluded != 0;
      v.runRejected = rejected != 0;
      out.push_back(std::move(v));
    });
    return out;
  });
}

std::vector<double> ReevaluationStore::metricHistoryBefore(const std::string& orgId,
                                                           const std::string& instrument,
                                                           const std::string& analyte,
                                                           const std::string& metric,
                                                           int64_t beforeMessage, int64_t limit) {
  return store_->impl_->read([&](Session& s) {
    std::vector<double> out;
    s << "SELECT value FROM (SELECT id, value FROM batch_metrics WHERE org_id = ? AND "
         "instrument = ? AND analyte = ? AND metric = ? AND message_id < ? ORDER BY id DESC "
         "LIMIT ?) AS recent ORDER BY id"_sql,
        bind(orgId), bind(instrument), bind(analyte), bind(metric), bind(beforeMessage),
        bind(limit), into(out), now;
    return out;
  });
}

StatusOr<int64_t> ReevaluationStore::commit(const ReevaluationCommit& c) {
  auto& impl = *store_->impl_;
  int64_t reevaluation = 0;
  Status refusal;
  Status written = impl.write([&](Session& s) {
    try {
      int64_t mine = 0;
      s << "SELECT COUNT(*) FROM messages WHERE org_id = ? AND id = ?"_sql, bind(c.orgId),
          bind(c.batchId), into(mine), now;
      if (mine == 0) {
        throw Refused(Status::notFound("batch", "no such batch"));
      }
      int64_t signatures = 0;
      s << "SELECT COUNT(*) FROM signatures WHERE org_id = ? AND message_id = ?"_sql, bind(c.orgId),
          bind(c.batchId), into(signatures), now;
      if (signatures > 0) {
        throw Refused(Status::rejected(
            "batch", "batch " + std::to_string(c.batchId) +
                         " carries electronic signatures over every result: it is not evaluated "
                         "again (a QA decision releases its held results)"));
      }
      const std::string at = isoNow();
      s << "INSERT INTO reevaluations (org_id, message_id, at, actor, reason, cause, "
           "rules_version, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"_sql,
          bind(c.orgId), bind(c.batchId), bind(at), bind(c.actor), bind(c.reason), bind(c.cause),
          bind(c.rulesVersion), bind(c.changesJson), now;
      s << "SELECT last_insert_rowid()"_sql, into(reevaluation), now;
      for (const ResultUpdate& u : c.updates) {
        std::string disposition;
        std::string qaState;
        Statement current(s);
        current << "SELECT disposition, qa_state FROM results WHERE org_id = ? AND message_id = ? "
                   "AND id = ?"_sql,
            bind(c.orgId), bind(c.batchId), bind(u.resultId), into(disposition), into(qaState);
        if (current.execute() == 0 || disposition != u.expectedDisposition || !qaState.empty()) {
          throw Refused(Status::rejected(
              "result " + std::to_string(u.resultId),
              "result " + std::to_string(u.resultId) +
                  " changed while it was evaluated again (a QA decision or another "
                  "re-evaluation); try again"));
        }
        supersedeResultFindings(s, c.orgId, c.batchId, u.resultId, at, reevaluation);
        for (const Finding& f : u.findings) {
          insertFinding(s, c.orgId, u.resultId, f);
        }
        s << "UPDATE results SET lis_code = ?, lis_name = ?, units = ?, decimals = ?, "
             "disposition = ? WHERE org_id = ? AND id = ?"_sql,
            bind(u.lisCode), bind(u.lisName), bind(u.units), bind(u.decimals),
            bind(std::string(toString(u.disposition))), bind(c.orgId), bind(u.resultId), now;
      }
      if (c.replaceBatchFindings) {
        s << "INSERT INTO findings_history (org_id, message_id, result_id, analyte, rule_id, "
             "severity, subject, message, measured, limit_value, action, superseded_at, "
             "reevaluation_id) SELECT org_id, message_id, 0, analyte, rule_id, severity, subject, "
             "message, measured, limit_value, action, ?, ? FROM batch_findings WHERE org_id = ? "
             "AND message_id = ? ORDER BY id"_sql,
            bind(at), bind(reevaluation), bind(c.orgId), bind(c.batchId), now;
        s << "DELETE FROM batch_findings WHERE org_id = ? AND message_id = ?"_sql, bind(c.orgId),
            bind(c.batchId), now;
        for (const BatchFinding& b : c.batchFindings) {
          const Finding& f = b.finding;
          s << "INSERT INTO batch_findings (org_id, message_id, analyte, rule_id, severity, "
               "subject, message, measured, limit_value, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
               "?, ?)"_sql,
              bind(c.orgId), bind(c.batchId), bind(b.analyte), bind(f.ruleId),
              bind(std::string(toString(f.severity))), bind(f.subject), bind(f.message),
              bind(f.measured), bind(f.limit), bind(std::string(toString(f.action))), now;
        }
        s << "UPDATE messages SET rules_version = ? WHERE org_id = ? AND id = ?"_sql,
            bind(c.rulesVersion), bind(c.orgId), bind(c.batchId), now;
      }
      for (const OutboundDraft& o : c.outbound) {
        s << "INSERT INTO outbound (org_id, destination, message_id, control_id, payload, state, "
             "created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)"_sql,
            bind(c.orgId), bind(o.destination), bind(c.batchId), bind(o.controlId), bind(o.payload),
            bind(at), now;
      }
      AuditEvent event = c.audit;
      event.subject = "batch:" + std::to_string(c.batchId);
      impl.appendAudit(s, event);
    } catch (const Refused& r) {
      refusal = r.status();
      throw;
    }
  });
  if (!refusal.isOk()) {
    return refusal;
  }
  if (!written.isOk()) {
    return written;
  }
  return reevaluation;
}

std::vector<UnmappedCode> ReevaluationStore::unmappedCodes(const std::string& orgId,
                                                           const std::string& instrument) {
  return store_->impl_->read([&](Session& s) {
    std::vector<UnmappedCode> out;
    UnmappedCode row;
    Statement select(s);
    // A result counts once per code, whether its finding is current or was superseded by a
    // re-evaluation; it waits while the finding is current and the result held without decision.
    select << "SELECT m.instrument, x.code, COUNT(DISTINCT x.result_id), MIN(m.received_at), "
              "MAX(m.received_at), COUNT(DISTINCT CASE WHEN x.current = 1 AND r.disposition IN "
              "('hold', 'reject') AND r.qa_state = '' THEN x.result_id END) FROM (SELECT "
              "result_id, measured AS code, 1 AS current FROM findings WHERE org_id = ? AND "
              "rule_id = 'mapping.unmapped' UNION ALL SELECT result_id, measured, 0 FROM "
              "findings_history WHERE org_id = ? AND rule_id = 'mapping.unmapped' AND result_id "
              "!= 0) x JOIN results r ON r.id = x.result_id JOIN messages m ON m.id = "
              "r.message_id WHERE m.org_id = ? AND (? = '' OR m.instrument = ?) GROUP BY "
              "m.instrument, x.code ORDER BY m.instrument, x.code"_sql,
        bind(orgId), bind(orgId), bind(orgId), bind(instrument), bind(instrument),
        into(row.instrument), into(row.code), into(row.results), into(row.firstSeen),
        into(row.lastSeen), into(row.waiting), range(0, 1);
    eachRow(select, [&] { out.push_back(row); });
    return out;
  });
}

}  // namespace labgate
