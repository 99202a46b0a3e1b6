// Accounts, authentication, permissions, tenant isolation and TLS (issue 5) against the real
// labgated over loopback HTTP(S), to the contract of docs/api.md: the first start, every route of
// the permission table for every built-in role (sessions and API keys), organisations that never
// see each other's rows, lockout, session timeouts, the cookie's CSRF rule, API keys, IP
// allow-lists, the TLS versions, TOTP, restricted sessions, and no secret written anywhere.
//
// Test output rule: failures print route, role, status and the problem's title/detail
// (ApiResponse::describe), never a password, token, key, CSRF token or TOTP secret.
#include <Poco/DateTimeFormatter.h>
#include <Poco/File.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "engine/api/permissions.h"
#include "engine/api/routes.h"
#include "engine/security/keyring.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"
#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

std::string exportData(const std::string& name) { return testDataDir() + "/exports/" + name; }

/// ISO-8601 UTC, `secondsFromNow` from now (negative: in the past).
std::string isoIn(int secondsFromNow) {
  Poco::Timestamp t;
  t += static_cast<Poco::Timestamp::TimeDiff>(secondsFromNow) * Poco::Timestamp::resolution();
  return Poco::DateTimeFormatter::format(t, "%Y-%m-%dT%H:%M:%SZ");
}

/// A password the policy accepts: long, random, no user name in it.
std::string strongPassword() {
  static std::mt19937_64 random{std::random_device{}()};
  static const std::string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  std::string p = "Qv";
  for (int i = 0; i < 16; ++i) p += alphabet[random() % alphabet.size()];
  return p + "-8";
}

std::string str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (o.isNull() || !o->has(key)) return {};
  try {
    Poco::Dynamic::Var v = o->get(key);
    if (v.isEmpty()) return {};
    return v.convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

bool isNull(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  return o.isNull() || !o->has(key) || o->isNull(key);
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

std::set<std::string> idsOf(const ApiResponse& r, const std::string& key = "id") {
  std::set<std::string> ids;
  for (const auto& o : itemsOf(r)) ids.insert(str(o, key));
  return ids;
}

std::vector<std::string> stringsOf(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  std::vector<std::string> out;
  if (o.isNull()) return out;
  auto a = o->getArray(key);
  if (a.isNull()) return out;
  for (size_t i = 0; i < a->size(); ++i) out.push_back(a->getElement<std::string>(i));
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

/// A person with a usable (unrestricted) session.
struct Account {
  std::string org;
  std::string username;
  std::string password;
  std::string token;
  int64_t id = 0;
};

class AccountsTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    // Argon2id at its defaults costs 50-300 ms per hash under AddressSanitizer; the tests use
    // the cheapest parameters except NoSecretIsWrittenAnywhere, which keeps the defaults.
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
    addUploadConnector("up1", "default");
    // The API under test is reached over real TLS on loopback (https.listen); plain HTTP stays
    // for the harness's /health polling.
    std::string cert, key, why;
    ASSERT_TRUE(makeTestCertificate(tmp_->path(), &cert, &key, &why)) << why;
    httpsPort_ = freePort();
    config_.set("https.listen", "127.0.0.1:" + std::to_string(httpsPort_));
    config_.set("tls.cert", cert);
    config_.set("tls.key", key);
    api_ = ApiClient(httpsPort_, true);
    remember("admin password", kTestAdminPassword);
  }

  /// An upload connector for the LC-MS/MS test batch (instrument qqq-01).
  void addUploadConnector(const std::string& name, const std::string& org,
                          const std::string& destinations = "lis",
                          std::map<std::string, std::string> extra = {}) {
    ConnectorConfig up;
    up.name = name;
    up.kind = "upload";
    up.instrument = "qqq-01";
    up.mappings = exportData("mappings-lcms.csv");
    up.destinations = destinations;
    up.extra = std::move(extra);
    up.extra["max_bytes"] = "200000";
    if (org != "default") up.extra["org"] = org;
    config_.connectors.push_back(up);
    config_.omit("connector." + name + ".listen");
    config_.omit("connector." + name + ".astm.receive_timeout_seconds");
  }

  void addAstmConnector(const std::string& name, const std::string& org,
                        const std::string& destinations,
                        std::map<std::string, std::string> extra = {}) {
    ConnectorConfig c;
    c.name = name;
    c.port = freePort();
    c.instrument = "tq-" + name;
    c.mappings = defaultMappingsPath();
    c.destinations = destinations;
    c.extra = std::move(extra);
    if (org != "default") c.extra["org"] = org;
    config_.connectors.push_back(c);
  }

  int connectorPort(const std::string& name) const {
    for (const auto& c : config_.connectors) {
      if (c.name == name) return c.port;
    }
    return 0;
  }

  void remember(const std::string& label, const std::string& value) {
    if (!value.empty()) secrets_.push_back({label, value});
  }
  void rememberToken(const std::string& token) {
    remember("session token " + std::to_string(secrets_.size()), token);
  }

  std::string login(const std::string& org, const std::string& user, const std::string& password,
                    const std::string& totp = "", ApiResponse* response = nullptr) {
    std::string token = api_.login(org, user, password, totp, response);
    rememberToken(token);
    return token;
  }

  /// A fresh session of the first-start administrator of "default".
  std::string adminToken() {
    ApiResponse r;
    std::string token = login("default", "admin", kTestAdminPassword, "", &r);
    EXPECT_FALSE(token.empty()) << "admin login: " << r.describe();
    return token;
  }

  std::string newUsername(const std::string& tag) {
    return "u" + std::to_string(++userCounter_) + "-" + tag;
  }

  /// POST /api/v1/users; the new user's id (0 on failure, recorded as a test failure).
  int64_t createUser(const std::string& token, const std::string& username,
                     const std::vector<std::string>& roles, const std::string& password) {
    remember("initial password of " + username, password);
    ApiResponse r = api_.post("/api/v1/users",
                              Json()
                                  .set("username", username)
                                  .set("printed_name", "Test " + username)
                                  .set("password", password)
                                  .set("roles", roles)
                                  .str(),
                              withBearer(token));
    EXPECT_EQ(r.status, 201) << "POST /api/v1/users " << username << ": " << r.describe();
    return r.number("id", 0);
  }

  /// POST /api/v1/me/password on `token`; true when answered 2xx.
  bool changePassword(const std::string& token, const std::string& current, const std::string& next,
                      ApiResponse* out = nullptr) {
    remember("new password", next);
    ApiResponse r = api_.post(
        "/api/v1/me/password",
        Json().set("current_password", current).set("new_password", next).str(), withBearer(token));
    bool ok = r.ok();
    if (out) *out = std::move(r);
    return ok;
  }

  /// A user created by `creatorToken` in the creator's organisation, who has changed the initial
  /// password and logged in again: an unrestricted session.
  Account createAccount(const std::string& creatorToken, const std::string& tag,
                        const std::vector<std::string>& roles, const std::string& org = "default") {
    Account a;
    a.org = org;
    a.username = newUsername(tag);
    const std::string initial = strongPassword();
    a.id = createUser(creatorToken, a.username, roles, initial);
    if (a.id == 0) return a;
    activate(a, initial);
    return a;
  }

  /// First login with the initial password, the change, the second login.
  void activate(Account& a, const std::string& initial) {
    ApiResponse r;
    std::string first = login(a.org, a.username, initial, "", &r);
    EXPECT_FALSE(first.empty()) << "first login of " << a.username << ": " << r.describe();
    EXPECT_TRUE(r.flag("password_change_required")) << a.username;
    a.password = strongPassword();
    ApiResponse change;
    EXPECT_TRUE(changePassword(first, initial, a.password, &change))
        << "password change of " << a.username << ": " << change.describe();
    a.token = login(a.org, a.username, a.password, "", &r);
    EXPECT_FALSE(a.token.empty()) << "second login of " << a.username << ": " << r.describe();
    EXPECT_FALSE(r.flag("password_change_required", true)) << a.username;
  }

  /// POST /api/v1/api-keys; the key (shown once), "" on failure. `response` gets the answer.
  std::string createApiKey(const std::string& token, const std::string& name,
                           const std::vector<std::string>& roles, const std::string& connector = "",
                           const std::string& expiresAt = "", ApiResponse* response = nullptr) {
    Json body;
    body.set("name", name).set("roles", roles);
    if (!connector.empty()) body.set("connector", connector);
    if (!expiresAt.empty()) body.set("expires_at", expiresAt);
    ApiResponse r = api_.post("/api/v1/api-keys", body.str(), withBearer(token));
    std::string key = r.status == 201 ? r.text("key") : "";
    remember("API key " + name, key);
    if (response) *response = std::move(r);
    return key;
  }

  /// The test batch, made distinct from every earlier upload by trailing blank lines (an upload
  /// of identical content answers 200 "duplicate").
  std::string uniqueBatch() {
    static const std::string batch = readFile(exportData("steroids_batch.csv"));
    std::string body = batch;
    ++uploadCounter_;
    for (int i = 0; i < uploadCounter_; ++i) body += "\r\n";
    return body;
  }

  ApiResponse upload(const HttpHeaders& credentials, const std::string& connector,
                     const std::string& body) {
    HttpHeaders headers = credentials;
    headers.emplace_back("Content-Type", "text/csv");
    return api_.post("/api/v1/uploads?connector=" + connector + "&filename=batch.csv", body,
                     headers);
  }

  /// One ASTM sample through connector port `port`; true when the instrument got every ACK.
  bool sendAstmSample(int port, const std::string& sampleId) {
    AstmInstrument instrument(port);
    Transfer t =
        instrument.sendSession(buildAstmMessage({{sampleId, {{"GLU", "5.6", "mmol/L"}}, {}}}));
    return t.complete;
  }

  /// Row id of the sample `sampleId` as `token` sees it (polls: the commit follows the ACK).
  std::string sampleRowId(const std::string& token, const std::string& sampleId) {
    std::string id;
    waitUntil(
        [&] {
          ApiResponse r = api_.get("/api/v1/samples?sample_id=" + sampleId, withBearer(token));
          for (const auto& o : itemsOf(r)) {
            if (str(o, "sample_id") == sampleId) id = str(o, "id");
          }
          return !id.empty();
        },
        10000ms, 200ms);
    return id;
  }

  std::vector<std::string> logFiles() const {
    return listFilesRecursive(config_.dataDir + "/logs");
  }

  ApiClient api_{0};
  int httpsPort_ = 0;
  std::vector<Secret> secrets_;
  int userCounter_ = 0;
  int uploadCounter_ = 0;
};

// ---------------------------------------------------------------------------------------------
// 1. The first start

TEST_F(AccountsTest, FirstStartCreatesTheAdministratorFromTheEnvironment) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ApiResponse r;
  std::string token = login("default", "admin", kTestAdminPassword, "", &r);
  ASSERT_FALSE(token.empty()) << r.describe();
  EXPECT_EQ(token.rfind("lgs_", 0), 0u) << "session tokens start with lgs_";
  ApiResponse me = api_.get("/api/v1/me", withBearer(token));
  ASSERT_EQ(me.status, 200) << me.describe();
  EXPECT_EQ(me.text("org"), "default");
  EXPECT_TRUE(contains(stringsOf(me.json, "roles"), "admin"));
  // The bootstrap leaves one organisation, "default".
  ApiResponse org = api_.get("/api/v1/organisations/default", withBearer(token));
  EXPECT_EQ(org.status, 200) << org.describe();
  EXPECT_EQ(org.text("id"), "default");

  // Once a user exists the variable is ignored: a restart without it, or with another value,
  // starts and the first password still works.
  stopEngine();
  engine_->setEnvironment({{}, {"LABGATE_ADMIN_PASSWORD"}});
  ASSERT_NO_FATAL_FAILURE(startEngine());
  EXPECT_FALSE(login("default", "admin", kTestAdminPassword).empty());
  stopEngine();
  const std::string other = strongPassword();
  engine_->setEnvironment({{{"LABGATE_ADMIN_PASSWORD", other}}, {}});
  ASSERT_NO_FATAL_FAILURE(startEngine());
  EXPECT_FALSE(login("default", "admin", kTestAdminPassword).empty());
  EXPECT_TRUE(login("default", "admin", other, "", &r).empty());
  EXPECT_EQ(r.status, 401);
}

TEST_F(AccountsTest, EmptyStoreWithoutOrWithAWeakAdminPasswordRefusesToStart) {
  struct Case {
    std::string label;
    ChildEnvironment environment;
  };
  const std::vector<Case> cases = {
      {"no LABGATE_ADMIN_PASSWORD", {{}, {"LABGATE_ADMIN_PASSWORD"}}},
      {"weak LABGATE_ADMIN_PASSWORD", {{{"LABGATE_ADMIN_PASSWORD", "password"}}, {}}},
      {"short LABGATE_ADMIN_PASSWORD", {{{"LABGATE_ADMIN_PASSWORD", "Xq7-short"}}, {}}},
  };
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string dir = tmp_->file("empty-" + std::to_string(++n));
    Poco::File(dir + "/data").createDirectories();
    EngineConfig config = config_;
    config.dataDir = dir + "/data";
    config.httpPort = freePort();
    config.write(dir + "/labgate.properties");
    EngineProcess engine(dir + "/labgate.properties", config.httpPort, dir);
    engine.setEnvironment(c.environment);
    std::string why;
    EXPECT_FALSE(engine.start(30000ms, &why)) << "labgated served with an empty store";
    auto status = engine.exitStatus();
    ASSERT_TRUE(status.has_value()) << "still running: " << why;
    EXPECT_NE(*status, 0);
    EXPECT_NE(engine.stderrText().find("LABGATE_ADMIN_PASSWORD"), std::string::npos)
        << "stderr does not say why (name the variable)";
  }
}

// ---------------------------------------------------------------------------------------------
// 2. The permission table, walked for every built-in role

/// Who makes a request of the matrix.
struct Caller {
  std::string role;  // "" = no credentials
  bool apiKey = false;
  std::string secret;          // session token or API key
  Account* account = nullptr;  // the role's user (sessions)
  std::string label() const {
    if (role.empty()) return "no credentials";
    return role + (apiKey ? " (API key)" : " (session)");
  }
};

struct Call {
  std::string path;
  std::string body;
  HttpHeaders headers;                            // besides the credential
  std::string tokenOverride;                      // a session of its own (logging out)
  std::function<void(const ApiResponse&)> after;  // bookkeeping after a 2xx
};

TEST_F(AccountsTest, EveryRouteAnswersEveryRoleAsThePermissionTableSays) {
  // Encryption at rest, so that GET /api/v1/messages/{id}/raw has a stored body to answer and
  // the re-encryption can run (docs/encryption.md).
  const std::string keyFile = tmp_->file("kek");
  ASSERT_TRUE(security::writeNewKeyFile(keyFile).isOk());
  config_.set("security.key_file", keyFile);
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  ASSERT_FALSE(admin.empty());
  const api::RoleTable roleTable;

  // One user (unrestricted session) and one API key per built-in role.
  std::map<std::string, Account> users;
  std::map<std::string, std::string> keys;
  for (const auto& [name, role] : roleTable.roles()) {
    if (!role.builtin) continue;
    users[name] = createAccount(admin, "m-" + name, {name});
    ASSERT_FALSE(users[name].token.empty()) << "no session for role " << name;
    ApiResponse r;
    keys[name] = createApiKey(admin, "matrix " + name, {name}, "", "", &r);
    ASSERT_FALSE(keys[name].empty()) << "no API key for role " << name << ": " << r.describe();
  }

  // Data the read routes point at: a sample from the ASTM connector, a batch for diagnostics.
  ASSERT_TRUE(sendAstmSample(astmPort(), "MX1001"));
  ApiResponse up = upload(withBearer(keys["instrument"]), "up1", uniqueBatch());
  ASSERT_EQ(up.status, 202) << up.describe();
  const std::string sampleId = sampleRowId(users["viewer"].token, "MX1001");
  ASSERT_FALSE(sampleId.empty()) << "the viewer cannot find the ASTM sample";
  std::string messageId;
  const ApiResponse found =
      api_.get("/api/v1/samples?sample_id=MX1001", withBearer(users["viewer"].token));
  for (const auto& o : itemsOf(found)) messageId = str(o, "message_id");
  ASSERT_FALSE(messageId.empty());
  // One re-encryption at a time: an allowed POST waits until the one before it has ended.
  auto reencryptionIdle = [&]() {
    EXPECT_TRUE(waitUntil(
        [&] {
          return api_.get("/api/v1/maintenance/reencrypt", withBearer(admin)).text("state") !=
                 "running";
        },
        60000ms, 50ms));
  };
  // Existing resources for the callers that must be refused before anything is looked up.
  const int64_t someUser = users["viewer"].id;
  ApiResponse keyList = api_.get("/api/v1/api-keys", withBearer(admin));
  ASSERT_EQ(keyList.status, 200) << keyList.describe();
  ASSERT_FALSE(itemsOf(keyList).empty());
  const std::string someKey = str(itemsOf(keyList).front(), "id");
  int orgCounter = 0;

  // A fresh target user / key per call of a route that changes it, so each 2xx is real.
  auto freshUser = [&]() {
    return std::to_string(createUser(admin, newUsername("target"), {"viewer"}, strongPassword()));
  };
  auto freshKey = [&]() {
    ApiResponse r;
    createApiKey(admin, "target key " + std::to_string(++orgCounter), {"viewer"}, "", "", &r);
    return std::to_string(r.number("id", 0));
  };

  // The request of each route for a caller. `allowed`: the caller is expected to pass the
  // permission check (only then are resources created for it).
  auto build = [&](const api::RouteSpec& route, const Caller& caller, bool allowed) {
    const std::string key = route.method + " " + route.path;
    Call c;
    c.path = route.path;
    Account* me = caller.account;
    if (key == "POST /api/v1/sessions") {
      c.body = Json()
                   .set("org", "default")
                   .set("user", me ? me->username : "nobody")
                   .set("password", me ? me->password : "wrong-password-1")
                   .str();
      c.after = [this](const ApiResponse& r) { rememberToken(r.text("token")); };
    } else if (key == "DELETE /api/v1/sessions/current") {
      if (allowed && me && !caller.apiKey) {
        ApiResponse r;
        c.tokenOverride = login("default", me->username, me->password, "", &r);
        EXPECT_FALSE(c.tokenOverride.empty()) << me->username << ": " << r.describe();
        const std::string ended = c.tokenOverride;
        c.after = [this, ended](const ApiResponse&) {
          EXPECT_EQ(api_.get("/api/v1/me", withBearer(ended)).status, 401)
              << "the session still answers after logging out";
        };
      }
    } else if (key == "GET /api/v1/me") {
    } else if (key == "POST /api/v1/me/password") {
      std::string next = strongPassword();
      remember("changed password", next);
      c.body =
          Json().set("current_password", me ? me->password : "x").set("new_password", next).str();
      if (me) c.after = [me, next](const ApiResponse&) { me->password = next; };
    } else if (key == "POST /api/v1/me/totp") {
      c.body = Json().set("password", me ? me->password : "x").str();
      c.after = [this](const ApiResponse& r) { remember("TOTP secret", r.text("secret")); };
    } else if (key == "POST /api/v1/me/totp/confirm") {
      std::string code = "000000";
      if (allowed && me && !caller.apiKey) {
        ApiResponse start = api_.post("/api/v1/me/totp", Json().set("password", me->password).str(),
                                      withBearer(caller.secret));
        EXPECT_TRUE(start.ok()) << "TOTP start for " << caller.label() << ": " << start.describe();
        remember("TOTP secret", start.text("secret"));
        code = totpCode(start.text("secret"), unixNow());
      }
      c.body = Json().set("code", code).str();
    } else if (key == "GET /api/v1/organisations") {
    } else if (key == "POST /api/v1/organisations") {
      const std::string id = "mx-org-" + std::to_string(++orgCounter);
      const std::string password = strongPassword();
      remember("new organisation admin password", password);
      c.body = Json()
                   .set("id", id)
                   .set("name", "Matrix lab " + id)
                   .set("admin", Json()
                                     .set("username", "chief")
                                     .set("printed_name", "Chief")
                                     .set("password", password))
                   .str();
    } else if (key == "GET /api/v1/organisations/{id}") {
      c.path = "/api/v1/organisations/default";
    } else if (key == "PATCH /api/v1/organisations/{id}") {
      c.path = "/api/v1/organisations/default";
      c.body = Json().set("name", "Default laboratory").str();
    } else if (key == "GET /api/v1/users") {
    } else if (key == "POST /api/v1/users") {
      const std::string password = strongPassword();
      remember("initial password", password);
      c.body =
          Json()
              .set("username", newUsername("made"))
              .set("printed_name", "Made By Matrix")
              .set("password", password)
              .set("roles", std::vector<std::string>{caller.role.empty() ? "viewer" : caller.role})
              .str();
    } else if (key == "GET /api/v1/users/{id}") {
      c.path = "/api/v1/users/" + std::to_string(someUser);
    } else if (key == "PATCH /api/v1/users/{id}") {
      c.path = "/api/v1/users/" + (allowed ? freshUser() : std::to_string(someUser));
      c.body = Json().set("printed_name", "Renamed By Matrix").str();
    } else if (key == "POST /api/v1/users/{id}/unlock") {
      c.path = "/api/v1/users/" + (allowed ? freshUser() : std::to_string(someUser)) + "/unlock";
    } else if (key == "POST /api/v1/users/{id}/password-reset") {
      c.path =
          "/api/v1/users/" + (allowed ? freshUser() : std::to_string(someUser)) + "/password-reset";
      c.after = [this](const ApiResponse& r) {
        remember("temporary password", r.text("temporary_password"));
      };
    } else if (key == "DELETE /api/v1/users/{id}/totp") {
      c.path = "/api/v1/users/" + (allowed ? freshUser() : std::to_string(someUser)) + "/totp";
    } else if (key == "GET /api/v1/roles") {
    } else if (key == "GET /api/v1/roles/{name}") {
      c.path = "/api/v1/roles/viewer";
    } else if (key == "GET /api/v1/api-keys") {
    } else if (key == "POST /api/v1/api-keys") {
      c.body =
          Json()
              .set("name", "made by matrix " + std::to_string(++orgCounter))
              .set("roles", std::vector<std::string>{caller.role.empty() ? "viewer" : caller.role})
              .str();
      c.after = [this](const ApiResponse& r) { remember("API key", r.text("key")); };
    } else if (key == "GET /api/v1/api-keys/{id}") {
      c.path = "/api/v1/api-keys/" + someKey;
    } else if (key == "DELETE /api/v1/api-keys/{id}") {
      c.path = "/api/v1/api-keys/" + (allowed ? freshKey() : someKey);
    } else if (key == "GET /api/v1/connectors") {
    } else if (key == "GET /api/v1/connectors/{name}") {
      c.path = "/api/v1/connectors/lab1";
    } else if (key == "GET /api/v1/destinations") {
    } else if (key == "GET /api/v1/destinations/{name}") {
      c.path = "/api/v1/destinations/lis";
    } else if (key == "GET /api/v1/samples") {
    } else if (key == "GET /api/v1/samples/{id}") {
      c.path = "/api/v1/samples/" + sampleId;
    } else if (key == "POST /api/v1/uploads") {
      c.path = "/api/v1/uploads?connector=up1&filename=matrix.csv";
      c.body = uniqueBatch();
      c.headers.emplace_back("Content-Type", "text/csv");
    } else if (key == "GET /api/v1/instruments/{id}/diagnostics") {
      c.path = "/api/v1/instruments/qqq-01/diagnostics";
    } else if (key == "GET /api/v1/audit") {
    } else if (key == "GET /api/v1/logins") {
    } else if (key == "GET /api/v1/messages/{id}/raw") {
      c.path = "/api/v1/messages/" + messageId + "/raw";
    } else if (key == "POST /api/v1/maintenance/reencrypt") {
      if (allowed) reencryptionIdle();
    } else if (key == "GET /api/v1/maintenance/reencrypt") {
    } else if (key == "POST /api/v1/backups") {
    } else if (key == "GET /api/v1/backups") {
    } else {
      ADD_FAILURE() << "no request for route " << key << ": add one to this test";
    }
    return c;
  };

  // Logging out, changing one's password and enrolling TOTP change the caller's account, so
  // they come after everything else (enrolment last: later logins would need a code).
  std::vector<api::RouteSpec> routes = api::routeTable();
  auto rank = [](const api::RouteSpec& r) {
    const std::string key = r.method + " " + r.path;
    if (key == "POST /api/v1/sessions") return 0;
    if (key == "DELETE /api/v1/sessions/current") return 1;
    if (key == "POST /api/v1/me/password") return 3;
    if (key == "POST /api/v1/me/totp") return 4;
    if (key == "POST /api/v1/me/totp/confirm") return 5;
    return 2;
  };
  std::stable_sort(routes.begin(), routes.end(),
                   [&](const auto& a, const auto& b) { return rank(a) < rank(b); });

  int cells = 0, allowedCells = 0, refusedCells = 0;
  auto check = [&](const api::RouteSpec& route, const Caller& caller) {
    const std::string& permission = route.permission;
    int expected;  // 2 = any 2xx
    if (permission == api::kPublic) {
      expected = 201;
    } else if (caller.role.empty()) {
      expected = 401;
    } else if (permission == api::kAuthenticated) {
      expected = 2;
    } else if (permission == api::kSession) {
      expected = caller.apiKey ? 403 : 2;
    } else {
      const api::Role* role = roleTable.find(caller.role);
      expected = role && role->permissions.count(permission) ? 2 : 403;
    }
    Call call = build(route, caller, expected == 2 || expected == 201);
    HttpHeaders headers;
    const std::string secret = call.tokenOverride.empty() ? caller.secret : call.tokenOverride;
    if (!secret.empty() && permission != api::kPublic) headers = withBearer(secret);
    headers.insert(headers.end(), call.headers.begin(), call.headers.end());
    ApiResponse r = api_.request(route.method, call.path, call.body, headers);
    ++cells;
    (expected == 2 || expected == 201 ? allowedCells : refusedCells)++;
    const std::string where =
        route.method + " " + route.path + " as " + caller.label() + ": " + r.describe();
    if (expected == 2) {
      EXPECT_TRUE(r.ok()) << where << " (expected 2xx)";
    } else {
      EXPECT_EQ(r.status, expected) << where;
    }
    if (r.ok() && call.after) call.after(r);
    if (r.status == 401 || r.status == 403) {
      EXPECT_EQ(r.contentType().rfind("application/problem+json", 0), 0u) << where;
    }
    if (r.status == 401) {
      EXPECT_NE(r.header("WWW-Authenticate").find("Bearer"), std::string::npos) << where;
    }
  };

  for (const auto& route : routes) {
    if (route.permission != api::kPublic) check(route, Caller{});
    for (auto& [role, account] : users) {
      check(route, Caller{role, false, account.token, &account});
      if (route.permission != api::kPublic) check(route, Caller{role, true, keys[role], nullptr});
    }
  }
  EXPECT_GT(cells, 7 * 2 * 30);
  EXPECT_GT(allowedCells, 80);
  EXPECT_GT(refusedCells, 150);
  std::cout << "[ matrix   ] " << cells << " requests: " << allowedCells << " expected 2xx, "
            << refusedCells << " expected 401/403\n";
}

// ---------------------------------------------------------------------------------------------
// 3. Organisations never see each other's rows

TEST_F(AccountsTest, OrganisationsNeverSeeEachOthersRows) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  std::string admin = adminToken();
  ASSERT_FALSE(admin.empty());

  // The operator creates lab-b with its first administrator, who must change the password.
  const std::string bossInitial = strongPassword();
  remember("lab-b admin initial password", bossInitial);
  ApiResponse created = api_.post("/api/v1/organisations",
                                  Json()
                                      .set("id", "lab-b")
                                      .set("name", "Laboratory B")
                                      .set("admin", Json()
                                                        .set("username", "b-boss")
                                                        .set("printed_name", "B Boss")
                                                        .set("password", bossInitial))
                                      .str(),
                                  withBearer(admin));
  ASSERT_EQ(created.status, 201) << created.describe();
  ASSERT_TRUE(created.json && created.json->getObject("organisation"));
  EXPECT_EQ(str(created.json->getObject("organisation"), "id"), "lab-b");
  ASSERT_TRUE(created.json->getObject("admin"));
  EXPECT_EQ(str(created.json->getObject("admin"), "username"), "b-boss");
  EXPECT_EQ(str(created.json->getObject("admin"), "org"), "lab-b");
  EXPECT_EQ(api_.post("/api/v1/organisations",
                      Json()
                          .set("id", "lab-b")
                          .set("name", "Again")
                          .set("admin", Json()
                                            .set("username", "b-other")
                                            .set("printed_name", "B Other")
                                            .set("password", strongPassword()))
                          .str(),
                      withBearer(admin))
                .status,
            409)
      << "an organisation id already used";

  // The connectors and destination of lab-b are configuration: restart with them.
  stopEngine();
  DestinationConfig lisB;
  lisB.name = "lis-b";
  lisB.port = freePort();
  lisB.extra["org"] = "lab-b";
  config_.destinations.push_back(lisB);
  addUploadConnector("up-b", "lab-b", "lis-b");
  addAstmConnector("astm-b", "lab-b", "lis-b");
  FakeLis lisForB(lisB.port);
  lisForB.start();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  admin = adminToken();

  Account boss{"lab-b", "b-boss", "", "", 0};
  boss.id = std::atoll(str(created.json->getObject("admin"), "id").c_str());
  ASSERT_GT(boss.id, 0);
  activate(boss, bossInitial);
  ASSERT_FALSE(boss.token.empty());
  Account bView = createAccount(boss.token, "b-view", {"viewer"}, "lab-b");
  Account bAudit = createAccount(boss.token, "b-audit", {"auditor"}, "lab-b");
  ASSERT_FALSE(bView.token.empty());
  ASSERT_FALSE(bAudit.token.empty());
  ApiResponse r;
  const std::string bKey = createApiKey(boss.token, "b instrument", {"instrument"}, "", "", &r);
  ASSERT_FALSE(bKey.empty()) << r.describe();
  const std::string bKeyId = std::to_string(r.number("id", 0));
  const std::string bScoped = createApiKey(boss.token, "b scoped", {"instrument"}, "up-b", "", &r);
  ASSERT_FALSE(bScoped.empty()) << r.describe();

  // The default side.
  Account aView = createAccount(admin, "a-view", {"viewer"});
  Account aAudit = createAccount(admin, "a-audit", {"auditor"});
  const std::string aKey = createApiKey(admin, "a instrument", {"instrument"}, "", "", &r);
  ASSERT_FALSE(aKey.empty()) << r.describe();
  const std::string aKeyId = std::to_string(r.number("id", 0));
  ApiResponse adminMe = api_.get("/api/v1/me", withBearer(admin));
  const std::string adminId = str(adminMe.json ? adminMe.json->getObject("user") : nullptr, "id");
  ASSERT_FALSE(adminId.empty()) << adminMe.describe();

  // Data in both organisations.
  ApiResponse bUp = upload(withBearer(bScoped), "up-b", uniqueBatch());
  ASSERT_EQ(bUp.status, 202) << bUp.describe();
  ASSERT_TRUE(sendAstmSample(connectorPort("astm-b"), "BB2001"));
  ApiResponse aUp = upload(withBearer(aKey), "up1", uniqueBatch());
  ASSERT_EQ(aUp.status, 202) << aUp.describe();
  ASSERT_TRUE(sendAstmSample(astmPort(), "AA1001"));
  const std::string bSample = sampleRowId(bView.token, "BB2001");
  const std::string aSample = sampleRowId(aView.token, "AA1001");
  ASSERT_FALSE(bSample.empty());
  ASSERT_FALSE(aSample.empty());
  // Neither sees the other's sample by its sample id either.
  EXPECT_TRUE(
      itemsOf(api_.get("/api/v1/samples?sample_id=BB2001", withBearer(aView.token))).empty());
  EXPECT_TRUE(
      itemsOf(api_.get("/api/v1/samples?sample_id=AA1001", withBearer(bView.token))).empty());

  // Uploads to the other organisation's connector: as if it did not exist.
  EXPECT_EQ(upload(withBearer(aKey), "up-b", uniqueBatch()).status, 404);
  EXPECT_EQ(upload(withBearer(bKey), "up1", uniqueBatch()).status, 404);
  // Only the operator organisation creates organisations.
  EXPECT_EQ(api_.post("/api/v1/organisations",
                      Json()
                          .set("id", "lab-c")
                          .set("name", "C")
                          .set("admin", Json()
                                            .set("username", "c-boss")
                                            .set("printed_name", "C Boss")
                                            .set("password", strongPassword()))
                          .str(),
                      withBearer(boss.token))
                .status,
            403);

  struct Side {
    std::string org;
    Account* admin;
    Account* viewer;
    Account* auditor;
  };
  Account adminAccount{"default", "admin", kTestAdminPassword, admin, std::atoll(adminId.c_str())};
  Side a{"default", &adminAccount, &aView, &aAudit};
  Side b{"lab-b", &boss, &bView, &bAudit};

  struct Foreign {
    std::string userId, keyId, org, sample, connector, destination;
  };
  const Foreign ofB{std::to_string(bView.id), bKeyId, "lab-b", bSample, "up-b", "lis-b"};
  const Foreign ofA{std::to_string(aView.id), aKeyId, "default", aSample, "up1", "lis"};

  // Every foreign resource answers exactly as one that does not exist: 404 to a caller holding
  // the permission (403 to one without it, before anything is looked up).
  struct Req {
    std::string method, path, body, permission;
  };
  auto requestsFor = [](const Foreign& f) {
    return std::vector<Req>{
        {"GET", "/api/v1/users/" + f.userId, "", "users.read"},
        {"PATCH", "/api/v1/users/" + f.userId, Json().set("printed_name", "Hijacked").str(),
         "users.manage"},
        {"PATCH", "/api/v1/users/" + f.userId, Json().set("disabled", true).str(), "users.manage"},
        {"POST", "/api/v1/users/" + f.userId + "/unlock", "", "users.manage"},
        {"POST", "/api/v1/users/" + f.userId + "/password-reset", "", "users.manage"},
        {"DELETE", "/api/v1/users/" + f.userId + "/totp", "", "users.manage"},
        {"GET", "/api/v1/api-keys/" + f.keyId, "", "apikeys.read"},
        {"DELETE", "/api/v1/api-keys/" + f.keyId, "", "apikeys.manage"},
        {"GET", "/api/v1/organisations/" + f.org, "", "organisations.read"},
        {"PATCH", "/api/v1/organisations/" + f.org, Json().set("name", "Hijacked").str(),
         "organisations.manage"},
        {"GET", "/api/v1/samples/" + f.sample, "", "results.read"},
        {"GET", "/api/v1/connectors/" + f.connector, "", "connectors.read"},
        {"GET", "/api/v1/destinations/" + f.destination, "", "destinations.read"},
    };
  };
  const Foreign nowhere{
      "987654", "987654", "no-such-org", "987654", "no-such-connector", "no-such-destination"};
  auto probe = [&](Side& side, const Foreign& f) {
    const auto foreign = requestsFor(f);
    const auto missing = requestsFor(nowhere);
    const api::RoleTable roles;
    for (Account* caller : {side.admin, side.viewer}) {
      const auto held = roles.permissionsOf({caller == side.admin ? "admin" : "viewer"});
      for (size_t i = 0; i < foreign.size(); ++i) {
        const Req& q = foreign[i];
        ApiResponse answer = api_.request(q.method, q.path, q.body, withBearer(caller->token));
        const int expected = held.count(q.permission) ? 404 : 403;
        EXPECT_EQ(answer.status, expected)
            << side.org << " " << caller->username << ": " << q.method << " " << q.path << ": "
            << answer.describe();
        if (expected != 404) continue;
        ApiResponse none =
            api_.request(q.method, missing[i].path, missing[i].body, withBearer(caller->token));
        EXPECT_EQ(none.status, 404)
            << q.method << " " << missing[i].path << ": " << none.describe();
        EXPECT_EQ(none.text("title"), answer.text("title"))
            << q.method << " " << q.path << " differs from a resource that does not exist";
      }
    }
  };
  probe(a, ofB);
  probe(b, ofA);

  // The probes changed nothing: the foreign accounts and keys still work.
  EXPECT_FALSE(login("lab-b", bView.username, bView.password).empty());
  EXPECT_FALSE(login("default", aView.username, aView.password).empty());
  EXPECT_EQ(upload(withBearer(bKey), "up-b", uniqueBatch()).status, 202);
  EXPECT_EQ(upload(withBearer(aKey), "up1", uniqueBatch()).status, 202);
  ApiResponse bViewRead =
      api_.get("/api/v1/users/" + std::to_string(bView.id), withBearer(boss.token));
  EXPECT_EQ(bViewRead.text("printed_name"), "Test " + bView.username);
  EXPECT_FALSE(bViewRead.flag("disabled", true));

  // Lists: disjoint row ids, and only the caller's organisation in them.
  struct ListCheck {
    std::string path;
    std::function<std::string(Side&)> token;
  };
  const std::vector<ListCheck> lists = {
      {"/api/v1/users?limit=500", [](Side& s) { return s.admin->token; }},
      {"/api/v1/api-keys?limit=500", [](Side& s) { return s.admin->token; }},
      {"/api/v1/samples?limit=500", [](Side& s) { return s.viewer->token; }},
      {"/api/v1/audit?limit=500", [](Side& s) { return s.auditor->token; }},
      {"/api/v1/logins?limit=500", [](Side& s) { return s.auditor->token; }},
      {"/api/v1/organisations", [](Side& s) { return s.admin->token; }},
  };
  for (const auto& list : lists) {
    ApiResponse ra = api_.get(list.path, withBearer(list.token(a)));
    ApiResponse rb = api_.get(list.path, withBearer(list.token(b)));
    ASSERT_EQ(ra.status, 200) << list.path << ": " << ra.describe();
    ASSERT_EQ(rb.status, 200) << list.path << ": " << rb.describe();
    auto idsA = idsOf(ra), idsB = idsOf(rb);
    EXPECT_FALSE(idsA.empty()) << list.path << " of default is empty";
    EXPECT_FALSE(idsB.empty()) << list.path << " of lab-b is empty";
    for (const auto& id : idsA) EXPECT_EQ(idsB.count(id), 0u) << list.path << " both show " << id;
    for (const auto& [side, answer] :
         {std::pair<std::string, ApiResponse*>{"default", &ra}, {"lab-b", &rb}}) {
      for (const auto& o : itemsOf(*answer)) {
        if (o->has("org")) {
          EXPECT_EQ(str(o, "org"), side) << list.path;
        }
      }
    }
  }
  // Users by name, connectors and destinations by name.
  auto names = [&](const std::string& path, const std::string& token, const std::string& key) {
    std::set<std::string> out;
    for (const auto& o : itemsOf(api_.get(path, withBearer(token)))) out.insert(str(o, key));
    return out;
  };
  auto usersA = names("/api/v1/users?limit=500", admin, "username");
  auto usersB = names("/api/v1/users?limit=500", boss.token, "username");
  EXPECT_EQ(usersA.count("b-boss") + usersA.count(bView.username), 0u);
  EXPECT_EQ(usersB.count("admin") + usersB.count(aView.username), 0u);
  EXPECT_EQ(usersB.count(bView.username), 1u);
  auto connectorsA = names("/api/v1/connectors", aView.token, "name");
  auto connectorsB = names("/api/v1/connectors", bView.token, "name");
  EXPECT_EQ(connectorsA, (std::set<std::string>{"lab1", "up1"}));
  EXPECT_EQ(connectorsB, (std::set<std::string>{"astm-b", "up-b"}));
  EXPECT_EQ(names("/api/v1/destinations", aView.token, "name"), (std::set<std::string>{"lis"}));
  EXPECT_EQ(names("/api/v1/destinations", bView.token, "name"), (std::set<std::string>{"lis-b"}));
  // The lab-b audit trail holds lab-b's own events (its users and keys being created).
  ApiResponse bAuditList = api_.get("/api/v1/audit?limit=500", withBearer(bAudit.token));
  bool sawUserCreated = false;
  for (const auto& o : itemsOf(bAuditList)) {
    if (str(o, "action").rfind("user.", 0) == 0) sawUserCreated = true;
  }
  EXPECT_TRUE(sawUserCreated) << "lab-b's audit trail lacks its user events";
  lisForB.stop();
}

// ---------------------------------------------------------------------------------------------
// 4. Lockout and login records

TEST_F(AccountsTest, FiveWrongPasswordsLockTheAccountUntilAnAdministratorUnlocksIt) {
  config_.set("security.lockout.attempts", "5");
  config_.set("security.lockout.seconds", "900");
  // The account-wide lock alone: no delays between the attempts from this one address.
  config_.set("security.throttle.free_attempts", "100");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account victim = createAccount(admin, "locky", {"viewer"});
  Account auditor = createAccount(admin, "audit", {"auditor"});
  ASSERT_FALSE(victim.token.empty());
  ASSERT_FALSE(auditor.token.empty());

  const HttpHeaders agent{{"User-Agent", "labgate-it-lockout/1.0"}};
  for (int i = 1; i <= 5; ++i) {
    ApiResponse r;
    EXPECT_TRUE(
        api_.login("default", victim.username, "Wrong-Password-" + std::to_string(i), "", &r, agent)
            .empty());
    EXPECT_EQ(r.status, 401) << "attempt " << i << ": " << r.describe();
    if (i < 5) {  // the fifth failure locks: its answer may say so already
      EXPECT_EQ(r.text("detail").find("locked"), std::string::npos)
          << "attempt " << i << " already says locked";
    }
  }
  ApiResponse locked;
  EXPECT_TRUE(api_.login("default", victim.username, victim.password, "", &locked, agent).empty())
      << "the right password opened a locked account";
  EXPECT_EQ(locked.status, 401) << locked.describe();
  // Locked says what every failure says (issue 18): the lock must not reveal the account.
  EXPECT_EQ(locked.text("detail"), "the organisation, user name or password is wrong")
      << locked.describe();
  // Wrong and unknown users get one message (no user enumeration).
  ApiResponse unknown, wrong;
  api_.login("default", "nobody-here", "Wrong-Password-9", "", &unknown);
  api_.login("default", auditor.username, "Wrong-Password-9", "", &wrong);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.text("detail"), wrong.text("detail"));
  EXPECT_EQ(unknown.text("detail"), "the organisation, user name or password is wrong");

  // One user.locked audit event, a SECURITY line in the log.
  ApiResponse audit =
      api_.get("/api/v1/audit?action=user.locked&limit=500", withBearer(auditor.token));
  ASSERT_EQ(audit.status, 200) << audit.describe();
  auto events = itemsOf(audit);
  EXPECT_EQ(events.size(), 1u) << "user.locked events";
  for (const auto& e : events) EXPECT_EQ(str(e, "action"), "user.locked");
  EXPECT_TRUE(waitUntil(
      [&] {
        for (const auto& f : logFiles()) {
          if (readFile(f).find("SECURITY") != std::string::npos) return true;
        }
        return false;
      },
      10000ms))
      << "no SECURITY line under " << config_.dataDir << "/logs";

  // The administrator lifts the lock.
  ApiResponse unlock =
      api_.post("/api/v1/users/" + std::to_string(victim.id) + "/unlock", "", withBearer(admin));
  EXPECT_TRUE(unlock.ok()) << unlock.describe();
  ApiResponse after;
  EXPECT_FALSE(api_.login("default", victim.username, victim.password, "", &after, agent).empty())
      << after.describe();

  // The login records: every attempt, from 127.0.0.1, with the user agent and the outcome.
  ApiResponse logins =
      api_.get("/api/v1/logins?user=" + victim.username + "&limit=500", withBearer(auditor.token));
  ASSERT_EQ(logins.status, 200) << logins.describe();
  std::map<std::string, int> outcomes;
  int withAgent = 0;
  for (const auto& o : itemsOf(logins)) {
    EXPECT_EQ(str(o, "peer").rfind("127.0.0.1", 0), 0u) << "peer " << str(o, "peer");
    ++outcomes[str(o, "outcome")];
    if (str(o, "user_agent") == "labgate-it-lockout/1.0") ++withAgent;
  }
  EXPECT_EQ(outcomes["bad_password"], 5);
  EXPECT_EQ(outcomes["locked"], 1);
  EXPECT_GE(outcomes["success"], 3) << "two during activation, one after the unlock";
  EXPECT_EQ(withAgent, 7) << "five failures, the locked attempt and the login after the unlock";
  ApiResponse failures =
      api_.get("/api/v1/logins?user=" + victim.username + "&outcome=bad_password",
               withBearer(auditor.token));
  EXPECT_EQ(itemsOf(failures).size(), 5u);
  // Newest first.
  auto all = itemsOf(logins);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GE(str(all[i - 1], "at"), str(all[i], "at")) << "logins are not newest first";
  }
}

// ---------------------------------------------------------------------------------------------
// 5. Session timeouts and ending sessions

TEST_F(AccountsTest, SessionsEndAfterTheIdleAndTheAbsoluteTimeout) {
  config_.set("security.session.idle_seconds", "2");
  config_.set("security.session.absolute_seconds", "6");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  // Idle: four seconds of silence end a session with a two-second idle timeout.
  ApiResponse r;
  const std::string idle = login("default", "admin", kTestAdminPassword, "", &r);
  ASSERT_FALSE(idle.empty()) << r.describe();
  EXPECT_EQ(r.number("idle_timeout_seconds"), 2);
  EXPECT_FALSE(r.text("expires_at").empty());
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(idle)).status, 200);
  std::this_thread::sleep_for(4s);
  ApiResponse stale = api_.get("/api/v1/me", withBearer(idle));
  EXPECT_EQ(stale.status, 401) << "after 4 s idle: " << stale.describe();

  // Absolute: used every half second, the session lives past the idle timeout but not past
  // six seconds after the login. Times are measured from before the login request, so the
  // server's clock started later than ours: every request sent before 5 s must pass.
  const auto start = Clock::now();
  const std::string busy = login("default", "admin", kTestAdminPassword, "", &r);
  ASSERT_FALSE(busy.empty()) << r.describe();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  double endedAt = -1;
  while (elapsed() < 12.0) {
    const double sentAt = elapsed();
    ApiResponse me = api_.get("/api/v1/me", withBearer(busy));
    if (sentAt < 5.0) {
      EXPECT_EQ(me.status, 200) << "request at " << sentAt << " s: " << me.describe();
    } else if (me.status == 401) {
      endedAt = sentAt;
      break;
    }
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_GE(endedAt, 5.0) << "the busy session never ended (absolute_seconds = 6)";
  EXPECT_LT(endedAt, 9.0);
}

TEST_F(AccountsTest, LoggingOutAndDisablingTheUserEndSessionsAtOnce) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const std::string other = adminToken();
  ApiResponse out = api_.del("/api/v1/sessions/current", withBearer(other));
  EXPECT_TRUE(out.ok()) << out.describe();
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(other)).status, 401);
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(admin)).status, 200) << "only that session ended";

  Account user = createAccount(admin, "leaver", {"viewer"});
  ASSERT_FALSE(user.token.empty());
  EXPECT_EQ(api_.get("/api/v1/samples", withBearer(user.token)).status, 200);
  ApiResponse disable = api_.patch("/api/v1/users/" + std::to_string(user.id),
                                   Json().set("disabled", true).str(), withBearer(admin));
  EXPECT_EQ(disable.status, 200) << disable.describe();
  EXPECT_TRUE(disable.flag("disabled"));
  EXPECT_EQ(api_.get("/api/v1/samples", withBearer(user.token)).status, 401);
  ApiResponse r;
  EXPECT_TRUE(login("default", user.username, user.password, "", &r).empty());
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.text("detail"), "the organisation, user name or password is wrong")
      << "a disabled user gets the one message";
}

// ---------------------------------------------------------------------------------------------
// 6. The browser's cookie and CSRF

TEST_F(AccountsTest, CookieSessionsNeedTheCsrfTokenForChanges) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  ApiResponse r = api_.post("/api/v1/sessions", Json()
                                                    .set("org", "default")
                                                    .set("user", "admin")
                                                    .set("password", kTestAdminPassword)
                                                    .set("cookie", true)
                                                    .str());
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_TRUE(isNull(r.json, "token")) << "the token is in the cookie only";
  const std::string csrf = r.text("csrf_token");
  ASSERT_FALSE(csrf.empty());
  remember("CSRF token", csrf);
  std::string cookie;
  for (const auto& value : r.headerValues("Set-Cookie")) {
    if (value.rfind("labgate_session=", 0) == 0) cookie = value;
  }
  ASSERT_FALSE(cookie.empty()) << "no labgate_session cookie";
  // Attribute names are case-insensitive (RFC 6265 §5.2).
  std::string attributes = cookie.substr(cookie.find(';'));
  std::transform(attributes.begin(), attributes.end(), attributes.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  for (const char* attribute : {"; httponly", "; secure", "; samesite=strict", "; path=/"}) {
    EXPECT_NE(attributes.find(attribute), std::string::npos) << "cookie lacks " << attribute;
  }
  const std::string pair = cookie.substr(0, cookie.find(';'));
  const std::string token = pair.substr(pair.find('=') + 1);
  remember("cookie session token", token);
  EXPECT_EQ(r.body.find(token), std::string::npos) << "the session token is in the body";
  const HttpHeaders withCookie{{"Cookie", pair}};

  EXPECT_EQ(api_.get("/api/v1/users", withCookie).status, 200);
  EXPECT_EQ(api_.get("/api/v1/me", withCookie).status, 200);

  const int64_t target = createUser(admin, newUsername("csrf"), {"viewer"}, strongPassword());
  const std::string path = "/api/v1/users/" + std::to_string(target);
  const std::string rename = Json().set("printed_name", "Renamed").str();
  const std::string newUser = Json()
                                  .set("username", newUsername("csrf"))
                                  .set("printed_name", "Via Cookie")
                                  .set("password", strongPassword())
                                  .set("roles", std::vector<std::string>{"viewer"})
                                  .str();

  ApiResponse noToken = api_.patch(path, rename, withCookie);
  EXPECT_EQ(noToken.status, 403) << "PATCH without X-CSRF-Token: " << noToken.describe();
  ApiResponse noTokenPost = api_.post("/api/v1/users", newUser, withCookie);
  EXPECT_EQ(noTokenPost.status, 403) << "POST without X-CSRF-Token: " << noTokenPost.describe();
  HttpHeaders wrong = withCookie;
  wrong.emplace_back("X-CSRF-Token", "lgc_" + std::string(43, 'A'));
  EXPECT_EQ(api_.patch(path, rename, wrong).status, 403) << "a wrong CSRF token";
  EXPECT_EQ(api_.post("/api/v1/users", newUser, wrong).status, 403);
  HttpHeaders right = withCookie;
  right.emplace_back("X-CSRF-Token", csrf);
  ApiResponse patched = api_.patch(path, rename, right);
  EXPECT_EQ(patched.status, 200) << patched.describe();
  EXPECT_EQ(patched.text("printed_name"), "Renamed");
  ApiResponse posted = api_.post("/api/v1/users", newUser, right);
  EXPECT_EQ(posted.status, 201) << posted.describe();
  // A bearer request needs no CSRF token.
  EXPECT_EQ(api_.patch(path, Json().set("printed_name", "Again").str(), withBearer(admin)).status,
            200);
  // Logging out through the cookie is a change too.
  EXPECT_EQ(api_.del("/api/v1/sessions/current", withCookie).status, 403);
  EXPECT_TRUE(api_.del("/api/v1/sessions/current", right).ok());
  EXPECT_EQ(api_.get("/api/v1/me", withCookie).status, 401);
}

// ---------------------------------------------------------------------------------------------
// 7. API keys

TEST_F(AccountsTest, ApiKeysAreShownOnceScopedRevokedAndExpire) {
  addUploadConnector("up2", "default");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  ApiResponse created;
  const std::string key =
      createApiKey(admin, "tq uploads", {"instrument"}, "", isoIn(86400), &created);
  ASSERT_EQ(created.status, 201) << created.describe();
  ASSERT_EQ(key.rfind("lgk_", 0), 0u) << "API keys start with lgk_";
  const std::string id = std::to_string(created.number("id", 0));
  const std::string prefix = created.text("prefix");
  EXPECT_FALSE(prefix.empty());
  EXPECT_EQ(key.rfind(prefix, 0), 0u) << "the prefix is the key's beginning";
  EXPECT_LT(prefix.size(), key.size());
  EXPECT_EQ(stringsOf(created.json, "roles"), std::vector<std::string>{"instrument"});
  EXPECT_EQ(created.text("state"), "active");

  // Never shown again.
  ApiResponse list = api_.get("/api/v1/api-keys", withBearer(admin));
  ASSERT_EQ(list.status, 200) << list.describe();
  EXPECT_EQ(list.body.find(key), std::string::npos) << "the list shows the key";
  bool listed = false;
  for (const auto& o : itemsOf(list)) {
    EXPECT_TRUE(isNull(o, "key")) << "a listed key has a \"key\" member";
    if (str(o, "id") == id) {
      listed = true;
      EXPECT_EQ(str(o, "prefix"), prefix);
    }
  }
  EXPECT_TRUE(listed);
  ApiResponse one = api_.get("/api/v1/api-keys/" + id, withBearer(admin));
  ASSERT_EQ(one.status, 200) << one.describe();
  EXPECT_EQ(one.body.find(key), std::string::npos);
  EXPECT_TRUE(isNull(one.json, "key"));
  EXPECT_TRUE(isNull(one.json, "last_used_at"));

  // Uploads with it (Bearer and X-API-Key); nothing else.
  ApiResponse stored = upload(withBearer(key), "up1", uniqueBatch());
  EXPECT_EQ(stored.status, 202) << stored.describe();
  ApiResponse viaHeader = upload({{"X-API-Key", key}}, "up2", uniqueBatch());
  EXPECT_EQ(viaHeader.status, 202) << viaHeader.describe();
  EXPECT_EQ(api_.get("/api/v1/users", withBearer(key)).status, 403);
  EXPECT_EQ(api_.get("/api/v1/samples", withBearer(key)).status, 403);
  ApiResponse me = api_.get("/api/v1/me", withBearer(key));
  EXPECT_EQ(me.status, 200) << me.describe();
  EXPECT_EQ(me.text("kind"), "api_key");
  EXPECT_FALSE(isNull(api_.get("/api/v1/api-keys/" + id, withBearer(admin)).json, "last_used_at"));

  // Scoped to up1: up2 is refused.
  ApiResponse scopedAnswer;
  const std::string scoped =
      createApiKey(admin, "up1 only", {"instrument"}, "up1", "", &scopedAnswer);
  ASSERT_FALSE(scoped.empty()) << scopedAnswer.describe();
  EXPECT_EQ(scopedAnswer.text("connector"), "up1");
  EXPECT_EQ(upload(withBearer(scoped), "up1", uniqueBatch()).status, 202);
  ApiResponse elsewhere = upload(withBearer(scoped), "up2", uniqueBatch());
  EXPECT_EQ(elsewhere.status, 403) << elsewhere.describe();

  // Revoked at once.
  ApiResponse revoke = api_.del("/api/v1/api-keys/" + id, withBearer(admin));
  EXPECT_TRUE(revoke.ok()) << revoke.describe();
  ApiResponse afterRevoke = upload(withBearer(key), "up1", uniqueBatch());
  EXPECT_EQ(afterRevoke.status, 401) << afterRevoke.describe();
  ApiResponse revoked = api_.get("/api/v1/api-keys/" + id, withBearer(admin));
  EXPECT_FALSE(isNull(revoked.json, "revoked_at"));
  EXPECT_EQ(revoked.text("state"), "revoked");

  // Expiry: a time in the past is refused; a key expiring in 4 s works, then does not.
  ApiResponse past;
  EXPECT_TRUE(createApiKey(admin, "expired", {"instrument"}, "", isoIn(-60), &past).empty());
  EXPECT_EQ(past.status, 422) << past.describe();
  ApiResponse soonAnswer;
  const auto createdAt = Clock::now();
  const std::string soon =
      createApiKey(admin, "short-lived", {"instrument"}, "", isoIn(4), &soonAnswer);
  ASSERT_FALSE(soon.empty()) << soonAnswer.describe();
  if (Clock::now() - createdAt < 2s) {
    ApiResponse early = api_.get("/api/v1/me", withBearer(soon));
    EXPECT_EQ(early.status, 200) << early.describe();
  }
  std::this_thread::sleep_until(createdAt + 6s);
  ApiResponse late = upload(withBearer(soon), "up1", uniqueBatch());
  EXPECT_EQ(late.status, 401) << "an expired key: " << late.describe();
  EXPECT_EQ(
      api_.get("/api/v1/api-keys/" + std::to_string(soonAnswer.number("id", 0)), withBearer(admin))
          .text("state"),
      "expired");

  // Nobody grants what they do not hold: a lis-admin cannot make an admin key.
  Account lis = createAccount(admin, "lisadm", {"lis-admin"});
  ASSERT_FALSE(lis.token.empty());
  ApiResponse escalate;
  EXPECT_TRUE(createApiKey(lis.token, "escalation", {"admin"}, "", "", &escalate).empty());
  EXPECT_EQ(escalate.status, 403) << escalate.describe();
  ApiResponse unknownRole;
  EXPECT_TRUE(createApiKey(admin, "unknown", {"no-such-role"}, "", "", &unknownRole).empty());
  EXPECT_EQ(unknownRole.status, 422) << unknownRole.describe();
  EXPECT_EQ(api_.get("/api/v1/users", withBearer("lgk_" + std::string(43, 'x'))).status, 401)
      << "an unknown key";
}

// ---------------------------------------------------------------------------------------------
// 8. IP allow-lists

// The organisation's list is checked against the peer address. Every test client is on
// loopback, so the test uses two loopback addresses as two peers: 127.0.0.1 and 127.0.0.2
// (Linux routes all of 127.0.0.0/8 to lo; the client binds its socket to 127.0.0.2). lab-b's
// administrator, connected from 127.0.0.2, sets lab-b's list to 10.0.0.0/8 plus 127.0.0.2 —
// accepted, since the list keeps the caller's own address — and from then on every request of
// lab-b from 127.0.0.1 (login, session, API key) is refused while 127.0.0.2 still works, which
// also lets lab-b's administrator read the address_refused login records afterwards.
TEST_F(AccountsTest, OrganisationAllowListRefusesOtherAddresses) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  // The caller's own address must stay on the list.
  ApiResponse lockout = api_.patch(
      "/api/v1/organisations/default",
      Json().set("ip_allowlist", std::vector<std::string>{"10.0.0.0/8"}).str(), withBearer(admin));
  EXPECT_EQ(lockout.status, 422) << lockout.describe();
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(admin)).status, 200);
  ApiResponse defaultOrg = api_.get("/api/v1/organisations/default", withBearer(admin));
  EXPECT_TRUE(stringsOf(defaultOrg.json, "ip_allowlist").empty());
  EXPECT_EQ(api_.patch("/api/v1/organisations/default",
                       Json().set("ip_allowlist", std::vector<std::string>{"10.0.0.1/8"}).str(),
                       withBearer(admin))
                .status,
            422)
      << "host bits set below the prefix";

  const std::string initial = strongPassword();
  remember("lab-b admin initial password", initial);
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
  Account boss{"lab-b", "b-boss", "", "", 0};
  activate(boss, initial);
  ASSERT_FALSE(boss.token.empty());
  ApiResponse keyAnswer;
  const std::string bKey = createApiKey(boss.token, "b reader", {"admin"}, "", "", &keyAnswer);
  ASSERT_FALSE(bKey.empty()) << keyAnswer.describe();

  const ApiClient other = api_.from("127.0.0.2");
  ApiResponse bossFromOther;
  const std::string bossSecond =
      other.login("lab-b", boss.username, boss.password, "", &bossFromOther);
  ASSERT_FALSE(bossSecond.empty()) << "login from 127.0.0.2: " << bossFromOther.describe();
  rememberToken(bossSecond);
  ApiResponse set = other.patch(
      "/api/v1/organisations/lab-b",
      Json().set("ip_allowlist", std::vector<std::string>{"10.0.0.0/8", "127.0.0.2"}).str(),
      withBearer(bossSecond));
  ASSERT_EQ(set.status, 200) << set.describe();
  EXPECT_EQ(stringsOf(set.json, "ip_allowlist").size(), 2u);

  // From 127.0.0.1: login (before the password is even looked at), the session, the API key.
  ApiResponse refused;
  EXPECT_TRUE(api_.login("lab-b", boss.username, boss.password, "", &refused).empty());
  EXPECT_EQ(refused.status, 403) << refused.describe();
  ApiResponse refusedWrong;
  api_.login("lab-b", boss.username, "Not-The-Password-1", "", &refusedWrong);
  EXPECT_EQ(refusedWrong.status, 403) << "the address is checked before the password";
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(boss.token)).status, 403);
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(bKey)).status, 403);
  // From 127.0.0.2 all of it works; default is not affected.
  EXPECT_EQ(other.get("/api/v1/me", withBearer(boss.token)).status, 200);
  EXPECT_EQ(other.get("/api/v1/me", withBearer(bKey)).status, 200);
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(admin)).status, 200);
  // The refusals are login records of lab-b.
  ApiResponse logins =
      other.get("/api/v1/logins?outcome=address_refused&user=b-boss", withBearer(bKey));
  ASSERT_EQ(logins.status, 200) << logins.describe();
  // The two logins (and, by the implementation's choice, the refused session request).
  EXPECT_GE(itemsOf(logins).size(), 2u) << "two refused logins from 127.0.0.1";
  for (const auto& o : itemsOf(logins)) {
    EXPECT_EQ(str(o, "peer").rfind("127.0.0.1", 0), 0u);
    EXPECT_EQ(str(o, "outcome"), "address_refused");
  }
  // Lifting the list (from an allowed address) lets 127.0.0.1 back in.
  ApiResponse lift = other.patch("/api/v1/organisations/lab-b",
                                 Json().set("ip_allowlist", std::vector<std::string>{}).str(),
                                 withBearer(bossSecond));
  EXPECT_EQ(lift.status, 200) << lift.describe();
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(boss.token)).status, 200);
}

TEST_F(AccountsTest, ConnectorAllowListRefusesUploadsAndConnectionsFromOtherAddresses) {
  addUploadConnector("up-deny", "default", "lis", {{"allow", "10.0.0.0/8"}});
  addAstmConnector("astm-deny", "default", "lis", {{"allow", "10.0.0.0/8"}});
  config_.connectors.at(0).extra["allow"] = "127.0.0.1/32, 10.1.5.7";  // lab1 admits loopback
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  ApiResponse r;
  const std::string key = createApiKey(admin, "uploads", {"instrument"}, "", "", &r);
  ASSERT_FALSE(key.empty()) << r.describe();
  ApiResponse denied = upload(withBearer(key), "up-deny", uniqueBatch());
  EXPECT_EQ(denied.status, 403) << denied.describe();
  EXPECT_EQ(upload(withBearer(key), "up1", uniqueBatch()).status, 202);

  AstmInstrument instrument(connectorPort("astm-deny"));
  const int reply = instrument.enq(5000ms);
  EXPECT_EQ(reply, astm::kClosed) << "ENQ answered with " << astm::replyName(reply);
  EXPECT_TRUE(sendAstmSample(astmPort(), "AL1001")) << "lab1's list admits 127.0.0.1";
}

// ---------------------------------------------------------------------------------------------
// 9. TLS

TEST_F(AccountsTest, HttpsAcceptsTls13And12AndRefusesTls11) {
  if (findProgram("openssl").empty()) GTEST_SKIP() << "openssl CLI not installed";
  const int httpsPort = httpsPort_;  // every test of this fixture talks HTTPS (SetUp)
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  TlsProbe v13 = probeTls(httpsPort, {"-tls1_3"}, tmp_->path());
  ASSERT_TRUE(v13.launched);
  EXPECT_TRUE(v13.handshake) << v13.output;
  EXPECT_EQ(v13.protocol, "TLSv1.3") << v13.output;
  TlsProbe v12 = probeTls(httpsPort, {"-tls1_2"}, tmp_->path());
  EXPECT_TRUE(v12.handshake) << v12.output;
  EXPECT_EQ(v12.protocol, "TLSv1.2") << v12.output;
  // The client allows TLS 1.1 and every cipher: a failure is the server's refusal.
  TlsProbe v11 = probeTls(httpsPort, {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}, tmp_->path());
  ASSERT_TRUE(v11.launched);
  EXPECT_FALSE(v11.handshake) << v11.output;
  EXPECT_NE(v11.output.find("alert protocol version"), std::string::npos)
      << "the server did not answer TLS 1.1 with a protocol_version alert: " << v11.output;

  // The API itself over HTTPS.
  const ApiClient secure(httpsPort, true);
  ApiResponse r;
  const std::string token = secure.login("default", "admin", kTestAdminPassword, "", &r);
  ASSERT_FALSE(token.empty()) << r.describe();
  rememberToken(token);
  EXPECT_EQ(secure.get("/api/v1/me", withBearer(token)).status, 200);
  EXPECT_EQ(secure.get("/api/v1/me").status, 401);
}

TEST_F(AccountsTest, PlainHttpOnANonLoopbackAddressNeedsAllowRemote) {
  config_.set("http.listen", "0.0.0.0:" + std::to_string(config_.httpPort));
  config_.write(configPath_);
  EngineProcess engine(configPath_, config_.httpPort, tmp_->path());
  std::string why;
  EXPECT_FALSE(engine.start(30000ms, &why)) << "labgated served plain HTTP on 0.0.0.0";
  auto status = engine.exitStatus();
  ASSERT_TRUE(status.has_value()) << why;
  EXPECT_NE(*status, 0);
  const std::string err = engine.stderrText();
  EXPECT_NE(err.find("http.listen"), std::string::npos) << "stderr does not name http.listen";
  EXPECT_NE(err.find("http.allow_remote"), std::string::npos)
      << "stderr does not name http.allow_remote";
}

// ---------------------------------------------------------------------------------------------
// 10. No secret is written anywhere

TEST_F(AccountsTest, NoSecretIsWrittenAnywhere) {
  // The default Argon2id parameters here (m = 19 MiB, t = 2): the one test that keeps them.
  config_.overrides.erase(
      std::remove_if(config_.overrides.begin(), config_.overrides.end(),
                     [](const auto& kv) { return kv.first.rfind("security.argon2.", 0) == 0; }),
      config_.overrides.end());
  config_.logLevel = "debug";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account user = createAccount(admin, "secretive", {"viewer"});
  ASSERT_FALSE(user.token.empty());
  // TOTP enrolment.
  ApiResponse start = api_.post("/api/v1/me/totp", Json().set("password", user.password).str(),
                                withBearer(user.token));
  ASSERT_TRUE(start.ok()) << start.describe();
  const std::string totpSecret = start.text("secret");
  ASSERT_FALSE(totpSecret.empty());
  ApiResponse confirm =
      api_.post("/api/v1/me/totp/confirm",
                Json().set("code", totpCode(totpSecret, unixNow())).str(), withBearer(user.token));
  EXPECT_TRUE(confirm.ok()) << confirm.describe();
  // API keys, used.
  ApiResponse r;
  const std::string key = createApiKey(admin, "secret uploads", {"instrument"}, "", "", &r);
  ASSERT_FALSE(key.empty()) << r.describe();
  EXPECT_EQ(upload(withBearer(key), "up1", uniqueBatch()).status, 202);
  EXPECT_EQ(upload({{"X-API-Key", key}}, "up1", uniqueBatch()).status, 202);
  createApiKey(admin, "unused", {"viewer"});
  // A cookie session with its CSRF token.
  ApiResponse cookieLogin = api_.post("/api/v1/sessions", Json()
                                                              .set("org", "default")
                                                              .set("user", "admin")
                                                              .set("password", kTestAdminPassword)
                                                              .set("cookie", true)
                                                              .str());
  ASSERT_EQ(cookieLogin.status, 201) << cookieLogin.describe();
  remember("CSRF token", cookieLogin.text("csrf_token"));
  for (const auto& c : cookieLogin.headerValues("Set-Cookie")) {
    if (c.rfind("labgate_session=", 0) == 0) {
      remember("cookie token", c.substr(16, c.find(';') - 16));
    }
  }
  // Failed logins with passwords that are almost right; a password reset.
  api_.login("default", user.username, user.password + "x");
  remember("almost-right password", user.password + "x");
  ApiResponse reset = api_.post("/api/v1/users/" + std::to_string(user.id) + "/password-reset", "",
                                withBearer(admin));
  ASSERT_TRUE(reset.ok()) << reset.describe();
  remember("temporary password", reset.text("temporary_password"));

  // Every password, token, key and CSRF token: nowhere in the data directory (database, WAL,
  // logs) or the captured output, while running and after the stop.
  std::vector<Secret> credentials = secrets_;
  const std::vector<Secret> totp = {{"TOTP secret", totpSecret}, {"TOTP URI", start.text("uri")}};
  auto search = [&](const std::string& when) {
    for (const auto& hit : findSecretsInFiles(engineOutputs(), credentials)) {
      ADD_FAILURE() << hit.label << " found in " << hit.where << " (" << when << ")";
    }
    // The TOTP secret must be kept to verify codes (the users row), but never in the logs,
    // the output or the audit trail.
    std::vector<std::string> files = logFiles();
    for (const auto& c : engine_->capturePaths()) files.push_back(c);
    for (const auto& hit : findSecretsInFiles(files, totp)) {
      ADD_FAILURE() << hit.label << " found in " << hit.where << " (" << when << ")";
    }
    auto audit = sqliteQuery(config_.dataDir + "/labgate.db", "SELECT * FROM audit", tmp_->path());
    ASSERT_TRUE(audit.has_value()) << "sqlite3 could not read the audit table";
    for (const auto& label : findSecrets(*audit, totp)) {
      ADD_FAILURE() << label << " found in the audit trail (" << when << ")";
    }
    for (const auto& label : findSecrets(*audit, credentials)) {
      ADD_FAILURE() << label << " found in the audit trail (" << when << ")";
    }
  };
  ASSERT_GE(credentials.size(), 10u);
  search("running");
  stopEngine();
  search("stopped");
}

// ---------------------------------------------------------------------------------------------
// 11. TOTP

TEST_F(AccountsTest, TotpEnrolmentLoginReplayRemovalAndMandatoryMfa) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account user = createAccount(admin, "totp", {"viewer"});
  ASSERT_FALSE(user.token.empty());

  ApiResponse wrongPassword = api_.post(
      "/api/v1/me/totp", Json().set("password", "Not-My-Password-1").str(), withBearer(user.token));
  EXPECT_FALSE(wrongPassword.ok()) << "enrolment re-authenticates";
  ApiResponse start = api_.post("/api/v1/me/totp", Json().set("password", user.password).str(),
                                withBearer(user.token));
  ASSERT_TRUE(start.ok()) << start.describe();
  const std::string secret = start.text("secret");
  remember("TOTP secret", secret);
  ASSERT_FALSE(secret.empty());
  EXPECT_EQ(secret.size(), 32u) << "160 bits in base32";
  const std::string uri = start.text("uri");
  EXPECT_EQ(uri.rfind("otpauth://totp/", 0), 0u);
  EXPECT_NE(uri.find("secret=" + secret), std::string::npos);
  // Not enabled before the confirmation: logins need no code yet.
  EXPECT_FALSE(login("default", user.username, user.password).empty());
  ApiResponse badConfirm = api_.post("/api/v1/me/totp/confirm", Json().set("code", "000000").str(),
                                     withBearer(user.token));
  if (totpCode(secret, unixNow()) != "000000") {
    EXPECT_FALSE(badConfirm.ok()) << "a wrong confirmation code";
  }
  ApiResponse confirm =
      api_.post("/api/v1/me/totp/confirm", Json().set("code", totpCode(secret, unixNow())).str(),
                withBearer(user.token));
  ASSERT_TRUE(confirm.ok()) << confirm.describe();
  ApiResponse shown = api_.get("/api/v1/users/" + std::to_string(user.id), withBearer(admin));
  EXPECT_TRUE(shown.flag("totp_enabled"));

  ApiResponse r;
  EXPECT_TRUE(login("default", user.username, user.password, "", &r).empty());
  EXPECT_EQ(r.status, 401) << r.describe();
  EXPECT_TRUE(r.flag("totp_required")) << "the answer says a code is needed";
  // A code of a step never used (the confirmation used the current one).
  waitForNextTotpStep();
  const std::string code = totpCode(secret, unixNow());
  EXPECT_FALSE(login("default", user.username, user.password, code, &r).empty()) << r.describe();
  EXPECT_TRUE(login("default", user.username, user.password, code, &r).empty())
      << "a replayed code was accepted";
  EXPECT_EQ(r.status, 401);
  const std::string wrong = code == "123456" ? "654321" : "123456";
  EXPECT_TRUE(login("default", user.username, user.password, wrong, &r).empty());
  EXPECT_EQ(r.status, 401);

  // A lost device: the administrator removes the factor.
  ApiResponse removed =
      api_.del("/api/v1/users/" + std::to_string(user.id) + "/totp", withBearer(admin));
  EXPECT_TRUE(removed.ok()) << removed.describe();
  const std::string plain = login("default", user.username, user.password, "", &r);
  EXPECT_FALSE(plain.empty()) << r.describe();
  EXPECT_FALSE(api_.get("/api/v1/users/" + std::to_string(user.id), withBearer(admin))
                   .flag("totp_enabled", true));

  // Mandatory TOTP: a user without it gets a session that may only enrol.
  ApiResponse mfa = api_.patch("/api/v1/organisations/default",
                               Json().set("mfa_required", true).str(), withBearer(admin));
  ASSERT_EQ(mfa.status, 200) << mfa.describe();
  EXPECT_TRUE(mfa.flag("mfa_required"));
  const std::string restricted = login("default", user.username, user.password, "", &r);
  ASSERT_FALSE(restricted.empty()) << r.describe();
  EXPECT_TRUE(r.flag("totp_enrolment_required"));
  ApiResponse samples = api_.get("/api/v1/samples", withBearer(restricted));
  EXPECT_EQ(samples.status, 403) << samples.describe();
  ApiResponse me = api_.get("/api/v1/me", withBearer(restricted));
  EXPECT_EQ(me.status, 200) << me.describe();
  EXPECT_TRUE(me.flag("totp_enrolment_required"));
  ApiResponse enrol = api_.post("/api/v1/me/totp", Json().set("password", user.password).str(),
                                withBearer(restricted));
  EXPECT_TRUE(enrol.ok()) << "enrolment is allowed: " << enrol.describe();
  remember("TOTP secret 2", enrol.text("secret"));
}

// ---------------------------------------------------------------------------------------------
// 12. Restricted sessions: initial and reset passwords

TEST_F(AccountsTest, InitialAndResetPasswordsOnlyAllowAChange) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const std::string username = newUsername("rita");
  const std::string initial = strongPassword();
  const int64_t id = createUser(admin, username, {"viewer"}, initial);
  ASSERT_GT(id, 0);

  ApiResponse r;
  const std::string first = login("default", username, initial, "", &r);
  ASSERT_FALSE(first.empty()) << r.describe();
  EXPECT_TRUE(r.flag("password_change_required"));
  ASSERT_TRUE(r.json && r.json->getObject("user"));
  EXPECT_EQ(str(r.json->getObject("user"), "username"), username);
  ApiResponse blocked = api_.get("/api/v1/samples", withBearer(first));
  EXPECT_EQ(blocked.status, 403) << blocked.describe();
  EXPECT_NE(blocked.text("detail").find("password"), std::string::npos)
      << "the 403 says what to do first: " << blocked.describe();
  ApiResponse me = api_.get("/api/v1/me", withBearer(first));
  EXPECT_EQ(me.status, 200) << me.describe();
  EXPECT_TRUE(me.flag("password_change_required"));

  // Weak new passwords.
  for (const std::string& weak :
       {std::string("Short-1"), std::string("password1234"), std::string(16, 'z'),
        "My-" + username + "-Secret9", std::string("default-Lab-Pass-77")}) {
    ApiResponse refused;
    EXPECT_FALSE(changePassword(first, initial, weak, &refused)) << "a weak password was taken";
    EXPECT_EQ(refused.status, 422) << refused.describe();
  }
  ApiResponse wrongCurrent;
  EXPECT_FALSE(changePassword(first, "Not-The-Initial-1", strongPassword(), &wrongCurrent));

  const std::string chosen = strongPassword();
  ApiResponse changed;
  ASSERT_TRUE(changePassword(first, initial, chosen, &changed)) << changed.describe();
  ApiResponse works = api_.get("/api/v1/samples", withBearer(first));
  EXPECT_EQ(works.status, 200) << "the session that changed the password: " << works.describe();
  EXPECT_TRUE(login("default", username, initial).empty()) << "the initial password still works";
  const std::string normal = login("default", username, chosen, "", &r);
  ASSERT_FALSE(normal.empty()) << r.describe();
  EXPECT_FALSE(r.flag("password_change_required", true));

  // The administrator's reset: a temporary password that only allows the change.
  ApiResponse reset =
      api_.post("/api/v1/users/" + std::to_string(id) + "/password-reset", "", withBearer(admin));
  ASSERT_TRUE(reset.ok()) << reset.describe();
  const std::string temporary = reset.text("temporary_password");
  remember("temporary password", temporary);
  ASSERT_FALSE(temporary.empty());
  EXPECT_EQ(api_.get("/api/v1/samples", withBearer(normal)).status, 401)
      << "a reset ends the user's sessions";
  EXPECT_TRUE(login("default", username, chosen).empty()) << "the old password still works";
  const std::string temp = login("default", username, temporary, "", &r);
  ASSERT_FALSE(temp.empty()) << r.describe();
  EXPECT_TRUE(r.flag("password_change_required"));
  EXPECT_EQ(api_.get("/api/v1/samples", withBearer(temp)).status, 403);
  const std::string lasting = strongPassword();
  ASSERT_TRUE(changePassword(temp, temporary, lasting, &changed)) << changed.describe();
  EXPECT_TRUE(login("default", username, temporary).empty())
      << "the temporary password is reusable";
  EXPECT_FALSE(login("default", username, lasting).empty());
}

}  // namespace
}  // namespace labgate::it
