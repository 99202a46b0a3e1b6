// Accounts against the real labgated: login and lockout, login records, and restricted sessions
// (initial and reset passwords). Fixture and helpers: accounts_test_support.h.
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

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
}  // namespace labgate::it::accounts
