// HL7 v2 over MLLP into the real labgated, results out as ORU^R01 to the fake LIS. Covers the
// acknowledgement contract (AA after commit, MSA-2 = MSH-10, enhanced mode CA then AA, AR with
// ERR-3 = 200 for unsupported types, AR for oversized frames), resends with the same MSH-10
// (acknowledged, not stored or forwarded twice; another sender's message with the same id is
// stored), FHS/BHS batches (one ACK per MSH), bytes outside frames, LF/CRLF segment ends, a UTF-8
// BOM, and TLS (a self-signed certificate made at test time, openssl s_client as the client).
#include <Poco/Exception.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

class Hl7FlowTest : public Hl7EngineTest {};

TEST_F(Hl7FlowTest, CleanOruIsAcknowledgedAndDeliveredWithMappedCodes) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  Health before = health();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before.connectorText(kConnector, "kind"), "hl7-mllp");
  EXPECT_EQ(before.connectorText(kConnector, "state"), "listening");
  EXPECT_EQ(before.connectorText(kConnector, "listen"),
            std::string("127.0.0.1:").append(std::to_string(hl7Port())));
  for (const char* key :
       {"connections", "messages_accepted", "messages_duplicate", "messages_refused",
        "messages_refused_phi", "messages_invalid", "messages_failed", "frames_dropped"}) {
    EXPECT_EQ(before.connector(kConnector, key), 0) << "/health connector field " << key;
  }
  EXPECT_FALSE(before.connectorText(kConnector, "tls").empty()) << "/health connector field tls";

  // 1. No PID segment at all; two results on one sample.
  const std::string s1 = newSampleId("HA");
  OruSpec first = cleanOru(s1);
  first.results = {{"GLU", "5.6", "mmol/L"}, {"CREA", "0.82", "mg/dL"}};
  sendExpecting(buildOru(first), first.controlId, "AA", "ORU without PID");

  // 2. An empty PID (set id only) passes the gate too.
  const std::string s2 = newSampleId("HB");
  OruSpec second = cleanOru(s2);
  second.patientSegments = {"PID|1"};
  second.results = {{"NA", "140", "mmol/L"}};
  sendExpecting(buildOru(second), second.controlId, "AA", "ORU with an empty PID");

  ASSERT_TRUE(waitForSample(s1)) << "the first ORU did not reach the LIS";
  ASSERT_TRUE(waitForSample(s2)) << "the second ORU did not reach the LIS";
  auto messages = lis_->messages();
  ASSERT_EQ(messages.size(), 2u);
  for (const auto& oru : messages) {
    EXPECT_EQ(hl7Field(hl7Segments(oru).at(0), 9).rfind("ORU^R01", 0), 0u) << "MSH-9";
    EXPECT_TRUE(segmentsNamed(oru, "PID").empty()) << "the forwarded ORU must carry no PID";
    auto ids = obrSampleIds(oru);
    auto obx = observations(oru);
    if (ids == std::vector<std::string>{s1}) {
      ASSERT_EQ(obx.size(), 2u);
      EXPECT_EQ(obx[0].code, "2345-7");
      EXPECT_EQ(obx[0].name, "Glucose");
      EXPECT_EQ(obx[0].value, "5.6");
      EXPECT_EQ(obx[0].units, "mmol/L");
      EXPECT_EQ(obx[1].code, "2160-0");
      EXPECT_EQ(obx[1].value, "0.82");
    } else {
      EXPECT_EQ(ids, std::vector<std::string>{s2}) << "OBR-3 must be the sample id";
      ASSERT_EQ(obx.size(), 1u);
      EXPECT_EQ(obx[0].code, "2951-2");
      EXPECT_EQ(obx[0].value, "140");
    }
  }
  EXPECT_EQ(settledHl7("messages_accepted", 2), 2);
  EXPECT_EQ(settledDestination("delivered", 2), 2);
  EXPECT_EQ(settledHl7("connections", 0), 0) << "both clients closed their connections";
}

TEST_F(Hl7FlowTest, ResendWithSameControlIdIsAcknowledgedButForwardedOnce) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string sample = newSampleId("DUP");
  OruSpec spec = cleanOru(sample);
  const std::string message = buildOru(spec);

  sendExpecting(message, spec.controlId, "AA", "original");
  ASSERT_TRUE(waitForSample(sample));
  // The sender lost the ACK and sends the same message again, on a new connection and on the
  // same one twice.
  sendExpecting(message, spec.controlId, "AA", "resend on a new connection");
  {
    MllpClient client(hl7Port());
    for (int i = 0; i < 2; ++i) {
      auto ack = client.exchange(message);
      ASSERT_TRUE(ack) << "resend " << i + 1 << " on one connection: no ACK";
      EXPECT_EQ(ack->code, "AA") << "resend " << i + 1 << " on one connection";
      EXPECT_EQ(ack->controlId, spec.controlId);
    }
  }
  EXPECT_EQ(settledHl7("messages_duplicate", 3), 3);
  EXPECT_EQ(settledHl7("messages_accepted", 1), 1) << "a duplicate is not a new message";

  // The same MSH-10 (and the same content) from another sender is a different message.
  OruSpec other = spec;
  other.sendingApp = "ANALYZER2";
  other.sendingFacility = "LAB-B";
  sendExpecting(buildOru(other), other.controlId, "AA", "same MSH-10 from another sender");
  EXPECT_TRUE(lis_->waitFor([&](const auto& m) { return timesReceived(m, sample) >= 2; }, 30000ms))
      << "the other sender's message was not forwarded (treated as a duplicate?)";
  EXPECT_EQ(settledHl7("messages_accepted", 2), 2);

  // A later message reaching the LIS shows that nothing queued before it is still on its way.
  const std::string sentinel = newSampleId("SEN");
  OruSpec last = cleanOru(sentinel);
  sendExpecting(buildOru(last), last.controlId, "AA", "sentinel");
  ASSERT_TRUE(waitForSample(sentinel));
  EXPECT_EQ(deliveredCount(sample), 2u)
      << "original + other sender's message; the three resends must not be forwarded";
  EXPECT_EQ(settledDestination("delivered", 3), 3);

  ASSERT_NO_FATAL_FAILURE(stopEngine());
  auto stored = storeQuery(databasePath(), "SELECT count(*) FROM messages;");
  ASSERT_TRUE(stored.has_value()) << "the store could not be read through StoreReader";
  EXPECT_EQ(*stored, "3") << "stored messages: original, other sender's, sentinel";
  auto audited =
      storeQuery(databasePath(), "SELECT count(*) FROM audit WHERE action = 'message.duplicate';");
  ASSERT_TRUE(audited);
  EXPECT_EQ(*audited, "3") << "one 'message.duplicate' audit row per resend";
}

TEST_F(Hl7FlowTest, EnhancedModeSendsCommitAcceptThenApplicationAccept) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string sample = newSampleId("ENH");
  OruSpec spec = cleanOru(sample);
  spec.acceptAck = "AL";
  spec.appAck = "AL";
  MllpClient client(hl7Port());
  client.send(buildOru(spec));
  auto commit = client.readAck();
  ASSERT_TRUE(commit) << "no accept acknowledgement";
  EXPECT_TRUE(commit->wellFormed());
  EXPECT_EQ(commit->code, "CA") << "the first ACK in enhanced mode is the commit accept";
  EXPECT_EQ(commit->controlId, spec.controlId);
  auto application = client.readAck();
  ASSERT_TRUE(application) << "no application acknowledgement after CA";
  EXPECT_EQ(application->code, "AA");
  EXPECT_EQ(application->controlId, spec.controlId);
  EXPECT_TRUE(waitForSample(sample));

  // Original mode on the same connection afterwards: one ACK only, the next frame's ACK follows.
  OruSpec plain = cleanOru(newSampleId("ORG"));
  OruSpec next = cleanOru(newSampleId("ORG"));
  client.send(buildOru(plain));
  client.send(buildOru(next));
  auto a1 = client.readAck();
  auto a2 = client.readAck();
  ASSERT_TRUE(a1 && a2) << "two original-mode messages need two ACKs";
  EXPECT_EQ(a1->code, "AA");
  EXPECT_EQ(a1->controlId, plain.controlId) << "exactly one ACK for an original-mode message";
  EXPECT_EQ(a2->code, "AA");
  EXPECT_EQ(a2->controlId, next.controlId);
}

TEST_F(Hl7FlowTest, BatchInOneFrameGetsOneAckPerMessage) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string s1 = newSampleId("BAT");
  const std::string s2 = newSampleId("BAT");
  OruSpec m1 = cleanOru(s1);
  OruSpec m2 = cleanOru(s2);
  m2.results = {{"K", "4.1", "mmol/L"}};
  std::string batch = "FHS|^~\\&|ANALYZER|LAB-A|LABGATE|LAB|20260115103000||||F1\r";
  batch.append("BHS|^~\\&|ANALYZER|LAB-A|LABGATE|LAB|20260115103000||||B1\r")
      .append(buildOru(m1))
      .append(buildOru(m2))
      .append("BTS|2\rFTS|1\r");
  MllpClient client(hl7Port());
  client.send(batch);
  std::vector<Hl7Ack> acks;
  for (int i = 0; i < 2; ++i) {
    auto ack = client.readAck();
    ASSERT_TRUE(ack) << "batch: ACK " << i + 1 << " of 2 missing (got " << acks.size() << ")";
    acks.push_back(*ack);
  }
  std::vector<std::string> ids{acks[0].controlId, acks[1].controlId};
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> expected{m1.controlId, m2.controlId};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected) << "MSA-2 of the two ACKs: one per MSH-10 of the batch";
  for (const auto& ack : acks) EXPECT_EQ(ack.code, "AA");
  EXPECT_TRUE(waitForSample(s1));
  EXPECT_TRUE(waitForSample(s2));
  EXPECT_EQ(settledHl7("messages_accepted", 2), 2);
  // No third ACK: the next message's ACK is the next frame on the connection.
  OruSpec after = cleanOru(newSampleId("AFT"));
  auto ack = client.exchange(buildOru(after));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->controlId, after.controlId) << "an extra ACK was sent for the batch";
}

TEST_F(Hl7FlowTest, OversizedFrameIsRejectedAndConnectionKeepsServing) {
  hl7Connector().extra["max_message_bytes"] = "2048";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  OruSpec big = cleanOru(newSampleId("BIG"));
  big.results.clear();
  for (int i = 0; i < 100; ++i) big.results.push_back({"GLU", "5.6", "mmol/L"});
  const std::string bigMessage = buildOru(big);
  ASSERT_GT(bigMessage.size(), 4096u);

  MllpClient client(hl7Port());
  client.send(bigMessage);
  auto rejected = client.readAck();
  ASSERT_TRUE(rejected) << "no answer to an oversized frame"
                        << (client.peerClosed() ? " (connection closed)" : "");
  EXPECT_EQ(rejected->code, "AR") << "oversized frame";
  std::cout << "[ info     ] oversized frame: MSA-2 '" << rejected->controlId << "', ERR-3 '"
            << rejected->errCode << "'\n";

  OruSpec small = cleanOru(newSampleId("SML"));
  ASSERT_LT(buildOru(small).size(), 2048u);
  auto accepted = client.exchange(buildOru(small));
  ASSERT_TRUE(accepted) << "the connection stopped serving after the oversized frame";
  EXPECT_EQ(accepted->code, "AA");
  EXPECT_EQ(accepted->controlId, small.controlId);
  EXPECT_TRUE(waitForSample(small.sampleId));
  EXPECT_EQ(deliveredCount(big.sampleId), 0u);
  EXPECT_EQ(settledHl7("messages_accepted", 1), 1);
}

TEST_F(Hl7FlowTest, UnsupportedMessageTypeIsRejectedWithCode200) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string control = newControlId("ADT");
  std::string adt = "MSH|^~\\&|ADTAPP|WARD|LABGATE|LAB|20260115103000||ADT^A01^ADT_A01|";
  adt.append(control).append("|P|2.5.1\rEVN|A01|20260115103000\rPID|1\rPV1|1|O\r");
  Hl7Ack ack = sendExpecting(adt, control, "AR", "ADT^A01");
  EXPECT_EQ(ack.errCode, "200") << "ERR-3 must be 200 (unsupported message type)";
  EXPECT_FALSE(ack.errSegments.empty()) << "AR without an ERR segment";
  // The contract does not say which counter an unsupported type goes to; print them.
  Health after = health();
  std::cout << "[ info     ] after ADT^A01: refused "
            << after.connector(kConnector, "messages_refused") << ", invalid "
            << after.connector(kConnector, "messages_invalid") << ", unsupported "
            << after.connector(kConnector, "messages_unsupported") << "\n";
  EXPECT_EQ(after.connector(kConnector, "messages_accepted"), 0);

  // An ORU afterwards still flows: the refusal did not leave anything behind.
  OruSpec spec = cleanOru(newSampleId("AFA"));
  sendExpecting(buildOru(spec), spec.controlId, "AA", "ORU after the ADT");
  EXPECT_TRUE(waitForSample(spec.sampleId));
  EXPECT_EQ(lis_->count(), 1u) << "only the ORU reaches the LIS";
}

TEST_F(Hl7FlowTest, UnparseableMessageGetsAeWithLocationAndReason) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  // MSH-2 with five encoding characters (a doubled escape character): the delimiters cannot be
  // read. No PID, so the PHI gate has nothing to say first.
  OruSpec spec = cleanOru(newSampleId("INV"));
  std::string message = buildOru(spec);
  ASSERT_EQ(message.rfind("MSH|^~\\&|", 0), 0u);
  message.insert(7, "\\");
  Hl7Ack ack = sendExpecting(message, spec.controlId, "AE", "MSH-2 with five characters");
  EXPECT_EQ(component(ack.errLocation, 1), "MSH") << "ERR-2 '" << ack.errLocation << "'";
  EXPECT_FALSE(ack.humanText().empty()) << "AE without a reason";
  EXPECT_EQ(settledHl7("messages_invalid", 1), 1);
  OruSpec next = cleanOru(newSampleId("INA"));
  sendExpecting(buildOru(next), next.controlId, "AA", "ORU after the unparseable one");
  ASSERT_TRUE(waitForSample(next.sampleId));
  EXPECT_EQ(deliveredCount(spec.sampleId), 0u);
}

TEST_F(Hl7FlowTest, BytesOutsideFramesAreIgnored) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  OruSpec m1 = cleanOru(newSampleId("GB"));
  OruSpec m2 = cleanOru(newSampleId("GB"));
  OruSpec m3 = cleanOru(newSampleId("GB"));
  MllpClient client(hl7Port());
  std::string garbage = "\r\n#noise before the first frame";
  garbage.append(1, '\x01').append(1, '\0').append(1, '\x7f').append("\xff\xfe");
  client.sendRaw(garbage);
  client.sendRaw(
      mllp::frame(buildOru(m1)).append("\n\n stray text \x1c\r").append(mllp::frame(buildOru(m2))));
  client.sendRaw("trailing noise");
  client.send(buildOru(m3));
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    auto ack = client.readAck();
    ASSERT_TRUE(ack) << "ACK " << i + 1 << " of 3 missing"
                     << (client.peerClosed() ? " (connection closed)" : "");
    EXPECT_EQ(ack->code, "AA") << "ACK " << i + 1;
    order.push_back(ack->controlId);
  }
  EXPECT_EQ(order, (std::vector<std::string>{m1.controlId, m2.controlId, m3.controlId}))
      << "one ACK per frame, in order; noise must not produce ACKs";
  for (const auto& m : {m1, m2, m3}) EXPECT_TRUE(waitForSample(m.sampleId));
  std::cout << "[ info     ] frames_dropped after noise: "
            << health().connector(kConnector, "frames_dropped") << "\n";
}

TEST_F(Hl7FlowTest, LfAndCrlfSegmentEndsAndUtf8BomAreAccepted) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  struct Variant {
    const char* label;
    std::string prefix;
    std::string segmentEnd;
  };
  const std::vector<Variant> variants = {
      {"LF segment ends", "", "\n"},
      {"CRLF segment ends", "", "\r\n"},
      {"UTF-8 BOM, CR segment ends", "\xEF\xBB\xBF", "\r"},
      {"UTF-8 BOM, LF segment ends", "\xEF\xBB\xBF", "\n"},
  };
  std::vector<OruSpec> sent;
  for (const auto& v : variants) {
    OruSpec spec = cleanOru(newSampleId("VAR"));
    spec.results = {{"GLU", "5.6", "mmol/L"}, {"K", "4.1", "mmol/L"}};
    sendExpecting(v.prefix + buildOru(spec, v.segmentEnd), spec.controlId, "AA", v.label);
    sent.push_back(spec);
  }
  for (size_t i = 0; i < sent.size(); ++i) {
    ASSERT_TRUE(waitForSample(sent[i].sampleId)) << variants[i].label << ": not delivered";
  }
  for (const auto& oru : lis_->messages()) {
    auto obx = observations(oru);
    ASSERT_EQ(obx.size(), 2u) << "both OBX of each variant, none merged or lost";
    EXPECT_EQ(obx[0].value, "5.6");
    EXPECT_EQ(obx[1].value, "4.1") << "a stray CR/LF must not end up in a value";
  }
}

TEST_F(Hl7FlowTest, FrameArrivingInPiecesIsReassembled) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  OruSpec spec = cleanOru(newSampleId("PCS"));
  spec.results = {{"GLU", "5.6", "mmol/L"}, {"CREA", "0.82", "mg/dL"}, {"NA", "140", "mmol/L"}};
  const std::string framed = mllp::frame(buildOru(spec));
  MllpClient client(hl7Port());
  EXPECT_EQ(settledHl7("connections", 1), 1) << "one open connection";
  // Pieces of 7 bytes with pauses, so the engine's reads see partial frames (and FS apart from
  // its CR at least once).
  for (size_t at = 0; at < framed.size(); at += 7) {
    client.sendRaw(framed.substr(at, 7));
    std::this_thread::sleep_for(3ms);
  }
  auto ack = client.readAck();
  ASSERT_TRUE(ack) << "no ACK for a frame sent in pieces";
  EXPECT_EQ(ack->code, "AA");
  EXPECT_EQ(ack->controlId, spec.controlId);
  ASSERT_TRUE(waitForSample(spec.sampleId));
  EXPECT_EQ(observations(lis_->messages().at(0)).size(), 3u);
  client.close();
  EXPECT_EQ(settledHl7("connections", 0), 0) << "the connection closed";
}

// ---------------------------------------------------------------------------------------------
// TLS

class Hl7TlsTest : public Hl7EngineTest {
 protected:
  void SetUp() override {
    Hl7EngineTest::SetUp();
    if (findProgram("openssl").empty())
      GTEST_FAIL() << "the openssl CLI is not installed; scripts/setup.sh installs it";
    cert_ = tmp_->file("server-cert.pem");
    key_ = tmp_->file("server-key.pem");
    std::string why;
    ASSERT_TRUE(makeSelfSignedCert(tmp_->path(), cert_, key_, &why)) << why;
    hl7Connector().extra["tls.cert"] = cert_;
    hl7Connector().extra["tls.key"] = key_;
  }

  std::string cert_;
  std::string key_;
};

TEST_F(Hl7TlsTest, TlsClientGetsAaAndPlainTcpDoesNotWedgeTheEngine) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  EXPECT_FALSE(health().connectorText(kConnector, "tls").empty());
  std::cout << "[ info     ] /health tls field: " << health().connectorText(kConnector, "tls")
            << "\n";

  OruSpec first = cleanOru(newSampleId("TLS"));
  TlsExchange tls = tlsExchange(hl7Port(), cert_, mllp::frame(buildOru(first)), 1, 20000ms);
  ASSERT_TRUE(tls.launched);
  ASSERT_EQ(tls.frames.size(), 1u) << "no ACK over TLS; s_client said: " << tls.diagnostics;
  Hl7Ack ack = parseAck(tls.frames[0]);
  EXPECT_EQ(ack.code, "AA");
  EXPECT_EQ(ack.controlId, first.controlId);
  EXPECT_TRUE(waitForSample(first.sampleId));

  // A plain-TCP client on the TLS port: no ACK (the bytes are not a TLS handshake), and the
  // connection ends or stays silent; the engine must keep serving.
  {
    OruSpec plain = cleanOru(newSampleId("PLN"));
    MllpClient client(hl7Port());
    try {
      client.send(buildOru(plain));
    } catch (const Poco::Exception&) {
    }
    auto answer = client.readFrame(5000ms);
    if (answer) {
      EXPECT_NE(parseAck(*answer).code, "AA") << "a plain-TCP message was accepted on a TLS port";
    }
    EXPECT_EQ(deliveredCount(plain.sampleId), 0u);
  }
  {
    // A client that connects and sends nothing (a half-open handshake) must not block others.
    MllpClient idle(hl7Port());
    OruSpec second = cleanOru(newSampleId("TLS"));
    OruSpec third = cleanOru(newSampleId("TLS"));
    TlsExchange again = tlsExchange(
        hl7Port(), cert_, mllp::frame(buildOru(second)) + mllp::frame(buildOru(third)), 2, 20000ms);
    ASSERT_EQ(again.frames.size(), 2u)
        << "TLS after a plain-TCP attempt, with an idle connection open; s_client said: "
        << again.diagnostics;
    EXPECT_EQ(parseAck(again.frames[0]).code, "AA");
    EXPECT_EQ(parseAck(again.frames[1]).code, "AA");
    EXPECT_EQ(parseAck(again.frames[1]).controlId, third.controlId);
    EXPECT_TRUE(waitForSample(third.sampleId));
  }
  EXPECT_TRUE(health().ok());
  EXPECT_EQ(settledHl7("messages_accepted", 3), 3);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

}  // namespace
}  // namespace labgate::it
