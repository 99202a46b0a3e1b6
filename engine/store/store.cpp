// Store implementation on POCO Data + SQLite: one writer thread doing group commit, one reader
// session for queue look-ups. See store.h for the contract.
#include "engine/store/store.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Nullable.h>
#include <Poco/Path.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "engine/log/log.h"
#include "engine/security/posix_file.h"
#include "engine/store/audit.h"
#include "engine/store/audit_log.h"
#include "engine/store/store_impl.h"
#include "engine/store/store_url.h"
#include "util/iso8601.h"

using namespace Poco::Data::Keywords;
using Poco::Data::Session;
using Poco::Data::Statement;

namespace labgate {
namespace {

Poco::Nullable<double> nullable(const std::optional<double>& v) {
  Poco::Nullable<double> out;
  if (v) out = *v;
  return out;
}

int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string isoNow() { return util::isoNow(); }

std::optional<int64_t> isoToUnixMillis(const std::string& iso) { return util::parseIso8601(iso); }

Store::Store(std::string path) : path_(std::move(path)) {}
Store::~Store() = default;

void insertSamples(WriterStatements& sql, const std::string& orgId, int64_t messageId,
                   const std::vector<Sample>& samples,
                   const std::vector<Disposition>& dispositions) {
  size_t resultIndex = 0;
  for (const Sample& sample : samples) {
    sql.run(
        "INSERT INTO samples (org_id, message_id, sample_id, kind, position, acquired_at, "
        "level, lot, nominal_concentration, dilution, data_file, injection) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        orgId, messageId, sample.sampleId, toString(sample.kind), sample.position,
        sample.acquiredAt, sample.level, sample.lot, sample.nominalConcentration, sample.dilution,
        sample.dataFile, sample.injection);
    const int64_t sampleRow = sql.lastInsertRowid();
    for (const Result& r : sample.results) {
      const Disposition* d =
          resultIndex < dispositions.size() ? &dispositions[resultIndex] : nullptr;
      ++resultIndex;
      sql.run(
          "INSERT INTO results (org_id, message_id, sample_row_id, instrument_code, lis_code, "
          "lis_name, value, numeric_value, units, reference_range, flags, status, "
          "measured_at, comment, disposition, internal_standard, decimals) VALUES (?, ?, ?, ?, "
          "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          orgId, messageId, sampleRow, r.instrumentCode, r.lisCode, r.lisName, r.value, r.numeric,
          r.units, r.referenceRange, r.flags, r.status, r.measuredAt, r.comment,
          d ? toString(d->kind) : "hold", r.internalStandard ? 1 : 0, r.decimals);
      const int64_t resultRow = sql.lastInsertRowid();
      if (r.peak) {
        const Peak& p = *r.peak;
        sql.run(
            "INSERT INTO peaks (result_id, org_id, retention_time, expected_retention_time, "
            "area, height, internal_standard, internal_standard_area, internal_standard_rt, "
            "quantifier_area, qualifier_area, ion_ratio, signal_to_noise, width, asymmetry, "
            "manual_integration, calculated_concentration, expected_concentration, accuracy, "
            "response_ratio, vendor_flags, final_concentration, integration_code, "
            "excluded_from_curve) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?)",
            resultRow, orgId, p.retentionTime, p.expectedRetentionTime, p.area, p.height,
            p.internalStandard, p.internalStandardArea, p.internalStandardRt, p.quantifierArea,
            p.qualifierArea, p.ionRatio, p.signalToNoise, p.width, p.asymmetry,
            p.manualIntegration ? 1 : 0, p.calculatedConcentration, p.expectedConcentration,
            p.accuracy, p.responseRatio, p.vendorFlags, p.finalConcentration, p.integrationCode,
            p.excludedFromCurve ? 1 : 0);
      }
      for (const Finding& f : r.findings) {
        sql.run(
            "INSERT INTO findings (org_id, result_id, rule_id, severity, subject, message, "
            "measured, limit_value, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            orgId, resultRow, f.ruleId, toString(f.severity), f.subject, f.message, f.measured,
            f.limit, toString(f.action));
      }
    }
  }
}

void insertOutbound(WriterStatements& sql, const std::string& orgId, int64_t messageId,
                    const std::vector<OutboundDraft>& drafts) {
  const std::string createdAt = isoNow();
  for (const OutboundDraft& o : drafts) {
    sql.run(
        "INSERT INTO outbound (org_id, destination, message_id, control_id, payload, state, "
        "created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)",
        orgId, o.destination, messageId, o.controlId, o.payload, createdAt);
  }
}

void insertBatchRows(Session& s, const InboundCommit& c, int64_t messageId) {
  const Message& m = c.message;
  for (const BatchFinding& b : m.batchFindings) {
    const Finding& f = b.finding;
    s << "INSERT INTO batch_findings (org_id, message_id, analyte, rule_id, severity, subject, "
         "message, measured, limit_value, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"_sql,
        bind(c.orgId), use(messageId), bind(b.analyte), bind(f.ruleId),
        bind(std::string(toString(f.severity))), bind(f.subject), bind(f.message), bind(f.measured),
        bind(f.limit), bind(std::string(toString(f.action))), now;
  }
  for (const ExportCurve& curve : m.curves) {
    s << "INSERT INTO export_curves (org_id, message_id, analyte, model, weighting, origin) "
         "VALUES (?, ?, ?, ?, ?, ?)"_sql,
        bind(c.orgId), use(messageId), bind(curve.analyte), bind(curve.model),
        bind(curve.weighting), bind(curve.origin), now;
  }
  for (const QcValue& q : m.qcValues) {
    Poco::Nullable<double> mean = nullable(q.targetMean), sd = nullable(q.targetSd);
    double value = q.value;
    int seq = q.seq, excluded = q.excluded ? 1 : 0, rejected = q.runRejected ? 1 : 0;
    s << "INSERT INTO qc_history (org_id, instrument, analyte, level, lot, message_id, "
         "sample_id, seq, value, target_mean, target_sd, excluded, run_rejected) VALUES (?, ?, "
         "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"_sql,
        bind(c.orgId), bind(c.instrument), bind(q.analyte), bind(q.level), bind(q.lot),
        use(messageId), bind(q.sampleId), use(seq), use(value), use(mean), use(sd), use(excluded),
        use(rejected), now;
  }
  for (const BatchMetric& metric : m.metrics) {
    double value = metric.value;
    s << "INSERT INTO batch_metrics (org_id, instrument, analyte, metric, message_id, value) "
         "VALUES (?, ?, ?, ?, ?, ?)"_sql,
        bind(c.orgId), bind(c.instrument), bind(metric.analyte), bind(metric.metric),
        use(messageId), use(value), now;
    // The QC trends' state (qc_<name>/<level>): the newest value is kept apart for /metrics.
    if (metric.metric.rfind("qc_", 0) == 0 && metric.metric.find('/') != std::string::npos) {
      s << "INSERT INTO qc_trend_state (org_id, instrument, analyte, metric, message_id, value) "
           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, instrument, analyte, metric) DO UPDATE "
           "SET message_id = excluded.message_id, value = excluded.value"_sql,
          bind(c.orgId), bind(c.instrument), bind(metric.analyte), bind(metric.metric),
          use(messageId), use(value), now;
    }
  }
}

AuditEvent acceptedEvent(const InboundCommit& c, int64_t messageId, int64_t samples,
                         int64_t results, int64_t outbound) {
  AuditEvent accepted;
  accepted.orgId = c.orgId;
  accepted.actor = "connector:" + c.connector;
  accepted.action = "message.accepted";
  accepted.subject = "message:" + std::to_string(messageId);
  accepted.detail = "{\"samples\":" + std::to_string(samples) +
                    ",\"results\":" + std::to_string(results) +
                    ",\"outbound\":" + std::to_string(outbound) + "}";
  return accepted;
}

StatusOr<std::shared_ptr<Store>> Store::open(const std::string& dataDir,
                                             std::shared_ptr<security::Keyring> keyring) {
  return open(StoreLocation{dataDir, "", ""}, std::move(keyring));
}

std::string Store::backendName() const {
  return impl_->backend() == sql::Backend::kPostgres ? "postgresql" : "sqlite";
}

StatusOr<std::shared_ptr<Store>> Store::open(const StoreLocation& location,
                                             std::shared_ptr<security::Keyring> keyring) {
  static std::once_flag registered;
  std::call_once(registered, [] {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::PostgreSQL::Connector::registerConnector();
  });
  const std::string& dataDir = location.dataDir;
  // The data directory and the database are the owner's only (0700, 0600) whatever the umask:
  // SQLite gives the -wal and -shm files the database file's mode.
  const std::string made = security::createPrivateDirectories(dataDir);
  if (!made.empty()) return Status::io(dataDir, "cannot create the data directory: " + made);
  std::string path = Poco::Path(dataDir).append("labgate.db").toString();
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    if (!location.url.empty()) break;  // on PostgreSQL there is no database file here
    if (file != path && !Poco::File(file).exists()) continue;
    security::PrivateFile privateFile = security::ensurePrivateFile(file);
    if (!privateFile.error.empty()) {
      return Status::io(file, "cannot open the database: " + privateFile.error);
    }
    if (!privateFile.notice.empty())
      logWarning(Poco::Logger::get("store"), "{}", privateFile.notice);
  }
  std::shared_ptr<Store> store(new Store(path));
  StoreConnection connection{sql::Backend::kSqlite, path};
  store->display_ = path;
  std::string secret;
  if (!location.url.empty()) {
    StatusOr<PostgresTarget> target = parseStoreUrl(location.url, location.passwordFile);
    if (!target.isOk()) return target.status();
    connection = StoreConnection{sql::Backend::kPostgres, target.value().connectionString()};
    store->display_ = target.value().display();
    secret = target.value().password;
  }
  try {
    store->impl_ = std::make_unique<Impl>(connection);
  } catch (const Poco::Exception& e) {
    if (connection.backend == sql::Backend::kSqlite) {
      return Status::io(path, "cannot open the database: " + e.displayText());
    }
    std::string why = e.displayText();
    for (size_t at; !secret.empty() && (at = why.find(secret)) != std::string::npos;) {
      why.replace(at, secret.size(), "***");
    }
    return Status::io("store.url", "cannot connect to " + store->display_ + ": " + why);
  }
  store->impl_->keyring = std::move(keyring);
  Status migrated = store->impl_->migrate();
  if (!migrated.isOk()) return migrated;
  Status keys = store->setUpEncryption();  // engine/store/encryption.cpp
  if (!keys.isOk()) return keys;
  return store;
}

StatusOr<InboundReceipt> Store::commitInbound(const InboundCommit& c) {
  InboundReceipt receipt;
  int64_t messageId = 0;
  // The statements are the writer connection's, prepared once (engine/store/writer_statements.h).
  Status status = impl_->write([&](Session& s) {
    WriterStatements& sql = *impl_->statements;
    const Message& m = c.message;
    const bool keyed = c.deduplicate && !m.controlId.empty();
    const std::string& keySender = c.dedupeSender.empty() ? m.sender : c.dedupeSender;
    if (keyed) {
      // A resend: the same sender, control id and content (ADR 0010).
      std::optional<int64_t> earlier = sql.selectInt(
          "SELECT message_id FROM inbound_keys WHERE org_id = ? AND connector = ? AND "
          "sender = ? AND control_id = ? AND content_sha256 = ?",
          c.orgId, c.connector, keySender, m.controlId, c.contentSha256);
      if (earlier) {
        messageId = *earlier;
        receipt.duplicate = true;
        impl_->appendAudit(s, {c.orgId, "connector:" + c.connector, "message.duplicate",
                               "message:" + std::to_string(messageId),
                               "{\"received_at\":\"" + c.receivedAt + "\"}"});
        return;
      }
      // The same control id with other content: a new message (the sender reused the id).
      receipt.reusedControlIdOf =
          sql.selectInt(
                 "SELECT MAX(message_id) FROM inbound_keys WHERE org_id = ? AND connector = ? AND "
                 "sender = ? AND control_id = ? HAVING COUNT(*) > 0",
                 c.orgId, c.connector, keySender, m.controlId)
              .value_or(0);
    }
    int sampleCount = static_cast<int>(m.samples.size());
    int resultCount = static_cast<int>(m.resultCount());
    int runOrder = m.listedInRunOrder ? 1 : 0;
    // canonical = 1: everything the rules read is kept, so the batch can be evaluated again
    // (engine/pipeline/reevaluation.h).
    sql.run(
        "INSERT INTO messages (org_id, connector, instrument, control_id, sender, format, peer, "
        "received_at, content_sha256, sample_count, result_count, source_name, rules_version, "
        "listed_in_run_order, canonical) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        c.orgId, c.connector, c.instrument, m.controlId, m.sender, c.format, c.peer, c.receivedAt,
        c.contentSha256, sampleCount, resultCount, c.sourceName, m.rulesVersion, runOrder);
    messageId = sql.lastInsertRowid();
    if (keyed) {
      sql.run(
          "INSERT INTO inbound_keys (org_id, connector, sender, control_id, content_sha256, "
          "message_id) VALUES (?, ?, ?, ?, ?, ?)",
          c.orgId, c.connector, keySender, m.controlId, c.contentSha256, messageId);
    }
    insertSamples(sql, c.orgId, messageId, m.samples, c.dispositions);
    insertBatchRows(s, c, messageId);
    insertOutbound(sql, c.orgId, messageId, c.outbound);
    const AuditEvent accepted = acceptedEvent(c, messageId, sampleCount, resultCount,
                                              static_cast<int64_t>(c.outbound.size()));
    impl_->appendAudit(s, accepted);
    if (receipt.reusedControlIdOf != 0) {
      // Names the earlier message, not the control id: the rows hold it for those allowed to see.
      impl_->appendAudit(
          s, {c.orgId, "connector:" + c.connector, "message.control_id_reused", accepted.subject,
              "{\"earlier_message\":" + std::to_string(receipt.reusedControlIdOf) +
                  ",\"content_sha256\":\"" + c.contentSha256 + "\"}"});
    }
    for (AuditEvent event : c.audit) {
      event.subject = accepted.subject;
      impl_->appendAudit(s, event);
    }
    impl_->insertBody(s, c, messageId);  // encryption at rest: the sealed received bytes
  });
  finishBodyFile(c, status.isOk() && !receipt.duplicate);
  if (!status.isOk()) return status;
  receipt.messageId = messageId;
  return receipt;
}

Status Store::appendAudit(const AuditEvent& event) {
  return impl_->write([&](Session& s) { impl_->appendAudit(s, event); });
}

namespace {

/// Writes one outcome inside a write job: the row's new state and, for a final one, its audit
/// event. (A template: Store::Impl is private to Store.)
template <typename StoreImpl>
void writeOutcome(Poco::Data::Session& s, StoreImpl& impl, const OutboundOutcome& o) {
  int64_t id = o.item.id;
  if (o.kind == OutboundOutcome::Kind::kRetry) {
    int64_t at = nowMillis() + o.retryDelayMillis;
    s << "UPDATE outbound SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
         "WHERE id = ?"_sql,
        use(at), bind(o.reason), use(id), now;
    return;
  }
  const bool delivered = o.kind == OutboundOutcome::Kind::kDelivered;
  std::string state = delivered ? "delivered" : "dead";
  std::string at = delivered ? isoNow() : std::string();
  std::string reason = delivered ? std::string() : o.reason;
  s << "UPDATE outbound SET state = ?, ack_code = ?, last_error = ?, delivered_at = ?, "
       "attempts = attempts + 1 WHERE id = ?"_sql,
      use(state), bind(o.ackCode), use(reason), use(at), use(id), now;
  impl.appendAudit(
      s,
      {o.item.orgId, "destination:" + o.item.destination,
       delivered ? "outbound.delivered" : "outbound.dead_letter", "outbound:" + std::to_string(id),
       "{\"ack\":\"" + o.ackCode + "\",\"control_id\":\"" + o.item.controlId + "\"}"});
}

}  // namespace

std::optional<OutboundItem> Store::claimNext(const std::string& destination) {
  std::vector<OutboundItem> items = claimQueued(destination, 1, {});
  if (items.empty()) return std::nullopt;
  return std::move(items.front());
}

std::vector<OutboundItem> Store::claimQueued(const std::string& destination, size_t limit,
                                             const std::vector<int64_t>& skip) {
  return impl_->read([&](Session& s) {
    std::vector<OutboundItem> out;
    OutboundItem row;
    int64_t nextAttemptAt = 0;
    std::string dest = destination;
    int64_t rows = static_cast<int64_t>(limit + skip.size());
    const int64_t at = nowMillis();
    Statement select(s);
    select << "SELECT id, org_id, control_id, payload, attempts, next_attempt_at, created_at "
              "FROM outbound WHERE destination = ? AND state = 'queued' ORDER BY id LIMIT ?"_sql,
        use(dest), use(rows), into(row.id), into(row.orgId), into(row.controlId), into(row.payload),
        into(row.attempts), into(nextAttemptAt), into(row.createdAt), range(0, 1);
    while (out.size() < limit && !select.done()) {
      if (select.execute() == 0) break;
      if (std::find(skip.begin(), skip.end(), row.id) != skip.end()) continue;
      if (nextAttemptAt > at) break;  // the head waits for its retry: nothing behind it goes
      row.destination = destination;
      out.push_back(row);  // a copy: the statement's into() still refers to row
    }
    return out;
  });
}

Status Store::recordOutcomes(const std::vector<OutboundOutcome>& outcomes) {
  if (outcomes.empty()) return Status::ok();
  return impl_->write([&](Session& s) {
    for (const OutboundOutcome& o : outcomes) writeOutcome(s, *impl_, o);
  });
}

std::optional<int64_t> Store::millisUntilNext(const std::string& destination) {
  return impl_->read([&](Session& s) -> std::optional<int64_t> {
    int64_t nextAttemptAt = 0;
    std::string dest = destination;
    Statement select(s);
    select << "SELECT next_attempt_at FROM outbound WHERE destination = ? AND state = 'queued' "
              "ORDER BY id LIMIT 1"_sql,
        use(dest), into(nextAttemptAt);
    if (select.execute() == 0) return std::nullopt;
    return std::max<int64_t>(0, nextAttemptAt - nowMillis());
  });
}

Status Store::markDelivered(const OutboundItem& item, const std::string& ackCode) {
  OutboundOutcome o;
  o.kind = OutboundOutcome::Kind::kDelivered;
  o.item = item;
  o.ackCode = ackCode;
  return impl_->write([&](Session& s) { writeOutcome(s, *impl_, o); });
}

Status Store::markDeadLetter(const OutboundItem& item, const std::string& ackCode,
                             const std::string& reason) {
  OutboundOutcome o;
  o.kind = OutboundOutcome::Kind::kDeadLetter;
  o.item = item;
  o.ackCode = ackCode;
  o.reason = reason;
  return impl_->write([&](Session& s) { writeOutcome(s, *impl_, o); });
}

Status Store::scheduleRetry(const OutboundItem& item, int64_t delayMillis,
                            const std::string& error) {
  OutboundOutcome o;
  o.kind = OutboundOutcome::Kind::kRetry;
  o.item = item;
  o.reason = error;
  o.retryDelayMillis = delayMillis;
  return impl_->write([&](Session& s) { writeOutcome(s, *impl_, o); });
}

std::optional<int64_t> Store::findInbound(const std::string& orgId, const std::string& connector,
                                          const std::string& sender, const std::string& controlId,
                                          const std::string& contentSha256) {
  return impl_->read([&](Session& s) -> std::optional<int64_t> {
    int64_t messageId = 0;
    std::string org = orgId, conn = connector, snd = sender, ctl = controlId, sha = contentSha256;
    Statement select(s);
    select << "SELECT message_id FROM inbound_keys WHERE org_id = ? AND connector = ? AND "
              "sender = ? AND control_id = ? AND content_sha256 = ?"_sql,
        use(org), use(conn), use(snd), use(ctl), use(sha), into(messageId);
    if (select.execute() == 0) return std::nullopt;
    return messageId;
  });
}

std::vector<QcValue> Store::qcHistory(const std::string& orgId, const std::string& instrument,
                                      const std::string& analyte, size_t limit) {
  return impl_->read([&](Session& s) {
    std::vector<QcValue> out;
    std::string org = orgId, inst = instrument, an = analyte;
    Statement select(s);
    QcValue row;
    Poco::Nullable<double> mean, sd;
    int excluded = 0, rejected = 0;
    int64_t cap = static_cast<int64_t>(limit);
    select << "SELECT message_id, level, lot, sample_id, seq, value, target_mean, target_sd, "
              "excluded, run_rejected FROM (SELECT * FROM qc_history WHERE org_id = ? AND "
              "instrument = ? "
              "AND analyte = ? ORDER BY id DESC LIMIT ?) AS recent ORDER BY id"_sql,
        use(org), use(inst), use(an), use(cap), into(row.batch), into(row.level), into(row.lot),
        into(row.sampleId), into(row.seq), into(row.value), into(mean), into(sd), into(excluded),
        into(rejected), range(0, 1);
    while (!select.done()) {
      if (select.execute() == 0) break;
      QcValue v = row;
      v.analyte = analyte;
      if (!mean.isNull()) v.targetMean = mean.value();
      if (!sd.isNull()) v.targetSd = sd.value();
      v.excluded = excluded != 0;
      v.runRejected = rejected != 0;
      out.push_back(std::move(v));
    }
    return out;
  });
}

std::vector<double> Store::batchMetricHistory(const std::string& orgId,
                                              const std::string& instrument,
                                              const std::string& analyte, const std::string& metric,
                                              size_t limit) {
  return impl_->read([&](Session& s) {
    std::vector<double> out;
    std::string org = orgId, inst = instrument, an = analyte, me = metric;
    int64_t cap = static_cast<int64_t>(limit);
    s << "SELECT value FROM (SELECT id, value FROM batch_metrics WHERE org_id = ? AND "
         "instrument = ? AND analyte = ? AND metric = ? ORDER BY id DESC LIMIT ?) AS recent ORDER BY id"_sql,
        use(org), use(inst), use(an), use(me), use(cap), into(out), now;
    return out;
  });
}

std::vector<Store::LatestMetric> Store::latestQcTrendState() {
  return impl_->read([&](Session& s) {
    std::vector<LatestMetric> out;
    LatestMetric row;
    Statement select(s);
    select << "SELECT org_id, instrument, analyte, metric, message_id, value FROM qc_trend_state "
              "ORDER BY org_id, instrument, analyte, metric"_sql,
        into(row.orgId), into(row.instrument), into(row.analyte), into(row.metric), into(row.batch),
        into(row.value), range(0, 1);
    while (!select.done()) {
      if (select.execute() == 0) break;
      out.push_back(row);
    }
    return out;
  });
}

bool Store::hasInstrument(const std::string& orgId, const std::string& instrument) {
  return impl_->read([&](Session& s) {
    int64_t found = 0;
    std::string org = orgId, inst = instrument;
    s << "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE org_id = ? AND instrument = ? LIMIT "
         "1) AS any_message"_sql,
        use(org), use(inst), into(found), now;
    return found > 0;
  });
}

Store::Diagnostics Store::diagnostics(const std::string& orgId, const std::string& instrument,
                                      const std::string& analyte, size_t batches) {
  return impl_->read([&](Session& s) {
    Diagnostics out;
    std::string org = orgId, inst = instrument, an = analyte;
    int64_t cap = static_cast<int64_t>(batches);
    // The batch ids in range: the instrument's last `batches` messages.
    int64_t firstBatch = 0;
    s << "SELECT COALESCE(MIN(id), 0) FROM (SELECT id FROM messages WHERE org_id = ? AND "
         "instrument = ? ORDER BY id DESC LIMIT ?) AS recent"_sql,
        use(org), use(inst), use(cap), into(firstBatch), now;
    {
      Diagnostics::MetricPoint row;
      Statement select(s);
      select << "SELECT m.analyte, m.metric, g.received_at, m.message_id, m.value FROM "
                "batch_metrics m JOIN messages g ON g.id = m.message_id WHERE m.org_id = ? AND "
                "m.instrument = ? AND (? = '' OR m.analyte = ?) AND m.message_id >= ? ORDER BY "
                "m.analyte, m.metric, m.message_id"_sql,
          use(org), use(inst), use(an), use(an), use(firstBatch), into(row.analyte),
          into(row.metric), into(row.receivedAt), into(row.batch), into(row.value), range(0, 1);
      while (!select.done()) {
        if (select.execute() == 0) break;
        out.metrics.push_back(row);
      }
    }
    {
      Diagnostics::QcPoint row;
      Poco::Nullable<double> mean, sd;
      int rejected = 0;
      Statement select(s);
      select
          << "SELECT q.analyte, q.level, q.lot, q.sample_id, g.received_at, q.message_id, "
             "q.value, q.target_mean, q.target_sd, q.run_rejected FROM qc_history q JOIN "
             "messages g ON g.id = q.message_id WHERE q.org_id = ? AND q.instrument = ? AND "
             "(? = '' OR q.analyte = ?) AND q.message_id >= ? ORDER BY q.analyte, q.level, q.id"_sql,
          use(org), use(inst), use(an), use(an), use(firstBatch), into(row.analyte),
          into(row.level), into(row.lot), into(row.sampleId), into(row.receivedAt), into(row.batch),
          into(row.value), into(mean), into(sd), into(rejected), range(0, 1);
      while (!select.done()) {
        if (select.execute() == 0) break;
        Diagnostics::QcPoint p = row;
        if (!mean.isNull()) p.mean = mean.value();
        if (!sd.isNull()) p.sd = sd.value();
        p.runRejected = rejected != 0;
        out.qc.push_back(std::move(p));
      }
    }
    {
      Diagnostics::RuleCount row;
      Statement select(s);
      select
          << "SELECT rule_id, COUNT(*) FROM (SELECT f.rule_id FROM findings f JOIN results r "
             "ON r.id = f.result_id JOIN messages g ON g.id = r.message_id WHERE g.org_id = ? "
             "AND g.instrument = ? AND g.id >= ? AND f.severity != 'info' AND (? = '' OR "
             "r.instrument_code = ?) UNION ALL SELECT b.rule_id FROM batch_findings b JOIN "
             "messages g ON g.id = b.message_id WHERE g.org_id = ? AND g.instrument = ? AND "
             "g.id >= ? AND b.severity != 'info' AND (? = '' OR b.analyte = ?)) AS found GROUP BY "
             "rule_id ORDER BY COUNT(*) DESC, rule_id"_sql,
          use(org), use(inst), use(firstBatch), use(an), use(an), use(org), use(inst),
          use(firstBatch), use(an), use(an), into(row.ruleId), into(row.failures), range(0, 1);
      while (!select.done()) {
        if (select.execute() == 0) break;
        out.failuresByRule.push_back(row);
      }
    }
    return out;
  });
}

int64_t Store::queueDepth(const std::string& destination) {
  return impl_->read([&](Session& s) {
    int64_t queued = 0;
    std::string dest = destination;
    s << "SELECT COUNT(*) FROM outbound WHERE destination = ? AND state = 'queued'"_sql, use(dest),
        into(queued), now;
    return queued;
  });
}

std::optional<int64_t> Store::oldestQueuedAgeMillis(const std::string& destination) {
  std::optional<std::string> createdAt = impl_->read([&](Session& s) -> std::optional<std::string> {
    std::string created;
    std::string dest = destination;
    Statement select(s);
    select << "SELECT created_at FROM outbound WHERE destination = ? AND state = 'queued' "
              "ORDER BY id LIMIT 1"_sql,
        use(dest), into(created);
    if (select.execute() == 0) return std::nullopt;
    return created;
  });
  if (!createdAt) return std::nullopt;
  std::optional<int64_t> at = isoToUnixMillis(*createdAt);
  return at ? std::max<int64_t>(0, nowMillis() - *at) : 0;
}

Status Store::ping() {
  return impl_->write([](Session&) {});
}

OutboundCounts Store::outboundCounts(const std::string& destination) {
  return impl_->read([&](Session& s) {
    OutboundCounts counts;
    std::string dest = destination;
    s << "SELECT COUNT(*) FILTER (WHERE state = 'queued'), COUNT(*) FILTER (WHERE state = "
         "'delivered'), COUNT(*) FILTER (WHERE state = 'dead') FROM outbound WHERE destination = "
         "?"_sql,
        use(dest), into(counts.queued), into(counts.delivered), into(counts.dead), now;
    return counts;
  });
}

Status Store::verifyAuditChain() {
  AuditChainReport report = impl_->read([](Session& s) { return walkAuditChain(s); });
  if (report.valid) return Status::ok();
  return Status::invalid("audit event " + std::to_string(report.brokenId), report.reason);
}

Status Store::snapshotTo(const std::string& path) {
  try {
    // Not the reader session: a long copy must not hold up the queue look-ups.
    Session session("SQLite", path_);
    session << "PRAGMA busy_timeout=10000"_sql, now;
    std::string target = path;
    session << "VACUUM INTO ?"_sql, use(target), now;
  } catch (const Poco::Exception& e) {
    return Status::io(path, "snapshot failed: " + e.displayText());
  }
  return Status::ok();
}

}  // namespace labgate
