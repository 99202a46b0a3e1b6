// LC-MS/MS batch exports into the real labgated: a watched folder (connector kind file-drop) and
// POST /api/v1/uploads (kind upload), both over the same pipeline. Covers the import and the move
// to processed/, a copy dropped again (rejected as a duplicate), a CSV with patient columns
// (refused, and under the strip policy the columns dropped, the values written nowhere), a
// malformed file (rejected with a .reason naming the line), files still being written, the
// upload's 202/200/401/413/422 answers, and the LC-MS/MS corpus dropped file by file.
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "bench/export_gen.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"
#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

namespace fs = std::filesystem;

std::string exportData(const std::string& name) { return testDataDir() + "/exports/" + name; }

struct HttpAnswer {
  int status = 0;
  std::string contentType;
  std::string body;
  Poco::JSON::Object::Ptr json() const {
    try {
      return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
      return nullptr;
    }
  }
};

/// POST over plain HTTP, or over HTTPS verifying the server against `caFile` when it is set.
HttpAnswer post(int port, const std::string& uri, const std::string& body,
                const std::string& contentType, const std::string& apiKey,
                const std::string& caFile = "") {
  HttpAnswer answer;
  try {
    std::unique_ptr<Poco::Net::HTTPClientSession> owned;
    if (caFile.empty()) {
      owned = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1",
                                                             static_cast<Poco::UInt16>(port));
    } else {
      Poco::Net::Context::Ptr context = new Poco::Net::Context(
          Poco::Net::Context::TLS_CLIENT_USE, "", "", caFile, Poco::Net::Context::VERIFY_STRICT);
      owned = std::make_unique<Poco::Net::HTTPSClientSession>(
          "127.0.0.1", static_cast<Poco::UInt16>(port), context);
    }
    Poco::Net::HTTPClientSession& session = *owned;
    session.setTimeout(Poco::Timespan(60, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, uri,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType(contentType);
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    if (!apiKey.empty()) request.set("Authorization", "Bearer " + apiKey);
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    answer.status = response.getStatus();
    answer.contentType = response.getContentType();
    std::ostringstream out;
    Poco::StreamCopier::copyStream(in, out);
    answer.body = out.str();
  } catch (const Poco::Exception& e) {
    answer.body = e.displayText();
  }
  return answer;
}

HttpAnswer get(int port, const std::string& uri, const std::string& apiKey) {
  HttpAnswer answer;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, uri,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    if (!apiKey.empty()) request.set("Authorization", "Bearer " + apiKey);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    answer.status = response.getStatus();
    answer.contentType = response.getContentType();
    std::ostringstream out;
    Poco::StreamCopier::copyStream(in, out);
    answer.body = out.str();
  } catch (const Poco::Exception& e) {
    answer.body = e.displayText();
  }
  return answer;
}

class ExportTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    inbox_ = tmp_->file("inbox");
    fs::create_directories(inbox_);
    ConnectorConfig& drop = config_.connectors.at(0);
    drop.name = "lcms1";
    drop.kind = "file-drop";
    drop.instrument = "qqq-01";
    drop.mappings = exportData("mappings-lcms.csv");
    drop.extra = {{"inbox", inbox_}, {"poll_ms", "100"}, {"settle_ms", "300"}};
    dropOmitted("lcms1");
    ConnectorConfig upload = drop;
    upload.name = "upload1";
    upload.kind = "upload";
    upload.extra = {{"max_bytes", "200000"}};
    config_.connectors.push_back(upload);
    dropOmitted("upload1");
    // Cheap password hashing: the tests log in once to make their API keys.
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
  }

  /// A new API key with `role` (instrument: uploads; viewer: diagnostics), made by the
  /// first-start administrator through POST /api/v1/api-keys (the engine must be running).
  std::string apiKey(const std::string& role = "instrument") {
    const ApiClient api(config_.httpPort);
    ApiResponse login;
    const std::string token = api.login("default", "admin", kTestAdminPassword, "", &login);
    EXPECT_FALSE(token.empty()) << "admin login: " << login.describe();
    ApiResponse created = api.post("/api/v1/api-keys",
                                   Json()
                                       .set("name", "export test " + role)
                                       .set("roles", std::vector<std::string>{role})
                                       .str(),
                                   withBearer(token));
    EXPECT_EQ(created.status, 201) << "POST /api/v1/api-keys: " << created.describe();
    return created.text("key");
  }

  void dropOmitted(const std::string& name) {
    config_.omit("connector." + name + ".listen");
    config_.omit("connector." + name + ".astm.receive_timeout_seconds");
  }

  /// Writes a file into the inbox the way a careful exporter does: under a temporary name,
  /// then renamed in.
  void drop(const std::string& name, const std::string& bytes) {
    writeFile(inbox_ + "/." + name + ".tmp", bytes);
    fs::rename(inbox_ + "/." + name + ".tmp", inbox_ + "/" + name);
  }

  /// The shipped clinical default profile (config/rules/lcms-default.json) with `qc.westgard`
  /// set to false, written into the test's folder: the profile itself has no QC targets, so no
  /// connector starts on it as it is (Westgard on and no targets, issue 20), and these batches'
  /// analytes have no targets either. Everything else is the profile's.
  std::string clinicalRulesWithoutWestgard() {
    const std::string text = readFile(sourceDir() + "/config/rules/lcms-default.json");
    const std::string on = "\"westgard\": true";
    const size_t at = text.find(on);
    EXPECT_NE(at, std::string::npos) << "the clinical profile no longer says qc.westgard true";
    std::string changed = text;
    if (at != std::string::npos) changed.replace(at, on.size(), "\"westgard\": false");
    std::string path = tmp_->file("clinical-no-westgard.json");
    writeFile(path, changed);
    return path;
  }

  bool waitForFile(const std::string& path, std::chrono::milliseconds timeout = 30000ms) {
    return waitUntil([&] { return fileExists(path); }, timeout);
  }

  std::string db() const { return config_.dataDir + "/labgate.db"; }
  std::string query(const std::string& sql) const {
    return storeQuery(db(), sql).value_or("<store unreadable>");
  }
  long dropCounter(const std::string& key, long expected) {
    long value = -1;
    waitUntil(
        [&] {
          value = health().connector("lcms1", key);
          return value == expected;
        },
        10000ms);
    return value;
  }

  std::string inbox_;
};

TEST_F(ExportTest, DroppedBatchIsImportedMovedAndOnlyUnknownsAreDelivered) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  Health before = health();
  EXPECT_EQ(before.connectorText("lcms1", "kind"), "file-drop");
  EXPECT_EQ(before.connectorText("lcms1", "state"), "watching");
  EXPECT_EQ(before.connectorText("lcms1", "format"), "auto");
  EXPECT_EQ(before.connectorText("upload1", "kind"), "upload");

  drop("steroids_batch.csv", readFile(exportData("steroids_batch.csv")));
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/steroids_batch.csv"))
      << "the batch never reached processed/; rejected/ holds: "
      << readFile(inbox_ + "/rejected/steroids_batch.csv.reason");
  EXPECT_FALSE(fileExists(inbox_ + "/steroids_batch.csv")) << "the file must leave the inbox";
  EXPECT_EQ(dropCounter("files_imported", 1), 1);

  // Six samples with their kinds; two analytes and the internal standard on each.
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages WHERE connector='lcms1'"), "1");
  EXPECT_EQ(query("SELECT format || '|' || source_name FROM messages"),
            "masshunter|steroids_batch.csv");
  EXPECT_EQ(query("SELECT group_concat(kind, ',') FROM (SELECT kind FROM samples ORDER BY id)"),
            "double_blank,calibrator,calibrator,qc,unknown,unknown");
  EXPECT_EQ(query("SELECT level FROM samples WHERE sample_id='QCL1'"), "Low");
  EXPECT_EQ(query("SELECT COUNT(*) FROM results"), "18");
  EXPECT_EQ(query("SELECT COUNT(*) FROM results WHERE internal_standard=1"), "6");
  // Peak data kept for the rules; a missing value stays missing, never 0.
  EXPECT_EQ(query("SELECT p.area || '|' || p.retention_time || '|' || p.manual_integration FROM "
                  "peaks p JOIN results r ON r.id=p.result_id JOIN samples s ON "
                  "s.id=r.sample_row_id WHERE s.sample_id='LC250314-0007' AND "
                  "r.instrument_code='Cortisone'"),
            "65432.0|2.96|1");
  EXPECT_EQ(query("SELECT COUNT(*) FROM peaks p JOIN results r ON r.id=p.result_id JOIN "
                  "samples s ON s.id=r.sample_row_id WHERE s.sample_id='LC250314-0008' AND "
                  "r.instrument_code='Cortisol' AND p.area IS NULL"),
            "1");

  // Only the two unknown samples go to the LIS, with mapped codes; no calibrator, QC, blank or
  // internal standard.
  ASSERT_TRUE(waitForSample("LC250314-0007"));
  ASSERT_TRUE(waitForSample("LC250314-0008"));
  ASSERT_TRUE(waitForDelivered(1));
  auto messages = lis_->messages();
  ASSERT_EQ(messages.size(), 1u) << "one batch, one ORU";
  auto ids = receivedSampleIds(messages);
  EXPECT_EQ(ids, (std::vector<std::string>{"LC250314-0007", "LC250314-0008"}));
  auto obx = observations(messages[0]);
  ASSERT_FALSE(obx.empty());
  for (const auto& o : obx) {
    EXPECT_TRUE(o.code == "2143-6" || o.code == "9812-9") << "unexpected OBX-3 " << o.code;
  }
  EXPECT_TRUE(std::any_of(obx.begin(), obx.end(), [](const Observation& o) {
    return o.code == "2143-6" && o.value == "12.2";
  })) << "Cortisol of LC250314-0007";
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit WHERE action='message.accepted'"), "1");
}

// ADR 0017: with export.window_results tiny, the same file is read, judged and stored window by
// window through the real watched folder; the stored batch and what the LIS receives are the
// same (the released results may come in more than one ORU, in file order).
TEST_F(ExportTest, BatchReadInWindowsIsStoredAndDeliveredAsAWhole) {
  config_.set("export.window_results", "2");  // every injection row fills a window
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  drop("steroids_batch.csv", readFile(exportData("steroids_batch.csv")));
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/steroids_batch.csv"))
      << "the batch never reached processed/; rejected/ holds: "
      << readFile(inbox_ + "/rejected/steroids_batch.csv.reason");
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "1");
  EXPECT_EQ(query("SELECT sample_count || '|' || result_count || '|' || format FROM messages"),
            "6|18|masshunter");
  EXPECT_EQ(query("SELECT group_concat(kind, ',') FROM (SELECT kind FROM samples ORDER BY id)"),
            "double_blank,calibrator,calibrator,qc,unknown,unknown");
  EXPECT_EQ(query("SELECT COUNT(*) FROM results"), "18");
  EXPECT_EQ(query("SELECT COUNT(*) FROM results WHERE internal_standard=1"), "6");
  EXPECT_EQ(query("SELECT p.area || '|' || p.retention_time || '|' || p.manual_integration FROM "
                  "peaks p JOIN results r ON r.id=p.result_id JOIN samples s ON "
                  "s.id=r.sample_row_id WHERE s.sample_id='LC250314-0007' AND "
                  "r.instrument_code='Cortisone'"),
            "65432.0|2.96|1");
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit WHERE action='message.accepted'"), "1");
  ASSERT_TRUE(waitForSample("LC250314-0007"));
  ASSERT_TRUE(waitForSample("LC250314-0008"));
  // One ORU per window with released results: the two unknowns are rows of their own.
  EXPECT_EQ(query("SELECT COUNT(*) FROM outbound"), "2");
  ASSERT_TRUE(waitForDelivered(2));
  auto ids = receivedSampleIds(lis_->messages());
  EXPECT_EQ(ids, (std::vector<std::string>{"LC250314-0007", "LC250314-0008"}));
}

// ADR 0017, the crash test of a windowed import: SIGKILL while the windows are being stored
// leaves nothing of the batch visible (one transaction, never committed) and the file in the
// inbox; after the restart it is imported again, whole and once.
TEST_F(ExportTest, SigkillDuringAWindowedImportLeavesNothingAndTheRestartImportsItWhole) {
  config_.set("export.window_results", "500");
  ASSERT_NO_FATAL_FAILURE(startEngine());
  benchgen::MassHunterWide gen(20, 11);
  std::string text = gen.header();
  const int injections = 3000;
  for (int i = 0; i < injections; ++i) gen.appendInjection(text, i);
  const std::string expected = std::to_string(injections * 20);
  const std::string wal = db() + "-wal";
  const auto walBefore = fileExists(wal) ? fs::file_size(wal) : 0;
  drop("large_batch.csv", text);
  // Under way: the WAL grows by the windows' rows while nothing is committed.
  ASSERT_TRUE(waitUntil(
      [&] { return fileExists(wal) && fs::file_size(wal) > walBefore + (2u << 20); }, 60000ms));
  ASSERT_FALSE(fileExists(inbox_ + "/processed/large_batch.csv"))
      << "imported before the kill: make the file larger";
  engine_->kill();
  ASSERT_FALSE(engine_->running());
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "0");
  EXPECT_EQ(query("SELECT COUNT(*) FROM samples"), "0");
  EXPECT_EQ(query("SELECT COUNT(*) FROM results"), "0");
  EXPECT_TRUE(fileExists(inbox_ + "/large_batch.csv")) << "the file must stay in the inbox";

  ASSERT_NO_FATAL_FAILURE(startEngine());
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/large_batch.csv", 240000ms))
      << "rejected/ holds: " << readFile(inbox_ + "/rejected/large_batch.csv.reason");
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "1");
  EXPECT_EQ(query("SELECT result_count FROM messages"), expected);
  EXPECT_EQ(query("SELECT COUNT(*) FROM results"), expected);
  EXPECT_EQ(query("SELECT COUNT(*) FROM samples"), std::to_string(injections));
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit WHERE action='message.accepted'"), "1");
}

TEST_F(ExportTest, CopyDroppedAgainIsRecognisedAndNotImportedTwice) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string bytes = readFile(exportData("steroids_batch.csv"));
  drop("batch_monday.csv", bytes);
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/batch_monday.csv"));
  drop("batch_monday_copy.csv", bytes);
  ASSERT_TRUE(waitForFile(inbox_ + "/rejected/batch_monday_copy.csv.reason"));
  std::string reason = readFile(inbox_ + "/rejected/batch_monday_copy.csv.reason");
  EXPECT_NE(reason.find("duplicate"), std::string::npos) << reason;
  EXPECT_NE(reason.find("imported before as batch 1"), std::string::npos) << reason;
  EXPECT_EQ(dropCounter("files_duplicate", 1), 1);
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "1");
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit WHERE action='message.duplicate'"), "1");
  // The same name dropped again after the first left the inbox: processed/ keeps both names.
  drop("batch_monday.csv", bytes + "\r\n");
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/batch_monday-1.csv"));
}

std::vector<Secret> patientSecrets() {
  // The invented patients of tests/data/integration/exports/patient_column.csv.
  return {{"patient name 1", "Quenby Harrowgate"}, {"patient name 2", "Ottoline Vesprey"},
          {"patient name 3", "Culpepper-Fitch"},   {"patient name 4", "Isadora Quillfeather"},
          {"patient surname 5", "Ashdown"},        {"patient surname 6", "Stroud"},
          {"birth date 1", "1941-07-23"},          {"birth date 3", "1938-11-05"}};
}

TEST_F(ExportTest, PatientColumnsRefuseTheFileAndNoValueIsWrittenAnywhere) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  drop("patients.csv", readFile(exportData("patient_column.csv")));
  ASSERT_TRUE(waitForFile(inbox_ + "/rejected/patients.csv.reason"));
  std::string reason = readFile(inbox_ + "/rejected/patients.csv.reason");
  EXPECT_NE(reason.find("refused"), std::string::npos);
  // Every row's two patient cells are named: line 3..8, columns 6 (name) and 7 (DOB).
  for (int line = 3; line <= 8; ++line) {
    EXPECT_NE(reason.find("line " + std::to_string(line) +
                          " column 6: patient-identifying data "
                          "(column.patient)"),
              std::string::npos)
        << "line " << line;
    EXPECT_NE(reason.find("line " + std::to_string(line) +
                          " column 7: patient-identifying data "
                          "(column.birth)"),
              std::string::npos)
        << "line " << line;
  }
  EXPECT_EQ(dropCounter("files_rejected", 1), 1);
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "0");
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit WHERE action='message.refused'"), "1");
  std::vector<std::string> outputs = engineOutputs();
  outputs.push_back(inbox_ + "/rejected/patients.csv.reason");
  auto hits = findSecretsInFiles(outputs, patientSecrets());
  for (const auto& h : hits) ADD_FAILURE() << h.label << " found in " << h.where;
  stopEngine();
  hits = findSecretsInFiles(engineOutputs(), patientSecrets());
  for (const auto& h : hits) ADD_FAILURE() << h.label << " found in " << h.where << " after stop";
}

TEST_F(ExportTest, StripPolicyDropsThePatientColumnsAndImportsTheRest) {
  config_.connectors.at(0).phiPolicy = "strip";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  drop("patients.csv", readFile(exportData("patient_column.csv")));
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/patients.csv"))
      << readFile(inbox_ + "/rejected/patients.csv.reason");
  EXPECT_EQ(query("SELECT COUNT(*) FROM samples"), "6");
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit WHERE action='message.phi_stripped'"), "1");
  ASSERT_TRUE(waitForSample("LC250314-0007"));
  stopEngine();
  auto hits = findSecretsInFiles(engineOutputs(), patientSecrets());
  for (const auto& h : hits) ADD_FAILURE() << h.label << " found in " << h.where;
  for (const auto& m : lis_->messages()) {
    for (const auto& label : findSecrets(m, patientSecrets())) {
      ADD_FAILURE() << label << " reached the LIS";
    }
  }
}

TEST_F(ExportTest, MalformedFileIsRejectedWithTheLineAndOthersStillImport) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  drop("broken.csv", readFile(exportData("corrupt_row.csv")));
  drop("binary.csv", std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) + std::string(600, '\0'));
  drop("good.csv", readFile(exportData("steroids_batch.csv")));
  ASSERT_TRUE(waitForFile(inbox_ + "/rejected/broken.csv.reason"));
  std::string reason = readFile(inbox_ + "/rejected/broken.csv.reason");
  EXPECT_NE(reason.find("invalid"), std::string::npos) << reason;
  EXPECT_NE(reason.find("line 7"), std::string::npos) << "the short row is line 7: " << reason;
  ASSERT_TRUE(waitForFile(inbox_ + "/rejected/binary.csv.reason"));
  EXPECT_NE(readFile(inbox_ + "/rejected/binary.csv.reason").find("CSV"), std::string::npos)
      << "an Excel workbook is answered with what to export instead";
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/good.csv"));
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "1");
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit WHERE action='message.invalid'"), "2");
}

TEST_F(ExportTest, FileStillBeingWrittenIsWaitedFor) {
  config_.connectors.at(0).extra["settle_ms"] = "1500";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string bytes = readFile(exportData("steroids_batch.csv"));
  const std::string path = inbox_ + "/slow.csv";
  // Written in place in three pieces, 400 ms apart: the half-written file is never taken.
  writeFile(path, bytes.substr(0, 200));
  std::this_thread::sleep_for(400ms);
  writeFile(path, bytes.substr(0, 500));
  std::this_thread::sleep_for(400ms);
  writeFile(path, bytes);
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/slow.csv"))
      << readFile(inbox_ + "/rejected/slow.csv.reason");
  EXPECT_FALSE(fileExists(inbox_ + "/rejected/slow.csv.reason"));
  EXPECT_EQ(query("SELECT COUNT(*) FROM samples"), "6");
}

TEST_F(ExportTest, UploadAnswersEveryCaseWithAPreciseStatus) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const int port = config_.httpPort;
  const std::string kApiKey = apiKey();
  ASSERT_FALSE(kApiKey.empty());
  const std::string batch = readFile(exportData("steroids_batch.csv"));

  HttpAnswer noKey = post(port, "/api/v1/uploads", batch, "text/csv", "");
  EXPECT_EQ(noKey.status, 401);
  EXPECT_EQ(noKey.contentType, "application/problem+json");
  HttpAnswer wrongKey = post(port, "/api/v1/uploads", batch, "text/csv", "not-the-key");
  EXPECT_EQ(wrongKey.status, 401);

  HttpAnswer stored =
      post(port, "/api/v1/uploads?format=masshunter&filename=run1.csv", batch, "text/csv", kApiKey);
  ASSERT_EQ(stored.status, 202) << stored.body;
  auto json = stored.json();
  ASSERT_TRUE(json);
  EXPECT_EQ(json->optValue<std::string>("status", ""), "stored");
  EXPECT_EQ(json->optValue<std::string>("format", ""), "masshunter");
  EXPECT_EQ(json->optValue<int>("results", -1), 12) << "internal standards are not counted";
  const int batchId = json->optValue<int>("batch_id", 0);
  EXPECT_GT(batchId, 0);
  EXPECT_EQ(query("SELECT source_name FROM messages WHERE id=" + std::to_string(batchId)),
            "run1.csv");
  EXPECT_EQ(query("SELECT connector FROM messages WHERE id=" + std::to_string(batchId)), "upload1");

  HttpAnswer again = post(port, "/api/v1/uploads", batch, "text/csv", kApiKey);
  EXPECT_EQ(again.status, 200) << again.body;
  ASSERT_TRUE(again.json());
  EXPECT_EQ(again.json()->optValue<std::string>("status", ""), "duplicate");
  EXPECT_EQ(again.json()->optValue<int>("batch_id", 0), batchId);

  // Multipart, as a browser form sends it (a different file: a blank line added at the end).
  const std::string boundary = "----labgate-boundary-51ab";
  std::string form = "--" + boundary +
                     "\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--" +
                     boundary +
                     "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"run2.csv\"\r\n"
                     "Content-Type: text/csv\r\n\r\n" +
                     batch + "\r\n\r\n--" + boundary + "--\r\n";
  HttpAnswer multipart =
      post(port, "/api/v1/uploads", form, "multipart/form-data; boundary=" + boundary, kApiKey);
  EXPECT_EQ(multipart.status, 202) << multipart.body;

  HttpAnswer refused = post(port, "/api/v1/uploads", readFile(exportData("patient_column.csv")),
                            "text/csv", kApiKey);
  EXPECT_EQ(refused.status, 422);
  EXPECT_EQ(refused.contentType, "application/problem+json");
  auto problem = refused.json();
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->optValue<std::string>("title", ""), "Patient-identifying data refused");
  auto errors = problem->getArray("errors");
  ASSERT_TRUE(errors);
  EXPECT_EQ(errors->size(), 12u) << "two patient cells on each of six rows";
  for (const auto& label : findSecrets(refused.body, patientSecrets())) {
    ADD_FAILURE() << label << " in the 422 answer";
  }

  HttpAnswer invalid =
      post(port, "/api/v1/uploads", readFile(exportData("corrupt_row.csv")), "text/csv", kApiKey);
  EXPECT_EQ(invalid.status, 422);
  ASSERT_TRUE(invalid.json());
  EXPECT_NE(invalid.body.find("line 7"), std::string::npos) << invalid.body;

  HttpAnswer unknownFormat =
      post(port, "/api/v1/uploads?format=nonesuch", batch + "\n", "text/csv", kApiKey);
  EXPECT_EQ(unknownFormat.status, 422);
  EXPECT_NE(unknownFormat.body.find("unknown format"), std::string::npos);

  HttpAnswer tooLarge =
      post(port, "/api/v1/uploads", std::string(300000, 'x'), "text/csv", kApiKey);
  EXPECT_EQ(tooLarge.status, 413);

  HttpAnswer wrongMethod = post(port, "/api/v1/uploads/1", batch, "text/csv", kApiKey);
  EXPECT_EQ(wrongMethod.status, 404);

  Health h = health();
  EXPECT_EQ(h.connector("upload1", "uploads_imported"), 2);
  EXPECT_EQ(h.connector("upload1", "uploads_duplicate"), 1);
  // The two refusals without a valid key (401 above) are the REST API's now, made before the
  // connector sees the request: the connector's uploads_unauthorised counter went away with
  // connector.NAME.api_keys (docs/connectors/exports.md), and the counts above exclude them.
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "2");
}

TEST_F(ExportTest, UploadOverHttps) {
  if (findProgram("openssl").empty())
    GTEST_FAIL() << "the openssl CLI is not installed; scripts/setup.sh installs it";
  const std::string cert = tmp_->file("cert.pem"), key = tmp_->file("key.pem");
  std::string why;
  ASSERT_TRUE(makeSelfSignedCert(tmp_->path(), cert, key, &why)) << why;
  const int httpsPort = freePort();
  config_.set("https.listen", "127.0.0.1:" + std::to_string(httpsPort));
  config_.set("tls.cert", cert);
  config_.set("tls.key", key);
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string kApiKey = apiKey();
  ASSERT_FALSE(kApiKey.empty());
  HttpAnswer stored = post(httpsPort, "/api/v1/uploads?filename=tls.csv",
                           readFile(exportData("steroids_batch.csv")), "text/csv", kApiKey, cert);
  ASSERT_EQ(stored.status, 202) << stored.body;
  EXPECT_EQ(query("SELECT source_name FROM messages"), "tls.csv");
  // Plain HTTP on the TLS port gets no answer from the API.
  HttpAnswer plain = post(httpsPort, "/api/v1/uploads", "x", "text/csv", kApiKey);
  EXPECT_NE(plain.status, 202);
  ASSERT_TRUE(waitForSample("LC250314-0007"));
}

// An XML export is screened element by element: an attribute named like a patient identifier
// refuses the file whatever its value looks like, and the 422 names the element and attribute.
TEST_F(ExportTest, XmlExportWithAPatientAttributeIsRefused) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string kApiKey = apiKey();
  ASSERT_FALSE(kApiKey.empty());
  std::string xml = readFile(testDataDir() + "/../xml/targetlynx_small.xml");
  ASSERT_FALSE(xml.empty());
  const std::string marker = "<SAMPLE id=\"1\" ";
  size_t at = xml.find(marker);
  ASSERT_NE(at, std::string::npos);
  xml.insert(at + marker.size(), "patientname=\"Quenby Harrowgate\" ");
  HttpAnswer refused =
      post(config_.httpPort, "/api/v1/uploads?filename=b7.xml", xml, "application/xml", kApiKey);
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find("SAMPLE@patientname"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("column.patient"), std::string::npos) << refused.body;
  for (const auto& label : findSecrets(refused.body, patientSecrets())) {
    ADD_FAILURE() << label << " in the 422 answer";
  }
  // The same file without the attribute is imported.
  HttpAnswer clean =
      post(config_.httpPort, "/api/v1/uploads?filename=b7.xml",
           readFile(testDataDir() + "/../xml/targetlynx_small.xml"), "application/xml", kApiKey);
  EXPECT_EQ(clean.status, 202) << clean.body;
  ASSERT_TRUE(clean.json());
  EXPECT_EQ(clean.json()->optValue<std::string>("format", ""), "targetlynx-xml");
  stopEngine();
  for (const auto& h : findSecretsInFiles(engineOutputs(), patientSecrets())) {
    ADD_FAILURE() << h.label << " found in " << h.where;
  }
}

// Every LC-MS/MS corpus export dropped into the inbox: the readable ones are imported, the
// malformed and binary ones are rejected with a reason that names a line.
TEST_F(ExportTest, CorpusFilesDroppedIntoTheInbox) {
  const std::string corpus = sharedDir() + "/corpus/lcms";
  if (!fs::is_directory(corpus)) GTEST_SKIP() << "no ../shared corpus beside the checkout";
  // Files the parsers reject on purpose (see tests/unit/csv): rows misaligned with the header,
  // a missing header row, and Excel workbooks.
  const std::set<std::string> rejected = {
      "mrmhub_12_Testdata_MHQuant_DefaultSampleInfo_RT-Areas-FWHM-withQuantMsg.csv",
      "mrmhub_14_Testdata_MHQuant_Corrupt_RowAreaDeleted.csv", "p2m2tools_data.test2.XLS",
      "p2m2tools_resuts_inj1_Long.XLS", "p2m2tools_test_big_number_10.XLS"};
  config_.connectors.at(0).mappings = defaultMappingsPath();
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  std::vector<std::string> names;
  for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
    if (!entry.is_regular_file() || entry.path().filename() == "SOURCES.md") continue;
    names.push_back(entry.path().filename().string());
    drop(entry.path().filename().string(), readFile(entry.path().string()));
  }
  ASSERT_FALSE(names.empty());
  for (const auto& name : names) {
    if (rejected.count(name)) {
      ASSERT_TRUE(waitForFile(inbox_ + "/rejected/" + name + ".reason", 60000ms)) << name;
      EXPECT_NE(readFile(inbox_ + "/rejected/" + name + ".reason").find("line "), std::string::npos)
          << name << " is rejected without a line";
    } else {
      EXPECT_TRUE(waitForFile(inbox_ + "/processed/" + name, 60000ms))
          << name << ": " << readFile(inbox_ + "/rejected/" + name + ".reason");
    }
  }
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), std::to_string(names.size() - rejected.size()));
}

}  // namespace
}  // namespace labgate::it

namespace labgate::it {
namespace {

// The MassHunter clinical batch of the corpus (corticosterone, cortisol, cortisone: 4 response
// checks, 2 double blanks, 3 blanks, calibrators A–F, QC Low and High × 5) through the engine with
// the shipped clinical profile (Westgard off: the batch's analytes have no QC targets). What a
// reviewer reading the file expects:
//  - Corticosterone and cortisol: calibrator B is out (vendor accuracy 80.7 % and 77.1 %), so only
//    5 of 6 levels pass and the curves fail the ≥ 6 levels rule (FDA 2018 / ICH M10): re-run.
//    Cortisone's six calibrators all pass.
//  - Cortisol QC Low: 3 of 5 outside 85–115 % (123.6, 118.8, 122.8 %): fewer than half pass at that
//    level, so the cortisol run fails QC acceptance. Corticosterone QC Low loses 2 of 5 (115.9,
//    122.0 %) and cortisone QC High 1 of 5 (116.1 %): single QC failures, runs accepted.
//  - No blank follows calibrator F, so carryover cannot be assessed for any analyte: one finding
//    per analyte for the reviewer, which holds nothing by itself (issue 20: it used to hold every
//    patient result; results after one above the ULOQ are held by CARRYOVER_SUSPECT instead).
TEST_F(ExportTest, ClinicalBatchGetsTheFindingsAReviewerExpects) {
  const std::string file =
      sharedDir() + "/corpus/lcms/masshunter_quant/mrmhub_MH_ext_cal_quant_assay.csv";
  if (!fileExists(file)) GTEST_SKIP() << "no ../shared corpus beside the checkout";
  config_.connectors.at(0).extra["rules"] = clinicalRulesWithoutWestgard();
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  drop("clinical.csv", readFile(file));
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/clinical.csv"))
      << readFile(inbox_ + "/rejected/clinical.csv.reason");

  EXPECT_EQ(query("SELECT rules_version FROM messages"), "lcms-default-2");
  auto findings = [&](const std::string& where) {
    return query(
        "SELECT group_concat(analyte || ':' || action, ',') FROM (SELECT analyte, action "
        "FROM batch_findings WHERE " +
        where + " ORDER BY analyte)");
  };
  EXPECT_EQ(findings("rule_id = 'calibration.curve' AND severity = 'error'"),
            "Corticosterone:reject,Cortisol:reject");
  EXPECT_EQ(findings("rule_id = 'qc.run_acceptance' AND severity = 'error'"), "Cortisol:reject");
  EXPECT_EQ(query("SELECT COUNT(*) FROM batch_findings WHERE rule_id = 'qc.accuracy' AND "
                  "severity = 'error'"),
            "6");
  EXPECT_EQ(query("SELECT group_concat(analyte, ',') FROM (SELECT analyte FROM batch_findings "
                  "WHERE rule_id = 'qc.accuracy' AND message LIKE '%QC_Low_3%' ORDER BY analyte)"),
            "Corticosterone,Cortisol");
  EXPECT_EQ(findings("rule_id = 'calibration.carryover' AND severity = 'warning'"),
            "Corticosterone:release,Cortisol:release,Cortisone:release");
  // This run's QC values are in the history for Westgard across runs; the slopes for trends.
  EXPECT_EQ(query("SELECT COUNT(*) FROM qc_history"), "30");
  EXPECT_EQ(query("SELECT COUNT(*) FROM batch_metrics WHERE metric = 'cal_slope'"), "3");
  // The console's charts: per-batch metrics, QC points with z, failures by rule.
  const std::string viewerKey = apiKey("viewer");
  ASSERT_FALSE(viewerKey.empty());
  HttpAnswer diag =
      get(config_.httpPort, "/api/v1/instruments/qqq-01/diagnostics?batches=5", viewerKey);
  ASSERT_EQ(diag.status, 200) << diag.body;
  auto json = diag.json();
  ASSERT_TRUE(json);
  size_t slopes = 0;
  for (size_t i = 0; i < json->getArray("metrics")->size(); ++i) {
    if (json->getArray("metrics")->getObject(i)->getValue<std::string>("metric") == "cal_slope") {
      ++slopes;
    }
  }
  EXPECT_EQ(slopes, 3u);
  EXPECT_EQ(json->getArray("qc")->size(), 6u) << "three analytes x two QC levels";
  auto failures = json->getArray("failures_by_rule");
  bool curve = false;
  for (size_t i = 0; i < failures->size(); ++i) {
    auto o = failures->getObject(i);
    if (o->getValue<std::string>("rule") == "calibration.curve") {
      curve = true;
      EXPECT_EQ(o->getValue<int>("count"), 2);
    }
  }
  EXPECT_TRUE(curve);
  EXPECT_EQ(
      get(config_.httpPort, "/api/v1/instruments/qqq-01/diagnostics?batches=0", viewerKey).status,
      400);
  // A batch of calibrators and QCs alone sends nothing to the LIS.
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(lis_->messages().empty());
}

// Our own batch has only two calibrators: with the rule set on, no curve can be accepted, so its
// patient results are held for a re-run and nothing reaches the LIS.
TEST_F(ExportTest, RulesStopPatientResultsOfAnUnacceptableCurve) {
  config_.connectors.at(0).extra["rules"] = clinicalRulesWithoutWestgard();
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  drop("steroids.csv", readFile(exportData("steroids_batch.csv")));
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/steroids.csv"));
  EXPECT_EQ(query("SELECT COUNT(*) FROM results r JOIN samples s ON s.id = r.sample_row_id WHERE "
                  "s.kind = 'unknown' AND r.internal_standard = 0 AND r.disposition = 'reject'"),
            "4");
  EXPECT_EQ(query("SELECT COUNT(*) FROM findings WHERE rule_id = 'calibration.curve' AND "
                  "action = 'reject'"),
            "4");
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(lis_->messages().empty());
  EXPECT_EQ(health().destination("lis", "queue_depth"), 0);
}

}  // namespace
}  // namespace labgate::it
