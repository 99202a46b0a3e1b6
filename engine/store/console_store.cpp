// ConsoleStore (see console_store.h): the console's read models.
#include "engine/store/console_store.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>

#include <algorithm>
#include <map>
#include <utility>

#include "engine/store/store_impl.h"

using namespace Poco::Data::Keywords;  // NOLINT(google-build-using-namespace): SQL binding keywords
using Poco::Data::Session;
using Poco::Data::Statement;

namespace labgate {
namespace {

/// The QC rows of one query (the columns of kQcColumns, in order), appended to `out`.
constexpr const char* kQcColumns =
    "q.level, q.lot, q.sample_id, m.received_at, q.message_id, q.seq, q.value, q.target_mean, "
    "q.target_sd, q.excluded";

void readQc(Statement& select, ConsoleQcPoint& row, Poco::Nullable<double>& mean,
            Poco::Nullable<double>& sd, int& excluded, std::vector<ConsoleQcPoint>& out) {
  eachRow(select, [&] {
    ConsoleQcPoint made = row;
    made.targetMean = optionalOf(mean);
    made.targetSd = optionalOf(sd);
    made.excluded = excluded != 0;
    out.push_back(std::move(made));
  });
}

}  // namespace

std::vector<ConsoleQcPoint> ConsoleStore::qcSeries(const std::string& orgId,
                                                   const std::string& instrument,
                                                   const std::string& analyte, int64_t batch,
                                                   int64_t earlier) {
  return store_->impl_->read([&](Session& s) {
    std::vector<ConsoleQcPoint> current;
    ConsoleQcPoint row;
    Poco::Nullable<double> mean;
    Poco::Nullable<double> sd;
    int excluded = 0;
    {
      Statement select(s);
      select << "SELECT "_sql << kQcColumns
             << " FROM qc_history q JOIN messages m ON m.id = q.message_id WHERE q.org_id = ? AND "
                "q.instrument = ? AND q.analyte = ? AND q.message_id = ? ORDER BY q.id"_sql,
          bind(orgId), bind(instrument), bind(analyte), bind(batch), into(row.level), into(row.lot),
          into(row.sampleId), into(row.receivedAt), into(row.batch), into(row.seq), into(row.value),
          into(mean), into(sd), into(excluded), range(0, 1);
      readQc(select, row, mean, sd, excluded, current);
    }
    // Each (level, lot) of this batch once, in the order it first appears.
    std::vector<std::pair<std::string, std::string>> materials;
    for (const ConsoleQcPoint& p : current) {
      std::pair<std::string, std::string> key{p.level, p.lot};
      if (std::find(materials.begin(), materials.end(), key) == materials.end()) {
        materials.push_back(std::move(key));
      }
    }
    std::vector<ConsoleQcPoint> out;
    for (const auto& [level, lot] : materials) {
      Statement select(s);
      select << "SELECT * FROM (SELECT "_sql << kQcColumns
             << ", q.id AS row_id FROM qc_history q JOIN messages m ON m.id = q.message_id WHERE "
                "q.org_id = ? AND q.instrument = ? AND q.analyte = ? AND q.lot = ? AND q.level = "
                "? AND q.message_id < ? ORDER BY q.id DESC LIMIT ?) AS recent ORDER BY row_id"_sql,
          bind(orgId), bind(instrument), bind(analyte), bind(lot), bind(level), bind(batch),
          bind(earlier), into(row.level), into(row.lot), into(row.sampleId), into(row.receivedAt),
          into(row.batch), into(row.seq), into(row.value), into(mean), into(sd), into(excluded),
          range(0, 1);
      readQc(select, row, mean, sd, excluded, out);
      for (const ConsoleQcPoint& p : current) {
        if (p.level == level && p.lot == lot) out.push_back(p);
      }
    }
    return out;
  });
}

std::vector<ConsoleMinute> ConsoleStore::throughput(const std::string& orgId,
                                                    const std::string& sinceIso) {
  return store_->impl_->read([&](Session& s) {
    std::map<std::string, ConsoleMinute> minutes;
    std::string minute;
    int64_t count = 0;
    int64_t results = 0;
    {
      // messages_org is an index on (org_id, received_at).
      Statement select(s);
      // Results as the batches count them: internal standards are not results (messages'
      // result_count includes them). results_org_qa starts with (org_id, message_id).
      select << "SELECT substr(m.received_at, 1, 16), COUNT(*), COALESCE(SUM((SELECT COUNT(*) "
                "FROM results r WHERE r.org_id = m.org_id AND r.message_id = m.id AND "
                "r.internal_standard = 0)), 0) FROM messages m WHERE m.org_id = ? AND "
                "m.received_at >= ? GROUP BY 1"_sql,
          bind(orgId), bind(sinceIso), into(minute), into(count), into(results), range(0, 1);
      eachRow(select, [&] {
        ConsoleMinute& m = minutes[minute];
        m.received += count;
        m.results += results;
      });
    }
    // Refusals and deliveries are audit events, counted from the partial index
    // audit_org_counted_at (org_id, action, at; migration 15), which covers the query: the
    // window's events of the organisation, without reading the trail's rows. The action term
    // must stay word for word the index's own.
    std::string action;
    Statement select(s);
    select << "SELECT substr(at, 1, 16), action, COUNT(*) FROM audit INDEXED BY "
              "audit_org_counted_at WHERE org_id = ? AND action IN ('message.refused', "
              "'message.invalid', 'outbound.delivered') AND at >= ? GROUP BY 1, 2"_sql,
        bind(orgId), bind(sinceIso), into(minute), into(action), into(count), range(0, 1);
    eachRow(select, [&] {
      ConsoleMinute& m = minutes[minute];
      if (action == "outbound.delivered") {
        m.delivered += count;
      } else {
        m.refused += count;
      }
    });
    std::vector<ConsoleMinute> out;
    for (auto& [key, m] : minutes) {
      m.minute = key;
      out.push_back(m);
    }
    return out;
  });
}

ConsoleHeld ConsoleStore::held(const std::string& orgId) {
  return store_->impl_->read([&](Session& s) {
    // What GET /api/v1/batches counts as waiting (kResultWaitingSql).
    ConsoleHeld out;
    Poco::Nullable<std::string> oldest;
    s << "SELECT COUNT(DISTINCT r.message_id), COUNT(*), MIN(m.received_at) FROM results r JOIN "
         "messages m ON m.id = r.message_id WHERE r.org_id = ? AND r.internal_standard = 0 AND "_sql
      << kResultWaitingSql,
        bind(orgId), into(out.batches), into(out.results), into(oldest), now;
    if (!oldest.isNull()) out.oldestReceivedAt = oldest.value();
    return out;
  });
}

}  // namespace labgate
