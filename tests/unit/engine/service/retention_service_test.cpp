// The engine's retention pass (engine/service/retention_service.h): off by default, prunes past
// the period only what an archive covers unless archives are not required, never a message
// whose outbound item is not delivered.
#include "engine/service/retention_service.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include "engine/security/crypto.h"
#include "engine/security/keyring.h"
#include "engine/store/audit.h"
#include "engine/store/store.h"

using namespace Poco::Data::Keywords;

namespace labgate {
namespace {

class RetentionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    security::KeyEncryptionKey kek;
    kek.bytes = security::randomBytes(32);
    kek.fingerprint = security::tokenDigest(kek.bytes).substr(0, 16);
    auto opened = Store::open(dir_, std::make_shared<security::Keyring>(kek));
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = opened.value();
  }
  void TearDown() override {
    store_.reset();
    Poco::File(dir_).remove(true);
  }

  void commit(const std::string& receivedAt, const std::string& body) {
    InboundCommit c;
    c.connector = "lab1";
    c.instrument = "tq-01";
    c.format = "astm";
    c.receivedAt = receivedAt;
    c.contentSha256 = sha256Hex(body);
    c.rawBody = body;
    Sample s;
    s.sampleId = "S" + body;
    c.message.samples.push_back(s);
    c.outbound.push_back({"lis", "C" + body, "payload"});
    ASSERT_TRUE(store_->commitInbound(c).isOk());
  }

  int64_t bodies() {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", store_->path());
    int64_t n = 0;
    s << "SELECT COUNT(*) FROM message_bodies", into(n), now;
    return n;
  }

  std::string dir_;
  std::shared_ptr<Store> store_;
};

TEST_F(RetentionServiceTest, PrunesPastThePeriodOnlyWhatItMay) {
  commit("2020-01-01T00:00:00.000Z", "old-delivered");
  auto item = store_->claimNext("lis");
  ASSERT_TRUE(item);
  ASSERT_TRUE(store_->markDelivered(*item, "AA").isOk());
  commit("2020-01-02T00:00:00.000Z", "old-queued");  // never delivered
  commit(isoNow(), "new");

  RetentionService(store_, RetentionSettings{}).runOnce();  // forever: nothing
  EXPECT_EQ(bodies(), 3);

  RetentionSettings settings;
  settings.bodyDays = 30;
  RetentionService(store_, settings).runOnce();  // archives required, none written: nothing
  EXPECT_EQ(bodies(), 3);

  settings.archiveRequired = false;
  RetentionService service(store_, settings);
  service.start();  // the thread waits a minute before its first pass; stop() ends it at once
  service.runOnce();
  service.stop();
  EXPECT_EQ(bodies(), 2) << "only the old, delivered body goes";
  EXPECT_TRUE(store_->verifyAuditChain().isOk());
}

}  // namespace
}  // namespace labgate
