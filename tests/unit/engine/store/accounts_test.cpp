// Tests for engine/store/accounts: the first start, uniqueness of usernames and organisation ids,
// lockout and its audit event, TOTP replay, sessions and API keys, keyset paging, the samples
// search, and isolation between organisations on every read.
#include "engine/store/accounts.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include "engine/store/audit.h"
#include "engine/store/signatures.h"

using namespace Poco::Data::Keywords;

namespace labgate {
namespace {

Organisation org(const std::string& id) {
  Organisation o;
  o.id = id;
  o.name = "Lab " + id;
  o.ipAllowList = {"10.0.0.0/8", "192.168.1.0/24"};
  return o;
}

User user(const std::string& orgId, const std::string& username) {
  User u;
  u.orgId = orgId;
  u.username = username;
  u.printedName = "Printed " + username;
  u.roles = {"admin", "reviewer"};
  u.passwordHash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA";
  u.passwordChangedAt = isoNow();
  u.totpSecret = "JBSWY3DPEHPK3PXP";
  return u;
}

AuditEvent event(const std::string& actor = "user:root") {
  AuditEvent e;
  e.actor = actor;
  return e;
}

LoginRecord login(const std::string& orgId, const std::string& username,
                  const std::string& outcome) {
  LoginRecord r;
  r.at = isoNow();
  r.orgId = orgId;
  r.username = username;
  r.method = "password";
  r.peer = "10.1.2.3";
  r.userAgent = "test";
  r.outcome = outcome;
  return r;
}

SessionRecord session(const std::string& token) {
  SessionRecord s;
  s.tokenSha256 = sha256Hex(token);
  s.csrfSha256 = sha256Hex("csrf-" + token);
  s.expiresAt = "2999-01-01T00:00:00.000Z";
  s.peer = "10.1.2.3";
  s.userAgent = "test";
  return s;
}

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    auto opened = Store::open(dir_);
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = opened.value();
    accounts_ = std::make_unique<AccountStore>(store_);
  }
  void TearDown() override {
    accounts_.reset();
    store_.reset();
    Poco::File(dir_).remove(true);
  }

  /// Bootstraps "default" with admin "root" and creates "north" with admin "nadmin".
  void twoOrganisations() {
    ASSERT_TRUE(accounts_->bootstrap(org("default"), user("default", "root")).isOk());
    auto created = accounts_->createOrganisation(org("north"), user("north", "nadmin"), event());
    ASSERT_TRUE(created.isOk()) << created.status().toString();
  }

  int64_t createUser(const std::string& orgId, const std::string& username) {
    auto id = accounts_->createUser(user(orgId, username), event());
    EXPECT_TRUE(id.isOk()) << id.status().toString();
    return id.isOk() ? id.value() : 0;
  }

  /// Commits a message of `orgId` with one sample and a result per disposition.
  int64_t commitSample(const std::string& orgId, const std::string& sampleId,
                       const std::string& instrument, const std::string& receivedAt,
                       const std::vector<DispositionKind>& dispositions) {
    InboundCommit c;
    c.orgId = orgId;
    c.connector = "lab1";
    c.instrument = instrument;
    c.format = "astm";
    c.peer = "127.0.0.1:5000";
    c.receivedAt = receivedAt;
    c.contentSha256 = sha256Hex(orgId + sampleId + receivedAt);
    Sample s;
    s.sampleId = sampleId;
    s.kind = SampleKind::kQc;
    for (size_t i = 0; i < dispositions.size(); ++i) {
      Result r;
      r.instrumentCode = "T" + std::to_string(i);
      r.lisCode = "L" + std::to_string(i);
      r.value = "1." + std::to_string(i);
      if (dispositions[i] != DispositionKind::kRelease) {
        r.findings.push_back({"qc.westgard_1_3s", Severity::kError, "result", "outside 3 SD", "",
                              "", dispositions[i]});
        r.findings.push_back({"peak.asymmetry", Severity::kInfo, "result", "tailing", "", "",
                              DispositionKind::kHold});
      }
      s.results.push_back(r);
      Disposition d;
      d.kind = dispositions[i];
      c.dispositions.push_back(d);
    }
    c.message.samples.push_back(s);
    auto receipt = store_->commitInbound(c);
    EXPECT_TRUE(receipt.isOk()) << receipt.status().toString();
    return receipt.isOk() ? receipt.value().messageId : 0;
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

  std::string dir_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<AccountStore> accounts_;
};

TEST_F(AccountsTest, BootstrapRunsOnlyOnce) {
  EXPECT_FALSE(accounts_->hasUsers());
  ASSERT_TRUE(accounts_->bootstrap(org("default"), user("default", "root")).isOk());
  EXPECT_TRUE(accounts_->hasUsers());
  Status again = accounts_->bootstrap(org("other"), user("other", "root2"));
  EXPECT_FALSE(again.isOk());
  EXPECT_FALSE(accounts_->organisation("other").has_value()) << "the refused job wrote nothing";
  auto root = accounts_->userByName("default", "root");
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->roles, (std::vector<std::string>{"admin", "reviewer"}));
  auto o = accounts_->organisation("default");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->ipAllowList, (std::vector<std::string>{"10.0.0.0/8", "192.168.1.0/24"}));
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE actor = 'engine' AND org_id = 'default'"), 2);
  EXPECT_TRUE(store_->verifyAuditChain().isOk());
}

TEST_F(AccountsTest, UsernamesAreNeverReusedInAnOrganisation) {
  twoOrganisations();
  int64_t alice = createUser("default", "alice");
  auto again = accounts_->createUser(user("default", "alice"), event());
  ASSERT_FALSE(again.isOk());
  EXPECT_EQ(again.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(again.status().location(), "username");
  EXPECT_NE(again.status().reason().find("never reused"), std::string::npos);

  auto otherCase = accounts_->createUser(user("default", "Alice"), event());
  EXPECT_FALSE(otherCase.isOk()) << "usernames compare without regard to case";
  EXPECT_EQ(otherCase.status().location(), "username");
  auto found = accounts_->userByName("default", "ALICE");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, alice);
  EXPECT_EQ(found->username, "alice");

  User disabled = *accounts_->user("default", alice);
  disabled.disabled = true;
  ASSERT_TRUE(accounts_->updateUser(disabled, event()).isOk());
  auto afterDisable = accounts_->createUser(user("default", "alice"), event());
  EXPECT_FALSE(afterDisable.isOk()) << "a disabled user keeps the name";
  EXPECT_EQ(afterDisable.status().location(), "username");

  EXPECT_TRUE(accounts_->createUser(user("north", "alice"), event()).isOk())
      << "another organisation may use the same name";
  EXPECT_FALSE(accounts_->createUser(user("nowhere", "bob"), event()).isOk());
}

TEST_F(AccountsTest, OrganisationIdsAreUnique) {
  twoOrganisations();
  auto again = accounts_->createOrganisation(org("north"), user("north", "x"), event());
  ASSERT_FALSE(again.isOk());
  EXPECT_EQ(again.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(again.status().location(), "id");
  EXPECT_FALSE(accounts_->userByName("north", "x").has_value());
  EXPECT_FALSE(accounts_->createOrganisation(org("Bad Id"), user("x", "x"), event()).isOk());
  EXPECT_EQ(accounts_->organisations().size(), 2u);

  Organisation north = *accounts_->organisation("north");
  north.mfaRequired = true;
  north.passwordExpiryDays = 90;
  north.ipAllowList.clear();
  ASSERT_TRUE(accounts_->updateOrganisation(north, event()).isOk());
  auto read = accounts_->organisation("north");
  EXPECT_TRUE(read->mfaRequired);
  EXPECT_EQ(read->passwordExpiryDays, 90);
  EXPECT_TRUE(read->ipAllowList.empty());
  EXPECT_FALSE(accounts_->updateOrganisation(org("south"), event()).isOk());
}

TEST_F(AccountsTest, DisablingAUserEndsItsSessions) {
  twoOrganisations();
  int64_t alice = createUser("default", "alice");
  ASSERT_TRUE(
      accounts_->recordLoginSuccess(login("default", "alice", "success"), alice, session("t1"))
          .isOk());
  ASSERT_TRUE(
      accounts_->recordLoginSuccess(login("default", "alice", "success"), alice, session("t2"))
          .isOk());
  ASSERT_TRUE(accounts_->sessionByToken(sha256Hex("t1")).has_value());

  User u = *accounts_->user("default", alice);
  u.printedName = "Alice A.";
  ASSERT_TRUE(accounts_->updateUser(u, event()).isOk());
  EXPECT_TRUE(accounts_->sessionByToken(sha256Hex("t1")).has_value()) << "no reason: sessions stay";

  u.disabled = true;
  ASSERT_TRUE(accounts_->updateUser(u, event()).isOk());
  EXPECT_FALSE(accounts_->sessionByToken(sha256Hex("t1")).has_value());
  EXPECT_FALSE(accounts_->sessionByToken(sha256Hex("t2")).has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM sessions WHERE end_reason = 'user disabled'"), 2);
  auto read = accounts_->user("default", alice);
  EXPECT_TRUE(read->disabled);
  EXPECT_EQ(read->printedName, "Alice A.");
}

TEST_F(AccountsTest, PasswordChangeEndsSessionsWithItsReason) {
  twoOrganisations();
  int64_t alice = createUser("default", "alice");
  ASSERT_TRUE(
      accounts_->recordLoginSuccess(login("default", "alice", "success"), alice, session("t1"))
          .isOk());
  User u = *accounts_->user("default", alice);
  u.passwordHash = "$argon2id$new";
  ASSERT_TRUE(accounts_->updateUser(u, event(), "password changed").isOk());
  EXPECT_FALSE(accounts_->sessionByToken(sha256Hex("t1")).has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM sessions WHERE end_reason = 'password changed'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE detail LIKE '%argon2id%'"), 0)
      << "no password hash in an audit detail";
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE detail LIKE '%JBSWY3DPEHPK3PXP%'"), 0)
      << "no TOTP secret in an audit detail";
}

TEST_F(AccountsTest, PasswordChangeKeepsOnlyTheSessionThatMadeItInTheSameTransaction) {
  twoOrganisations();
  int64_t alice = createUser("default", "alice");
  StatusOr<int64_t> mine =
      accounts_->recordLoginSuccess(login("default", "alice", "success"), alice, session("t1"));
  ASSERT_TRUE(mine.isOk());
  ASSERT_TRUE(
      accounts_->recordLoginSuccess(login("default", "alice", "success"), alice, session("t2"))
          .isOk());
  User u = *accounts_->user("default", alice);
  u.passwordHash = "$argon2id$new";
  ASSERT_TRUE(accounts_->updateUser(u, event(), "password changed", mine.value()).isOk());
  EXPECT_TRUE(accounts_->sessionByToken(sha256Hex("t1")).has_value()) << "the session kept";
  EXPECT_FALSE(accounts_->sessionByToken(sha256Hex("t2")).has_value()) << "the other session";
  EXPECT_EQ(accounts_->user("default", alice)->passwordHash, "$argon2id$new");

  // A disabled user keeps no session, whatever the caller asks.
  u.disabled = true;
  ASSERT_TRUE(accounts_->updateUser(u, event(), "", mine.value()).isOk());
  EXPECT_FALSE(accounts_->sessionByToken(sha256Hex("t1")).has_value());
}

TEST_F(AccountsTest, LockoutCountsToTheThresholdAndIsAuditedOnce) {
  twoOrganisations();
  int64_t alice = createUser("default", "alice");
  const std::string until = "2999-01-01T00:00:00.000Z";
  for (int i = 1; i <= 4; ++i) {
    auto failed =
        accounts_->recordLoginFailure(login("default", "alice", "bad_password"), alice, 3, until);
    ASSERT_TRUE(failed.isOk()) << failed.status().toString();
    EXPECT_EQ(failed->attempts, i);
    EXPECT_EQ(failed->lockedNow, i == 3) << "attempt " << i;
  }
  auto u = accounts_->user("default", alice);
  EXPECT_EQ(u->failedAttempts, 4);
  EXPECT_EQ(u->lockedUntil, until);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'user.locked'"), 1);
  auto locked = accounts_->audit("default", {"", "", "", "user.locked", ""}, {});
  ASSERT_EQ(locked.items.size(), 1u);
  EXPECT_EQ(locked.items[0].actor, "engine");
  EXPECT_EQ(locked.items[0].subject, "user:" + std::to_string(alice));
  EXPECT_EQ(locked.items[0].detail, "{\"attempts\":3,\"locked_until\":\"" + until + "\"}");
  EXPECT_TRUE(store_->verifyAuditChain().isOk()) << store_->verifyAuditChain().toString();

  auto unknown = accounts_->recordLoginFailure(login("default", "nobody", "unknown_user"),
                                               std::nullopt, 3, until);
  ASSERT_TRUE(unknown.isOk());
  EXPECT_EQ(unknown->attempts, 0);
  ASSERT_TRUE(accounts_->recordLoginRefused(login("default", "alice", "locked")).isOk());
  EXPECT_EQ(count("SELECT COUNT(*) FROM logins"), 6);
}

TEST_F(AccountsTest, SuccessfulLoginResetsTheFailures) {
  twoOrganisations();
  int64_t alice = createUser("default", "alice");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(accounts_
                    ->recordLoginFailure(login("default", "alice", "bad_password"), alice, 3,
                                         "2000-01-01T00:00:00.000Z")
                    .isOk());
  }
  LoginRecord ok = login("default", "alice", "success");
  auto sessionId = accounts_->recordLoginSuccess(ok, alice, session("tok"));
  ASSERT_TRUE(sessionId.isOk()) << sessionId.status().toString();
  auto u = accounts_->user("default", alice);
  EXPECT_EQ(u->failedAttempts, 0);
  EXPECT_EQ(u->lockedUntil, "");
  EXPECT_EQ(u->lastLoginAt, ok.at);
  auto s = accounts_->sessionByToken(sha256Hex("tok"));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->id, sessionId.value());
  EXPECT_EQ(s->userId, alice);
  EXPECT_EQ(s->orgId, "default");
  EXPECT_EQ(s->csrfSha256, sha256Hex("csrf-tok"));
  EXPECT_FALSE(accounts_->recordLoginSuccess(ok, 9999, session("x")).isOk()) << "no such user";
}

TEST_F(AccountsTest, ATotpStepIsUsedOnce) {
  twoOrganisations();
  int64_t alice = createUser("default", "alice");
  auto first = accounts_->useTotpStep(alice, 1000);
  ASSERT_TRUE(first.isOk());
  EXPECT_TRUE(first.value());
  EXPECT_FALSE(accounts_->useTotpStep(alice, 1000).value()) << "replay";
  EXPECT_FALSE(accounts_->useTotpStep(alice, 999).value()) << "an earlier step";
  EXPECT_TRUE(accounts_->useTotpStep(alice, 1001).value());

  // A User read before the step was used must not make it usable again.
  User stale = *accounts_->user("default", alice);
  stale.totpLastStep = 5;
  ASSERT_TRUE(accounts_->updateUser(stale, event()).isOk());
  EXPECT_EQ(accounts_->user("default", alice)->totpLastStep, 1001);
  EXPECT_FALSE(accounts_->useTotpStep(alice, 1001).value());
}

TEST_F(AccountsTest, SessionLookupIgnoresEndedSessions) {
  twoOrganisations();
  int64_t alice = createUser("default", "alice");
  auto id =
      accounts_->recordLoginSuccess(login("default", "alice", "success"), alice, session("tok"));
  ASSERT_TRUE(id.isOk());
  ASSERT_TRUE(accounts_->touchSession(id.value(), "2030-01-01T00:00:00.000Z").isOk());
  EXPECT_EQ(accounts_->sessionByToken(sha256Hex("tok"))->lastSeenAt, "2030-01-01T00:00:00.000Z");
  EXPECT_FALSE(accounts_->sessionByToken(sha256Hex("other")).has_value());
  ASSERT_TRUE(accounts_->endSession(id.value(), "logout").isOk());
  EXPECT_FALSE(accounts_->sessionByToken(sha256Hex("tok")).has_value());
  ASSERT_TRUE(accounts_->endSession(id.value(), "again").isOk());
  EXPECT_EQ(count("SELECT COUNT(*) FROM sessions WHERE end_reason = 'logout'"), 1);
}

TEST_F(AccountsTest, RevokingAnApiKeyIsIdempotent) {
  twoOrganisations();
  ApiKeyRecord key;
  key.orgId = "default";
  key.name = "lis bridge";
  key.prefix = "lgk_abcdefgh";
  key.keySha256 = sha256Hex("lgk_abcdefgh-secret");
  key.roles = {"ingest"};
  key.connector = "lab1";
  key.createdBy = "user:root";
  auto id = accounts_->createApiKey(key, event());
  ASSERT_TRUE(id.isOk()) << id.status().toString();
  auto byDigest = accounts_->apiKeyByDigest(key.keySha256);
  ASSERT_TRUE(byDigest.has_value());
  EXPECT_EQ(byDigest->roles, (std::vector<std::string>{"ingest"}));
  EXPECT_EQ(byDigest->revokedAt, "");
  EXPECT_FALSE(accounts_->createApiKey(key, event()).isOk()) << "same digest";

  ASSERT_TRUE(accounts_->touchApiKey(id.value(), "2030-01-01T00:00:00.000Z").isOk());
  EXPECT_EQ(accounts_->apiKey("default", id.value())->lastUsedAt, "2030-01-01T00:00:00.000Z");

  int64_t auditBefore = count("SELECT COUNT(*) FROM audit");
  ASSERT_TRUE(accounts_->revokeApiKey("default", id.value(), event()).isOk());
  std::string revokedAt = accounts_->apiKey("default", id.value())->revokedAt;
  EXPECT_NE(revokedAt, "");
  ASSERT_TRUE(accounts_->revokeApiKey("default", id.value(), event()).isOk());
  EXPECT_EQ(accounts_->apiKey("default", id.value())->revokedAt, revokedAt);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit"), auditBefore + 1) << "one revocation event";
  EXPECT_TRUE(accounts_->apiKeyByDigest(key.keySha256).has_value()) << "revoked keys are found";
  EXPECT_FALSE(accounts_->revokeApiKey("north", id.value(), event()).isOk());
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE detail LIKE '%" + key.keySha256 + "%'"), 0);
}

TEST_F(AccountsTest, LoginsArePagedNewestFirst) {
  twoOrganisations();
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(
        accounts_->recordLoginRefused(login("default", "u" + std::to_string(i), "locked")).isOk());
  }
  PageRequest request;
  request.limit = 3;
  auto first = accounts_->logins("default", {}, request);
  ASSERT_EQ(first.items.size(), 3u);
  EXPECT_EQ(first.items[0].username, "u6");
  ASSERT_TRUE(first.next.has_value());
  EXPECT_EQ(*first.next, first.items.back().id);
  request.before = *first.next;
  auto second = accounts_->logins("default", {}, request);
  ASSERT_EQ(second.items.size(), 3u);
  EXPECT_EQ(second.items[0].username, "u3");
  ASSERT_TRUE(second.next.has_value());
  request.before = *second.next;
  auto third = accounts_->logins("default", {}, request);
  ASSERT_EQ(third.items.size(), 1u);
  EXPECT_EQ(third.items[0].username, "u0");
  EXPECT_FALSE(third.next.has_value());

  LoginFilter byName;
  byName.username = "u4";
  EXPECT_EQ(accounts_->logins("default", byName, {}).items.size(), 1u);
  LoginFilter future;
  future.from = "2999";
  EXPECT_TRUE(accounts_->logins("default", future, {}).items.empty());
  LoginFilter today;
  today.to = isoNow().substr(0, 10);
  EXPECT_EQ(accounts_->logins("default", today, {}).items.size(), 7u) << "a day includes its hours";
}

TEST_F(AccountsTest, AuditIsPagedAndFiltered) {
  twoOrganisations();
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(accounts_
                    ->appendAudit({"north", "user:nadmin", i % 2 ? "report.viewed" : "user.viewed",
                                   "thing:" + std::to_string(i), "{}"})
                    .isOk());
  }
  // north also holds organisation.created and the admin's user.created: 9 events.
  PageRequest request;
  request.limit = 4;
  auto first = accounts_->audit("north", {}, request);
  ASSERT_EQ(first.items.size(), 4u);
  EXPECT_EQ(first.items[0].subject, "thing:6");
  ASSERT_TRUE(first.next.has_value());
  request.before = *first.next;
  auto second = accounts_->audit("north", {}, request);
  ASSERT_EQ(second.items.size(), 4u);
  ASSERT_TRUE(second.next.has_value());
  request.before = *second.next;
  auto third = accounts_->audit("north", {}, request);
  ASSERT_EQ(third.items.size(), 1u);
  EXPECT_EQ(third.items[0].action, "organisation.created");
  EXPECT_FALSE(third.next.has_value());
  EXPECT_FALSE(third.items[0].hash.empty());

  AuditFilter prefix;
  prefix.action = "user.";
  EXPECT_EQ(accounts_->audit("north", prefix, {}).items.size(), 5u);  // 4 viewed + created
  AuditFilter exact;
  exact.action = "user.viewed";
  EXPECT_EQ(accounts_->audit("north", exact, {}).items.size(), 4u);
  AuditFilter partial;
  partial.action = "user";
  EXPECT_TRUE(accounts_->audit("north", partial, {}).items.empty()) << "no '.': exact only";
  AuditFilter bySubject;
  bySubject.subject = "thing:3";
  bySubject.actor = "user:nadmin";
  EXPECT_EQ(accounts_->audit("north", bySubject, {}).items.size(), 1u);
  AuditFilter old;
  old.to = "2000";
  EXPECT_TRUE(accounts_->audit("north", old, {}).items.empty());
}

TEST_F(AccountsTest, NoReadCrossesOrganisations) {
  twoOrganisations();
  int64_t alice = createUser("default", "alice");
  EXPECT_FALSE(accounts_->user("north", alice).has_value());
  EXPECT_FALSE(accounts_->userByName("north", "alice").has_value());
  EXPECT_EQ(accounts_->users("north").size(), 1u);
  EXPECT_EQ(accounts_->users("default").size(), 2u);

  ApiKeyRecord key;
  key.orgId = "default";
  key.name = "k";
  key.prefix = "lgk_12345678";
  key.keySha256 = sha256Hex("k");
  key.roles = {"ingest"};
  auto keyId = accounts_->createApiKey(key, event());
  ASSERT_TRUE(keyId.isOk());
  EXPECT_TRUE(accounts_->apiKey("default", keyId.value()).has_value());
  EXPECT_FALSE(accounts_->apiKey("north", keyId.value()).has_value());
  EXPECT_TRUE(accounts_->apiKeys("north").empty());

  commitSample("default", "S-1", "tq-01", isoNow(), {DispositionKind::kRelease});
  auto mine = accounts_->samples("default", {}, {});
  ASSERT_EQ(mine.items.size(), 1u);
  EXPECT_TRUE(accounts_->samples("north", {}, {}).items.empty());
  EXPECT_TRUE(accounts_->sample("default", mine.items[0].id).has_value());
  EXPECT_FALSE(accounts_->sample("north", mine.items[0].id).has_value());

  ASSERT_TRUE(accounts_->recordLoginRefused(login("default", "alice", "locked")).isOk());
  EXPECT_EQ(accounts_->logins("default", {}, {}).items.size(), 1u);
  EXPECT_TRUE(accounts_->logins("north", {}, {}).items.empty());

  for (const auto& record : accounts_->audit("north", {}, {}).items) {
    EXPECT_EQ(record.orgId, "north");
  }
  AuditFilter aliceEvents;
  aliceEvents.subject = "user:" + std::to_string(alice);
  EXPECT_EQ(accounts_->audit("default", aliceEvents, {}).items.size(), 1u);
  EXPECT_TRUE(accounts_->audit("north", aliceEvents, {}).items.empty());
}

TEST_F(AccountsTest, SamplesAreFilteredAndCarryTheirResults) {
  twoOrganisations();
  commitSample("default", "S-1", "tq-01", "2026-05-01T08:00:00.000Z",
               {DispositionKind::kRelease, DispositionKind::kHold});
  commitSample("default", "S-2", "tq-02", "2026-05-02T08:00:00.000Z", {DispositionKind::kRelease});
  commitSample("default", "S-3", "tq-01", "2026-05-03T08:00:00.000Z",
               {DispositionKind::kReject, DispositionKind::kHold, DispositionKind::kReject});
  commitSample("north", "S-1", "tq-01", "2026-05-01T08:00:00.000Z", {DispositionKind::kHold});

  auto all = accounts_->samples("default", {}, {});
  ASSERT_EQ(all.items.size(), 3u);
  EXPECT_EQ(all.items[0].sampleId, "S-3");
  EXPECT_EQ(all.items[0].resultCount, 3);
  EXPECT_EQ(all.items[0].states, (std::vector<std::string>{"hold", "reject"}));
  EXPECT_EQ(all.items[0].instrument, "tq-01");
  EXPECT_EQ(all.items[0].connector, "lab1");
  EXPECT_EQ(all.items[0].kind, "qc");
  EXPECT_FALSE(all.next.has_value());

  SampleFilter bySample;
  bySample.sampleId = "S-1";
  auto s1 = accounts_->samples("default", bySample, {});
  ASSERT_EQ(s1.items.size(), 1u);
  EXPECT_EQ(s1.items[0].receivedAt, "2026-05-01T08:00:00.000Z");

  SampleFilter byInstrument;
  byInstrument.instrument = "tq-01";
  EXPECT_EQ(accounts_->samples("default", byInstrument, {}).items.size(), 2u);

  SampleFilter byTime;
  byTime.from = "2026-05-02";
  byTime.to = "2026-05-02";
  auto day = accounts_->samples("default", byTime, {});
  ASSERT_EQ(day.items.size(), 1u);
  EXPECT_EQ(day.items[0].sampleId, "S-2");

  SampleFilter held;
  held.state = "hold";
  EXPECT_EQ(accounts_->samples("default", held, {}).items.size(), 2u);
  SampleFilter released;
  released.state = "release";
  released.instrument = "tq-01";
  auto r = accounts_->samples("default", released, {});
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_EQ(r.items[0].sampleId, "S-1");

  PageRequest two;
  two.limit = 2;
  auto page1 = accounts_->samples("default", {}, two);
  ASSERT_EQ(page1.items.size(), 2u);
  ASSERT_TRUE(page1.next.has_value());
  two.before = *page1.next;
  auto page2 = accounts_->samples("default", {}, two);
  ASSERT_EQ(page2.items.size(), 1u);
  EXPECT_EQ(page2.items[0].sampleId, "S-1");
  EXPECT_FALSE(page2.next.has_value());

  auto detail = accounts_->sample("default", all.items[0].id);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->summary.sampleId, "S-3");
  ASSERT_EQ(detail->results.size(), 3u);
  EXPECT_EQ(detail->results[0].instrumentCode, "T0");
  EXPECT_EQ(detail->results[0].disposition, "reject");
  EXPECT_EQ(detail->results[1].disposition, "hold");
  ASSERT_EQ(detail->results[0].findings.size(), 2u);
  EXPECT_EQ(detail->results[0].findings[0].ruleId, "qc.westgard_1_3s");
  EXPECT_EQ(detail->results[0].findings[0].severity, "error");
  EXPECT_EQ(detail->results[0].findings[0].action, "reject");
  EXPECT_EQ(detail->results[0].findings[1].severity, "info");
  EXPECT_FALSE(accounts_->sample("default", 9999).has_value());
}

// Issue 17: a time filter bounds the newest-first walk by the ids of the messages in the range;
// ids need not follow the times (an export committed after later messages), nothing outside the
// range and nothing of another organisation is found, and paging goes on within the range.
TEST_F(AccountsTest, TimeRangesFindExactlyTheirRowsWhateverTheIdOrder) {
  twoOrganisations();
  commitSample("default", "S-A", "tq-01", "2026-05-03T08:00:00.000Z", {DispositionKind::kHold});
  commitSample("default", "S-B", "tq-01", "2026-05-01T08:00:00.000Z", {DispositionKind::kRelease});
  commitSample("north", "N-A", "tq-01", "2026-05-02T09:00:00.000Z", {DispositionKind::kRelease});
  commitSample("default", "S-C", "tq-02", "2026-05-02T08:00:00.000Z", {DispositionKind::kHold});
  commitSample("default", "S-D", "tq-01", "2026-05-04T08:00:00.000Z", {DispositionKind::kRelease});
  commitSample("default", "S-E", "tq-01", "2026-05-02T10:00:00.000Z", {DispositionKind::kRelease});

  auto idsOf = [](const auto& items) {
    std::vector<std::string> out;
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(item.sampleId);
    return out;
  };
  SampleFilter range;
  range.from = "2026-05-02T00:00:00.000Z";
  range.to = "2026-05-03T08:00:00.000Z";
  EXPECT_EQ(idsOf(accounts_->samples("default", range, {}).items),
            (std::vector<std::string>{"S-E", "S-C", "S-A"}));
  PageRequest one;
  one.limit = 1;
  auto first = accounts_->samples("default", range, one);
  ASSERT_TRUE(first.next.has_value());
  one.before = *first.next;
  EXPECT_EQ(idsOf(accounts_->samples("default", range, one).items),
            (std::vector<std::string>{"S-C"}));
  range.instrument = "tq-01";
  range.state = "release";
  EXPECT_EQ(idsOf(accounts_->samples("default", range, {}).items),
            (std::vector<std::string>{"S-E"}));
  SampleFilter onlyFrom;
  onlyFrom.from = "2026-05-03T00:00:00.000Z";
  EXPECT_EQ(idsOf(accounts_->samples("default", onlyFrom, {}).items),
            (std::vector<std::string>{"S-D", "S-A"}));
  SampleFilter onlyTo;
  onlyTo.to = "2026-05-01T23:00:00.000Z";
  EXPECT_EQ(idsOf(accounts_->samples("default", onlyTo, {}).items),
            (std::vector<std::string>{"S-B"}));
  SampleFilter empty;
  empty.from = "2026-06-01T00:00:00.000Z";
  EXPECT_TRUE(accounts_->samples("default", empty, {}).items.empty());
  SampleFilter north;
  north.from = "2026-05-02T00:00:00.000Z";
  north.to = "2026-05-03T08:00:00.000Z";
  EXPECT_EQ(idsOf(accounts_->samples("north", north, {}).items), (std::vector<std::string>{"N-A"}));

  // The batch list (SignatureStore): the same range, the same rows, each batch once.
  SignatureStore signatures(store_);
  BatchFilter batches;
  batches.from = "2026-05-02T00:00:00.000Z";
  batches.to = "2026-05-03T08:00:00.000Z";
  auto listed = signatures.batches("default", batches, {});
  std::vector<std::string> received;
  received.reserve(listed.items.size());
  for (const auto& b : listed.items) received.push_back(b.receivedAt);
  EXPECT_EQ(received,
            (std::vector<std::string>{"2026-05-02T10:00:00.000Z", "2026-05-02T08:00:00.000Z",
                                      "2026-05-03T08:00:00.000Z"}));
  batches.state = "held";
  EXPECT_EQ(signatures.batches("default", batches, {}).items.size(), 2u);
  batches.instrument = "tq-02";
  EXPECT_EQ(signatures.batches("default", batches, {}).items.size(), 1u);
  batches.state = "released";
  EXPECT_TRUE(signatures.batches("default", batches, {}).items.empty());
  BatchFilter none;
  none.to = "2026-04-30T00:00:00.000Z";
  EXPECT_TRUE(signatures.batches("default", none, {}).items.empty());
}

TEST_F(AccountsTest, UsersAndOrganisationsCannotBeDeleted) {
  twoOrganisations();
  auto s = db();
  EXPECT_ANY_THROW((s << "DELETE FROM users", now));
  EXPECT_ANY_THROW((s << "DELETE FROM organisations WHERE id = 'north'", now));
  EXPECT_EQ(count("SELECT COUNT(*) FROM users"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM organisations"), 2);
}

TEST_F(AccountsTest, TheLastAdministratorKeepsTheRoleAndStaysEnabled) {
  twoOrganisations();
  User root = *accounts_->userByName("default", "root");
  User demoted = root;
  demoted.roles = {"reviewer"};
  auto refused = accounts_->updateUser(demoted, event());
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.location(), "administrator");
  User disabled = root;
  disabled.disabled = true;
  EXPECT_EQ(accounts_->updateUser(disabled, event()).location(), "administrator");
  EXPECT_EQ(accounts_->userByName("default", "root")->roles, root.roles) << "nothing changed";
  EXPECT_FALSE(accounts_->userByName("default", "root")->disabled);
  // Other changes of the last administrator, and another organisation's, are not affected.
  User renamed = root;
  renamed.printedName = "Root R.";
  EXPECT_TRUE(accounts_->updateUser(renamed, event()).isOk());
  // With a second administrator the first may go.
  createUser("default", "second");
  EXPECT_TRUE(accounts_->updateUser(demoted, event()).isOk());
  User second = *accounts_->userByName("default", "second");
  second.disabled = true;
  EXPECT_EQ(accounts_->updateUser(second, event()).location(), "administrator");
}

TEST_F(AccountsTest, DisablingAUserRevokesTheKeysItCreated) {
  twoOrganisations();
  createUser("default", "alice");
  auto makeKey = [&](const std::string& name, const std::string& by) {
    ApiKeyRecord key;
    key.orgId = "default";
    key.name = name;
    key.prefix = "lgk_" + name;
    key.keySha256 = sha256Hex("secret-" + name);
    key.roles = {"instrument"};
    key.createdBy = by;
    auto id = accounts_->createApiKey(key, event());
    EXPECT_TRUE(id.isOk()) << id.status().toString();
    return id.isOk() ? id.value() : 0;
  };
  const int64_t own = makeKey("own", "user:alice");
  const int64_t child = makeKey("child", "apikey:" + std::to_string(own));
  const int64_t other = makeKey("other", "user:root");
  User alice = *accounts_->userByName("default", "alice");
  alice.disabled = true;
  ASSERT_TRUE(accounts_->updateUser(alice, event("user:root")).isOk());
  EXPECT_NE(accounts_->apiKey("default", own)->revokedAt, "");
  EXPECT_NE(accounts_->apiKey("default", child)->revokedAt, "") << "made by a revoked key";
  EXPECT_EQ(accounts_->apiKey("default", other)->revokedAt, "");
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'apikey.revoked' AND actor = "
                  "'user:root'"),
            2);
}

// ---- the authentication cache's generation (ADR 0020) -------------------------------------------

TEST_F(AccountsTest, EveryWriteThatCanChangeAnAuthenticationAnswerMovesTheGeneration) {
  // The API's authentication cache uses an answer only while generation() is unchanged: each
  // write below must move it once committed (before the call returns), whatever it changes.
  uint64_t seen = accounts_->generation();
  auto moved = [&](const char* what) {
    const uint64_t now = accounts_->generation();
    EXPECT_GT(now, seen) << what << " did not move the generation";
    seen = now;
  };
  ASSERT_TRUE(accounts_->bootstrap(org("default"), user("default", "root")).isOk());
  moved("bootstrap");
  ASSERT_TRUE(accounts_->createOrganisation(org("north"), user("north", "nadmin"), event()).isOk());
  moved("createOrganisation");
  Organisation north = *accounts_->organisation("north");
  north.ipAllowList = {"10.0.0.0/8"};
  ASSERT_TRUE(accounts_->updateOrganisation(north, event()).isOk());
  moved("updateOrganisation (allow-list)");
  const int64_t alice = createUser("default", "alice");
  moved("createUser");
  auto opened =
      accounts_->recordLoginSuccess(login("default", "alice", "success"), alice, session("tok"));
  ASSERT_TRUE(opened.isOk());
  moved("recordLoginSuccess (a session opened)");
  ASSERT_TRUE(accounts_
                  ->recordLoginFailure(login("default", "alice", "bad_password"), alice, 5,
                                       "2999-01-01T00:00:00.000Z")
                  .isOk());
  moved("recordLoginFailure (failure count)");
  ASSERT_TRUE(accounts_->useTotpStep(alice, 100).isOk());
  moved("useTotpStep");
  User a = *accounts_->user("default", alice);
  a.roles = {"viewer"};
  ASSERT_TRUE(accounts_->updateUser(a, event()).isOk());
  moved("updateUser (roles)");
  ApiKeyRecord key;
  key.orgId = "default";
  key.name = "k";
  key.prefix = "lgk_generati";
  key.keySha256 = sha256Hex("lgk_generation-secret");
  key.roles = {"viewer"};
  key.createdBy = "user:root";
  auto keyId = accounts_->createApiKey(key, event());
  ASSERT_TRUE(keyId.isOk());
  moved("createApiKey");
  ASSERT_TRUE(accounts_->revokeApiKey("default", keyId.value(), event()).isOk());
  moved("revokeApiKey");
  ASSERT_TRUE(accounts_->endSession(opened.value(), "logout").isOk());
  moved("endSession");
  ASSERT_TRUE(accounts_->endUserSessions(alice, "password changed").isOk());
  moved("endUserSessions");
  a = *accounts_->user("default", alice);
  a.disabled = true;
  ASSERT_TRUE(accounts_->updateUser(a, event()).isOk());
  moved("updateUser (disabled)");
  // A refused write moves it too (it costs one read again, never a stale answer).
  EXPECT_FALSE(accounts_->createUser(user("default", "alice"), event()).isOk());
  moved("a refused createUser");

  // Activity and login records change no answer: they leave it.
  ASSERT_TRUE(accounts_->touchSession(opened.value(), isoNow()).isOk());
  ASSERT_TRUE(accounts_->touchApiKey(keyId.value(), isoNow()).isOk());
  ASSERT_TRUE(accounts_->recordLoginRefused(login("default", "x", "address_refused")).isOk());
  ASSERT_TRUE(accounts_->appendAudit({"default", "user:root", "test.event", "x", "{}"}).isOk());
  EXPECT_EQ(accounts_->generation(), seen);
}

TEST_F(AccountsTest, TheGenerationIsSharedByEveryAccountStoreOfAStore) {
  // The API and the backup service hold AccountStores of their own over one Store.
  AccountStore other(store_);
  const uint64_t before = accounts_->generation();
  EXPECT_EQ(other.generation(), before);
  ASSERT_TRUE(other.bootstrap(org("default"), user("default", "root")).isOk());
  EXPECT_GT(accounts_->generation(), before);
  EXPECT_EQ(accounts_->generation(), other.generation());
}

}  // namespace
}  // namespace labgate
