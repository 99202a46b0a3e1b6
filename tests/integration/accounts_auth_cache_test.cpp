// Accounts against the real labgated: the authentication cache (ADR 0020) never outlives a change.
// Each credential is used a few times first, so that its grant is cached; then the change is made
// through the API and the very next request must see it: a disabled user, a session logged out
// or ended by a password change, a role taken away, a revoked API key and the keys its creator's
// disabling revokes. The invalidation itself is unit-tested in
// tests/unit/engine/api/auth_cache_test.cpp and tests/unit/engine/store/accounts_test.cpp.
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

/// Uses `token` on `path` three times (the first fills the cache) and expects 200 each time.
void warm(ApiClient& api, const std::string& path, const std::string& token) {
  for (int i = 0; i < 3; ++i) {
    ApiResponse r = api.get(path, withBearer(token));
    ASSERT_EQ(r.status, 200) << path << ": " << r.describe();
  }
}

TEST_F(AccountsTest, ChangesToAPersonsAccountTakeEffectAtTheNextRequestThroughTheCache) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();

  {
    SCOPED_TRACE("disabling the user");
    Account user = createAccount(admin, "cache-off", {"viewer"});
    ASSERT_FALSE(user.token.empty());
    ASSERT_NO_FATAL_FAILURE(warm(api_, "/api/v1/samples", user.token));
    ApiResponse off = api_.patch("/api/v1/users/" + std::to_string(user.id),
                                 Json().set("disabled", true).str(), withBearer(admin));
    ASSERT_EQ(off.status, 200) << off.describe();
    EXPECT_EQ(api_.get("/api/v1/samples", withBearer(user.token)).status, 401);
  }
  {
    SCOPED_TRACE("logging out (the session revoked by its holder)");
    const std::string other = adminToken();
    ASSERT_NO_FATAL_FAILURE(warm(api_, "/api/v1/me", other));
    ASSERT_TRUE(api_.del("/api/v1/sessions/current", withBearer(other)).ok());
    EXPECT_EQ(api_.get("/api/v1/me", withBearer(other)).status, 401);
    EXPECT_EQ(api_.get("/api/v1/me", withBearer(admin)).status, 200) << "only that session";
  }
  {
    SCOPED_TRACE("a password change ends the user's other sessions");
    Account user = createAccount(admin, "cache-pw", {"viewer"});
    ASSERT_FALSE(user.token.empty());
    const std::string second = login("default", user.username, user.password);
    ASSERT_FALSE(second.empty());
    ASSERT_NO_FATAL_FAILURE(warm(api_, "/api/v1/me", second));
    ASSERT_TRUE(changePassword(user.token, user.password, strongPassword()));
    EXPECT_EQ(api_.get("/api/v1/me", withBearer(second)).status, 401);
    EXPECT_EQ(api_.get("/api/v1/me", withBearer(user.token)).status, 200) << "the changer's own";
  }
  {
    SCOPED_TRACE("taking a role away takes its permissions");
    Account user = createAccount(admin, "cache-role", {"viewer", "auditor"});
    ASSERT_FALSE(user.token.empty());
    ASSERT_NO_FATAL_FAILURE(warm(api_, "/api/v1/audit", user.token));
    ApiResponse changed = api_.patch("/api/v1/users/" + std::to_string(user.id),
                                     Json().set("roles", std::vector<std::string>{"viewer"}).str(),
                                     withBearer(admin));
    ASSERT_EQ(changed.status, 200) << changed.describe();
    EXPECT_EQ(api_.get("/api/v1/audit", withBearer(user.token)).status, 403);
    ApiResponse me = api_.get("/api/v1/me", withBearer(user.token));
    ASSERT_EQ(me.status, 200) << me.describe();
    EXPECT_FALSE(contains(stringsOf(me.json, "permissions"), "audit.read")) << me.describe();
  }
  stopEngine();
}

TEST_F(AccountsTest, RevokedApiKeysStopAtTheNextRequestThroughTheCache) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();

  {
    SCOPED_TRACE("revoking the key");
    ApiResponse made;
    const std::string key = createApiKey(admin, "cache-bridge", {"viewer"}, "", "", &made);
    ASSERT_FALSE(key.empty()) << made.describe();
    ASSERT_NO_FATAL_FAILURE(warm(api_, "/api/v1/samples", key));
    ApiResponse revoked =
        api_.del("/api/v1/api-keys/" + std::to_string(made.number("id", 0)), withBearer(admin));
    ASSERT_TRUE(revoked.ok()) << revoked.describe();
    ApiResponse after = api_.get("/api/v1/samples", withBearer(key));
    EXPECT_EQ(after.status, 401);
    EXPECT_EQ(after.text("detail"), "the API key was revoked") << after.describe();
  }
  {
    SCOPED_TRACE("disabling the key's creator revokes it");
    Account creator = createAccount(admin, "cache-creator", {"lis-admin"});
    ASSERT_FALSE(creator.token.empty());
    ApiResponse made;
    const std::string key = createApiKey(creator.token, "cache-made", {"viewer"}, "", "", &made);
    ASSERT_FALSE(key.empty()) << made.describe();
    ASSERT_NO_FATAL_FAILURE(warm(api_, "/api/v1/samples", key));
    ApiResponse off = api_.patch("/api/v1/users/" + std::to_string(creator.id),
                                 Json().set("disabled", true).str(), withBearer(admin));
    ASSERT_EQ(off.status, 200) << off.describe();
    EXPECT_EQ(api_.get("/api/v1/samples", withBearer(key)).status, 401);
  }
  stopEngine();
}

}  // namespace
}  // namespace labgate::it::accounts
