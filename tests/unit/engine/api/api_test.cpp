// engine/api/api.cpp: session and API-key lifetimes judged against an injected clock. The clock is
// a ManualClock moved forward by the test, so the timeouts are checked to the millisecond without
// sleeping (issue 12). The wiring through the real labgated is tested in
// tests/integration/accounts_sessions_test.cpp.
#include <chrono>
#include <string>

#include "engine/api/api_impl.h"
#include "tests/unit/engine/api/api_test_support.h"

namespace labgate::api::testing {
namespace {

using namespace std::chrono_literals;

class ApiSessionTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    SecuritySettings settings;
    settings.idleSeconds = 60;
    settings.absoluteSeconds = 300;
    ASSERT_NO_FATAL_FAILURE(start(settings));
  }
  int me(const std::string& token, std::string* body = nullptr) {
    Answer a = call("GET", "/api/v1/me", "", token);
    if (body) *body = a.body;
    return a.status;
  }
};

TEST_F(ApiSessionTest, TheLoginAnswerStatesTheIdleTimeoutAndTheExpiryFromTheClock) {
  Answer a =
      call("POST", "/api/v1/sessions",
           std::string(R"({"org":"default","user":"admin","password":")") + kAdminPassword + "\"}");
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.json->getValue<int>("idle_timeout_seconds"), 60);
  EXPECT_EQ(a.json->getValue<std::string>("expires_at"), isoAt(clock_.nowMillis() + 300000));
}

TEST_F(ApiSessionTest, AnUnusedSessionLivesExactlyTheIdleTimeout) {
  const std::string token = login();
  ASSERT_FALSE(token.empty());
  clock_.advance(60s);  // exactly the idle timeout: still alive
  EXPECT_EQ(me(token), 200);
  clock_.advance(60s + 1ms);  // one millisecond more than the idle timeout since that use
  std::string body;
  EXPECT_EQ(me(token, &body), 401);
  EXPECT_NE(body.find("the session ended after 60 s without use: log in again"), std::string::npos)
      << body;
  // Ended for good: the clock going back does not revive it.
  clock_.set(clock_.nowMillis() - 120000);
  EXPECT_EQ(me(token), 401);
}

TEST_F(ApiSessionTest, UseKeepsASessionAliveUntilTheAbsoluteTimeout) {
  const std::string token = login();
  ASSERT_FALSE(token.empty());
  // Used every 50 s (under the 60 s idle timeout) it lives until 300 s after the login...
  for (int used = 50; used < 300; used += 50) {
    clock_.advance(50s);
    EXPECT_EQ(me(token), 200) << "at " << used << " s";
  }
  clock_.advance(49s + 999ms);  // 299.999 s after the login
  EXPECT_EQ(me(token), 200);
  // ... and not a millisecond longer, however recently it was used.
  clock_.advance(1ms);
  std::string body;
  EXPECT_EQ(me(token, &body), 401);
  EXPECT_NE(body.find("the session reached its time limit: log in again"), std::string::npos)
      << body;
}

TEST_F(ApiSessionTest, ASessionUsedOftenIsNotEndedByTheIdleTimeoutOfItsFirstUse) {
  // Activity is recorded at most every min(30 s, idle/10): a session used every 5 s for two
  // idle periods stays alive even though not every use is written.
  const std::string token = login();
  ASSERT_FALSE(token.empty());
  for (int i = 0; i < 24; ++i) {
    clock_.advance(5s);
    ASSERT_EQ(me(token), 200) << "after " << (i + 1) * 5 << " s";
  }
}

TEST_F(ApiSessionTest, AnApiKeyWorksUntilItsExpiryAndNotAfter) {
  const std::string admin = login();
  ASSERT_FALSE(admin.empty());
  const std::string expires = isoAt(clock_.nowMillis() + 3600000);
  Answer made = call(
      "POST", "/api/v1/api-keys",
      R"({"name":"short-lived","roles":["instrument"],"expires_at":")" + expires + "\"}", admin);
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string key = made.json->getValue<std::string>("key");
  EXPECT_EQ(me(key), 200);
  clock_.advance(3600s - 1ms);
  EXPECT_EQ(me(key), 200) << "a millisecond before its expiry";
  clock_.advance(1ms);
  std::string body;
  EXPECT_EQ(me(key, &body), 401);
  EXPECT_NE(body.find("the API key has expired"), std::string::npos) << body;
}

}  // namespace
}  // namespace labgate::api::testing
