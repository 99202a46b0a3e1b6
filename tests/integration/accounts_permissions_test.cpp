// Accounts against the real labgated: the permission table, walked for every route and every built-
// in role (sessions and API keys). Fixture and helpers: accounts_test_support.h.
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

// ---------------------------------------------------------------------------------------------
// 2. The permission table, walked for every built-in role

/// Who makes a request of the matrix.
struct Caller {
  std::string role;  // "" = no credentials
  bool apiKey = false;
  std::string secret;          // session token or API key
  Account* account = nullptr;  // the role's user (sessions)
  std::string label() const {
    if (role.empty()) return "no credentials";
    return role + (apiKey ? " (API key)" : " (session)");
  }
};

struct Call {
  std::string path;
  std::string body;
  HttpHeaders headers;                            // besides the credential
  std::string tokenOverride;                      // a session of its own (logging out)
  std::function<void(const ApiResponse&)> after;  // bookkeeping after a 2xx
};

TEST_F(AccountsTest, EveryRouteAnswersEveryRoleAsThePermissionTableSays) {
  // Encryption at rest, so that GET /api/v1/messages/{id}/raw has a stored body to answer and
  // the re-encryption can run (docs/encryption.md).
  const std::string keyFile = tmp_->file("kek");
  ASSERT_TRUE(security::writeNewKeyFile(keyFile).isOk());
  config_.set("security.key_file", keyFile);
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  ASSERT_FALSE(admin.empty());
  const api::RoleTable roleTable;

  // One user (unrestricted session) and one API key per built-in role.
  std::map<std::string, Account> users;
  std::map<std::string, std::string> keys;
  for (const auto& [name, role] : roleTable.roles()) {
    if (!role.builtin) continue;
    users[name] = createAccount(admin, "m-" + name, {name});
    ASSERT_FALSE(users[name].token.empty()) << "no session for role " << name;
    ApiResponse r;
    keys[name] = createApiKey(admin, "matrix " + name, {name}, "", "", &r);
    ASSERT_FALSE(keys[name].empty()) << "no API key for role " << name << ": " << r.describe();
  }

  // Data the read routes point at: a sample from the ASTM connector, a batch for diagnostics.
  ASSERT_TRUE(sendAstmSample(astmPort(), "MX1001"));
  ApiResponse up = upload(withBearer(keys["instrument"]), "up1", uniqueBatch());
  ASSERT_EQ(up.status, 202) << up.describe();
  const std::string sampleId = sampleRowId(users["viewer"].token, "MX1001");
  ASSERT_FALSE(sampleId.empty()) << "the viewer cannot find the ASTM sample";
  std::string messageId;
  const ApiResponse found =
      api_.get("/api/v1/samples?sample_id=MX1001", withBearer(users["viewer"].token));
  for (const auto& o : itemsOf(found)) messageId = str(o, "message_id");
  ASSERT_FALSE(messageId.empty());
  // QA (docs/signatures.md): a batch with a held result to sign, and a signature to read.
  ASSERT_TRUE(AstmInstrument(astmPort())
                  .sendSession(buildAstmMessage({{"MX1002", {{"ZZNOTMAPPED", "12", "U/L"}}, {}}}))
                  .complete);
  ASSERT_FALSE(sampleRowId(users["viewer"].token, "MX1002").empty());
  std::string heldBatch;
  for (const auto& o :
       itemsOf(api_.get("/api/v1/samples?sample_id=MX1002", withBearer(users["viewer"].token)))) {
    heldBatch = str(o, "message_id");
  }
  ASSERT_FALSE(heldBatch.empty());
  auto reviewBody = [&](const Account* me) {
    const std::string sha =
        api_.get("/api/v1/batches/" + heldBatch, withBearer(admin)).text("record_sha256");
    return Json()
        .set("subject", "batch:" + heldBatch)
        .set("meaning", "reviewed")
        .set("record_sha256", sha)
        .set("password", me ? me->password : "x")
        .str();
  };
  ApiResponse firstSignature = api_.post("/api/v1/signatures", reviewBody(&users["qa-reviewer"]),
                                         withBearer(users["qa-reviewer"].token));
  ASSERT_EQ(firstSignature.status, 201) << firstSignature.describe();
  const std::string signatureId = std::to_string(firstSignature.number("id", 0));
  // Mapping sets (docs/mappings.md): a stored set with a version; each allowed activation gets a
  // version of its own to activate.
  const std::string mappingCsv = "instrument_code,lis_code,lis_name,units,decimals\nGLU,M,,,\n";
  auto newMappingVersion = [&]() {
    HttpHeaders csv = withBearer(admin);
    csv.emplace_back("Content-Type", "text/csv");
    ApiResponse r = api_.post("/api/v1/mapping-sets/matrix/versions", mappingCsv, csv);
    EXPECT_EQ(r.status, 201) << r.describe();
    return std::to_string(r.number("version", 0));
  };
  newMappingVersion();
  // One re-encryption at a time: an allowed POST waits until the one before it has ended.
  auto reencryptionIdle = [&]() {
    EXPECT_TRUE(waitUntil(
        [&] {
          return api_.get("/api/v1/maintenance/reencrypt", withBearer(admin)).text("state") !=
                 "running";
        },
        60000ms, 50ms));
  };
  // Existing resources for the callers that must be refused before anything is looked up.
  const int64_t someUser = users["viewer"].id;
  ApiResponse keyList = api_.get("/api/v1/api-keys", withBearer(admin));
  ASSERT_EQ(keyList.status, 200) << keyList.describe();
  ASSERT_FALSE(itemsOf(keyList).empty());
  const std::string someKey = str(itemsOf(keyList).front(), "id");
  int orgCounter = 0;

  // A fresh target user / key per call of a route that changes it, so each 2xx is real.
  auto freshUser = [&]() {
    return std::to_string(createUser(admin, newUsername("target"), {"viewer"}, strongPassword()));
  };
  auto freshKey = [&]() {
    ApiResponse r;
    createApiKey(admin, "target key " + std::to_string(++orgCounter), {"viewer"}, "", "", &r);
    return std::to_string(r.number("id", 0));
  };

  // Routes whose request is the route's path as it is, with no body and nothing to check after.
  const std::set<std::string> unprepared = {
      "GET /api/v1/me",           "GET /api/v1/organisations",
      "GET /api/v1/users",        "GET /api/v1/roles",
      "GET /api/v1/api-keys",     "GET /api/v1/connectors",
      "GET /api/v1/destinations", "GET /api/v1/samples",
      "GET /api/v1/audit",        "GET /api/v1/audit/verification",
      "GET /api/v1/logins",       "GET /api/v1/maintenance/reencrypt",
      "POST /api/v1/backups",     "GET /api/v1/backups",
      "GET /api/v1/batches",      "GET /api/v1/signing-key",
      "GET /api/v1/mapping-sets", "GET /api/v1/unmapped-codes",
      "GET /api/v1/messages",     "GET /api/v1/overview"};

  // A fresh dead letter per allowed resend (docs/operations.md): the LIS answers one message AE.
  int deadLetters = 0;
  auto freshDeadLetter = [&]() {
    lis_->setMode(AckMode::kAE);
    EXPECT_TRUE(sendAstmSample(astmPort(), "MXDL" + std::to_string(++deadLetters)));
    std::string id;
    EXPECT_TRUE(waitUntil(
        [&] {
          auto items = itemsOf(api_.get("/api/v1/destinations/lis/dead-letter", withBearer(admin)));
          if (!items.empty()) id = str(items.front(), "id");
          return !id.empty();
        },
        30000ms, 100ms))
        << "no dead letter after the LIS answered AE";
    lis_->setMode(AckMode::kAA);
    return id.empty() ? std::string("1") : id;
  };

  // The request of each route for a caller. `allowed`: the caller is expected to pass the
  // permission check (only then are resources created for it).
  auto build = [&](const api::RouteSpec& route, const Caller& caller, bool allowed) {
    const std::string key = route.method + " " + route.path;
    Call c;
    c.path = route.path;
    Account* me = caller.account;
    if (unprepared.count(key) != 0) {
      // The route's own path, no body.
    } else if (key == "POST /api/v1/sessions") {
      c.body = Json()
                   .set("org", "default")
                   .set("user", me ? me->username : "nobody")
                   .set("password", me ? me->password : "wrong-password-1")
                   .str();
      c.after = [this](const ApiResponse& r) { rememberToken(r.text("token")); };
    } else if (key == "DELETE /api/v1/sessions/current") {
      if (allowed && me && !caller.apiKey) {
        ApiResponse r;
        c.tokenOverride = login("default", me->username, me->password, "", &r);
        EXPECT_FALSE(c.tokenOverride.empty()) << me->username << ": " << r.describe();
        const std::string ended = c.tokenOverride;
        c.after = [this, ended](const ApiResponse&) {
          EXPECT_EQ(api_.get("/api/v1/me", withBearer(ended)).status, 401)
              << "the session still answers after logging out";
        };
      }
    } else if (key == "POST /api/v1/me/password") {
      std::string next = strongPassword();
      remember("changed password", next);
      c.body =
          Json().set("current_password", me ? me->password : "x").set("new_password", next).str();
      if (me) c.after = [me, next](const ApiResponse&) { me->password = next; };
    } else if (key == "POST /api/v1/me/totp") {
      c.body = Json().set("password", me ? me->password : "x").str();
      c.after = [this](const ApiResponse& r) { remember("TOTP secret", r.text("secret")); };
    } else if (key == "POST /api/v1/me/totp/confirm") {
      std::string code = "000000";
      if (allowed && me && !caller.apiKey) {
        ApiResponse start = api_.post("/api/v1/me/totp", Json().set("password", me->password).str(),
                                      withBearer(caller.secret));
        EXPECT_TRUE(start.ok()) << "TOTP start for " << caller.label() << ": " << start.describe();
        remember("TOTP secret", start.text("secret"));
        code = totpCode(start.text("secret"), unixNow());
      }
      c.body = Json().set("code", code).str();
    } else if (key == "POST /api/v1/organisations") {
      const std::string id = "mx-org-" + std::to_string(++orgCounter);
      const std::string password = strongPassword();
      remember("new organisation admin password", password);
      c.body = Json()
                   .set("id", id)
                   .set("name", "Matrix lab " + id)
                   .set("admin", Json()
                                     .set("username", "chief")
                                     .set("printed_name", "Chief")
                                     .set("password", password))
                   .str();
    } else if (key == "GET /api/v1/organisations/{id}") {
      c.path = "/api/v1/organisations/default";
    } else if (key == "PATCH /api/v1/organisations/{id}") {
      c.path = "/api/v1/organisations/default";
      c.body = Json().set("name", "Default laboratory").str();
    } else if (key == "POST /api/v1/users") {
      const std::string password = strongPassword();
      remember("initial password", password);
      c.body =
          Json()
              .set("username", newUsername("made"))
              .set("printed_name", "Made By Matrix")
              .set("password", password)
              .set("roles", std::vector<std::string>{caller.role.empty() ? "viewer" : caller.role})
              .str();
    } else if (key == "GET /api/v1/users/{id}") {
      c.path = "/api/v1/users/" + std::to_string(someUser);
    } else if (key == "PATCH /api/v1/users/{id}") {
      c.path = "/api/v1/users/" + (allowed ? freshUser() : std::to_string(someUser));
      c.body = Json().set("printed_name", "Renamed By Matrix").str();
    } else if (key == "POST /api/v1/users/{id}/unlock") {
      c.path = "/api/v1/users/" + (allowed ? freshUser() : std::to_string(someUser)) + "/unlock";
    } else if (key == "POST /api/v1/users/{id}/password-reset") {
      c.path =
          "/api/v1/users/" + (allowed ? freshUser() : std::to_string(someUser)) + "/password-reset";
      c.after = [this](const ApiResponse& r) {
        remember("temporary password", r.text("temporary_password"));
      };
    } else if (key == "DELETE /api/v1/users/{id}/totp") {
      c.path = "/api/v1/users/" + (allowed ? freshUser() : std::to_string(someUser)) + "/totp";
    } else if (key == "GET /api/v1/roles/{name}") {
      c.path = "/api/v1/roles/viewer";
    } else if (key == "POST /api/v1/api-keys") {
      c.body =
          Json()
              .set("name", "made by matrix " + std::to_string(++orgCounter))
              .set("roles", std::vector<std::string>{caller.role.empty() ? "viewer" : caller.role})
              .str();
      c.after = [this](const ApiResponse& r) { remember("API key", r.text("key")); };
    } else if (key == "GET /api/v1/api-keys/{id}") {
      c.path = "/api/v1/api-keys/" + someKey;
    } else if (key == "DELETE /api/v1/api-keys/{id}") {
      c.path = "/api/v1/api-keys/" + (allowed ? freshKey() : someKey);
    } else if (key == "GET /api/v1/connectors/{name}") {
      c.path = "/api/v1/connectors/lab1";
    } else if (key == "GET /api/v1/destinations/{name}") {
      c.path = "/api/v1/destinations/lis";
    } else if (key == "GET /api/v1/batches/{id}") {
      c.path = "/api/v1/batches/" + heldBatch;
    } else if (key == "GET /api/v1/batches/{id}/charts") {
      c.path = "/api/v1/batches/" + heldBatch + "/charts";
    } else if (key == "POST /api/v1/signatures") {
      c.body = reviewBody(me);
    } else if (key == "GET /api/v1/signatures/{id}") {
      c.path = "/api/v1/signatures/" + signatureId;
    } else if (key == "GET /api/v1/signatures/{id}/verification") {
      c.path = "/api/v1/signatures/" + signatureId + "/verification";
    } else if (key == "GET /api/v1/samples/{id}") {
      c.path = "/api/v1/samples/" + sampleId;
    } else if (key == "POST /api/v1/uploads") {
      c.path = "/api/v1/uploads?connector=up1&filename=matrix.csv";
      c.body = uniqueBatch();
      c.headers.emplace_back("Content-Type", "text/csv");
    } else if (key == "GET /api/v1/instruments/{id}/diagnostics") {
      c.path = "/api/v1/instruments/qqq-01/diagnostics";
    } else if (key == "GET /api/v1/instruments/{id}/health") {
      c.path = "/api/v1/instruments/qqq-01/health";
    } else if (key == "GET /api/v1/messages/{id}/raw") {
      c.path = "/api/v1/messages/" + messageId + "/raw";
    } else if (key == "GET /api/v1/mapping-sets/{name}") {
      c.path = "/api/v1/mapping-sets/matrix";
    } else if (key == "GET /api/v1/mapping-sets/{name}/versions/{version}") {
      c.path = "/api/v1/mapping-sets/matrix/versions/1";
    } else if (key == "GET /api/v1/mapping-sets/{name}/versions/{version}/diff") {
      c.path = "/api/v1/mapping-sets/matrix/versions/1/diff";
    } else if (key == "POST /api/v1/mapping-sets/{name}/versions") {
      c.path = "/api/v1/mapping-sets/matrix/versions";
      c.body = mappingCsv;
      c.headers.emplace_back("Content-Type", "text/csv");
    } else if (key == "POST /api/v1/mapping-sets/{name}/versions/{version}/activation") {
      const std::string version = allowed && me && !caller.apiKey ? newMappingVersion() : "1";
      c.path = "/api/v1/mapping-sets/matrix/versions/" + version + "/activation";
      c.body = Json().set("meaning", "approved").set("password", me ? me->password : "x").str();
    } else if (key == "POST /api/v1/batches/{id}/reevaluation") {
      c.path = "/api/v1/batches/" + heldBatch + "/reevaluation";
      c.body = Json().set("dry_run", true).str();  // tried only: the batch stays as it is
    } else if (key == "POST /api/v1/mapping-sets/{name}/versions/{version}/dry-run") {
      c.path = "/api/v1/mapping-sets/matrix/versions/1/dry-run?instrument=tq-01";
    } else if (key == "POST /api/v1/instruments/{id}/mapping-dry-run") {
      c.path = "/api/v1/instruments/tq-01/mapping-dry-run";
      c.body =
          Json().set("mappings_csv", "instrument_code,lis_code,lis_name,units,decimals\n").str();
    } else if (key == "GET /api/v1/destinations/{name}/dead-letter") {
      c.path = "/api/v1/destinations/lis/dead-letter";
    } else if (key == "POST /api/v1/destinations/{name}/dead-letter/{id}/resend") {
      c.path =
          "/api/v1/destinations/lis/dead-letter/" + (allowed ? freshDeadLetter() : "1") + "/resend";
      c.body = Json().set("reason", "permission matrix").str();
    } else if (key == "POST /api/v1/maintenance/reencrypt") {
      if (allowed) reencryptionIdle();
    } else {
      ADD_FAILURE() << "no request for route " << key << ": add one to this test";
    }
    return c;
  };

  // Logging out, changing one's password and enrolling TOTP change the caller's account, so
  // they come after everything else (enrolment last: later logins would need a code).
  std::vector<api::RouteSpec> routes = api::routeTable();
  auto rank = [](const api::RouteSpec& r) {
    const std::string key = r.method + " " + r.path;
    if (key == "POST /api/v1/sessions") return 0;
    if (key == "DELETE /api/v1/sessions/current") return 1;
    if (key == "POST /api/v1/me/password") return 3;
    if (key == "POST /api/v1/me/totp") return 4;
    if (key == "POST /api/v1/me/totp/confirm") return 5;
    return 2;
  };
  std::stable_sort(routes.begin(), routes.end(),
                   [&](const auto& a, const auto& b) { return rank(a) < rank(b); });

  int cells = 0, allowedCells = 0, refusedCells = 0;
  auto check = [&](const api::RouteSpec& route, const Caller& caller) {
    const std::string& permission = route.permission;
    int expected;  // 2 = any 2xx
    if (permission == api::kPublic) {
      expected = 201;
    } else if (caller.role.empty()) {
      expected = 401;
    } else if (permission == api::kAuthenticated) {
      expected = 2;
    } else if (permission == api::kSession) {
      expected = caller.apiKey ? 403 : 2;
    } else {
      const api::Role* role = roleTable.find(caller.role);
      expected = role && role->permissions.count(permission) ? 2 : 403;
    }
    if (route.method == "POST" && route.path == "/api/v1/signatures" && !caller.role.empty() &&
        !caller.apiKey) {
      // A person's session passes the route; signing "reviewed" then needs results.review.
      const api::Role* role = roleTable.find(caller.role);
      expected = role && role->permissions.count("results.review") ? 2 : 403;
    }
    if (route.method == "POST" &&
        route.path == "/api/v1/mapping-sets/{name}/versions/{version}/activation" &&
        caller.apiKey && expected == 2) {
      // Activation is an electronic signature (signatures.mapping_activation): a person's.
      expected = 403;
    }
    Call call = build(route, caller, expected == 2 || expected == 201);
    HttpHeaders headers;
    const std::string secret = call.tokenOverride.empty() ? caller.secret : call.tokenOverride;
    if (!secret.empty() && permission != api::kPublic) headers = withBearer(secret);
    headers.insert(headers.end(), call.headers.begin(), call.headers.end());
    ApiResponse r = api_.request(route.method, call.path, call.body, headers);
    ++cells;
    (expected == 2 || expected == 201 ? allowedCells : refusedCells)++;
    const std::string where =
        route.method + " " + route.path + " as " + caller.label() + ": " + r.describe();
    if (expected == 2) {
      EXPECT_TRUE(r.ok()) << where << " (expected 2xx)";
    } else {
      EXPECT_EQ(r.status, expected) << where;
    }
    if (r.ok() && call.after) call.after(r);
    if (r.status == 401 || r.status == 403) {
      EXPECT_EQ(r.contentType().rfind("application/problem+json", 0), 0u) << where;
    }
    if (r.status == 401) {
      EXPECT_NE(r.header("WWW-Authenticate").find("Bearer"), std::string::npos) << where;
    }
  };

  for (const auto& route : routes) {
    if (route.permission != api::kPublic) check(route, Caller{});
    for (auto& [role, account] : users) {
      check(route, Caller{role, false, account.token, &account});
      if (route.permission != api::kPublic) check(route, Caller{role, true, keys[role], nullptr});
    }
  }
  EXPECT_GT(cells, 7 * 2 * 30);
  EXPECT_GT(allowedCells, 80);
  EXPECT_GT(refusedCells, 150);
  std::cout << "[ matrix   ] " << cells << " requests: " << allowedCells << " expected 2xx, "
            << refusedCells << " expected 401/403\n";
}

}  // namespace
}  // namespace labgate::it::accounts
