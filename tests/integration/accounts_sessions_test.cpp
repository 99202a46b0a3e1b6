// Accounts against the real labgated: sessions: the idle and absolute timeouts (wiring; the timing
// is unit-tested with a manual clock in tests/unit/engine/api/api_test.cpp), logging out, and the
// cookie's CSRF rule. Fixture and helpers: accounts_test_support.h.
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>

#include <chrono>
#include <thread>

#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

// ---------------------------------------------------------------------------------------------
// 5. Session timeouts and ending sessions

TEST_F(AccountsTest, SessionsEndAfterTheIdleAndTheAbsoluteTimeout) {
  // The wiring only: security.session.* reach the sessions labgated opens and judges. The timing
  // itself (to the millisecond, both timeouts, use keeping a session alive) is decided by
  // engine/api against an injected clock and tested without sleeping in
  // tests/unit/engine/api/api_test.cpp (ApiSessionTest).
  config_.set("security.session.idle_seconds", "1");
  config_.set("security.session.absolute_seconds", "7200");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  ApiResponse r;
  const auto before = std::chrono::system_clock::now();
  const std::string idle = login("default", "admin", kTestAdminPassword, "", &r);
  ASSERT_FALSE(idle.empty()) << r.describe();
  const auto after = std::chrono::system_clock::now();
  EXPECT_EQ(r.number("idle_timeout_seconds"), 1);
  // expires_at is absolute_seconds after the login (ISO-8601 with milliseconds, UTC).
  int tzd = 0;
  Poco::DateTime expires;
  ASSERT_TRUE(Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT,
                                             r.text("expires_at"), expires, tzd))
      << r.text("expires_at");
  const auto expiresAt = std::chrono::system_clock::from_time_t(expires.timestamp().epochTime());
  EXPECT_GE(expiresAt, std::chrono::time_point_cast<std::chrono::seconds>(before) + 7200s - 1s);
  EXPECT_LE(expiresAt, after + 7200s + 1s);

  // More than the one-second idle timeout without use ends it (however slow the machine: later
  // only makes the session older).
  std::this_thread::sleep_for(1500ms);
  ApiResponse stale = api_.get("/api/v1/me", withBearer(idle));
  EXPECT_EQ(stale.status, 401) << "after 1.5 s idle: " << stale.describe();
  EXPECT_NE(stale.describe().find("without use"), std::string::npos) << stale.describe();
  // A new login works at once.
  EXPECT_FALSE(login("default", "admin", kTestAdminPassword, "", &r).empty()) << r.describe();
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

}  // namespace
}  // namespace labgate::it::accounts
