// Shared by the accounts tests (tests/integration/accounts_*_test.cpp), which drive the real
// labgated over loopback HTTP(S) to the contract of docs/api.md (issue 5): the AccountsTest fixture
// (an engine with the API on TLS, an upload connector, cheap Argon2 parameters) and small JSON
// helpers.
//
// Test output rule: failures print route, role, status and the problem's title/detail
// (ApiResponse::describe), never a password, token, key, CSRF token or TOTP secret.
#pragma once

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

namespace labgate::it::accounts {

inline std::string exportData(const std::string& name) {
  return testDataDir() + "/exports/" + name;
}

/// ISO-8601 UTC, `secondsFromNow` from now (negative: in the past).
inline std::string isoIn(int secondsFromNow) {
  Poco::Timestamp t;
  t += static_cast<Poco::Timestamp::TimeDiff>(secondsFromNow) * Poco::Timestamp::resolution();
  return Poco::DateTimeFormatter::format(t, "%Y-%m-%dT%H:%M:%SZ");
}

/// A password the policy accepts: long, random, no user name in it.
inline std::string strongPassword() {
  static std::mt19937_64 random{std::random_device{}()};
  static const std::string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  std::string p = "Qv";
  for (int i = 0; i < 16; ++i) p += alphabet[random() % alphabet.size()];
  return p + "-8";
}

inline std::string str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (o.isNull() || !o->has(key)) return {};
  try {
    Poco::Dynamic::Var v = o->get(key);
    if (v.isEmpty()) return {};
    return v.convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

inline bool isNull(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  return o.isNull() || !o->has(key) || o->isNull(key);
}

inline std::vector<Poco::JSON::Object::Ptr> itemsOf(const ApiResponse& r) {
  std::vector<Poco::JSON::Object::Ptr> out;
  auto items = r.items();
  for (size_t i = 0; i < items->size(); ++i) {
    auto o = items->getObject(static_cast<unsigned>(i));
    if (!o.isNull()) out.push_back(o);
  }
  return out;
}

inline std::set<std::string> idsOf(const ApiResponse& r, const std::string& key = "id") {
  std::set<std::string> ids;
  for (const auto& o : itemsOf(r)) ids.insert(str(o, key));
  return ids;
}

inline std::vector<std::string> stringsOf(const Poco::JSON::Object::Ptr& o,
                                          const std::string& key) {
  std::vector<std::string> out;
  if (o.isNull()) return out;
  auto a = o->getArray(key);
  if (a.isNull()) return out;
  for (size_t i = 0; i < a->size(); ++i) out.push_back(a->getElement<std::string>(i));
  return out;
}

inline bool contains(const std::vector<std::string>& v, const std::string& x) {
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

}  // namespace labgate::it::accounts
