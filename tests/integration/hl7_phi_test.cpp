// The PHI gate on the HL7 inbound path, seen from outside: ORU^R01 messages carrying (invented)
// patient-identifying values in PID-3/5/7/11/13/19, in NTE free text (plain and behind a hex
// escape) and in an OBX-5 TX value are answered AR with an ERR naming the field and the rule,
// neither stored nor forwarded, and leave no trace of the values in any file under data.dir or in
// the engine's stdout/stderr. Under phi.policy = strip the message is accepted and forwarded
// without the values. Every identifying value here is invented; assertions print labels only.
#include <iostream>
#include <numeric>

#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

// Invented identity of a person who does not exist (different from phi_test.cpp's, so a leak is
// attributed to the right suite).
const char kMrn[] = "MRX7730418";
const char kSurname[] = "Vantreska";
const char kGivenName[] = "Odalys";
const char kBirthDate[] = "19510817";
const char kStreet[] = "4417 Larchmont Hollow Rd";
const char kHomePhone[] = "(319)555-0187";
const char kSsn[] = "538-14-2276";
const char kFamilyPhone[] = "(641) 555-0163";
const char kEscapedPhoneRaw[] = "(712) 555\\X2D\\0149";  // decodes to (712) 555-0149
const char kEmail[] = "odalys.vantreska@example.org";

std::vector<Secret> secrets() {
  return {
      {"PID-3 identifier", kMrn},
      {"PID-5 surname", kSurname},
      {"PID-5 given name", kGivenName},
      {"PID-7 birth date", kBirthDate},
      {"PID-11 street", "Larchmont Hollow"},
      {"PID-13 phone digits", "555-0187"},
      {"PID-19 SSN", kSsn},
      {"PID-19 SSN digits", "538142276"},
      {"NTE phone digits", "555-0163"},
      {"NTE escaped phone, decoded", "555-0149"},
      {"NTE escaped phone, raw", "555\\X2D\\0149"},
      {"OBX-5 e-mail", kEmail},
  };
}

struct PhiCase {
  const char* label;     // printable: where the PHI is, not what it is
  std::string segment;   // expected ERR-2 component 1
  std::string field;     // expected ERR-2 component 3
  std::string location;  // expected in the ACK text and the audit detail, e.g. PID-5
  std::string rule;      // expected rule id in the ACK text and the audit detail
  std::vector<std::string> patientSegments;
  std::vector<std::string> trailingSegments;
};

std::string pid(size_t field, const std::string& value) {
  std::string segment = "PID|1";
  for (size_t i = 2; i < field; ++i) segment += "|";
  segment.append("|").append(value);
  return segment;
}

std::vector<PhiCase> phiCases() {
  return {
      {"identifier in PID-3",
       "PID",
       "3",
       "PID-3",
       "structural.PID-3",
       {pid(3, std::string(kMrn) + "^^^ORCHARD HOSP^MR")},
       {}},
      {"name in PID-5",
       "PID",
       "5",
       "PID-5",
       "structural.PID-5",
       {pid(5, std::string(kSurname) + "^" + kGivenName + "^Q")},
       {}},
      {"birth date in PID-7", "PID", "7", "PID-7", "structural.PID-7", {pid(7, kBirthDate)}, {}},
      {"address in PID-11",
       "PID",
       "11",
       "PID-11",
       "structural.PID-11",
       {pid(11, std::string(kStreet) + "^^Dunmore^IA^52799")},
       {}},
      {"phone in PID-13",
       "PID",
       "13",
       "PID-13",
       "structural.PID-13",
       {pid(13, std::string(kHomePhone) + "^PRN^PH")},
       {}},
      {"SSN in PID-19", "PID", "19", "PID-19", "structural.PID-19", {pid(19, kSsn)}, {}},
      {"phone in NTE-3 free text",
       "NTE",
       "3",
       "NTE-3",
       "phone.nanp",
       {},
       {std::string("NTE|1|L|Results phoned to family at ") + kFamilyPhone + " per request"}},
      {"phone behind a hex escape in NTE-3",
       "NTE",
       "3",
       "NTE-3",
       "phone.nanp",
       {},
       {std::string("NTE|1|L|Callback number ") + kEscapedPhoneRaw + " left by ward"}},
      {"e-mail in an OBX-5 TX value",
       "OBX",
       "5",
       "OBX-5",
       "email",
       {},
       {std::string("OBX|2|TX|GLU^Comment^L||Copy of report sent to ") + kEmail + "||||||F"}},
  };
}

class Hl7PhiTest : public Hl7EngineTest {};

TEST_F(Hl7PhiTest, RefusedMessagesNameTheFieldAndLeaveNoTrace) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  auto cases = phiCases();
  std::vector<std::string> refusedSamples;
  for (const auto& c : cases) {
    OruSpec spec = cleanOru(newSampleId("PR"));
    spec.patientSegments = c.patientSegments;
    spec.trailingSegments = c.trailingSegments;
    refusedSamples.push_back(spec.sampleId);
    Hl7Ack ack = sendExpecting(buildOru(spec), spec.controlId, "AR", c.label);
    ASSERT_FALSE(ack.errSegments.empty()) << c.label << ": AR without an ERR segment";
    EXPECT_EQ(component(ack.errLocation, 1), c.segment)
        << c.label << ": ERR-2 segment (ERR-2 is '" << ack.errLocation << "')";
    EXPECT_EQ(component(ack.errLocation, 3), c.field)
        << c.label << ": ERR-2 field position (ERR-2 is '" << ack.errLocation << "')";
    EXPECT_NE(ack.humanText().find(c.location), std::string::npos)
        << c.label << ": the ACK's text does not name " << c.location;
    EXPECT_NE(ack.humanText().find(c.rule), std::string::npos)
        << c.label << ": the ACK's text does not name the rule " << c.rule;
    for (const auto& label : findSecrets(ack.raw, secrets())) {
      ADD_FAILURE() << c.label << ": the ACK echoes an identifying value (" << label << ")";
    }
  }

  // A clean message afterwards: its delivery shows the refused ones were not queued before it.
  OruSpec clean = cleanOru(newSampleId("PC"));
  sendExpecting(buildOru(clean), clean.controlId, "AA", "clean message after the refusals");
  ASSERT_TRUE(waitForSample(clean.sampleId));
  auto messages = lis_->messages();
  for (size_t i = 0; i < refusedSamples.size(); ++i) {
    EXPECT_EQ(timesReceived(messages, refusedSamples[i]), 0u)
        << cases[i].label << ": a refused message was forwarded";
  }
  for (const auto& label :
       findSecrets(std::accumulate(messages.begin(), messages.end(), std::string()), secrets())) {
    ADD_FAILURE() << "PHI leak into the LIS: " << label;
  }
  const long refused = static_cast<long>(cases.size());
  EXPECT_EQ(settledHl7("messages_refused_phi", refused), refused);
  EXPECT_EQ(settledHl7("messages_accepted", 1), 1);
  std::cout << "[ info     ] messages_refused after " << refused
            << " PHI refusals: " << health().connector(kConnector, "messages_refused") << "\n";

  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten(secrets());

  auto stored = storeQuery(databasePath(), "SELECT count(*) FROM messages;");
  ASSERT_TRUE(stored.has_value()) << "the store could not be read through StoreReader";
  EXPECT_EQ(*stored, "1") << "only the clean message may be stored";
  auto details = storeQuery(
      databasePath(), "SELECT detail FROM audit WHERE action = 'message.refused' ORDER BY id;");
  ASSERT_TRUE(details);
  auto lines = hl7Segments(*details);  // one line per row
  ASSERT_EQ(lines.size(), cases.size()) << "one 'message.refused' audit row per refusal";
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_NE(lines[i].find(kConnector), std::string::npos)
        << cases[i].label << ": audit detail lacks the connector";
    EXPECT_NE(lines[i].find(cases[i].location), std::string::npos)
        << cases[i].label << ": audit detail lacks " << cases[i].location;
    EXPECT_NE(lines[i].find(cases[i].rule), std::string::npos)
        << cases[i].label << ": audit detail lacks the rule " << cases[i].rule;
  }
}

TEST_F(Hl7PhiTest, EveryRefusalIsCountedOnceAndResendsStayRefused) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  OruSpec spec = cleanOru(newSampleId("RR"));
  spec.patientSegments = {pid(5, std::string(kSurname) + "^" + kGivenName)};
  const std::string message = buildOru(spec);
  // A sender that gets AR may retry with the same MSH-10; a refusal is never remembered as a
  // stored message, so the resend must not be answered as a duplicate (AA).
  sendExpecting(message, spec.controlId, "AR", "first attempt");
  sendExpecting(message, spec.controlId, "AR", "same MSH-10 again");
  EXPECT_EQ(settledHl7("messages_refused_phi", 2), 2);
  EXPECT_EQ(health().connector(kConnector, "messages_duplicate"), 0);
  OruSpec clean = cleanOru(newSampleId("RC"));
  sendExpecting(buildOru(clean), clean.controlId, "AA", "clean");
  ASSERT_TRUE(waitForSample(clean.sampleId));
  EXPECT_EQ(deliveredCount(spec.sampleId), 0u);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten(secrets());
}

TEST_F(Hl7PhiTest, EnhancedModeRefusalIsNeverACommitAccept) {
  // CA means "safely stored": a refused message must not get it, only a commit reject or error,
  // then the application reject naming the field.
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  OruSpec spec = cleanOru(newSampleId("ER"));
  spec.acceptAck = "AL";
  spec.appAck = "AL";
  spec.patientSegments = {pid(5, std::string(kSurname) + "^" + kGivenName)};
  MllpClient client(hl7Port());
  client.send(buildOru(spec));
  auto commit = client.readAck();
  ASSERT_TRUE(commit) << "no accept acknowledgement";
  EXPECT_TRUE(commit->code == "CR" || commit->code == "CE")
      << "accept ACK for a refused message: " << commit->code;
  EXPECT_EQ(commit->controlId, spec.controlId);
  auto application = client.readAck();
  ASSERT_TRUE(application) << "no application acknowledgement after " << commit->code;
  EXPECT_EQ(application->code, "AR");
  EXPECT_EQ(application->controlId, spec.controlId);
  EXPECT_EQ(component(application->errLocation, 3), "5")
      << "ERR-2 '" << application->errLocation << "'";
  EXPECT_NE(application->humanText().find("PID-5"), std::string::npos);
  EXPECT_EQ(settledHl7("messages_refused_phi", 1), 1);
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten(secrets());
  EXPECT_EQ(lis_->count(), 0u);
}

TEST_F(Hl7PhiTest, StripPolicyAcceptsAndForwardsWithoutTheValues) {
  hl7Connector().phiPolicy = "strip";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  OruSpec spec = cleanOru(newSampleId("PS"));
  spec.results = {{"GLU", "5.6", "mmol/L"}, {"CREA", "0.82", "mg/dL"}};
  std::string fullPid = "PID|1||";
  fullPid.append(kMrn)
      .append("^^^ORCHARD HOSP^MR||")
      .append(kSurname)
      .append("^")
      .append(kGivenName)
      .append("||")
      .append(kBirthDate)
      .append("|F|||")
      .append(kStreet)
      .append("^^Dunmore^IA^52799||")
      .append(kHomePhone)
      .append("^PRN^PH||||||")
      .append(kSsn);
  ASSERT_EQ(hl7Field(fullPid, 19), kSsn) << "fixture: PID-19";
  spec.patientSegments = {fullPid};
  spec.trailingSegments = {std::string("NTE|1|L|Results phoned to family at ") + kFamilyPhone};
  sendExpecting(buildOru(spec), spec.controlId, "AA", "strip policy");

  ASSERT_TRUE(waitForSample(spec.sampleId)) << "the stripped message's results were not forwarded";
  auto messages = lis_->messages();
  ASSERT_EQ(messages.size(), 1u);
  auto obx = observations(messages[0]);
  ASSERT_EQ(obx.size(), 2u);
  EXPECT_EQ(obx[0].value, "5.6");
  EXPECT_EQ(obx[1].value, "0.82");
  for (const auto& label : findSecrets(messages[0], secrets())) {
    ADD_FAILURE() << "PHI leak into the ORU under strip policy: " << label;
  }
  EXPECT_EQ(settledHl7("messages_accepted", 1), 1);
  EXPECT_EQ(health().connector(kConnector, "messages_refused_phi"), 0);

  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten(secrets());
  auto stripped = storeQuery(databasePath(),
                             "SELECT count(*) FROM audit WHERE action = 'message.phi_stripped';");
  ASSERT_TRUE(stripped.has_value()) << "the store could not be read through StoreReader";
  EXPECT_EQ(*stripped, "1") << "one 'message.phi_stripped' audit event";
}

}  // namespace
}  // namespace labgate::it
