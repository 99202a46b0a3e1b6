// Issue 18, findings 17 and 11 (keys and files) against the real labgated and labgate:
// - a backup overwritten after it was verified is listed `verified: false` (the verification is
//   bound to the file's SHA-256, not to its name) and fails `labgate backup verify`; the engine
//   goes on serving and its next backup is verified;
// - a key file with a second name (a hard link) inside data.dir, and a key file owned by another
//   user, are refused by --check-config and at start-up, naming the file and what to do;
// - a TLS private key that group or others may read is refused by --check-config and at start-up
//   (naming tls.key, the file and chmod 600), TLS file errors name the file in words;
// - everything labgated creates under data.dir (database, -wal, -shm, log, backups, sealed bodies,
//   the directories) has no group/other permission bit, also when started with umask 022.
//
// Test output rule (harness_api.h): never print a token, an API key or a key file's content.
#include <Poco/File.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/security/crypto.h"
#include "engine/security/keyring.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"

namespace labgate::it {
namespace {

namespace fs = std::filesystem;

constexpr int kExitConfig = 78;  // labgated's exit status for a configuration error

mode_t modeOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return static_cast<mode_t>(-1);
  return st.st_mode & 07777;
}

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
  return text;
}

/// Sets the umask of the test process (inherited by labgated) for the scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t old_;
};

class SecurityKeysTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
    keysDir_ = tmp_->file("keys");
    Poco::File(keysDir_).createDirectories();
    ::chmod(keysDir_.c_str(), 0700);
    keyFile_ = keysDir_ + "/kek.key";
    ASSERT_TRUE(security::writeNewKeyFile(keyFile_).isOk());
    config_.set("security.key_file", keyFile_);
    api_ = ApiClient(config_.httpPort);
  }

  std::string adminToken() const {
    ApiResponse r;
    std::string token = api_.login("default", "admin", kTestAdminPassword, "", &r);
    EXPECT_FALSE(token.empty()) << "admin login: " << r.describe();
    return token;
  }

  /// `labgated --check-config` on the current configuration.
  ProgramRun checkConfig() {
    config_.write(configPath_);
    return runProgram(binDir() + "/labgated", {"--check-config", "--config", configPath_}, 60000ms,
                      tmp_->path());
  }
  /// labgated run to completion with the current configuration (a start-up that must fail).
  ProgramRun refusedStart() {
    config_.write(configPath_);
    return runProgram(binDir() + "/labgated", {"--config", configPath_}, 60000ms, tmp_->path());
  }
  ProgramRun labgate(const std::vector<std::string>& args) const {
    return runProgram(binDir() + "/labgate", args, 300000ms, tmp_->path());
  }

  /// Both --check-config (exit 1) and a start (exit 78) refuse, and each says every one of
  /// `words` on stderr.
  void expectRefusedEverywhere(const std::vector<std::string>& words) {
    ProgramRun check = checkConfig();
    ASSERT_TRUE(check.finished);
    EXPECT_EQ(check.exitCode, 1) << check.err;
    ProgramRun start = refusedStart();
    ASSERT_TRUE(start.finished) << "labgated started although it must refuse";
    EXPECT_EQ(start.exitCode, kExitConfig) << start.err;
    for (const auto& w : words) {
      EXPECT_NE(check.err.find(w), std::string::npos)
          << "--check-config: \"" << w << "\" not in: " << check.err;
      EXPECT_NE(start.err.find(w), std::string::npos)
          << "start: \"" << w << "\" not in: " << start.err;
    }
  }

  /// One ASTM message accepted and delivered to the fake LIS: the engine serves.
  void expectAMessageGoesThrough(const std::string& sampleId) {
    AstmInstrument instrument(astmPort());
    Transfer t =
        instrument.sendSession(buildAstmMessage({{sampleId, {{"GLU", "5.4", "mmol/L"}}, {}}}));
    EXPECT_TRUE(t.complete) << "ASTM transfer not acknowledged";
    EXPECT_TRUE(waitForSample(sampleId)) << sampleId << " did not reach the LIS";
  }

  /// `verified` of backup `name` in GET /api/v1/backups: 1, 0, or -1 when not listed.
  int listedVerified(const std::string& token, const std::string& name) const {
    ApiResponse list = api_.get("/api/v1/backups", withBearer(token));
    EXPECT_EQ(list.status, 200) << list.describe();
    auto items = list.items();
    for (size_t i = 0; i < items->size(); ++i) {
      auto o = items->getObject(static_cast<unsigned>(i));
      if (o->getValue<std::string>("name") == name) return o->getValue<bool>("verified") ? 1 : 0;
    }
    return -1;
  }

  ApiClient api_{0};
  std::string keysDir_;
  std::string keyFile_;
};

// ---- finding 17: verified is bound to the file's digest ----------------------------------------

TEST_F(SecurityKeysTest, ABackupOverwrittenWithRandomBytesIsListedUnverifiedAndFailsVerify) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = adminToken();
  ApiResponse made = api_.post("/api/v1/backups", "", withBearer(token));
  ASSERT_EQ(made.status, 201) << made.describe();
  EXPECT_TRUE(made.flag("verified"));
  const std::string name = made.text("name");
  const std::string file = config_.dataDir + "/backups/" + name;
  ASSERT_TRUE(fileExists(file));
  EXPECT_EQ(listedVerified(token, name), 1);

  // Overwritten in place with random bytes of the same size, and its mtime put back (as an
  // attacker hiding the change would): the name is the same, the content is not.
  struct stat before {};
  ASSERT_EQ(::stat(file.c_str(), &before), 0);
  writeFile(file, security::randomBytes(static_cast<size_t>(before.st_size)));
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);

  EXPECT_EQ(listedVerified(token, name), 0) << "a file overwritten with random bytes is listed "
                                               "as verified";
  EXPECT_EQ(listedVerified(token, name), 0);
  EXPECT_TRUE(waitUntil(
      [&] {
        return engine_->stderrText().find("backup " + name + " is listed unverified") !=
               std::string::npos;
      },
      10000ms))
      << "no warning in the log";

  // The offline check fails on it too.
  ProgramRun verify =
      labgate({"backup", "verify", file, "--key-file", keyFile_, "--work-dir", tmp_->path()});
  ASSERT_TRUE(verify.finished);
  EXPECT_NE(verify.exitCode, 0) << verify.out;
  EXPECT_NE(verify.err.find("NOT VERIFIED"), std::string::npos) << verify.err;

  // The engine goes on serving: /health, a message, and its next backup is verified.
  EXPECT_TRUE(health().ok());
  ASSERT_NO_FATAL_FAILURE(expectAMessageGoesThrough(newSampleId("BKV")));
  ApiResponse next = api_.post("/api/v1/backups", "", withBearer(token));
  ASSERT_EQ(next.status, 201) << next.describe();
  EXPECT_EQ(listedVerified(token, next.text("name")), 1);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

// ---- finding 17: the key file's other names and its owner --------------------------------------

TEST_F(SecurityKeysTest, AKeyFileHardLinkedIntoTheDataDirectoryIsRefused) {
  // The key file lies outside data.dir, as it must; a second name for it inside data.dir is
  // invisible to a comparison of paths.
  const std::string inside = config_.dataDir + "/notes.txt";
  ASSERT_EQ(::link(keyFile_.c_str(), inside.c_str()), 0);
  ASSERT_NO_FATAL_FAILURE(expectRefusedEverywhere(
      {"security.key_file", keyFile_, "has 2 hard links", "find / -xdev -samefile " + keyFile_}));
  // With the other name gone the engine starts and serves.
  ASSERT_EQ(::unlink(inside.c_str()), 0);
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ASSERT_NO_FATAL_FAILURE(expectAMessageGoesThrough(newSampleId("HL")));
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(SecurityKeysTest, AKeyFileOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "giving a file to another user needs root";
  ASSERT_EQ(::chown(keyFile_.c_str(), 65534, 65534), 0);  // nobody
  ASSERT_NO_FATAL_FAILURE(expectRefusedEverywhere(
      {"security.key_file", keyFile_ + " is owned by uid 65534",
       "must be owned by root or by the user labgated runs as", "chown root " + keyFile_}));
  ASSERT_EQ(::chown(keyFile_.c_str(), 0, 0), 0);
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  EXPECT_TRUE(health().ok());
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

// ---- finding 11: the TLS key's mode, TLS file errors in words ----------------------------------

TEST_F(SecurityKeysTest, ATlsKeyOthersCanReadIsRefusedByCheckConfigAndAtStart) {
  std::string cert, key, why;
  ASSERT_TRUE(makeTestCertificate(tmp_->path(), &cert, &key, &why)) << why;
  const int httpsPort = freePort();
  config_.set("https.listen", "127.0.0.1:" + std::to_string(httpsPort));
  config_.set("tls.cert", cert);
  config_.set("tls.key", key);

  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  ASSERT_NO_FATAL_FAILURE(
      expectRefusedEverywhere({"tls.key", key, "mode 0644", "chmod 600 " + key}));
  ASSERT_EQ(::chmod(key.c_str(), 0640), 0);
  ASSERT_NO_FATAL_FAILURE(expectRefusedEverywhere({"tls.key", key, "mode 0640"}));

  // A missing certificate is named with its path, in words, without the TLS library's text.
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  const std::string missing = tmp_->file("no-such-cert.pem");
  config_.set("tls.cert", missing);
  ProgramRun check = checkConfig();
  EXPECT_EQ(check.exitCode, 1);
  EXPECT_NE(check.err.find("tls.cert: " + missing + " does not exist"), std::string::npos)
      << check.err;
  // The key file given as the certificate: no certificate in it (words, not OpenSSL's).
  config_.set("tls.cert", key);
  check = checkConfig();
  EXPECT_EQ(check.exitCode, 1);
  EXPECT_NE(check.err.find(key + " holds no PEM certificate"), std::string::npos) << check.err;
  EXPECT_EQ(check.err.find("error:"), std::string::npos) << check.err;

  // At 0600 the engine starts and serves HTTPS.
  config_.set("tls.cert", cert);
  check = checkConfig();
  EXPECT_EQ(check.exitCode, 0) << check.err;
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ApiResponse healthOverTls = ApiClient(httpsPort, true).get("/health");
  EXPECT_EQ(healthOverTls.status, 200) << healthOverTls.describe();
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

// ---- finding 11: the files labgated creates are its own only -----------------------------------

TEST_F(SecurityKeysTest, EverythingCreatedUnderTheDataDirectoryIsPrivateEvenUnderUmask022) {
  ScopedUmask mask(022);  // labgated inherits it, as from a shell outside systemd
  // A data directory labgated creates itself, and a watched folder (outside it) whose exports
  // leave sealed body files under data.dir/bodies.
  config_.dataDir = tmp_->file("fresh/data");
  const std::string inbox = tmp_->file("inbox");
  Poco::File(inbox).createDirectories();
  ConnectorConfig drop;
  drop.name = "lcms1";
  drop.kind = "file-drop";
  drop.instrument = "qqq-01";
  drop.mappings = testDataDir() + "/exports/mappings-lcms.csv";
  drop.extra = {{"inbox", inbox}, {"poll_ms", "100"}, {"settle_ms", "300"}};
  config_.connectors.push_back(drop);
  config_.omit("connector.lcms1.listen");
  config_.omit("connector.lcms1.astm.receive_timeout_seconds");

  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ASSERT_NO_FATAL_FAILURE(expectAMessageGoesThrough(newSampleId("UM")));
  const std::string dropped = inbox + "/batch.csv";
  writeFile(dropped, readFile(testDataDir() + "/exports/steroids_batch.csv"));
  EXPECT_EQ(modeOf(dropped), 0644u) << "the test's own umask is not 022";
  const std::string bodies = config_.dataDir + "/bodies";
  EXPECT_TRUE(waitUntil(
      [&] { return fs::exists(bodies) && !fs::is_empty(bodies) && !fileExists(dropped); }, 30000ms))
      << "the export was not imported";
  ApiResponse made = api_.post("/api/v1/backups", "", withBearer(adminToken()));
  ASSERT_EQ(made.status, 201) << made.describe();

  auto expectPrivate = [&](const std::string& when) {
    std::vector<std::string> seen;
    std::vector<std::string> entries = {tmp_->file("fresh"), config_.dataDir};
    for (const auto& e : fs::recursive_directory_iterator(config_.dataDir)) {
      entries.push_back(e.path().string());
    }
    for (const auto& path : entries) {
      const mode_t mode = modeOf(path);
      EXPECT_EQ(mode & 077, 0u) << when << ": " << path << " has mode " << octal(mode);
      seen.push_back(fs::path(path).lexically_relative(config_.dataDir).string());
    }
    return seen;
  };
  std::vector<std::string> running = expectPrivate("while running");
  for (const std::string& expected : std::vector<std::string>{
           "labgate.db", "labgate.db-wal", "labgate.db-shm", "logs", "logs/labgated.log", "backups",
           "backups/" + made.text("name"), "bodies"}) {
    EXPECT_NE(std::find(running.begin(), running.end(), expected), running.end())
        << expected << " was not there to check";
  }
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectPrivate("after the stop");
}

}  // namespace
}  // namespace labgate::it
