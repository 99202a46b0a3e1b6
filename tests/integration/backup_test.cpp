// Backups against the real labgated and the real labgate console (docs/backup.md): a backup taken
// through the API while instruments keep sending holds every sample acknowledged before it was
// asked for, and restores (labgate restore) into a store whose audit chain verifies; the schedule
// takes backups on its own; retention deletes old files; restore refuses a non-empty directory and
// a wrong key; a changed byte fails `labgate backup verify`; without a key file there are no
// backups, and a schedule without one is a configuration error.
//
// Test output rule (harness_api.h): never print a token, API key or key file.
#include <Poco/DateTimeFormatter.h>
#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "engine/security/keyring.h"
#include "engine/store/store.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"

namespace labgate::it {
namespace {

class BackupTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    Poco::File(tmp_->file("keys")).createDirectories();
    keyFile_ = tmp_->file("keys/kek.key");
    ASSERT_TRUE(security::writeNewKeyFile(keyFile_).isOk());
    backupDir_ = tmp_->file("backups");  // outside data.dir, as a site would put it
    config_.set("security.key_file", keyFile_);
    config_.set("backup.dir", backupDir_);
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
    api_ = ApiClient(config_.httpPort);
  }

  std::string adminToken() const { return api_.login("default", "admin", kTestAdminPassword); }

  ProgramRun labgate(const std::vector<std::string>& args) const {
    return runProgram(binDir() + "/labgate", args, 300000ms, tmp_->path());
  }

  /// The backup files (.lgb) in the backup directory, sorted by name (= by time).
  std::vector<std::string> backupFiles() const {
    std::vector<std::string> out;
    if (!Poco::File(backupDir_).exists()) return out;
    for (Poco::DirectoryIterator it(backupDir_), end; it != end; ++it) {
      if (it.name().size() > 4 && it.name().substr(it.name().size() - 4) == ".lgb") {
        out.push_back(it.name());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string query(const std::string& db, const std::string& sql) const {
    return storeQuery(db, sql).value_or("<store unreadable>");
  }
  std::string liveDb() const { return config_.dataDir + "/labgate.db"; }
  /// A COUNT(*) of the live store, -1 when the store cannot be read.
  long count(const std::string& sql) const {
    std::string text = query(liveDb(), sql);
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos
               ? std::stol(text)
               : -1;
  }

  /// "labgate-YYYYMMDDTHHMMSSZ.lgb" for a time in seconds since the epoch.
  static std::string nameAt(int64_t unixSeconds) {
    return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(unixSeconds),
                                           "labgate-%Y%m%dT%H%M%SZ.lgb");
  }

  ApiClient api_{0};
  std::string keyFile_;
  std::string backupDir_;
};

std::set<std::string> lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.insert(line);
  return out;
}

// ---------------------------------------------------------------------------------------------
// (a) Under load: everything acknowledged before the backup was asked for is in it.

TEST_F(BackupTest, BackupUnderLoadRestoresEveryAcknowledgedSample) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = adminToken();
  ASSERT_FALSE(token.empty());

  std::mutex mutex;
  std::vector<std::string> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  auto sender = [&](int lane) {
    AstmInstrument instrument(astmPort());
    for (int i = 0; !stop; ++i) {
      const std::string id = "BK" + std::to_string(lane) + "N" + std::to_string(i);
      Transfer t = instrument.sendSession(buildAstmMessage({{id, {{"GLU", "5.4", "mmol/L"}}, {}}}));
      if (!t.complete) {
        ++failures;
        return;
      }
      std::lock_guard<std::mutex> lock(mutex);
      acked.push_back(id);
    }
  };
  auto ackedCount = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return acked.size();
  };
  std::vector<std::thread> senders;
  senders.reserve(2);
  for (int lane = 0; lane < 2; ++lane) senders.emplace_back(sender, lane);

  EXPECT_TRUE(waitUntil([&] { return ackedCount() >= 30 || failures > 0; }, 120000ms));
  std::vector<std::string> before;
  {
    std::lock_guard<std::mutex> lock(mutex);
    before = acked;  // every sample ACKed before the backup call starts
  }
  ApiResponse made = api_.post("/api/v1/backups", "", withBearer(token));
  // Intake goes on after (and while) the backup is taken.
  const size_t atAnswer = ackedCount();
  EXPECT_TRUE(waitUntil([&] { return ackedCount() >= atAnswer + 10 || failures > 0; }, 120000ms))
      << "intake did not continue after the backup";
  stop = true;
  for (auto& t : senders) t.join();
  std::cout << "[ backup   ] " << before.size() << " samples acknowledged before the backup, "
            << atAnswer - before.size() << " while it was taken, " << ackedCount() << " in all\n";
  ASSERT_EQ(failures.load(), 0) << "an instrument's message was not acknowledged";
  ASSERT_EQ(made.status, 201) << made.describe();
  ASSERT_FALSE(before.empty());

  const std::string name = made.text("name");
  const std::string file = backupDir_ + "/" + name;
  ASSERT_TRUE(fileExists(file)) << name;
  EXPECT_TRUE(made.flag("verified"));
  Poco::JSON::Object::Ptr manifest = made.json->getObject("manifest");
  ASSERT_FALSE(manifest.isNull());
  EXPECT_GE(manifest->getValue<int64_t>("messages"), static_cast<int64_t>(before.size()));
  EXPECT_EQ(manifest->getValue<std::string>("audit_head").size(), 64u);

  // The API lists it as verified.
  ApiResponse list = api_.get("/api/v1/backups", withBearer(token));
  ASSERT_EQ(list.status, 200) << list.describe();
  ASSERT_EQ(list.items()->size(), 1u);
  EXPECT_EQ(list.items()->getObject(0)->getValue<std::string>("name"), name);
  EXPECT_TRUE(list.items()->getObject(0)->getValue<bool>("verified"));

  // Restore it with the console into an empty directory.
  const std::string restored = tmp_->file("restored");
  ProgramRun run = labgate({"restore", file, "--key-file", keyFile_, "--data-dir", restored});
  ASSERT_TRUE(run.finished);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_NE(run.out.find("audit chain ok"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("signatures"), std::string::npos) << run.out;

  // Every sample acknowledged before the backup started is there, with its result.
  const std::string db = restored + "/labgate.db";
  std::set<std::string> withResult =
      lines(query(db,
                  "SELECT DISTINCT s.sample_id FROM samples s JOIN results r ON r.sample_row_id = "
                  "s.id WHERE r.instrument_code = 'GLU';"));
  size_t missing = 0;
  for (const auto& id : before) missing += withResult.count(id) ? 0 : 1;
  EXPECT_EQ(missing, 0u) << missing << " of " << before.size()
                         << " acknowledged samples are not in the restored store";
  EXPECT_EQ(query(db, "SELECT COUNT(*) FROM messages;"),
            std::to_string(manifest->getValue<int64_t>("messages")));
  EXPECT_EQ(query(db, "SELECT COUNT(*) FROM results;"),
            std::to_string(manifest->getValue<int64_t>("results")));

  // The audit chain of the restored store verifies (the store's own check, in this process).
  auto kek = security::loadKeyFile(keyFile_, restored);
  ASSERT_TRUE(kek.isOk()) << kek.status().toString();
  auto store = Store::open(restored, std::make_shared<security::Keyring>(kek.value()));
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  Status chain = store.value()->verifyAuditChain();
  EXPECT_TRUE(chain.isOk()) << chain.toString();
  store.value().reset();

  // The live store recorded it.
  EXPECT_EQ(query(liveDb(),
                  "SELECT actor || ' ' || subject FROM audit WHERE action = "
                  "'backup.created';"),
            "user:admin backup:" + name);
  // And a labgated starts on the restored directory, with its accounts.
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  config_.dataDir = restored;
  engine_.reset();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string again = adminToken();
  ASSERT_FALSE(again.empty()) << "the administrator of the restored store cannot log in";
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(again)).status, 200);
}

// ---------------------------------------------------------------------------------------------
// (b) The schedule takes backups on its own.

TEST_F(BackupTest, TheScheduleTakesVerifiedBackups) {
  config_.set("backup.schedule", "every 2 seconds");
  config_.set("backup.keep.hourly", "0");  // keep only the newest
  config_.set("backup.keep.daily", "0");
  ASSERT_NO_FATAL_FAILURE(startEngine());
  EXPECT_TRUE(waitUntil(
      [&] { return count("SELECT COUNT(*) FROM audit WHERE action = 'backup.created';") >= 2; },
      120000ms, 200ms))
      << "fewer than two scheduled backups";
  EXPECT_EQ(query(liveDb(), "SELECT DISTINCT actor FROM audit WHERE action = 'backup.created';"),
            "engine");
  Health h = health();
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h.root->has("last_backup_at") && !h.root->isNull("last_backup_at"));
  ASSERT_NO_FATAL_FAILURE(stopEngine());

  // Retention kept the newest only (stopping waits for a backup in progress and its retention).
  EXPECT_GE(count("SELECT COUNT(*) FROM audit WHERE action = 'backup.deleted';"), 1);
  std::vector<std::string> files = backupFiles();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(query(liveDb(),
                  "SELECT subject FROM audit WHERE action = 'backup.created' ORDER BY "
                  "id DESC LIMIT 1;"),
            "backup:" + files.back());
  ProgramRun run = labgate({"backup", "verify", backupDir_ + "/" + files.back(), "--key-file",
                            keyFile_, "--work-dir", tmp_->path()});
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_NE(run.out.find("verified"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// (c) Retention, with `labgate backup now` and an API key.

TEST_F(BackupTest, RetentionDeletesOldBackupsAfterASuccess) {
  config_.set("backup.keep.hourly", "0");
  config_.set("backup.keep.daily", "5");
  Poco::File(backupDir_).createDirectories();
  // Older backups, by their names: times early in UTC days, so that midnight during the test
  // moves none of them out of the five days kept.
  const int64_t today = Poco::Timestamp().epochTime() / 86400;
  const std::string old = nameAt((today - 40) * 86400 + 3600);
  const std::string twoDaysEarly = nameAt((today - 2) * 86400 + 3600);
  const std::string twoDaysLate = nameAt((today - 2) * 86400 + 7200);
  const std::string yesterday = nameAt((today - 1) * 86400 + 3600);
  for (const auto& n : {old, twoDaysEarly, twoDaysLate, yesterday}) {
    writeFile(backupDir_ + "/" + n, "an older backup (only its name matters here)");
  }
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = adminToken();
  ASSERT_FALSE(token.empty());
  ApiResponse key = api_.post(
      "/api/v1/api-keys",
      Json().set("name", "backup job").set("roles", std::vector<std::string>{"admin"}).str(),
      withBearer(token));
  ASSERT_EQ(key.status, 201) << key.describe();
  const std::string keyPath = tmp_->file("keys/api.key");
  writeFile(keyPath, key.text("key") + "\n");

  ProgramRun run =
      labgate({"backup", "now", "--url", "http://127.0.0.1:" + std::to_string(config_.httpPort),
               "--api-key-file", keyPath});
  ASSERT_TRUE(run.finished);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_NE(run.out.find("written and verified"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("manifest_sha256"), std::string::npos) << run.out;

  std::vector<std::string> files = backupFiles();
  std::set<std::string> present(files.begin(), files.end());
  EXPECT_FALSE(present.count(old)) << "40 days old: deleted";
  EXPECT_FALSE(present.count(twoDaysEarly)) << "not the newest of its day: deleted";
  EXPECT_TRUE(present.count(twoDaysLate)) << "the newest of its day: kept";
  EXPECT_TRUE(present.count(yesterday)) << "the newest of its day: kept";
  EXPECT_EQ(files.size(), 3u);
  EXPECT_EQ(query(liveDb(),
                  "SELECT subject FROM audit WHERE action = 'backup.deleted' ORDER BY "
                  "subject;"),
            "backup:" + old + "\nbackup:" + twoDaysEarly);
  EXPECT_NE(query(liveDb(), "SELECT actor FROM audit WHERE action = 'backup.created';")
                .rfind("apikey:", 0),
            std::string::npos);

  // The list: newest first; only the one this engine wrote is verified.
  ApiResponse list = api_.get("/api/v1/backups", withBearer(token));
  ASSERT_EQ(list.status, 200) << list.describe();
  ASSERT_EQ(list.items()->size(), 3u);
  EXPECT_TRUE(list.items()->getObject(0)->getValue<bool>("verified"));
  EXPECT_FALSE(list.items()->getObject(1)->getValue<bool>("verified"));
  EXPECT_FALSE(list.items()->getObject(2)->getValue<bool>("verified"));

  // A wrong API key: the engine refuses, the console says so.
  writeFile(keyPath, "lgk_not-a-key\n");
  run = labgate({"backup", "now", "--url", "http://127.0.0.1:" + std::to_string(config_.httpPort),
                 "--api-key-file", keyPath});
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_NE(run.err.find("401"), std::string::npos) << run.err;
}

// ---------------------------------------------------------------------------------------------
// (d) Restore refuses a non-empty directory and a wrong key; (e) a changed byte fails verify.

TEST_F(BackupTest, RestoreAndVerifyRefuseWhatTheyMust) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ApiResponse made = api_.post("/api/v1/backups", "", withBearer(adminToken()));
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string file = backupDir_ + "/" + made.text("name");

  // A directory with something in it is never restored into.
  const std::string busy = tmp_->file("busy");
  Poco::File(busy).createDirectories();
  writeFile(busy + "/labgate.db", "someone's live store");
  ProgramRun run = labgate({"restore", file, "--key-file", keyFile_, "--data-dir", busy});
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_NE(run.err.find("not an empty directory"), std::string::npos) << run.err;
  EXPECT_EQ(readFile(busy + "/labgate.db"), "someone's live store");

  // Another key: refused, naming the key the backup needs; the directory stays empty.
  const std::string otherKey = tmp_->file("keys/other.key");
  ASSERT_TRUE(security::writeNewKeyFile(otherKey).isOk());
  const std::string target = tmp_->file("target");
  run = labgate({"restore", file, "--key-file", otherKey, "--data-dir", target});
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 1);
  auto kek = security::loadKeyFile(keyFile_, "");
  ASSERT_TRUE(kek.isOk());
  EXPECT_NE(run.err.find(kek.value().fingerprint), std::string::npos) << run.err;
  EXPECT_TRUE(listFilesRecursive(target).empty()) << "a refused restore left files behind";

  // One byte flipped (in the middle, in the sealed database): verify fails; the original passes.
  std::string bytes = readFile(file);
  ASSERT_GT(bytes.size(), 1000u);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
  const std::string changed = tmp_->file("changed.lgb");
  writeFile(changed, bytes);
  run = labgate({"backup", "verify", changed, "--key-file", keyFile_, "--work-dir", tmp_->path()});
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_NE(run.err.find("NOT VERIFIED"), std::string::npos) << run.err;
  run = labgate({"backup", "verify", file, "--key-file", keyFile_, "--work-dir", tmp_->path()});
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 0) << run.err;
  // And the changed file does not restore either.
  run = labgate({"restore", changed, "--key-file", keyFile_, "--data-dir", target});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_TRUE(listFilesRecursive(target).empty());

  // The console's usage answers.
  run = labgate({"backup", "--help"});
  EXPECT_EQ(run.exitCode, 0);
  EXPECT_NE(run.out.find("backup verify"), std::string::npos);
  run = labgate({"restore", "--help"});
  EXPECT_EQ(run.exitCode, 0);
  EXPECT_NE(run.out.find("--data-dir"), std::string::npos);
  run = labgate({"restore", file});
  EXPECT_EQ(run.exitCode, 2);
}

// ---------------------------------------------------------------------------------------------
// Without a key file there are no backups.

TEST_F(BackupTest, WithoutAKeyFileThereAreNoBackups) {
  config_.omit("security.key_file");
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = adminToken();
  ApiResponse made = api_.post("/api/v1/backups", "", withBearer(token));
  EXPECT_EQ(made.status, 503) << made.describe();
  EXPECT_NE(made.text("detail").find("security.key_file"), std::string::npos);
  EXPECT_EQ(api_.get("/api/v1/backups", withBearer(token)).status, 503);
  EXPECT_FALSE(health().root->has("last_backup_at"));
  ASSERT_NO_FATAL_FAILURE(stopEngine());

  // A schedule without a key file stops start-up, naming backup.schedule.
  config_.set("backup.schedule", "hourly");
  config_.write(configPath_);
  ProgramRun run =
      runProgram(binDir() + "/labgated", {"--config", configPath_}, 20000ms, tmp_->path());
  ASSERT_TRUE(run.finished);
  EXPECT_NE(run.exitCode, 0);
  EXPECT_NE(run.err.find("backup.schedule"), std::string::npos) << run.err.substr(0, 300);
}

}  // namespace
}  // namespace labgate::it
