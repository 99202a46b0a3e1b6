// Tests for engine/store's resend recognition (docs/adr/0010-resend-is-same-content.md): a resend
// is the same sender, control id and content; a reused control id with other content is a new
// message, stored and audited "message.control_id_reused"; and migration 7 gives the keys stored
// before it the digest of their message.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include "engine/store/audit.h"
#include "engine/store/schema.h"
#include "engine/store/store.h"

using namespace Poco::Data::Keywords;

namespace labgate {
namespace {

class StoreResendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    open();
  }
  void TearDown() override {
    store_.reset();
    Poco::File(dir_).remove(true);
  }
  void open() {
    auto opened = Store::open(dir_);
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = opened.value();
  }

  /// An HL7-like message from sender "ANALYZER" with control id "MSG00001": `bytes` stands for
  /// what was received (its digest is the content key), `value` for the result it carries.
  InboundCommit hl7Commit(const std::string& bytes, const std::string& value) {
    InboundCommit c;
    c.connector = "hl7in";
    c.instrument = "chem-01";
    c.format = "hl7";
    c.peer = "127.0.0.1:5000";
    c.receivedAt = isoNow();
    c.contentSha256 = sha256Hex(bytes);
    c.deduplicate = true;
    c.message.controlId = "MSG00001";
    c.message.sender = "ANALYZER";
    Sample s;
    s.sampleId = "S1";
    Result r;
    r.instrumentCode = "GLU";
    r.value = value;
    s.results.push_back(r);
    c.dispositions.push_back(Disposition{});
    c.message.samples.push_back(s);
    c.outbound.push_back({"lis", "OUT-" + value, "payload " + value});
    return c;
  }

  int count(const std::string& sql) {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", store_->path());
    int n = -1;
    s << sql, into(n), now;
    return n;
  }

  std::string dir_;
  std::shared_ptr<Store> store_;
};

TEST_F(StoreResendTest, ReusedControlIdWithOtherContentIsStoredAndAudited) {
  auto first = store_->commitInbound(hl7Commit("first message", "5.6"));
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  EXPECT_FALSE(first->duplicate);
  EXPECT_EQ(first->reusedControlIdOf, 0);

  // The instrument restarted its counter: same sender, same MSH-10, another result.
  auto second = store_->commitInbound(hl7Commit("second message", "7.9"));
  ASSERT_TRUE(second.isOk()) << second.status().toString();
  EXPECT_FALSE(second->duplicate) << "a reused control id with other content is a new message";
  EXPECT_NE(second->messageId, first->messageId);
  EXPECT_EQ(second->reusedControlIdOf, first->messageId);

  // Exact resends of either are still recognised, each as its own earlier message.
  auto resendFirst = store_->commitInbound(hl7Commit("first message", "5.6"));
  ASSERT_TRUE(resendFirst.isOk());
  EXPECT_TRUE(resendFirst->duplicate);
  EXPECT_EQ(resendFirst->messageId, first->messageId);
  auto resendSecond = store_->commitInbound(hl7Commit("second message", "7.9"));
  ASSERT_TRUE(resendSecond.isOk());
  EXPECT_TRUE(resendSecond->duplicate);
  EXPECT_EQ(resendSecond->messageId, second->messageId);

  EXPECT_EQ(store_->outboundCounts("lis").queued, 2) << "both results go to the LIS, once each";
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'message.control_id_reused' AND "
                  "subject = 'message:" +
                  std::to_string(second->messageId) + "'"),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'message.duplicate'"), 2);
  EXPECT_TRUE(store_->verifyAuditChain().isOk());

  EXPECT_EQ(
      store_->findInbound("default", "hl7in", "ANALYZER", "MSG00001", sha256Hex("second message")),
      second->messageId);
  EXPECT_FALSE(
      store_->findInbound("default", "hl7in", "ANALYZER", "MSG00001", sha256Hex("third message")));
}

TEST_F(StoreResendTest, MigrationSevenKeysEarlierMessagesByTheirStoredDigest) {
  auto first = store_->commitInbound(hl7Commit("stored before the upgrade", "5.6"));
  ASSERT_TRUE(first.isOk());
  store_.reset();
  {
    // Back to the schema of version 6: keys without a digest.
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", dir_ + "/labgate.db");
    s << "DROP TABLE inbound_keys", now;
    s << "CREATE TABLE inbound_keys (org_id TEXT NOT NULL, connector TEXT NOT NULL, sender TEXT "
         "NOT NULL, control_id TEXT NOT NULL, message_id INTEGER NOT NULL REFERENCES "
         "messages(id), PRIMARY KEY (org_id, connector, sender, control_id))",
        now;
    int64_t id = first->messageId;
    s << "INSERT INTO inbound_keys VALUES ('default', 'hl7in', 'ANALYZER', 'MSG00001', ?)", use(id),
        now;
    // Undo migration 8 too (QA signatures), which runs again after 7, and migration 17's
    // results_message, which holds qa_state (SQLite drops no column an index uses).
    s << "DROP INDEX results_message", now;
    s << "DROP INDEX results_org_qa", now;
    s << "DROP TABLE signatures", now;
    s << "ALTER TABLE results DROP COLUMN qa_state", now;
    // And migration 11 (re-evaluation), whose ALTER TABLEs cannot run twice.
    for (const char* sql :
         {"DROP TABLE findings_history", "DROP TABLE reevaluations", "DROP TABLE export_curves",
          "DROP INDEX findings_rule", "ALTER TABLE messages DROP COLUMN listed_in_run_order",
          "ALTER TABLE messages DROP COLUMN canonical", "ALTER TABLE samples DROP COLUMN injection",
          "ALTER TABLE peaks DROP COLUMN final_concentration",
          "ALTER TABLE peaks DROP COLUMN integration_code",
          "ALTER TABLE peaks DROP COLUMN excluded_from_curve",
          // And migration 14 (the decimals of each result).
          "ALTER TABLE results DROP COLUMN decimals"}) {
      s << sql, now;
    }
    s << "DELETE FROM schema_version WHERE version >= 7", now;
  }
  open();
  EXPECT_EQ(count("SELECT MAX(version) FROM schema_version"),
            static_cast<int>(schemaMigrations().size()));
  auto resend = store_->commitInbound(hl7Commit("stored before the upgrade", "5.6"));
  ASSERT_TRUE(resend.isOk());
  EXPECT_TRUE(resend->duplicate) << "a resend of a message stored before the upgrade";
  auto reused = store_->commitInbound(hl7Commit("new content after the upgrade", "6.1"));
  ASSERT_TRUE(reused.isOk());
  EXPECT_FALSE(reused->duplicate);
  EXPECT_EQ(reused->reusedControlIdOf, first->messageId);
}

}  // namespace
}  // namespace labgate
