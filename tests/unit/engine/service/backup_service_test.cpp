// Tests for engine/service/backup_settings.h and backup_service: the backup.* keys, when the
// scheduler runs next, and the service on a real store (audit events, retention, what it lists as
// verified, also after a restart, and no longer once the file changed).
#include "engine/service/backup_service.h"

#include <Poco/DateTime.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "engine/security/crypto.h"
#include "engine/service/config.h"
#include "engine/store/accounts.h"

namespace labgate {
namespace {

int64_t at(int year, int month, int day, int hour, int minute = 0, int second = 0) {
  return Poco::DateTime(year, month, day, hour, minute, second).timestamp().epochTime();
}

// ---- backup.* keys ------------------------------------------------------------------------------

TEST(BackupSchedule, ParsesEveryForm) {
  struct Case {
    const char* text;
    BackupSchedule::Kind kind;
    int64_t seconds;
  };
  for (const Case& c : {Case{"off", BackupSchedule::Kind::kOff, 0},
                        Case{"hourly", BackupSchedule::Kind::kHourly, 0},
                        Case{"daily", BackupSchedule::Kind::kDaily, 0},
                        Case{"every 15 minutes", BackupSchedule::Kind::kEvery, 900},
                        Case{"every 1 minute", BackupSchedule::Kind::kEvery, 60},
                        Case{"every 2 seconds", BackupSchedule::Kind::kEvery, 2}}) {
    StatusOr<BackupSchedule> s = parseBackupSchedule(c.text);
    ASSERT_TRUE(s.isOk()) << c.text << ": " << s.status().toString();
    EXPECT_EQ(s.value().kind, c.kind) << c.text;
    EXPECT_EQ(s.value().everySeconds, c.seconds) << c.text;
  }
}

TEST(BackupSchedule, RefusesAnythingElseNamingTheKey) {
  for (const char* text :
       {"", "weekly", "every minutes", "every 0 minutes", "every -5 minutes", "every 5 hours",
        "every 5 minutes please", "Hourly", "every x seconds", "every 10081 minutes"}) {
    StatusOr<BackupSchedule> s = parseBackupSchedule(text);
    ASSERT_FALSE(s.isOk()) << "\"" << text << "\" was accepted";
    EXPECT_EQ(s.status().location(), "backup.schedule") << text;
  }
}

std::map<std::string, std::string> minimal() { return {{"data.dir", "/tmp/x"}}; }

TEST(BackupConfig, DefaultsAreOffWith24HourliesAnd14Dailies) {
  auto config = parseEngineConfig(minimal());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_FALSE(config->backup.schedule.on());
  EXPECT_EQ(config->backup.keep.hourly, 24);
  EXPECT_EQ(config->backup.keep.daily, 14);
  EXPECT_EQ(config->backup.dir, "");
}

TEST(BackupConfig, AScheduleNeedsTheKeyFile) {
  auto keys = minimal();
  keys["backup.schedule"] = "hourly";
  auto config = parseEngineConfig(keys);
  ASSERT_FALSE(config.isOk());
  EXPECT_EQ(config.status().location(), "backup.schedule");
  EXPECT_NE(config.status().reason().find("security.key_file"), std::string::npos);
  keys["security.key_file"] = "/etc/labgate/kek.key";
  keys["backup.dir"] = "/srv/backups";
  keys["backup.keep.hourly"] = "6";
  keys["backup.keep.daily"] = "30";
  config = parseEngineConfig(keys);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->keyFile, "/etc/labgate/kek.key");
  EXPECT_EQ(config->backup.dir, "/srv/backups");
  EXPECT_EQ(config->backup.keep.hourly, 6);
  EXPECT_EQ(config->backup.keep.daily, 30);
}

TEST(BackupConfig, BadKeepValuesNameTheirKey) {
  for (const char* key : {"backup.keep.hourly", "backup.keep.daily"}) {
    for (const char* value : {"-1", "many", "100001"}) {
      auto keys = minimal();
      keys[key] = value;
      auto config = parseEngineConfig(keys);
      ASSERT_FALSE(config.isOk()) << key << " = " << value;
      EXPECT_EQ(config.status().location(), key);
    }
  }
  auto keys = minimal();
  keys["backup.dir"] = "";
  EXPECT_FALSE(parseEngineConfig(keys).isOk());
}

// ---- when the scheduler runs --------------------------------------------------------------------

TEST(BackupScheduler, NextDue) {
  BackupSchedule every{BackupSchedule::Kind::kEvery, 600};
  BackupSchedule hourly{BackupSchedule::Kind::kHourly, 0};
  BackupSchedule daily{BackupSchedule::Kind::kDaily, 0};
  const int64_t now = at(2026, 11, 24, 10, 30);
  // No backup yet: now.
  EXPECT_EQ(BackupService::nextDue(hourly, std::nullopt, now), now);
  // One period after the newest.
  EXPECT_EQ(BackupService::nextDue(every, at(2026, 11, 24, 10, 25), now), at(2026, 11, 24, 10, 35));
  // The next boundary after the newest.
  EXPECT_EQ(BackupService::nextDue(hourly, at(2026, 11, 24, 10, 0, 5), now), at(2026, 11, 24, 11));
  EXPECT_EQ(BackupService::nextDue(daily, at(2026, 11, 24, 0, 0, 3), now), at(2026, 11, 25, 0));
  // Overdue (the engine was down at the boundary): now.
  EXPECT_EQ(BackupService::nextDue(hourly, at(2026, 11, 24, 8, 0), now), now);
  EXPECT_EQ(BackupService::nextDue(every, at(2026, 11, 24, 9, 0), now), now);
}

// ---- the service on a real store ---------------------------------------------------------------

class BackupServiceTest : public ::testing::Test {
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
  }
  void TearDown() override {
    store_.reset();
    Poco::File(root_).remove(true);
  }
  std::string file(const std::string& name) const {
    return Poco::Path(root_).append(name).toString();
  }
  std::vector<AuditRecord> auditOf(const std::string& action) {
    AccountStore accounts(store_);
    AuditFilter filter;
    filter.action = action;
    PageRequest page;
    page.limit = 500;
    return accounts.audit("default", filter, page).items;
  }

  std::string root_, dataDir_;
  std::shared_ptr<Store> store_;
  security::KeyEncryptionKey kek_;
};

TEST_F(BackupServiceTest, TakesAuditsRetainsAndRemembersWhatItVerified) {
  BackupSettings settings;
  settings.dir = file("backups");
  settings.keep = backup::Retention{0, 0};  // keep only the newest
  // An old backup (by its name) that retention deletes after the first success.
  Poco::File(settings.dir).createDirectories();
  const std::string old = backup::fileNameFor(at(2020, 1, 1, 0));
  std::ofstream(Poco::Path(settings.dir).append(old).toString()) << "old";
  // What a crash in the middle of a backup leaves: removed at start.
  const std::string partial = Poco::Path(settings.dir).append(old + ".partial").toString();
  std::ofstream(partial) << "half";

  auto service = std::make_unique<BackupService>(store_, kek_, settings, dataDir_);
  ASSERT_TRUE(service->start().isOk());
  EXPECT_FALSE(service->lastSuccess());
  EXPECT_FALSE(Poco::File(partial).exists());
  StatusOr<backup::Created> made = service->backupNow("user:admin");
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  EXPECT_TRUE(service->lastSuccess());

  auto created = auditOf("backup.created");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].actor, "user:admin");
  EXPECT_EQ(created[0].subject, "backup:" + made.value().name);
  EXPECT_NE(created[0].detail.find(made.value().manifest.digest()), std::string::npos);
  auto deleted = auditOf("backup.deleted");
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].subject, "backup:" + old);
  EXPECT_FALSE(Poco::File(Poco::Path(settings.dir).append(old)).exists());
  EXPECT_TRUE(store_->verifyAuditChain().isOk());

  auto listed = service->list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].verified);

  // A new service (an engine restart) knows from the audit trail which backups it verified.
  service.reset();
  std::ofstream(Poco::Path(settings.dir).append(backup::fileNameFor(at(2021, 1, 1, 0))).toString())
      << "copied in by hand";
  BackupService again(store_, kek_, settings, dataDir_);
  ASSERT_TRUE(again.start().isOk());
  listed = again.list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_TRUE(listed[0].verified) << listed[0].listing.name;
  EXPECT_FALSE(listed[1].verified) << listed[1].listing.name;
  EXPECT_EQ(again.lastSuccess(), backup::timeOfFileName(made.value().name));
}

// "Verified" is bound to the file's SHA-256 (recorded in backup.created), not to its name: a file
// overwritten afterwards, whatever its size and even with its old mtime put back, is listed
// unverified, by this service and by the next one (an engine restart).
TEST_F(BackupServiceTest, AFileChangedAfterVerificationIsListedUnverified) {
  BackupSettings settings;
  settings.dir = file("backups");
  auto service = std::make_unique<BackupService>(store_, kek_, settings, dataDir_);
  ASSERT_TRUE(service->start().isOk());
  StatusOr<backup::Created> made = service->backupNow("user:admin");
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  const backup::Created& c = made.value();
  EXPECT_EQ(c.sha256.size(), 64u);
  StatusOr<std::string> onDisk = backup::fileSha256(c.path);
  ASSERT_TRUE(onDisk.isOk()) << onDisk.status().toString();
  EXPECT_EQ(onDisk.value(), c.sha256);
  auto created = auditOf("backup.created");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_NE(created[0].detail.find("\"sha256\":\"" + c.sha256 + "\""), std::string::npos)
      << created[0].detail;

  auto verified = [&c](const std::vector<api::BackupControl::Entry>& list) {
    return list.size() == 1 && list[0].listing.name == c.name ? (list[0].verified ? 1 : 0) : -1;
  };
  EXPECT_EQ(verified(service->list()), 1);

  // A new ctime, the same content (chmod): read again, still verified.
  ASSERT_EQ(::chmod(c.path.c_str(), 0600), 0);
  EXPECT_EQ(verified(service->list()), 1);

  // Overwritten in place with random bytes of the same size, its mtime put back: unverified, at
  // every listing, and after a restart (the audit trail's digest decides).
  const std::string original = [&] {
    std::ifstream in(c.path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  struct stat before {};
  ASSERT_EQ(::stat(c.path.c_str(), &before), 0);
  auto overwrite = [&](const std::string& bytes) {
    std::fstream out(c.path, std::ios::binary | std::ios::in | std::ios::out);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    const struct timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, c.path.c_str(), times, 0), 0);
  };
  overwrite(security::randomBytes(original.size()));
  EXPECT_EQ(verified(service->list()), 0);
  EXPECT_EQ(verified(service->list()), 0);
  service.reset();
  BackupService again(store_, kek_, settings, dataDir_);
  ASSERT_TRUE(again.start().isOk());
  EXPECT_EQ(verified(again.list()), 0);

  // The verified bytes put back: verified again (it is the same file as verified).
  overwrite(original);
  EXPECT_EQ(verified(again.list()), 1);

  // Truncated: unverified (the size alone tells).
  ASSERT_EQ(::truncate(c.path.c_str(), 100), 0);
  EXPECT_EQ(verified(again.list()), 0);
}

// A backup.created event of an older version carries no digest: it binds nothing, and the file is
// listed unverified (labgate backup verify checks it).
TEST_F(BackupServiceTest, AnEventWithoutADigestVerifiesNothing) {
  BackupSettings settings;
  settings.dir = file("backups");
  Poco::File(settings.dir).createDirectories();
  const std::string name = backup::fileNameFor(at(2026, 1, 1, 0));
  std::ofstream(Poco::Path(settings.dir).append(name).toString()) << "named only";
  ASSERT_TRUE(
      store_
          ->appendAudit({"default", "engine", "backup.created", "backup:" + name,
                         "{\"file\":\"" + name + "\",\"bytes\":10,\"manifest_sha256\":\"00\"}"})
          .isOk());
  BackupService service(store_, kek_, settings, dataDir_);
  ASSERT_TRUE(service.start().isOk());
  auto listed = service.list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_FALSE(listed[0].verified);
  // last_backup_at still reports when the newest backup was made.
  EXPECT_EQ(service.lastSuccess(), at(2026, 1, 1, 0));
}

TEST_F(BackupServiceTest, AFailedBackupIsAuditedAndLeavesNoFile) {
  BackupSettings settings;
  settings.dir = file("backups");
  BackupService service(store_, kek_, settings, dataDir_);
  ASSERT_TRUE(service.start().isOk());
  // The work folder cannot be made: a file stands where it would be.
  std::ofstream(Poco::Path(dataDir_).append("backup-work").toString()) << "in the way";
  StatusOr<backup::Created> made = service.backupNow("engine");
  ASSERT_FALSE(made.isOk());
  EXPECT_EQ(auditOf("backup.failed").size(), 1u);
  EXPECT_TRUE(auditOf("backup.created").empty());
  EXPECT_TRUE(service.list().empty());
  EXPECT_FALSE(service.lastSuccess());
}

}  // namespace
}  // namespace labgate
