// Tests for engine/store/wal_checkpointer.h (issue 16, ADR 0019): with checkpoints moved off the
// writer thread, the write-ahead log is still copied into the database file while the store is
// open, and what was committed reads back the same afterwards and after a reopen.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "engine/store/audit.h"
#include "engine/store/store.h"

using namespace Poco::Data::Keywords;

namespace labgate {
namespace {

constexpr int kMessages = 48;
constexpr size_t kPayloadBytes = 128 * 1024;  // 48 x 128 KiB: well past 1000 WAL pages of 4 KiB

InboundCommit bigCommit(int n) {
  InboundCommit c;
  c.connector = "lab1";
  c.instrument = "tq-01";
  c.format = "hl7";
  c.peer = "127.0.0.1:5000";
  c.receivedAt = isoNow();
  c.contentSha256 = sha256Hex("message " + std::to_string(n));
  c.message.controlId = "CTRL-" + std::to_string(n);
  Sample s;
  s.sampleId = "S" + std::to_string(n);
  Result r;
  r.instrumentCode = "GLU";
  r.value = "5.6";
  r.numeric = 5.6;
  s.results.push_back(r);
  c.dispositions.push_back(Disposition{});
  c.message.samples.push_back(s);
  c.outbound.push_back({"lis", "OUT-" + std::to_string(n), std::string(kPayloadBytes, 'x')});
  return c;
}

int64_t count(const std::string& path, const std::string& sql) {
  Poco::Data::SQLite::Connector::registerConnector();
  Poco::Data::Session session("SQLite", path);
  int64_t n = 0;
  session << sql, into(n), now;
  return n;
}

TEST(WalCheckpointer, TheLogIsCopiedIntoTheDatabaseWhileTheStoreIsOpen) {
  const std::string dir = Poco::TemporaryFile::tempName();
  std::string path;
  {
    auto opened = Store::open(dir);
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    std::shared_ptr<Store> store = opened.value();
    path = store->path();
    const Poco::File::FileSize before = Poco::File(path).getSize();
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_TRUE(store->commitInbound(bigCommit(i)).isOk()) << "message " << i;
    }
    // The checkpoint runs on its own thread after the commit that passed 1000 pages: the
    // database file grows by what it copies (all of it was in the WAL before).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (Poco::File(path).getSize() < before + 4 * 1024 * 1024 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GE(Poco::File(path).getSize(), before + 4 * 1024 * 1024)
        << "nothing was checkpointed into " << path << " while the store was open";
    EXPECT_EQ(count(path, "SELECT COUNT(*) FROM outbound"), kMessages);
    EXPECT_TRUE(store->verifyAuditChain().isOk());
  }
  // Reopened (the last close checkpoints the rest): everything is there once.
  {
    auto reopened = Store::open(dir);
    ASSERT_TRUE(reopened.isOk()) << reopened.status().toString();
    EXPECT_EQ(count(path, "SELECT COUNT(*) FROM messages"), kMessages);
    EXPECT_EQ(count(path, "SELECT COUNT(*) FROM outbound WHERE length(payload) = " +
                              std::to_string(kPayloadBytes)),
              kMessages);
    EXPECT_TRUE(reopened.value()->verifyAuditChain().isOk());
  }
  Poco::File(dir).remove(true);
}

}  // namespace
}  // namespace labgate
