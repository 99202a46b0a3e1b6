// The message flow end to end through the real labgated: ASTM frames in, HL7 ORU^R01 out to a
// fake LIS over MLLP. Covers the happy path, E1381 framing variants (ETB continuation, long
// frames), checksum errors and retransmission, unmapped codes, and the LIS's AA/AE/AR answers.
#include <algorithm>
#include <map>
#include <mutex>

#include "labgate/version.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_postgres.h"

namespace labgate::it {
namespace {

class FlowTest : public EngineTest {};

// Sends one message in its own ENQ…EOT session on a fresh connection; expects every frame ACKed.
void sendAccepted(int port, const std::vector<std::string>& records,
                  astm::Framing framing = astm::Framing::kRecordPerFrame) {
  AstmInstrument instrument(port);
  Transfer t = instrument.sendSession(records, framing);
  ASSERT_TRUE(t.complete) << "frame " << t.replies.size() << " answered "
                          << astm::replyName(t.finalReply);
}

TEST_F(FlowTest, HappyPathDeliversOneOruWithMappedCodes) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  Health before = health();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before.root->optValue<std::string>("status", ""), "ok");
  EXPECT_EQ(before.root->optValue<std::string>("version", ""), std::string(kVersion));
  EXPECT_EQ(before.connectorText("lab1", "kind"), "astm-tcp");
  EXPECT_EQ(before.connectorText("lab1", "state"), "listening");
  EXPECT_EQ(before.connectorText("lab1", "listen"), "127.0.0.1:" + std::to_string(astmPort()));
  EXPECT_EQ(before.destinationText("lis", "kind"), "hl7-mllp");
  EXPECT_EQ(before.destination("lis", "delivered"), 0);

  const std::string s1 = newSampleId("HP");
  const std::string s2 = newSampleId("HP");
  AstmInstrument instrument(astmPort());
  ASSERT_EQ(instrument.enq(), astm::kAck) << "ENQ not acknowledged";
  Transfer t =
      instrument.sendMessage(buildAstmMessage(twoSamplesThreeResults(s1, s2), {}, {}, "CTL1"));
  EXPECT_TRUE(t.complete) << "frame " << t.replies.size() << " answered "
                          << astm::replyName(t.finalReply);
  EXPECT_EQ(std::count(t.replies.begin(), t.replies.end(), astm::kAck),
            static_cast<long>(t.replies.size()));
  instrument.eot();

  ASSERT_TRUE(waitForSample(s1)) << "no ORU with the first sample reached the LIS";
  ASSERT_TRUE(waitForDelivered(1)) << "/health never showed delivered = 1";
  auto messages = lis_->messages();
  ASSERT_EQ(messages.size(), 1u) << "exactly one ORU expected for one message";
  const std::string& oru = messages[0];

  auto msh = hl7Segments(oru).at(0);
  EXPECT_EQ(hl7Field(msh, 9).rfind("ORU^R01", 0), 0u) << "MSH-9 is not ORU^R01";
  EXPECT_EQ(hl7Field(msh, 12), "2.5.1") << "MSH-12";
  EXPECT_FALSE(hl7Field(msh, 10).empty()) << "MSH-10 control id empty";
  EXPECT_TRUE(segmentsNamed(oru, "PID").empty()) << "an ORU must carry no PID segment";

  EXPECT_EQ(obrSampleIds(oru), (std::vector<std::string>{s1, s2})) << "OBR-3 sample ids";
  EXPECT_EQ(segmentsNamed(oru, "ORC").size(), 2u) << "one ORC per sample";

  auto obx = observations(oru);
  ASSERT_EQ(obx.size(), 3u) << "one OBX per released result";
  EXPECT_EQ(obx[0].code, "2345-7");
  EXPECT_EQ(obx[0].name, "Glucose");
  EXPECT_EQ(obx[0].system, "L");
  EXPECT_EQ(obx[0].value, "5.6");
  EXPECT_EQ(obx[0].units, "mmol/L");
  EXPECT_EQ(obx[1].code, "2160-0");
  EXPECT_EQ(obx[1].value, "0.82");
  EXPECT_EQ(obx[1].units, "mg/dL");
  EXPECT_EQ(obx[2].code, "2951-2");
  EXPECT_EQ(obx[2].value, "140");
  EXPECT_EQ(lis_->malformedFrames(), 0);

  ASSERT_TRUE(waitUntil([&] { return health().destination("lis", "queue_depth") == 0; }, 10000ms))
      << "queue_depth did not return to 0";
  EXPECT_EQ(settledDestination("delivered", 1), 1);
  EXPECT_EQ(settledDestination("dead_letter", 0), 0);
  EXPECT_EQ(settledConnector("messages_accepted", 1), 1);
  EXPECT_EQ(settledConnector("messages_refused", 0), 0);

  ASSERT_NO_FATAL_FAILURE(stopEngine());
  if (testStoreIsPostgres()) {  // issue 17: the store is the PostgreSQL database, no file
    EXPECT_FALSE(fileExists(config_.dataDir + "/labgate.db")) << "a SQLite file beside PostgreSQL";
  } else {
    EXPECT_TRUE(fileExists(config_.dataDir + "/labgate.db")) << "no database under data.dir";
  }
  EXPECT_TRUE(fileExists(config_.dataDir + "/logs/labgated.log")) << "no log under data.dir/logs";
  EXPECT_TRUE(listFilesRecursive(engine_->workingDir()).empty())
      << "labgated wrote into its working directory; data.dir is the only place it may write";
  for (const auto& f : listFilesRecursive(config_.dataDir)) {
    const std::string name = f.substr(config_.dataDir.size() + 1);
    // signing-key.pem: the Ed25519 key of electronic signatures (docs/signatures.md).
    EXPECT_TRUE(name.rfind("labgate.db", 0) == 0 || name.rfind("logs/", 0) == 0 ||
                name == "signing-key.pem")
        << "unexpected file under data.dir: " << name;
  }
}

TEST_F(FlowTest, SeveralMessagesInOneSessionAreDeliveredInOrder) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  std::vector<std::string> ids;
  AstmInstrument instrument(astmPort());
  ASSERT_EQ(instrument.enq(), astm::kAck);
  for (int i = 0; i < 3; ++i) {
    ids.push_back(newSampleId("SES"));
    Transfer t =
        instrument.sendMessage(buildAstmMessage({{ids.back(), {{"K", "4.5", "mmol/L"}}, {}}}));
    ASSERT_TRUE(t.complete) << "message " << i + 1 << " of the session: frame " << t.replies.size()
                            << " answered " << astm::replyName(t.finalReply);
  }
  instrument.eot();
  ASSERT_TRUE(
      lis_->waitFor([&](const auto& m) { return timesReceived(m, ids.back()) > 0; }, 30000ms));
  EXPECT_EQ(receivedSampleIds(lis_->messages()), ids);
  EXPECT_EQ(settledConnector("messages_accepted", 3), 3);
}

TEST_F(FlowTest, HealthCountsOpenConnections) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  EXPECT_EQ(health().connector("lab1", "connections"), 0);
  {
    AstmInstrument a(astmPort());
    AstmInstrument b(astmPort());
    EXPECT_EQ(settledConnector("connections", 2), 2) << "two instruments connected";
  }
  EXPECT_EQ(settledConnector("connections", 0), 0) << "both disconnected";
}

TEST_F(FlowTest, SigintStopsCleanly) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  auto code = engine_->stop(20000ms, SIGINT);
  ASSERT_TRUE(code.has_value()) << "labgated did not exit within 20 s of SIGINT";
  EXPECT_EQ(*code, 0);
}

TEST_F(FlowTest, EtbContinuationAndLongFramesAreAccepted) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  // 1. The whole message cut into 30-character frames: ETB frames split records anywhere.
  const std::string etbSample = newSampleId("ETB");
  auto etbRecords = buildAstmMessage({{etbSample, {{"GLU", "6.1", "mmol/L"}}, {}}});
  ASSERT_GT(astm::splitIntoFrames(etbRecords, astm::Framing::kContinuous, 30).size(), 4u);
  {
    AstmInstrument instrument(astmPort());
    ASSERT_EQ(instrument.enq(), astm::kAck);
    Transfer t = instrument.sendMessage(etbRecords, astm::Framing::kContinuous, false, 30);
    EXPECT_TRUE(t.complete) << "ETB message: frame " << t.replies.size() << " answered "
                            << astm::replyName(t.finalReply);
    instrument.eot();
  }

  // 2. One record longer than 240 characters (a long comment) split into ETB frames.
  const std::string longRecordSample = newSampleId("LREC");
  TestSample withLongComment{
      longRecordSample, {{"K", "4.1", "mmol/L"}}, {std::string(600, 'x') + " reagent lot ok"}};
  auto longRecords = buildAstmMessage({withLongComment});
  ASSERT_GT(astm::splitIntoFrames(longRecords, astm::Framing::kRecordPerFrame).size(),
            longRecords.size());
  ASSERT_NO_FATAL_FAILURE(sendAccepted(astmPort(), longRecords));

  // 3. A 3 KB message in a single end frame (instruments like the Sysmex XN do this).
  const std::string bigSample = newSampleId("BIG");
  TestSample big{bigSample, {}, {}};
  const char* codes[] = {"GLU", "CREA", "NA", "K"};
  const char* values[] = {"5.6", "0.82", "140", "4.1"};
  const char* units[] = {"mmol/L", "mg/dL", "mmol/L", "mmol/L"};
  for (int i = 0; i < 40; ++i) big.results.push_back({codes[i % 4], values[i % 4], units[i % 4]});
  auto bigRecords = buildAstmMessage({big});
  size_t bigSize = astm::splitIntoFrames(bigRecords, astm::Framing::kSingleFrame).at(0).text.size();
  ASSERT_GE(bigSize, 2000u);
  while (bigSize < 3072) {  // pad with instrument comments up to 3 KB
    big.resultComments.push_back("instrument comment without identifiers, reagent pack checked");
    bigRecords = buildAstmMessage({big});
    bigSize = astm::splitIntoFrames(bigRecords, astm::Framing::kSingleFrame).at(0).text.size();
  }
  ASSERT_NO_FATAL_FAILURE(sendAccepted(astmPort(), bigRecords, astm::Framing::kSingleFrame));

  for (const auto& id : {etbSample, longRecordSample, bigSample}) {
    EXPECT_TRUE(waitForSample(id)) << "sample " << id << " was not delivered";
  }
  auto messages = lis_->messages();
  for (const auto& m : messages) {
    auto ids = obrSampleIds(m);
    if (std::find(ids.begin(), ids.end(), bigSample) != ids.end()) {
      EXPECT_EQ(observations(m).size(), 40u) << "every result of the 3 KB frame";
    }
    if (std::find(ids.begin(), ids.end(), etbSample) != ids.end()) {
      auto obx = observations(m);
      ASSERT_EQ(obx.size(), 1u);
      EXPECT_EQ(obx[0].value, "6.1") << "ETB frames must be joined without inserted bytes";
    }
  }
  EXPECT_EQ(settledConnector("messages_accepted", 3), 3);
}

TEST_F(FlowTest, BadChecksumIsNakedAndRetransmissionAccepted) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  const std::string sample = newSampleId("CK");
  auto frames = astm::splitIntoFrames(buildAstmMessage({{sample, {{"GLU", "7.2", "mmol/L"}}, {}}}),
                                      astm::Framing::kRecordPerFrame);
  AstmInstrument instrument(astmPort());
  ASSERT_EQ(instrument.enq(), astm::kAck);
  for (size_t i = 0; i < frames.size(); ++i) {
    const int fn = instrument.nextFn();
    // Corrupt the checksum of the second frame and of the final frame (the one that commits).
    if (i == 1 || i + 1 == frames.size()) {
      std::string bad = astm::frame(fn, frames[i].text, frames[i].final);
      char& c1 = bad[bad.size() - 4];
      c1 = c1 == '0' ? '1' : '0';
      EXPECT_EQ(instrument.sendRawAndRead(bad), astm::kNak)
          << "frame " << i + 1 << " with a wrong checksum must be NAKed";
    }
    int reply = instrument.sendFrame(frames[i].text, frames[i].final);
    ASSERT_EQ(reply, astm::kAck) << "frame " << i + 1 << " (FN " << fn << ") answered "
                                 << astm::replyName(reply);
  }
  instrument.eot();

  // A second message afterwards: once it arrives, everything before it has arrived (in order).
  const std::string after = newSampleId("CK");
  ASSERT_NO_FATAL_FAILURE(
      sendAccepted(astmPort(), buildAstmMessage({{after, {{"K", "3.9", "mmol/L"}}, {}}})));
  ASSERT_TRUE(waitForSample(after));
  auto messages = lis_->messages();
  EXPECT_EQ(timesReceived(messages, sample), 1u) << "the retransmitted message, exactly once";
  EXPECT_EQ(settledConnector("messages_accepted", 2), 2);
}

TEST_F(FlowTest, UnmappedResultsAreHeldAndMappedOnesStillDelivered) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  const std::string mixed = newSampleId("UM");
  ASSERT_NO_FATAL_FAILURE(sendAccepted(
      astmPort(),
      buildAstmMessage(
          {{mixed,
            {{"GLU", "5.1", "mmol/L"}, {"ZZNOTMAPPED", "12", "U/L"}, {"K", "4.4", "mmol/L"}},
            {}}})));
  const std::string allUnmapped = newSampleId("UA");
  ASSERT_NO_FATAL_FAILURE(sendAccepted(
      astmPort(),
      buildAstmMessage(
          {{allUnmapped, {{"ZZNOTMAPPED", "12", "U/L"}, {"QQUNKNOWN", "3", "U/L"}}, {}}})));
  const std::string sentinel = newSampleId("UZ");
  ASSERT_NO_FATAL_FAILURE(
      sendAccepted(astmPort(), buildAstmMessage({{sentinel, {{"NA", "139", "mmol/L"}}, {}}})));

  ASSERT_TRUE(waitForSample(sentinel)) << "the message after the all-unmapped one never arrived";
  auto messages = lis_->messages();
  EXPECT_EQ(timesReceived(messages, allUnmapped), 0u)
      << "no ORU may be sent for a message whose every result is held";
  ASSERT_EQ(timesReceived(messages, mixed), 1u);
  for (const auto& m : messages) {
    auto ids = obrSampleIds(m);
    if (std::find(ids.begin(), ids.end(), mixed) == ids.end()) continue;
    auto obx = observations(m);
    ASSERT_EQ(obx.size(), 2u) << "the unmapped result must be held, the two mapped ones sent";
    EXPECT_EQ(obx[0].code, "2345-7");
    EXPECT_EQ(obx[1].code, "2823-3");
    EXPECT_EQ(m.find("ZZNOTMAPPED"), std::string::npos) << "held result leaked into the ORU";
  }
  EXPECT_EQ(settledConnector("messages_accepted", 3), 3) << "held results are still accepted";
  EXPECT_EQ(settledDestination("dead_letter", 0), 0);

  // The store: held results kept with their finding, released ones released.
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  const std::string db = config_.dataDir + "/labgate.db";
  auto held = storeQuery(db,
                         "SELECT count(*) FROM results r JOIN findings f ON f.result_id = r.id "
                         "WHERE r.disposition = 'hold' AND f.rule_id = 'mapping.unmapped';");
  ASSERT_TRUE(held.has_value()) << "the store could not be read through StoreReader";
  EXPECT_EQ(*held, "3") << "held results with a mapping.unmapped finding (1 + 2)";
  EXPECT_EQ(
      storeQuery(db, "SELECT count(*) FROM results WHERE disposition = 'release';").value_or("?"),
      "3")
      << "released results (2 + 1)";
  EXPECT_EQ(storeQuery(db, "SELECT count(*) FROM outbound;").value_or("?"), "2")
      << "no outbound row for the message whose every result is held";
}

TEST_F(FlowTest, ErrorAndRejectAcksDeadLetterAndTheQueueMovesOn) {
  lis_->setPolicy([](const std::string& message) {
    for (const auto& id : obrSampleIds(message)) {
      if (id.rfind("AE", 0) == 0) return AckMode::kAE;
      if (id.rfind("AR", 0) == 0) return AckMode::kAR;
    }
    return AckMode::kAA;
  });
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  const std::string rejected = newSampleId("AE");
  const std::string good = newSampleId("OK");
  const std::string refusedByLis = newSampleId("AR");
  const std::string last = newSampleId("OK");
  ASSERT_NO_FATAL_FAILURE(
      sendAccepted(astmPort(), buildAstmMessage({{rejected, {{"GLU", "5.0", "mmol/L"}}, {}}})));
  ASSERT_NO_FATAL_FAILURE(
      sendAccepted(astmPort(), buildAstmMessage({{good, {{"GLU", "5.2", "mmol/L"}}, {}}})));
  ASSERT_TRUE(waitForSample(good)) << "the message after an AE was not delivered";
  ASSERT_TRUE(waitUntil([&] { return health().destination("lis", "dead_letter") == 1; }, 10000ms))
      << "dead_letter did not reach 1 after an AE";

  ASSERT_NO_FATAL_FAILURE(
      sendAccepted(astmPort(), buildAstmMessage({{refusedByLis, {{"K", "4.0", "mmol/L"}}, {}}})));
  ASSERT_NO_FATAL_FAILURE(
      sendAccepted(astmPort(), buildAstmMessage({{last, {{"K", "4.2", "mmol/L"}}, {}}})));
  ASSERT_TRUE(waitForSample(last)) << "the message after an AR was not delivered";
  ASSERT_TRUE(waitUntil([&] { return health().destination("lis", "dead_letter") == 2; }, 10000ms))
      << "dead_letter did not reach 2 after an AR";

  auto messages = lis_->messages();
  EXPECT_EQ(timesReceived(messages, rejected), 1u) << "an AE'd message must not be retried";
  EXPECT_EQ(timesReceived(messages, good), 1u);
  EXPECT_EQ(timesReceived(messages, refusedByLis), 1u) << "an AR'd message must not be retried";
  EXPECT_EQ(receivedSampleIds(messages),
            (std::vector<std::string>{rejected, good, refusedByLis, last}))
      << "delivery order";
  EXPECT_EQ(settledDestination("delivered", 2), 2);
  EXPECT_EQ(settledDestination("queue_depth", 0), 0);
  EXPECT_EQ(settledDestination("dead_letter", 2), 2);

  // The store keeps the reason: dead rows with the LIS's code, and an audit event each.
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  const std::string db = config_.dataDir + "/labgate.db";
  auto dead = storeQuery(db,
                         "SELECT ack_code || ':' || CASE WHEN last_error <> '' THEN '1' ELSE "
                         "'0' END FROM outbound WHERE state = 'dead' ORDER BY id;");
  ASSERT_TRUE(dead.has_value()) << "the store could not be read through StoreReader";
  EXPECT_EQ(*dead, "AE:1\nAR:1") << "dead-letter rows: ack code and a non-empty reason";
  EXPECT_EQ(storeQuery(db, "SELECT count(*) FROM audit WHERE action = 'outbound.dead_letter';")
                .value_or("?"),
            "2");
  EXPECT_EQ(storeQuery(db, "SELECT count(*) FROM audit WHERE action = 'outbound.delivered';")
                .value_or("?"),
            "2");
}

TEST_F(FlowTest, SilentLisIsRetriedUntilItAnswers) {
  config_.destinations[0].ackTimeoutSeconds = 1;
  std::mutex mutex;
  std::map<std::string, int> seen;
  lis_->setPolicy([&](const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& id : obrSampleIds(message)) {
      if (id.rfind("SIL", 0) == 0 && ++seen[id] <= 2) return AckMode::kSilent;
    }
    return AckMode::kAA;
  });
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  const std::string silent = newSampleId("SIL");
  const std::string next = newSampleId("NXT");
  ASSERT_NO_FATAL_FAILURE(
      sendAccepted(astmPort(), buildAstmMessage({{silent, {{"GLU", "5.3", "mmol/L"}}, {}}})));
  ASSERT_NO_FATAL_FAILURE(
      sendAccepted(astmPort(), buildAstmMessage({{next, {{"GLU", "5.4", "mmol/L"}}, {}}})));
  ASSERT_TRUE(waitForSample(next, 60000ms)) << "the queue did not get past an unanswered ORU";
  EXPECT_EQ(settledDestination("delivered", 2), 2);
  EXPECT_EQ(settledDestination("dead_letter", 0), 0) << "a missing ACK is not a rejection";
  auto messages = lis_->messages();
  EXPECT_EQ(timesReceived(messages, silent), 3u) << "two unanswered attempts, then the AA'd one";
  EXPECT_EQ(timesReceived(messages, next), 1u);
  auto ids = receivedSampleIds(messages);
  EXPECT_EQ(ids.back(), next) << "the next message overtook the one being retried";
}

TEST_F(FlowTest, LisDownQueuesInOrderAndDeliversWhenItComesUp) {
  ASSERT_NO_FATAL_FAILURE(startEngine());  // the LIS is not listening yet

  std::vector<std::string> sent;
  for (int i = 0; i < 6; ++i) {
    sent.push_back(newSampleId("Q"));
    ASSERT_NO_FATAL_FAILURE(sendAccepted(
        astmPort(), buildAstmMessage({{sent.back(), {{"GLU", "5.5", "mmol/L"}}, {}}})));
  }
  ASSERT_TRUE(waitUntil([&] { return health().destination("lis", "queue_depth") == 6; }, 10000ms))
      << "queue_depth did not grow to 6 while the LIS was down (last seen "
      << health().destination("lis", "queue_depth") << ")";
  EXPECT_EQ(health().destination("lis", "delivered"), 0);
  EXPECT_NE(health().destinationText("lis", "state"), "idle") << "state while the LIS is down";
  EXPECT_FALSE(health().destinationText("lis", "last_error").empty())
      << "last_error should say why delivery fails";

  startLis();
  ASSERT_TRUE(lis_->waitFor(
      [&](const std::vector<std::string>& m) {
        return std::all_of(sent.begin(), sent.end(),
                           [&](const std::string& id) { return timesReceived(m, id) > 0; });
      },
      30000ms))
      << "not every queued message arrived after the LIS came up";
  auto ids = receivedSampleIds(lis_->messages());
  EXPECT_EQ(ids, sent) << "delivered out of order or with duplicates";
  ASSERT_TRUE(waitUntil([&] { return health().destination("lis", "queue_depth") == 0; }, 10000ms));
  EXPECT_EQ(settledDestination("delivered", 6), 6);
}

TEST(Programs, LabgateVersionPrintsTheVersion) {
  TempDir tmp;
  const std::string program = binDir() + "/labgate";
  ASSERT_TRUE(fileExists(program)) << program << " not built";
  ProgramRun run = runProgram(program, {"version"}, 20000ms, tmp.path());
  ASSERT_TRUE(run.finished) << "labgate version did not exit within 20 s";
  EXPECT_EQ(run.exitCode, 0);
  EXPECT_NE(run.out.find(kVersion), std::string::npos) << "stdout lacks the version " << kVersion;
}

TEST(Programs, LabgatedHelpListsConfigOption) {
  TempDir tmp;
  const std::string program = binDir() + "/labgated";
  ASSERT_TRUE(fileExists(program)) << program << " not built";
  ProgramRun run = runProgram(program, {"--help"}, 20000ms, tmp.path());
  ASSERT_TRUE(run.finished) << "labgated --help did not exit within 20 s";
  EXPECT_EQ(run.exitCode, 0);
  EXPECT_NE((run.out + run.err).find("--config"), std::string::npos) << "--help lacks --config";
}

}  // namespace
}  // namespace labgate::it
