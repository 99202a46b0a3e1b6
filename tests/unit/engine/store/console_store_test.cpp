// Tests for engine/store/console_store: the dashboard's throughput counts the audit trail's
// refusals and deliveries of the window, per minute and organisation, exactly as a full count
// does, although it reads them from an index (audit_org_counted_at) instead of the rows, with
// gaps in the ids, several events in one millisecond and events of other organisations.
#include "engine/store/console_store.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "util/iso8601.h"

using namespace Poco::Data::Keywords;  // NOLINT(google-build-using-namespace): SQL keywords

namespace labgate {
namespace {

struct Event {
  int64_t id = 0;
  std::string org, at, action;
};

class ConsoleStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    auto opened = Store::open(dir_);
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = opened.value();
  }
  void TearDown() override {
    store_.reset();
    Poco::File(dir_).remove(true);
  }

  /// Writes `events` into the trail as they are (ids and times chosen by the test; the hash chain
  /// is not what is tested here).
  void write(const std::vector<Event>& events) {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session db("SQLite", store_->path());
    db << "BEGIN", now;
    for (const Event& e : events) {
      db << "INSERT INTO audit (id, org_id, at, actor, action, subject, detail, prev_hash, hash) "
            "VALUES (?, ?, ?, 'engine', ?, 's', '{}', '', '')",
          bind(e.id), bind(e.org), bind(e.at), bind(e.action), now;
    }
    db << "COMMIT", now;
  }

  /// The minutes' refused and delivered counts of `org` since `since`, counted one by one.
  static std::map<std::string, std::pair<int64_t, int64_t>> expected(
      const std::vector<Event>& events, const std::string& org, const std::string& since) {
    std::map<std::string, std::pair<int64_t, int64_t>> out;
    for (const Event& e : events) {
      if (e.org != org || e.at < since) continue;
      if (e.action == "outbound.delivered") ++out[e.at.substr(0, 16)].second;
      if (e.action == "message.refused" || e.action == "message.invalid") {
        ++out[e.at.substr(0, 16)].first;
      }
    }
    return out;
  }

  std::string dir_;
  std::shared_ptr<Store> store_;
};

TEST_F(ConsoleStoreTest, ThroughputCountsTheWindowsRefusalsAndDeliveriesExactly) {
  // 3,000 events over 5 hours, ids with random gaps, several events per millisecond at times.
  std::mt19937 rng(16);
  const std::vector<std::string> actions = {"message.accepted", "outbound.delivered",
                                            "message.refused", "message.invalid", "user.updated"};
  // After whatever the new store holds already (the ids and times go on from there).
  int64_t id = 0;
  std::string last;
  {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session db("SQLite", store_->path());
    db << "SELECT COALESCE(MAX(id), 0), COALESCE(MAX(at), '') FROM audit", into(id), into(last),
        now;
  }
  int64_t at = *util::parseIso8601("2026-12-07T08:00:00.000Z");
  if (!last.empty()) at = std::max(at, *util::parseIso8601(last) + 1);
  std::vector<Event> events;
  while (events.size() < 3000) {
    id += 1 + static_cast<int64_t>(rng() % 3 == 0 ? rng() % 40 : 0);
    at += static_cast<int64_t>(rng() % 12000);
    Event e;
    e.id = id;
    e.org = rng() % 4 == 0 ? "other" : "default";
    e.at = util::formatIso8601(at);
    e.action = actions[rng() % actions.size()];
    events.push_back(e);
  }
  ASSERT_NO_FATAL_FAILURE(write(events));
  ConsoleStore console(store_);
  for (const std::string& since :
       {std::string("2000-01-01T00:00:00.000Z"), events.front().at, events[1].at, events[1500].at,
        util::formatIso8601(*util::parseIso8601(events[1500].at) + 1), events.back().at,
        util::formatIso8601(*util::parseIso8601(events.back().at) + 1)}) {
    for (const std::string org : {"default", "other"}) {
      std::map<std::string, std::pair<int64_t, int64_t>> got;
      for (const ConsoleMinute& m : console.throughput(org, since)) {
        if (m.refused || m.delivered) got[m.minute] = {m.refused, m.delivered};
      }
      EXPECT_EQ(got, expected(events, org, since)) << org << " since " << since;
    }
  }
}

TEST_F(ConsoleStoreTest, ThroughputOfAnEmptyTrailIsEmpty) {
  ConsoleStore console(store_);
  // A new store holds the events of its creation, none of them a refusal or a delivery.
  for (const ConsoleMinute& m : console.throughput("default", "2000-01-01T00:00:00.000Z")) {
    EXPECT_EQ(m.refused, 0);
    EXPECT_EQ(m.delivered, 0);
  }
}

}  // namespace
}  // namespace labgate
