// Tests for engine/store/retention: which messages may be pruned (never one with a result waiting
// for QA or an outbound item not delivered), an archive written, verified and recorded before
// anything is pruned, a tampered or foreign-key archive refused with a clear reason, pruning
// audited with the archive's digest, an unwritable output leaving the store untouched, and the
// engine's scheduled pass (archived only, or everything past the period).
#include "engine/store/retention.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "engine/security/crypto.h"
#include "engine/security/keyring.h"
#include "engine/store/audit.h"
#include "engine/store/sql_dialect.h"
#include "engine/store/store.h"
#include "tests/unit/engine/store/pg_test_database.h"

using namespace Poco::Data::Keywords;

namespace labgate::retention {
namespace {

using security::KeyEncryptionKey;

KeyEncryptionKey newKek() {
  KeyEncryptionKey kek;
  kek.bytes = security::randomBytes(32);
  kek.fingerprint = security::tokenDigest(kek.bytes).substr(0, 16);
  return kek;
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every test runs on both back ends (issue 17), as StoreTest does.
class ArchiveRetentionTest : public ::testing::TestWithParam<sql::Backend> {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    Poco::File(dir_).createDirectories();
    kek_ = newKek();
    location_.dataDir = dir_ + "/data";
    if (GetParam() == sql::Backend::kPostgres) {
      std::string error;
      pg_ = labgate::testing::PgTestDatabase::create(error);
      ASSERT_TRUE(pg_.has_value()) << error;
      location_.url = pg_->url();
      location_.passwordFile = pg_->passwordFile();
    }
    auto opened = Store::open(location_, std::make_shared<security::Keyring>(kek_));
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = opened.value();
  }
  void TearDown() override {
    store_.reset();
    Poco::File(dir_).remove(true);
    pg_.reset();
  }

  /// A message received at `receivedAt` with one sample, one result (disposition `kind`) with a
  /// peak, a body, and an outbound item unless `outbound` is false.
  int64_t commit(const std::string& receivedAt, DispositionKind kind, bool outbound = true) {
    InboundCommit c;
    c.connector = "lab1";
    c.instrument = "tq-01";
    c.format = "astm";
    c.peer = "127.0.0.1:5000";
    c.receivedAt = receivedAt;
    const std::string body = "BODY-" + std::to_string(++counter_) + std::string(3000, 'x');
    c.contentSha256 = sha256Hex(body);
    c.rawBody = body;
    Sample s;
    s.sampleId = "S" + std::to_string(counter_);
    Result r;
    r.instrumentCode = "TESTO";
    r.lisCode = "TESTO";
    r.value = "1.5";
    Peak peak;
    peak.retentionTime = 2.31;
    peak.area = 12345.5;
    r.peak = peak;
    s.results.push_back(r);
    c.message.samples.push_back(s);
    Disposition d;
    d.kind = kind;
    c.dispositions.push_back(d);
    if (outbound) c.outbound.push_back({"lis", "C" + std::to_string(counter_), "payload"});
    auto receipt = store_->commitInbound(c);
    EXPECT_TRUE(receipt.isOk()) << receipt.status().toString();
    return receipt.isOk() ? receipt->messageId : 0;
  }

  void deliverAll() {
    while (auto item = store_->claimNext("lis")) {
      ASSERT_TRUE(store_->markDelivered(*item, "AA").isOk());
    }
  }

  int64_t count(const std::string& query) {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s = pg_ ? Poco::Data::Session("PostgreSQL", pg_->connectionString())
                                : Poco::Data::Session("SQLite", store_->path());
    int64_t n = 0;
    s << query, into(n), now;
    return n;
  }

  std::string dir_;
  std::optional<labgate::testing::PgTestDatabase> pg_;
  StoreLocation location_;
  KeyEncryptionKey kek_;
  std::shared_ptr<Store> store_;
  int counter_ = 0;
};

TEST(ArchiveTimes, BoundsAreTheStoresForm) {
  EXPECT_EQ(normaliseBound("2026-01-01"), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(normaliseBound("2026-01-01T10:20:30Z"), "2026-01-01T10:20:30.000Z");
  EXPECT_FALSE(normaliseBound("yesterday"));
  EXPECT_FALSE(normaliseBound("2026-13-01"));
  EXPECT_EQ(daysBefore("2026-03-01T00:00:00.000Z", 1), "2026-02-28T00:00:00.000Z");
}

TEST_P(ArchiveRetentionTest, NeverPrunableWhileHeldOrUndelivered) {
  const int64_t delivered = commit("2025-01-02T00:00:00.000Z", DispositionKind::kRelease);
  deliverAll();
  const int64_t queued = commit("2025-01-03T00:00:00.000Z", DispositionKind::kRelease);
  const int64_t held = commit("2025-01-04T00:00:00.000Z", DispositionKind::kHold, false);
  const int64_t late = commit("2025-06-01T00:00:00.000Z", DispositionKind::kRelease);
  (void)late;
  RetentionStore retention(*store_);
  EXPECT_EQ(retention.prunable("2025-02-01T00:00:00.000Z"), std::vector<int64_t>{delivered});
  (void)queued;
  (void)held;
}

TEST_P(ArchiveRetentionTest, ArchiveVerifiesRecordsThenPrunesWithAnAuditEvent) {
  const int64_t a = commit("2025-01-02T00:00:00.000Z", DispositionKind::kRelease);
  const int64_t b = commit("2025-01-03T00:00:00.000Z", DispositionKind::kRelease);
  deliverAll();
  const int64_t held = commit("2025-01-04T00:00:00.000Z", DispositionKind::kHold, false);
  RetentionStore retention(*store_);
  const std::string out = dir_ + "/year.lga";
  std::vector<std::string> said;
  auto written =
      retention.writeArchive("2025-02-01T00:00:00.000Z", kek_, out, dir_ + "/work", "cli:test",
                             [&](const std::string& l) { said.push_back(l); });
  ASSERT_TRUE(written.isOk()) << written.status().toString();
  EXPECT_FALSE(said.empty());
  EXPECT_EQ(written->summary.messages, 2);
  EXPECT_EQ(written->summary.bodies, 2);
  EXPECT_EQ(written->summary.peaks, 2);
  EXPECT_EQ(written->summary.firstMessage, a);
  EXPECT_EQ(written->summary.lastMessage, b);
  EXPECT_GT(written->ledgerId, 0);
  // Written and recorded; nothing pruned yet.
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies"), 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM archive_items WHERE pruned_at = ''"), 2);
  EXPECT_EQ(readAll(out).find("BODY-1"), std::string::npos) << "the archive is encrypted";
  EXPECT_FALSE(Poco::File(dir_ + "/work").exists() && Poco::File(dir_ + "/work").isDirectory() &&
               [&] {
                 std::vector<std::string> names;
                 Poco::File(dir_ + "/work").list(names);
                 return !names.empty();
               }());

  auto verified = verifyArchive(out, kek_, dir_ + "/work");
  ASSERT_TRUE(verified.isOk()) << verified.status().toString();
  EXPECT_EQ(verified->fileSha256, written->sha256);
  EXPECT_EQ(verified->summary.bodyBytes, written->summary.bodyBytes);
  EXPECT_EQ(verified->instruments, std::vector<std::string>{"tq-01"});

  auto pruned = retention.pruneArchive(written->ledgerId, "cli:test");
  ASSERT_TRUE(pruned.isOk()) << pruned.status().toString();
  EXPECT_EQ(pruned->messages, 2);
  EXPECT_EQ(pruned->bodies, 2);
  EXPECT_EQ(pruned->peaks, 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies WHERE message_id = " + std::to_string(held)),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM peaks"), 1);
  // Results, samples and messages stay.
  EXPECT_EQ(count("SELECT COUNT(*) FROM results"), 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'retention.pruned' AND detail LIKE "
                  "'%" +
                  written->sha256 + "%'"),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'retention.archived'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM retention_pruned WHERE body_pruned_at <> '' AND "
                  "peaks_pruned_at <> ''"),
            2);
  EXPECT_TRUE(store_->verifyAuditChain().isOk());
  auto ledger = retention.ledger();
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].pending, 0);
  EXPECT_EQ(ledger[0].fileSha256, written->sha256);
  // Pruned once: a second pass finds nothing, and nothing is prunable any more.
  EXPECT_EQ(retention.pruneArchive(written->ledgerId, "cli:test")->messages, 0);
  EXPECT_TRUE(retention.prunable("2025-02-01T00:00:00.000Z").empty());
}

TEST_P(ArchiveRetentionTest, TamperedOrForeignKeyArchiveIsRefused) {
  commit("2025-01-02T00:00:00.000Z", DispositionKind::kRelease);
  deliverAll();
  RetentionStore retention(*store_);
  const std::string out = dir_ + "/a.lga";
  auto written =
      retention.writeArchive("2025-02-01T00:00:00.000Z", kek_, out, dir_ + "/work", "cli:test");
  ASSERT_TRUE(written.isOk()) << written.status().toString();

  auto foreign = verifyArchive(out, newKek(), dir_ + "/work");
  ASSERT_FALSE(foreign.isOk());
  EXPECT_EQ(foreign.status().code(), Status::Code::kConfig);

  std::string bytes = readAll(out);
  bytes[bytes.size() - 40] ^= 0x01;
  const std::string tampered = dir_ + "/tampered.lga";
  std::ofstream(tampered, std::ios::binary) << bytes;
  auto bad = verifyArchive(tampered, kek_, dir_ + "/work");
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().toString().find("does not authenticate"), std::string::npos)
      << bad.status().toString();

  // A changed summary (the header) fails too: it is the AAD of every chunk.
  std::string header = readAll(out);
  const size_t at = header.find("\"messages\":1");
  ASSERT_NE(at, std::string::npos);
  header[at + 11] = '2';
  std::ofstream(tampered, std::ios::binary | std::ios::trunc) << header;
  EXPECT_FALSE(verifyArchive(tampered, kek_, dir_ + "/work").isOk());
}

TEST_P(ArchiveRetentionTest, UnwritableOutputLeavesTheStoreUntouched) {
  commit("2025-01-02T00:00:00.000Z", DispositionKind::kRelease);
  deliverAll();
  RetentionStore retention(*store_);
  auto written = retention.writeArchive("2025-02-01T00:00:00.000Z", kek_,
                                        dir_ + "/missing/folder/a.lga", dir_ + "/work", "cli");
  ASSERT_FALSE(written.isOk());
  EXPECT_NE(written.status().toString().find("nothing was archived or pruned"), std::string::npos)
      << written.status().toString();
  EXPECT_EQ(count("SELECT COUNT(*) FROM archives"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM peaks"), 1);
  EXPECT_FALSE(Poco::File(dir_ + "/missing").exists());
}

TEST_P(ArchiveRetentionTest, NothingToArchiveWritesNoFile) {
  commit("2025-01-02T00:00:00.000Z", DispositionKind::kRelease);  // not delivered
  RetentionStore retention(*store_);
  auto written =
      retention.writeArchive("2025-02-01T00:00:00.000Z", kek_, dir_ + "/a.lga", dir_, "cli");
  ASSERT_TRUE(written.isOk());
  EXPECT_EQ(written->ledgerId, 0);
  EXPECT_FALSE(Poco::File(dir_ + "/a.lga").exists());
}

TEST_P(ArchiveRetentionTest, ScheduledPassPrunesOnlyArchivedUnlessArchivesAreNotRequired) {
  commit("2025-01-02T00:00:00.000Z", DispositionKind::kRelease);
  commit("2025-01-20T00:00:00.000Z", DispositionKind::kRelease);
  deliverAll();
  RetentionStore retention(*store_);
  Policy policy;
  policy.bodyDays = 30;
  policy.peakDays = 0;
  const std::string nowIso = "2025-03-01T00:00:00.000Z";
  // Nothing archived: the pass prunes nothing.
  EXPECT_EQ(retention.pruneScheduled(policy, nowIso)->messages, 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies"), 2);
  // Archive the first one (written with --no-prune): the pass prunes its body only.
  auto written =
      retention.writeArchive("2025-01-10T00:00:00.000Z", kek_, dir_ + "/a.lga", dir_, "cli");
  ASSERT_TRUE(written.isOk());
  auto pass = retention.pruneScheduled(policy, nowIso);
  ASSERT_TRUE(pass.isOk());
  EXPECT_EQ(pass->bodies, 1);
  EXPECT_EQ(pass->peaks, 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM peaks"), 2);
  // Archives not required: everything past the period goes.
  policy.archiveRequired = false;
  policy.peakDays = 30;
  pass = retention.pruneScheduled(policy, nowIso);
  ASSERT_TRUE(pass.isOk());
  EXPECT_EQ(pass->bodies, 1);
  EXPECT_EQ(pass->peaks, 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'retention.pruned'"), 3);
  // Bodies and peaks pruned in separate passes: both times kept.
  EXPECT_EQ(count("SELECT COUNT(*) FROM retention_pruned WHERE body_pruned_at <> '' AND "
                  "peaks_pruned_at <> ''"),
            2);
  EXPECT_TRUE(store_->verifyAuditChain().isOk());
  // Both periods 0 (forever): nothing.
  EXPECT_EQ(retention.pruneScheduled(Policy{}, nowIso)->messages, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, ArchiveRetentionTest,
                         ::testing::Values(sql::Backend::kSqlite, sql::Backend::kPostgres),
                         [](const ::testing::TestParamInfo<sql::Backend>& info) {
                           return info.param == sql::Backend::kSqlite ? "SQLite" : "PostgreSQL";
                         });

}  // namespace
}  // namespace labgate::retention
