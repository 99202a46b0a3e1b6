// AuditLog and the chain walk (see audit_log.h).
#include "engine/store/audit_log.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Statement.h>
#include <Poco/File.h>

#include <mutex>

#include "engine/store/audit.h"
#include "engine/store/store_impl.h"
#include "util/json_quote.h"

namespace labgate {
namespace {

using Poco::Data::Session;
using Poco::Data::Statement;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::range;
using Poco::Data::Keywords::use;

constexpr size_t kPage = 500;

/// Events with id > `afterId`, at most `count`, in order.
std::vector<ChainedEvent> readEvents(Session& s, int64_t afterId, size_t count) {
  std::vector<ChainedEvent> out;
  ChainedEvent e;
  int64_t after = afterId;
  auto max = static_cast<int64_t>(count);
  Statement select(s);
  select << "SELECT id, org_id, at, actor, action, subject, detail, prev_hash, hash FROM audit "
            "WHERE id > ? ORDER BY id LIMIT ?"_sql,
      use(after), use(max), into(e.id), into(e.orgId), into(e.at), into(e.actor), into(e.action),
      into(e.subject), into(e.detail), into(e.prevHash), into(e.hash), range(0, 1);
  while (!select.done()) {
    if (select.execute() == 0) break;
    out.push_back(e);
  }
  return out;
}

std::string shortHash(const std::string& hash) { return hash.substr(0, 16) + "…"; }

}  // namespace

AuditChainReport walkAuditChain(Session& session) {
  return walkAuditChain(
      [&session](int64_t afterId, size_t count) { return readEvents(session, afterId, count); });
}

AuditChainReport walkAuditChain(const AuditPageReader& readPage) {
  AuditChainReport report;
  std::string expectedPrev = kAuditGenesisHash;
  int64_t previousId = 0;
  for (;;) {
    std::vector<ChainedEvent> page = readPage(report.lastId, kPage);
    if (page.empty()) break;
    for (const ChainedEvent& e : page) {
      ++report.events;
      report.lastId = e.id;
      const std::string where =
          "audit event " + std::to_string(e.id) + " (" + e.action + ", " + e.at + ")";
      const std::string computed = auditChainHash(
          e.prevHash, auditCanonicalForm(e.at, {e.orgId, e.actor, e.action, e.subject, e.detail}));
      if (e.prevHash != expectedPrev) {
        report.problem = "link";
        report.expected = expectedPrev;
        report.stored = e.prevHash;
        report.reason =
            where + ": its prev_hash " + shortHash(e.prevHash) + " is not the hash " +
            shortHash(expectedPrev) +
            (previousId == 0 ? std::string(" that starts the chain")
                             : " of the event before it (" + std::to_string(previousId) + ")") +
            ": an event before it was removed, inserted or rewritten together with its hash";
      } else if (computed != e.hash) {
        report.problem = "content";
        report.expected = computed;
        report.stored = e.hash;
        report.reason = where +
                        ": its fields (time, organisation, actor, action, subject, detail) hash "
                        "to " +
                        shortHash(computed) + ", not to the stored " + shortHash(e.hash) +
                        ": the event was changed after it was written";
      }
      if (!report.problem.empty()) {
        report.valid = false;
        report.brokenId = e.id;
        report.brokenOrg = e.orgId;
        report.brokenAt = e.at;
        report.brokenAction = e.action;
        return report;
      }
      expectedPrev = e.hash;
      previousId = e.id;
    }
  }
  report.head = expectedPrev;
  return report;
}

StatusOr<AuditChainReport> verifyAuditDatabase(const std::string& dbPath) {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  if (!Poco::File(dbPath).exists()) return Status::notFound(dbPath, "no such database file");
  try {
    Session session("SQLite", dbPath);
    session << "PRAGMA busy_timeout=10000"_sql, now;
    int tables = 0;
    session << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit'"_sql,
        into(tables), now;
    if (tables == 0) return Status::io(dbPath, "not a LabGate database (it has no audit table)");
    return walkAuditChain(session);
  } catch (const Poco::Exception& e) {
    return Status::io(dbPath, "cannot read the database: " + e.displayText());
  }
}

std::string auditReportJson(const AuditChainReport& r) {
  std::string out = "{\"valid\":";
  out += r.valid ? "true" : "false";
  out += ",\"events\":" + std::to_string(r.events);
  out += ",\"last_id\":" + std::to_string(r.lastId);
  out += ",\"head\":";
  out += r.valid ? util::jsonQuote(r.head) : "null";
  out += ",\"broken\":";
  if (r.valid) {
    out += "null";
  } else {
    out += "{\"id\":" + std::to_string(r.brokenId);
    out += ",\"org\":" + util::jsonQuote(r.brokenOrg);
    out += ",\"at\":" + util::jsonQuote(r.brokenAt);
    out += ",\"action\":" + util::jsonQuote(r.brokenAction);
    out += ",\"problem\":" + util::jsonQuote(r.problem);
    out += ",\"expected\":" + util::jsonQuote(r.expected);
    out += ",\"stored\":" + util::jsonQuote(r.stored);
    out += ",\"reason\":" + util::jsonQuote(r.reason);
    out += "}";
  }
  out += "}";
  return out;
}

std::string auditEventJson(const ChainedEvent& e) {
  std::string out = "{\"seq\":" + std::to_string(e.id);
  out += ",\"at\":" + util::jsonQuote(e.at);
  out += ",\"org\":" + util::jsonQuote(e.orgId);
  out += ",\"actor\":" + util::jsonQuote(e.actor);
  out += ",\"action\":" + util::jsonQuote(e.action);
  out += ",\"subject\":" + util::jsonQuote(e.subject);
  out += ",\"detail\":" + util::jsonQuote(e.detail);
  out += ",\"prev_hash\":" + util::jsonQuote(e.prevHash);
  out += ",\"hash\":" + util::jsonQuote(e.hash);
  out += "}";
  return out;
}

AuditLog::AuditLog(std::shared_ptr<Store> store) : store_(std::move(store)) {}

AuditChainReport AuditLog::verify() {
  // A page per read: the delivery workers and the API read between pages. Events appended
  // meanwhile are walked too (they extend the chain behind the last page).
  return walkAuditChain([this](int64_t afterId, size_t count) { return after(afterId, count); });
}

std::vector<ChainedEvent> AuditLog::after(int64_t afterId, size_t limitCount) {
  return store_->impl_->read([&](Session& s) { return readEvents(s, afterId, limitCount); });
}

int64_t AuditLog::cursor(const std::string& name) {
  return store_->impl_->read([&](Session& s) {
    int64_t last = 0;
    std::string key = name;
    Statement select(s);
    select << "SELECT last_id FROM audit_forward_cursors WHERE name = ?"_sql, use(key), into(last);
    select.execute();
    return last;
  });
}

Status AuditLog::advance(const std::string& name, const ChainedEvent& event) {
  std::string key = name;
  int64_t id = event.id;
  std::string hash = event.hash;
  std::string at = isoNow();
  return store_->impl_->write([&](Session& s) {
    s << "INSERT INTO audit_forward_cursors (name, last_id, last_hash, updated_at) "
         "VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET last_id = excluded.last_id, "
         "last_hash = excluded.last_hash, updated_at = excluded.updated_at"_sql,
        use(key), use(id), use(hash), use(at), now;
  });
}

int64_t AuditLog::lastId() {
  return store_->impl_->read([](Session& s) {
    int64_t last = 0;
    s << "SELECT COALESCE(MAX(id), 0) FROM audit"_sql, into(last), now;
    return last;
  });
}

AuditLag AuditLog::lag(int64_t cursorId) {
  return store_->impl_->read([&](Session& s) {
    AuditLag out;
    int64_t after = cursorId;
    // Sequence numbers have no gaps (rowids without AUTOINCREMENT, nothing ever deleted): the
    // count is the difference, without counting rows.
    int64_t last = 0;
    s << "SELECT COALESCE(MAX(id), 0) FROM audit"_sql, into(last), now;
    out.events = std::max<int64_t>(0, last - after);
    if (out.events > 0) {
      std::string at;
      s << "SELECT at FROM audit WHERE id > ? ORDER BY id LIMIT 1"_sql, use(after), into(at), now;
      if (std::optional<int64_t> then = isoToUnixMillis(at)) {
        std::optional<int64_t> current = isoToUnixMillis(isoNow());
        out.oldestAgeMillis = current ? std::max<int64_t>(0, *current - *then) : 0;
      }
    }
    return out;
  });
}

}  // namespace labgate
