// TrafficStore (see traffic.h): received messages from the audit trail, dead letters and resends.
#include "engine/store/traffic.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "engine/store/store_impl.h"
#include "util/json_quote.h"

using namespace Poco::Data::Keywords;  // NOLINT(google-build-using-namespace): SQL binding keywords
using Poco::Data::Session;
using Poco::Data::Statement;

namespace labgate {
namespace {

constexpr int64_t kDefaultPage = 50;
constexpr int64_t kMaxPage = 500;
constexpr const char* kMessagePrefix = "message:";

int64_t fetchLimit(const PageRequest& page) {
  const int64_t limit = page.limit == 0 ? kDefaultPage : static_cast<int64_t>(page.limit);
  return std::min(limit, kMaxPage) + 1;  // one more, to know whether a next page exists
}

int64_t beforeId(const PageRequest& page) {
  return page.before > 0 ? page.before : std::numeric_limits<int64_t>::max();
}

template <typename T>
Page<T> toPage(std::vector<T> rows, int64_t fetched) {
  Page<T> page;
  if (static_cast<int64_t>(rows.size()) >= fetched) {
    rows.pop_back();
    page.next = rows.back().id;
  }
  page.items = std::move(rows);
  return page;
}

/// The inclusive upper bound of a time filter: every time `to` is a prefix of sorts below it.
std::string upperBound(const std::string& to) { return to + "\x7f"; }

/// The audit action of an outcome ("" for an unknown one).
std::string actionOf(const std::string& outcome) {
  for (const char* known : kReceivedOutcomes) {
    if (outcome == known) return "message." + outcome;
  }
  return "";
}

Poco::JSON::Object::Ptr parseDetail(const std::string& detail) {
  try {
    return Poco::JSON::Parser().parse(detail).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return nullptr;
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string member(const Poco::JSON::Object::Ptr& o, const std::string& name) {
  if (o.isNull() || !o->has(name) || o->isNull(name)) return "";
  Poco::Dynamic::Var v = o->get(name);
  return v.isString() || v.isNumeric() ? v.convert<std::string>() : "";
}

/// The message id of a subject "message:N", or nullopt.
std::optional<int64_t> messageOf(const std::string& subject) {
  if (subject.rfind(kMessagePrefix, 0) != 0) return std::nullopt;
  try {
    return std::stoll(subject.substr(std::string(kMessagePrefix).size()));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// The PHI gate's hits of a refusal or strip event as locations (location and pattern id only).
std::vector<ReceivedLocation> hitsOf(const Poco::JSON::Object::Ptr& detail, const std::string& key,
                                     const std::string& what) {
  std::vector<ReceivedLocation> out;
  if (detail.isNull() || !detail->has(key)) return out;
  Poco::JSON::Array::Ptr hits = detail->getArray(key);
  if (hits.isNull()) return out;
  for (size_t i = 0; i < hits->size(); ++i) {
    Poco::JSON::Object::Ptr hit = hits->getObject(static_cast<unsigned>(i));
    if (hit.isNull()) continue;
    out.push_back({member(hit, "location"), what + " (" + member(hit, "pattern") + ")"});
  }
  return out;
}

/// Fills outcome, batch, reason and locations of `row` from its audit event.
void describe(ReceivedMessage& row, const std::string& action, const std::string& subject,
              const std::string& detailText) {
  const Poco::JSON::Object::Ptr detail = parseDetail(detailText);
  row.outcome = action.substr(std::string("message.").size());
  row.peer = member(detail, "peer");
  row.file = member(detail, "file");
  if (row.instrument.empty()) row.instrument = member(detail, "instrument");
  if (action == "message.accepted") {
    row.batchId = messageOf(subject);
    row.reason = "stored as batch " + (row.batchId ? std::to_string(*row.batchId) : "?") + ": " +
                 member(detail, "samples") + " samples, " + member(detail, "results") +
                 " results, " + member(detail, "outbound") + " queued for the LIS";
  } else if (action == "message.duplicate") {
    row.batchId = messageOf(subject);
    const std::string earlier = row.batchId ? std::to_string(*row.batchId) : "?";
    row.reason =
        member(detail, "sha256").empty()
            ? "a resend of batch " + earlier +
                  " (same sender, control id and content): acknowledged, not stored "
                  "again"
            : "identical content was imported before as batch " + earlier + ": not imported again";
  } else if (action == "message.refused") {
    row.locations = hitsOf(detail, "hits", "refused by the PHI gate");
    std::string where;
    for (const auto& l : row.locations) where += (where.empty() ? "" : ", ") + l.location;
    row.reason = "refused by the PHI gate: patient-identifying data at " +
                 (where.empty() ? std::string("(no location recorded)") : where);
  } else if (action == "message.invalid") {
    const std::string location = member(detail, "location");
    const std::string reason = member(detail, "reason");
    row.reason = "not accepted: " + (location.empty() ? reason : location + ": " + reason);
    row.locations.push_back({location, reason});
  }
}

}  // namespace

Page<ReceivedMessage> TrafficStore::received(const std::string& orgId, const ReceivedFilter& filter,
                                             const PageRequest& page) {
  const int64_t limit = fetchLimit(page);
  // Only the conditions in use are written, so that SQLite can walk the index that fits:
  // (org_id, action, id) for an outcome, (org_id, actor, id) for a connector, else (org_id, id)
  // (the unary + keeps it off the action index, whose four ranges would need a sort).
  std::string sql =
      "SELECT a.id, a.at, a.actor, a.action, a.subject, a.detail, COALESCE(m.instrument, '') "
      "FROM audit a LEFT JOIN messages m ON m.id = (CASE WHEN a.subject LIKE 'message:%' THEN "
      "CAST(substr(a.subject, 9) AS INTEGER) END) AND m.org_id = a.org_id "
      "WHERE a.org_id = ? AND a.id < ?";
  std::vector<std::string> params;
  const std::string action = actionOf(filter.outcome);
  if (!action.empty()) {
    sql += " AND a.action = ?";
    params.push_back(action);
  } else {
    sql +=
        " AND +a.action IN ('message.accepted', 'message.refused', 'message.invalid', "
        "'message.duplicate')";
  }
  if (!filter.connector.empty()) {
    sql += " AND a.actor = ?";
    params.push_back("connector:" + filter.connector);
  }
  if (!filter.from.empty()) {
    sql += " AND a.at >= ?";
    params.push_back(filter.from);
  }
  if (!filter.to.empty()) {
    sql += " AND a.at <= ?";
    params.push_back(upperBound(filter.to));
  }
  sql += " ORDER BY a.id DESC LIMIT ?";

  auto rows = store_->impl_->read([&](Session& s) {
    std::vector<ReceivedMessage> out;
    ReceivedMessage row;
    std::string actor, act, subject, detail;
    Statement select(s);
    select << sql::Text{sql};
    select.addBind(bind(orgId));
    select.addBind(bind(beforeId(page)));
    for (const auto& p : params) select.addBind(bind(p));
    select.addBind(bind(limit));
    select, into(row.id), into(row.at), into(actor), into(act), into(subject), into(detail),
        into(row.instrument), range(0, 1);
    eachRow(select, [&] {
      ReceivedMessage item;
      item.id = row.id;
      item.at = row.at;
      item.instrument = row.instrument;
      item.connector = actor.rfind("connector:", 0) == 0 ? actor.substr(10) : actor;
      describe(item, act, subject, detail);
      out.push_back(std::move(item));
    });
    // What the commit of an accepted message recorded beside it, in the same transaction (so
    // within the next few sequence numbers): the fields the PHI gate stripped, a reused control
    // id.
    if (!out.empty()) {
      std::map<std::string, ReceivedMessage*> accepted;
      for (auto& r : out) {
        if (r.outcome == "accepted" && r.batchId) {
          accepted[kMessagePrefix + std::to_string(*r.batchId)] = &r;
        }
      }
      if (!accepted.empty()) {
        const int64_t low = out.back().id;
        const int64_t high = out.front().id + 4;
        std::string sub;
        Statement notes(s);
        notes << "SELECT action, subject, detail FROM audit WHERE id > ? AND id <= ? AND "
                 "org_id = ? AND action IN ('message.phi_stripped', "
                 "'message.control_id_reused') ORDER BY id"_sql,
            bind(low), bind(high), bind(orgId), into(act), into(sub), into(detail), range(0, 1);
        eachRow(notes, [&] {
          auto it = accepted.find(sub);
          if (it == accepted.end()) return;
          ReceivedMessage& r = *it->second;
          const Poco::JSON::Object::Ptr d = parseDetail(detail);
          if (act == "message.phi_stripped") {
            auto stripped = hitsOf(d, "removed", "removed by the PHI gate");
            r.locations.insert(r.locations.end(), stripped.begin(), stripped.end());
            r.reason += "; the PHI gate removed " + std::to_string(stripped.size()) +
                        (stripped.size() == 1 ? " field" : " fields");
          } else {
            r.reason += "; it reuses the control id of batch " + member(d, "earlier_message") +
                        " with other content";
          }
        });
      }
    }
    return out;
  });
  return toPage(std::move(rows), limit);
}

Page<DeadLetter> TrafficStore::deadLetters(const std::string& orgId, const std::string& destination,
                                           const PageRequest& page) {
  const int64_t limit = fetchLimit(page);
  auto rows = store_->impl_->read([&](Session& s) {
    std::vector<DeadLetter> out;
    DeadLetter row;
    Statement select(s);
    select << "SELECT id, control_id, ack_code, last_error, created_at, message_id, attempts "
              "FROM outbound WHERE destination = ? AND state = 'dead' AND org_id = ? AND id < ? "
              "ORDER BY id DESC LIMIT ?"_sql,
        bind(destination), bind(orgId), bind(beforeId(page)), bind(limit), into(row.id),
        into(row.controlId), into(row.ackCode), into(row.reason), into(row.queuedAt),
        into(row.batchId), into(row.attempts), range(0, 1);
    eachRow(select, [&] {
      DeadLetter item = row;
      item.destination = destination;
      out.push_back(std::move(item));
    });
    for (DeadLetter& d : out) {
      // When the LIS refused it: the latest dead-letter event of the item (the action index
      // keeps this to the organisation's dead letters).
      const std::string subject = "outbound:" + std::to_string(d.id);
      Statement when(s);
      when << "SELECT COALESCE(MAX(at), '') FROM audit WHERE org_id = ? AND "
              "action = 'outbound.dead_letter' AND subject = ?"_sql,
          bind(orgId), bind(subject), into(d.deadAt), now;
      Statement samples(s);
      samples << "SELECT sample_id FROM samples WHERE message_id = ? AND org_id = ? AND "
                 "kind = 'unknown' ORDER BY id"_sql,
          bind(d.batchId), bind(orgId), into(d.sampleIds), now;
    }
    return out;
  });
  return toPage(std::move(rows), limit);
}

int64_t TrafficStore::deadLetterCount(const std::string& destination) {
  return store_->impl_->read([&](Session& s) {
    int64_t dead = 0;
    s << "SELECT COUNT(*) FROM outbound WHERE destination = ? AND state = 'dead'"_sql,
        bind(destination), into(dead), now;
    return dead;
  });
}

StatusOr<Resent> TrafficStore::resend(const std::string& orgId, const std::string& destination,
                                      int64_t id, const std::string& actor,
                                      const std::string& reason) {
  auto& impl = *store_->impl_;
  Resent out;
  auto requeue = [&](Session& s) {
    std::string state, ackCode;
    int64_t attempts = 0;
    Statement select(s);
    select << "SELECT state, control_id, ack_code, attempts FROM outbound WHERE id = ? AND "
              "org_id = ? AND destination = ?"_sql,
        bind(id), bind(orgId), bind(destination), into(state), into(out.controlId), into(ackCode),
        into(attempts);
    if (select.execute() == 0) {
      throw Refused(Status::notFound("dead letter", "no such dead letter of this destination"));
    }
    if (state != "dead") {
      throw Refused(
          Status::rejected("dead letter", "outbound " + std::to_string(id) + " is " +
                                              (state == "queued" ? "queued already" : "delivered") +
                                              ", not a dead letter"));
    }
    // Back in its original place: the queue is ordered by id.
    s << "UPDATE outbound SET state = 'queued', attempts = 0, next_attempt_at = 0 WHERE id = ? "
         "AND state = 'dead'"_sql,
        bind(id), now;
    s << "SELECT COUNT(*) FROM outbound WHERE destination = ? AND state = 'queued' AND id > ?"_sql,
        bind(destination), bind(id), into(out.aheadOf), now;
    impl.appendAudit(s, {orgId, actor, "outbound.resent", "outbound:" + std::to_string(id),
                         "{\"destination\":" + util::jsonQuote(destination) +
                             ",\"control_id\":" + util::jsonQuote(out.controlId) +
                             ",\"previous_ack\":" + util::jsonQuote(ackCode) +
                             ",\"attempts\":" + std::to_string(attempts) +
                             ",\"reason\":" + util::jsonQuote(reason) + "}"});
  };
  Status refusal;
  Status written = impl.write([&](Session& s) {
    try {
      requeue(s);
    } catch (const Refused& r) {
      refusal = r.status();
      throw;
    }
  });
  // The writer's promise orders the job's writes to `refusal` before this read.
  if (!refusal.isOk()) {
    return refusal;
  }
  if (!written.isOk()) {
    return written;
  }
  out.id = id;
  return out;
}

}  // namespace labgate
