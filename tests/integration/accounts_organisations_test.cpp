// Accounts against the real labgated: organisations (tenants) never see each other's rows. Fixture
// and helpers: accounts_test_support.h.
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

// ---------------------------------------------------------------------------------------------
// 3. Organisations never see each other's rows

TEST_F(AccountsTest, OrganisationsNeverSeeEachOthersRows) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  std::string admin = adminToken();
  ASSERT_FALSE(admin.empty());

  // The operator creates lab-b with its first administrator, who must change the password.
  const std::string bossInitial = strongPassword();
  remember("lab-b admin initial password", bossInitial);
  ApiResponse created = api_.post("/api/v1/organisations",
                                  Json()
                                      .set("id", "lab-b")
                                      .set("name", "Laboratory B")
                                      .set("admin", Json()
                                                        .set("username", "b-boss")
                                                        .set("printed_name", "B Boss")
                                                        .set("password", bossInitial))
                                      .str(),
                                  withBearer(admin));
  ASSERT_EQ(created.status, 201) << created.describe();
  ASSERT_TRUE(created.json && created.json->getObject("organisation"));
  EXPECT_EQ(str(created.json->getObject("organisation"), "id"), "lab-b");
  ASSERT_TRUE(created.json->getObject("admin"));
  EXPECT_EQ(str(created.json->getObject("admin"), "username"), "b-boss");
  EXPECT_EQ(str(created.json->getObject("admin"), "org"), "lab-b");
  EXPECT_EQ(api_.post("/api/v1/organisations",
                      Json()
                          .set("id", "lab-b")
                          .set("name", "Again")
                          .set("admin", Json()
                                            .set("username", "b-other")
                                            .set("printed_name", "B Other")
                                            .set("password", strongPassword()))
                          .str(),
                      withBearer(admin))
                .status,
            409)
      << "an organisation id already used";

  // The connectors and destination of lab-b are configuration: restart with them.
  stopEngine();
  DestinationConfig lisB;
  lisB.name = "lis-b";
  lisB.port = freePort();
  lisB.extra["org"] = "lab-b";
  config_.destinations.push_back(lisB);
  addUploadConnector("up-b", "lab-b", "lis-b");
  addAstmConnector("astm-b", "lab-b", "lis-b");
  FakeLis lisForB(lisB.port);
  lisForB.start();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  admin = adminToken();

  Account boss{"lab-b", "b-boss", "", "", 0};
  boss.id = std::atoll(str(created.json->getObject("admin"), "id").c_str());
  ASSERT_GT(boss.id, 0);
  activate(boss, bossInitial);
  ASSERT_FALSE(boss.token.empty());
  Account bView = createAccount(boss.token, "b-view", {"viewer"}, "lab-b");
  Account bAudit = createAccount(boss.token, "b-audit", {"auditor"}, "lab-b");
  ASSERT_FALSE(bView.token.empty());
  ASSERT_FALSE(bAudit.token.empty());
  ApiResponse r;
  const std::string bKey = createApiKey(boss.token, "b instrument", {"instrument"}, "", "", &r);
  ASSERT_FALSE(bKey.empty()) << r.describe();
  const std::string bKeyId = std::to_string(r.number("id", 0));
  const std::string bScoped = createApiKey(boss.token, "b scoped", {"instrument"}, "up-b", "", &r);
  ASSERT_FALSE(bScoped.empty()) << r.describe();

  // The default side.
  Account aView = createAccount(admin, "a-view", {"viewer"});
  Account aAudit = createAccount(admin, "a-audit", {"auditor"});
  const std::string aKey = createApiKey(admin, "a instrument", {"instrument"}, "", "", &r);
  ASSERT_FALSE(aKey.empty()) << r.describe();
  const std::string aKeyId = std::to_string(r.number("id", 0));
  ApiResponse adminMe = api_.get("/api/v1/me", withBearer(admin));
  const std::string adminId = str(adminMe.json ? adminMe.json->getObject("user") : nullptr, "id");
  ASSERT_FALSE(adminId.empty()) << adminMe.describe();

  // Data in both organisations.
  ApiResponse bUp = upload(withBearer(bScoped), "up-b", uniqueBatch());
  ASSERT_EQ(bUp.status, 202) << bUp.describe();
  ASSERT_TRUE(sendAstmSample(connectorPort("astm-b"), "BB2001"));
  ApiResponse aUp = upload(withBearer(aKey), "up1", uniqueBatch());
  ASSERT_EQ(aUp.status, 202) << aUp.describe();
  ASSERT_TRUE(sendAstmSample(astmPort(), "AA1001"));
  const std::string bSample = sampleRowId(bView.token, "BB2001");
  const std::string aSample = sampleRowId(aView.token, "AA1001");
  ASSERT_FALSE(bSample.empty());
  ASSERT_FALSE(aSample.empty());
  // Neither sees the other's sample by its sample id either.
  EXPECT_TRUE(
      itemsOf(api_.get("/api/v1/samples?sample_id=BB2001", withBearer(aView.token))).empty());
  EXPECT_TRUE(
      itemsOf(api_.get("/api/v1/samples?sample_id=AA1001", withBearer(bView.token))).empty());

  // Uploads to the other organisation's connector: as if it did not exist.
  EXPECT_EQ(upload(withBearer(aKey), "up-b", uniqueBatch()).status, 404);
  EXPECT_EQ(upload(withBearer(bKey), "up1", uniqueBatch()).status, 404);
  // Only the operator organisation creates organisations.
  EXPECT_EQ(api_.post("/api/v1/organisations",
                      Json()
                          .set("id", "lab-c")
                          .set("name", "C")
                          .set("admin", Json()
                                            .set("username", "c-boss")
                                            .set("printed_name", "C Boss")
                                            .set("password", strongPassword()))
                          .str(),
                      withBearer(boss.token))
                .status,
            403);

  struct Side {
    std::string org;
    Account* admin;
    Account* viewer;
    Account* auditor;
  };
  Account adminAccount{"default", "admin", kTestAdminPassword, admin, std::atoll(adminId.c_str())};
  Side a{"default", &adminAccount, &aView, &aAudit};
  Side b{"lab-b", &boss, &bView, &bAudit};

  struct Foreign {
    std::string userId, keyId, org, sample, connector, destination;
  };
  const Foreign ofB{std::to_string(bView.id), bKeyId, "lab-b", bSample, "up-b", "lis-b"};
  const Foreign ofA{std::to_string(aView.id), aKeyId, "default", aSample, "up1", "lis"};

  // Every foreign resource answers exactly as one that does not exist: 404 to a caller holding
  // the permission (403 to one without it, before anything is looked up).
  struct Req {
    std::string method, path, body, permission;
  };
  auto requestsFor = [](const Foreign& f) {
    return std::vector<Req>{
        {"GET", "/api/v1/users/" + f.userId, "", "users.read"},
        {"PATCH", "/api/v1/users/" + f.userId, Json().set("printed_name", "Hijacked").str(),
         "users.manage"},
        {"PATCH", "/api/v1/users/" + f.userId, Json().set("disabled", true).str(), "users.manage"},
        {"POST", "/api/v1/users/" + f.userId + "/unlock", "", "users.manage"},
        {"POST", "/api/v1/users/" + f.userId + "/password-reset", "", "users.manage"},
        {"DELETE", "/api/v1/users/" + f.userId + "/totp", "", "users.manage"},
        {"GET", "/api/v1/api-keys/" + f.keyId, "", "apikeys.read"},
        {"DELETE", "/api/v1/api-keys/" + f.keyId, "", "apikeys.manage"},
        {"GET", "/api/v1/organisations/" + f.org, "", "organisations.read"},
        {"PATCH", "/api/v1/organisations/" + f.org, Json().set("name", "Hijacked").str(),
         "organisations.manage"},
        {"GET", "/api/v1/samples/" + f.sample, "", "results.read"},
        {"GET", "/api/v1/connectors/" + f.connector, "", "connectors.read"},
        {"GET", "/api/v1/destinations/" + f.destination, "", "destinations.read"},
    };
  };
  const Foreign nowhere{
      "987654", "987654", "no-such-org", "987654", "no-such-connector", "no-such-destination"};
  auto probe = [&](Side& side, const Foreign& f) {
    const auto foreign = requestsFor(f);
    const auto missing = requestsFor(nowhere);
    const api::RoleTable roles;
    for (Account* caller : {side.admin, side.viewer}) {
      const auto held = roles.permissionsOf({caller == side.admin ? "admin" : "viewer"});
      for (size_t i = 0; i < foreign.size(); ++i) {
        const Req& q = foreign[i];
        ApiResponse answer = api_.request(q.method, q.path, q.body, withBearer(caller->token));
        const int expected = held.count(q.permission) ? 404 : 403;
        EXPECT_EQ(answer.status, expected)
            << side.org << " " << caller->username << ": " << q.method << " " << q.path << ": "
            << answer.describe();
        if (expected != 404) continue;
        ApiResponse none =
            api_.request(q.method, missing[i].path, missing[i].body, withBearer(caller->token));
        EXPECT_EQ(none.status, 404)
            << q.method << " " << missing[i].path << ": " << none.describe();
        EXPECT_EQ(none.text("title"), answer.text("title"))
            << q.method << " " << q.path << " differs from a resource that does not exist";
      }
    }
  };
  probe(a, ofB);
  probe(b, ofA);

  // The probes changed nothing: the foreign accounts and keys still work.
  EXPECT_FALSE(login("lab-b", bView.username, bView.password).empty());
  EXPECT_FALSE(login("default", aView.username, aView.password).empty());
  EXPECT_EQ(upload(withBearer(bKey), "up-b", uniqueBatch()).status, 202);
  EXPECT_EQ(upload(withBearer(aKey), "up1", uniqueBatch()).status, 202);
  ApiResponse bViewRead =
      api_.get("/api/v1/users/" + std::to_string(bView.id), withBearer(boss.token));
  EXPECT_EQ(bViewRead.text("printed_name"), "Test " + bView.username);
  EXPECT_FALSE(bViewRead.flag("disabled", true));

  // Lists: disjoint row ids, and only the caller's organisation in them.
  struct ListCheck {
    std::string path;
    std::function<std::string(Side&)> token;
  };
  const std::vector<ListCheck> lists = {
      {"/api/v1/users?limit=500", [](Side& s) { return s.admin->token; }},
      {"/api/v1/api-keys?limit=500", [](Side& s) { return s.admin->token; }},
      {"/api/v1/samples?limit=500", [](Side& s) { return s.viewer->token; }},
      {"/api/v1/audit?limit=500", [](Side& s) { return s.auditor->token; }},
      {"/api/v1/logins?limit=500", [](Side& s) { return s.auditor->token; }},
      {"/api/v1/organisations", [](Side& s) { return s.admin->token; }},
  };
  for (const auto& list : lists) {
    ApiResponse ra = api_.get(list.path, withBearer(list.token(a)));
    ApiResponse rb = api_.get(list.path, withBearer(list.token(b)));
    ASSERT_EQ(ra.status, 200) << list.path << ": " << ra.describe();
    ASSERT_EQ(rb.status, 200) << list.path << ": " << rb.describe();
    auto idsA = idsOf(ra), idsB = idsOf(rb);
    EXPECT_FALSE(idsA.empty()) << list.path << " of default is empty";
    EXPECT_FALSE(idsB.empty()) << list.path << " of lab-b is empty";
    for (const auto& id : idsA) EXPECT_EQ(idsB.count(id), 0u) << list.path << " both show " << id;
    for (const auto& [side, answer] :
         {std::pair<std::string, ApiResponse*>{"default", &ra}, {"lab-b", &rb}}) {
      for (const auto& o : itemsOf(*answer)) {
        if (o->has("org")) {
          EXPECT_EQ(str(o, "org"), side) << list.path;
        }
      }
    }
  }
  // Users by name, connectors and destinations by name.
  auto names = [&](const std::string& path, const std::string& token, const std::string& key) {
    std::set<std::string> out;
    for (const auto& o : itemsOf(api_.get(path, withBearer(token)))) out.insert(str(o, key));
    return out;
  };
  auto usersA = names("/api/v1/users?limit=500", admin, "username");
  auto usersB = names("/api/v1/users?limit=500", boss.token, "username");
  EXPECT_EQ(usersA.count("b-boss") + usersA.count(bView.username), 0u);
  EXPECT_EQ(usersB.count("admin") + usersB.count(aView.username), 0u);
  EXPECT_EQ(usersB.count(bView.username), 1u);
  auto connectorsA = names("/api/v1/connectors", aView.token, "name");
  auto connectorsB = names("/api/v1/connectors", bView.token, "name");
  EXPECT_EQ(connectorsA, (std::set<std::string>{"lab1", "up1"}));
  EXPECT_EQ(connectorsB, (std::set<std::string>{"astm-b", "up-b"}));
  EXPECT_EQ(names("/api/v1/destinations", aView.token, "name"), (std::set<std::string>{"lis"}));
  EXPECT_EQ(names("/api/v1/destinations", bView.token, "name"), (std::set<std::string>{"lis-b"}));
  // The lab-b audit trail holds lab-b's own events (its users and keys being created).
  ApiResponse bAuditList = api_.get("/api/v1/audit?limit=500", withBearer(bAudit.token));
  bool sawUserCreated = false;
  for (const auto& o : itemsOf(bAuditList)) {
    if (str(o, "action").rfind("user.", 0) == 0) sawUserCreated = true;
  }
  EXPECT_TRUE(sawUserCreated) << "lab-b's audit trail lacks its user events";
  lisForB.stop();
}

}  // namespace
}  // namespace labgate::it::accounts
