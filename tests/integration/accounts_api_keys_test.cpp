// Accounts against the real labgated: API keys: shown once, scoped, revoked, expiring. Fixture and
// helpers: accounts_test_support.h.
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

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

  // Expiry: a time in the past is refused; a key expiring in 2 s works, then does not (the
  // timing to the millisecond: ApiSessionTest.AnApiKeyWorksUntilItsExpiryAndNotAfter).
  ApiResponse past;
  EXPECT_TRUE(createApiKey(admin, "expired", {"instrument"}, "", isoIn(-60), &past).empty());
  EXPECT_EQ(past.status, 422) << past.describe();
  ApiResponse soonAnswer;
  const auto createdAt = Clock::now();
  const std::string soon =
      createApiKey(admin, "short-lived", {"instrument"}, "", isoIn(2), &soonAnswer);
  ASSERT_FALSE(soon.empty()) << soonAnswer.describe();
  if (Clock::now() - createdAt < 1s) {  // isoIn() truncates to the second: 1 s at least remain
    ApiResponse early = api_.get("/api/v1/me", withBearer(soon));
    EXPECT_EQ(early.status, 200) << early.describe();
  }
  std::this_thread::sleep_until(createdAt + 3s);
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

}  // namespace
}  // namespace labgate::it::accounts
