// Issue 18, the accounts findings, against the real labgated over TLS on loopback:
//  4  granting needs every permission of the role; a disabled user's API keys stop; the last
//     administrator keeps the role admin (409);
//  10 every login failure answers the same; failures are delayed per (account, address) and per
//     address (429 + Retry-After) so that nobody locks others out; an upload without ?connector=
//     never answers with another organisation's connector;
//  15 wrong passwords inside a session (password change, TOTP enrolment) count as failed logins;
//  16 concurrent attempts are counted before they are evaluated;
//  11 control characters in names are refused; well-known passphrases are refused.
//
// Test output rule: failures print ApiResponse::describe() (status, title, detail), never a
// password, token, key or TOTP secret.
#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"

namespace labgate::it {
namespace {

constexpr const char* kOneAnswer = "the organisation, user name or password is wrong";

std::string strongPassword() {
  static std::mt19937_64 random{std::random_device{}()};
  static const std::string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  std::string p = "Kw";
  for (int i = 0; i < 16; ++i) p += alphabet[random() % alphabet.size()];
  return p + "-7";
}

std::vector<Poco::JSON::Object::Ptr> itemsOf(const ApiResponse& r) {
  std::vector<Poco::JSON::Object::Ptr> out;
  auto items = r.items();
  for (size_t i = 0; i < items->size(); ++i) {
    auto o = items->getObject(static_cast<unsigned>(i));
    if (!o.isNull()) out.push_back(o);
  }
  return out;
}

std::string str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (o.isNull() || !o->has(key) || o->isNull(key)) return {};
  return o->get(key).convert<std::string>();
}

struct Account {
  std::string org = "default";
  std::string username, password, token;
  int64_t id = 0;
};

class SecurityAccountsTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
    std::string cert, key, why;
    ASSERT_TRUE(makeTestCertificate(tmp_->path(), &cert, &key, &why)) << why;
    const int port = freePort();
    config_.set("https.listen", "127.0.0.1:" + std::to_string(port));
    config_.set("tls.cert", cert);
    config_.set("tls.key", key);
    api_ = ApiClient(port, true);
  }

  void addUploadConnector(const std::string& name, const std::string& org,
                          const std::string& destinations,
                          std::map<std::string, std::string> extra = {}) {
    ConnectorConfig up;
    up.name = name;
    up.kind = "upload";
    up.instrument = "qqq-01";
    up.mappings = testDataDir() + "/exports/mappings-lcms.csv";
    up.destinations = destinations;
    up.extra = std::move(extra);
    up.extra["max_bytes"] = "200000";
    if (org != "default") up.extra["org"] = org;
    config_.connectors.push_back(up);
    config_.omit("connector." + name + ".listen");
    config_.omit("connector." + name + ".astm.receive_timeout_seconds");
  }

  std::string adminToken() {
    ApiResponse r;
    std::string token = api_.login("default", "admin", kTestAdminPassword, "", &r);
    EXPECT_FALSE(token.empty()) << "admin login: " << r.describe();
    return token;
  }

  ApiResponse postUser(const std::string& token, const std::string& username,
                       const std::vector<std::string>& roles, const std::string& password,
                       const std::string& printedName = "") {
    return api_.post(
        "/api/v1/users",
        Json()
            .set("username", username)
            .set("printed_name", printedName.empty() ? "Test " + username : printedName)
            .set("password", password)
            .set("roles", roles)
            .str(),
        withBearer(token));
  }

  /// A user of the caller's organisation with an unrestricted session.
  Account createAccount(const std::string& creator, const std::string& tag,
                        const std::vector<std::string>& roles, const std::string& org = "default") {
    Account a;
    a.org = org;
    a.username = "s" + std::to_string(++counter_) + "-" + tag;
    const std::string initial = strongPassword();
    ApiResponse made = postUser(creator, a.username, roles, initial);
    EXPECT_EQ(made.status, 201) << made.describe();
    a.id = made.number("id", 0);
    if (a.id == 0) return a;
    activate(a, initial);
    return a;
  }

  void activate(Account& a, const std::string& initial) {
    ApiResponse r;
    const std::string first = api_.login(a.org, a.username, initial, "", &r);
    EXPECT_FALSE(first.empty()) << r.describe();
    a.password = strongPassword();
    ApiResponse change =
        api_.post("/api/v1/me/password",
                  Json().set("current_password", initial).set("new_password", a.password).str(),
                  withBearer(first));
    EXPECT_TRUE(change.ok()) << change.describe();
    a.token = api_.login(a.org, a.username, a.password, "", &r);
    EXPECT_FALSE(a.token.empty()) << r.describe();
  }

  ApiResponse createKey(const std::string& token, const std::string& name,
                        const std::vector<std::string>& roles) {
    return api_.post("/api/v1/api-keys", Json().set("name", name).set("roles", roles).str(),
                     withBearer(token));
  }

  std::string batch() {
    static const std::string text = readFile(testDataDir() + "/exports/steroids_batch.csv");
    std::string body = text;
    ++uploads_;
    for (int i = 0; i < uploads_; ++i) body += "\r\n";
    return body;
  }

  ApiResponse upload(const std::string& key, const std::string& query) {
    return api_.post("/api/v1/uploads" + query, batch(),
                     withBearer(key, {{"Content-Type", "text/csv"}}));
  }

  /// Login records of the organisation `default` (as the administrator).
  std::vector<Poco::JSON::Object::Ptr> logins(const std::string& admin, const std::string& query) {
    ApiResponse r = api_.get("/api/v1/logins?limit=500&" + query, withBearer(admin));
    EXPECT_EQ(r.status, 200) << r.describe();
    return itemsOf(r);
  }

  /// Enrols TOTP for `a`; returns the base32 secret.
  std::string enrolTotp(const Account& a) {
    ApiResponse start =
        api_.post("/api/v1/me/totp", Json().set("password", a.password).str(), withBearer(a.token));
    EXPECT_TRUE(start.ok()) << start.describe();
    std::string secret = start.text("secret");
    ApiResponse confirm =
        api_.post("/api/v1/me/totp/confirm", Json().set("code", totpCode(secret, unixNow())).str(),
                  withBearer(a.token));
    EXPECT_TRUE(confirm.ok()) << confirm.describe();
    return secret;
  }

  /// A six-digit code that is none of the codes accepted around now.
  std::string wrongCode(const std::string& secret) {
    std::set<std::string> near;
    for (int64_t d = -120; d <= 120; d += 30) near.insert(totpCode(secret, unixNow() + d));
    for (int i = 0;; ++i) {
      std::string code = std::to_string(100000 + (i * 7919) % 900000);
      if (!near.count(code)) return code;
    }
  }

  ApiClient api_{0};
  int counter_ = 0;
  int uploads_ = 0;
};

// ---- finding 4 ---------------------------------------------------------------------------------

TEST_F(SecurityAccountsTest, ARoleIsGrantedOnlyBySomeoneWhoHoldsAllItsPermissions) {
  config_.set("role.usermgr.permissions", "users.read, users.manage, roles.read");
  addUploadConnector("up1", "default", "lis");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account lis = createAccount(admin, "lis", {"lis-admin"});
  ASSERT_FALSE(lis.token.empty());

  // The escalation of the finding: a lis-admin minting auditor and approver keys.
  for (const auto& [role, permission] : std::vector<std::pair<std::string, std::string>>{
           {"auditor", "audit.read"}, {"qa-approver", "results.approve"}, {"admin", ""}}) {
    ApiResponse r = createKey(lis.token, "escalation " + role, {role});
    EXPECT_EQ(r.status, 403) << role << ": " << r.describe();
    EXPECT_EQ(r.contentType().rfind("application/problem+json", 0), 0u);
    EXPECT_NE(r.text("detail").find("\"" + role + "\""), std::string::npos) << r.describe();
    EXPECT_EQ(r.text("role"), role);
    if (!permission.empty()) {
      EXPECT_EQ(r.text("missing_permission"), permission) << r.describe();
      EXPECT_NE(r.text("detail").find(permission), std::string::npos) << r.describe();
    }
  }
  // What the lis-admin holds it may hand out: instrument and viewer keys.
  ApiResponse instrument = createKey(lis.token, "instrument key", {"instrument"});
  EXPECT_EQ(instrument.status, 201) << instrument.describe();
  EXPECT_EQ(createKey(lis.token, "viewer key", {"viewer"}).status, 201);
  // A lis-admin API key is held to the same rule.
  ApiResponse lisKey = createKey(admin, "lis key", {"lis-admin"});
  ASSERT_EQ(lisKey.status, 201) << lisKey.describe();
  EXPECT_EQ(createKey(lisKey.text("key"), "via key", {"auditor"}).status, 403);
  // With the key nothing of the audit trail is readable.
  EXPECT_EQ(api_.get("/api/v1/audit", withBearer(lis.token)).status, 403);

  // Users: a user manager (custom role) cannot create, promote or take over stronger users.
  Account manager = createAccount(admin, "mgr", {"usermgr"});
  ASSERT_FALSE(manager.token.empty());
  ApiResponse approver = postUser(manager.token, "s-approver", {"qa-approver"}, strongPassword());
  EXPECT_EQ(approver.status, 403) << approver.describe();
  EXPECT_EQ(approver.text("missing_permission"), "diagnostics.read") << "the first it lacks";
  ApiResponse peer = postUser(manager.token, "s-peer", {"usermgr"}, strongPassword());
  EXPECT_EQ(peer.status, 201) << peer.describe();
  const std::string peerPath = "/api/v1/users/" + std::to_string(peer.number("id", 0));
  ApiResponse promote = api_.patch(
      peerPath, Json().set("roles", std::vector<std::string>{"usermgr", "auditor"}).str(),
      withBearer(manager.token));
  EXPECT_EQ(promote.status, 403) << promote.describe();
  const std::string lisPath = "/api/v1/users/" + std::to_string(lis.id);
  EXPECT_EQ(api_.post(lisPath + "/password-reset", "", withBearer(manager.token)).status, 403)
      << "a reset would hand the manager the lis-admin's account";
  EXPECT_EQ(
      api_.patch(lisPath, Json().set("disabled", true).str(), withBearer(manager.token)).status,
      403);
  // The administrator (every permission) still creates every role.
  for (const std::string role : {"qa-approver", "qa-reviewer", "auditor", "instrument"}) {
    EXPECT_EQ(postUser(admin, "s-made-" + role, {role}, strongPassword()).status, 201) << role;
  }
}

TEST_F(SecurityAccountsTest, DisablingAUserRevokesTheirApiKeysInTheSameChange) {
  addUploadConnector("up1", "default", "lis");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account lis = createAccount(admin, "leaver", {"lis-admin"});
  ASSERT_FALSE(lis.token.empty());
  ApiResponse made = createKey(lis.token, "tq upload", {"instrument"});
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string key = made.text("key");
  // A key made by that key (lis-admin key → instrument key) goes too.
  ApiResponse lisKey = createKey(lis.token, "lis key", {"lis-admin"});
  ASSERT_EQ(lisKey.status, 201) << lisKey.describe();
  ApiResponse grandchild = createKey(lisKey.text("key"), "made by a key", {"instrument"});
  ASSERT_EQ(grandchild.status, 201) << grandchild.describe();
  EXPECT_EQ(upload(key, "?connector=up1").status, 202);
  EXPECT_EQ(upload(grandchild.text("key"), "?connector=up1").status, 202);

  ApiResponse disable = api_.patch("/api/v1/users/" + std::to_string(lis.id),
                                   Json().set("disabled", true).str(), withBearer(admin));
  ASSERT_EQ(disable.status, 200) << disable.describe();
  ApiResponse after = upload(key, "?connector=up1");
  EXPECT_EQ(after.status, 401) << "the disabled user's key still uploads: " << after.describe();
  EXPECT_EQ(upload(grandchild.text("key"), "?connector=up1").status, 401);
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(lisKey.text("key"))).status, 401);
  ApiResponse shown =
      api_.get("/api/v1/api-keys/" + std::to_string(made.number("id", 0)), withBearer(admin));
  EXPECT_EQ(shown.text("state"), "revoked") << shown.describe();
  ApiResponse audit = api_.get("/api/v1/audit?action=apikey.revoked&limit=50", withBearer(admin));
  ASSERT_EQ(audit.status, 200) << audit.describe();
  EXPECT_EQ(itemsOf(audit).size(), 3u) << "one apikey.revoked event per key";
  // Enabling the user again does not bring the keys back.
  ASSERT_EQ(api_.patch("/api/v1/users/" + std::to_string(lis.id),
                       Json().set("disabled", false).str(), withBearer(admin))
                .status,
            200);
  EXPECT_EQ(upload(key, "?connector=up1").status, 401);
}

TEST_F(SecurityAccountsTest, TheLastAdministratorKeepsTheRoleAdmin) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  ApiResponse me = api_.get("/api/v1/me", withBearer(admin));
  const std::string adminPath =
      "/api/v1/users/" + str(me.json ? me.json->getObject("user") : nullptr, "id");
  ApiResponse demote =
      api_.patch(adminPath, Json().set("roles", std::vector<std::string>{"lis-admin"}).str(),
                 withBearer(admin));
  EXPECT_EQ(demote.status, 409) << demote.describe();
  EXPECT_NE(demote.text("detail").find("last administrator"), std::string::npos)
      << demote.describe();
  EXPECT_EQ(api_.get("/api/v1/users", withBearer(admin)).status, 200) << "still an administrator";

  // With a second administrator the first may step down; then the second is the last one.
  Account second = createAccount(admin, "admin2", {"admin"});
  ASSERT_FALSE(second.token.empty());
  ApiResponse stepDown =
      api_.patch(adminPath, Json().set("roles", std::vector<std::string>{"admin", "viewer"}).str(),
                 withBearer(admin));
  EXPECT_EQ(stepDown.status, 200) << "keeping admin is no removal: " << stepDown.describe();
  ApiResponse removed =
      api_.patch(adminPath, Json().set("roles", std::vector<std::string>{"viewer"}).str(),
                 withBearer(second.token));
  EXPECT_EQ(removed.status, 200) << removed.describe();
  ApiResponse last = api_.patch("/api/v1/users/" + std::to_string(second.id),
                                Json().set("roles", std::vector<std::string>{"auditor"}).str(),
                                withBearer(second.token));
  EXPECT_EQ(last.status, 409) << last.describe();
  EXPECT_EQ(api_.get("/api/v1/users", withBearer(second.token)).status, 200);
}

// ---- finding 10 --------------------------------------------------------------------------------

TEST_F(SecurityAccountsTest, EveryLoginFailureAnswersTheSame) {
  config_.set("security.lockout.attempts", "3");
  config_.set("security.throttle.free_attempts", "100");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account victim = createAccount(admin, "victim", {"viewer"});
  Account other = createAccount(admin, "other", {"viewer"});
  Account gone = createAccount(admin, "gone", {"viewer"});
  ASSERT_FALSE(victim.token.empty());
  ASSERT_EQ(api_.patch("/api/v1/users/" + std::to_string(gone.id),
                       Json().set("disabled", true).str(), withBearer(admin))
                .status,
            200);
  for (int i = 0; i < 3; ++i)
    api_.login("default", victim.username, "Wrong-Password-" + std::to_string(i));
  ApiResponse user = api_.get("/api/v1/users/" + std::to_string(victim.id), withBearer(admin));
  ASSERT_TRUE(user.flag("locked")) << "the victim is locked: " << user.describe();

  struct Case {
    std::string label, org, user, password;
  };
  const std::vector<Case> cases = {
      {"locked, right password", "default", victim.username, victim.password},
      {"locked, wrong password", "default", victim.username, "Wrong-Password-x"},
      {"unknown user", "default", "nobody-at-all", "Wrong-Password-x"},
      {"wrong password", "default", other.username, "Wrong-Password-x"},
      {"disabled user, right password", "default", gone.username, gone.password},
      {"unknown organisation", "no-such-lab", "admin", "Wrong-Password-x"},
  };
  std::string firstBody;
  for (const auto& c : cases) {
    ApiResponse r;
    EXPECT_TRUE(api_.login(c.org, c.user, c.password, "", &r).empty()) << c.label;
    EXPECT_EQ(r.status, 401) << c.label << ": " << r.describe();
    EXPECT_EQ(r.text("detail"), kOneAnswer) << c.label;
    if (firstBody.empty()) firstBody = r.body;
    EXPECT_EQ(r.body, firstBody) << c.label << " answers differently";
  }
}

TEST_F(SecurityAccountsTest, FailuresAreDelayedPerAddressAndDoNotLockOthersOut) {
  // Defaults: 3 free failures per account and address, then 1 s doubling; the account-wide
  // lock needs 50.
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account victim = createAccount(admin, "target", {"viewer"});
  ASSERT_FALSE(victim.token.empty());

  const ApiClient attacker = api_.from("127.0.0.2");
  std::vector<int> statuses;
  ApiResponse delayed;
  for (int i = 0; i < 8; ++i) {
    ApiResponse r;
    attacker.login("default", victim.username, "Wrong-Password-" + std::to_string(i), "", &r);
    statuses.push_back(r.status);
    if (r.status == 429 && delayed.status == 0) delayed = r;
  }
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 401), 3) << "three free failures";
  ASSERT_EQ(delayed.status, 429) << "the fourth failure in a row is not delayed";
  EXPECT_EQ(delayed.contentType().rfind("application/problem+json", 0), 0u);
  EXPECT_FALSE(delayed.header("Retry-After").empty());
  EXPECT_GE(std::atoi(delayed.header("Retry-After").c_str()), 1);
  // An unknown account is delayed the same way (the delay tells nothing about existence).
  for (int i = 0; i < 3; ++i) attacker.login("default", "no-such-user", "Wrong-Password-x");
  ApiResponse unknown;
  attacker.login("default", "no-such-user", "Wrong-Password-x", "", &unknown);
  EXPECT_EQ(unknown.status, 429) << unknown.describe();

  // The victim, from their own address, is neither delayed nor locked.
  ApiResponse mine;
  EXPECT_FALSE(api_.login("default", victim.username, victim.password, "", &mine).empty())
      << mine.describe();
  // After the delay the attacker's address gets one more try.
  std::this_thread::sleep_for(
      std::chrono::seconds(std::atoi(delayed.header("Retry-After").c_str()) + 1));
  ApiResponse again;
  attacker.login("default", victim.username, "Wrong-Password-z", "", &again);
  EXPECT_EQ(again.status, 401) << again.describe();
  // Throttled attempts are login records too (one per delay).
  auto records = logins(admin, "outcome=throttled&user=" + victim.username);
  EXPECT_GE(records.size(), 1u);
  for (const auto& o : records) EXPECT_EQ(str(o, "peer").rfind("127.0.0.2", 0), 0u);
  EXPECT_EQ(ApiClient(config_.httpPort).get("/health").status, 200) << "still serving";
}

TEST_F(SecurityAccountsTest, AnUploadWithoutConnectorNeverAnswersWithAnotherOrganisation) {
  addUploadConnector("up1", "default", "lis");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  std::string admin = adminToken();
  const std::string initial = strongPassword();
  ApiResponse created = api_.post("/api/v1/organisations",
                                  Json()
                                      .set("id", "lab-b")
                                      .set("name", "Laboratory B")
                                      .set("admin", Json()
                                                        .set("username", "b-boss")
                                                        .set("printed_name", "B Boss")
                                                        .set("password", initial))
                                      .str(),
                                  withBearer(admin));
  ASSERT_EQ(created.status, 201) << created.describe();
  // lab-b's upload connector admits only 10.0.0.0/8; its name must not reach default's callers.
  stopEngine();
  DestinationConfig lisB;
  lisB.name = "lis-b";
  lisB.port = freePort();
  lisB.extra["org"] = "lab-b";
  config_.destinations.push_back(lisB);
  addUploadConnector("secret-b-uploads", "lab-b", "lis-b", {{"allow", "10.0.0.0/8"}});
  ASSERT_NO_FATAL_FAILURE(startEngine());
  admin = adminToken();
  ApiResponse key = createKey(admin, "instrument", {"instrument"});
  ASSERT_EQ(key.status, 201) << key.describe();

  ApiResponse r = upload(key.text("key"), "?filename=batch.csv");
  EXPECT_EQ(r.status, 202) << r.describe();
  EXPECT_EQ(r.body.find("secret-b-uploads"), std::string::npos) << r.describe();
  // Naming it is answered without its name either.
  ApiResponse named = upload(key.text("key"), "?connector=secret-b-uploads");
  EXPECT_EQ(named.body.find("secret-b-uploads"), std::string::npos) << named.describe();
  EXPECT_NE(ApiClient(config_.httpPort).get("/health").status, 0) << "still serving";
}

// ---- finding 15 --------------------------------------------------------------------------------

TEST_F(SecurityAccountsTest, WrongPasswordsInsideASessionCountAsFailedLogins) {
  config_.set("security.lockout.attempts", "3");
  config_.set("security.throttle.free_attempts", "100");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account user = createAccount(admin, "guesser", {"viewer"});
  ASSERT_FALSE(user.token.empty());

  for (int i = 0; i < 2; ++i) {
    ApiResponse r = api_.post("/api/v1/me/password",
                              Json()
                                  .set("current_password", "Guess-Number-" + std::to_string(i))
                                  .set("new_password", strongPassword())
                                  .str(),
                              withBearer(user.token));
    EXPECT_EQ(r.status, 403) << r.describe();
  }
  ApiResponse totp = api_.post("/api/v1/me/totp", Json().set("password", "Guess-Number-9").str(),
                               withBearer(user.token));
  EXPECT_EQ(totp.status, 403) << totp.describe();

  // Three failures: the account is locked like after three failed logins.
  ApiResponse shown = api_.get("/api/v1/users/" + std::to_string(user.id), withBearer(admin));
  EXPECT_TRUE(shown.flag("locked")) << shown.describe();
  ApiResponse login;
  EXPECT_TRUE(api_.login("default", user.username, user.password, "", &login).empty());
  EXPECT_EQ(login.status, 401) << login.describe();
  // Locked, even the right password is no longer checked inside the session.
  ApiResponse right = api_.post("/api/v1/me/totp", Json().set("password", user.password).str(),
                                withBearer(user.token));
  EXPECT_EQ(right.status, 403) << right.describe();

  auto records = logins(admin, "user=" + user.username + "&outcome=bad_password");
  EXPECT_EQ(records.size(), 3u);
  for (const auto& o : records) EXPECT_EQ(str(o, "method"), "reauthentication");
  ApiResponse audit =
      api_.get("/api/v1/audit?action=user.reauthentication_failed&limit=50", withBearer(admin));
  ASSERT_EQ(audit.status, 200) << audit.describe();
  EXPECT_EQ(itemsOf(audit).size(), 4u) << "three wrong passwords and one while locked";
  ApiResponse locked = api_.get("/api/v1/audit?action=user.locked", withBearer(admin));
  EXPECT_EQ(itemsOf(locked).size(), 1u);
}

// ---- finding 16 --------------------------------------------------------------------------------

class ConcurrentLogins : public SecurityAccountsTest {
 protected:
  /// 100 simultaneous logins of `a` with the right password and a wrong TOTP code; the number
  /// of codes evaluated (login records "bad_totp") and the statuses seen.
  int64_t storm(const std::string& admin, const Account& a, const std::string& secret,
                std::map<int, int>* statuses) {
    const std::string code = wrongCode(secret);
    std::vector<std::thread> threads;
    std::vector<int> seen(100, 0);
    std::atomic<bool> go{false};
    for (size_t i = 0; i < seen.size(); ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        ApiResponse r;
        api_.login("default", a.username, a.password, code, &r);
        seen[i] = r.status;
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    for (int s : seen) ++(*statuses)[s];
    return static_cast<int64_t>(logins(admin, "user=" + a.username + "&outcome=bad_totp").size());
  }
};

TEST_F(ConcurrentLogins, TheLockCountsAttemptsBeforeTheyAreEvaluated) {
  config_.set("security.lockout.attempts", "5");
  config_.set("security.throttle.free_attempts", "1000");
  config_.set("security.throttle.source_free_attempts", "0");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account a = createAccount(admin, "storm", {"viewer"});
  ASSERT_FALSE(a.token.empty());
  const std::string secret = enrolTotp(a);
  std::map<int, int> statuses;
  const int64_t evaluated = storm(admin, a, secret, &statuses);
  EXPECT_LE(evaluated, 5) << "codes evaluated past the lockout threshold";
  EXPECT_GE(evaluated, 1);
  // Connections the server could not queue are closed unanswered (status 0); every answer is
  // the one 401.
  std::string seen;
  for (const auto& [status, count] : statuses) {
    seen += std::to_string(status) + ": " + std::to_string(count) + "; ";
  }
  EXPECT_EQ(statuses[401] + statuses[0], 100) << seen;
  EXPECT_GE(statuses[401], 20);
  // Attempts refused while others were in flight were not evaluated and do not count, so the
  // account is locked exactly when five codes were evaluated and failed (how many were in flight
  // together depends on the machine's scheduling).
  EXPECT_EQ(api_.get("/api/v1/users/" + std::to_string(a.id), withBearer(admin)).flag("locked"),
            evaluated == 5);
  EXPECT_NE(ApiClient(config_.httpPort).get("/health").status, 0) << "still serving";
}

TEST_F(ConcurrentLogins, TheDelayCountsAttemptsBeforeTheyAreEvaluated) {
  config_.set("security.lockout.attempts", "1000");
  config_.set("security.throttle.free_attempts", "5");
  config_.set("security.throttle.delay_seconds", "600");  // no delay runs out during the storm
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account a = createAccount(admin, "storm", {"viewer"});
  ASSERT_FALSE(a.token.empty());
  const std::string secret = enrolTotp(a);
  std::map<int, int> statuses;
  const int64_t evaluated = storm(admin, a, secret, &statuses);
  EXPECT_EQ(evaluated, 5) << "codes evaluated past the free attempts";
  EXPECT_EQ(statuses[401], 5);
  EXPECT_EQ(statuses[429] + statuses[0], 95) << "the rest delayed (or not taken by the server)";
}

// ---- finding 11 --------------------------------------------------------------------------------

TEST_F(SecurityAccountsTest, NamesWithControlCharactersAreRefused) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const std::string nul("Eve\0Mallory", 11);
  struct Case {
    std::string label, method, path, body, field;
  };
  const std::vector<Case> cases = {
      {"NUL in printed name", "POST", "/api/v1/users",
       Json()
           .set("username", "s-eve")
           .set("printed_name", nul)
           .set("password", strongPassword())
           .set("roles", std::vector<std::string>{"viewer"})
           .str(),
       "printed_name"},
      {"BEL in username", "POST", "/api/v1/users",
       Json()
           .set("username",
                "s-\x07"
                "bell")
           .set("printed_name", "Bell")
           .set("password", strongPassword())
           .set("roles", std::vector<std::string>{"viewer"})
           .str(),
       "username"},
      {"newline in key name", "POST", "/api/v1/api-keys",
       Json()
           .set("name", "key\nforged line")
           .set("roles", std::vector<std::string>{"viewer"})
           .str(),
       "name"},
      {"direction override in organisation name", "PATCH", "/api/v1/organisations/default",
       Json()
           .set("name",
                "Lab \xE2\x80\xAE"
                "evil")
           .str(),
       "name"},
      {"NUL in a role name", "POST", "/api/v1/api-keys",
       Json()
           .set("name", "k")
           .set("roles", std::vector<std::string>{std::string("viewer\0x", 8)})
           .str(),
       "roles"},
  };
  for (const auto& c : cases) {
    ApiResponse r = api_.request(c.method, c.path, c.body, withBearer(admin));
    EXPECT_EQ(r.status, 400) << c.label << ": " << r.describe();
    EXPECT_NE(r.text("detail").find("\"" + c.field + "\""), std::string::npos)
        << c.label << ": " << r.describe();
  }
  ApiResponse audit = api_.get("/api/v1/audit?limit=500", withBearer(admin));
  EXPECT_EQ(audit.body.find("Mallory"), std::string::npos) << "the refused name was audited";
}

TEST_F(SecurityAccountsTest, WellKnownPassphrasesAreRefused) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  int n = 0;
  for (const std::string p : {"correcthorsebatterystaple", "Correct Horse Battery Staple",
                              "correct-horse-battery-staple"}) {
    ApiResponse r = postUser(admin, "s-phrase" + std::to_string(++n), {"viewer"}, p);
    EXPECT_EQ(r.status, 422) << p << ": " << r.describe();
    EXPECT_NE(r.text("detail").find("common"), std::string::npos) << r.describe();
  }
}

}  // namespace
}  // namespace labgate::it
