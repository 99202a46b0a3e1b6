// Issue 18, findings 1, 5 and 11 (part), through the real labgated:
//  - a resend is the same sender, control id AND content: an HL7 message that reuses a sender's
//    MSH-10 with other content is stored and delivered (audited "message.control_id_reused",
//    logged as a warning), an exact resend is still stored once; ASTM messages sharing H-3 are
//    all stored (docs/adr/0010-resend-is-same-content.md);
//  - no log line, .reason file or other engine output names the MSH-10 of a refused HL7 message
//    or the file name of a refused export; the refusal lines still name location and pattern;
//  - invalid UTF-8 from an ASTM instrument is never forwarded in an ORU that declares UTF-8:
//    refused with a NAK under astm.charset = utf-8 (the default), converted under latin-1.
// Identifying values here are invented; assertions print labels, never the values.
#include <filesystem>
#include <iostream>

#include "tests/integration/harness_api.h"
#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

namespace fs = std::filesystem;

/// The engine's own log file (log.file defaults to <data.dir>/logs/labgated.log) and its captured
/// stdout/stderr, read together.
std::string engineLogText(const EngineConfig& config, const EngineProcess& engine) {
  std::string text;
  for (const auto& path : listFilesRecursive(config.dataDir + "/logs")) text += readFile(path);
  for (const auto& path : engine.capturePaths()) {
    if (fileExists(path)) text += readFile(path);
  }
  return text;
}

/// The log lines (of `text`) that contain `needle`.
std::vector<std::string> linesWith(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.find(needle) != std::string::npos) out.push_back(line);
    start = end + 1;
  }
  return out;
}

/// True when `bytes` is valid UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
/// U+10FFFF). Written here, independently of the engine's own check.
bool validUtf8(const std::string& bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= bytes.size()) return false;  // truncated
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(bytes[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const uint32_t minimum = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
    if (cp < minimum || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Finding 1 (HL7) and finding 5 (HL7)

class SecurityResendHl7Test : public Hl7EngineTest {};

TEST_F(SecurityResendHl7Test, ReusedControlIdWithOtherContentIsStoredDeliveredAuditedAndLogged) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string sample = newSampleId("REUSE");
  OruSpec first = cleanOru(sample);
  first.results = {{"GLU", "5.6", "mmol/L"}};
  OruSpec second = first;  // same sender, same MSH-10: the instrument restarted its counter
  second.results = {{"GLU", "7.9", "mmol/L"}};
  const std::string firstText = buildOru(first), secondText = buildOru(second);

  sendExpecting(firstText, first.controlId, "AA", "first message");
  ASSERT_TRUE(waitForSample(sample)) << "the first message did not reach the LIS";
  sendExpecting(secondText, second.controlId, "AA", "second message, same MSH-10");
  // An exact resend of the second (the sender lost our ACK) is acknowledged and stored once.
  sendExpecting(secondText, second.controlId, "AA", "exact resend of the second message");

  auto bothValues = [&](const std::vector<std::string>& messages) {
    bool low = false, high = false;
    for (const auto& m : messages) {
      for (const auto& obx : observations(m)) {
        low = low || obx.value == "5.6";
        high = high || obx.value == "7.9";
      }
    }
    return low && high;
  };
  EXPECT_TRUE(lis_->waitFor(bothValues, 30000ms))
      << "both results (5.6 and 7.9) must reach the LIS: the second is not a resend";

  // A later message reaching the LIS shows nothing queued before it is still on its way.
  const std::string sentinel = newSampleId("SEN");
  OruSpec last = cleanOru(sentinel);
  sendExpecting(buildOru(last), last.controlId, "AA", "sentinel");
  ASSERT_TRUE(waitForSample(sentinel));
  EXPECT_EQ(deliveredCount(sample), 2u) << "first + second; the exact resend is not forwarded";
  EXPECT_EQ(settledHl7("messages_accepted", 3), 3);
  EXPECT_EQ(settledHl7("messages_duplicate", 1), 1);
  EXPECT_TRUE(health().ok()) << "the engine still serves";

  const std::string log = engineLogText(config_, *engine_);
  auto warnings = linesWith(log, "reuses the control id of message");
  ASSERT_FALSE(warnings.empty()) << "no log line about the reused control id";
  EXPECT_NE(warnings.front().find(" warning "), std::string::npos)
      << "the reused control id is logged as a warning: " << warnings.front();
  EXPECT_NE(warnings.front().find("stored as new message"), std::string::npos) << warnings.front();
  EXPECT_FALSE(linesWith(log, "is a resend of message").empty())
      << "the exact resend is logged as a resend";
  ApiResponse metrics = apiRequest("GET", config_.httpPort, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(
      metrics.body.find("\nlabgate_messages_control_id_reused_total{connector=\"hl7in\"} 1\n"),
      std::string::npos)
      << "/metrics counts the reused control id";

  ASSERT_NO_FATAL_FAILURE(stopEngine());
  auto stored = storeQuery(databasePath(), "SELECT count(*) FROM messages;");
  ASSERT_TRUE(stored.has_value()) << "the store could not be read through StoreReader";
  EXPECT_EQ(*stored, "3") << "first, second (same MSH-10) and the sentinel";
  EXPECT_EQ(storeQuery(databasePath(),
                       "SELECT count(*) FROM audit WHERE action = 'message.control_id_reused';")
                .value_or("?"),
            "1");
  EXPECT_EQ(
      storeQuery(databasePath(), "SELECT count(*) FROM audit WHERE action = 'message.duplicate';")
          .value_or("?"),
      "1");
}

TEST_F(SecurityResendHl7Test, RefusedMessageControlIdIsNeverLogged) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string kIdentifyingControlId = "SSN078051120";  // an SSN after its cue

  // Refused by the gate: MSH-10 itself is what it hit.
  OruSpec refused = cleanOru(newSampleId("REF"));
  refused.controlId = kIdentifyingControlId;
  Hl7Ack ack = sendExpecting(buildOru(refused), kIdentifyingControlId, "AR", "refused message");
  EXPECT_NE(ack.humanText().find("MSH-10"), std::string::npos) << "the AR names the location";

  // An unreadable header (MSH-2 defines one character twice) carrying the same MSH-10.
  MllpClient client(hl7Port());
  client.send("MSH|^^^^|ANALYZER|LAB-A|LABGATE|LAB|20260115103000||ORU^R01^ORU_R01|" +
              kIdentifyingControlId + "|P|2.5.1\rOBR|1||S1\r");
  auto badHeader = client.readAck();
  ASSERT_TRUE(badHeader) << "no answer to the unreadable header";
  client.close();

  // A clean message afterwards: still served, and its log line is informative.
  OruSpec clean = cleanOru(newSampleId("OK"));
  sendExpecting(buildOru(clean), clean.controlId, "AA", "clean message after the refusals");
  ASSERT_TRUE(waitForSample(clean.sampleId));
  EXPECT_EQ(settledHl7("messages_refused_phi", 1), 1);

  const std::string log = engineLogText(config_, *engine_);
  EXPECT_EQ(log.find("078051120"), std::string::npos)
      << "the refused message's MSH-10 is in the engine's log";
  auto refusal = linesWith(log, "refused");
  bool informative = false;
  for (const auto& line : refusal) {
    informative = informative || (line.find("MSH-10") != std::string::npos &&
                                  line.find("ssn.") != std::string::npos &&
                                  line.find("sha256:") != std::string::npos);
  }
  EXPECT_TRUE(informative)
      << "a refusal line names the location (MSH-10), the pattern id and a digest reference";
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten({{"MSH-10 SSN digits", "078051120"}});
}

// ---------------------------------------------------------------------------------------------
// Finding 1 (ASTM) and finding 11: ASTM connector lab1 of the base fixture.

class SecurityResendAstmTest : public EngineTest {};

TEST_F(SecurityResendAstmTest, MessagesSharingAControlIdAreAllStored) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string sample = newSampleId("ASTMREUSE");
  for (const char* value : {"5.6", "7.9"}) {
    AstmInstrument instrument(astmPort());
    auto records = buildAstmMessage({{sample, {{"GLU", value, "mmol/L"}}, {}}}, {}, {}, "CTL42");
    Transfer t = instrument.sendSession(records);
    ASSERT_TRUE(t.complete) << "message with value " << value << ": final reply "
                            << astm::replyName(t.finalReply);
  }
  EXPECT_TRUE(lis_->waitFor([&](const auto& m) { return timesReceived(m, sample) >= 2; }, 30000ms))
      << "both ASTM messages with H-3 = CTL42 must reach the LIS";
  EXPECT_EQ(settledConnector("messages_accepted", 2), 2);
}

TEST_F(SecurityResendAstmTest, InvalidUtf8IsRefusedWithANakUnderTheDefaultCharset) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string sample = newSampleId("LAT");
  AstmInstrument instrument(astmPort());
  // "é" in ISO 8859-1 (one byte 0xE9): not UTF-8.
  auto records = buildAstmMessage({{sample + "\xE9", {{"GLU", "5.6", "mmol/L"}}, {}}});
  ASSERT_EQ(instrument.enq(), astm::kAck);
  Transfer t = instrument.sendMessage(records);
  EXPECT_EQ(t.finalReply, astm::kNak) << "the message with invalid UTF-8 is refused";
  instrument.eot();
  instrument.close();

  // Still serving: a clean message goes through, and only it reaches the LIS.
  const std::string clean = newSampleId("CLEAN");
  AstmInstrument second(astmPort());
  Transfer ok = second.sendSession(buildAstmMessage({{clean, {{"GLU", "5.6", "mmol/L"}}, {}}}));
  EXPECT_TRUE(ok.complete) << "clean message: " << astm::replyName(ok.finalReply);
  ASSERT_TRUE(waitForSample(clean));
  for (const auto& m : lis_->messages()) {
    EXPECT_TRUE(validUtf8(m)) << "an ORU reaching the LIS is not valid UTF-8";
    EXPECT_EQ(m.find(sample), std::string::npos) << "the refused message was forwarded";
  }
  auto lines = linesWith(engineLogText(config_, *engine_), "not valid UTF-8");
  ASSERT_FALSE(lines.empty()) << "no log line says why the message was refused";
  EXPECT_NE(lines.front().find("astm.charset"), std::string::npos)
      << "the log line names the key to set: " << lines.front();
}

TEST_F(SecurityResendAstmTest, Latin1InstrumentTextReachesTheLisAsValidUtf8) {
  config_.connectors.at(0).extra["astm.charset"] = "latin-1";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string sample = newSampleId("LAT");
  AstmInstrument instrument(astmPort());
  Transfer t =
      instrument.sendSession(buildAstmMessage({{sample + "\xE9", {{"GLU", "5.6", "mmol/L"}}, {}}}));
  ASSERT_TRUE(t.complete) << "final reply " << astm::replyName(t.finalReply);
  const std::string converted = sample + "\xC3\xA9";  // é in UTF-8
  ASSERT_TRUE(waitForSample(converted)) << "the sample id did not arrive converted to UTF-8";
  for (const auto& m : lis_->messages()) {
    EXPECT_TRUE(validUtf8(m)) << "an ORU reaching the LIS is not valid UTF-8";
    EXPECT_NE(m.find("UNICODE UTF-8"), std::string::npos) << "MSH-18 declares UTF-8";
  }
}

// ---------------------------------------------------------------------------------------------
// Finding 5 (exports): a refused file's name is in no log line and no .reason file.

class SecurityResendExportTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    inbox_ = tmp_->file("inbox");
    fs::create_directories(inbox_);
    ConnectorConfig& drop = config_.connectors.at(0);
    drop.name = "lcms1";
    drop.kind = "file-drop";
    drop.instrument = "qqq-01";
    drop.mappings = testDataDir() + "/exports/mappings-lcms.csv";
    drop.extra = {{"inbox", inbox_}, {"poll_ms", "100"}, {"settle_ms", "300"}};
    config_.omit("connector.lcms1.listen");
    config_.omit("connector.lcms1.astm.receive_timeout_seconds");
  }
  void drop(const std::string& name, const std::string& bytes) {
    writeFile(inbox_ + "/." + name + ".tmp", bytes);
    fs::rename(inbox_ + "/." + name + ".tmp", inbox_ + "/" + name);
  }
  std::string inbox_;
};

TEST_F(SecurityResendExportTest, RefusedFileNameIsNeverLoggedNorInItsReasonFile) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string bytes = readFile(testDataDir() + "/exports/steroids_batch.csv");
  const std::string name = "steroids SSN078051120.csv";  // an SSN after its cue
  drop(name, bytes);
  const std::string reasonPath = inbox_ + "/rejected/" + name + ".reason";
  ASSERT_TRUE(waitUntil([&] { return fileExists(reasonPath); }, 30000ms))
      << "the file with an SSN in its name was not rejected";
  const std::string reason = readFile(reasonPath);
  EXPECT_NE(reason.find("refused"), std::string::npos) << "the .reason says it was refused";
  EXPECT_NE(reason.find("file name"), std::string::npos) << "the .reason names the location";
  EXPECT_NE(reason.find("ssn."), std::string::npos) << "the .reason names the pattern id";
  EXPECT_EQ(reason.find("078051120"), std::string::npos) << "the .reason names the file";

  // Still serving: the same content under a clean name is imported.
  drop("steroids clean.csv", bytes);
  ASSERT_TRUE(
      waitUntil([&] { return fileExists(inbox_ + "/processed/steroids clean.csv"); }, 30000ms))
      << "the clean file was not imported";
  EXPECT_TRUE(health().ok());

  const std::string log = engineLogText(config_, *engine_);
  EXPECT_EQ(log.find("078051120"), std::string::npos) << "the refused file's name is logged";
  bool informative = false;
  for (const auto& line : linesWith(log, "refused")) {
    informative = informative || (line.find("file name") != std::string::npos &&
                                  line.find("ssn.") != std::string::npos);
  }
  EXPECT_TRUE(informative) << "a refusal line names the location and the pattern id";
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  // Every file the engine wrote (the database, logs, captures) and the .reason file.
  std::vector<std::string> outputs = engineOutputs();
  outputs.push_back(reasonPath);
  for (const auto& hit : findSecretsInFiles(outputs, {{"file name SSN", "078051120"}})) {
    ADD_FAILURE() << "the refused file's name found in " << hit.where;
  }
}

}  // namespace
}  // namespace labgate::it
