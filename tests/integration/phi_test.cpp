// The PHI gate seen from outside: messages carrying (invented) patient-identifying values are
// refused under phi.policy = refuse and leave no trace of those values anywhere the engine writes
// (database, WAL, logs, stdout/stderr); under phi.policy = strip they are accepted with the values
// removed. Every identifying value here is invented; assertions print labels, never values.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <numeric>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

// Invented identity of a person who does not exist. The distinctive parts are searched for
// separately, so a partial leak (the surname alone, the digits of a phone) is caught too.
const char kSurname[] = "Quillbrook";
const char kGivenName[] = "Marisol";
const char kBirthDate[] = "19480229";
const char kPhone[] = "(515) 284-6173";
const char kSsn[] = "537-21-8864";
const char kEmail[] = "marisol.quillbrook@example.net";

std::vector<Secret> secrets() {
  return {
      {"P-6 surname", kSurname},
      {"P-6 given name", kGivenName},
      {"P-8 birth date", kBirthDate},
      {"P-13 phone", kPhone},
      {"P-13 phone digits", "284-6173"},
      {"C SSN", kSsn},
      {"C SSN digits", "537218864"},
      {"C e-mail", kEmail},
      {"C e-mail local part", "marisol.quillbrook"},
  };
}

std::string fullName() { return std::string(kSurname) + "^" + kGivenName + "^T"; }

struct PhiCase {
  const char* label;  // printable: says where the PHI is, not what it is
  std::map<int, std::string> patient;
  std::vector<std::string> comments;
};

std::vector<PhiCase> phiCases() {
  return {
      {"name in P-6", {{6, fullName()}}, {}},
      {"birth date in P-8", {{8, kBirthDate}}, {}},
      {"phone in P-13", {{13, kPhone}}, {}},
      {"SSN in a C record", {}, {std::string("patient SSN ") + kSsn + " on file"}},
      {"e-mail in a C record", {}, {std::string("send report to ") + kEmail}},
  };
}

class PhiTest : public EngineTest {};

TEST_F(PhiTest, RefusedMessagesAreNakedAndLeaveNoTrace) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  auto cases = phiCases();
  std::vector<std::string> refusedSamples;
  for (const auto& c : cases) {
    const std::string sample = newSampleId("PR");
    refusedSamples.push_back(sample);
    TestSample s{sample, {{"GLU", "5.6", "mmol/L"}, {"K", "4.1", "mmol/L"}}, c.comments};
    auto records = buildAstmMessage({s}, c.patient);
    AstmInstrument instrument(astmPort());
    ASSERT_EQ(instrument.enq(), astm::kAck) << c.label;
    Transfer t = instrument.sendMessage(records);
    const size_t frames = astm::splitIntoFrames(records, astm::Framing::kRecordPerFrame).size();
    EXPECT_EQ(t.replies.size(), frames) << c.label << ": a frame before the last was not ACKed";
    EXPECT_EQ(t.finalReply, astm::kNak)
        << c.label << ": the final frame was answered " << astm::replyName(t.finalReply);
    instrument.eot();
  }

  // A clean message afterwards: its delivery proves the refused ones were not queued before it.
  const std::string clean = newSampleId("PC");
  {
    AstmInstrument instrument(astmPort());
    Transfer t = instrument.sendSession(buildAstmMessage({{clean, {{"NA", "141", "mmol/L"}}, {}}}));
    ASSERT_TRUE(t.complete) << "clean message after refusals: " << astm::replyName(t.finalReply);
  }
  ASSERT_TRUE(waitForSample(clean));
  auto messages = lis_->messages();
  for (size_t i = 0; i < refusedSamples.size(); ++i) {
    EXPECT_EQ(timesReceived(messages, refusedSamples[i]), 0u)
        << cases[i].label << ": a refused message was delivered";
  }
  for (const auto& label :
       findSecrets(std::accumulate(messages.begin(), messages.end(), std::string()), secrets())) {
    ADD_FAILURE() << "PHI leak into the LIS: " << label;
  }
  const long refused = static_cast<long>(cases.size());
  EXPECT_EQ(settledConnector("messages_refused", refused), refused);
  EXPECT_EQ(settledConnector("messages_accepted", 1), 1);
  EXPECT_EQ(settledDestination("delivered", 1), 1);
  // A refused message the instrument abandons at EOT is counted as refused, not also discarded.
  EXPECT_EQ(health().connector("lab1", "messages_discarded"), 0);

  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten(secrets());

  // The audit trail: one 'message.refused' row per refusal naming connector and location.
  const std::string db = config_.dataDir + "/labgate.db";
  StoreReader store(db);
  ASSERT_TRUE(store.ok()) << store.error();
  auto count = store.scalar("SELECT count(*) FROM audit WHERE action = 'message.refused';");
  ASSERT_TRUE(count.has_value()) << store.error();
  EXPECT_EQ(std::atoi(count->c_str()), static_cast<int>(cases.size()))
      << "'message.refused' audit rows";
  auto details =
      store.rows("SELECT detail FROM audit WHERE action = 'message.refused' ORDER BY id;");
  ASSERT_TRUE(details.has_value()) << store.error();
  std::vector<std::string> lines;  // one detail per row
  for (const auto& row : *details) lines.push_back(row.at(0));
  ASSERT_EQ(lines.size(), cases.size()) << "one detail line per refusal";
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_NE(lines[i].find("lab1"), std::string::npos)
        << "refusal " << i + 1 << " (" << cases[i].label << ") detail lacks the connector";
  }
  EXPECT_NE(lines[0].find("P-6"), std::string::npos) << "name refusal detail lacks 'P-6'";
  EXPECT_NE(lines[1].find("P-8"), std::string::npos) << "birth-date refusal detail lacks 'P-8'";
  EXPECT_NE(lines[2].find("P-13"), std::string::npos) << "phone refusal detail lacks 'P-13'";
  EXPECT_NE(lines[3].find("C-"), std::string::npos) << "SSN refusal detail lacks a C location";
  EXPECT_NE(lines[3].find("ssn"), std::string::npos) << "SSN refusal detail lacks the pattern id";
  EXPECT_NE(lines[4].find("email"), std::string::npos)
      << "e-mail refusal detail lacks the pattern id";
  EXPECT_EQ(store.scalar("SELECT count(*) FROM messages;").value_or("?"), "1")
      << "only the clean message may be stored";
}

TEST_F(PhiTest, RetransmittedRefusedFrameIsRefusedAgainAndAuditedOnce) {
  // A real instrument answers a NAK by resending the frame (up to 6 times, E1381), then EOT.
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string sample = newSampleId("RT");
  auto records = buildAstmMessage({{sample, {{"GLU", "5.6", "mmol/L"}}, {}}}, {{6, fullName()}});
  {
    AstmInstrument instrument(astmPort());
    ASSERT_EQ(instrument.enq(), astm::kAck);
    Transfer t = instrument.sendMessage(records, astm::Framing::kRecordPerFrame, true);
    EXPECT_FALSE(t.complete) << "a retransmission of a refused frame was ACKed";
    const size_t frames = astm::splitIntoFrames(records, astm::Framing::kRecordPerFrame).size();
    EXPECT_EQ(t.replies.size(), frames - 1 + 6) << "frames ACKed before the final one + 6 tries";
    EXPECT_EQ(std::count(t.replies.end() - 6, t.replies.end(), astm::kNak), 6)
        << "every attempt at the final frame must be NAKed";
    instrument.eot();
  }
  const std::string clean = newSampleId("RC");
  {
    AstmInstrument instrument(astmPort());
    ASSERT_TRUE(instrument.sendSession(buildAstmMessage({{clean, {{"NA", "141", "mmol/L"}}, {}}}))
                    .complete);
  }
  ASSERT_TRUE(waitForSample(clean));
  EXPECT_EQ(timesReceived(lis_->messages(), sample), 0u);
  const long refused = health().connector("lab1", "messages_refused");
  std::cout << "[ info     ] messages_refused after 6 attempts at one refused message: " << refused
            << "\n";
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten(secrets());
  auto rows = storeQuery(config_.dataDir + "/labgate.db",
                         "SELECT count(*) FROM audit WHERE action = 'message.refused';");
  ASSERT_TRUE(rows.has_value()) << "the store could not be read through StoreReader";
  std::cout << "[ info     ] 'message.refused' audit rows for it: " << *rows << "\n";
  EXPECT_EQ(*rows, "1") << "one refused message (sent 6 times by a retrying instrument) should "
                           "leave exactly one 'message.refused' audit row";
}

TEST_F(PhiTest, StripPolicyAcceptsAndRemovesIdentifyingValues) {
  config_.connectors[0].phiPolicy = "strip";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  const std::string sample = newSampleId("PS");
  TestSample s{
      sample,
      {{"GLU", "5.6", "mmol/L"}, {"CREA", "0.82", "mg/dL"}},
      {std::string("patient SSN ") + kSsn + " on file", std::string("send report to ") + kEmail}};
  auto records = buildAstmMessage({s}, {{6, fullName()}, {8, kBirthDate}, {9, "F"}, {13, kPhone}});
  {
    AstmInstrument instrument(astmPort());
    Transfer t = instrument.sendSession(records);
    ASSERT_TRUE(t.complete) << "strip policy: frame " << t.replies.size() << " answered "
                            << astm::replyName(t.finalReply);
  }
  ASSERT_TRUE(waitForSample(sample)) << "the stripped message's results were not delivered";
  auto messages = lis_->messages();
  ASSERT_EQ(messages.size(), 1u);
  auto obx = observations(messages[0]);
  ASSERT_EQ(obx.size(), 2u);
  EXPECT_EQ(obx[0].value, "5.6");
  EXPECT_EQ(obx[1].value, "0.82");
  EXPECT_TRUE(segmentsNamed(messages[0], "PID").empty());
  for (const auto& label : findSecrets(messages[0], secrets())) {
    ADD_FAILURE() << "PHI leak into the ORU under strip policy: " << label;
  }
  EXPECT_EQ(settledConnector("messages_accepted", 1), 1);
  EXPECT_EQ(settledConnector("messages_refused", 0), 0);

  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten(secrets());
  auto stripped = storeQuery(config_.dataDir + "/labgate.db",
                             "SELECT count(*) FROM audit WHERE action = 'message.phi_stripped';");
  ASSERT_TRUE(stripped.has_value()) << "the store could not be read through StoreReader";
  EXPECT_EQ(*stripped, "1") << "one 'message.phi_stripped' audit event";
}

TEST_F(PhiTest, NameSplitAcrossEtbFramesIsStillRefused) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string sample = newSampleId("SPL");
  auto records = buildAstmMessage({{sample, {{"GLU", "5.6", "mmol/L"}}, {}}}, {{6, fullName()}});
  // 7-character frames: the surname cannot be in one piece in any frame.
  AstmInstrument instrument(astmPort());
  ASSERT_EQ(instrument.enq(), astm::kAck);
  Transfer t = instrument.sendMessage(records, astm::Framing::kContinuous, false, 7);
  EXPECT_EQ(t.finalReply, astm::kNak) << "final frame answered " << astm::replyName(t.finalReply);
  EXPECT_FALSE(t.complete);
  instrument.eot();
  instrument.close();
  EXPECT_EQ(settledConnector("messages_refused", 1), 1);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten(secrets());
  EXPECT_EQ(timesReceived(lis_->messages(), sample), 0u);
}

}  // namespace
}  // namespace labgate::it
