// Encryption at rest (issue 6, docs/encryption.md, ADR 0008) against the real labgated: a key file
// made by `labgate keygen`; the received bytes of an accepted message stored sealed (a token that
// only the raw bytes carry is found nowhere under data.dir) and read back decrypted through
// GET /api/v1/messages/{id}/raw; no body for a message the gate stripped or without a key file;
// start-up refusing a key file readable by others, one inside data.dir, and a wrong key (naming
// the fingerprints); KEK rotation by re-wrapping; the background re-encryption.
//
// Test output rule: failures print statuses, labels and fingerprints, never key material or a
// body (ApiResponse::describe()).
#include <Poco/File.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "engine/security/keyring.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"
#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

/// Appears only in the raw bytes: an ASTM comment record attached to the order (before any
/// result), which the canonical model does not keep. 24 characters, no PHI pattern.
constexpr const char* kToken = "LGRAW7Q2XK9WRZ4MVB8NDPTT";

std::string exportData(const std::string& name) { return testDataDir() + "/exports/" + name; }

std::string str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (o.isNull() || !o->has(key) || o->isNull(key)) return {};
  return o->get(key).convert<std::string>();
}

class EncryptionTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
    keysDir_ = tmp_->file("keys");
    Poco::File(keysDir_).createDirectories();
    ::chmod(keysDir_.c_str(), 0700);
    api_ = ApiClient(config_.httpPort);
  }

  /// `labgate keygen` writes a new key file; returns its path.
  std::string keygen(const std::string& name) {
    std::string path = keysDir_ + "/" + name;
    ProgramRun run = runProgram(binDir() + "/labgate", {"keygen", path}, 20000ms, tmp_->path());
    EXPECT_TRUE(run.finished && run.exitCode == 0) << "labgate keygen: " << run.err;
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "mode of the new key file";
    const std::string text = readFile(path);
    EXPECT_EQ(text.size(), 45u);
    EXPECT_EQ(run.out.find(text.substr(0, 20)), std::string::npos) << "keygen printed the key";
    return path;
  }

  static std::string fingerprintOf(const std::string& keyFile) {
    StatusOr<security::KeyEncryptionKey> kek = security::loadKeyFile(keyFile, "");
    EXPECT_TRUE(kek.isOk()) << kek.status().toString();
    return kek.isOk() ? kek->fingerprint : std::string();
  }

  /// A session of "admin" that may also read raw bodies and the audit trail (roles granted
  /// through the API, as an operator would).
  std::string operatorToken() {
    ApiResponse r;
    std::string token = api_.login("default", "admin", kTestAdminPassword, "", &r);
    EXPECT_FALSE(token.empty()) << "admin login: " << r.describe();
    ApiResponse users = api_.get("/api/v1/users", withBearer(token));
    std::string id;
    auto items = users.items();
    for (size_t i = 0; i < items->size(); ++i) {
      auto o = items->getObject(static_cast<unsigned>(i));
      if (str(o, "username") == "admin") id = str(o, "id");
    }
    EXPECT_FALSE(id.empty()) << users.describe();
    ApiResponse patched = api_.patch(
        "/api/v1/users/" + id,
        Json().set("roles", std::vector<std::string>{"admin", "lis-admin", "auditor"}).str(),
        withBearer(token));
    EXPECT_EQ(patched.status, 200) << patched.describe();
    return token;
  }

  /// One ASTM message through `port` whose raw bytes carry `token` in an order comment.
  void sendWithToken(int port, const std::string& sampleId, const std::string& token,
                     const std::map<int, std::string>& patient = {}) {
    std::vector<std::string> records =
        buildAstmMessage({{sampleId, {{"GLU", "5.6", "mmol/L"}}, {}}}, patient);
    for (size_t i = 0; i < records.size(); ++i) {
      if (!records[i].empty() && records[i][0] == 'O') {
        records.insert(records.begin() + static_cast<long>(i) + 1,
                       astm::record('C', {{2, "1"}, {3, "I"}, {4, token}, {5, "G"}}));
        break;
      }
    }
    AstmInstrument instrument(port);
    Transfer t = instrument.sendSession(records);
    ASSERT_TRUE(t.complete) << "ASTM transfer of " << sampleId << " not acknowledged";
  }

  /// The message id of sample `sampleId` (polls: the commit follows the ACK).
  std::string messageIdOf(const std::string& token, const std::string& sampleId) {
    std::string id;
    waitUntil(
        [&] {
          ApiResponse r = api_.get("/api/v1/samples?sample_id=" + sampleId, withBearer(token));
          auto items = r.items();
          for (size_t i = 0; i < items->size(); ++i) {
            auto o = items->getObject(static_cast<unsigned>(i));
            if (str(o, "sample_id") == sampleId) id = str(o, "message_id");
          }
          return !id.empty();
        },
        15000ms, 100ms);
    return id;
  }

  ApiResponse raw(const std::string& token, const std::string& messageId) {
    return api_.get("/api/v1/messages/" + messageId + "/raw", withBearer(token));
  }

  /// labgated run to completion with the current configuration (a start-up that must fail).
  ProgramRun refusedStart() {
    config_.write(configPath_);
    return runProgram(binDir() + "/labgated", {"--config", configPath_}, 20000ms, tmp_->path());
  }

  std::vector<std::string> dataFiles() const { return listFilesRecursive(config_.dataDir); }

  std::string keysDir_;
  ApiClient api_{0};
};

TEST_F(EncryptionTest, RawBytesAreSealedAtRestAndReadBackThroughTheApi) {
  const std::string key = keygen("kek");
  config_.set("security.key_file", key);
  ConnectorConfig strip;
  strip.name = "lab2";
  strip.port = freePort();
  strip.mappings = defaultMappingsPath();
  strip.phiPolicy = "strip";
  config_.connectors.push_back(strip);
  ConnectorConfig upload;
  upload.name = "up1";
  upload.kind = "upload";
  upload.instrument = "qqq-01";
  upload.mappings = exportData("mappings-lcms.csv");
  upload.extra["max_bytes"] = "200000";
  config_.connectors.push_back(upload);
  config_.omit("connector.up1.listen");
  config_.omit("connector.up1.astm.receive_timeout_seconds");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = operatorToken();

  const std::string sampleId = newSampleId("ENC");
  ASSERT_NO_FATAL_FAILURE(sendWithToken(astmPort(), sampleId, kToken));
  const std::string messageId = messageIdOf(token, sampleId);
  ASSERT_FALSE(messageId.empty()) << "the message was not stored";

  ApiResponse body = raw(token, messageId);
  ASSERT_EQ(body.status, 200) << body.describe();
  EXPECT_EQ(body.contentType().rfind("application/octet-stream", 0), 0u) << body.contentType();
  EXPECT_NE(body.body.find(kToken), std::string::npos) << "the raw bytes lack the token";
  EXPECT_NE(body.body.find("O|1|" + sampleId), std::string::npos);

  // Nowhere under data.dir, the WAL included, while the engine runs and after it stopped.
  const std::vector<Secret> secrets = {{"raw-body token", kToken}};
  ASSERT_TRUE(fileExists(config_.dataDir + "/labgate.db"));
  // The search sees the database: the sample id, canonical content kept in the clear, is found.
  EXPECT_FALSE(findSecretsInFiles(dataFiles(), {{"sample id", sampleId}}).empty());
  for (const auto& hit : findSecretsInFiles(dataFiles(), secrets)) {
    ADD_FAILURE() << hit.label << " found in " << hit.where;
  }
  // No body for a message whose bytes held what the gate stripped (P-6), nor for an unknown id.
  const std::string strippedSample = newSampleId("STR");
  ASSERT_NO_FATAL_FAILURE(
      sendWithToken(strip.port, strippedSample, "NOTSTOREDEITHER12345", {{6, "Doe^Jane"}}));
  const std::string strippedId = messageIdOf(token, strippedSample);
  ASSERT_FALSE(strippedId.empty()) << "the stripped message was not stored";
  EXPECT_EQ(raw(token, strippedId).status, 404);
  EXPECT_EQ(raw(token, "999999").status, 404);

  // Another organisation's administrator never sees it.
  ApiResponse org = api_.post("/api/v1/organisations",
                              Json()
                                  .set("id", "other-lab")
                                  .set("name", "Other lab")
                                  .set("admin", Json()
                                                    .set("username", "chief")
                                                    .set("printed_name", "Chief")
                                                    .set("password", "Quarry-Violet-Anchor-5531"))
                                  .str(),
                              withBearer(token));
  ASSERT_EQ(org.status, 201) << org.describe();
  std::string other = api_.login("other-lab", "chief", "Quarry-Violet-Anchor-5531");
  ASSERT_FALSE(other.empty());
  ASSERT_TRUE(api_.post("/api/v1/me/password",
                        Json()
                            .set("current_password", "Quarry-Violet-Anchor-5531")
                            .set("new_password", "Lantern-Walnut-Orbit-8820")
                            .str(),
                        withBearer(other))
                  .ok());
  other = api_.login("other-lab", "chief", "Lantern-Walnut-Orbit-8820");
  ASSERT_FALSE(other.empty());
  ApiResponse me = api_.get("/api/v1/me", withBearer(other));
  const std::string chiefId = str(me.json->getObject("user"), "id");
  ASSERT_EQ(api_.patch("/api/v1/users/" + chiefId,
                       Json().set("roles", std::vector<std::string>{"admin", "lis-admin"}).str(),
                       withBearer(other))
                .status,
            200);
  EXPECT_EQ(raw(other, messageId).status, 404);
  EXPECT_EQ(api_.get("/api/v1/messages/" + messageId + "/raw").status, 401);

  // An upload is stored as a sealed file under data.dir/bodies and read back byte for byte.
  ApiResponse apiKey = api_.post(
      "/api/v1/api-keys",
      Json().set("name", "instrument").set("roles", std::vector<std::string>{"instrument"}).str(),
      withBearer(token));
  ASSERT_EQ(apiKey.status, 201) << apiKey.describe();
  const std::string batch = readFile(exportData("steroids_batch.csv"));
  ApiResponse up = api_.post("/api/v1/uploads?connector=up1&filename=batch.csv", batch,
                             withBearer(apiKey.text("key"), {{"Content-Type", "text/csv"}}));
  ASSERT_EQ(up.status, 202) << up.describe();
  ApiResponse file = raw(token, std::to_string(up.number("batch_id")));
  ASSERT_EQ(file.status, 200) << file.describe();
  EXPECT_TRUE(file.body == batch) << "the export read back differs from the upload";
  EXPECT_FALSE(listFilesRecursive(config_.dataDir + "/bodies").empty());

  ASSERT_NO_FATAL_FAILURE(stopEngine());
  const std::vector<Secret> after = {{"raw-body token", kToken},
                                     {"stripped message's token", "NOTSTOREDEITHER12345"},
                                     {"export header", "Acq. Date-Time,RT,Area,Final Conc."}};
  for (const auto& hit : findSecretsInFiles(dataFiles(), after)) {
    ADD_FAILURE() << hit.label << " found in " << hit.where;
  }
}

// ADR 0017: an export read in windows is sealed as the whole-file path seals it (after the last
// window, from the file's start) and read back byte for byte.
TEST_F(EncryptionTest, AnExportReadInWindowsIsSealedWhole) {
  config_.set("security.key_file", keygen("kek"));
  config_.set("export.window_results", "2");
  ConnectorConfig upload;
  upload.name = "up1";
  upload.kind = "upload";
  upload.instrument = "qqq-01";
  upload.mappings = exportData("mappings-lcms.csv");
  upload.extra["max_bytes"] = "200000";
  config_.connectors.push_back(upload);
  config_.omit("connector.up1.listen");
  config_.omit("connector.up1.astm.receive_timeout_seconds");
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = operatorToken();
  ApiResponse apiKey = api_.post(
      "/api/v1/api-keys",
      Json().set("name", "instrument").set("roles", std::vector<std::string>{"instrument"}).str(),
      withBearer(token));
  ASSERT_EQ(apiKey.status, 201) << apiKey.describe();
  const std::string batch = readFile(exportData("steroids_batch.csv"));
  ApiResponse up = api_.post("/api/v1/uploads?connector=up1&filename=batch.csv", batch,
                             withBearer(apiKey.text("key"), {{"Content-Type", "text/csv"}}));
  ASSERT_EQ(up.status, 202) << up.describe();
  ApiResponse file = raw(token, std::to_string(up.number("batch_id")));
  ASSERT_EQ(file.status, 200) << file.describe();
  EXPECT_TRUE(file.body == batch) << "the export read back differs from the upload";
  EXPECT_FALSE(listFilesRecursive(config_.dataDir + "/bodies").empty());
}

TEST_F(EncryptionTest, WithoutAKeyFileNoBodyIsStoredAndTheStartWarns) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = operatorToken();
  const std::string sampleId = newSampleId("CLR");
  ASSERT_NO_FATAL_FAILURE(sendWithToken(astmPort(), sampleId, kToken));
  const std::string messageId = messageIdOf(token, sampleId);
  ASSERT_FALSE(messageId.empty());
  EXPECT_EQ(raw(token, messageId).status, 404);
  EXPECT_EQ(api_.post("/api/v1/maintenance/reencrypt", "", withBearer(token)).status, 503);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  EXPECT_NE(engine_->stderrText().find("content is not encrypted at rest: set security.key_file"),
            std::string::npos);
  for (const auto& hit : findSecretsInFiles(dataFiles(), {{"raw-body token", kToken}})) {
    ADD_FAILURE() << hit.label << " found in " << hit.where;
  }
}

TEST_F(EncryptionTest, StartUpRefusesAKeyFileOthersCanReadOrInsideTheDataDirectory) {
  const std::string key = keygen("kek");
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  config_.set("security.key_file", key);
  ProgramRun readable = refusedStart();
  ASSERT_TRUE(readable.finished);
  EXPECT_NE(readable.exitCode, 0);
  EXPECT_NE(readable.err.find("security.key_file"), std::string::npos) << readable.err;

  const std::string inside = config_.dataDir + "/kek";
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  writeFile(inside, readFile(key));
  ASSERT_EQ(::chmod(inside.c_str(), 0600), 0);
  config_.set("security.key_file", inside);
  ProgramRun insideRun = refusedStart();
  ASSERT_TRUE(insideRun.finished);
  EXPECT_NE(insideRun.exitCode, 0);
  EXPECT_NE(insideRun.err.find("security.key_file"), std::string::npos) << insideRun.err;
  EXPECT_NE(insideRun.err.find("data.dir"), std::string::npos) << insideRun.err;

  config_.set("security.key_file", key);
  config_.set("security.previous_key_file", keysDir_ + "/missing");
  ProgramRun missing = refusedStart();
  EXPECT_NE(missing.exitCode, 0);
  EXPECT_NE(missing.err.find("security.previous_key_file"), std::string::npos) << missing.err;
}

TEST_F(EncryptionTest, RotationRewrapsTheDataKeysAndBodiesStayReadable) {
  const std::string oldKey = keygen("kek-2024");
  config_.set("security.key_file", oldKey);
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  std::string token = operatorToken();
  const std::string sampleId = newSampleId("ROT");
  ASSERT_NO_FATAL_FAILURE(sendWithToken(astmPort(), sampleId, kToken));
  const std::string messageId = messageIdOf(token, sampleId);
  ASSERT_FALSE(messageId.empty());
  ASSERT_NO_FATAL_FAILURE(stopEngine());

  const std::string newKey = keygen("kek-2025");
  config_.set("security.key_file", newKey);
  config_.set("security.previous_key_file", oldKey);
  ASSERT_NO_FATAL_FAILURE(startEngine());
  token = api_.login("default", "admin", kTestAdminPassword);
  ApiResponse body = raw(token, messageId);
  ASSERT_EQ(body.status, 200) << body.describe();
  EXPECT_NE(body.body.find(kToken), std::string::npos);
  ApiResponse audit = api_.get("/api/v1/audit?action=key.rewrapped", withBearer(token));
  ASSERT_EQ(audit.status, 200) << audit.describe();
  ASSERT_EQ(audit.items()->size(), 1u);
  const std::string detail = str(audit.items()->getObject(0), "detail");
  EXPECT_NE(detail.find(fingerprintOf(oldKey)), std::string::npos) << detail;
  EXPECT_NE(detail.find(fingerprintOf(newKey)), std::string::npos) << detail;
  ASSERT_NO_FATAL_FAILURE(stopEngine());

  // The old key file can go: the new one alone opens everything.
  config_.omit("security.previous_key_file");
  ASSERT_NO_FATAL_FAILURE(startEngine());
  token = api_.login("default", "admin", kTestAdminPassword);
  body = raw(token, messageId);
  ASSERT_EQ(body.status, 200) << body.describe();
  EXPECT_NE(body.body.find(kToken), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(EncryptionTest, ReencryptionMovesBodiesToANewDataKeyAndRetiresTheOld) {
  config_.set("security.key_file", keygen("kek"));
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = operatorToken();
  std::vector<std::string> messages;
  for (int i = 0; i < 3; ++i) {
    const std::string sampleId = newSampleId("RE");
    ASSERT_NO_FATAL_FAILURE(sendWithToken(astmPort(), sampleId, kToken));
    messages.push_back(messageIdOf(token, sampleId));
    ASSERT_FALSE(messages.back().empty());
  }
  ApiResponse idle = api_.get("/api/v1/maintenance/reencrypt", withBearer(token));
  ASSERT_EQ(idle.status, 200) << idle.describe();
  EXPECT_EQ(idle.text("state"), "idle");

  ApiResponse started = api_.post("/api/v1/maintenance/reencrypt", "", withBearer(token));
  ASSERT_EQ(started.status, 202) << started.describe();
  EXPECT_EQ(started.number("key_id"), 2);
  EXPECT_GE(started.number("total"), 3);
  ApiResponse state;
  ASSERT_TRUE(waitUntil(
      [&] {
        state = api_.get("/api/v1/maintenance/reencrypt", withBearer(token));
        return state.text("state") != "running";
      },
      60000ms, 100ms));
  ASSERT_EQ(state.text("state"), "done") << state.text("error");
  EXPECT_EQ(state.number("done"), state.number("total"));
  auto retired = state.json->getArray("retired");
  ASSERT_FALSE(retired.isNull());
  ASSERT_EQ(retired->size(), 1u);
  EXPECT_EQ(retired->getElement<int>(0), 1);
  for (const std::string& id : messages) {
    ApiResponse body = raw(token, id);
    ASSERT_EQ(body.status, 200) << body.describe();
    EXPECT_NE(body.body.find(kToken), std::string::npos);
  }
  for (const char* action : {"key.created", "reencrypt.started", "reencrypt.finished"}) {
    ApiResponse audit = api_.get(std::string("/api/v1/audit?action=") + action, withBearer(token));
    EXPECT_GE(audit.items()->size(), 1u) << action;
  }
  // A second job afterwards starts a third key; the bodies stay readable after a restart.
  ApiResponse again = api_.post("/api/v1/maintenance/reencrypt", "", withBearer(token));
  ASSERT_EQ(again.status, 202) << again.describe();
  EXPECT_EQ(again.number("key_id"), 3);
  ASSERT_TRUE(waitUntil(
      [&] {
        return api_.get("/api/v1/maintenance/reencrypt", withBearer(token)).text("state") == "done";
      },
      60000ms, 100ms));
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string again2 = api_.login("default", "admin", kTestAdminPassword);
  EXPECT_EQ(raw(again2, messages.front()).status, 200);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(EncryptionTest, AWrongKeyStopsTheStartNamingBothFingerprints) {
  const std::string key = keygen("kek");
  config_.set("security.key_file", key);
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ASSERT_NO_FATAL_FAILURE(stopEngine());

  const std::string wrong = keygen("kek-wrong");
  config_.set("security.key_file", wrong);
  ProgramRun run = refusedStart();
  ASSERT_TRUE(run.finished);
  EXPECT_NE(run.exitCode, 0);
  EXPECT_NE(run.err.find("security.key_file"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(fingerprintOf(key)), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(fingerprintOf(wrong)), std::string::npos) << run.err;

  // Without any key file the store, which holds encrypted content, refuses too.
  config_.omit("security.key_file");
  ProgramRun none = refusedStart();
  EXPECT_NE(none.exitCode, 0);
  EXPECT_NE(none.err.find("security.key_file"), std::string::npos) << none.err;
}

TEST_F(EncryptionTest, TotpSecretsAreStoredSealed) {
  config_.set("security.key_file", keygen("kek"));
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = api_.login("default", "admin", kTestAdminPassword);
  ASSERT_FALSE(token.empty());
  ApiResponse start = api_.post("/api/v1/me/totp", Json().set("password", kTestAdminPassword).str(),
                                withBearer(token));
  ASSERT_TRUE(start.ok()) << start.describe();
  const std::string secret = start.text("secret");
  ASSERT_FALSE(secret.empty());
  // The confirmation reads the pending secret back from the store: it opens.
  ApiResponse confirm =
      api_.post("/api/v1/me/totp/confirm", Json().set("code", totpCode(secret, unixNow())).str(),
                withBearer(token));
  EXPECT_TRUE(confirm.ok()) << confirm.describe();
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  for (const auto& hit : findSecretsInFiles(dataFiles(), {{"TOTP secret", secret}})) {
    ADD_FAILURE() << hit.label << " found in " << hit.where;
  }
}

// HL7 v2 over MLLP: the bytes of an ORU^R01 are sealed and read back alike.
class Hl7EncryptionTest : public Hl7EngineTest {};

TEST_F(Hl7EncryptionTest, Hl7BodiesAreSealedAndReadBack) {
  config_.set("security.argon2.memory_kib", "1024");
  config_.set("security.argon2.iterations", "1");
  const std::string keys = tmp_->file("keys");
  Poco::File(keys).createDirectories();
  ASSERT_TRUE(security::writeNewKeyFile(keys + "/kek").isOk());
  config_.set("security.key_file", keys + "/kek");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  const std::string sampleId = newSampleId("HL7");
  OruSpec spec = cleanOru(sampleId);
  // A note before any OBX: part of the bytes, not of the canonical content.
  spec.patientSegments = {std::string("NTE|1|L|") + kToken};
  const std::string message = buildOru(spec);
  sendExpecting(message, spec.controlId, "AA", "ORU with a note");

  ApiClient api(config_.httpPort);
  const std::string token = api.login("default", "admin", kTestAdminPassword);
  ASSERT_FALSE(token.empty());
  ApiResponse users = api.get("/api/v1/users", withBearer(token));
  const std::string adminId = str(users.items()->getObject(0), "id");
  ASSERT_EQ(api.patch("/api/v1/users/" + adminId,
                      Json().set("roles", std::vector<std::string>{"admin", "lis-admin"}).str(),
                      withBearer(token))
                .status,
            200);
  std::string messageId;
  ASSERT_TRUE(waitUntil(
      [&] {
        auto items = api.get("/api/v1/samples?sample_id=" + sampleId, withBearer(token)).items();
        if (items->size() > 0) messageId = str(items->getObject(0), "message_id");
        return !messageId.empty();
      },
      15000ms, 100ms));
  ApiResponse raw = api.get("/api/v1/messages/" + messageId + "/raw", withBearer(token));
  ASSERT_EQ(raw.status, 200) << raw.describe();
  EXPECT_NE(raw.body.find(kToken), std::string::npos);
  EXPECT_NE(raw.body.find("MSH|"), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  for (const auto& hit :
       findSecretsInFiles(listFilesRecursive(config_.dataDir), {{"HL7 note token", kToken}})) {
    ADD_FAILURE() << hit.label << " found in " << hit.where;
  }
}

}  // namespace
}  // namespace labgate::it
