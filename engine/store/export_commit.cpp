// Store::commitExportStream (see store.h and docs/adr/0017-bounded-export-import.md): a batch
// export stored part by part inside one write job. The rows are those commitInbound writes; the
// per-row statements are prepared once per commit (sqlite3 directly, on the writer's connection)
// because a 100 MB export is millions of rows.
#include <Poco/Data/SQLite/Utility.h>
#include <sqlite3.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "engine/store/store.h"
#include "engine/store/store_impl.h"

namespace labgate {
namespace {

/// One statement prepared on the writer's connection, bound and stepped once per row.
class Prepared {
 public:
  Prepared(sqlite3* db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("prepare failed: ") + sqlite3_errmsg(db));
    }
  }
  ~Prepared() { sqlite3_finalize(stmt_); }
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;

  Prepared& text(std::string_view v) {
    check(sqlite3_bind_text(stmt_, ++index_, v.data(), static_cast<int>(v.size()), SQLITE_STATIC));
    return *this;
  }
  Prepared& integer(int64_t v) {
    check(sqlite3_bind_int64(stmt_, ++index_, v));
    return *this;
  }
  Prepared& real(const std::optional<double>& v) {
    check(v ? sqlite3_bind_double(stmt_, ++index_, *v) : sqlite3_bind_null(stmt_, ++index_));
    return *this;
  }
  Prepared& integer(const std::optional<int64_t>& v) {
    check(v ? sqlite3_bind_int64(stmt_, ++index_, *v) : sqlite3_bind_null(stmt_, ++index_));
    return *this;
  }
  /// Runs the bound row; returns its rowid.
  int64_t run() {
    int rc = sqlite3_step(stmt_);
    index_ = 0;
    sqlite3_reset(stmt_);  // every parameter is bound again for the next row
    if (rc != SQLITE_DONE) {
      throw std::runtime_error(std::string("insert failed: ") + sqlite3_errmsg(db_));
    }
    return sqlite3_last_insert_rowid(db_);
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK)
      throw std::runtime_error(std::string("bind failed: ") + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int index_ = 0;
};

/// The per-row statements of one commit.
struct RowWriter {
  explicit RowWriter(sqlite3* db)
      : sample(db,
               "INSERT INTO samples (org_id, message_id, sample_id, kind, position, acquired_at, "
               "level, lot, nominal_concentration, dilution, data_file, injection) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        result(db,
               "INSERT INTO results (org_id, message_id, sample_row_id, instrument_code, lis_code, "
               "lis_name, value, numeric_value, units, reference_range, flags, status, "
               "measured_at, comment, disposition, internal_standard, decimals) VALUES (?, ?, ?, "
               "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        peak(db,
             "INSERT INTO peaks (result_id, org_id, retention_time, expected_retention_time, area, "
             "height, internal_standard, internal_standard_area, internal_standard_rt, "
             "quantifier_area, qualifier_area, ion_ratio, signal_to_noise, width, asymmetry, "
             "manual_integration, calculated_concentration, expected_concentration, accuracy, "
             "response_ratio, vendor_flags, final_concentration, integration_code, "
             "excluded_from_curve) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
             "?, ?, ?, ?, ?, ?)"),
        finding(db,
                "INSERT INTO findings (org_id, result_id, rule_id, severity, subject, message, "
                "measured, limit_value, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        outbound(db,
                 "INSERT INTO outbound (org_id, destination, message_id, control_id, payload, "
                 "state, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)") {}

  void samples(const std::string& orgId, int64_t messageId, const ExportChunk& chunk) {
    size_t index = 0;
    for (const Sample& s : chunk.samples) {
      std::optional<int64_t> injection;
      if (s.injection) injection = static_cast<int64_t>(*s.injection);
      const int64_t sampleRow = sample.text(orgId)
                                    .integer(messageId)
                                    .text(s.sampleId)
                                    .text(toString(s.kind))
                                    .text(s.position)
                                    .text(s.acquiredAt)
                                    .text(s.level)
                                    .text(s.lot)
                                    .real(s.nominalConcentration)
                                    .real(s.dilution)
                                    .text(s.dataFile)
                                    .integer(injection)
                                    .run();
      for (const Result& r : s.results) {
        const Disposition* d =
            index < chunk.dispositions.size() ? &chunk.dispositions[index] : nullptr;
        ++index;
        const int64_t resultRow = result.text(orgId)
                                      .integer(messageId)
                                      .integer(sampleRow)
                                      .text(r.instrumentCode)
                                      .text(r.lisCode)
                                      .text(r.lisName)
                                      .text(r.value)
                                      .real(r.numeric)
                                      .text(r.units)
                                      .text(r.referenceRange)
                                      .text(r.flags)
                                      .text(r.status)
                                      .text(r.measuredAt)
                                      .text(r.comment)
                                      .text(d ? toString(d->kind) : "hold")
                                      .integer(int64_t{r.internalStandard ? 1 : 0})
                                      .integer(int64_t{r.decimals})
                                      .run();
        if (r.peak) peakRow(orgId, resultRow, *r.peak);
        for (const Finding& f : r.findings) {
          finding.text(orgId)
              .integer(resultRow)
              .text(f.ruleId)
              .text(toString(f.severity))
              .text(f.subject)
              .text(f.message)
              .text(f.measured)
              .text(f.limit)
              .text(toString(f.action))
              .run();
        }
      }
    }
  }

  void peakRow(const std::string& orgId, int64_t resultRow, const Peak& p) {
    peak.integer(resultRow)
        .text(orgId)
        .real(p.retentionTime)
        .real(p.expectedRetentionTime)
        .real(p.area)
        .real(p.height)
        .text(p.internalStandard)
        .real(p.internalStandardArea)
        .real(p.internalStandardRt)
        .real(p.quantifierArea)
        .real(p.qualifierArea)
        .real(p.ionRatio)
        .real(p.signalToNoise)
        .real(p.width)
        .real(p.asymmetry)
        .integer(int64_t{p.manualIntegration ? 1 : 0})
        .real(p.calculatedConcentration)
        .real(p.expectedConcentration)
        .real(p.accuracy)
        .real(p.responseRatio)
        .text(p.vendorFlags)
        .real(p.finalConcentration)
        .text(p.integrationCode)
        .integer(int64_t{p.excludedFromCurve ? 1 : 0})
        .run();
  }

  void outboundRows(const std::string& orgId, int64_t messageId,
                    const std::vector<OutboundDraft>& drafts) {
    const std::string createdAt = isoNow();
    for (const OutboundDraft& o : drafts) {
      outbound.text(orgId)
          .text(o.destination)
          .integer(messageId)
          .text(o.controlId)
          .text(o.payload)
          .text(createdAt)
          .run();
    }
  }

  Prepared sample, result, peak, finding, outbound;
};

/// Thrown inside the write job to abandon it with a Status of the source's own.
struct Abandoned : std::runtime_error {
  Abandoned() : std::runtime_error("export abandoned") {}
};

}  // namespace

StatusOr<InboundReceipt> Store::commitExportStream(InboundCommit& c, ExportChunkSource& source) {
  using Poco::Data::Keywords::bind;
  using Poco::Data::Keywords::into;
  using Poco::Data::Keywords::now;
  using Poco::Data::Keywords::use;
  InboundReceipt receipt;
  int64_t messageId = 0;
  Status abandoned;
  Status status = impl_->write([&](Poco::Data::Session& s) {
    const bool keyed = c.deduplicate && !c.message.controlId.empty();
    if (keyed) {
      // The content was stored before (a copy dropped again while the first was being read).
      Poco::Data::Statement select(s);
      select << "SELECT message_id FROM inbound_keys WHERE org_id = ? AND connector = ? AND "
                "sender = ? AND control_id = ? AND content_sha256 = ?",
          bind(c.orgId), bind(c.connector), bind(c.dedupeSender), bind(c.message.controlId),
          bind(c.contentSha256), into(messageId);
      if (select.execute() > 0) {
        receipt.duplicate = true;
        impl_->appendAudit(s, {c.orgId, "connector:" + c.connector, "message.duplicate",
                               "message:" + std::to_string(messageId),
                               "{\"received_at\":\"" + c.receivedAt + "\"}"});
        return;
      }
    }
    s << "INSERT INTO messages (org_id, connector, instrument, control_id, sender, format, peer, "
         "received_at, content_sha256, sample_count, result_count, source_name, rules_version, "
         "listed_in_run_order, canonical) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, 0, 0, ?, '', 0, 1)",
        bind(c.orgId), bind(c.connector), bind(c.instrument), bind(c.message.controlId),
        bind(c.format), bind(c.peer), bind(c.receivedAt), bind(c.contentSha256), bind(c.sourceName),
        now;
    s << "SELECT last_insert_rowid()", into(messageId), now;
    if (keyed) {
      s << "INSERT INTO inbound_keys (org_id, connector, sender, control_id, content_sha256, "
           "message_id) VALUES (?, ?, ?, ?, ?, ?)",
          bind(c.orgId), bind(c.connector), bind(c.dedupeSender), bind(c.message.controlId),
          bind(c.contentSha256), use(messageId), now;
    }
    RowWriter rows(Poco::Data::SQLite::Utility::dbHandle(s));
    int64_t sampleCount = 0, resultCount = 0, outboundCount = 0;
    for (;;) {
      ExportChunk chunk;
      StatusOr<bool> more = source.next(chunk);
      if (!more.isOk()) {
        abandoned = more.status();
        throw Abandoned();
      }
      if (!more.value()) break;
      rows.samples(c.orgId, messageId, chunk);
      rows.outboundRows(c.orgId, messageId, chunk.outbound);
      sampleCount += static_cast<int64_t>(chunk.samples.size());
      for (const Sample& sample : chunk.samples) {
        resultCount += static_cast<int64_t>(sample.results.size());
      }
      outboundCount += static_cast<int64_t>(chunk.outbound.size());
    }
    Status finished = source.finish(c);
    if (!finished.isOk()) {
      abandoned = finished;
      throw Abandoned();
    }
    const Message& m = c.message;
    int runOrder = m.listedInRunOrder ? 1 : 0;
    s << "UPDATE messages SET sender = ?, sample_count = ?, result_count = ?, rules_version = ?, "
         "listed_in_run_order = ? WHERE id = ?",
        bind(m.sender), use(sampleCount), use(resultCount), bind(m.rulesVersion), use(runOrder),
        use(messageId), now;
    insertBatchRows(s, c, messageId);
    rows.outboundRows(c.orgId, messageId, c.outbound);
    outboundCount += static_cast<int64_t>(c.outbound.size());
    const AuditEvent accepted =
        acceptedEvent(c, messageId, sampleCount, resultCount, outboundCount);
    impl_->appendAudit(s, accepted);
    for (AuditEvent event : c.audit) {
      event.subject = accepted.subject;
      impl_->appendAudit(s, event);
    }
    impl_->insertBody(s, c, messageId);  // encryption at rest: the sealed received file
  });
  finishBodyFile(c, status.isOk() && !receipt.duplicate);
  if (!abandoned.isOk()) return abandoned;
  if (!status.isOk()) return status;
  receipt.messageId = messageId;
  return receipt;
}

}  // namespace labgate
