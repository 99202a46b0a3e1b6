// Issue 12, Status that cannot be dropped, against the real labgated: when the store cannot write
// what a security path needs, the caller gets an error and the log names what failed, instead of
// an answer that pretends it worked.
//  - a logout whose session cannot be ended answers 503 (the session is still valid), not 204;
//  - a refused login that cannot be recorded answers 503, not the ordinary 401;
//  - a password change whose other sessions cannot be ended fails as a whole (503, the password
//    unchanged, the sessions as before) instead of answering 204 with the other sessions alive.
// The failure is made real, in the engine's own database: a trigger added through a second
// connection (SQLite, or PostgreSQL with LABGATE_TEST_STORE=postgres) aborts the one write each
// test is about; dropping it mends the store, and the same request then succeeds.
//
// Test output rule: failures print ApiResponse::describe() (status, title, detail), never a
// password or token.

#include <map>
#include <random>
#include <string>

#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"
#include "tests/integration/harness_postgres.h"

namespace labgate::it {
namespace {

std::string strongPassword() {
  static std::mt19937_64 random{std::random_device{}()};
  static const std::string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  std::string p = "Zt";
  for (int i = 0; i < 16; ++i) p += alphabet[random() % alphabet.size()];
  return p + "-4";
}

class StatusHandlingTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
  }

  ApiClient api() const { return ApiClient(config_.httpPort); }
  std::string log() const { return readFile(config_.dataDir + "/logs/labgated.log"); }

  /// Runs `statement` on the engine's database through a connection of the test's own.
  void sql(const std::string& statement) {
    // Waits up to 10 seconds while the engine writes (harness_store.h).
    storeExecute(config_.dataDir + "/labgate.db", {statement});
  }

  /// Makes every write that `when` matches fail (trigger `name`; `event` is "INSERT ON table" or
  /// "UPDATE OF column ON table"). On PostgreSQL (LABGATE_TEST_STORE=postgres) the trigger calls a
  /// function of the same name that raises the same message.
  void breakWrites(const std::string& name, const std::string& event, const std::string& when) {
    if (testStoreIsPostgres()) {
      sql("CREATE FUNCTION " + name +
          "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'made to fail by the "
          "test'; END $$");
      sql("CREATE TRIGGER " + name + " BEFORE " + event + " FOR EACH ROW WHEN (" + when +
          ") EXECUTE FUNCTION " + name + "()");
      triggerTables_[name] = event.substr(event.rfind(' ') + 1);
      return;
    }
    sql("CREATE TRIGGER " + name + " BEFORE " + event + " WHEN " + when +
        " BEGIN SELECT RAISE(ABORT, 'made to fail by the test'); END");
  }
  void mend(const std::string& name) {
    if (testStoreIsPostgres()) {
      sql("DROP TRIGGER " + name + " ON " + triggerTables_.at(name));
      sql("DROP FUNCTION " + name + "()");
      return;
    }
    sql("DROP TRIGGER " + name);
  }

  std::map<std::string, std::string> triggerTables_;  // PostgreSQL: trigger name -> its table
};

TEST_F(StatusHandlingTest, ALogoutThatCannotEndTheSessionIsAnErrorTheLogNames) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = api().login("default", "admin", kTestAdminPassword);
  ASSERT_FALSE(token.empty());

  breakWrites("fail_logout", "UPDATE OF ended_at ON sessions", "NEW.end_reason = 'logout'");
  ApiResponse failed = api().del("/api/v1/sessions/current", withBearer(token));
  EXPECT_EQ(failed.status, 503) << failed.describe();
  EXPECT_NE(failed.describe().find("could not be ended and is still valid"), std::string::npos)
      << failed.describe();
  ApiResponse still = api().get("/api/v1/me", withBearer(token));
  EXPECT_EQ(still.status, 200) << "the answer said the session is still valid: "
                               << still.describe();
  const std::string text = log();
  EXPECT_NE(text.find("SECURITY: logout of session "), std::string::npos) << "no log line";
  EXPECT_NE(text.find("the session stays valid until it times out"), std::string::npos);

  mend("fail_logout");
  ApiResponse ended = api().del("/api/v1/sessions/current", withBearer(token));
  EXPECT_EQ(ended.status, 204) << ended.describe();
  EXPECT_EQ(api().get("/api/v1/me", withBearer(token)).status, 401);
  EXPECT_EQ(health().httpStatus, 200);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(StatusHandlingTest, ARefusedLoginThatCannotBeRecordedIsAnErrorTheLogNames) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  breakWrites("fail_login_records", "INSERT ON logins", "NEW.outcome <> 'success'");

  ApiResponse wrong;
  EXPECT_TRUE(api().login("default", "admin", "Not-The-Password-At-All-7", "", &wrong).empty());
  EXPECT_EQ(wrong.status, 503) << "a wrong password that left no record: " << wrong.describe();
  ApiResponse unknown;
  EXPECT_TRUE(api().login("default", "nobody", "Not-The-Password-At-All-7", "", &unknown).empty());
  EXPECT_EQ(unknown.status, 503) << "an unknown user that left no record: " << unknown.describe();
  ApiResponse badKey = api().get("/api/v1/me", {{"X-API-Key", "lgk_notakeyatall"}});
  EXPECT_EQ(badKey.status, 503) << "an unknown API key that left no record: " << badKey.describe();
  const std::string text = log();
  EXPECT_NE(text.find("SECURITY: a refused login (bad_password, password) for default/admin from "
                      "127.0.0.1 could not be recorded"),
            std::string::npos)
      << "no log line for the wrong password";
  EXPECT_NE(text.find("SECURITY: a refused login (unknown_user, password) for default/nobody"),
            std::string::npos)
      << "no log line for the unknown user";
  EXPECT_NE(text.find("SECURITY: a refused login (bad_key, api_key)"), std::string::npos)
      << "no log line for the API key";

  mend("fail_login_records");
  ApiResponse recorded;
  EXPECT_TRUE(api().login("default", "admin", "Not-The-Password-At-All-7", "", &recorded).empty());
  EXPECT_EQ(recorded.status, 401) << recorded.describe();
  const std::string token = api().login("default", "admin", kTestAdminPassword);
  ASSERT_FALSE(token.empty());
  // Only the failures the store could record are in the list.
  ApiResponse logins = api().get("/api/v1/logins?outcome=bad_password", withBearer(token));
  ASSERT_EQ(logins.status, 200) << logins.describe();
  EXPECT_EQ(logins.items()->size(), 1u);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(StatusHandlingTest, APasswordChangeThatCannotEndTheOtherSessionsChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string current = api().login("default", "admin", kTestAdminPassword);
  const std::string other = api().login("default", "admin", kTestAdminPassword);
  ASSERT_FALSE(current.empty());
  ASSERT_FALSE(other.empty());
  const std::string next = strongPassword();
  const std::string change =
      Json().set("current_password", kTestAdminPassword).set("new_password", next).str();

  breakWrites("fail_session_end", "UPDATE OF ended_at ON sessions",
              "NEW.end_reason = 'password changed'");
  ApiResponse failed = api().post("/api/v1/me/password", change, withBearer(current));
  EXPECT_EQ(failed.status, 503) << "the other session could not be ended: " << failed.describe();
  EXPECT_EQ(api().get("/api/v1/me", withBearer(other)).status, 200);
  EXPECT_TRUE(api().login("default", "admin", next).empty()) << "the new password took effect";
  EXPECT_FALSE(api().login("default", "admin", kTestAdminPassword).empty())
      << "the old password no longer works";
  EXPECT_NE(log().find("SECURITY: the password change of user admin of organisation default was "
                       "not stored"),
            std::string::npos)
      << "no log line";

  mend("fail_session_end");
  ApiResponse changed = api().post("/api/v1/me/password", change, withBearer(current));
  EXPECT_EQ(changed.status, 204) << changed.describe();
  EXPECT_EQ(api().get("/api/v1/me", withBearer(other)).status, 401) << "the other session lives";
  EXPECT_EQ(api().get("/api/v1/me", withBearer(current)).status, 200)
      << "the session that changed the password ended";
  EXPECT_FALSE(api().login("default", "admin", next).empty());
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

}  // namespace
}  // namespace labgate::it
