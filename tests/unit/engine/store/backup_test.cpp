// Tests for engine/store/backup: file names, the retention choice, the header and manifest round
// trip, a backup of a real store written, verified and restored (with a body file), and that a
// changed byte anywhere, a wrong key or a non-empty target is refused; the server's signing key
// carried (format 2), checked and restored, and a backup without one still read (format 1).
#include "engine/store/backup.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/DateTime.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>

#include "engine/security/signing_key.h"
#include "engine/store/audit.h"
#include "engine/store/schema.h"
#include "engine/store/store.h"

using namespace Poco::Data::Keywords;

namespace labgate::backup {
namespace {

int64_t at(int year, int month, int day, int hour, int minute = 0, int second = 0) {
  return Poco::DateTime(year, month, day, hour, minute, second).timestamp().epochTime();
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::vector<std::string> namesIn(const std::string& dir) {
  std::vector<std::string> names;
  Poco::File(dir).list(names);
  return names;
}

// ---- names --------------------------------------------------------------------------------------

TEST(BackupFileName, RoundTripsItsTime) {
  const int64_t t = at(2026, 11, 24, 4, 12, 7);
  EXPECT_EQ(fileNameFor(t), "labgate-20261124T041207Z.lgb");
  EXPECT_EQ(timeOfFileName(fileNameFor(t)), t);
}

TEST(BackupFileName, OtherNamesAreNotBackups) {
  for (const char* name :
       {"labgate-20261124T041207Z.lgb.partial", "labgate-20261324T041207Z.lgb",
        "labgate-20261124T251207Z.lgb", "labgate-2026112xT041207Z.lgb", "labgate.db",
        "other-20261124T041207Z.lgb", "labgate-20261124T041207.lgb", ""}) {
    EXPECT_FALSE(timeOfFileName(name)) << name;
  }
}

// ---- retention ----------------------------------------------------------------------------------

TEST(Retention, NothingToDeleteInAnEmptyDirectory) {
  EXPECT_TRUE(chooseBackupsToDelete({}, at(2026, 11, 24, 10), Retention{}).empty());
}

TEST(Retention, KeepsTheNewestOfEachOfTheLastHours) {
  const int64_t now = at(2026, 11, 24, 10, 30);
  std::vector<int64_t> times = {
      at(2026, 11, 24, 10, 0), at(2026, 11, 24, 10, 20),  // this hour: keep 10:20
      at(2026, 11, 24, 9, 0),  at(2026, 11, 24, 9, 40),   // last hour: keep 9:40
      at(2026, 11, 24, 8, 10),                            // out of the 2 hours
  };
  auto doomed = chooseBackupsToDelete(times, now, Retention{2, 0});
  EXPECT_EQ(doomed, (std::vector<int64_t>{at(2026, 11, 24, 8, 10), at(2026, 11, 24, 9, 0),
                                          at(2026, 11, 24, 10, 0)}));
}

TEST(Retention, KeepsFourteenDailiesByDefault) {
  const int64_t now = at(2026, 11, 30, 1, 0);
  std::vector<int64_t> times;
  for (int day = 1; day <= 30; ++day) times.push_back(at(2026, 11, day, 0, 5));
  auto doomed = chooseBackupsToDelete(times, now, Retention{});
  // Kept: Nov 17..30 (14 days); the 24 hourly slots hold only Nov 30 00:05, also a daily.
  ASSERT_EQ(doomed.size(), 16u);
  EXPECT_EQ(doomed.front(), at(2026, 11, 1, 0, 5));
  EXPECT_EQ(doomed.back(), at(2026, 11, 16, 0, 5));
}

TEST(Retention, KeepsTheNewestOfADayAndTheHourliesBeside) {
  const int64_t now = at(2026, 11, 24, 12, 0);
  std::vector<int64_t> times;
  for (int hour = 0; hour <= 12; ++hour) times.push_back(at(2026, 11, 24, hour, 0));
  for (int hour = 0; hour < 24; ++hour) times.push_back(at(2026, 11, 23, hour, 0));
  auto doomed = chooseBackupsToDelete(times, now, Retention{3, 2});
  // Kept: 10:00, 11:00, 12:00 today (hourly; 12:00 is also today's daily) and 23:00 yesterday.
  EXPECT_EQ(doomed.size(), times.size() - 4);
  for (int64_t kept :
       {at(2026, 11, 24, 10), at(2026, 11, 24, 11), at(2026, 11, 24, 12), at(2026, 11, 23, 23)}) {
    EXPECT_EQ(std::count(doomed.begin(), doomed.end(), kept), 0) << kept;
  }
}

TEST(Retention, NeverDeletesTheNewestNorWhatLiesInTheFuture) {
  const int64_t now = at(2026, 11, 24, 12, 0);
  std::vector<int64_t> times = {at(2026, 1, 1, 0), at(2026, 2, 1, 0), at(2026, 11, 25, 0)};
  auto doomed = chooseBackupsToDelete(times, now, Retention{0, 0});
  // One is in the future (a clock that was ahead): kept, and so is the newest of the others.
  EXPECT_EQ(doomed, (std::vector<int64_t>{at(2026, 1, 1, 0)}));
  doomed = chooseBackupsToDelete({at(2026, 1, 1, 0)}, now, Retention{0, 0});
  EXPECT_TRUE(doomed.empty()) << "the only backup is never deleted";
}

TEST(Retention, HourAndDayBoundariesAreUtc) {
  const int64_t now = at(2026, 11, 24, 0, 0, 1);  // one second into the day
  auto doomed = chooseBackupsToDelete({at(2026, 11, 23, 23, 59, 59), at(2026, 11, 24, 0, 0, 0)},
                                      now, Retention{1, 1});
  // Only this hour and this day are kept: yesterday 23:59:59 goes.
  EXPECT_EQ(doomed, (std::vector<int64_t>{at(2026, 11, 23, 23, 59, 59)}));
}

// ---- header -------------------------------------------------------------------------------------

Header sampleHeader() {
  Header h;
  h.kekFingerprint = "0123456789abcdef";
  h.dataKey.id = 1;
  h.dataKey.wrapped = std::string("\x00\x01\xfe\xff wrapped", 12);
  h.dataKey.kekFingerprint = h.kekFingerprint;
  h.manifest.createdAt = "2026-11-24T04:12:07Z";
  h.manifest.version = "0.1.0 \"quoted\"";
  h.manifest.schemaVersion = 6;
  h.manifest.messages = 12;
  h.manifest.results = 40;
  h.manifest.audit = 77;
  h.manifest.auditHead = std::string(64, 'a');
  h.manifest.databaseSha256 = std::string(64, 'b');
  h.manifest.databaseBytes = 4096;
  h.manifest.bodyFiles = 1;
  h.files.push_back({"export-7.sealed", 123, std::string(64, 'c')});
  return h;
}

TEST(BackupHeader, RoundTrips) {
  Header h = sampleHeader();
  std::string bytes = encodeHeader(h) + "the sealed database follows";
  size_t consumed = 0;
  StatusOr<Header> back = decodeHeader(bytes, &consumed);
  ASSERT_TRUE(back.isOk()) << back.status().toString();
  EXPECT_EQ(consumed, encodeHeader(h).size());
  const Header& b = back.value();
  EXPECT_EQ(b.kekFingerprint, h.kekFingerprint);
  EXPECT_EQ(b.dataKey.id, 1u);
  EXPECT_EQ(b.dataKey.wrapped, h.dataKey.wrapped);
  EXPECT_EQ(b.manifest.toJson(), h.manifest.toJson());
  EXPECT_EQ(b.manifest.digest(), h.manifest.digest());
  ASSERT_EQ(b.files.size(), 1u);
  EXPECT_EQ(b.files[0].name, "export-7.sealed");
  EXPECT_EQ(b.files[0].bytes, 123);
}

TEST(BackupHeader, CarriesTheSigningKeyAsFormatTwo) {
  Header h = sampleHeader();
  const std::string v1 = encodeHeader(h);
  EXPECT_NE(v1.find("\"format_version\":1"), std::string::npos) << "no key: format 1 as before";
  EXPECT_EQ(v1.find("signing_key"), std::string::npos);
  h.manifest.signingKey = "0123456789abcdef";
  h.signingKeySealed = "c2VhbGVkIGtleQ==";
  const std::string v2 = encodeHeader(h);
  EXPECT_NE(v2.find("\"format_version\":2"), std::string::npos);
  StatusOr<Header> back = decodeHeader(v2);
  ASSERT_TRUE(back.isOk()) << back.status().toString();
  EXPECT_EQ(back.value().manifest.signingKey, "0123456789abcdef");
  EXPECT_EQ(back.value().signingKeySealed, "c2VhbGVkIGtleQ==");
  EXPECT_EQ(back.value().manifest.digest(), h.manifest.digest());
  EXPECT_NE(back.value().manifest.digest(), sampleHeader().manifest.digest()) << "named by it";
  // Format 2 without its key, or with a malformed one, is refused.
  std::string noKey = v2;
  noKey.replace(noKey.find("signing_key_sealed"), 18, "signing_key_sealeX");
  EXPECT_FALSE(decodeHeader(noKey).isOk());
  Header badFingerprint = h;
  badFingerprint.manifest.signingKey = "not-a-fingerprint";
  EXPECT_FALSE(decodeHeader(encodeHeader(badFingerprint)).isOk());
}

TEST(BackupHeader, RefusesWhatIsNotOne) {
  // All 13 bytes (a const char* would end at the first NUL and test only the length check).
  const std::string wrongMagic("LGB0\0\0\0\x05hello", 13);
  EXPECT_FALSE(decodeHeader(wrongMagic).isOk()) << "wrong magic";
  std::string h = encodeHeader(sampleHeader());
  EXPECT_FALSE(decodeHeader(h.substr(0, h.size() - 1)).isOk()) << "truncated";
  std::string badLength = h;
  badLength[4] = '\x7f';
  EXPECT_FALSE(decodeHeader(badLength).isOk()) << "length over the limit";
  Header unsafe = sampleHeader();
  unsafe.files[0].name = "../labgate.db";
  EXPECT_FALSE(decodeHeader(encodeHeader(unsafe)).isOk()) << "a body file name with a path";
  Header miscounted = sampleHeader();
  miscounted.manifest.bodyFiles = 2;
  EXPECT_FALSE(decodeHeader(encodeHeader(miscounted)).isOk());
}

// ---- a real store ------------------------------------------------------------------------------

class BackupStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = Poco::TemporaryFile::tempName();
    Poco::File(root_).createDirectories();
    dataDir_ = file("data");
    auto opened = Store::open(dataDir_);
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = opened.value();
    ASSERT_TRUE(security::writeNewKeyFile(file("kek.key")).isOk());
    auto kek = security::loadKeyFile(file("kek.key"), dataDir_);
    ASSERT_TRUE(kek.isOk()) << kek.status().toString();
    kek_ = kek.value();
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(store_->commitInbound(commit("S" + std::to_string(i))).isOk());
  }
  void TearDown() override {
    store_.reset();
    Poco::File(root_).remove(true);
  }

  std::string file(const std::string& name) const {
    return Poco::Path(root_).append(name).toString();
  }

  static InboundCommit commit(const std::string& sampleId) {
    InboundCommit c;
    c.connector = "lab1";
    c.instrument = "tq-01";
    c.format = "astm";
    c.peer = "127.0.0.1:5000";
    c.receivedAt = isoNow();
    c.contentSha256 = sha256Hex(sampleId);
    c.message.controlId = "C-" + sampleId;
    Sample s;
    s.sampleId = sampleId;
    for (int i = 0; i < 2; ++i) {
      Result r;
      r.instrumentCode = "T" + std::to_string(i);
      r.value = "1.5";
      s.results.push_back(r);
      c.dispositions.push_back(Disposition{});
    }
    c.message.samples.push_back(s);
    return c;
  }

  /// A body file the database refers to, as encryption at rest stores an export's bytes.
  void addBodyFile(const std::string& name, const std::string& bytes) {
    Poco::File(Poco::Path(dataDir_).append("bodies").toString()).createDirectories();
    writeAll(Poco::Path(dataDir_).append("bodies").append(name).toString(), bytes);
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", store_->path());
    std::string n = name;
    s << "INSERT INTO message_bodies (message_id, org_id, key_id, size, sealed, file) "
         "VALUES (1, 'default', 1, 3, NULL, ?)",
        use(n), now;
  }

  StatusOr<Created> take(int64_t when = 1795000000) {
    return createBackup(*store_, kek_, file("backups"),
                        Poco::Path(dataDir_).append("bodies").toString(), file("work"), when);
  }

  std::string root_, dataDir_;
  std::shared_ptr<Store> store_;
  security::KeyEncryptionKey kek_;
};

TEST_F(BackupStoreTest, WritesVerifiesAndRestoresAStore) {
  addBodyFile("export-1.sealed", "LGF1 sealed export bytes");
  StatusOr<Created> made = take();
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  const Created& c = made.value();
  EXPECT_EQ(c.name, fileNameFor(1795000000));
  EXPECT_TRUE(Poco::File(c.path).exists());
  EXPECT_FALSE(Poco::File(c.path + ".partial").exists());
  EXPECT_EQ(c.manifest.messages, 5);
  EXPECT_EQ(c.manifest.results, 10);
  EXPECT_EQ(c.manifest.bodyFiles, 1);
  EXPECT_EQ(c.manifest.audit, 5);
  EXPECT_EQ(c.manifest.schemaVersion, static_cast<int64_t>(schemaMigrations().size()));
  // No plain copy is left anywhere.
  EXPECT_TRUE(namesIn(file("work")).empty());
  EXPECT_EQ(readAll(c.path).find("SQLite format 3"), std::string::npos);

  StatusOr<Manifest> verified = verifyBackup(c.path, kek_, file("work"));
  ASSERT_TRUE(verified.isOk()) << verified.status().toString();
  EXPECT_TRUE(verified.value().sameContent(c.manifest));

  StatusOr<Manifest> restored = restoreBackup(c.path, kek_, file("restored"));
  ASSERT_TRUE(restored.isOk()) << restored.status().toString();
  EXPECT_EQ(readAll(file("restored/bodies/export-1.sealed")), "LGF1 sealed export bytes");
  auto reopened = Store::open(file("restored"), std::make_shared<security::Keyring>(kek_));
  ASSERT_TRUE(reopened.isOk()) << reopened.status().toString();
  EXPECT_TRUE(reopened.value()->verifyAuditChain().isOk());
}

TEST_F(BackupStoreTest, CarriesChecksAndRestoresTheSigningKey) {
  // The key as labgated keeps it in data.dir when security.key_file is set.
  auto key = security::SigningKey::loadOrCreate(dataDir_, &kek_);
  ASSERT_TRUE(key.isOk()) << key.status().toString();
  const std::string sealedFile = file("data/signing-key.sealed");
  const std::string sealed = readAll(sealedFile);
  ASSERT_FALSE(sealed.empty());
  StatusOr<Created> made =
      createBackup(*store_, kek_, file("backups"), Poco::Path(dataDir_).append("bodies").toString(),
                   file("work"), 1795000000, sealedFile);
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  EXPECT_EQ(made.value().manifest.signingKey, key.value()->fingerprint());
  EXPECT_NE(readAll(made.value().path).find(sealed), std::string::npos)
      << "carried as it is kept: sealed under the key file";
  StatusOr<Manifest> verified = verifyBackup(made.value().path, kek_, file("work"));
  ASSERT_TRUE(verified.isOk()) << verified.status().toString();
  EXPECT_EQ(verified.value().signingKey, key.value()->fingerprint());

  StatusOr<Manifest> restored = restoreBackup(made.value().path, kek_, file("restored"));
  ASSERT_TRUE(restored.isOk()) << restored.status().toString();
  EXPECT_EQ(readAll(file("restored/signing-key.sealed")), sealed);
  struct stat st {};
  ASSERT_EQ(::stat(file("restored/signing-key.sealed").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = security::SigningKey::loadOrCreate(file("restored"), &kek_);
  ASSERT_TRUE(again.isOk()) << again.status().toString();
  EXPECT_FALSE(again.value()->isNew());
  EXPECT_EQ(again.value()->publicPem(), key.value()->publicPem());
}

TEST_F(BackupStoreTest, ASigningKeyThatDoesNotOpenFailsTheBackup) {
  ASSERT_TRUE(security::writeNewKeyFile(file("other.key")).isOk());
  auto other = security::loadKeyFile(file("other.key"), dataDir_);
  ASSERT_TRUE(other.isOk());
  ASSERT_TRUE(security::SigningKey::loadOrCreate(dataDir_, &other.value()).isOk());
  StatusOr<Created> made =
      createBackup(*store_, kek_, file("backups"), Poco::Path(dataDir_).append("bodies").toString(),
                   file("work"), 1795000000, file("data/signing-key.sealed"));
  ASSERT_FALSE(made.isOk());
  EXPECT_NE(made.status().toString().find("does not open"), std::string::npos)
      << made.status().toString();
  EXPECT_FALSE(Poco::File(file("backups/" + fileNameFor(1795000000))).exists());
  // A missing key file is a failure too, not a backup without the key.
  made =
      createBackup(*store_, kek_, file("backups"), Poco::Path(dataDir_).append("bodies").toString(),
                   file("work"), 1795000000, file("data/no-such-key.sealed"));
  EXPECT_FALSE(made.isOk());
}

TEST_F(BackupStoreTest, ABackupWithoutASigningKeyRestoresWithoutOne) {
  StatusOr<Created> made = take();  // no signing key given: format 1, as older versions wrote
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  EXPECT_TRUE(made.value().manifest.signingKey.empty());
  StatusOr<Header> header = readHeader(made.value().path);
  ASSERT_TRUE(header.isOk());
  EXPECT_TRUE(header.value().signingKeySealed.empty());
  StatusOr<Manifest> restored = restoreBackup(made.value().path, kek_, file("restored"));
  ASSERT_TRUE(restored.isOk()) << restored.status().toString();
  EXPECT_TRUE(restored.value().signingKey.empty());
  EXPECT_FALSE(Poco::File(file("restored/signing-key.sealed")).exists());
}

TEST_F(BackupStoreTest, TheSnapshotIsConsistentWhileWritesGoOn) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    // Only the load matters here: a write that fails is not what this test checks.
    for (int i = 0; !stop; ++i) (void)store_->commitInbound(commit("W" + std::to_string(i)));
  });
  StatusOr<Created> made = take();
  stop = true;
  writer.join();
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  EXPECT_GE(made.value().manifest.messages, 5);
  EXPECT_EQ(made.value().manifest.results, made.value().manifest.messages * 2);
  EXPECT_TRUE(verifyBackup(made.value().path, kek_, file("work")).isOk());
}

TEST_F(BackupStoreTest, AChangedByteAnywhereFailsVerification) {
  addBodyFile("export-1.sealed", "LGF1 sealed export bytes");
  StatusOr<Created> made = take();
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  const std::string original = readAll(made.value().path);
  std::string raw;
  ASSERT_TRUE(readHeader(made.value().path, &raw).isOk());
  const size_t body = raw.size() + 5;  // inside the body file
  // In the header's JSON (a digit of a count), in the body file, in the sealed database.
  const size_t count = raw.find("\"messages\":5") + 11;
  for (size_t offset : {count, body, original.size() / 2, original.size() - 1}) {
    std::string changed = original;
    changed[offset] = static_cast<char>(changed[offset] ^ 0x01);
    writeAll(file("changed.lgb"), changed);
    EXPECT_FALSE(verifyBackup(file("changed.lgb"), kek_, file("work")).isOk())
        << "a flipped bit at byte " << offset << " of " << original.size() << " was not noticed";
  }
  writeAll(file("truncated.lgb"), original.substr(0, original.size() - 100));
  EXPECT_FALSE(verifyBackup(file("truncated.lgb"), kek_, file("work")).isOk());
}

TEST_F(BackupStoreTest, AnotherKeyIsRefusedNamingBothKeys) {
  StatusOr<Created> made = take();
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  ASSERT_TRUE(security::writeNewKeyFile(file("other.key")).isOk());
  auto other = security::loadKeyFile(file("other.key"), "");
  ASSERT_TRUE(other.isOk());
  StatusOr<Manifest> r = restoreBackup(made.value().path, other.value(), file("restored"));
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Status::Code::kConfig);
  EXPECT_NE(r.status().reason().find(kek_.fingerprint), std::string::npos);
  EXPECT_NE(r.status().reason().find(other.value().fingerprint), std::string::npos);
  EXPECT_TRUE(namesIn(file("restored")).empty()) << "a failed restore leaves it empty";
  // The key's bytes appear nowhere in the message.
  EXPECT_EQ(r.status().toString().find(other.value().bytes), std::string::npos);
}

TEST_F(BackupStoreTest, RestoreRefusesANonEmptyDirectory) {
  StatusOr<Created> made = take();
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  Poco::File(file("busy")).createDirectories();
  writeAll(file("busy/keep.txt"), "mine");
  StatusOr<Manifest> r = restoreBackup(made.value().path, kek_, file("busy"));
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().reason().find("not empty"), std::string::npos);
  EXPECT_EQ(readAll(file("busy/keep.txt")), "mine");
  EXPECT_FALSE(Poco::File(file("busy/labgate.db")).exists());
}

TEST_F(BackupStoreTest, AMissingBodyFileFailsTheBackup) {
  addBodyFile("export-1.sealed", "bytes");
  Poco::File(Poco::Path(dataDir_).append("bodies").append("export-1.sealed")).remove();
  StatusOr<Created> made = take();
  EXPECT_FALSE(made.isOk());
  EXPECT_TRUE(listBackups(file("backups")).empty());
  EXPECT_FALSE(Poco::File(file("backups/" + fileNameFor(1795000000) + ".partial")).exists());
}

TEST_F(BackupStoreTest, ListsBackupsNewestFirst) {
  ASSERT_TRUE(take(1795000000).isOk());
  ASSERT_TRUE(take(1795003600).isOk());
  writeAll(file("backups/notes.txt"), "not a backup");
  writeAll(file("backups/" + fileNameFor(1700000000)), "not a backup either, but named like one");
  std::vector<Listing> all = listBackups(file("backups"));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].time, 1795003600);
  EXPECT_TRUE(all[0].manifest.has_value());
  EXPECT_EQ(all[2].time, 1700000000);
  EXPECT_FALSE(all[2].manifest.has_value());
}

}  // namespace
}  // namespace labgate::backup
