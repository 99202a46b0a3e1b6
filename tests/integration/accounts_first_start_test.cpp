// Accounts against the real labgated: the first start: the administrator from
// LABGATE_ADMIN_PASSWORD, or a refusal to start. Fixture and helpers: accounts_test_support.h.
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

// ---------------------------------------------------------------------------------------------
// 1. The first start

TEST_F(AccountsTest, FirstStartCreatesTheAdministratorFromTheEnvironment) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ApiResponse r;
  std::string token = login("default", "admin", kTestAdminPassword, "", &r);
  ASSERT_FALSE(token.empty()) << r.describe();
  EXPECT_EQ(token.rfind("lgs_", 0), 0u) << "session tokens start with lgs_";
  ApiResponse me = api_.get("/api/v1/me", withBearer(token));
  ASSERT_EQ(me.status, 200) << me.describe();
  EXPECT_EQ(me.text("org"), "default");
  EXPECT_TRUE(contains(stringsOf(me.json, "roles"), "admin"));
  // The bootstrap leaves one organisation, "default".
  ApiResponse org = api_.get("/api/v1/organisations/default", withBearer(token));
  EXPECT_EQ(org.status, 200) << org.describe();
  EXPECT_EQ(org.text("id"), "default");

  // Once a user exists the variable is ignored: a restart without it, or with another value,
  // starts and the first password still works.
  stopEngine();
  engine_->setEnvironment({{}, {"LABGATE_ADMIN_PASSWORD"}});
  ASSERT_NO_FATAL_FAILURE(startEngine());
  EXPECT_FALSE(login("default", "admin", kTestAdminPassword).empty());
  stopEngine();
  const std::string other = strongPassword();
  engine_->setEnvironment({{{"LABGATE_ADMIN_PASSWORD", other}}, {}});
  ASSERT_NO_FATAL_FAILURE(startEngine());
  EXPECT_FALSE(login("default", "admin", kTestAdminPassword).empty());
  EXPECT_TRUE(login("default", "admin", other, "", &r).empty());
  EXPECT_EQ(r.status, 401);
}

TEST_F(AccountsTest, EmptyStoreWithoutOrWithAWeakAdminPasswordRefusesToStart) {
  struct Case {
    std::string label;
    ChildEnvironment environment;
  };
  const std::vector<Case> cases = {
      {"no LABGATE_ADMIN_PASSWORD", {{}, {"LABGATE_ADMIN_PASSWORD"}}},
      {"weak LABGATE_ADMIN_PASSWORD", {{{"LABGATE_ADMIN_PASSWORD", "password"}}, {}}},
      {"short LABGATE_ADMIN_PASSWORD", {{{"LABGATE_ADMIN_PASSWORD", "Xq7-short"}}, {}}},
  };
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string dir = tmp_->file("empty-" + std::to_string(++n));
    Poco::File(dir + "/data").createDirectories();
    EngineConfig config = config_;
    config.dataDir = dir + "/data";
    config.httpPort = freePort();
    config.write(dir + "/labgate.properties");
    EngineProcess engine(dir + "/labgate.properties", config.httpPort, dir);
    engine.setEnvironment(c.environment);
    std::string why;
    EXPECT_FALSE(engine.start(30000ms, &why)) << "labgated served with an empty store";
    auto status = engine.exitStatus();
    ASSERT_TRUE(status.has_value()) << "still running: " << why;
    EXPECT_NE(*status, 0);
    EXPECT_NE(engine.stderrText().find("LABGATE_ADMIN_PASSWORD"), std::string::npos)
        << "stderr does not say why (name the variable)";
  }
}

}  // namespace
}  // namespace labgate::it::accounts
