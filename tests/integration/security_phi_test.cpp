// Issue 18, finding 6, through the real labgated: identifiers written to get past the PHI gate
// (look-alike characters, Unicode dashes, a fullwidth `＠`, an identifier joined by `_`, an
// international number, a name after a lower-case cue, an SSN in a provider field) are refused:
// over MLLP answered AR with an ERR naming the field and the rule; as an export file moved to
// rejected/ with a .reason naming the location. Nothing of them reaches the store or the fake LIS,
// no value is written anywhere, and the engine goes on accepting clean messages and files.
// Every identifying value here is invented; assertions print labels only.
#include <filesystem>
#include <numeric>

#include "tests/integration/harness.h"
#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

namespace fs = std::filesystem;

// U+2010 hyphen, U+0422 Cyrillic capital TE, U+FF20 fullwidth commercial at.
const char kHyphen[] = "\xE2\x80\x90";
const char kCyrillicTe[] = "\xD0\xA2";
const char kFullwidthAt[] = "\xEF\xBC\xA0";

std::vector<Secret> hl7Secrets() {
  return {
      {"surname", "Oakhurst"},
      {"SSN", "219-09-9996"},
      {"SSN with Unicode hyphens", std::string("09") + kHyphen + "9996"},
      {"e-mail local part", "tamsin.oakhurst"},
      {"UK number", "7946 0958"},
      {"US number", "555-0143"},
  };
}

struct EvasionCase {
  const char* label;  // printable: what the evasion is, not the value
  std::vector<std::string> patientSegments;
  std::vector<std::string> trailingSegments;
  std::string sampleId;  // empty: a fresh clean one
  std::string segment;   // expected ERR-2 component 1
  std::string field;     // expected ERR-2 component 3
  std::string location;  // expected in the ACK text
  std::string rule;      // expected in the ACK text
  bool utf8 = true;      // MSH-18 "UNICODE UTF-8" (else empty: the connector reads 8859/1)
};

std::vector<EvasionCase> evasionCases() {
  const std::string nte = "NTE|1|L|";
  return {
      {"Cyrillic letter in a name after a cue word",
       {},
       {nte + "Name: " + kCyrillicTe + "amsin Oakhurst"},
       "",
       "NTE",
       "3",
       "NTE-3",
       "name.context"},
      {"SSN written with Unicode hyphens, message without MSH-18 (read as 8859/1)",
       {},
       {nte + "desk copy 219" + kHyphen + "09" + kHyphen + "9996"},
       "",
       "NTE",
       "3",
       "NTE-3",
       "ssn.delimited",
       false},
      {"SSN written with Unicode hyphens, message declared UNICODE UTF-8",
       {},
       {nte + "desk copy 219" + kHyphen + "09" + kHyphen + "9996"},
       "",
       "NTE",
       "3",
       "NTE-3",
       "ssn.delimited",
       true},
      {"e-mail address with a fullwidth at sign",
       {},
       {std::string("OBX|2|TX|GLU^Comment^L||Copy to tamsin.oakhurst") + kFullwidthAt +
        "example.org||||||F"},
       "",
       "OBX",
       "5",
       "OBX-5",
       "email"},
      {"SSN joined to text by an underscore",
       {},
       {nte + "ref_219-09-9996"},
       "",
       "NTE",
       "3",
       "NTE-3",
       "ssn.delimited"},
      {"sample id joined to an SSN",
       {},
       {},
       "SAMPLE_219-09-9996",
       "OBR",
       "2",
       "OBR-2",
       "ssn.delimited"},
      {"international number (UK)",
       {},
       {nte + "family at +44 20 7946 0958"},
       "",
       "NTE",
       "3",
       "NTE-3",
       "phone.e164"},
      {"international number (NANP with +1)",
       {},
       {nte + "call +1-202-555-0143"},
       "",
       "NTE",
       "3",
       "NTE-3",
       "phone.nanp"},
      {"name after a lower-case cue word",
       {},
       {nte + "patient name: tamsin oakhurst"},
       "",
       "NTE",
       "3",
       "NTE-3",
       "name.context"},
      {"SSN as the ordering provider's id",
       {"ORC|RE|||||||||||219-09-9996^Kildare^James"},
       {},
       "",
       "ORC",
       "12",
       "ORC-12",
       "ssn.delimited"},
  };
}

class SecurityPhiHl7Test : public Hl7EngineTest {};

TEST_F(SecurityPhiHl7Test, EvasionsAreAnsweredArAndNeitherStoredNorForwarded) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  const auto cases = evasionCases();
  std::vector<std::string> refusedSamples;
  for (const auto& c : cases) {
    OruSpec spec = cleanOru(c.sampleId.empty() ? newSampleId("EV") : c.sampleId);
    spec.patientSegments = c.patientSegments;
    spec.trailingSegments = c.trailingSegments;
    // MSH-16 is the last field the builder writes: two more fields make MSH-18.
    if (c.utf8) spec.appAck = "||UNICODE UTF-8";
    refusedSamples.push_back(spec.sampleId);
    Hl7Ack ack = sendExpecting(buildOru(spec), spec.controlId, "AR", c.label);
    ASSERT_FALSE(ack.errSegments.empty()) << c.label << ": AR without an ERR segment";
    EXPECT_EQ(component(ack.errLocation, 1), c.segment)
        << c.label << ": ERR-2 segment (ERR-2 is '" << ack.errLocation << "')";
    EXPECT_EQ(component(ack.errLocation, 3), c.field)
        << c.label << ": ERR-2 field (ERR-2 is '" << ack.errLocation << "')";
    EXPECT_NE(ack.humanText().find(c.location), std::string::npos)
        << c.label << ": the ACK's text does not name " << c.location;
    EXPECT_NE(ack.humanText().find(c.rule), std::string::npos)
        << c.label << ": the ACK's text does not name the rule " << c.rule;
    for (const auto& label : findSecrets(ack.raw, hl7Secrets())) {
      ADD_FAILURE() << c.label << ": the ACK echoes an identifying value (" << label << ")";
    }
  }

  // Still serving: a clean message with Unicode in its text is accepted and delivered, and none
  // of the refused ones went before it.
  OruSpec clean = cleanOru(newSampleId("EC"));
  clean.appAck = "||UNICODE UTF-8";
  clean.trailingSegments = {std::string("NTE|1|L|Epstein") + kHyphen +
                            "Barr VCA IgM negative; reference 3.9\xE2\x80\x93"
                            "6.1 mmol/L"};
  sendExpecting(buildOru(clean), clean.controlId, "AA", "clean message after the evasions");
  ASSERT_TRUE(waitForSample(clean.sampleId));
  auto messages = lis_->messages();
  for (size_t i = 0; i < refusedSamples.size(); ++i) {
    EXPECT_EQ(timesReceived(messages, refusedSamples[i]), 0u)
        << cases[i].label << ": a refused message was forwarded";
  }
  for (const auto& label : findSecrets(
           std::accumulate(messages.begin(), messages.end(), std::string()), hl7Secrets())) {
    ADD_FAILURE() << "PHI reached the LIS: " << label;
  }
  const long refused = static_cast<long>(cases.size());
  EXPECT_EQ(settledHl7("messages_refused_phi", refused), refused);
  EXPECT_EQ(settledHl7("messages_accepted", 1), 1);

  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten(hl7Secrets());
  auto stored = storeQuery(databasePath(), "SELECT count(*) FROM messages;");
  ASSERT_TRUE(stored.has_value()) << "the store could not be read through StoreReader";
  EXPECT_EQ(*stored, "1") << "only the clean message may be stored";
  auto refusals =
      storeQuery(databasePath(), "SELECT count(*) FROM audit WHERE action = 'message.refused';");
  ASSERT_TRUE(refusals);
  EXPECT_EQ(*refusals, std::to_string(cases.size())) << "one 'message.refused' row per evasion";
}

// ---------------------------------------------------------------------------------------------
// Export files dropped into a watched folder

class SecurityPhiExportTest : public EngineTest {
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

  /// Writes a file into the inbox under a temporary name, then renames it in.
  void drop(const std::string& name, const std::string& bytes) {
    writeFile(inbox_ + "/.drop.tmp", bytes);
    fs::rename(inbox_ + "/.drop.tmp", inbox_ + "/" + name);
  }

  /// The .reason of a rejected file once it exists, "" after 30 s.
  std::string reasonOf(const std::string& name) {
    const std::string path = inbox_ + "/rejected/" + name + ".reason";
    if (!waitUntil([&] { return fileExists(path); }, 30000ms)) return "";
    std::string text;
    waitUntil(
        [&] {
          text = readFile(path);
          return !text.empty();
        },
        5000ms);
    return text;
  }

  std::string db() const { return config_.dataDir + "/labgate.db"; }
  std::string query(const std::string& sql) const {
    return storeQuery(db(), sql).value_or("<store unreadable>");
  }

  std::string inbox_;
};

/// The clean MassHunter batch of the export tests with `from` replaced by `to` (once, fixture
/// check included).
std::string batchWith(const std::string& from, const std::string& to) {
  std::string text = readFile(testDataDir() + "/exports/steroids_batch.csv");
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "fixture: steroids_batch.csv lacks the text to replace";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST_F(SecurityPhiExportTest, EvasionsInSampleIdsCellsAndFileNamesRejectTheFile) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  // A sample id joined to an SSN by '_' (Name and Data File columns of line 7).
  drop("evasion_sample_id.csv",
       batchWith("LC250314-0007,LC250314-0007.d", "SAMPLE_219-09-9996,SAMPLE_219-09-9996.d"));
  std::string reason = reasonOf("evasion_sample_id.csv");
  ASSERT_FALSE(reason.empty()) << "evasion_sample_id.csv was not rejected";
  EXPECT_NE(reason.find("line 7 column 1: patient-identifying data (ssn.delimited)"),
            std::string::npos)
      << "the .reason does not name line 7 column 1";

  // An SSN written with Unicode hyphens and an international number in a sample name.
  drop("evasion_unicode.csv",
       batchWith("LC250314-0008,", std::string("QC_219") + kHyphen + "09" + kHyphen + "9996,"));
  reason = reasonOf("evasion_unicode.csv");
  ASSERT_FALSE(reason.empty()) << "evasion_unicode.csv was not rejected";
  EXPECT_NE(reason.find("line 8 column 1: patient-identifying data (ssn.delimited)"),
            std::string::npos)
      << "the .reason does not name line 8 column 1";
  drop("evasion_phone.csv", batchWith("LC250314-0008,", "call +44 20 7946 0958,"));
  reason = reasonOf("evasion_phone.csv");
  ASSERT_FALSE(reason.empty()) << "evasion_phone.csv was not rejected";
  EXPECT_NE(reason.find("line 8 column 1: patient-identifying data (phone.e164)"),
            std::string::npos)
      << "the .reason does not name line 8 column 1";

  // A file name carrying an SSN with Unicode hyphens (content clean but for one area value, so
  // that it is not the clean batch below).
  const std::string nameWithSsn = std::string("batch_318") + kHyphen + "42" + kHyphen + "7765.csv";
  drop(nameWithSsn, batchWith("123456", "123457"));
  reason = reasonOf(nameWithSsn);
  ASSERT_FALSE(reason.empty()) << "the file with an SSN in its name was not rejected";
  EXPECT_NE(reason.find("file name: patient-identifying data (ssn.delimited)"), std::string::npos)
      << "the .reason does not name the file name";

  // Still serving: the clean batch is imported and its two unknowns delivered.
  drop("steroids_batch.csv", readFile(testDataDir() + "/exports/steroids_batch.csv"));
  ASSERT_TRUE(
      waitUntil([&] { return fileExists(inbox_ + "/processed/steroids_batch.csv"); }, 30000ms))
      << "the clean batch was not imported";
  ASSERT_TRUE(waitForSample("LC250314-0007"));
  ASSERT_TRUE(waitForSample("LC250314-0008"));

  const std::vector<Secret> contentSecrets = {
      {"SSN", "219-09-9996"},
      {"SSN with Unicode hyphens", std::string("09") + kHyphen + "9996"},
      {"UK number", "7946 0958"},
  };
  // The file-name SSN is looked for in the store and the LIS only: log lines naming a refused
  // file are finding 5's subject.
  const std::vector<Secret> nameSecrets = {
      {"file-name SSN", std::string("42") + kHyphen + "7765"},
      {"file-name SSN, folded", "318-42-7765"},
  };
  for (const auto& message : lis_->messages()) {
    for (const auto& label : findSecrets(message, contentSecrets)) {
      ADD_FAILURE() << label << " reached the LIS";
    }
    for (const auto& label : findSecrets(message, nameSecrets)) {
      ADD_FAILURE() << label << " reached the LIS";
    }
  }
  EXPECT_EQ(lis_->count(), 1u) << "only the clean batch is forwarded";
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "1");
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit WHERE action='message.refused'"), "4");
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  expectNoSecretsWritten(contentSecrets);
  std::vector<std::string> store;
  for (const auto& path : listFilesRecursive(config_.dataDir)) {
    if (path.find("labgate.db") != std::string::npos) store.push_back(path);
  }
  ASSERT_FALSE(store.empty()) << "no database files under data.dir";
  for (const auto& hit : findSecretsInFiles(store, nameSecrets)) {
    ADD_FAILURE() << hit.label << " found in " << hit.where;
  }
}

}  // namespace
}  // namespace labgate::it
