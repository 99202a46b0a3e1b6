// Tests for engine/store: migrations, the inbound commit, the outbound queue's order and states,
// group commit under concurrent writers, and the append-only hash-chained audit log.
#include "engine/store/store.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <thread>

#include "engine/store/audit.h"
#include "engine/store/sql_dialect.h"
#include "tests/unit/engine/store/pg_test_database.h"

using namespace Poco::Data::Keywords;

namespace labgate {
namespace {

// Every test runs on both back ends (issue 17): the embedded SQLite file, and a fresh database on
// the run's PostgreSQL server (pg_test_database.h).
class StoreTest : public ::testing::TestWithParam<sql::Backend> {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    location_.dataDir = dir_;
    if (postgres()) {
      std::string error;
      pg_ = testing::PgTestDatabase::create(error);
      ASSERT_TRUE(pg_.has_value()) << error;
      location_.url = pg_->url();
      location_.passwordFile = pg_->passwordFile();
    }
    auto opened = Store::open(location_);
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = opened.value();
  }
  void TearDown() override {
    store_.reset();
    if (Poco::File(dir_).exists()) Poco::File(dir_).remove(true);
    pg_.reset();
  }
  bool postgres() const { return GetParam() == sql::Backend::kPostgres; }
  StatusOr<std::shared_ptr<Store>> reopen() { return Store::open(location_); }

  InboundCommit sampleCommit(const std::string& sampleId, int results) {
    InboundCommit c;
    c.connector = "lab1";
    c.instrument = "tq-01";
    c.format = "astm";
    c.peer = "127.0.0.1:5000";
    c.receivedAt = isoNow();
    c.contentSha256 = sha256Hex(sampleId);
    c.message.controlId = "CTRL-" + sampleId;
    Sample s;
    s.sampleId = sampleId;
    for (int i = 0; i < results; ++i) {
      Result r;
      r.instrumentCode = "T" + std::to_string(i);
      r.value = std::to_string(i) + ".5";
      r.numeric = i + 0.5;
      s.results.push_back(r);
      c.dispositions.push_back(Disposition{});
    }
    c.message.samples.push_back(s);
    c.outbound.push_back({"lis", "OUT-" + sampleId, "payload " + sampleId});
    return c;
  }

  Poco::Data::Session session() {
    if (postgres()) return Poco::Data::Session("PostgreSQL", pg_->connectionString());
    Poco::Data::SQLite::Connector::registerConnector();
    return Poco::Data::Session("SQLite", store_->path());
  }

  std::optional<testing::PgTestDatabase> pg_;
  StoreLocation location_;
  std::string dir_;
  std::shared_ptr<Store> store_;
};

TEST_P(StoreTest, CommitInboundWritesEveryTableAndTheAudit) {
  auto id = store_->commitInbound(sampleCommit("S1", 3));
  ASSERT_TRUE(id.isOk()) << id.status().toString();
  auto s = session();
  int messages = 0, samples = 0, results = 0, outbound = 0, audit = 0;
  s << "SELECT COUNT(*) FROM messages", into(messages), now;
  s << "SELECT COUNT(*) FROM samples", into(samples), now;
  s << "SELECT COUNT(*) FROM results", into(results), now;
  s << "SELECT COUNT(*) FROM outbound WHERE state = 'queued'", into(outbound), now;
  s << "SELECT COUNT(*) FROM audit WHERE action = 'message.accepted'", into(audit), now;
  EXPECT_EQ(messages, 1);
  EXPECT_EQ(samples, 1);
  EXPECT_EQ(results, 3);
  EXPECT_EQ(outbound, 1);
  EXPECT_EQ(audit, 1);
}

TEST_P(StoreTest, FindingsAreStoredWithTheirResult) {
  InboundCommit c = sampleCommit("S2", 1);
  c.message.samples[0].results[0].findings.push_back(
      {"mapping.unmapped", Severity::kWarning, "result", "no mapping", "T0", ""});
  c.dispositions[0].kind = DispositionKind::kHold;
  ASSERT_TRUE(store_->commitInbound(c).isOk());
  auto s = session();
  std::string rule, disposition;
  s << "SELECT f.rule_id, r.disposition FROM findings f JOIN results r ON r.id = f.result_id",
      into(rule), into(disposition), now;
  EXPECT_EQ(rule, "mapping.unmapped");
  EXPECT_EQ(disposition, "hold");
}

TEST_P(StoreTest, QueueIsStrictlyInOrderAndRetryBlocksTheItemsBehind) {
  ASSERT_TRUE(store_->commitInbound(sampleCommit("A", 1)).isOk());
  ASSERT_TRUE(store_->commitInbound(sampleCommit("B", 1)).isOk());
  auto first = store_->claimNext("lis");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->controlId, "OUT-A");
  ASSERT_TRUE(store_->scheduleRetry(*first, 60000, "connection refused").isOk());
  EXPECT_FALSE(store_->claimNext("lis").has_value()) << "B must wait behind A";
  auto wait = store_->millisUntilNext("lis");
  ASSERT_TRUE(wait.has_value());
  EXPECT_GT(*wait, 1000);
  ASSERT_TRUE(store_->scheduleRetry(*first, 0, "connection refused").isOk());
  auto again = store_->claimNext("lis");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->controlId, "OUT-A");
  EXPECT_EQ(again->attempts, 2);
  ASSERT_TRUE(store_->markDelivered(*again, "AA").isOk());
  auto second = store_->claimNext("lis");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->controlId, "OUT-B");
  ASSERT_TRUE(store_->markDeadLetter(*second, "AE", "unknown test code").isOk());
  EXPECT_FALSE(store_->claimNext("lis").has_value());
  OutboundCounts counts = store_->outboundCounts("lis");
  EXPECT_EQ(counts.queued, 0);
  EXPECT_EQ(counts.delivered, 1);
  EXPECT_EQ(counts.dead, 1);
  EXPECT_FALSE(store_->claimNext("other").has_value());
}

// Issue 16: the delivery worker reads a window of the queue at once, leaving out the items whose
// outcome it is still committing, and records several outcomes in one transaction.
TEST_P(StoreTest, QueueWindowSkipsUnrecordedItemsAndOutcomesCommitTogether) {
  for (const char* id : {"A", "B", "C", "D"}) {
    ASSERT_TRUE(store_->commitInbound(sampleCommit(id, 1)).isOk());
  }
  std::vector<OutboundItem> window = store_->claimQueued("lis", 10, {});
  ASSERT_EQ(window.size(), 4u);
  EXPECT_EQ(window[0].controlId, "OUT-A");
  EXPECT_EQ(window[3].controlId, "OUT-D");
  EXPECT_EQ(window[1].destination, "lis");
  std::vector<OutboundItem> rest = store_->claimQueued("lis", 10, {window[0].id, window[1].id});
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].controlId, "OUT-C");
  ASSERT_EQ(store_->claimQueued("lis", 1, {window[0].id}).size(), 1u);
  EXPECT_EQ(store_->claimQueued("lis", 1, {window[0].id})[0].controlId, "OUT-B");

  std::vector<OutboundOutcome> outcomes(3);
  outcomes[0].kind = OutboundOutcome::Kind::kDelivered;
  outcomes[0].item = window[0];
  outcomes[0].ackCode = "AA";
  outcomes[1].kind = OutboundOutcome::Kind::kDeadLetter;
  outcomes[1].item = window[1];
  outcomes[1].ackCode = "AE";
  outcomes[1].reason = "unknown test code";
  outcomes[2].kind = OutboundOutcome::Kind::kRetry;
  outcomes[2].item = window[2];
  outcomes[2].reason = "no acknowledgement";
  outcomes[2].retryDelayMillis = 60000;
  ASSERT_TRUE(store_->recordOutcomes(outcomes).isOk());
  OutboundCounts counts = store_->outboundCounts("lis");
  EXPECT_EQ(counts.delivered, 1);
  EXPECT_EQ(counts.dead, 1);
  EXPECT_EQ(counts.queued, 2);
  EXPECT_TRUE(store_->claimQueued("lis", 10, {}).empty()) << "C waits for its retry; D behind it";
  auto s = session();
  int audited = 0;
  s << "SELECT COUNT(*) FROM audit WHERE action IN ('outbound.delivered', 'outbound.dead_letter')",
      into(audited), now;
  EXPECT_EQ(audited, 2);
  EXPECT_TRUE(store_->verifyAuditChain().isOk());
}

TEST_P(StoreTest, ConcurrentCommitsAllLand) {
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!store_->commitInbound(sampleCommit(std::to_string(t) + "-" + std::to_string(i), 2))
                 .isOk()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->outboundCounts("lis").queued, kThreads * kEach);
  EXPECT_TRUE(store_->verifyAuditChain().isOk()) << store_->verifyAuditChain().toString();
}

TEST_P(StoreTest, AuditChainVerifiesAndTheLogIsAppendOnly) {
  ASSERT_TRUE(store_->commitInbound(sampleCommit("C", 1)).isOk());
  ASSERT_TRUE(store_->appendAudit({"default", "engine", "engine.started", "engine", "{}"}).isOk());
  EXPECT_TRUE(store_->verifyAuditChain().isOk());
  auto s = session();
  EXPECT_ANY_THROW((s << "UPDATE audit SET detail = 'x'", now));
  EXPECT_ANY_THROW((s << "DELETE FROM audit", now));
}

TEST_P(StoreTest, TamperingIsDetectedByTheChain) {
  ASSERT_TRUE(store_->appendAudit({"default", "engine", "a", "engine", "{}"}).isOk());
  ASSERT_TRUE(store_->appendAudit({"default", "engine", "b", "engine", "{}"}).isOk());
  auto s = session();
  // An attacker with file (or database owner) access.
  s << (postgres() ? "DROP TRIGGER audit_no_update ON audit" : "DROP TRIGGER audit_no_update"), now;
  s << "UPDATE audit SET detail = '{\"x\":1}' WHERE action = 'a'", now;
  Status verified = store_->verifyAuditChain();
  EXPECT_FALSE(verified.isOk());
  EXPECT_NE(verified.location().find("audit event"), std::string::npos);
}

TEST_P(StoreTest, ReopeningKeepsDataAndTheChain) {
  ASSERT_TRUE(store_->commitInbound(sampleCommit("D", 1)).isOk());
  store_.reset();
  auto reopened = reopen();
  ASSERT_TRUE(reopened.isOk());
  store_ = reopened.value();
  ASSERT_TRUE(store_->appendAudit({"default", "engine", "engine.started", "engine", "{}"}).isOk());
  EXPECT_TRUE(store_->verifyAuditChain().isOk());
  EXPECT_EQ(store_->outboundCounts("lis").queued, 1);
}

TEST(AuditCanonicalForm, FieldsAreLengthPrefixedSoBoundariesCannotShift) {
  AuditEvent a{"o", "ab", "c", "s", "d"};
  AuditEvent b{"o", "a", "bc", "s", "d"};
  EXPECT_NE(auditCanonicalForm("t", a), auditCanonicalForm("t", b));
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace labgate

namespace labgate {
namespace {

TEST_P(StoreTest, ResendWithTheSameSenderAndControlIdIsStoredOnce) {
  InboundCommit c = sampleCommit("E", 2);
  c.deduplicate = true;
  c.message.sender = "LCMS^Lab";
  auto first = store_->commitInbound(c);
  ASSERT_TRUE(first.isOk());
  EXPECT_FALSE(first->duplicate);
  auto again = store_->commitInbound(c);
  ASSERT_TRUE(again.isOk());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->messageId, first->messageId);
  c.message.sender = "OTHER";  // another sender may reuse the control id
  auto other = store_->commitInbound(c);
  ASSERT_TRUE(other.isOk());
  EXPECT_FALSE(other->duplicate);
  EXPECT_EQ(store_->outboundCounts("lis").queued, 2);
  auto s = session();
  int duplicates = 0;
  s << "SELECT COUNT(*) FROM audit WHERE action = 'message.duplicate'", into(duplicates), now;
  EXPECT_EQ(duplicates, 1);
}

}  // namespace
}  // namespace labgate

namespace labgate {
namespace {

TEST_P(StoreTest, RulesOutputsAreKeptAndTheHistoriesReadBackOldestFirst) {
  for (int batch = 0; batch < 3; ++batch) {
    InboundCommit c = sampleCommit("B" + std::to_string(batch), 1);
    c.message.rulesVersion = "rules-v7";
    Finding f;
    f.ruleId = "calibration.curve";
    f.severity = Severity::kError;
    f.action = DispositionKind::kReject;
    c.message.batchFindings.push_back({"CORT", f});
    QcValue low{"CORT", "Low", "LOT1", "QCL", 3, 10.0 + batch, 10.0, 0.5, false, batch == 1};
    QcValue high{"CORT",       "High",       "LOT1",       "QCH",      4,
                 50.0 + batch, std::nullopt, std::nullopt, batch == 2, false};
    c.message.qcValues = {low, high};
    c.message.metrics.push_back({"CORT", "cal_slope", 1.0 + 0.1 * batch});
    ASSERT_TRUE(store_->commitInbound(c).isOk());
  }
  auto history = store_->qcHistory("default", "tq-01", "CORT", 4);
  ASSERT_EQ(history.size(), 4u) << "the limit keeps the newest values";
  EXPECT_EQ(history[0].value, 11.0);
  EXPECT_TRUE(history[0].runRejected);
  EXPECT_EQ(history[1].level, "High");
  EXPECT_FALSE(history[1].targetMean.has_value());
  EXPECT_EQ(history[2].targetSd.value_or(0), 0.5);
  EXPECT_TRUE(history[3].excluded);
  EXPECT_TRUE(store_->qcHistory("default", "other", "CORT", 10).empty());
  auto slopes = store_->batchMetricHistory("default", "tq-01", "CORT", "cal_slope", 10);
  ASSERT_EQ(slopes.size(), 3u);
  EXPECT_DOUBLE_EQ(slopes[2], 1.2);
  auto s = session();
  std::string version, action;
  s << "SELECT rules_version FROM messages ORDER BY id DESC LIMIT 1", into(version), now;
  s << "SELECT action FROM batch_findings LIMIT 1", into(action), now;
  EXPECT_EQ(version, "rules-v7");
  EXPECT_EQ(action, "reject");
}

// Issue 17: one node at a time delivers a destination on a shared store; on SQLite (one process
// owns the file) every lease is the asking node's.
TEST_P(StoreTest, OneNodeHoldsADestinationsLeaseUntilItIsReleasedOrExpires) {
  auto a = store_->acquireLease("lis", "node-a", 60000);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_TRUE(a.value().held);
  auto b = store_->acquireLease("lis", "node-b", 60000);
  ASSERT_TRUE(b.isOk()) << b.status().toString();
  if (!postgres()) {
    EXPECT_FALSE(store_->shared());
    EXPECT_TRUE(b.value().held) << "SQLite has one node: nothing to share";
    return;
  }
  EXPECT_TRUE(store_->shared());
  EXPECT_TRUE(a.value().taken);
  EXPECT_EQ(a.value().generation, 1);
  EXPECT_FALSE(b.value().held);
  EXPECT_EQ(b.value().node, "node-a");
  EXPECT_GT(b.value().remainingMillis, 50000);
  EXPECT_TRUE(store_->acquireLease("other", "node-b", 60000).value().held)
      << "each destination has its own lease";
  auto renewed = store_->acquireLease("lis", "node-a", 60000);
  ASSERT_TRUE(renewed.isOk());
  EXPECT_TRUE(renewed.value().held);
  EXPECT_FALSE(renewed.value().taken);
  EXPECT_EQ(renewed.value().generation, 1);

  ASSERT_TRUE(store_->releaseLease("lis", "node-a").isOk());
  auto taken = store_->acquireLease("lis", "node-b", 300);
  ASSERT_TRUE(taken.isOk());
  EXPECT_TRUE(taken.value().held);
  EXPECT_TRUE(taken.value().taken);
  EXPECT_EQ(taken.value().previousNode, "node-a");
  EXPECT_EQ(taken.value().generation, 2);
  EXPECT_FALSE(store_->acquireLease("lis", "node-a", 60000).value().held);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // node-b stops renewing
  auto after = store_->acquireLease("lis", "node-a", 60000);
  ASSERT_TRUE(after.isOk());
  EXPECT_TRUE(after.value().held) << "an expired lease goes to the next node that asks";
  EXPECT_EQ(after.value().previousNode, "node-b");
  auto s = session();
  int takenEvents = 0;
  s << "SELECT COUNT(*) FROM audit WHERE action = 'delivery.lease_taken'", into(takenEvents), now;
  EXPECT_EQ(takenEvents, 4);
  EXPECT_TRUE(store_->verifyAuditChain().isOk());
}

// Issue 17: two nodes (two stores on one database) appending at once keep one audit chain.
TEST_P(StoreTest, TwoNodesWritingAtOnceKeepOneAuditChain) {
  if (!postgres()) {
    EXPECT_FALSE(store_->shared()) << "one process owns a SQLite store: no second node";
    return;
  }
  auto second = reopen();
  ASSERT_TRUE(second.isOk()) << second.status().toString();
  std::shared_ptr<Store> nodes[] = {store_, second.value()};
  std::vector<std::thread> threads;
  threads.reserve(6);
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        Store& node = *nodes[t % 2];
        if (!node.commitInbound(sampleCommit("N" + std::to_string(t) + "-" + std::to_string(i), 1))
                 .isOk() ||
            !node.appendAudit({"default", "engine", "test.event", "engine", "{}"}).isOk()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(store_->verifyAuditChain().isOk()) << store_->verifyAuditChain().toString();
  auto s = session();
  int events = 0;
  s << "SELECT COUNT(*) FROM audit WHERE action IN ('test.event', 'message.accepted')",
      into(events), now;
  EXPECT_EQ(events, 240);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(sql::Backend::kSqlite, sql::Backend::kPostgres),
                         [](const ::testing::TestParamInfo<sql::Backend>& info) {
                           return info.param == sql::Backend::kSqlite ? "SQLite" : "PostgreSQL";
                         });

}  // namespace
}  // namespace labgate
