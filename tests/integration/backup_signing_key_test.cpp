// The server's signing key survives a backup and a restore (issue 13, docs/backup.md): a batch
// approved with an electronic signature, a backup taken through the API, `labgate backup verify`
// and `labgate restore` into a new data directory, and a labgated started there answers the same
// public key and still verifies the old signature online. A backup of an older format (no signing
// key) still restores; the engine then makes a new key and warns that the old signatures fail
// online verification, naming both keys, and the verification says which key signed.
//
// Test output rule: failures print status and problem detail (ApiResponse::describe), never a
// password, token or key file.
#include <Poco/Path.h>

#include "engine/security/keyring.h"
#include "engine/store/backup.h"
#include "engine/store/store.h"
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

class BackupSigningKeyTest : public AccountsTest {
 protected:
  void SetUp() override {
    AccountsTest::SetUp();
    Poco::File(tmp_->file("keys")).createDirectories();
    keyFile_ = tmp_->file("keys/kek.key");
    ASSERT_TRUE(security::writeNewKeyFile(keyFile_).isOk());
    config_.set("security.key_file", keyFile_);
    config_.set("backup.dir", tmp_->file("backups"));
  }

  ProgramRun labgate(const std::vector<std::string>& args) const {
    return runProgram(binDir() + "/labgate", args, 300000ms, tmp_->path());
  }

  /// A batch with a held (unmapped) result, reviewed by one person and approved by another: the
  /// approval's signature id (0 on failure, recorded as a test failure).
  int64_t approvedBatch(const std::string& admin) {
    const Account reviewer = createAccount(admin, "rev", {"qa-reviewer"});
    const Account approver = createAccount(admin, "appr", {"qa-approver"});
    const std::string sampleId = newSampleId("BK");
    AstmInstrument instrument(astmPort());
    Transfer t = instrument.sendSession(buildAstmMessage(
        {{sampleId, {{"GLU", "5.1", "mmol/L"}, {"ZZNOTMAPPED", "12", "U/L"}}, {}}}));
    EXPECT_TRUE(t.complete) << "the instrument's message was not acknowledged";
    const std::string row = sampleRowId(reviewer.token, sampleId);
    EXPECT_FALSE(row.empty());
    if (row.empty()) return 0;
    const std::string batch = std::to_string(
        api_.get("/api/v1/samples/" + row, withBearer(reviewer.token)).number("message_id", 0));
    int64_t id = 0;
    for (const auto& [who, meaning] :
         {std::pair{reviewer, "reviewed"}, std::pair{approver, "approved"}}) {
      ApiResponse b = api_.get("/api/v1/batches/" + batch, withBearer(who.token));
      EXPECT_EQ(b.status, 200) << b.describe();
      ApiResponse s = api_.post("/api/v1/signatures",
                                Json()
                                    .set("subject", "batch:" + batch)
                                    .set("meaning", meaning)
                                    .set("record_sha256", b.text("record_sha256"))
                                    .set("password", who.password)
                                    .str(),
                                withBearer(who.token));
      EXPECT_EQ(s.status, 201) << meaning << ": " << s.describe();
      id = s.number("id", 0);
    }
    return id;
  }

  ApiResponse verification(const std::string& token, int64_t signature) {
    return api_.get("/api/v1/signatures/" + std::to_string(signature) + "/verification",
                    withBearer(token));
  }

  /// Starts labgated again on `dataDir`.
  void restartOn(const std::string& dataDir) {
    ASSERT_NO_FATAL_FAILURE(stopEngine());
    config_.dataDir = dataDir;
    engine_.reset();
    ASSERT_NO_FATAL_FAILURE(startEngine());
  }

  std::string keyFile_;
};

TEST_F(BackupSigningKeyTest, ARestoredEngineKeepsTheKeyAndVerifiesOldSignatures) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  std::string admin = adminToken();
  const int64_t signature = approvedBatch(admin);
  ASSERT_GT(signature, 0);
  ApiResponse key = api_.get("/api/v1/signing-key", withBearer(admin));
  ASSERT_EQ(key.status, 200) << key.describe();
  const std::string pem = key.body;
  const std::string keyId = key.header("X-Labgate-Key-Id");
  ASSERT_EQ(keyId.size(), 16u);
  ASSERT_TRUE(verification(admin, signature).flag("valid"));

  // The backup names the key it carries.
  ApiResponse made = api_.post("/api/v1/backups", "", withBearer(admin));
  ASSERT_EQ(made.status, 201) << made.describe();
  EXPECT_EQ(str(made.json->getObject("manifest"), "signing_key"), keyId);
  EXPECT_NE(storeQuery(config_.dataDir + "/labgate.db",
                       "SELECT detail FROM audit WHERE action = 'backup.created';")
                .value_or("")
                .find("\"signing_key\":\"" + keyId + "\""),
            std::string::npos)
      << "backup.created names the key it carries";
  ApiResponse listed = api_.get("/api/v1/backups", withBearer(admin));
  ASSERT_EQ(listed.status, 200) << listed.describe();
  EXPECT_EQ(str(itemsOf(listed).at(0)->getObject("manifest"), "signing_key"), keyId);
  const std::string file = tmp_->file("backups/" + made.text("name"));
  EXPECT_EQ(readFile(file).find("PRIVATE KEY"), std::string::npos) << "the key is carried sealed";

  ProgramRun run =
      labgate({"backup", "verify", file, "--key-file", keyFile_, "--work-dir", tmp_->path()});
  ASSERT_TRUE(run.finished);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_NE(run.out.find("signing key: " + keyId), std::string::npos) << run.out;

  const std::string restored = tmp_->file("restored");
  run = labgate({"restore", file, "--key-file", keyFile_, "--data-dir", restored});
  ASSERT_TRUE(run.finished);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_NE(run.out.find("signing key: " + keyId), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("restored to signing-key.sealed"), std::string::npos) << run.out;
  EXPECT_TRUE(fileExists(restored + "/signing-key.sealed"));

  // A labgated on the restored directory: the same public key, the old signature valid online.
  ASSERT_NO_FATAL_FAILURE(restartOn(restored));
  admin = adminToken();
  ApiResponse again = api_.get("/api/v1/signing-key", withBearer(admin));
  ASSERT_EQ(again.status, 200) << again.describe();
  EXPECT_EQ(again.body, pem) << "the restored engine has another signing key";
  ApiResponse valid = verification(admin, signature);
  ASSERT_EQ(valid.status, 200) << valid.describe();
  EXPECT_TRUE(valid.flag("valid")) << valid.text("reason");
  EXPECT_EQ(engine_->stderrText().find("fail online verification"), std::string::npos)
      << "no warning when the key is the one that signed";
}

TEST_F(BackupSigningKeyTest, ABackupWithoutTheKeyRestoresAndTheEngineWarns) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  std::string admin = adminToken();
  const int64_t signature = approvedBatch(admin);
  ASSERT_GT(signature, 0);
  const std::string oldKeyId =
      api_.get("/api/v1/signing-key", withBearer(admin)).header("X-Labgate-Key-Id");
  ASSERT_NO_FATAL_FAILURE(stopEngine());

  // A backup as an older labgated wrote it: format 1, no signing key.
  auto kek = security::loadKeyFile(keyFile_, config_.dataDir);
  ASSERT_TRUE(kek.isOk()) << kek.status().toString();
  std::string name;
  {
    auto store = Store::open(config_.dataDir, std::make_shared<security::Keyring>(kek.value()));
    ASSERT_TRUE(store.isOk()) << store.status().toString();
    auto made = backup::createBackup(*store.value(), kek.value(), tmp_->file("old-backups"),
                                     config_.dataDir + "/bodies", tmp_->file("work"), 1795000000);
    ASSERT_TRUE(made.isOk()) << made.status().toString();
    name = made.value().name;
  }
  const std::string file = tmp_->file("old-backups/" + name);
  ProgramRun run =
      labgate({"backup", "verify", file, "--key-file", keyFile_, "--work-dir", tmp_->path()});
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_NE(run.out.find("signing key: NONE"), std::string::npos) << run.out;

  const std::string restored = tmp_->file("restored");
  run = labgate({"restore", file, "--key-file", keyFile_, "--data-dir", restored});
  ASSERT_TRUE(run.finished);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_NE(run.out.find("signing key: NONE"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("GET /api/v1/signing-key"), std::string::npos) << run.out;
  EXPECT_FALSE(fileExists(restored + "/signing-key.sealed"));

  ASSERT_NO_FATAL_FAILURE(restartOn(restored));
  admin = adminToken();
  const std::string newKeyId =
      api_.get("/api/v1/signing-key", withBearer(admin)).header("X-Labgate-Key-Id");
  EXPECT_NE(newKeyId, oldKeyId);
  const std::string log = engine_->stderrText();
  // Two signatures: the review and the approval.
  const size_t warning = log.find(
      "2 electronic signature(s) in the store were made with signing "
      "key " +
      oldKeyId + ", not with this server's key " + newKeyId + " (a new key: data.dir held none)");
  EXPECT_NE(warning, std::string::npos) << log.substr(0, 2000);
  EXPECT_NE(log.find("labgate verify-signature", warning), std::string::npos);
  ApiResponse invalid = verification(admin, signature);
  ASSERT_EQ(invalid.status, 200) << invalid.describe();
  EXPECT_FALSE(invalid.flag("valid", true));
  EXPECT_NE(invalid.text("reason").find(oldKeyId), std::string::npos) << invalid.text("reason");
}

}  // namespace
}  // namespace labgate::it::accounts
