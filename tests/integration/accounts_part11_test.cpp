// Part 11 items of the accounts that docs/part11.md names and no other test covers, through the
// real labgated:
//   - §11.100(a): a user name is never given to another person, not even after the user is
//     disabled (users are never deleted);
//   - §11.300(b): with the organisation's password_expiry_days on, a password older than that
//     only allows choosing a new one.
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timespan.h>
#include <gtest/gtest.h>

#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

class AccountsPart11Test : public AccountsTest {};

TEST_F(AccountsPart11Test, AUserNameIsNeverGivenToAnotherPersonEvenAfterItsUserIsDisabled) {
  startEngine();
  const std::string admin = adminToken();
  const std::string name = newUsername("once");
  const int64_t id = createUser(admin, name, {"qa-reviewer"}, strongPassword());
  ASSERT_NE(id, 0);
  ApiResponse disabled = api_.patch("/api/v1/users/" + std::to_string(id),
                                    Json().set("disabled", true).str(), withBearer(admin));
  ASSERT_EQ(disabled.status, 200) << disabled.describe();

  for (const std::string& again : {name, Poco::toUpper(name)}) {
    const std::string password = strongPassword();
    remember("password", password);
    ApiResponse r = api_.post("/api/v1/users",
                              Json()
                                  .set("username", again)
                                  .set("printed_name", "Someone Else")
                                  .set("password", password)
                                  .set("roles", std::vector<std::string>{"qa-approver"})
                                  .str(),
                              withBearer(admin));
    EXPECT_EQ(r.status, 409) << again << ": " << r.describe();
  }
  ApiResponse same = api_.get("/api/v1/users/" + std::to_string(id), withBearer(admin));
  EXPECT_EQ(same.text("username"), name);
  EXPECT_TRUE(same.flag("disabled"));
  stopEngine();
}

TEST_F(AccountsPart11Test, AnExpiredPasswordOnlyAllowsChoosingANewOne) {
  startEngine();
  const std::string admin = adminToken();
  Account user = createAccount(admin, "exp", {"qa-reviewer"});
  ASSERT_NE(user.id, 0);
  ApiResponse on = api_.patch(
      "/api/v1/organisations/default",
      Json().set("password_expiry_days", 90).set("reason", "SOP-12 password ageing").str(),
      withBearer(admin));
  ASSERT_EQ(on.status, 200) << on.describe();
  ApiResponse fresh;
  ASSERT_FALSE(login("default", user.username, user.password, "", &fresh).empty());
  EXPECT_FALSE(fresh.flag("password_change_required", true)) << "changed today: not expired";
  stopEngine();

  {  // The password was last changed 91 days ago (the store's ISO-8601 UTC text, written by the
     // test so the statement is the same on SQLite and PostgreSQL).
    const Poco::DateTime changed = Poco::DateTime() - Poco::Timespan(91, 0, 0, 0, 0);
    storeExecute(config_.dataDir + "/labgate.db",
                 {"UPDATE users SET password_changed_at = '" +
                  Poco::DateTimeFormatter::format(changed, "%Y-%m-%dT%H:%M:%S.%iZ") +
                  "' WHERE id = " + std::to_string(user.id)});
  }
  startEngine();
  ApiResponse expired;
  const std::string token = login("default", user.username, user.password, "", &expired);
  ASSERT_FALSE(token.empty()) << expired.describe();
  EXPECT_TRUE(expired.flag("password_change_required")) << "91 days > 90";
  ApiResponse blocked = api_.get("/api/v1/batches", withBearer(token));
  EXPECT_EQ(blocked.status, 403) << blocked.describe();
  EXPECT_NE(blocked.describe().find("change your password first"), std::string::npos)
      << blocked.describe();

  const std::string next = strongPassword();
  ASSERT_TRUE(changePassword(token, user.password, next));
  ApiResponse after;
  const std::string again = login("default", user.username, next, "", &after);
  ASSERT_FALSE(again.empty()) << after.describe();
  EXPECT_EQ(api_.get("/api/v1/batches", withBearer(again)).status, 200);
  stopEngine();
}

}  // namespace
}  // namespace labgate::it::accounts
