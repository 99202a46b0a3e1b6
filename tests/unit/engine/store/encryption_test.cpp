// Tests for engine/store/encryption.cpp: data keys at open (creation, re-wrapping under a new KEK,
// refusal of a foreign KEK or of a missing key file), sealed message bodies and export files
// (round trip, organisation scope, not readable in the database file), sealed TOTP secrets, and
// the background re-encryption with retirement of emptied data keys.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine/security/crypto.h"
#include "engine/security/keyring.h"
#include "engine/store/accounts.h"
#include "engine/store/audit.h"
#include "engine/store/store.h"

using namespace Poco::Data::Keywords;

namespace labgate {
namespace {

namespace fs = std::filesystem;
using security::KeyEncryptionKey;
using security::Keyring;

constexpr const char* kToken = "ZQXJ7TOKEN4RAWBODY9KVMW2";  // 24 characters, no PHI

KeyEncryptionKey newKek() {
  KeyEncryptionKey kek;
  kek.bytes = security::randomBytes(32);
  kek.fingerprint = security::tokenDigest(kek.bytes).substr(0, 16);
  return kek;
}

std::shared_ptr<Keyring> ring(const KeyEncryptionKey& kek,
                              std::optional<KeyEncryptionKey> previous = std::nullopt) {
  return std::make_shared<Keyring>(kek, std::move(previous));
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class EncryptionTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = Poco::TemporaryFile::tempName(); }
  void TearDown() override {
    store_.reset();
    Poco::File(dir_).remove(true);
  }

  Status open(std::shared_ptr<Keyring> keyring) {
    store_.reset();
    auto opened = Store::open(dir_, std::move(keyring));
    if (!opened.isOk()) return opened.status();
    store_ = opened.value();
    return Status::ok();
  }

  InboundCommit commit(const std::string& orgId, const std::string& body) {
    InboundCommit c;
    c.orgId = orgId;
    c.connector = "lab1";
    c.instrument = "tq-01";
    c.format = "astm";
    c.peer = "127.0.0.1:5000";
    c.receivedAt = isoNow();
    c.contentSha256 = sha256Hex(body);
    c.rawBody = body;
    Sample s;
    s.sampleId = "S" + std::to_string(++counter_);
    c.message.samples.push_back(s);
    return c;
  }

  int64_t store(const std::string& orgId, const std::string& body) {
    auto receipt = store_->commitInbound(commit(orgId, body));
    EXPECT_TRUE(receipt.isOk()) << receipt.status().toString();
    return receipt.isOk() ? receipt->messageId : 0;
  }

  /// The stored body as `orgId` reads it, or the Status that says why not.
  StatusOr<std::string> raw(const std::string& orgId, int64_t id) {
    std::string out;
    int64_t announced = -1;
    Status read = store_->readRawBody(
        orgId, id, [&](int64_t size) { announced = size; },
        [&](std::string_view piece) {
          out.append(piece);
          return true;
        });
    if (!read.isOk()) return read;
    EXPECT_EQ(announced, static_cast<int64_t>(out.size()));
    return out;
  }

  Poco::Data::Session db() {
    Poco::Data::SQLite::Connector::registerConnector();
    return Poco::Data::Session("SQLite", store_->path());
  }

  int64_t count(const std::string& sql) {
    int64_t n = 0;
    auto s = db();
    s << sql, into(n), now;
    return n;
  }

  /// Every byte the store wrote under its data directory.
  std::string everything() {
    std::string all;
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
      if (entry.is_regular_file()) all += readAll(entry.path().string());
    }
    return all;
  }

  bool waitForJob() {
    // Bounded by the work, not by time: the job ends on its own; the cap only stops a hang.
    for (int i = 0; i < 6000; ++i) {
      if (store_->reencryptProgress().state != "running") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::string dir_;
  std::shared_ptr<Store> store_;
  int counter_ = 0;
};

TEST_F(EncryptionTest, FirstOpenWithAKeyMakesDataKeyOne) {
  const KeyEncryptionKey kek = newKek();
  ASSERT_TRUE(open(ring(kek)).isOk());
  EXPECT_TRUE(store_->encryptsAtRest());
  EXPECT_EQ(count("SELECT COUNT(*) FROM data_keys WHERE id = 1 AND retired_at = ''"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'key.created'"), 1);
  std::string fingerprint;
  auto s = db();
  s << "SELECT kek_fingerprint FROM data_keys WHERE id = 1", into(fingerprint), now;
  EXPECT_EQ(fingerprint, kek.fingerprint);
  // Opening again makes no second key.
  ASSERT_TRUE(open(ring(kek)).isOk());
  EXPECT_EQ(count("SELECT COUNT(*) FROM data_keys"), 1);
}

TEST_F(EncryptionTest, BodyRoundTripIsOrganisationScopedAndNotInTheFiles) {
  ASSERT_TRUE(open(ring(newKek())).isOk());
  const std::string body = std::string("H|\\^&|||tq-01\rO|1|") + kToken + "\rL|1|N\r";
  const int64_t id = store("default", body);
  StatusOr<std::string> read = raw("default", id);
  ASSERT_TRUE(read.isOk()) << read.status().toString();
  EXPECT_EQ(read.value(), body);
  EXPECT_EQ(raw("other", id).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(raw("default", id + 100).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(everything().find(kToken), std::string::npos);
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies WHERE key_id = 1 AND file = ''"), 1);
}

TEST_F(EncryptionTest, WithoutAKeyNoBodyIsStored) {
  ASSERT_TRUE(open(nullptr).isOk());
  EXPECT_FALSE(store_->encryptsAtRest());
  const int64_t id = store("default", std::string("O|1|") + kToken);
  EXPECT_EQ(raw("default", id).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM data_keys"), 0);
  EXPECT_EQ(store_->encryptionKekFingerprint(), std::nullopt);
  EXPECT_EQ(everything().find(kToken), std::string::npos);
}

TEST_F(EncryptionTest, OpenRefusesAForeignKekNamingBothFingerprints) {
  const KeyEncryptionKey kek = newKek();
  ASSERT_TRUE(open(ring(kek)).isOk());
  store_.reset();
  const KeyEncryptionKey wrong = newKek();
  Status refused = open(ring(wrong));
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.location(), "security.key_file");
  EXPECT_NE(refused.reason().find(kek.fingerprint), std::string::npos) << refused.toString();
  EXPECT_NE(refused.reason().find(wrong.fingerprint), std::string::npos) << refused.toString();
  // Without a keyring the store opens (the console reads QC history so) and says which key its
  // content needs; the engine refuses to start on that (tests/integration/encryption_test.cpp).
  ASSERT_TRUE(open(nullptr).isOk());
  EXPECT_FALSE(store_->encryptsAtRest());
  EXPECT_EQ(store_->encryptionKekFingerprint(), std::optional<std::string>(kek.fingerprint));
}

TEST_F(EncryptionTest, RotationRewrapsAndContentStaysReadable) {
  const KeyEncryptionKey oldKek = newKek();
  ASSERT_TRUE(open(ring(oldKek)).isOk());
  const int64_t id = store("default", std::string("O|1|") + kToken);
  const KeyEncryptionKey rotatedKek = newKek();
  ASSERT_TRUE(open(ring(rotatedKek, oldKek)).isOk());
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'key.rewrapped'"), 1);
  std::string detail, fingerprint;
  {
    auto s = db();
    s << "SELECT detail FROM audit WHERE action = 'key.rewrapped'", into(detail), now;
    s << "SELECT kek_fingerprint FROM data_keys WHERE id = 1", into(fingerprint), now;
  }
  EXPECT_NE(detail.find(oldKek.fingerprint), std::string::npos);
  EXPECT_NE(detail.find(rotatedKek.fingerprint), std::string::npos);
  EXPECT_EQ(fingerprint, rotatedKek.fingerprint);
  ASSERT_TRUE(raw("default", id).isOk());
  // Only the new key from now on; the old one no longer opens the store.
  ASSERT_TRUE(open(ring(rotatedKek)).isOk());
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'key.rewrapped'"), 1);
  EXPECT_EQ(raw("default", id).value(), std::string("O|1|") + kToken);
  EXPECT_FALSE(open(ring(oldKek)).isOk());
}

TEST_F(EncryptionTest, ExportFilesAreSealedUnderBodiesAndRemovedWhenNotStored) {
  ASSERT_TRUE(open(ring(newKek())).isOk());
  std::string content = "Sample,Analyte,Conc\n";
  for (int i = 0; i < 60000; ++i)
    content += std::string(kToken) + ",TESTO," + std::to_string(i) + "\n";
  std::istringstream in(content);
  in.seekg(100);  // the pipeline hands over a stream its format has read
  StatusOr<SealedBodyFile> sealed = store_->sealBodyFile("default", in);
  ASSERT_TRUE(sealed.isOk()) << sealed.status().toString();
  EXPECT_EQ(sealed->size, static_cast<int64_t>(content.size()));
  EXPECT_EQ(sealed->keyId, 1u);
  const std::string path = dir_ + "/bodies/" + sealed->name;
  ASSERT_TRUE(fs::exists(path));
  EXPECT_EQ(fs::status(dir_ + "/bodies").permissions() & fs::perms::all, fs::perms::owner_all);

  InboundCommit c = commit("default", "");
  c.bodyFile = sealed.value();
  c.deduplicate = true;
  c.message.controlId = "sha256:" + sha256Hex(content);
  auto receipt = store_->commitInbound(c);
  ASSERT_TRUE(receipt.isOk());
  StatusOr<std::string> read = raw("default", receipt->messageId);
  ASSERT_TRUE(read.isOk()) << read.status().toString();
  EXPECT_TRUE(read.value() == content);
  EXPECT_EQ(raw("other", receipt->messageId).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(everything().find(kToken), std::string::npos);

  // The same file again is a duplicate: its sealed copy goes.
  std::istringstream again(content);
  StatusOr<SealedBodyFile> second = store_->sealBodyFile("default", again);
  ASSERT_TRUE(second.isOk());
  InboundCommit d = c;
  d.bodyFile = second.value();
  auto duplicate = store_->commitInbound(d);
  ASSERT_TRUE(duplicate.isOk());
  EXPECT_TRUE(duplicate->duplicate);
  EXPECT_FALSE(fs::exists(dir_ + "/bodies/" + second->name));
  EXPECT_TRUE(fs::exists(path));
}

TEST_F(EncryptionTest, UnreferencedSealedFilesAreSweptAtOpen) {
  const KeyEncryptionKey kek = newKek();
  ASSERT_TRUE(open(ring(kek)).isOk());
  std::istringstream in("orphan");
  StatusOr<SealedBodyFile> sealed = store_->sealBodyFile("default", in);
  ASSERT_TRUE(sealed.isOk());
  ASSERT_TRUE(open(ring(kek)).isOk());
  EXPECT_FALSE(fs::exists(dir_ + "/bodies/" + sealed->name));
}

TEST_F(EncryptionTest, TotpSecretsAreSealedInTheColumn) {
  // A secret stored before a key was configured is sealed at the next open with a key.
  ASSERT_TRUE(open(nullptr).isOk());
  User u;
  u.orgId = "default";
  u.username = "alice";
  u.printedName = "Alice";
  u.roles = {"admin"};
  u.passwordHash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA";
  u.passwordChangedAt = isoNow();
  u.totpSecret = "JBSWY3DPEHPK3PXP";
  Organisation org;
  org.id = "default";
  org.name = "Default";
  {
    AccountStore accounts(store_);
    ASSERT_TRUE(accounts.bootstrap(org, u).isOk());
  }
  ASSERT_TRUE(open(ring(newKek())).isOk());
  std::string stored;
  {
    auto s = db();
    s << "SELECT totp_secret FROM users WHERE username = 'alice'", into(stored), now;
  }
  EXPECT_EQ(stored.rfind("enc1:", 0), 0u);
  EXPECT_EQ(stored.find("JBSWY3DPEHPK3PXP"), std::string::npos);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'users.totp_encrypted'"), 1);
  AccountStore accounts(store_);
  std::optional<User> alice = accounts.userByName("default", "alice");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->totpSecret, "JBSWY3DPEHPK3PXP");
  // Updates are sealed too.
  alice->totpSecret = "KRSXG5CTMVRXEZLU";
  ASSERT_TRUE(accounts.updateUser(*alice, AuditEvent{}).isOk());
  EXPECT_EQ(accounts.userByName("default", "alice")->totpSecret, "KRSXG5CTMVRXEZLU");
  EXPECT_EQ(everything().find("KRSXG5CTMVRXEZLU"), std::string::npos);
}

TEST_F(EncryptionTest, ReencryptMovesEverythingToANewKeyAndRetiresTheOld) {
  const KeyEncryptionKey kek = newKek();
  ASSERT_TRUE(open(ring(kek)).isOk());
  std::vector<int64_t> ids;
  ids.reserve(150);
  for (int i = 0; i < 150; ++i) ids.push_back(store("default", "O|" + std::to_string(i) + "|"));
  std::istringstream in(std::string(3 << 20, 'x'));
  StatusOr<SealedBodyFile> sealed = store_->sealBodyFile("default", in);
  ASSERT_TRUE(sealed.isOk());
  InboundCommit c = commit("default", "");
  c.bodyFile = sealed.value();
  auto fileMessage = store_->commitInbound(c);
  ASSERT_TRUE(fileMessage.isOk());

  EXPECT_EQ(store_->reencryptProgress().state, "idle");
  AuditEvent by{"default", "user:admin", "", "", ""};
  StatusOr<ReencryptProgress> started = store_->startReencrypt(by);
  ASSERT_TRUE(started.isOk()) << started.status().toString();
  EXPECT_EQ(started->keyId, 2u);
  EXPECT_EQ(started->total, 151);
  ASSERT_TRUE(waitForJob());
  ReencryptProgress done = store_->reencryptProgress();
  EXPECT_EQ(done.state, "done") << done.error;
  EXPECT_EQ(done.done, 151);
  EXPECT_EQ(done.retired, std::vector<uint32_t>{1});
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies WHERE key_id != 2"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM data_keys WHERE id = 1 AND retired_at != ''"), 1);
  for (const char* action : {"key.created", "reencrypt.started", "reencrypt.finished"}) {
    EXPECT_GE(count(std::string("SELECT COUNT(*) FROM audit WHERE action = '") + action + "'"), 1)
        << action;
  }
  EXPECT_EQ(Keyring::sealedFileKeyId(dir_ + "/bodies/" + sealed->name), std::optional<uint32_t>(2));
  // Readable now and after a restart, which no longer loads the retired key.
  EXPECT_EQ(raw("default", ids[7]).value(), "O|7|");
  ASSERT_TRUE(open(ring(kek)).isOk());
  EXPECT_EQ(raw("default", ids[149]).value(), "O|149|");
  EXPECT_EQ(raw("default", fileMessage->messageId).value().size(), size_t{3} << 20);
  EXPECT_TRUE(store_->verifyAuditChain().isOk());
}

TEST_F(EncryptionTest, ReencryptNeedsAKey) {
  ASSERT_TRUE(open(nullptr).isOk());
  EXPECT_EQ(store_->startReencrypt(AuditEvent{}).status().code(), Status::Code::kUnavailable);
}

}  // namespace
}  // namespace labgate
