// QA review and release with 21 CFR Part 11 electronic signatures (issue 13) through the real
// labgated: the batches API and its 400s, the signing policy (approval before review, one person
// as reviewer and approver, a wrong password counted and audited), an approved result at a test
// LIS with the §11.50 manifestation (OBX-16, NTE), and §11.70 verification: online, offline with
// the openssl CLI and `labgate verify-signature`, and failing after a direct database edit of a
// signed value and after a signature is copied to another batch.
//
// Test output rule: failures print status and problem detail (ApiResponse::describe), never a
// password or token.
#include <Poco/Base64Decoder.h>

#include <sstream>

#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

std::string base64Decoded(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  std::string out((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
  return out;
}

class SignaturesTest : public AccountsTest {
 protected:
  /// Runs `statement` on the engine's database through a connection of the test's own: what an
  /// attacker with file access could do.
  void sql(const std::string& statement) {
    storeExecute(config_.dataDir + "/labgate.db", {statement});  // waits up to 10 s for the engine
  }

  /// Sends one ASTM message through lab1 with a mapped and an unmapped (held) result; the id of
  /// its batch as `token` sees it (0 when it never appears).
  int64_t heldBatch(const std::string& token, const std::string& sampleId) {
    AstmInstrument instrument(astmPort());
    Transfer t = instrument.sendSession(buildAstmMessage(
        {{sampleId, {{"GLU", "5.1", "mmol/L"}, {"ZZNOTMAPPED", "12", "U/L"}}, {}}}));
    EXPECT_TRUE(t.complete) << "the instrument's message was not acknowledged";
    const std::string row = sampleRowId(token, sampleId);
    if (row.empty()) return 0;
    ApiResponse sample = api_.get("/api/v1/samples/" + row, withBearer(token));
    return sample.number("message_id", 0);
  }

  ApiResponse batch(const std::string& token, int64_t id) {
    return api_.get("/api/v1/batches/" + std::to_string(id), withBearer(token));
  }

  ApiResponse sign(const Account& who, int64_t batchId, const std::string& meaning,
                   const std::string& recordSha256, const std::string& reason = "",
                   const std::string& password = "", const std::string& totp = "") {
    Json body;
    body.set("subject", "batch:" + std::to_string(batchId))
        .set("meaning", meaning)
        .set("record_sha256", recordSha256)
        .set("password", password.empty() ? who.password : password);
    if (!reason.empty()) body.set("reason", reason);
    if (!totp.empty()) body.set("totp", totp);
    return api_.post("/api/v1/signatures", body.str(), withBearer(who.token));
  }

  /// The id of the held (unmapped) result of a batch answer.
  static int64_t heldResultId(const ApiResponse& b) {
    auto samples = b.json->getArray("samples");
    for (size_t i = 0; samples && i < samples->size(); ++i) {
      auto results = samples->getObject(static_cast<unsigned>(i))->getArray("results");
      for (size_t j = 0; results && j < results->size(); ++j) {
        auto r = results->getObject(static_cast<unsigned>(j));
        if (r->optValue<bool>("waiting", false)) return r->getValue<int64_t>("id");
      }
    }
    return 0;
  }

  /// Reviewed by `reviewer`: the signature's id (0 on failure).
  int64_t review(const Account& reviewer, int64_t batchId) {
    ApiResponse b = batch(reviewer.token, batchId);
    ApiResponse r = sign(reviewer, batchId, "reviewed", b.text("record_sha256"));
    EXPECT_EQ(r.status, 201) << "review: " << r.describe();
    return r.number("id", 0);
  }
};

TEST_F(SignaturesTest, BatchesListFiltersAndRefusesUnknownQueries) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account viewer = createAccount(admin, "qa", {"qa-reviewer"});
  const int64_t held = heldBatch(viewer.token, newSampleId("BQ"));
  ASSERT_GT(held, 0);

  auto idsIn = [&](const std::string& query) {
    ApiResponse r = api_.get("/api/v1/batches" + query, withBearer(viewer.token));
    EXPECT_EQ(r.status, 200) << query << ": " << r.describe();
    return idsOf(r);
  };
  const std::string id = std::to_string(held);
  EXPECT_TRUE(idsIn("").count(id));
  EXPECT_TRUE(idsIn("?state=held").count(id));
  EXPECT_TRUE(idsIn("?state=HOLD").count(id)) << "state names are case-insensitive";
  EXPECT_TRUE(idsIn("?state=Held&instrument=tq-01").count(id));
  EXPECT_FALSE(idsIn("?state=released").count(id));
  EXPECT_FALSE(idsIn("?state=held&instrument=other").count(id));
  EXPECT_FALSE(idsIn("?state=held&from=2999-01-01T00:00:00Z").count(id));

  for (const char* bad :
       {"?state=waiting", "?colour=red", "?from=yesterday", "?limit=0", "?instrument="}) {
    ApiResponse r = api_.get(std::string("/api/v1/batches") + bad, withBearer(viewer.token));
    EXPECT_EQ(r.status, 400) << bad << ": " << r.describe();
    EXPECT_NE(r.contentType().find("application/problem+json"), std::string::npos) << bad;
  }

  ApiResponse b = batch(viewer.token, held);
  ASSERT_EQ(b.status, 200) << b.describe();
  EXPECT_EQ(b.text("state"), "held");
  EXPECT_EQ(b.text("instrument"), "tq-01");
  EXPECT_EQ(b.text("record_sha256").size(), 64u);
  EXPECT_EQ(b.number("waiting"), 1);
  auto samples = b.json->getArray("samples");
  ASSERT_TRUE(samples && samples->size() == 1);
  auto results = samples->getObject(0)->getArray("results");
  ASSERT_TRUE(results && results->size() == 2);
  auto heldResult = results->getObject(1);
  EXPECT_EQ(str(heldResult, "disposition"), "hold");
  auto findings = heldResult->getArray("findings");
  ASSERT_TRUE(findings && findings->size() >= 1);
  EXPECT_EQ(str(findings->getObject(0), "rule"), "mapping.unmapped");
  for (const char* member : {"severity", "measured", "limit", "unit", "action"}) {
    EXPECT_TRUE(findings->getObject(0)->has(member)) << member;
  }

  // /metrics: the held result waits at instrument tq-01.
  ApiResponse metrics = ApiClient(config_.httpPort).get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("labgate_qa_waiting_results{org=\"default\",instrument=\"tq-01\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("labgate_qa_oldest_waiting_age_seconds{org=\"default\",instrument="
                              "\"tq-01\"}"),
            std::string::npos);

  EXPECT_EQ(batch(viewer.token, 999999).status, 404);
  // A person without results.read sees no batch.
  const Account auditor = createAccount(admin, "aud", {"auditor"});
  EXPECT_EQ(batch(auditor.token, held).status, 403);
}

TEST_F(SignaturesTest, ApprovalNeedsReviewByAnotherPersonAndReleasesWithManifestation) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account both = createAccount(admin, "both", {"qa-reviewer", "qa-approver"});
  const Account approver = createAccount(admin, "appr", {"qa-approver"});
  const std::string sampleId = newSampleId("SG");
  const int64_t held = heldBatch(both.token, sampleId);
  ASSERT_GT(held, 0);
  ASSERT_TRUE(waitForSample(sampleId)) << "the released part never reached the LIS";
  ASSERT_EQ(lis_->messages().size(), 1u);

  // Approval before review: refused, naming the rule.
  ApiResponse b = batch(approver.token, held);
  const std::string beforeReview = b.text("record_sha256");
  ApiResponse early = sign(approver, held, "approved", b.text("record_sha256"));
  EXPECT_EQ(early.status, 409) << early.describe();
  EXPECT_NE(early.describe().find("review before approval"), std::string::npos) << early.describe();
  // §11.10(f): a step out of order is refused and logged.
  ApiResponse outOfOrder = api_.get(
      "/api/v1/audit?action=signature.refused&actor=user:" + approver.username, withBearer(admin));
  ASSERT_EQ(itemsOf(outOfOrder).size(), 1u) << outOfOrder.body;
  Poco::JSON::Object::Ptr refusal = itemsOf(outOfOrder)[0]->getObject("detail");
  EXPECT_EQ(str(refusal, "reason"), "policy");
  EXPECT_EQ(str(refusal, "status"), "409");
  EXPECT_NE(str(refusal, "detail").find("review before approval"), std::string::npos)
      << str(refusal, "detail");

  // A wrong password: refused, counted towards the lockout and audited, never the password.
  const std::string wrong = strongPassword();
  remember("wrong password", wrong);
  ApiResponse bad = sign(both, held, "reviewed", b.text("record_sha256"), "", wrong);
  EXPECT_EQ(bad.status, 403) << bad.describe();
  EXPECT_EQ(storeQuery(config_.dataDir + "/labgate.db",
                       "SELECT failed_attempts FROM users WHERE id = " + std::to_string(both.id))
                .value_or("?"),
            "1")
      << "the failed signing counts towards the lockout";
  ApiResponse audit = api_.get("/api/v1/audit?action=signature.refused&actor=user:" + both.username,
                               withBearer(admin));
  ASSERT_EQ(audit.status, 200) << audit.describe();
  EXPECT_EQ(itemsOf(audit).size(), 1u) << "one signature.refused event";
  EXPECT_EQ(audit.body.find(wrong), std::string::npos) << "the audit holds the password";

  // Reviewed; then the same person may not approve.
  ASSERT_GT(review(both, held), 0);
  b = batch(both.token, held);
  EXPECT_EQ(b.text("state"), "held") << "reviewed is not released";
  // The review queue's list says what was signed so far.
  ApiResponse queue = api_.get("/api/v1/batches?state=held", withBearer(both.token));
  ASSERT_EQ(queue.status, 200) << queue.describe();
  ASSERT_FALSE(itemsOf(queue).empty());
  Poco::JSON::Array::Ptr signedSoFar = itemsOf(queue).front()->getArray("signed");
  ASSERT_TRUE(signedSoFar) << queue.body;
  ASSERT_EQ(signedSoFar->size(), 1u) << queue.body;
  EXPECT_EQ(signedSoFar->getElement<std::string>(0), "reviewed");
  ApiResponse self = sign(both, held, "approved", b.text("record_sha256"));
  EXPECT_EQ(self.status, 409) << self.describe();
  EXPECT_NE(self.describe().find("distinct reviewer and approver"), std::string::npos)
      << self.describe();

  // A stale record (the version before the review) is refused.
  ApiResponse stale = sign(approver, held, "approved", beforeReview);
  EXPECT_EQ(stale.status, 409) << stale.describe();

  // Another person approves: released at once, with the manifestation.
  ApiResponse approved = sign(approver, held, "approved", b.text("record_sha256"));
  ASSERT_EQ(approved.status, 201) << approved.describe();
  EXPECT_EQ(approved.text("meaning"), "approved");
  EXPECT_EQ(approved.text("signer"), approver.username);
  EXPECT_EQ(approved.text("printed_name"), "Test " + approver.username);
  const std::string signedAt = approved.text("signed_at");
  EXPECT_FALSE(signedAt.empty());
  ASSERT_TRUE(lis_->waitFor([](const auto& m) { return m.size() >= 2; }, 30000ms))
      << "the approved result never reached the LIS";
  const std::string oru = lis_->messages().at(1);
  EXPECT_EQ(obrSampleIds(oru), std::vector<std::string>{sampleId});
  auto obx = segmentsNamed(oru, "OBX");
  ASSERT_EQ(obx.size(), 1u) << "only the approved result is sent";
  EXPECT_EQ(component(hl7Field(obx[0], 3), 1), "ZZNOTMAPPED");
  EXPECT_EQ(component(hl7Field(obx[0], 16), 1), approver.username) << "OBX-16";
  EXPECT_EQ(component(hl7Field(obx[0], 16), 2), "Test " + approver.username) << "OBX-16";
  auto nte = segmentsNamed(oru, "NTE");
  ASSERT_EQ(nte.size(), 1u);
  EXPECT_EQ(hl7Field(nte[0], 3),
            "Electronically signed (approved) by Test " + approver.username + " " + signedAt);
  EXPECT_LT(oru.find("OBX|"), oru.find("NTE|")) << "the NTE follows its OBX";

  b = batch(approver.token, held);
  EXPECT_EQ(b.text("state"), "released");
  EXPECT_EQ(b.json->getArray("signatures")->size(), 2u);
  // Nothing waits any more: a further approval has nothing to cover.
  EXPECT_EQ(sign(approver, held, "approved", b.text("record_sha256")).status, 409);
}

TEST_F(SignaturesTest, RejectionNeedsAReasonAndSendsNothing) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account approver = createAccount(admin, "rej", {"qa-approver"});
  const std::string sampleId = newSampleId("RJ");
  const int64_t held = heldBatch(approver.token, sampleId);
  ASSERT_GT(held, 0);
  ASSERT_TRUE(waitForSample(sampleId));
  ApiResponse b = batch(approver.token, held);
  ApiResponse noReason = sign(approver, held, "rejected", b.text("record_sha256"));
  EXPECT_EQ(noReason.status, 422) << noReason.describe();
  ApiResponse rejected =
      sign(approver, held, "rejected", b.text("record_sha256"), "carry-over suspected");
  ASSERT_EQ(rejected.status, 201) << rejected.describe();
  EXPECT_EQ(batch(approver.token, held).text("state"), "rejected");
  // A sentinel afterwards: once it arrived, nothing for the rejected result was queued before.
  const std::string after = newSampleId("RZ");
  ASSERT_TRUE(sendAstmSample(astmPort(), after));
  ASSERT_TRUE(waitForSample(after));
  EXPECT_EQ(timesReceived(lis_->messages(), sampleId), 1u) << "the rejected result was sent";
  // A reviewer may not sign what needs results.approve.
  const Account reviewer = createAccount(admin, "rv", {"qa-reviewer"});
  EXPECT_EQ(sign(reviewer, held, "rejected", b.text("record_sha256"), "x").status, 403);
  EXPECT_EQ(sign(reviewer, held, "signed-off", b.text("record_sha256")).status, 422)
      << "an unknown meaning";
}

TEST_F(SignaturesTest, VerificationOnlineOfflineAndAfterTampering) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account reviewer = createAccount(admin, "ver", {"qa-reviewer"});
  const int64_t first = heldBatch(reviewer.token, newSampleId("VA"));
  const int64_t second = heldBatch(reviewer.token, newSampleId("VB"));
  ASSERT_GT(first, 0);
  ASSERT_GT(second, 0);
  const int64_t sigId = review(reviewer, first);
  ASSERT_GT(sigId, 0);
  const std::string path = "/api/v1/signatures/" + std::to_string(sigId);

  ApiResponse ok = api_.get(path + "/verification", withBearer(reviewer.token));
  ASSERT_EQ(ok.status, 200) << ok.describe();
  EXPECT_TRUE(ok.flag("valid")) << ok.text("reason");

  // Offline: the signed bytes, the signature and the public key, checked by openssl itself.
  ApiResponse sig = api_.get(path, withBearer(reviewer.token));
  ASSERT_EQ(sig.status, 200) << sig.describe();
  ApiResponse key = api_.get("/api/v1/signing-key", withBearer(reviewer.token));
  ASSERT_EQ(key.status, 200) << key.describe();
  EXPECT_NE(key.body.find("BEGIN PUBLIC KEY"), std::string::npos);
  const std::string signedBytes = base64Decoded(sig.text("signed_bytes"));
  EXPECT_NE(signedBytes.find("\"subject\":\"batch:" + std::to_string(first) + "\""),
            std::string::npos);
  writeFile(tmp_->file("key.pem"), key.body);
  writeFile(tmp_->file("signed.bin"), signedBytes);
  writeFile(tmp_->file("sig.bin"), base64Decoded(sig.text("signature")));
  writeFile(tmp_->file("signature.json"), sig.body);
  ProgramRun verified =
      runProgram("/usr/bin/openssl",
                 {"pkeyutl", "-verify", "-pubin", "-inkey", tmp_->file("key.pem"), "-rawin", "-in",
                  tmp_->file("signed.bin"), "-sigfile", tmp_->file("sig.bin")},
                 30000ms, tmp_->path());
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
  std::string forged = signedBytes;
  forged.replace(forged.find("reviewed"), 8, "approved");
  writeFile(tmp_->file("forged.bin"), forged);
  ProgramRun refused =
      runProgram("/usr/bin/openssl",
                 {"pkeyutl", "-verify", "-pubin", "-inkey", tmp_->file("key.pem"), "-rawin", "-in",
                  tmp_->file("forged.bin"), "-sigfile", tmp_->file("sig.bin")},
                 30000ms, tmp_->path());
  EXPECT_NE(refused.exitCode, 0) << "openssl verified altered bytes";

  // labgate verify-signature, offline, on the same files.
  ProgramRun cli = runProgram(
      binDir() + "/labgate",
      {"verify-signature", tmp_->file("signature.json"), "--public-key", tmp_->file("key.pem")},
      30000ms, tmp_->path());
  EXPECT_EQ(cli.exitCode, 0) << cli.out << cli.err;
  std::string altered = sig.body;
  altered.replace(altered.find("\"reviewed\""), 10, "\"approved\"");
  writeFile(tmp_->file("altered.json"), altered);
  cli = runProgram(
      binDir() + "/labgate",
      {"verify-signature", tmp_->file("altered.json"), "--public-key", tmp_->file("key.pem")},
      30000ms, tmp_->path());
  EXPECT_EQ(cli.exitCode, 1) << "a shown meaning that differs from the signed one: " << cli.out
                             << cli.err;

  // A signature copied to another batch: fails, and says so.
  ASSERT_NO_THROW(
      sql("INSERT INTO signatures (org_id, message_id, user_id, username, "
          "printed_name, session_id, meaning, reason, signed_at, result_ids, "
          "record_sha256, signed_bytes, signature, key_id) SELECT org_id, " +
          std::to_string(second) +
          ", user_id, username, printed_name, session_id, meaning, reason, "
          "signed_at, result_ids, record_sha256, signed_bytes, signature, key_id "
          "FROM signatures WHERE id = " +
          std::to_string(sigId)));
  const std::string copyId =
      storeQuery(config_.dataDir + "/labgate.db", "SELECT MAX(id) FROM signatures").value_or("");
  ApiResponse copy =
      api_.get("/api/v1/signatures/" + copyId + "/verification", withBearer(reviewer.token));
  ASSERT_EQ(copy.status, 200) << copy.describe();
  EXPECT_FALSE(copy.flag("valid", true));
  EXPECT_NE(copy.text("reason").find("copied to another batch"), std::string::npos)
      << copy.text("reason");

  // A signed value edited directly in the database: fails, naming the result.
  ApiResponse b = batch(reviewer.token, first);
  const int64_t resultId = heldResultId(b);
  ASSERT_GT(resultId, 0);
  ASSERT_NO_THROW(sql("UPDATE results SET value = '13' WHERE id = " + std::to_string(resultId)));
  ApiResponse broken = api_.get(path + "/verification", withBearer(reviewer.token));
  ASSERT_EQ(broken.status, 200) << broken.describe();
  EXPECT_FALSE(broken.flag("valid", true));
  EXPECT_NE(broken.text("reason").find("result " + std::to_string(resultId) + " differs"),
            std::string::npos)
      << broken.text("reason");
}

// §11.200: the first signing of a session needs both components (password and TOTP code) of a
// user who has a second factor; later signings in the same session the password.
TEST_F(SignaturesTest, FirstSigningOfASessionNeedsTheTotpCodeLaterOnesThePassword) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account reviewer = createAccount(admin, "totp", {"qa-reviewer"});
  ApiResponse start = api_.post("/api/v1/me/totp", Json().set("password", reviewer.password).str(),
                                withBearer(reviewer.token));
  ASSERT_TRUE(start.ok()) << start.describe();
  const std::string secret = start.text("secret");
  remember("TOTP secret", secret);
  ApiResponse confirm =
      api_.post("/api/v1/me/totp/confirm", Json().set("code", totpCode(secret, unixNow())).str(),
                withBearer(reviewer.token));
  ASSERT_TRUE(confirm.ok()) << confirm.describe();
  waitForNextTotpStep();
  ApiResponse r;
  reviewer.token =
      login("default", reviewer.username, reviewer.password, totpCode(secret, unixNow()), &r);
  ASSERT_FALSE(reviewer.token.empty()) << r.describe();
  const int64_t held = heldBatch(reviewer.token, newSampleId("TT"));
  ASSERT_GT(held, 0);

  ApiResponse noCode =
      sign(reviewer, held, "reviewed", batch(reviewer.token, held).text("record_sha256"));
  EXPECT_EQ(noCode.status, 403) << noCode.describe();
  EXPECT_TRUE(noCode.flag("totp_required")) << noCode.describe();

  waitForNextTotpStep();
  const std::string code = totpCode(secret, unixNow());
  const std::string wrong = code == "123456" ? "654321" : "123456";
  ApiResponse badCode = sign(reviewer, held, "reviewed",
                             batch(reviewer.token, held).text("record_sha256"), "", "", wrong);
  EXPECT_EQ(badCode.status, 403) << badCode.describe();
  ApiResponse first = sign(reviewer, held, "reviewed",
                           batch(reviewer.token, held).text("record_sha256"), "", "", code);
  ASSERT_EQ(first.status, 201) << first.describe();
  ApiResponse later =
      sign(reviewer, held, "reviewed", batch(reviewer.token, held).text("record_sha256"));
  EXPECT_EQ(later.status, 201) << "a later signing of the session needs the password only: "
                               << later.describe();
  ApiResponse refused = api_.get(
      "/api/v1/audit?action=signature.refused&actor=user:" + reviewer.username, withBearer(admin));
  EXPECT_EQ(itemsOf(refused).size(), 2u) << "the missing and the wrong code are audited";
}

TEST_F(SignaturesTest, ApprovingAResultWithAnErrorFindingNeedsAReason) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account reviewer = createAccount(admin, "erv", {"qa-reviewer"});
  const Account approver = createAccount(admin, "eap", {"qa-approver"});
  const int64_t held = heldBatch(reviewer.token, newSampleId("ER"));
  ASSERT_GT(held, 0);
  // The held result's finding made an error (an unmapped code is a warning).
  ASSERT_NO_THROW(
      sql("UPDATE findings SET severity = 'error' WHERE result_id IN (SELECT id FROM "
          "results WHERE message_id = " +
          std::to_string(held) + ")"));
  ASSERT_GT(review(reviewer, held), 0);
  const std::string sha = batch(approver.token, held).text("record_sha256");
  ApiResponse bare = sign(approver, held, "approved", sha);
  EXPECT_EQ(bare.status, 422) << bare.describe();
  EXPECT_NE(bare.describe().find("error finding"), std::string::npos) << bare.describe();
  ApiResponse reasoned = sign(approver, held, "approved", sha, "checked against the raw data");
  EXPECT_EQ(reasoned.status, 201) << reasoned.describe();
  EXPECT_EQ(reasoned.text("reason"), "checked against the raw data");
}

// signatures.send_rejected = cancelled: a rejected result goes to the LIS with OBX-11 X; a re-run
// request needs a reason, marks the result and tells the LIS nothing.
TEST_F(SignaturesTest, RejectedSentAsCancelledAndRerunRequestsSendNothing) {
  config_.set("signatures.send_rejected", "cancelled");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account approver = createAccount(admin, "cx", {"qa-approver"});
  const std::string rejectedSample = newSampleId("CX");
  const int64_t rejected = heldBatch(approver.token, rejectedSample);
  const std::string rerunSample = newSampleId("RR");
  const int64_t rerun = heldBatch(approver.token, rerunSample);
  ASSERT_GT(rejected, 0);
  ASSERT_GT(rerun, 0);
  ASSERT_TRUE(lis_->waitFor([](const auto& m) { return m.size() >= 2; }, 30000ms));

  ApiResponse r = sign(approver, rejected, "rejected",
                       batch(approver.token, rejected).text("record_sha256"), "interference");
  ASSERT_EQ(r.status, 201) << r.describe();
  ASSERT_TRUE(lis_->waitFor([](const auto& m) { return m.size() >= 3; }, 30000ms))
      << "the rejected result was not sent as cancelled";
  const std::string oru = lis_->messages().at(2);
  auto obx = segmentsNamed(oru, "OBX");
  ASSERT_EQ(obx.size(), 1u);
  EXPECT_EQ(hl7Field(obx[0], 11), "X") << "OBX-11 of a rejected result";
  EXPECT_NE(oru.find("Electronically signed (rejected) by Test " + approver.username),
            std::string::npos);

  const std::string sha = batch(approver.token, rerun).text("record_sha256");
  EXPECT_EQ(sign(approver, rerun, "rerun-requested", sha).status, 422) << "no reason";
  ApiResponse asked = sign(approver, rerun, "rerun-requested", sha, "carry-over");
  ASSERT_EQ(asked.status, 201) << asked.describe();
  ApiResponse after = batch(approver.token, rerun);
  EXPECT_EQ(after.number("waiting"), 0);
  const std::string sentinel = newSampleId("RS");
  ASSERT_TRUE(sendAstmSample(astmPort(), sentinel));
  ASSERT_TRUE(waitForSample(sentinel));
  EXPECT_EQ(timesReceived(lis_->messages(), rerunSample), 1u) << "a re-run request was sent";
}

// Organisations are isolated: another organisation's batch and signature answer 404, its list
// is empty, and its people cannot sign the batch.
TEST_F(SignaturesTest, AnotherOrganisationsBatchIsNotFound) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account reviewer = createAccount(admin, "own", {"qa-reviewer"});
  const int64_t held = heldBatch(reviewer.token, newSampleId("OR"));
  ASSERT_GT(held, 0);
  const int64_t sigId = review(reviewer, held);
  ASSERT_GT(sigId, 0);

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

  EXPECT_EQ(batch(boss.token, held).status, 404);
  EXPECT_EQ(api_.get("/api/v1/signatures/" + std::to_string(sigId), withBearer(boss.token)).status,
            404);
  EXPECT_EQ(api_.get("/api/v1/signatures/" + std::to_string(sigId) + "/verification",
                     withBearer(boss.token))
                .status,
            404);
  ApiResponse list = api_.get("/api/v1/batches", withBearer(boss.token));
  ASSERT_EQ(list.status, 200) << list.describe();
  EXPECT_FALSE(idsOf(list).count(std::to_string(held)));
  ApiResponse foreign =
      sign(boss, held, "reviewed", batch(reviewer.token, held).text("record_sha256"));
  EXPECT_EQ(foreign.status, 404) << foreign.describe();
}

}  // namespace
}  // namespace labgate::it::accounts
