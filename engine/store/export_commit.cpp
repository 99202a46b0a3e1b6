// Store::commitExportStream (see store.h and docs/adr/0017-bounded-export-import.md): a batch
// export stored part by part inside one write job. The rows are those commitInbound writes; the
// per-row statements are the writer's, prepared once (writer_statements.h): a 100 MB export is
// millions of rows.

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "engine/store/store.h"
#include "engine/store/store_impl.h"

namespace labgate {
namespace {

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
                "sender = ? AND control_id = ? AND content_sha256 = ?"_sql,
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
         "listed_in_run_order, canonical) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, 0, 0, ?, '', 0, 1)"_sql,
        bind(c.orgId), bind(c.connector), bind(c.instrument), bind(c.message.controlId),
        bind(c.format), bind(c.peer), bind(c.receivedAt), bind(c.contentSha256), bind(c.sourceName),
        now;
    s << "SELECT last_insert_rowid()"_sql, into(messageId), now;
    if (keyed) {
      s << "INSERT INTO inbound_keys (org_id, connector, sender, control_id, content_sha256, "
           "message_id) VALUES (?, ?, ?, ?, ?, ?)"_sql,
          bind(c.orgId), bind(c.connector), bind(c.dedupeSender), bind(c.message.controlId),
          bind(c.contentSha256), use(messageId), now;
    }
    WriterStatements& sql = *impl_->statements;
    int64_t sampleCount = 0, resultCount = 0, outboundCount = 0;
    for (;;) {
      ExportChunk chunk;
      StatusOr<bool> more = source.next(chunk);
      if (!more.isOk()) {
        abandoned = more.status();
        throw Abandoned();
      }
      if (!more.value()) break;
      insertSamples(sql, c.orgId, messageId, chunk.samples, chunk.dispositions);
      insertOutbound(sql, c.orgId, messageId, chunk.outbound);
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
         "listed_in_run_order = ? WHERE id = ?"_sql,
        bind(m.sender), use(sampleCount), use(resultCount), bind(m.rulesVersion), use(runOrder),
        use(messageId), now;
    insertBatchRows(s, c, messageId);
    insertOutbound(sql, c.orgId, messageId, c.outbound);
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
