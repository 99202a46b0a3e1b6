// Received messages and dead letters (issue 14) through the real labgated: GET /api/v1/messages
// lists accepted, refused, invalid and duplicate messages with reasons and field locations and
// never a value (a made-up patient name sent in P-6 appears nowhere in the answer); a message the
// test LIS answers AE is a dead letter, listed with the LIS's reason, and once the LIS is fixed a
// resend puts it back into the queue and it arrives; a LIS text naming a patient is withheld
// everywhere; the permissions answer 403 and another organisation's messages, destinations and
// dead letters are not found; the `labgate messages` and `labgate dead-letter` commands on the
// issue-13 login.
//
// Test output rule: failures print statuses, problem details and command output, which hold no
// patient value, password or token (the patient name is checked for, never printed).
#include <Poco/JSON/Parser.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include <thread>

#include "tests/integration/accounts_test_support.h"
#include "tests/integration/harness_hl7.h"

namespace labgate::it::accounts {
namespace {

constexpr const char* kPatientName = "Quillfeather^Zenobia";  // invented

struct CliRun {
  int exitCode = -1;
  std::string out;
  std::string err;
};

class MessagesTest : public AccountsTest {
 protected:
  ApiResponse get(const std::string& token, const std::string& path) {
    return api_.get(path, withBearer(token));
  }

  /// Items of GET /api/v1/messages`query` as `token` sees them.
  std::vector<Poco::JSON::Object::Ptr> messages(const std::string& token,
                                                const std::string& query = "") {
    ApiResponse r = get(token, "/api/v1/messages" + query);
    EXPECT_EQ(r.status, 200) << "GET /api/v1/messages" << query << ": " << r.describe();
    return itemsOf(r);
  }

  static std::vector<Poco::JSON::Object::Ptr> withOutcome(
      const std::vector<Poco::JSON::Object::Ptr>& items, const std::string& outcome) {
    std::vector<Poco::JSON::Object::Ptr> out;
    for (const auto& o : items) {
      if (str(o, "outcome") == outcome) out.push_back(o);
    }
    return out;
  }

  /// An ASTM message with a patient name in P-6: the PHI gate refuses it.
  void sendRefused(const std::string& sampleId) {
    AstmInstrument instrument(astmPort());
    instrument.sendSession(
        buildAstmMessage({{sampleId, {{"GLU", "5.6", "mmol/L"}}, {}}}, {{6, kPatientName}}));
  }

  /// An upload that is no export format LabGate knows: invalid (422).
  void sendInvalid(const std::string& token) {
    HttpHeaders headers = withBearer(token);
    headers.emplace_back("Content-Type", "text/csv");
    ApiResponse r = api_.post("/api/v1/uploads?connector=up1&filename=junk.csv",
                              "this is no instrument export\r\n", headers);
    EXPECT_EQ(r.status, 422) << r.describe();
  }

  /// Runs `labgate args` with `input` on stdin and XDG_CONFIG_HOME=`configHome`.
  static CliRun labgate(const std::vector<std::string>& args, const std::string& input,
                        const std::string& configHome) {
    Poco::Pipe inPipe;
    Poco::Pipe outPipe;
    Poco::Pipe errPipe;
    Poco::Process::Env env{{"XDG_CONFIG_HOME", configHome}};
    Poco::ProcessHandle handle =
        Poco::Process::launch(binDir() + "/labgate", args, ".", &inPipe, &outPipe, &errPipe, env);
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

  std::string server() const { return "http://127.0.0.1:" + std::to_string(config_.httpPort); }

  /// One ASTM sample through lab1 that the LIS answers AE; its dead letter's id ("" on failure).
  std::string deadLetterFor(const std::string& token, const std::string& sampleId) {
    lis_->setMode(AckMode::kAE);
    EXPECT_TRUE(sendAstmSample(astmPort(), sampleId));
    EXPECT_TRUE(waitUntil([&] { return health().destination("lis", "dead_letter") == 1; }, 30000ms))
        << "no dead letter after the LIS answered AE";
    ApiResponse r = get(token, "/api/v1/destinations/lis/dead-letter");
    EXPECT_EQ(r.status, 200) << r.describe();
    auto items = itemsOf(r);
    if (items.size() != 1) {
      ADD_FAILURE() << items.size() << " dead letters listed, expected 1";
      return "";
    }
    return str(items.front(), "id");
  }
};

TEST_F(MessagesTest, EveryOutcomeIsListedWithItsReasonAndLocationsAndNoValue) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "la", {"lis-admin"});
  const Account reviewer = createAccount(admin, "rv", {"qa-reviewer"});

  const std::string accepted = newSampleId("MA");
  ASSERT_TRUE(sendAstmSample(astmPort(), accepted));
  sendRefused(newSampleId("MR"));
  sendInvalid(lisAdmin.token);
  const std::string batch = uniqueBatch();
  ApiResponse first = upload(withBearer(lisAdmin.token), "up1", batch);
  ASSERT_EQ(first.status, 202) << first.describe();
  ApiResponse again = upload(withBearer(lisAdmin.token), "up1", batch);
  ASSERT_EQ(again.status, 200) << again.describe();

  // The refusal and the invalid message are recorded a moment after the instrument's answer.
  std::vector<Poco::JSON::Object::Ptr> items;
  ASSERT_TRUE(waitUntil(
      [&] {
        items = messages(lisAdmin.token);
        return items.size() >= 5;
      },
      15000ms))
      << items.size() << " messages listed, expected 5";
  ApiResponse whole = get(lisAdmin.token, "/api/v1/messages");
  EXPECT_TRUE(findSecrets(whole.body, {{"P-6 patient name", "Zenobia"}}).empty())
      << "the patient's name is in the answer";
  EXPECT_TRUE(findSecrets(whole.body, {{"P-6 patient name", "Quillfeather"}}).empty())
      << "the patient's name is in the answer";

  // Accepted (ASTM): linked to its batch, which holds the sample.
  auto acceptedItems = withOutcome(items, "accepted");
  ASSERT_EQ(acceptedItems.size(), 2u);
  const auto& astmAccepted = acceptedItems.back();  // newest first: the ASTM message came first
  EXPECT_EQ(str(astmAccepted, "connector"), "lab1");
  EXPECT_EQ(str(astmAccepted, "instrument"), "tq-01");
  const std::string batchId = str(astmAccepted, "batch_id");
  ASSERT_FALSE(batchId.empty());
  EXPECT_EQ(str(astmAccepted, "batch"), "/api/v1/batches/" + batchId);
  ApiResponse batchAnswer = get(lisAdmin.token, "/api/v1/batches/" + batchId);
  EXPECT_EQ(batchAnswer.status, 200) << batchAnswer.describe();
  EXPECT_NE(batchAnswer.body.find(accepted), std::string::npos)
      << "batch " << batchId << " does not hold the accepted sample";
  EXPECT_NE(str(astmAccepted, "reason").find("stored as batch " + batchId), std::string::npos)
      << str(astmAccepted, "reason");

  // Refused: the field location and the pattern, never the value.
  auto refused = withOutcome(items, "refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(str(refused[0], "connector"), "lab1");
  EXPECT_EQ(str(refused[0], "instrument"), "tq-01");
  EXPECT_TRUE(isNull(refused[0], "batch_id"));
  EXPECT_NE(str(refused[0], "reason").find("refused by the PHI gate"), std::string::npos)
      << str(refused[0], "reason");
  EXPECT_NE(str(refused[0], "reason").find("P-6"), std::string::npos) << str(refused[0], "reason");
  auto locations = refused[0]->getArray("locations");
  ASSERT_FALSE(locations.isNull());
  ASSERT_GE(locations->size(), 1u);
  EXPECT_EQ(str(locations->getObject(0), "location"), "P-6");
  EXPECT_NE(str(locations->getObject(0), "reason").find("structural.P-6"), std::string::npos)
      << str(locations->getObject(0), "reason");
  EXPECT_EQ(str(refused[0], "peer").rfind("127.0.0.1:", 0), 0u) << str(refused[0], "peer");

  // Invalid: the location and the reason.
  auto invalid = withOutcome(items, "invalid");
  ASSERT_EQ(invalid.size(), 1u);
  EXPECT_EQ(str(invalid[0], "connector"), "up1");
  EXPECT_EQ(str(invalid[0], "instrument"), "qqq-01");
  EXPECT_EQ(str(invalid[0], "file"), "junk.csv");
  EXPECT_EQ(str(invalid[0], "reason").rfind("not accepted: ", 0), 0u) << str(invalid[0], "reason");
  ASSERT_FALSE(invalid[0]->getArray("locations").isNull());
  EXPECT_EQ(invalid[0]->getArray("locations")->size(), 1u);

  // Duplicate: the upload of the same file names the batch it was imported as.
  auto duplicate = withOutcome(items, "duplicate");
  ASSERT_EQ(duplicate.size(), 1u);
  EXPECT_EQ(str(duplicate[0], "connector"), "up1");
  EXPECT_EQ(str(duplicate[0], "batch_id"), str(acceptedItems.front(), "batch_id"));
  EXPECT_NE(str(duplicate[0], "reason").find("imported before"), std::string::npos)
      << str(duplicate[0], "reason");

  // Filters.
  auto onlyRefused = messages(lisAdmin.token, "?outcome=REFUSED");
  ASSERT_EQ(onlyRefused.size(), 1u);
  EXPECT_EQ(str(onlyRefused[0], "id"), str(refused[0], "id"));
  auto uploads = messages(lisAdmin.token, "?connector=up1");
  EXPECT_EQ(uploads.size(), 3u);
  for (const auto& o : uploads) EXPECT_EQ(str(o, "connector"), "up1");
  EXPECT_TRUE(messages(lisAdmin.token, "?connector=nosuch").empty());
  EXPECT_EQ(messages(lisAdmin.token, "?from=" + isoIn(3600)).size(), 0u);
  EXPECT_EQ(messages(lisAdmin.token, "?to=" + isoIn(3600) + "&outcome=invalid").size(), 1u);

  // Paging: one at a time, newest first, to the end.
  std::vector<std::string> paged;
  std::string path = "/api/v1/messages?limit=2";
  for (int i = 0; i < 10 && !path.empty(); ++i) {
    ApiResponse page = get(lisAdmin.token, path);
    ASSERT_EQ(page.status, 200) << page.describe();
    for (const auto& o : itemsOf(page)) paged.push_back(str(o, "id"));
    path = isNull(page.json, "next") ? "" : str(page.json, "next");
  }
  std::vector<std::string> all;
  all.reserve(items.size());
  for (const auto& o : items) all.push_back(str(o, "id"));
  EXPECT_EQ(paged, all);

  // Unknown parameters and values answer 400.
  EXPECT_EQ(get(lisAdmin.token, "/api/v1/messages?state=held").status, 400);
  EXPECT_EQ(get(lisAdmin.token, "/api/v1/messages?outcome=lost").status, 400);
  ApiResponse badTime = get(lisAdmin.token, "/api/v1/messages?from=yesterday");
  EXPECT_EQ(badTime.status, 400) << badTime.describe();
  EXPECT_EQ(badTime.text("parameter"), "from");
  EXPECT_EQ(get(lisAdmin.token, "/api/v1/messages?limit=0").status, 400);

  // messages.read: the lis-admin and admin have it, a QA reviewer does not.
  EXPECT_EQ(get(reviewer.token, "/api/v1/messages").status, 403);
  EXPECT_EQ(get(admin, "/api/v1/messages").status, 200);
}

TEST_F(MessagesTest, DeadLetterIsListedAndResentOnceTheLisIsFixed) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "dl", {"lis-admin"});
  const Account viewer = createAccount(admin, "vw", {"viewer"});
  const Account reviewer = createAccount(admin, "rq", {"qa-reviewer"});
  const std::string sample = newSampleId("DL");

  lis_->setAckText("Order not found in the LIS");
  const std::string id = deadLetterFor(lisAdmin.token, sample);
  ASSERT_FALSE(id.empty());
  auto item = itemsOf(get(lisAdmin.token, "/api/v1/destinations/lis/dead-letter")).front();
  EXPECT_EQ(str(item, "ack_code"), "AE");
  EXPECT_FALSE(str(item, "control_id").empty());
  EXPECT_FALSE(str(item, "dead_at").empty());
  EXPECT_EQ(str(item, "reason"), "Order not found in the LIS");
  EXPECT_TRUE(contains(stringsOf(item, "sample_ids"), sample));
  ApiResponse batch = get(lisAdmin.token, str(item, "batch"));
  EXPECT_EQ(batch.status, 200) << batch.describe();
  EXPECT_EQ(lis_->count(), 1u);

  // Who may do what: the viewer reads dead letters but may not resend; the reviewer neither.
  const std::string resendPath = "/api/v1/destinations/lis/dead-letter/" + id + "/resend";
  const std::string body = Json().set("reason", "LIS order interface fixed (ticket 4711)").str();
  EXPECT_EQ(get(viewer.token, "/api/v1/destinations/lis/dead-letter").status, 200);
  EXPECT_EQ(api_.post(resendPath, body, withBearer(viewer.token)).status, 403);
  EXPECT_EQ(get(reviewer.token, "/api/v1/destinations/lis/dead-letter").status, 403);
  EXPECT_EQ(api_.post(resendPath, body, withBearer(reviewer.token)).status, 403);
  // A reason is required; unknown destination and item answer 404.
  EXPECT_EQ(api_.post(resendPath, "{}", withBearer(lisAdmin.token)).status, 400);
  EXPECT_EQ(
      api_.post(resendPath, Json().set("reason", "  ").str(), withBearer(lisAdmin.token)).status,
      422);
  EXPECT_EQ(api_.post("/api/v1/destinations/nosuch/dead-letter/" + id + "/resend", body,
                      withBearer(lisAdmin.token))
                .status,
            404);
  EXPECT_EQ(api_.post("/api/v1/destinations/lis/dead-letter/999999/resend", body,
                      withBearer(lisAdmin.token))
                .status,
            404);
  EXPECT_EQ(get(lisAdmin.token, "/api/v1/destinations/nosuch/dead-letter").status, 404);
  EXPECT_EQ(get(lisAdmin.token, "/api/v1/destinations/lis/dead-letter?state=dead").status, 400);
  EXPECT_EQ(lis_->count(), 1u) << "nothing was resent by a refused request";

  // The LIS is fixed; the resend goes out and is acknowledged.
  lis_->setMode(AckMode::kAA);
  ApiResponse resent = api_.post(resendPath, body, withBearer(lisAdmin.token));
  ASSERT_EQ(resent.status, 200) << resent.describe();
  EXPECT_EQ(resent.text("state"), "queued");
  EXPECT_EQ(resent.text("control_id"), str(item, "control_id"));
  ASSERT_TRUE(lis_->waitFor(
      [&](const std::vector<std::string>& received) {
        return timesReceived(received, sample) == 2;
      },
      30000ms))
      << "the resent message did not reach the LIS";
  EXPECT_TRUE(waitUntil([&] { return health().destination("lis", "delivered") == 1; }, 10000ms));
  EXPECT_EQ(health().destination("lis", "dead_letter"), 0);
  EXPECT_TRUE(itemsOf(get(lisAdmin.token, "/api/v1/destinations/lis/dead-letter")).empty());
  ApiResponse twice = api_.post(resendPath, body, withBearer(lisAdmin.token));
  EXPECT_EQ(twice.status, 409) << twice.describe();

  // Audited with the caller and the reason.
  auto events = itemsOf(get(admin, "/api/v1/audit?action=outbound.resent"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(str(events[0], "actor"), "user:" + lisAdmin.username);
  EXPECT_EQ(str(events[0], "subject"), "outbound:" + id);
  EXPECT_NE(events[0]->get("detail").toString().find("ticket 4711"), std::string::npos);
}

TEST_F(MessagesTest, LisReasonNamingAPatientIsWithheldEverywhere) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  // The LIS looked the sample up and names its patient in MSA-3 (invented values).
  lis_->setAckText("Patient Zenobia Quillfeather MRN 4471122 has no open order");
  const std::string id = deadLetterFor(admin, newSampleId("DW"));
  ASSERT_FALSE(id.empty());
  auto item = itemsOf(get(admin, "/api/v1/destinations/lis/dead-letter")).front();
  EXPECT_NE(str(item, "reason").find("withheld"), std::string::npos) << str(item, "reason");
  EXPECT_NE(str(item, "reason").find("name."), std::string::npos) << str(item, "reason");
  EXPECT_NE(health().destinationText("lis", "last_error").find("withheld"), std::string::npos)
      << health().destinationText("lis", "last_error");
  stopEngine();
  expectNoSecretsWritten({{"surname in the LIS's text", "Quillfeather"},
                          {"first name in the LIS's text", "Zenobia"},
                          {"MRN in the LIS's text", "4471122"}});
}

TEST_F(MessagesTest, AnotherOrganisationsMessagesAndDeadLettersAreNotFound) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  std::string admin = adminToken();
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
  // lab-b's connector and destination are configuration: restart with them. Its LIS answers AE.
  stopEngine();
  DestinationConfig lisB;
  lisB.name = "lis-b";
  lisB.port = freePort();
  lisB.extra["org"] = "lab-b";
  config_.destinations.push_back(lisB);
  addAstmConnector("astm-b", "lab-b", "lis-b");
  FakeLis lisForB(lisB.port);
  lisForB.setMode(AckMode::kAE);
  lisForB.start();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  admin = adminToken();
  Account boss{"lab-b", "b-boss", "", "", 0};
  activate(boss, bossInitial);
  ASSERT_FALSE(boss.token.empty());

  ASSERT_TRUE(sendAstmSample(connectorPort("astm-b"), newSampleId("OB")));
  ASSERT_TRUE(sendAstmSample(astmPort(), newSampleId("OA")));
  std::string bDead;
  ASSERT_TRUE(waitUntil(
      [&] {
        auto items = itemsOf(get(boss.token, "/api/v1/destinations/lis-b/dead-letter"));
        if (!items.empty()) bDead = str(items.front(), "id");
        return !bDead.empty();
      },
      30000ms))
      << "lab-b has no dead letter";

  // Each organisation sees its own received messages only.
  auto mine = messages(admin);
  ASSERT_FALSE(mine.empty());
  for (const auto& o : mine) EXPECT_NE(str(o, "connector"), "astm-b");
  auto theirs = messages(boss.token);
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_EQ(str(theirs[0], "connector"), "astm-b");
  EXPECT_TRUE(messages(admin, "?connector=astm-b").empty());

  // Another organisation's destination and dead letter are "not found", also through one's own.
  const std::string body = Json().set("reason", "not ours").str();
  EXPECT_EQ(get(admin, "/api/v1/destinations/lis-b/dead-letter").status, 404);
  EXPECT_EQ(api_.post("/api/v1/destinations/lis-b/dead-letter/" + bDead + "/resend", body,
                      withBearer(admin))
                .status,
            404);
  EXPECT_EQ(api_.post("/api/v1/destinations/lis/dead-letter/" + bDead + "/resend", body,
                      withBearer(admin))
                .status,
            404);
  EXPECT_EQ(get(boss.token, "/api/v1/destinations/lis/dead-letter").status, 404);
  EXPECT_EQ(itemsOf(get(boss.token, "/api/v1/destinations/lis-b/dead-letter")).size(), 1u)
      << "the refused resends changed lab-b's dead letter";
}

TEST_F(MessagesTest, CommandLineListsMessagesAndResendsADeadLetter) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account lisAdmin = createAccount(admin, "cl", {"lis-admin"});
  sendRefused(newSampleId("CR"));
  const std::string sample = newSampleId("CD");
  const std::string id = deadLetterFor(lisAdmin.token, sample);
  ASSERT_FALSE(id.empty());
  const std::string home = tmp_->path() + "/config-lis-admin";

  CliRun r = labgate({"messages"}, "", home);
  EXPECT_EQ(r.exitCode, 1) << "not logged in yet:\n" << r.out << r.err;
  r = labgate({"login", "--server", server(), "--org", "default", "--user", lisAdmin.username},
              lisAdmin.password + "\n", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;

  r = labgate({"messages", "--outcome", "refused"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("OUTCOME"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("refused by the PHI gate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("P-6"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("accepted"), std::string::npos) << r.out;
  EXPECT_TRUE(findSecrets(r.out, {{"P-6 patient name", "Zenobia"}}).empty());

  r = labgate({"messages", "--limit", "1"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("more messages: labgate messages --limit 1 --before "), std::string::npos)
      << r.out;

  r = labgate({"messages", "--connector", "lab1", "--json"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  auto parsed = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  ASSERT_FALSE(parsed.isNull());
  EXPECT_EQ(parsed->getArray("items")->size(), 2u) << r.out;

  EXPECT_EQ(labgate({"messages", "--outcome", "lost"}, "", home).exitCode, 2);
  EXPECT_EQ(labgate({"messages", "--bogus"}, "", home).exitCode, 2);
  EXPECT_EQ(labgate({"dead-letter", "resend", "lis", id}, "", home).exitCode, 2)
      << "a resend needs --reason";
  EXPECT_EQ(labgate({"dead-letter", "drop", "lis"}, "", home).exitCode, 2);

  r = labgate({"dead-letter", "list", "lis"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("AE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(sample), std::string::npos) << r.out;
  EXPECT_EQ(r.out.rfind(id + " ", 0), std::string::npos) << "the header line comes first";
  EXPECT_NE(r.out.find("\n" + id + " "), std::string::npos) << r.out;

  r = labgate({"dead-letter", "list", "nosuch"}, "", home);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("no such destination"), std::string::npos) << r.err;

  lis_->setMode(AckMode::kAA);
  r = labgate({"dead-letter", "resend", "lis", id, "--reason", "LIS fixed"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("queued again"), std::string::npos) << r.out;
  EXPECT_TRUE(lis_->waitFor(
      [&](const std::vector<std::string>& received) {
        return timesReceived(received, sample) == 2;
      },
      30000ms))
      << "the resent message did not reach the LIS";
  r = labgate({"dead-letter", "resend", "lis", id, "--reason", "again"}, "", home);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  r = labgate({"dead-letter", "list", "lis"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("no dead letters"), std::string::npos) << r.out;
}

/// An HL7 sender's resend (same sender, MSH-10 and bytes) is listed as a duplicate of the batch
/// it was stored as; a PID-5 refusal names the location.
class MessagesHl7Test : public Hl7EngineTest {};

TEST_F(MessagesHl7Test, ResendIsADuplicateOfItsBatchAndAPid5RefusalNamesTheLocation) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  OruSpec spec = cleanOru(newSampleId("HD"));
  const std::string message = buildOru(spec);
  sendExpecting(message, spec.controlId, "AA", "first");
  sendExpecting(message, spec.controlId, "AA", "resend");
  OruSpec refused = cleanOru(newSampleId("HR"));
  refused.patientSegments = {"PID|1||||Quillfeather^Zenobia"};
  sendExpecting(buildOru(refused), refused.controlId, "AR", "PID-5");

  ApiClient api(config_.httpPort);
  ApiResponse login;
  const std::string token = api.login("default", "admin", kTestAdminPassword, "", &login);
  ASSERT_FALSE(token.empty()) << login.describe();
  ApiResponse r;
  ASSERT_TRUE(waitUntil(
      [&] {
        r = api.get("/api/v1/messages?connector=hl7in", withBearer(token));
        return itemsOf(r).size() >= 3;
      },
      10000ms))
      << r.describe();
  EXPECT_TRUE(findSecrets(r.body, {{"PID-5 surname", "Quillfeather"}}).empty());
  std::string acceptedBatch, duplicateBatch, duplicateReason, refusedLocation;
  for (const auto& o : itemsOf(r)) {
    if (str(o, "outcome") == "accepted") acceptedBatch = str(o, "batch_id");
    if (str(o, "outcome") == "duplicate") {
      duplicateBatch = str(o, "batch_id");
      duplicateReason = str(o, "reason");
    }
    if (str(o, "outcome") == "refused" && !o->getArray("locations").isNull() &&
        o->getArray("locations")->size() > 0) {
      refusedLocation = str(o->getArray("locations")->getObject(0), "location");
    }
  }
  ASSERT_FALSE(acceptedBatch.empty());
  EXPECT_EQ(duplicateBatch, acceptedBatch);
  EXPECT_NE(duplicateReason.find("a resend of batch " + acceptedBatch), std::string::npos)
      << duplicateReason;
  EXPECT_EQ(refusedLocation, "PID-5");
}

}  // namespace
}  // namespace labgate::it::accounts
