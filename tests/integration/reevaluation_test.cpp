// Held results evaluated again (issue 14) through the real labgated: a result held for an
// unmapped code reaches a test LIS after the mapping is fixed (file + SIGHUP) and the batch is
// evaluated again; a result held by the rules stays held; a signed batch is never changed; the
// unmapped finding names the code; GET /api/v1/unmapped-codes counts; the findings replaced are
// kept; a dry-run with a candidate mapping set reports exactly the changes of a known batch and
// writes nothing.
//
// Test output rule: failures print status and problem detail (ApiResponse::describe), never a
// password or token.
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include <thread>

#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

constexpr const char* kHeader = "instrument_code,lis_code,lis_name,units,decimals\n";

/// Rules that hold an implausible value (above 500) and nothing else: no peaks, curve or QC in an
/// ASTM message, a measuring range configured, no critical limits required.
constexpr const char* kRules =
    R"({"version": "reeval-1", "checks": {"peaks": false, "calibration": false, "qc": false,
        "diagnostics": false, "trends": false, "autoverify": true, "carryover": false},
        "autoverify": {"require_critical_limits": false},
        "limits": {"lloq": 0, "uloq": 100000, "absurd_high": 500}})";

class ReevaluationTest : public AccountsTest {
 protected:
  void SetUp() override {
    AccountsTest::SetUp();
    mappings_ = tmp_->file("lab1-mappings.csv");
    config_.connectors.at(0).mappings = mappings_;
  }

  void useRules() {
    const std::string rules = tmp_->file("lab1-rules.json");
    writeFile(rules, kRules);
    config_.connectors.at(0).extra["rules"] = rules;
  }

  /// Sends one ASTM message through lab1; the id of its batch as `token` sees it (0: not stored).
  int64_t send(const std::string& token, const TestSample& sample) {
    AstmInstrument instrument(astmPort());
    Transfer t = instrument.sendSession(buildAstmMessage({sample}));
    EXPECT_TRUE(t.complete) << "the instrument's message was not acknowledged";
    const std::string row = sampleRowId(token, sample.sampleId);
    if (row.empty()) return 0;
    return api_.get("/api/v1/samples/" + row, withBearer(token)).number("message_id", 0);
  }

  ApiResponse batch(const std::string& token, int64_t id) {
    return api_.get("/api/v1/batches/" + std::to_string(id), withBearer(token));
  }

  /// The results of a batch answer by instrument code.
  static std::map<std::string, Poco::JSON::Object::Ptr> resultsByCode(const ApiResponse& b) {
    std::map<std::string, Poco::JSON::Object::Ptr> out;
    auto samples = b.json ? b.json->getArray("samples") : nullptr;
    for (size_t i = 0; samples && i < samples->size(); ++i) {
      auto results = samples->getObject(static_cast<unsigned>(i))->getArray("results");
      for (size_t j = 0; results && j < results->size(); ++j) {
        auto r = results->getObject(static_cast<unsigned>(j));
        out[str(r, "instrument_code")] = r;
      }
    }
    return out;
  }

  ApiResponse reevaluate(const std::string& token, int64_t id, const Json& body) {
    return api_.post("/api/v1/batches/" + std::to_string(id) + "/reevaluation", body.str(),
                     withBearer(token));
  }

  /// The re-evaluation outcome's entry of the result with `code`.
  static Poco::JSON::Object::Ptr outcomeOf(const ApiResponse& r, const std::string& code) {
    auto results = r.json ? r.json->getArray("results") : nullptr;
    for (size_t i = 0; results && i < results->size(); ++i) {
      auto o = results->getObject(static_cast<unsigned>(i));
      if (str(o, "instrument_code") == code) return o;
    }
    return nullptr;
  }

  /// The OBX codes the LIS received for `sampleId`, over every message of `messages`.
  static std::vector<std::string> codesIn(const std::vector<std::string>& messages,
                                          const std::string& sampleId) {
    std::vector<std::string> out;
    for (const std::string& m : messages) {
      if (m.find(sampleId) == std::string::npos) continue;
      for (const Observation& o : observations(m)) out.push_back(o.code);
    }
    return out;
  }
  std::vector<std::string> codesAtLis(const std::string& sampleId) {
    return codesIn(lis_->messages(), sampleId);
  }

  Poco::JSON::Object::Ptr unmappedCode(const std::string& token, const std::string& code) {
    ApiResponse r = api_.get("/api/v1/unmapped-codes?instrument=tq-01", withBearer(token));
    EXPECT_EQ(r.status, 200) << r.describe();
    for (const auto& o : itemsOf(r)) {
      if (str(o, "code") == code) return o;
    }
    return nullptr;
  }

  std::string mappings_;
};

TEST_F(ReevaluationTest, HeldForAnUnmappedCodeReachesTheLisAfterTheMappingIsFixed) {
  writeFile(mappings_, std::string(kHeader) + "GLU,2345-7,Glucose,mmol/L,1\n");
  useRules();
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "lisadm", {"lis-admin"});
  const Account reviewer = createAccount(admin, "qa", {"qa-reviewer"});

  // A: GLU released, ZZNEW held (unmapped only). B: GLU held by the rules (implausible), ZZNEW
  // held (unmapped only). C: ZZNEW held, then signed "reviewed".
  const std::string a = newSampleId("RA"), b = newSampleId("RB"), c = newSampleId("RC");
  const int64_t batchA =
      send(lisAdmin.token, {a, {{"GLU", "5.14", "mmol/L"}, {"ZZNEW", "12", "U/L"}}, {}});
  const int64_t batchB =
      send(lisAdmin.token, {b, {{"GLU", "900", "mmol/L"}, {"ZZNEW", "3", "U/L"}}, {}});
  const int64_t batchC = send(lisAdmin.token, {c, {{"ZZNEW", "7", "U/L"}}, {}});
  ASSERT_GT(batchA, 0);
  ASSERT_GT(batchB, 0);
  ASSERT_GT(batchC, 0);
  ASSERT_TRUE(waitForSample(a)) << "the released GLU of A did not reach the LIS";
  EXPECT_EQ(codesAtLis(a), std::vector<std::string>{"2345-7"});

  // The unmapped finding names the code.
  auto before = resultsByCode(batch(lisAdmin.token, batchA));
  ASSERT_TRUE(before.count("ZZNEW"));
  EXPECT_EQ(str(before["ZZNEW"], "disposition"), "hold");
  auto findings = before["ZZNEW"]->getArray("findings");
  ASSERT_TRUE(findings && findings->size() == 1);
  EXPECT_EQ(str(findings->getObject(0), "message"), "no mapping for instrument code \"ZZNEW\"");
  auto glu = resultsByCode(batch(lisAdmin.token, batchB))["GLU"];
  ASSERT_TRUE(glu);
  EXPECT_EQ(str(glu, "disposition"), "hold") << "the rules should hold GLU 900 (absurd_high 500)";

  // C is reviewed: a signed batch.
  ApiResponse bc = batch(reviewer.token, batchC);
  ApiResponse signedC = api_.post("/api/v1/signatures",
                                  Json()
                                      .set("subject", "batch:" + std::to_string(batchC))
                                      .set("meaning", "reviewed")
                                      .set("record_sha256", bc.text("record_sha256"))
                                      .set("password", reviewer.password)
                                      .str(),
                                  withBearer(reviewer.token));
  ASSERT_EQ(signedC.status, 201) << signedC.describe();

  // Unmapped codes: three results arrived with ZZNEW, two wait (C has a QA decision).
  auto counted = unmappedCode(lisAdmin.token, "ZZNEW");
  ASSERT_TRUE(counted) << "ZZNEW is not listed as unmapped";
  EXPECT_EQ(str(counted, "instrument"), "tq-01");
  EXPECT_EQ(counted->getValue<int64_t>("results"), 3);
  EXPECT_EQ(counted->getValue<int64_t>("waiting"), 2);
  EXPECT_FALSE(str(counted, "first_seen").empty());
  EXPECT_LE(str(counted, "first_seen"), str(counted, "last_seen"));
  EXPECT_FALSE(unmappedCode(lisAdmin.token, "GLU")) << "a mapped code is listed as unmapped";

  // Permission rules.manage; a reason is required; another organisation's batch is 404.
  EXPECT_EQ(reevaluate(reviewer.token, batchA, Json().set("reason", "x")).status, 403);
  ApiResponse noReason = reevaluate(lisAdmin.token, batchA, Json());
  EXPECT_EQ(noReason.status, 422) << noReason.describe();
  EXPECT_EQ(
      reevaluate(lisAdmin.token, batchA, Json().set("reason", "x").set("colour", "red")).status,
      400);
  EXPECT_EQ(reevaluate(lisAdmin.token, 999999, Json().set("reason", "x")).status, 404);

  // Before the fix, evaluating again changes nothing.
  ApiResponse unchanged = reevaluate(lisAdmin.token, batchA, Json().set("reason", "nothing yet"));
  ASSERT_EQ(unchanged.status, 200) << unchanged.describe();
  EXPECT_EQ(unchanged.number("changed"), 0);
  EXPECT_FALSE(unchanged.flag("committed", true));

  // The administrator adds the row to the spreadsheet on disk and reloads (SIGHUP): the file is
  // a new version of its mapping set, activated, and the held results that waited only for the
  // mapping are evaluated again at once (actor "engine").
  writeFile(mappings_,
            std::string(kHeader) + "GLU,2345-7,Glucose,mmol/L,1\nZZNEW,9876-5,New analyte,U/L,0\n");
  engine_->signal(SIGHUP);

  // A: ZZNEW released and sent.
  ASSERT_TRUE(lis_->waitFor(
      [&](const std::vector<std::string>& messages) {
        auto codes = codesIn(messages, a);
        return std::find(codes.begin(), codes.end(), "9876-5") != codes.end();
      },
      30000ms))
      << "the result held for its unmapped code did not reach the LIS after the reload";
  auto afterA = resultsByCode(batch(lisAdmin.token, batchA));
  EXPECT_EQ(str(afterA["ZZNEW"], "disposition"), "release");
  EXPECT_EQ(str(afterA["ZZNEW"], "lis_code"), "9876-5");
  EXPECT_EQ(batch(lisAdmin.token, batchA).text("state"), "released");

  // B: ZZNEW released, GLU still held by the rules.
  ASSERT_TRUE(lis_->waitFor(
      [&](const std::vector<std::string>& messages) { return !codesIn(messages, b).empty(); },
      30000ms));
  EXPECT_EQ(codesAtLis(b), std::vector<std::string>{"9876-5"}) << "GLU 900 must not be sent";
  auto afterB = resultsByCode(batch(lisAdmin.token, batchB));
  EXPECT_EQ(str(afterB["ZZNEW"], "disposition"), "release");
  EXPECT_EQ(str(afterB["GLU"], "disposition"), "hold") << "a result held by the rules stays held";

  // Evaluating A again by hand now changes nothing: a released result is never changed.
  ApiResponse doneA = reevaluate(lisAdmin.token, batchA, Json().set("reason", "check"));
  ASSERT_EQ(doneA.status, 200) << doneA.describe();
  EXPECT_EQ(doneA.number("changed"), 0);
  auto gluA = outcomeOf(doneA, "GLU");
  ASSERT_TRUE(gluA);
  EXPECT_FALSE(gluA->getValue<bool>("applies")) << "a released result is never changed";
  EXPECT_EQ(str(gluA, "kept"), "released");

  // C: signed, never changed (skipped by the activation; 409 by hand).
  const std::string recordC = batch(lisAdmin.token, batchC).text("record_sha256");
  ApiResponse refusedC = reevaluate(lisAdmin.token, batchC, Json().set("reason", "ZZNEW mapped"));
  EXPECT_EQ(refusedC.status, 409) << refusedC.describe();
  EXPECT_EQ(batch(lisAdmin.token, batchC).text("record_sha256"), recordC);
  EXPECT_EQ(codesAtLis(c), std::vector<std::string>{}) << "a signed batch's result was sent";

  // Counted still (history), waiting no more; the replaced findings and the audit are kept.
  counted = unmappedCode(lisAdmin.token, "ZZNEW");
  ASSERT_TRUE(counted);
  EXPECT_EQ(counted->getValue<int64_t>("results"), 3);
  EXPECT_EQ(counted->getValue<int64_t>("waiting"), 0);
  ApiResponse audit = api_.get("/api/v1/audit?action=batch.reevaluated", withBearer(admin));
  ASSERT_EQ(audit.status, 200) << audit.describe();
  std::set<std::string> subjects;
  for (const auto& e : itemsOf(audit)) {
    subjects.insert(str(e, "subject"));
    EXPECT_EQ(str(e, "actor"), "engine");
    EXPECT_NE(str(e->getObject("detail"), "reason").find("activated"), std::string::npos);
  }
  EXPECT_EQ(subjects, (std::set<std::string>{"batch:" + std::to_string(batchA),
                                             "batch:" + std::to_string(batchB)}));
  StoreReader store(config_.dataDir + "/labgate.db");
  ASSERT_TRUE(store.ok()) << store.error();
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM findings_history WHERE rule_id = "
                         "'mapping.unmapped' AND measured = 'ZZNEW'"),
            std::optional<std::string>("2"));
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM reevaluations"), std::optional<std::string>("2"));
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(ReevaluationTest, DryRunReportsExactlyTheChangesOfAKnownBatch) {
  writeFile(mappings_,
            std::string(kHeader) + "GLU,2345-7,Glucose,mmol/L,1\nCREA,2160-0,Creatinine,mg/dL,2\n");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "lisadm", {"lis-admin"});
  const Account viewer = createAccount(admin, "view", {"viewer"});
  const std::string s = newSampleId("DR");
  const int64_t id = send(lisAdmin.token, {s,
                                           {{"GLU", "5.14", "mmol/L"},
                                            {"CREA", "1.234", "mg/dL"},
                                            {"ZZA", "1", "U"},
                                            {"ZZB", "2", "U"}},
                                           {}});
  ASSERT_GT(id, 0);
  const std::string recordBefore = batch(lisAdmin.token, id).text("record_sha256");

  // The candidate: GLU rounds to 2 decimals, CREA in other units, ZZA mapped, ZZB still not.
  const std::string candidate = std::string(kHeader) +
                                "GLU,2345-7,Glucose,mmol/L,2\nCREA,2160-0,Creatinine,umol/L,0\n"
                                "ZZA,1111-1,Analyte A,U,1\n";
  ApiResponse r =
      api_.post("/api/v1/instruments/tq-01/mapping-dry-run?last=100",
                Json().set("mappings_csv", candidate).str(), withBearer(lisAdmin.token));
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.number("batches"), 1);
  EXPECT_EQ(r.number("results"), 4);
  auto summary = r.json->getObject("summary");
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->getValue<int64_t>("newly_mapped"), 1);
  EXPECT_EQ(summary->getValue<int64_t>("still_unmapped"), 1);
  EXPECT_EQ(summary->getValue<int64_t>("now_unmapped"), 0);
  EXPECT_EQ(summary->getValue<int64_t>("units_mismatch"), 1);
  EXPECT_EQ(summary->getValue<int64_t>("decimals_changed"), 3)
      << "GLU 1→2, CREA 2→0, ZZA as sent→1";
  EXPECT_EQ(summary->getValue<int64_t>("would_change"), 1);
  EXPECT_EQ(summary->getValue<int64_t>("would_release"), 1);

  // The same for the one batch, per result.
  ApiResponse one =
      reevaluate(lisAdmin.token, id, Json().set("dry_run", true).set("mappings_csv", candidate));
  ASSERT_EQ(one.status, 200) << one.describe();
  EXPECT_TRUE(one.flag("dry_run"));
  EXPECT_FALSE(one.flag("committed", true));
  auto changesOf = [&](const std::string& code) {
    auto o = outcomeOf(one, code);
    return o ? stringsOf(o, "changes") : std::vector<std::string>{"(missing)"};
  };
  EXPECT_EQ(changesOf("GLU"), std::vector<std::string>{"decimals_changed"});
  EXPECT_EQ(changesOf("CREA"),
            (std::vector<std::string>{"units_mismatch", "decimals_changed", "findings_changed",
                                      "disposition_changed"}));
  EXPECT_EQ(changesOf("ZZA"),
            (std::vector<std::string>{"newly_mapped", "decimals_changed", "findings_changed",
                                      "disposition_changed"}));
  EXPECT_EQ(changesOf("ZZB"), std::vector<std::string>{"still_unmapped"});
  auto crea = outcomeOf(one, "CREA");
  ASSERT_TRUE(crea);
  EXPECT_FALSE(crea->getValue<bool>("applies")) << "a released result would never change";
  EXPECT_EQ(str(crea, "kept"), "released");
  auto zza = outcomeOf(one, "ZZA");
  ASSERT_TRUE(zza);
  EXPECT_TRUE(zza->getValue<bool>("applies"));
  EXPECT_EQ(str(zza->getObject("new"), "lis_code"), "1111-1");
  EXPECT_EQ(zza->getObject("new")->getValue<int>("decimals"), 1);

  // Nothing was written.
  EXPECT_EQ(batch(lisAdmin.token, id).text("record_sha256"), recordBefore);
  EXPECT_EQ(str(resultsByCode(batch(lisAdmin.token, id))["ZZA"], "disposition"), "hold");

  // A bad candidate: 422 naming the line; a candidate is only tried; permissions.
  ApiResponse bad =
      api_.post("/api/v1/instruments/tq-01/mapping-dry-run",
                Json().set("mappings_csv", std::string(kHeader) + "GLU,,x,y,1\n").str(),
                withBearer(lisAdmin.token));
  EXPECT_EQ(bad.status, 422) << bad.describe();
  EXPECT_NE(bad.text("detail").find("line 2"), std::string::npos) << bad.describe();
  ApiResponse notTried =
      reevaluate(lisAdmin.token, id, Json().set("reason", "x").set("mappings_csv", candidate));
  EXPECT_EQ(notTried.status, 400) << notTried.describe();
  EXPECT_EQ(api_.post("/api/v1/instruments/tq-01/mapping-dry-run?last=0",
                      Json().set("mappings_csv", candidate).str(), withBearer(lisAdmin.token))
                .status,
            400);
  EXPECT_EQ(api_.post("/api/v1/instruments/tq-01/mapping-dry-run",
                      Json().set("mappings_csv", candidate).str(), withBearer(viewer.token))
                .status,
            403);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

TEST_F(ReevaluationTest, AnExportBatchEvaluatedAgainUnchangedComesOutAsStored) {
  // The LC-MS/MS batch through the research profile: calibration, QC, peaks and trends run.
  writeFile(mappings_, std::string(kHeader) + "GLU,2345-7,Glucose,mmol/L,1\n");
  config_.connectors.at(1).extra["rules"] = sourceDir() + "/config/rules/lcms-research.json";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  ApiResponse up = upload(withBearer(admin), "up1", uniqueBatch());
  ASSERT_EQ(up.status, 202) << up.describe();
  int64_t id = 0;
  ASSERT_TRUE(waitUntil(
      [&] {
        auto items = itemsOf(api_.get("/api/v1/batches?instrument=qqq-01", withBearer(admin)));
        if (!items.empty()) id = items.front()->getValue<int64_t>("id");
        return id > 0;
      },
      20000ms, 200ms));
  // The same mapping and rules on the batch rebuilt from the store: nothing differs (what the
  // rules read was stored: run order, injections, curves, peaks).
  ApiResponse again = reevaluate(admin, id, Json().set("dry_run", true));
  ASSERT_EQ(again.status, 200) << again.describe();
  EXPECT_EQ(again.number("changed"), 0);
  EXPECT_EQ(again.text("rules_version"), "lcms-research-1") << "the rules did not run";
  auto results = again.json->getArray("results");
  ASSERT_TRUE(results && results->size() > 0);
  for (size_t i = 0; i < results->size(); ++i) {
    auto r = results->getObject(static_cast<unsigned>(i));
    auto changes = stringsOf(r, "changes");
    EXPECT_FALSE(contains(changes, "findings_changed") || contains(changes, "disposition_changed"))
        << "result " << r->getValue<int64_t>("result") << " (" << str(r, "instrument_code") << ", "
        << str(r, "sample_kind") << "): " << str(r->getObject("old"), "disposition") << " -> "
        << str(r->getObject("new"), "disposition");
  }
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

struct CliRun {
  int exitCode = -1;
  std::string out, err;
};

/// `labgate args` with `input` on stdin and XDG_CONFIG_HOME=`configHome` (where the session is).
CliRun labgateCli(const std::vector<std::string>& args, const std::string& input,
                  const std::string& configHome) {
  Poco::Pipe inPipe, outPipe, errPipe;
  Poco::ProcessHandle handle =
      Poco::Process::launch(binDir() + "/labgate", args, ".", &inPipe, &outPipe, &errPipe,
                            Poco::Process::Env{{"XDG_CONFIG_HOME", configHome}});
  CliRun run;
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

TEST_F(ReevaluationTest, UnmappedCommandListsTheCodesOnTheQaLogin) {
  writeFile(mappings_, std::string(kHeader) + "GLU,2345-7,Glucose,mmol/L,1\n");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account viewer = createAccount(admin, "view", {"viewer"});
  ASSERT_GT(
      send(viewer.token, {newSampleId("UC"), {{"GLU", "5.1", "mmol/L"}, {"ZZCLI", "4", "U"}}, {}}),
      0);
  const std::string home = tmp_->file("cli-home");
  const std::string server = "http://127.0.0.1:" + std::to_string(config_.httpPort);

  EXPECT_EQ(labgateCli({"unmapped"}, "", home).exitCode, 1) << "not logged in";
  CliRun login =
      labgateCli({"login", "--server", server, "--org", viewer.org, "--user", viewer.username},
                 viewer.password + "\n", home);
  ASSERT_EQ(login.exitCode, 0) << login.err;
  CliRun listed = labgateCli({"unmapped", "--instrument", "tq-01"}, "", home);
  ASSERT_EQ(listed.exitCode, 0) << listed.err;
  EXPECT_NE(listed.out.find("tq-01\tZZCLI\t1\t1\t"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("GLU"), std::string::npos) << listed.out;
  CliRun json = labgateCli({"unmapped", "--json"}, "", home);
  ASSERT_EQ(json.exitCode, 0) << json.err;
  EXPECT_NE(json.out.find("\"code\":\"ZZCLI\""), std::string::npos) << json.out;
  CliRun none = labgateCli({"unmapped", "--instrument", "other"}, "", home);
  EXPECT_EQ(none.exitCode, 0);
  EXPECT_EQ(none.out, "no unmapped codes\n");
  EXPECT_EQ(labgateCli({"unmapped", "--colour"}, "", home).exitCode, 2);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

}  // namespace
}  // namespace labgate::it::accounts
