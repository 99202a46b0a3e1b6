// Accounts against the real labgated: TOTP: enrolment, login, replay, removal and mandatory MFA.
// Fixture and helpers: accounts_test_support.h.
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

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

}  // namespace
}  // namespace labgate::it::accounts
