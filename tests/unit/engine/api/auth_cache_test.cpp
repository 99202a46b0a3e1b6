// engine/api/auth_cache.*: the authentication cache (ADR 0020) in process, against a ManualClock.
// A grant is used while the accounts generation is unchanged (proved by a change made behind the
// store's back, which the cache does not see), and every change made through the store —
// disabling a user, logging out, taking a role away, revoking an API key, a password reset, the
// organisation's settings — takes effect on the very next request. Activity is written at most
// every tenth of the idle timeout, also through the cache. The wiring through the real labgated is
// tested in tests/integration/accounts_auth_cache_test.cpp.
#include "engine/api/auth_cache.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>

#include <chrono>
#include <string>

#include "engine/api/api_impl.h"
#include "tests/unit/engine/api/api_test_support.h"

namespace labgate::api::testing {
namespace {

using namespace std::chrono_literals;
using namespace Poco::Data::Keywords;  // NOLINT(google-build-using-namespace): SQL keywords

class AuthCacheTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    SecuritySettings settings;
    settings.idleSeconds = 60;
    settings.absoluteSeconds = 3600;
    settings.customRoles = {{"reader", {"results.read", "audit.read"}}};
    ASSERT_NO_FATAL_FAILURE(start(settings));
    admin_ = login();
    ASSERT_FALSE(admin_.empty());
  }

  int get(const std::string& path, const std::string& token, std::string* body = nullptr) {
    Answer a = call("GET", path, "", token);
    if (body) *body = a.body;
    return a.status;
  }

  /// A user of "default" with `roles` who has chosen a password: an unrestricted session token.
  /// `id` gets the user's id.
  std::string person(const std::string& name, const std::string& roles, int64_t* id) {
    const std::string initial = "an initial passphrase 7Q kestrel";
    Answer made = call("POST", "/api/v1/users",
                       R"({"username":")" + name + R"(","printed_name":"P )" + name +
                           R"(","roles":)" + roles + R"(,"password":")" + initial + "\"}",
                       admin_);
    EXPECT_EQ(made.status, 201) << made.body;
    if (made.status != 201) return "";
    *id = made.json->getValue<int64_t>("id");
    const std::string first = loginAs(name, initial);
    const std::string chosen = "a chosen passphrase 9Z osprey";
    Answer changed = call(
        "POST", "/api/v1/me/password",
        R"({"current_password":")" + initial + R"(","new_password":")" + chosen + "\"}", first);
    EXPECT_EQ(changed.status, 204) << changed.body;
    return loginAs(name, chosen);
  }

  std::string loginAs(const std::string& name, const std::string& password) {
    Answer a = call("POST", "/api/v1/sessions",
                    R"({"org":"default","user":")" + name + R"(","password":")" + password + "\"}");
    EXPECT_EQ(a.status, 201) << a.body;
    return a.json && a.json->has("token") ? a.json->getValue<std::string>("token") : "";
  }

  Poco::Data::Session db() {
    Poco::Data::SQLite::Connector::registerConnector();
    return Poco::Data::Session("SQLite", store_->path());
  }

  std::string admin_;
};

TEST_F(AuthCacheTest, AGrantIsUsedUntilAnAccountWriteCommits) {
  int64_t id = 0;
  const std::string token = person("cached", R"(["reader"])", &id);
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(get("/api/v1/me", token), 200);
  // Disabled behind the store's back (no AccountStore write, so the generation stays): the
  // cached grant still answers. This is what the cache saves: the three reads.
  {
    auto s = db();
    s << "UPDATE users SET disabled = 1 WHERE id = ?", use(id), now;
  }
  EXPECT_EQ(get("/api/v1/me", token), 200) << "answered from the cache";
  // Any committed account write (here another login) moves the generation: the next request
  // reads the store again and finds the user disabled.
  ASSERT_FALSE(login().empty());
  EXPECT_EQ(get("/api/v1/me", token), 401);
}

TEST_F(AuthCacheTest, DisablingAUserEndsItsSessionsAtTheNextRequest) {
  int64_t id = 0;
  const std::string token = person("leaver", R"(["reader"])", &id);
  ASSERT_FALSE(token.empty());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(get("/api/v1/samples", token), 200);
  Answer off = call("PATCH", "/api/v1/users/" + std::to_string(id), R"({"disabled":true})", admin_);
  ASSERT_EQ(off.status, 200) << off.body;
  std::string body;
  EXPECT_EQ(get("/api/v1/samples", token, &body), 401) << body;
  // Enabling the user again does not revive the ended session.
  ASSERT_EQ(
      call("PATCH", "/api/v1/users/" + std::to_string(id), R"({"disabled":false})", admin_).status,
      200);
  EXPECT_EQ(get("/api/v1/samples", token), 401);
}

TEST_F(AuthCacheTest, LoggingOutEndsOnlyThatSessionAtTheNextRequest) {
  const std::string other = login();
  ASSERT_EQ(get("/api/v1/me", other), 200);
  ASSERT_EQ(get("/api/v1/me", admin_), 200);
  ASSERT_EQ(call("DELETE", "/api/v1/sessions/current", "", other).status, 204);
  EXPECT_EQ(get("/api/v1/me", other), 401);
  EXPECT_EQ(get("/api/v1/me", admin_), 200);
}

TEST_F(AuthCacheTest, TakingARoleAwayTakesItsPermissionsAtTheNextRequest) {
  int64_t id = 0;
  const std::string token = person("auditor1", R"(["viewer","auditor"])", &id);
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(get("/api/v1/audit", token), 200);
  ASSERT_EQ(get("/api/v1/audit", token), 200);
  Answer changed =
      call("PATCH", "/api/v1/users/" + std::to_string(id), R"({"roles":["viewer"]})", admin_);
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(get("/api/v1/audit", token), 403);
  EXPECT_EQ(get("/api/v1/samples", token), 200) << "what viewer grants stays";
}

TEST_F(AuthCacheTest, ARolesPermissionsChangedInTheConfigurationApplyToOpenSessions) {
  // Role definitions come from the configuration and change with a restart; the cache lives in
  // the process, so a session that outlives the restart is judged by the new definition at once.
  int64_t id = 0;
  const std::string token = person("reader1", R"(["reader"])", &id);
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(get("/api/v1/audit", token), 200);
  api_.reset();
  SecuritySettings settings;
  settings.idleSeconds = 60;
  settings.absoluteSeconds = 3600;
  settings.customRoles = {{"reader", {"results.read"}}};  // audit.read removed
  ASSERT_NO_FATAL_FAILURE(start(settings));
  EXPECT_EQ(get("/api/v1/audit", token), 403);
  EXPECT_EQ(get("/api/v1/samples", token), 200);
}

TEST_F(AuthCacheTest, RevokingAnApiKeyStopsItAtTheNextRequest) {
  Answer made = call("POST", "/api/v1/api-keys", R"({"name":"bridge","roles":["viewer"]})", admin_);
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string key = made.json->getValue<std::string>("key");
  const int64_t keyId = made.json->getValue<int64_t>("id");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(get("/api/v1/samples", key), 200);
  ASSERT_EQ(call("DELETE", "/api/v1/api-keys/" + std::to_string(keyId), "", admin_).status, 204);
  std::string body;
  EXPECT_EQ(get("/api/v1/samples", key, &body), 401);
  EXPECT_NE(body.find("the API key was revoked"), std::string::npos) << body;
}

TEST_F(AuthCacheTest, AKeyMadeByAKeyStopsWhenItsMakerIsRevoked) {
  Answer maker =
      call("POST", "/api/v1/api-keys", R"({"name":"maker","roles":["lis-admin"]})", admin_);
  ASSERT_EQ(maker.status, 201) << maker.body;
  const std::string makerKey = maker.json->getValue<std::string>("key");
  Answer child =
      call("POST", "/api/v1/api-keys", R"({"name":"child","roles":["viewer"]})", makerKey);
  ASSERT_EQ(child.status, 201) << child.body;
  const std::string childKey = child.json->getValue<std::string>("key");
  ASSERT_EQ(get("/api/v1/me", childKey), 200);
  const int64_t makerId = maker.json->getValue<int64_t>("id");
  ASSERT_EQ(call("DELETE", "/api/v1/api-keys/" + std::to_string(makerId), "", admin_).status, 204);
  EXPECT_EQ(get("/api/v1/me", childKey), 401);
}

TEST_F(AuthCacheTest, APasswordResetEndsTheUsersSessionsAtTheNextRequest) {
  int64_t id = 0;
  const std::string token = person("forgetful", R"(["reader"])", &id);
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(get("/api/v1/me", token), 200);
  ASSERT_EQ(
      call("POST", "/api/v1/users/" + std::to_string(id) + "/password-reset", "", admin_).status,
      200);
  EXPECT_EQ(get("/api/v1/me", token), 401);
}

TEST_F(AuthCacheTest, AnOrganisationsSettingsApplyAtTheNextRequest) {
  int64_t id = 0;
  const std::string token = person("nofactor", R"(["reader"])", &id);
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(get("/api/v1/samples", token), 200);
  Answer on = call("PATCH", "/api/v1/organisations/default", R"({"mfa_required":true})", admin_);
  ASSERT_EQ(on.status, 200) << on.body;
  std::string body;
  EXPECT_EQ(get("/api/v1/samples", token, &body), 403);
  EXPECT_NE(body.find("enrol TOTP first"), std::string::npos) << body;
}

TEST_F(AuthCacheTest, ActivityIsWrittenAtMostEveryTenthOfTheIdleTimeout) {
  // idle 60 s: last_seen_at is written when the last write is more than 6 s old, not per request.
  auto lastSeen = [&] {
    std::string at;
    auto s = db();
    s << "SELECT MAX(last_seen_at) FROM sessions WHERE ended_at = ''", into(at), now;
    return at;
  };
  const std::string loggedIn = lastSeen();
  for (int i = 0; i < 50; ++i) ASSERT_EQ(get("/api/v1/me", admin_), 200);
  clock_.advance(6s);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(get("/api/v1/me", admin_), 200);
  EXPECT_EQ(lastSeen(), loggedIn) << "no write within a tenth of the idle timeout";
  clock_.advance(1s);
  ASSERT_EQ(get("/api/v1/me", admin_), 200);
  EXPECT_EQ(lastSeen(), isoAt(clock_.nowMillis())) << "written once more than 6 s passed";
  // The cached grant carries the new time: the idle timeout counts from it.
  clock_.advance(59s);
  EXPECT_EQ(get("/api/v1/me", admin_), 200);
  clock_.advance(60s + 1ms);
  EXPECT_EQ(get("/api/v1/me", admin_), 401);
}

TEST(AuthCacheUnitTest, AGrantOfAnotherGenerationIsDroppedAndTheSizeIsBounded) {
  AuthCache cache(3);
  auto grant = [](uint64_t generation) {
    auto g = std::make_shared<SessionGrant>();
    g->generation = generation;
    return std::shared_ptr<const SessionGrant>(g);
  };
  cache.keep("a", grant(1));
  EXPECT_NE(cache.session("a", 1), nullptr);
  EXPECT_EQ(cache.session("a", 2), nullptr) << "read under generation 1, asked under 2";
  EXPECT_EQ(cache.session("a", 1), nullptr) << "dropped";
  EXPECT_EQ(cache.key("a", 1), nullptr) << "sessions and keys are apart";
  cache.keep("a", grant(2));
  cache.keep("b", grant(2));
  cache.keep("c", grant(1));
  cache.keep("d", grant(2));  // full: the older generation's grant goes first
  EXPECT_EQ(cache.counts().sessions, 3u);
  EXPECT_EQ(cache.session("c", 1), nullptr);
  EXPECT_NE(cache.session("a", 2), nullptr);
  cache.keep("e", grant(2));  // full of current ones: one goes, the size stays bounded
  EXPECT_EQ(cache.counts().sessions, 3u);
  EXPECT_NE(cache.session("e", 2), nullptr);
  cache.forget("e");
  EXPECT_EQ(cache.session("e", 2), nullptr);
  const AuthCache::Counts counts = cache.counts();
  EXPECT_GE(counts.hits, 3u);
  EXPECT_GE(counts.misses, 4u);
}

TEST(AuthCacheUnitTest, PermissionSetsAreSharedAndAnEmptyOneHasNothing) {
  PermissionSet none;
  EXPECT_EQ(none.count("results.read"), 0u);
  EXPECT_EQ(none.begin(), none.end());
  PermissionSet some(PermissionSet::Set{"a", "b"});
  PermissionSet copy = some;
  some = PermissionSet();  // the copy shares the set and keeps it
  EXPECT_EQ(some.count("a"), 0u);
  EXPECT_EQ(copy.count("a"), 1u);
  EXPECT_EQ(copy.size(), 2u);
  EXPECT_EQ(std::distance(copy.begin(), copy.end()), 2);
}

}  // namespace
}  // namespace labgate::api::testing
