// Mapping sets stored in the database, versioned (issue 14, docs/mappings.md) through the real
// labgated: uploads and the 422 that lists the spreadsheet's problems with line and column, the
// versions as JSON and as the CSV, the diff, activation signed with the password (refused without
// it, with a wrong one, with another meaning, to a role without mappings.manage) and the next
// message through a connector bound with connector.NAME.mapping_set using the new version at once;
// the spreadsheet-on-disk workflow (connector.NAME.mappings): the file stored as a version at
// start, a changed file a new version on SIGHUP, a reload where every connector failed said so;
// both keys on one connector refused naming both.
//
// Test output rule: failures print status and problem detail (ApiResponse::describe), never a
// password or token.
#include <Poco/File.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include "engine/security/signing_key.h"
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

const std::string kHeader = "instrument_code,lis_code,lis_name,units,decimals\n";

/// The OBX-3 code the LIS received for `sampleId` ("" when none arrived within the wait).
std::string codeAtLis(FakeLis& lis, const std::string& sampleId) {
  std::string code;
  lis.waitFor(
      [&](const std::vector<std::string>& messages) {
        for (const auto& m : messages) {
          auto ids = obrSampleIds(m);
          if (std::find(ids.begin(), ids.end(), sampleId) == ids.end()) continue;
          auto obs = observations(m);
          if (!obs.empty()) code = obs.front().code;
          return true;
        }
        return false;
      },
      30000ms);
  return code;
}

class MappingSetsTest : public AccountsTest {
 protected:
  /// A second ASTM connector "lab2" bound to the stored set "panel" (no file).
  void bindStoredSet() {
    ConnectorConfig c;
    c.name = "lab2";
    c.port = freePort();
    c.instrument = "tq-lab2";
    c.destinations = "lis";
    c.extra["mapping_set"] = "panel";
    config_.connectors.push_back(c);
    config_.omit("connector.lab2.mappings");
  }

  ApiResponse upload(const std::string& token, const std::string& set, const std::string& csv,
                     const std::string& comment = "") {
    HttpHeaders headers = withBearer(token);
    headers.emplace_back("Content-Type", "text/csv");
    return api_.post("/api/v1/mapping-sets/" + set + "/versions" +
                         (comment.empty() ? "" : "?comment=" + comment),
                     csv, headers);
  }

  ApiResponse activateVersion(const Account& who, const std::string& set, int version, Json body) {
    return api_.post(
        "/api/v1/mapping-sets/" + set + "/versions/" + std::to_string(version) + "/activation",
        body.str(), withBearer(who.token));
  }

  /// One GLU result through the connector on `port`; true when every frame was acknowledged.
  static bool sendGlucose(int port, const std::string& sampleId) {
    AstmInstrument instrument(port);
    return instrument.sendSession(buildAstmMessage({{sampleId, {{"GLU", "5.4", "mmol/L"}}, {}}}))
        .complete;
  }
};

TEST_F(MappingSetsTest, UploadShowExportAndDiffVersions) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "lis", {"lis-admin"});
  const Account viewer = createAccount(admin, "view", {"viewer"});

  const std::string v1 = kHeader +
                         "GLU,2345-7,Glucose,mmol/L,1\n"
                         "CREA,2160-0,Creatinine,mg/dL,2\n"
                         "NA,2951-2,Sodium,mmol/L,0\n";
  ApiResponse r = upload(lisAdmin.token, "panel", v1, "first");
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.number("version"), 1);
  EXPECT_EQ(r.number("rows"), 3);
  EXPECT_EQ(r.text("comment"), "first");
  EXPECT_EQ(r.header("Location"), "/api/v1/mapping-sets/panel/versions/1");
  EXPECT_FALSE(r.flag("active", true)) << "an upload does not activate";

  // Nobody without mappings.manage uploads.
  EXPECT_EQ(upload(viewer.token, "panel", v1).status, 403);

  const std::string v2 = kHeader +
                         "GLU,2345-7,Glucose,mmol/L,2\n"     // decimals changed
                         "CREA,2160-0,Creatinine,mg/dL,2\n"  // unchanged
                         "K,2823-3,Potassium,mmol/L,1\n";    // added; NA removed
  r = upload(lisAdmin.token, "panel", v2);
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.number("version"), 2);

  // The list and the set, readable with results.read.
  r = api_.get("/api/v1/mapping-sets", withBearer(viewer.token));
  ASSERT_EQ(r.status, 200) << r.describe();
  bool listed = false;
  for (const auto& o : itemsOf(r)) {
    if (str(o, "name") != "panel") continue;
    listed = true;
    EXPECT_EQ(str(o, "latest_version"), "2");
    EXPECT_TRUE(isNull(o, "active_version"));
  }
  EXPECT_TRUE(listed);
  r = api_.get("/api/v1/mapping-sets/panel", withBearer(viewer.token));
  ASSERT_EQ(r.status, 200) << r.describe();
  auto versions = r.json->getArray("versions");
  ASSERT_TRUE(versions && versions->size() == 2);
  EXPECT_EQ(str(versions->getObject(0), "created_by"), "user:" + lisAdmin.username);
  EXPECT_EQ(str(versions->getObject(0), "sha256").size(), 64u);

  // One version: the CSV exactly as uploaded, or its rows as JSON.
  r = api_.get("/api/v1/mapping-sets/panel/versions/1",
               withBearer(viewer.token, {{"Accept", "text/csv"}}));
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_NE(r.contentType().find("text/csv"), std::string::npos);
  EXPECT_EQ(r.body, v1);
  r = api_.get("/api/v1/mapping-sets/panel/versions/2", withBearer(viewer.token));
  ASSERT_EQ(r.status, 200) << r.describe();
  auto rows = r.json->getArray("mappings");
  ASSERT_TRUE(rows && rows->size() == 3);
  EXPECT_EQ(str(rows->getObject(2), "instrument_code"), "K");
  EXPECT_EQ(str(rows->getObject(0), "decimals"), "2");

  // The diff: added, removed, changed with old and new per column.
  r = api_.get("/api/v1/mapping-sets/panel/versions/2/diff?against=1", withBearer(viewer.token));
  ASSERT_EQ(r.status, 200) << r.describe();
  auto added = r.json->getArray("added");
  auto removed = r.json->getArray("removed");
  auto changed = r.json->getArray("changed");
  ASSERT_TRUE(added && removed && changed);
  ASSERT_EQ(added->size(), 1u);
  EXPECT_EQ(str(added->getObject(0), "instrument_code"), "K");
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_EQ(str(removed->getObject(0), "instrument_code"), "NA");
  ASSERT_EQ(changed->size(), 1u);
  EXPECT_EQ(str(changed->getObject(0), "instrument_code"), "GLU");
  auto columns = changed->getObject(0)->getArray("changes");
  ASSERT_TRUE(columns && columns->size() == 1);
  EXPECT_EQ(str(columns->getObject(0), "column"), "decimals");
  EXPECT_EQ(str(columns->getObject(0), "old"), "1");
  EXPECT_EQ(str(columns->getObject(0), "new"), "2");
  EXPECT_EQ(r.number("unchanged"), 1);
  // Against nothing active: every row added.
  r = api_.get("/api/v1/mapping-sets/panel/versions/2/diff", withBearer(viewer.token));
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.number("against"), 0);
  EXPECT_EQ(r.json->getArray("added")->size(), 3u);

  // Unknown sets and versions are 404; the audit trail has each version.
  EXPECT_EQ(api_.get("/api/v1/mapping-sets/nosuch", withBearer(viewer.token)).status, 404);
  EXPECT_EQ(api_.get("/api/v1/mapping-sets/panel/versions/9", withBearer(viewer.token)).status,
            404);
  EXPECT_EQ(
      api_.get("/api/v1/mapping-sets/panel/versions/1/diff?against=7", withBearer(viewer.token))
          .status,
      404);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  EXPECT_EQ(storeQuery(config_.dataDir + "/labgate.db",
                       "SELECT count(*) FROM audit WHERE action = 'mapping_set.version_created' "
                       "AND subject = 'mapping-set:panel';")
                .value_or(""),
            "2");
}

TEST_F(MappingSetsTest, AnExcelUnicodeTextSpreadsheetIsImported) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "lis", {"lis-admin"});
  // What Excel's "Unicode text" writes: UTF-16LE with a BOM, tab-separated, CRLF; a µ in units.
  const std::string utf8 =
      "instrument_code\tlis_code\tlis_name\tunits\tdecimals\r\n"
      "TAC\t11253-0\tTacrolimus\t\xC2\xB5g/L\t1\r\n";
  std::string utf16 = "\xFF\xFE";
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c == 0xC2) {  // U+00B5 MICRO SIGN, the only non-ASCII character here
      utf16 += '\xB5';
      utf16 += '\0';
      ++i;
      continue;
    }
    utf16 += static_cast<char>(c);
    utf16 += '\0';
  }
  ApiResponse r = upload(lisAdmin.token, "tdm", utf16);
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.number("rows"), 1);
  ApiResponse csv = api_.get("/api/v1/mapping-sets/tdm/versions/1",
                             withBearer(lisAdmin.token, {{"Accept", "text/csv"}}));
  ASSERT_EQ(csv.status, 200) << csv.describe();
  EXPECT_NE(csv.body.find("TAC"), std::string::npos) << "stored as UTF-8 text";
  EXPECT_NE(csv.body.find("\xC2\xB5g/L"), std::string::npos) << "the micro sign kept";
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(MappingSetsTest, ABadSpreadsheetIsRefusedWithItsProblemsListed) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "lis", {"lis-admin"});
  const std::string bad = kHeader +
                          "GLU,2345-7,Glucose,mmol/L,1\n"
                          "CREA,2160-0,Creatinine,mg/dL,1.5\n"
                          "GLU,9999-9,Glucose again,mmol/L,1\n";
  ApiResponse r = upload(lisAdmin.token, "panel", bad);
  ASSERT_EQ(r.status, 422) << r.describe();
  EXPECT_NE(r.contentType().find("application/problem+json"), std::string::npos);
  auto errors = r.json->getArray("errors");
  ASSERT_TRUE(errors) << "no error list";
  ASSERT_EQ(errors->size(), 2u) << "every problem in one answer: " << r.body;
  // Every error has a line, a column and a message; the first is the bad decimals on line 3,
  // column 5, the second the code mapped twice on line 4.
  for (size_t i = 0; i < errors->size(); ++i) {
    auto e = errors->getObject(static_cast<unsigned>(i));
    EXPECT_GT(std::stoi(str(e, "line")), 0);
    EXPECT_TRUE(e->has("column"));
    EXPECT_FALSE(str(e, "message").empty());
  }
  auto first = errors->getObject(0);
  EXPECT_EQ(str(first, "line"), "3");
  EXPECT_EQ(str(first, "column"), "5");
  EXPECT_EQ(str(first, "column_name"), "decimals");
  auto second = errors->getObject(1);
  EXPECT_EQ(str(second, "line"), "4");
  EXPECT_EQ(str(second, "column_name"), "instrument_code");
  EXPECT_NE(str(second, "message").find("already mapped on line 2"), std::string::npos)
      << str(second, "message");
  // Nothing was stored.
  EXPECT_EQ(api_.get("/api/v1/mapping-sets/panel", withBearer(lisAdmin.token)).status, 404);
  // A name no set can have.
  EXPECT_EQ(upload(lisAdmin.token, ".hidden", kHeader).status, 404);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(MappingSetsTest, SignedActivationSwapsTheConnectorsMappingForTheNextMessage) {
  bindStoredSet();
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const int lab2 = connectorPort("lab2");
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "lis", {"lis-admin"});
  const Account reviewer = createAccount(admin, "qa", {"qa-reviewer"});

  // No version active yet: the code is unmapped and held (nothing reaches the LIS).
  const std::string before = newSampleId("MS");
  ASSERT_TRUE(sendGlucose(lab2, before));
  ASSERT_FALSE(sampleRowId(lisAdmin.token, before).empty());

  ASSERT_EQ(upload(lisAdmin.token, "panel", kHeader + "GLU,GLU-V1,Glucose,mmol/L,1\n").status, 201);
  ASSERT_EQ(upload(lisAdmin.token, "panel", kHeader + "GLU,GLU-V2,Glucose,mmol/L,1\n").status, 201);

  // Refused: no password (400), another meaning (422), a wrong password (403), a role without
  // mappings.manage (403).
  ApiResponse r = activateVersion(lisAdmin, "panel", 1, Json().set("meaning", "approved"));
  EXPECT_EQ(r.status, 400) << r.describe();
  r = activateVersion(lisAdmin, "panel", 1,
                      Json().set("meaning", "reviewed").set("password", lisAdmin.password));
  EXPECT_EQ(r.status, 422) << r.describe();
  r = activateVersion(lisAdmin, "panel", 1,
                      Json().set("meaning", "approved").set("password", "Not-The-Password-123"));
  EXPECT_EQ(r.status, 403) << r.describe();
  r = activateVersion(reviewer, "panel", 1,
                      Json().set("meaning", "approved").set("password", reviewer.password));
  EXPECT_EQ(r.status, 403) << r.describe();
  EXPECT_EQ(api_.get("/api/v1/mapping-sets/panel", withBearer(lisAdmin.token))
                .json->isNull("active_version"),
            true)
      << "a refused activation activated";

  // What version 1 would change on the stored batches: the held GLU newly mapped and released;
  // nothing is written.
  ApiResponse dry =
      api_.post("/api/v1/mapping-sets/panel/versions/1/dry-run?instrument=tq-lab2&last=10", "",
                withBearer(lisAdmin.token));
  ASSERT_EQ(dry.status, 200) << dry.describe();
  auto summary = dry.json->getObject("summary");
  EXPECT_EQ(str(summary, "newly_mapped"), "1") << dry.body;
  EXPECT_EQ(str(summary, "still_unmapped"), "0") << dry.body;
  EXPECT_EQ(str(summary, "would_release"), "1") << dry.body;
  EXPECT_EQ(
      api_.post("/api/v1/mapping-sets/panel/versions/1/dry-run", "", withBearer(lisAdmin.token))
          .status,
      400)
      << "the instrument is required";
  EXPECT_EQ(lis_->messages().size(), 0u) << "a dry-run sends nothing";

  // Signed: the result held for its unmapped code is evaluated again and released with version
  // 1, and the next message uses version 1.
  r = activateVersion(lisAdmin, "panel", 1,
                      Json()
                          .set("meaning", "approved")
                          .set("password", lisAdmin.password)
                          .set("reason", "new panel"));
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.number("version"), 1);
  auto sig = r.json->getObject("signature");
  ASSERT_FALSE(sig.isNull()) << "the activation carries no signature";
  EXPECT_EQ(str(sig, "meaning"), "approved");
  EXPECT_EQ(str(sig, "printed_name"), "Test " + lisAdmin.username);
  // The server's Ed25519 key signed exactly the bytes shown: the set, the version and its
  // SHA-256, the meaning and the reason.
  ApiResponse key = api_.get("/api/v1/signing-key", withBearer(lisAdmin.token));
  ASSERT_EQ(key.status, 200) << key.describe();
  EXPECT_EQ(str(sig, "key_id"), key.header("X-Labgate-Key-Id"));
  const std::optional<std::string> signedBytes = security::base64Decode(str(sig, "signed_bytes"));
  const std::optional<std::string> signature = security::base64Decode(str(sig, "signature"));
  ASSERT_TRUE(signedBytes && signature);
  EXPECT_TRUE(security::verifyEd25519(key.body, *signedBytes, *signature).isOk());
  const std::string v1Sha =
      api_.get("/api/v1/mapping-sets/panel/versions/1", withBearer(lisAdmin.token)).text("sha256");
  for (const std::string& part :
       {std::string("\"subject\":\"mapping-set:panel\""), std::string("\"version\":1"),
        "\"version_sha256\":\"" + v1Sha + "\"", std::string("\"meaning\":\"approved\""),
        std::string("\"reason\":\"new panel\"")}) {
    EXPECT_NE(signedBytes->find(part), std::string::npos) << part;
  }
  EXPECT_FALSE(security::verifyEd25519(key.body, *signedBytes + " ", *signature).isOk());
  EXPECT_EQ(codeAtLis(*lis_, before), "GLU-V1")
      << "the result held for its unmapped code did not reach the LIS after the activation";
  const std::string first = newSampleId("MS");
  ASSERT_TRUE(sendGlucose(lab2, first));
  EXPECT_EQ(codeAtLis(*lis_, first), "GLU-V1");

  // Activating it again is a conflict; version 2 then swaps without a restart.
  r = activateVersion(lisAdmin, "panel", 1,
                      Json().set("meaning", "approved").set("password", lisAdmin.password));
  EXPECT_EQ(r.status, 409) << r.describe();
  r = activateVersion(lisAdmin, "panel", 2,
                      Json().set("meaning", "approved").set("password", lisAdmin.password));
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.number("previous_version"), 1);
  const std::string second = newSampleId("MS");
  ASSERT_TRUE(sendGlucose(lab2, second));
  EXPECT_EQ(codeAtLis(*lis_, second), "GLU-V2");

  // The history: who, when, old → new, signed.
  r = api_.get("/api/v1/mapping-sets/panel", withBearer(reviewer.token));
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.number("active_version"), 2);
  auto activations = r.json->getArray("activations");
  ASSERT_TRUE(activations && activations->size() == 2);
  EXPECT_EQ(str(activations->getObject(0), "activated_by"), "user:" + lisAdmin.username);
  EXPECT_EQ(str(activations->getObject(1), "previous_version"), "1");
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  const std::string db = config_.dataDir + "/labgate.db";
  const std::string details =
      storeQuery(db,
                 "SELECT group_concat(detail, '|') FROM (SELECT detail FROM audit WHERE action = "
                 "'mapping_set.activated' AND subject = 'mapping-set:panel' ORDER BY id);")
          .value_or("");
  EXPECT_NE(details.find("\"old\":0,\"new\":1"), std::string::npos) << details;
  EXPECT_NE(details.find("\"old\":1,\"new\":2"), std::string::npos) << details;
  EXPECT_NE(details.find("\"signed\":true"), std::string::npos) << details;
}

TEST_F(MappingSetsTest, ActivationWithoutSignatureWhenThePolicyIsOff) {
  config_.set("signatures.mapping_activation", "false");
  bindStoredSet();
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "lis", {"lis-admin"});
  ASSERT_EQ(upload(lisAdmin.token, "panel", kHeader + "GLU,GLU-V1,Glucose,mmol/L,1\n").status, 201);
  ApiResponse r = activateVersion(lisAdmin, "panel", 1, Json().set("reason", "policy off"));
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_TRUE(r.json->isNull("signature"));
  const std::string sample = newSampleId("MS");
  ASSERT_TRUE(sendGlucose(connectorPort("lab2"), sample));
  EXPECT_EQ(codeAtLis(*lis_, sample), "GLU-V1");
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(MappingSetsTest, AnotherOrganisationsSetIsNotFoundAndAnApiKeyCannotSign) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "lis", {"lis-admin"});
  ASSERT_EQ(upload(lisAdmin.token, "panel", kHeader + "GLU,A,Glucose,mmol/L,1\n").status, 201);

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
  Account boss;
  boss.org = "lab-b";
  boss.username = "b-boss";
  activate(boss, initial);
  ASSERT_FALSE(boss.token.empty());
  EXPECT_EQ(api_.get("/api/v1/mapping-sets/panel", withBearer(boss.token)).status, 404);
  EXPECT_EQ(api_.get("/api/v1/mapping-sets/panel/versions/1", withBearer(boss.token)).status, 404);
  EXPECT_EQ(api_.get("/api/v1/mapping-sets/panel/versions/1/diff", withBearer(boss.token)).status,
            404);
  ApiResponse r = api_.post("/api/v1/mapping-sets/panel/versions/1/activation",
                            Json().set("meaning", "approved").set("password", boss.password).str(),
                            withBearer(boss.token));
  EXPECT_EQ(r.status, 404) << r.describe();
  r = api_.get("/api/v1/mapping-sets", withBearer(boss.token));
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(itemsOf(r).empty()) << "lab-b sees the sets of default";
  // lab-b's own set of the same name is its own.
  HttpHeaders csv = withBearer(boss.token);
  csv.emplace_back("Content-Type", "text/csv");
  r = api_.post("/api/v1/mapping-sets/panel/versions", kHeader, csv);
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.number("version"), 1);

  // An electronic signature is a person's: an API key holding mappings.manage is refused.
  const std::string key = createApiKey(admin, "mapper", {"lis-admin"});
  ASSERT_FALSE(key.empty());
  r = api_.post("/api/v1/mapping-sets/panel/versions/1/activation",
                Json().set("meaning", "approved").set("password", "whatever-it-is").str(),
                {{"Authorization", "Bearer " + key}});
  EXPECT_EQ(r.status, 403) << r.describe();
  EXPECT_NE(r.text("detail").find("API key"), std::string::npos) << r.describe();
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

// §11.200 across kinds of signature: the first signature of a session, a batch's or an
// activation's, needs the TOTP code of a user with a second factor; later ones the password.
TEST_F(MappingSetsTest, TheFirstActivationOfASessionNeedsTheTotpCode) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account lisAdmin = createAccount(admin, "totp", {"lis-admin"});
  ApiResponse start = api_.post("/api/v1/me/totp", Json().set("password", lisAdmin.password).str(),
                                withBearer(lisAdmin.token));
  ASSERT_TRUE(start.ok()) << start.describe();
  const std::string secret = start.text("secret");
  remember("TOTP secret", secret);
  ApiResponse confirm =
      api_.post("/api/v1/me/totp/confirm", Json().set("code", totpCode(secret, unixNow())).str(),
                withBearer(lisAdmin.token));
  ASSERT_TRUE(confirm.ok()) << confirm.describe();
  waitForNextTotpStep();
  ApiResponse r;
  lisAdmin.token =
      login("default", lisAdmin.username, lisAdmin.password, totpCode(secret, unixNow()), &r);
  ASSERT_FALSE(lisAdmin.token.empty()) << r.describe();
  ASSERT_EQ(upload(lisAdmin.token, "panel", kHeader + "GLU,A,Glucose,mmol/L,1\n").status, 201);
  ASSERT_EQ(upload(lisAdmin.token, "panel", kHeader + "GLU,B,Glucose,mmol/L,1\n").status, 201);

  r = activateVersion(lisAdmin, "panel", 1,
                      Json().set("meaning", "approved").set("password", lisAdmin.password));
  EXPECT_EQ(r.status, 403) << r.describe();
  EXPECT_TRUE(r.flag("totp_required")) << r.describe();
  waitForNextTotpStep();
  r = activateVersion(lisAdmin, "panel", 1,
                      Json()
                          .set("meaning", "approved")
                          .set("password", lisAdmin.password)
                          .set("totp", totpCode(secret, unixNow())));
  ASSERT_EQ(r.status, 201) << r.describe();
  r = activateVersion(lisAdmin, "panel", 2,
                      Json().set("meaning", "approved").set("password", lisAdmin.password));
  EXPECT_EQ(r.status, 201) << "a later signature of the session needs the password only: "
                           << r.describe();
  ApiResponse refused = api_.get(
      "/api/v1/audit?action=signature.refused&actor=user:" + lisAdmin.username, withBearer(admin));
  EXPECT_EQ(itemsOf(refused).size(), 1u) << "the missing code is audited";
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

/// labgated started directly, so that the test can send it SIGHUP.
class HupEngine {
 public:
  HupEngine(std::string configPath, int httpPort, std::string dir)
      : configPath_(std::move(configPath)), httpPort_(httpPort), dir_(std::move(dir)) {}
  ~HupEngine() { stop(); }
  bool start() {
    Poco::File(dir_ + "/hup-cwd").createDirectories();
    child_ = std::make_unique<ChildProcess>(
        binDir() + "/labgated", std::vector<std::string>{"--config", configPath_},
        dir_ + "/hup.stdout", dir_ + "/hup.stderr", dir_ + "/hup-cwd");
    return waitUntil([&] { return child_->poll().has_value() || fetchHealth(httpPort_).ok(); },
                     30000ms, 100ms) &&
           !child_->poll();
  }
  void hup() { child_->signal(SIGHUP); }
  std::optional<int> stop() {
    if (!child_ || child_->poll()) return child_ ? child_->poll() : std::nullopt;
    child_->signal(SIGTERM);
    return child_->waitForExit(20000ms);
  }

 private:
  std::string configPath_;
  int httpPort_;
  std::string dir_;
  std::unique_ptr<ChildProcess> child_;
};

TEST_F(MappingSetsTest, AMappingFileIsStoredAsAVersionAndAChangedOneActivatedOnSighup) {
  const std::string file = tmp_->file("lab1 panel.csv");  // stored as set "lab1_panel"
  writeFile(file, kHeader + "GLU,FILE-V1,Glucose,mmol/L,1\n");
  config_.connectors[0].mappings = file;
  const std::string uploads = tmp_->file("uploads.csv");  // the fixture's upload connector
  writeFile(uploads, readFile(exportData("mappings-lcms.csv")));
  for (auto& c : config_.connectors) {
    if (c.name == "up1") c.mappings = uploads;
  }
  config_.write(configPath_);
  startLis();
  HupEngine engine(configPath_, config_.httpPort, tmp_->path());
  ASSERT_TRUE(engine.start()) << readFile(tmp_->path() + "/hup.stderr");
  const std::string admin = adminToken();

  ApiResponse r = api_.get("/api/v1/mapping-sets/lab1_panel", withBearer(admin));
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.number("active_version"), 1);
  auto activations = r.json->getArray("activations");
  ASSERT_TRUE(activations && activations->size() == 1);
  EXPECT_EQ(str(activations->getObject(0), "activated_by"), "configuration");
  const std::string first = newSampleId("MF");
  ASSERT_TRUE(sendAstmSample(astmPort(), first));
  EXPECT_EQ(codeAtLis(*lis_, first), "FILE-V1");

  // An unchanged file on SIGHUP: nothing new.
  engine.hup();
  ASSERT_TRUE(waitUntil(
      [&] {
        return storeQuery(config_.dataDir + "/labgate.db",
                          "SELECT count(*) FROM audit WHERE action = 'config.reloaded';")
                   .value_or("") == "1";
      },
      15000ms));
  r = api_.get("/api/v1/mapping-sets/lab1_panel", withBearer(admin));
  EXPECT_EQ(r.number("latest_version"), 1);

  // A changed file: version 2, activated by the configuration, used for the next message.
  // The set's version is activated in the store before the connector binds it; the reload's
  // audit event is written once every connector has swapped, so wait for that too.
  writeFile(file, kHeader + "GLU,FILE-V2,Glucose,mmol/L,1\n");
  engine.hup();
  ASSERT_TRUE(waitUntil(
      [&] {
        return storeQuery(config_.dataDir + "/labgate.db",
                          "SELECT count(*) FROM audit WHERE action = 'config.reloaded';")
                   .value_or("") == "2";
      },
      15000ms));
  EXPECT_EQ(api_.get("/api/v1/mapping-sets/lab1_panel", withBearer(admin)).number("active_version"),
            2);
  const std::string second = newSampleId("MF");
  ASSERT_TRUE(sendAstmSample(astmPort(), second));
  EXPECT_EQ(codeAtLis(*lis_, second), "FILE-V2");

  // Every connector's file broken: the log says that no connector was reloaded.
  writeFile(file, "not a mapping header\n");
  writeFile(uploads, "not a mapping header either\n");
  engine.hup();
  const std::string log = config_.dataDir + "/logs/labgated.log";
  EXPECT_TRUE(waitUntil(
      [&] {
        return readFile(log).find("reload failed: no connector was reloaded") != std::string::npos;
      },
      15000ms))
      << "the failed reload did not say that every connector failed";
  r = api_.get("/api/v1/mapping-sets/lab1_panel", withBearer(admin));
  EXPECT_EQ(r.number("latest_version"), 2) << "a broken file must not become a version";
  std::optional<int> code = engine.stop();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(storeQuery(config_.dataDir + "/labgate.db",
                       "SELECT group_concat(actor) FROM audit WHERE action = "
                       "'mapping_set.activated' AND subject = 'mapping-set:lab1_panel';")
                .value_or(""),
            "configuration,configuration");
}

/// What one `labgate` run printed.
struct Cli {
  int exitCode = -1;
  std::string out, err;
};

/// `labgate args` with `input` on stdin and XDG_CONFIG_HOME=`home` (where the session is kept).
Cli labgate(const std::vector<std::string>& args, const std::string& input,
            const std::string& home) {
  Poco::Pipe inPipe;
  Poco::Pipe outPipe;
  Poco::Pipe errPipe;
  Poco::Process::Env env{{"XDG_CONFIG_HOME", home}};
  Poco::ProcessHandle handle =
      Poco::Process::launch(binDir() + "/labgate", args, ".", &inPipe, &outPipe, &errPipe, env);
  Cli run;
  std::thread errReader([&] {
    Poco::PipeInputStream errStream(errPipe);
    Poco::StreamCopier::copyToString(errStream, run.err);
  });
  {
    Poco::PipeOutputStream in(inPipe);
    in << input;
    in.close();
  }
  Poco::PipeInputStream outStream(outPipe);
  Poco::StreamCopier::copyToString(outStream, run.out);
  errReader.join();
  run.exitCode = handle.wait();
  return run;
}

TEST_F(MappingSetsTest, CommandLineRoundTrip) {
  bindStoredSet();
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "lis", {"lis-admin"});
  const std::string home = tmp_->file("cli-home");
  Poco::File(home).createDirectories();
  const std::string server = "http://127.0.0.1:" + std::to_string(config_.httpPort);

  // Not logged in: exit 1. Usage errors: exit 2.
  EXPECT_EQ(labgate({"mappings", "list"}, "", home).exitCode, 1);
  EXPECT_EQ(labgate({"mappings", "show"}, "", home).exitCode, 2);
  EXPECT_EQ(labgate({"mappings", "diff", "panel", "x"}, "", home).exitCode, 2);
  EXPECT_EQ(labgate({"mappings", "list", "--comment", "x"}, "", home).exitCode, 2);
  EXPECT_EQ(labgate({"mappings", "dry-run", "panel", "1"}, "", home).exitCode, 2)
      << "--instrument is required";

  Cli r = labgate({"login", "--server", server, "--org", "default", "--user", lisAdmin.username},
                  lisAdmin.password + "\n", home);
  ASSERT_EQ(r.exitCode, 0) << r.err;

  const std::string good = tmp_->file("panel.csv");
  writeFile(good, kHeader + "GLU,CLI-V1,Glucose,mmol/L,1\nCREA,2160-0,Creatinine,mg/dL,2\n");
  r = labgate({"mappings", "import", "panel", good, "--comment", "from the CLI"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("stored version 1 of panel"), std::string::npos) << r.out;

  const std::string bad = tmp_->file("bad.csv");
  writeFile(bad, kHeader + "GLU,X,Glucose,mmol/L,1\nCREA,Y,Creatinine,mg/dL,1.5\n");
  r = labgate({"mappings", "import", "panel", bad}, "", home);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("line 3, column 5 (decimals)"), std::string::npos) << r.err;

  r = labgate({"mappings", "diff", "panel", "1"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("+ GLU -> CLI-V1"), std::string::npos) << r.out;

  // A GLU result held before any version was active: the dry-run shows version 1 would map it.
  const std::string held = newSampleId("MC");
  ASSERT_TRUE(sendGlucose(connectorPort("lab2"), held));
  ASSERT_FALSE(sampleRowId(lisAdmin.token, held).empty());
  r = labgate({"mappings", "dry-run", "panel", "1", "--instrument", "tq-lab2", "--last", "5"}, "",
              home);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("newly_mapped: 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("would_release: 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nothing was written"), std::string::npos) << r.out;

  r = labgate({"mappings", "activate", "panel", "1", "--reason", "CLI test"},
              lisAdmin.password + "\n", home);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Electronically signed (approved)"), std::string::npos) << r.out;
  r = labgate({"mappings", "activate", "panel", "1"}, lisAdmin.password + "\n", home);
  EXPECT_EQ(r.exitCode, 1) << "already active";

  r = labgate({"mappings", "export", "panel"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, readFile(good));

  r = labgate({"mappings", "list", "--json"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("\"active_version\":1"), std::string::npos) << r.out;
  r = labgate({"mappings", "show", "panel"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("from the CLI"), std::string::npos) << r.out;

  const std::string sample = newSampleId("MC");
  ASSERT_TRUE(sendGlucose(connectorPort("lab2"), sample));
  EXPECT_EQ(codeAtLis(*lis_, sample), "CLI-V1");
  EXPECT_EQ(codeAtLis(*lis_, held), "CLI-V1") << "the held result was released by the activation";
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(MappingSetsTest, BothMappingKeysOnOneConnectorAreRefusedNamingBoth) {
  config_.connectors[0].extra["mapping_set"] = "panel";
  config_.write(configPath_);
  ProgramRun run = runProgram(binDir() + "/labgated", {"--config", configPath_, "--check-config"},
                              30000ms, tmp_->path());
  ASSERT_TRUE(run.finished);
  EXPECT_NE(run.exitCode, 0);
  const std::string text = run.out + run.err;
  EXPECT_NE(text.find("connector.lab1.mappings"), std::string::npos) << text;
  EXPECT_NE(text.find("connector.lab1.mapping_set"), std::string::npos) << text;

  // mapping_set alone passes the check (the set itself is the store's: the engine binds it).
  config_.omit("connector.lab1.mappings");
  config_.write(configPath_);
  run = runProgram(binDir() + "/labgated", {"--config", configPath_, "--check-config"}, 30000ms,
                   tmp_->path());
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 0) << run.out << run.err;
}

}  // namespace
}  // namespace labgate::it::accounts
