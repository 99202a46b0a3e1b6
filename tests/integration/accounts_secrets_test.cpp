// Accounts against the real labgated: no password, token, key, CSRF token or TOTP secret is written
// anywhere. Fixture and helpers: accounts_test_support.h.
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

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
    auto audit = storeQuery(config_.dataDir + "/labgate.db", "SELECT * FROM audit");
    ASSERT_TRUE(audit.has_value()) << "the audit table could not be read through StoreReader";
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

}  // namespace
}  // namespace labgate::it::accounts
