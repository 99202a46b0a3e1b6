// Accounts against the real labgated: IP allow-lists of organisations and connectors. Fixture and
// helpers: accounts_test_support.h.
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

// ---------------------------------------------------------------------------------------------
// 8. IP allow-lists

// The organisation's list is checked against the peer address. Every test client is on
// loopback, so the test uses two loopback addresses as two peers: 127.0.0.1 and 127.0.0.2
// (Linux routes all of 127.0.0.0/8 to lo; the client binds its socket to 127.0.0.2). lab-b's
// administrator, connected from 127.0.0.2, sets lab-b's list to 10.0.0.0/8 plus 127.0.0.2 —
// accepted, since the list keeps the caller's own address — and from then on every request of
// lab-b from 127.0.0.1 (login, session, API key) is refused while 127.0.0.2 still works, which
// also lets lab-b's administrator read the address_refused login records afterwards.
TEST_F(AccountsTest, OrganisationAllowListRefusesOtherAddresses) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  // The caller's own address must stay on the list.
  ApiResponse lockout = api_.patch(
      "/api/v1/organisations/default",
      Json().set("ip_allowlist", std::vector<std::string>{"10.0.0.0/8"}).str(), withBearer(admin));
  EXPECT_EQ(lockout.status, 422) << lockout.describe();
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(admin)).status, 200);
  ApiResponse defaultOrg = api_.get("/api/v1/organisations/default", withBearer(admin));
  EXPECT_TRUE(stringsOf(defaultOrg.json, "ip_allowlist").empty());
  EXPECT_EQ(api_.patch("/api/v1/organisations/default",
                       Json().set("ip_allowlist", std::vector<std::string>{"10.0.0.1/8"}).str(),
                       withBearer(admin))
                .status,
            422)
      << "host bits set below the prefix";

  const std::string initial = strongPassword();
  remember("lab-b admin initial password", initial);
  ApiResponse created = api_.post("/api/v1/organisations",
                                  Json()
                                      .set("id", "lab-b")
                                      .set("name", "Laboratory B")
                                      .set("admin", Json()
                                                        .set("username", "b-boss")
                                                        .set("printed_name", "B Boss")
                                                        .set("password", initial))
                                      .str(),
                                  withBearer(admin));
  ASSERT_EQ(created.status, 201) << created.describe();
  Account boss{"lab-b", "b-boss", "", "", 0};
  activate(boss, initial);
  ASSERT_FALSE(boss.token.empty());
  ApiResponse keyAnswer;
  const std::string bKey = createApiKey(boss.token, "b reader", {"admin"}, "", "", &keyAnswer);
  ASSERT_FALSE(bKey.empty()) << keyAnswer.describe();

  const ApiClient other = api_.from("127.0.0.2");
  ApiResponse bossFromOther;
  const std::string bossSecond =
      other.login("lab-b", boss.username, boss.password, "", &bossFromOther);
  ASSERT_FALSE(bossSecond.empty()) << "login from 127.0.0.2: " << bossFromOther.describe();
  rememberToken(bossSecond);
  ApiResponse set = other.patch(
      "/api/v1/organisations/lab-b",
      Json().set("ip_allowlist", std::vector<std::string>{"10.0.0.0/8", "127.0.0.2"}).str(),
      withBearer(bossSecond));
  ASSERT_EQ(set.status, 200) << set.describe();
  EXPECT_EQ(stringsOf(set.json, "ip_allowlist").size(), 2u);

  // From 127.0.0.1: login (before the password is even looked at), the session, the API key.
  ApiResponse refused;
  EXPECT_TRUE(api_.login("lab-b", boss.username, boss.password, "", &refused).empty());
  EXPECT_EQ(refused.status, 403) << refused.describe();
  ApiResponse refusedWrong;
  api_.login("lab-b", boss.username, "Not-The-Password-1", "", &refusedWrong);
  EXPECT_EQ(refusedWrong.status, 403) << "the address is checked before the password";
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(boss.token)).status, 403);
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(bKey)).status, 403);
  // From 127.0.0.2 all of it works; default is not affected.
  EXPECT_EQ(other.get("/api/v1/me", withBearer(boss.token)).status, 200);
  EXPECT_EQ(other.get("/api/v1/me", withBearer(bKey)).status, 200);
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(admin)).status, 200);
  // The refusals are login records of lab-b.
  ApiResponse logins =
      other.get("/api/v1/logins?outcome=address_refused&user=b-boss", withBearer(bKey));
  ASSERT_EQ(logins.status, 200) << logins.describe();
  // The two logins (and, by the implementation's choice, the refused session request).
  EXPECT_GE(itemsOf(logins).size(), 2u) << "two refused logins from 127.0.0.1";
  for (const auto& o : itemsOf(logins)) {
    EXPECT_EQ(str(o, "peer").rfind("127.0.0.1", 0), 0u);
    EXPECT_EQ(str(o, "outcome"), "address_refused");
  }
  // Lifting the list (from an allowed address) lets 127.0.0.1 back in.
  ApiResponse lift = other.patch("/api/v1/organisations/lab-b",
                                 Json().set("ip_allowlist", std::vector<std::string>{}).str(),
                                 withBearer(bossSecond));
  EXPECT_EQ(lift.status, 200) << lift.describe();
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(boss.token)).status, 200);
}

TEST_F(AccountsTest, ConnectorAllowListRefusesUploadsAndConnectionsFromOtherAddresses) {
  addUploadConnector("up-deny", "default", "lis", {{"allow", "10.0.0.0/8"}});
  addAstmConnector("astm-deny", "default", "lis", {{"allow", "10.0.0.0/8"}});
  config_.connectors.at(0).extra["allow"] = "127.0.0.1/32, 10.1.5.7";  // lab1 admits loopback
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  ApiResponse r;
  const std::string key = createApiKey(admin, "uploads", {"instrument"}, "", "", &r);
  ASSERT_FALSE(key.empty()) << r.describe();
  ApiResponse denied = upload(withBearer(key), "up-deny", uniqueBatch());
  EXPECT_EQ(denied.status, 403) << denied.describe();
  EXPECT_EQ(upload(withBearer(key), "up1", uniqueBatch()).status, 202);

  AstmInstrument instrument(connectorPort("astm-deny"));
  const int reply = instrument.enq(5000ms);
  EXPECT_EQ(reply, astm::kClosed) << "ENQ answered with " << astm::replyName(reply);
  EXPECT_TRUE(sendAstmSample(astmPort(), "AL1001")) << "lab1's list admits 127.0.0.1";
}

}  // namespace
}  // namespace labgate::it::accounts
