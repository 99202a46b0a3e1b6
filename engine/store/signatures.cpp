// Batches and electronic signatures (see signatures.h).
#include "engine/store/signatures.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <algorithm>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "engine/store/store_impl.h"
#include "util/json_quote.h"

using namespace Poco::Data::Keywords;  // NOLINT(google-build-using-namespace): SQL binding keywords
using Poco::Data::Session;
using Poco::Data::Statement;

namespace labgate {
/// The lowest and highest id of `orgId`'s messages received within [from, to] (to already
/// through upperBound; either may be empty = open), or {0, 0} when there is none: a time filter's
/// id range, which bounds a newest-first walk exactly (the filter itself stays in the query).
/// From messages_org (org_id, received_at), which holds the ids.
std::pair<int64_t, int64_t> messageIdRange(Session& s, const std::string& orgId,
                                           const std::string& from, const std::string& to) {
  // MIN and MAX in one statement: read from messages_org's range. (Each alone in a scalar
  // subquery is SQLite's min/max shortcut over messages_org_id, which walks ids until the first
  // one in the range: half the year for a day in the middle.)
  std::string sql =
      "SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM messages WHERE org_id = ?";
  Statement select(s);
  select.addBind(bind(orgId));
  if (!from.empty()) {
    sql += " AND received_at >= ?";
    select.addBind(bind(from));
  }
  if (!to.empty()) {
    sql += " AND received_at <= ?";
    select.addBind(bind(to));
  }
  std::pair<int64_t, int64_t> out{0, 0};
  select << sql::Text{sql}, into(out.first), into(out.second), now;
  return out;
}

namespace {

constexpr int64_t kMaxPage = 500;

std::string upperBound(const std::string& to) { return to.empty() ? to : to + "\x7f"; }

std::string joinIds(const std::vector<int64_t>& ids) {
  std::string out;
  for (int64_t id : ids) {
    if (!out.empty()) {
      out += ',';
    }
    out += std::to_string(id);
  }
  return out;
}

std::vector<int64_t> splitIds(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) {
      out.push_back(std::stoll(item));
    }
  }
  return out;
}

// The waiting / rejected counts and the state of message m, as SQL.
const std::string& batchColumns() {
  static const std::string kColumns =
      std::string(
          "m.id, m.connector, m.instrument, m.format, m.source_name, m.received_at, "
          "m.sample_count, (SELECT COUNT(*) FROM results r WHERE r.message_id = m.id AND "
          "r.internal_standard = 0), (SELECT COUNT(*) FROM results r WHERE r.message_id = m.id "
          "AND r.internal_standard = 0 AND ") +
      kResultWaitingSql + ") AS waiting, " +
      "(SELECT COUNT(*) FROM results r WHERE r.message_id = m.id AND r.qa_state = 'rejected') AS "
      "rejected, "
      "(SELECT COALESCE(group_concat(g.meaning, ','), '') FROM signatures g WHERE g.org_id = "
      "m.org_id AND g.message_id = m.id) AS signed";
  return kColumns;
}

std::string stateOf(int64_t waiting, int64_t rejected) {
  if (waiting > 0) {
    return "held";
  }
  return rejected > 0 ? "rejected" : "released";
}

std::vector<BatchSummary> selectBatches(Session& s, const std::string& orgId, const BatchFilter& f,
                                        int64_t before, int64_t minId, int64_t limit) {
  if (!f.from.empty() || !f.to.empty()) {
    // A month in the middle of a year: start the walk at the range's newest batch, not at the
    // newest of all (issue 17).
    const auto [first, last] = messageIdRange(s, orgId, f.from, upperBound(f.to));
    before = std::min(before, last + 1);
    minId = std::max(minId, first);
  }
  std::vector<BatchSummary> out;
  BatchSummary row;
  int64_t rejected = 0;
  std::string signedList;
  // Only the filters given are in the statement (issue 17, as selectSamples in accounts.cpp):
  // "(? = '' OR m.received_at >= ?)" cannot use messages_org, so a month in the middle of a
  // year walked every newer batch; the state is a computed column either way.
  std::string sql = std::string("SELECT * FROM (SELECT ") + batchColumns() +
                    " FROM messages m WHERE m.org_id = ? AND m.id < ? AND m.id >= ?";
  Statement select(s);
  select.addBind(bind(orgId));
  select.addBind(bind(before));
  select.addBind(bind(minId));
  auto filter = [&](const std::string& value, const char* term) {
    if (value.empty()) return;
    sql += term;
    select.addBind(bind(value));
  };
  filter(f.instrument, " AND m.instrument = ?");
  filter(f.from, " AND m.received_at >= ?");
  filter(upperBound(f.to), " AND m.received_at <= ?");
  sql += ") AS batch";  // PostgreSQL needs the derived table named
  if (f.state == "held") {
    sql += " WHERE waiting > 0";
  } else if (f.state == "rejected") {
    sql += " WHERE waiting = 0 AND rejected > 0";
  } else if (f.state == "released") {
    sql += " WHERE waiting = 0 AND rejected = 0";
  } else if (!f.state.empty()) {
    sql += " WHERE 0 = 1";  // an unknown state finds nothing, as the bound terms did
  }
  sql += " ORDER BY id DESC LIMIT ?";
  select.addBind(bind(limit));
  select << sql::Text{sql}, into(row.id), into(row.connector), into(row.instrument),
      into(row.format), into(row.sourceName), into(row.receivedAt), into(row.sampleCount),
      into(row.resultCount), into(row.waiting), into(rejected), into(signedList), range(0, 1);
  eachRow(select, [&] {
    row.state = stateOf(row.waiting, rejected);
    // Meanings are words without commas (reviewed, approved, ...); signatures_message orders
    // the scan by signature id, so the list is oldest first.
    row.meaningsSigned.clear();
    std::istringstream meanings(signedList);
    for (std::string meaning; std::getline(meanings, meaning, ',');)
      row.meaningsSigned.push_back(meaning);
    out.push_back(row);
  });
  return out;
}

std::vector<BatchResult> selectResults(Session& s, const std::string& orgId, int64_t messageId) {
  std::vector<BatchResult> out;
  BatchResult row;
  Statement select(s);
  select << "SELECT r.id, r.sample_row_id, sa.sample_id, sa.kind, sa.acquired_at, "
            "r.instrument_code, r.lis_code, r.lis_name, r.value, r.units, r.reference_range, "
            "r.flags, r.status, r.measured_at, r.comment, r.disposition, r.qa_state, r.decimals "
            "FROM results "
            "r JOIN samples sa ON sa.id = r.sample_row_id WHERE r.org_id = ? AND r.message_id = ? "
            "AND r.internal_standard = 0 ORDER BY r.id"_sql,
      bind(orgId), bind(messageId), into(row.id), into(row.sampleRow), into(row.sampleId),
      into(row.sampleKind), into(row.sampleAcquiredAt), into(row.instrumentCode), into(row.lisCode),
      into(row.lisName), into(row.value), into(row.units), into(row.referenceRange),
      into(row.flags), into(row.status), into(row.measuredAt), into(row.comment),
      into(row.disposition), into(row.qaState), into(row.decimals), range(0, 1);
  eachRow(select, [&] { out.push_back(row); });
  std::map<int64_t, BatchResult*> byId;
  for (BatchResult& r : out) {
    byId[r.id] = &r;
  }
  int64_t resultId = 0;
  BatchResultFinding finding;
  Statement findings(s);
  // CROSS JOIN: SQLite then reads the batch's results first (results_message) and each one's
  // findings (findings_result). With a plain JOIN it chose findings_rule (org_id) and read every
  // finding of the organisation: ~0.9 s a batch after a year of a busy lab (issue 17). PostgreSQL
  // plans a CROSS JOIN with a WHERE like the inner join it is.
  findings << "SELECT f.result_id, f.rule_id, f.severity, f.message, f.measured, f.limit_value, "
              "f.action FROM results r CROSS JOIN findings f WHERE f.result_id = r.id AND "
              "f.org_id = ? AND r.org_id = ? AND r.message_id = ? ORDER BY f.id"_sql,
      bind(orgId), bind(orgId), bind(messageId), into(resultId), into(finding.ruleId),
      into(finding.severity), into(finding.message), into(finding.measured), into(finding.limit),
      into(finding.action), range(0, 1);
  eachRow(findings, [&] {
    auto it = byId.find(resultId);
    if (it != byId.end()) {
      it->second->findings.push_back(finding);
    }
  });
  return out;
}

std::vector<BatchFindingRecord> selectBatchFindings(Session& s, const std::string& orgId,
                                                    int64_t messageId) {
  std::vector<BatchFindingRecord> out;
  BatchFindingRecord row;
  Statement select(s);
  select << "SELECT analyte, rule_id, severity, message, measured, limit_value, action FROM "
            "batch_findings WHERE org_id = ? AND message_id = ? ORDER BY id"_sql,
      bind(orgId), bind(messageId), into(row.analyte), into(row.ruleId), into(row.severity),
      into(row.message), into(row.measured), into(row.limit), into(row.action), range(0, 1);
  eachRow(select, [&] { out.push_back(row); });
  return out;
}

constexpr const char* kSignatureColumns =
    "id, org_id, message_id, user_id, username, printed_name, session_id, meaning, reason, "
    "signed_at, result_ids, record_sha256, signed_bytes, signature, key_id";

/// Runs `select` (prepared with the columns of kSignatureColumns) and collects the rows.
std::vector<SignatureRecord> selectSignatures(Session& s, const std::string& where,
                                              const std::string& orgId, int64_t key) {
  std::vector<SignatureRecord> out;
  SignatureRecord row;
  std::string ids;
  Statement select(s);
  select << sql::Text{std::string("SELECT ") + kSignatureColumns +
                      " FROM signatures WHERE org_id = ? AND " + where + " ORDER BY id"},
      bind(orgId), bind(key), into(row.id), into(row.orgId), into(row.batchId), into(row.userId),
      into(row.username), into(row.printedName), into(row.sessionId), into(row.meaning),
      into(row.reason), into(row.signedAt), into(ids), into(row.recordSha256),
      into(row.signedBytes), into(row.signature), into(row.keyId), range(0, 1);
  eachRow(select, [&] {
    row.resultIds = splitIds(ids);
    out.push_back(row);
  });
  return out;
}

}  // namespace

std::string canonicalResult(const BatchResult& r) {
  using util::jsonQuote;
  std::string out = "{\"code\":";
  out += jsonQuote(r.lisCode);
  out += ",\"disposition\":";
  out += jsonQuote(r.disposition);
  out += ",\"findings\":[";
  bool firstFinding = true;
  for (const BatchResultFinding& f : r.findings) {
    if (!firstFinding) {
      out += ',';
    }
    firstFinding = false;
    out += "{\"action\":";
    out += jsonQuote(f.action);
    out += ",\"limit\":";
    out += jsonQuote(f.limit);
    out += ",\"measured\":";
    out += jsonQuote(f.measured);
    out += ",\"rule\":";
    out += jsonQuote(f.ruleId);
    out += ",\"severity\":";
    out += jsonQuote(f.severity);
    out += '}';
  }
  out += "],\"id\":";
  out += std::to_string(r.id);
  out += ",\"instrument_code\":";
  out += jsonQuote(r.instrumentCode);
  out += ",\"units\":";
  out += jsonQuote(r.units);
  out += ",\"value\":";
  out += jsonQuote(r.value);
  out += '}';
  return out;
}

std::string canonicalRecord(int64_t batchId, const std::vector<BatchResult>& results,
                            const std::vector<SignatureRecord>& earlier) {
  using util::jsonQuote;
  std::string out = "{\"batch\":" + std::to_string(batchId) + ",\"results\":[";
  bool firstResult = true;
  for (const BatchResult& r : results) {
    if (!firstResult) {
      out += ',';
    }
    firstResult = false;
    out += canonicalResult(r);
  }
  out += "],\"signatures\":[";
  bool firstSignature = true;
  for (const SignatureRecord& sig : earlier) {
    if (!firstSignature) {
      out += ',';
    }
    firstSignature = false;
    out += "{\"id\":";
    out += std::to_string(sig.id);
    out += ",\"meaning\":";
    out += jsonQuote(sig.meaning);
    out += ",\"record_sha256\":";
    out += jsonQuote(sig.recordSha256);
    out += ",\"signature\":";
    out += jsonQuote(sig.signature);
    out += ",\"signed_at\":";
    out += jsonQuote(sig.signedAt);
    out += ",\"signer\":";
    out += jsonQuote(sig.username);
    out += '}';
  }
  out += "]}";
  return out;
}

SignatureStore::SignatureStore(std::shared_ptr<Store> store) : store_(std::move(store)) {}

Page<BatchSummary> SignatureStore::batches(const std::string& orgId, const BatchFilter& filter,
                                           const PageRequest& page) {
  const int64_t limit =
      std::min<int64_t>(page.limit == 0 ? 50 : static_cast<int64_t>(page.limit), kMaxPage) + 1;
  const int64_t before = page.before > 0 ? page.before : std::numeric_limits<int64_t>::max();
  auto rows = store_->impl_->read(
      [&](Session& s) { return selectBatches(s, orgId, filter, before, 0, limit); });
  Page<BatchSummary> out;
  if (static_cast<int64_t>(rows.size()) >= limit) {
    rows.pop_back();
    out.next = rows.back().id;
  }
  out.items = std::move(rows);
  return out;
}

std::optional<BatchDetail> SignatureStore::batch(const std::string& orgId, int64_t id) {
  if (id <= 0 || id == std::numeric_limits<int64_t>::max()) {
    return std::nullopt;
  }
  return store_->impl_->read([&](Session& s) -> std::optional<BatchDetail> {
    auto found = selectBatches(s, orgId, BatchFilter{}, id + 1, id, 1);
    if (found.empty()) {
      return std::nullopt;
    }
    BatchDetail detail;
    detail.summary = std::move(found.front());
    detail.results = selectResults(s, orgId, id);
    detail.batchFindings = selectBatchFindings(s, orgId, id);
    detail.signatures = selectSignatures(s, "message_id = ?", orgId, id);
    return detail;
  });
}

StatusOr<int64_t> SignatureStore::sign(const SignatureDraft& draft) {
  auto& impl = *store_->impl_;
  const SignatureRecord& sig = draft.signature;
  int64_t newId = 0;
  Status refusal;
  Status written = impl.write([&](Session& s) {
    try {
      int64_t mine = 0;
      s << "SELECT COUNT(*) FROM messages WHERE org_id = ? AND id = ?"_sql, bind(sig.orgId),
          bind(sig.batchId), into(mine), now;
      if (mine == 0) {
        throw Refused(Status::notFound("batch", "no such batch"));
      }
      // The version the signer saw, checked inside the transaction that signs.
      const std::string current =
          sha256Hex(canonicalRecord(sig.batchId, selectResults(s, sig.orgId, sig.batchId),
                                    selectSignatures(s, "message_id = ?", sig.orgId, sig.batchId)));
      if (current != draft.expectedRecordSha256 || current != sig.recordSha256) {
        throw Refused(Status::rejected(
            "record_sha256", "the batch changed since it was read (its record is now " + current +
                                 "): read it again and sign what it shows"));
      }
      const std::string ids = joinIds(sig.resultIds);
      s << "INSERT INTO signatures (org_id, message_id, user_id, username, printed_name, "
           "session_id, meaning, reason, signed_at, result_ids, record_sha256, signed_bytes, "
           "signature, key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"_sql,
          bind(sig.orgId), bind(sig.batchId), bind(sig.userId), bind(sig.username),
          bind(sig.printedName), bind(sig.sessionId), bind(sig.meaning), bind(sig.reason),
          bind(sig.signedAt), bind(ids), bind(sig.recordSha256), bind(sig.signedBytes),
          bind(sig.signature), bind(sig.keyId), now;
      s << "SELECT last_insert_rowid()"_sql, into(newId), now;
      for (int64_t resultId : draft.qaState.empty() ? std::vector<int64_t>{} : sig.resultIds) {
        s << "UPDATE results SET qa_state = ? WHERE org_id = ? AND message_id = ? AND id = ?"_sql,
            bind(draft.qaState), bind(sig.orgId), bind(sig.batchId), bind(resultId), now;
      }
      const std::string createdAt = isoNow();
      for (const OutboundDraft& o : draft.outbound) {
        s << "INSERT INTO outbound (org_id, destination, message_id, control_id, payload, state, "
             "created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)"_sql,
            bind(sig.orgId), bind(o.destination), bind(sig.batchId), bind(o.controlId),
            bind(o.payload), bind(createdAt), now;
      }
      AuditEvent event = draft.audit;
      event.subject = "signature:" + std::to_string(newId);
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
  return newId;
}

std::optional<SignatureRecord> SignatureStore::signature(const std::string& orgId, int64_t id) {
  return store_->impl_->read([&](Session& s) -> std::optional<SignatureRecord> {
    auto rows = selectSignatures(s, "id = ?", orgId, id);
    if (rows.empty()) {
      return std::nullopt;
    }
    return rows.front();
  });
}

bool SignatureStore::sessionHasSigned(int64_t sessionId) {
  return store_->impl_->read([&](Session& s) {
    int64_t any = 0;
    s << "SELECT COUNT(*) FROM (SELECT 1 FROM signatures WHERE session_id = ? LIMIT 1) AS signed"_sql,
        bind(sessionId), into(any), now;
    return any != 0;
  });
}

std::vector<SignatureStore::Waiting> SignatureStore::waitingByInstrument(Store& store) {
  return store.impl_->read([&](Session& s) {
    std::vector<Waiting> out;
    Waiting row;
    Statement select(s);
    select << "SELECT m.org_id, m.instrument, COUNT(*), MIN(m.received_at) FROM results r JOIN "
              "messages m ON m.id = r.message_id WHERE r.internal_standard = 0 AND "_sql
           << kResultWaitingSql
           << " GROUP BY m.org_id, m.instrument ORDER BY m.org_id, m.instrument"_sql,
        into(row.orgId), into(row.instrument), into(row.results), into(row.oldestReceivedAt),
        range(0, 1);
    eachRow(select, [&] { out.push_back(row); });
    return out;
  });
}

std::vector<std::pair<std::string, int64_t>> SignatureStore::signaturesByKey(Store& store) {
  return store.impl_->read([&](Session& s) {
    std::vector<std::pair<std::string, int64_t>> out;
    std::pair<std::string, int64_t> row;
    Statement select(s);
    select << "SELECT key_id, COUNT(*) FROM signatures GROUP BY key_id ORDER BY key_id"_sql,
        into(row.first), into(row.second), range(0, 1);
    eachRow(select, [&] { out.push_back(row); });
    return out;
  });
}

}  // namespace labgate
