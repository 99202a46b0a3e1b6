// Retention and archives against the real labgated and the real labgate console (issue 17,
// docs/operations.md "Retention and archives"): `labgate archive --before DATE` writes the bodies
// and peaks of delivered messages to an archive that `labgate archive verify` accepts, prunes only
// them (a message with a result waiting for QA and one not delivered keep everything), audits the
// pruning with the archive's digest, keeps the audit chain intact; a tampered archive fails
// verification with a clear message; an unwritable --out leaves the store untouched; the command
// refuses while labgated runs; after it the engine starts and delivers what was queued.
//
// Test output rule (harness_api.h): never print a key file or token.
#include <Poco/DateTimeFormatter.h>
#include <Poco/File.h>
#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>

#include <fstream>
#include <iterator>

#include "engine/security/keyring.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_store.h"

namespace labgate::it {
namespace {

class RetentionTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    Poco::File(tmp_->file("keys")).createDirectories();
    keyFile_ = tmp_->file("keys/kek.key");
    ASSERT_TRUE(security::writeNewKeyFile(keyFile_).isOk());
    config_.set("security.key_file", keyFile_);
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
  }

  ProgramRun labgate(const std::vector<std::string>& args) const {
    return runProgram(binDir() + "/labgate", args, 300000ms, tmp_->path());
  }

  long count(const std::string& sql) const {
    std::string text = storeQuery(config_.dataDir + "/labgate.db", sql).value_or("");
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos
               ? std::stol(text)
               : -1;
  }

  /// The bodies still stored for the message holding sample `sampleId`.
  long bodiesOf(const std::string& sampleId) const {
    return count(
        "SELECT COUNT(*) FROM message_bodies b JOIN samples s ON s.message_id = b.message_id "
        "WHERE s.sample_id = '" +
        sampleId + "'");
  }

  void send(const std::vector<TestSample>& samples) {
    AstmInstrument instrument(astmPort());
    Transfer t = instrument.sendSession(buildAstmMessage(samples));
    ASSERT_TRUE(t.complete) << "the instrument's message was not acknowledged";
  }

  static std::string tomorrow() {
    return Poco::DateTimeFormatter::format(Poco::Timestamp() + Poco::Timespan(1, 0, 0, 0, 0),
                                           "%Y-%m-%d");
  }

  std::string keyFile_;
};

TEST_F(RetentionTest, ArchivePrunesOnlyDeliveredAndVerifies) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  std::vector<std::string> delivered;
  for (int i = 0; i < 3; ++i) {
    delivered.push_back(newSampleId("RD"));
    ASSERT_NO_FATAL_FAILURE(send({{delivered.back(), {{"GLU", "5.4", "mmol/L"}}, {}}}));
  }
  // A held result (an unmapped code): waits for QA, so its message is never pruned.
  const std::string held = newSampleId("RH");
  ASSERT_NO_FATAL_FAILURE(
      send({{held, {{"GLU", "5.1", "mmol/L"}, {"ZZNOTMAPPED", "12", "U/L"}}, {}}}));
  for (const auto& id : delivered) ASSERT_TRUE(waitForSample(id)) << id;
  // One message not delivered: the LIS is down.
  lis_->stop();
  const std::string queued = newSampleId("RQ");
  ASSERT_NO_FATAL_FAILURE(send({{queued, {{"GLU", "6.0", "mmol/L"}}, {}}}));
  ASSERT_NO_FATAL_FAILURE(stopEngine());

  const long bodies = count("SELECT COUNT(*) FROM message_bodies");
  ASSERT_EQ(bodies, 5) << "every ASTM message's received bytes are stored sealed";
  const long messages = count("SELECT COUNT(*) FROM messages");
  const long results = count("SELECT COUNT(*) FROM results");

  // The help.
  ProgramRun run = labgate({"archive", "--help"});
  EXPECT_EQ(run.exitCode, 0);
  EXPECT_NE(run.out.find("usage: labgate archive --before DATE"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("labgate archive verify FILE --key-file KEY"), std::string::npos);
  run = labgate({"archive"});
  EXPECT_EQ(run.exitCode, 2);
  run = labgate({"archive", "--before", "someday", "--config", configPath_});
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_NE(run.err.find("is not a date"), std::string::npos) << run.err;

  // An --out that cannot be written: nothing changes in the store.
  run = labgate({"archive", "--before", tomorrow(), "--config", configPath_, "--out",
                 tmp_->file("no/such/folder/a.lga")});
  EXPECT_EQ(run.exitCode, 1) << run.out << run.err;
  EXPECT_NE(run.err.find("nothing was archived or pruned"), std::string::npos) << run.err;
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies"), bodies);
  EXPECT_EQ(count("SELECT COUNT(*) FROM archives"), 0);

  // Archive and prune.
  const std::string file = tmp_->file("year.lga");
  run = labgate({"archive", "--before", tomorrow(), "--config", configPath_, "--out", file});
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  std::cout << run.out;
  EXPECT_NE(run.out.find("written, fsynced and verified"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("pruned 3 message(s): 3 body/bodies"), std::string::npos) << run.out;
  ASSERT_TRUE(fileExists(file));
  EXPECT_FALSE(fileExists(file + ".partial"));

  // What was pruned, and what was not.
  EXPECT_EQ(count("SELECT COUNT(*) FROM message_bodies"), 2);
  for (const auto& id : delivered) EXPECT_EQ(bodiesOf(id), 0) << id;
  EXPECT_EQ(bodiesOf(held), 1) << "a message waiting for QA is never pruned";
  EXPECT_EQ(bodiesOf(queued), 1) << "an undelivered message is never pruned";
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), messages);
  EXPECT_EQ(count("SELECT COUNT(*) FROM results"), results);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbound WHERE state = 'queued'"), 1);

  // Audited with the archive's digest; the chain holds.
  const std::string digest =
      storeQuery(config_.dataDir + "/labgate.db", "SELECT file_sha256 FROM archives").value_or("");
  ASSERT_EQ(digest.size(), 64u);
  EXPECT_NE(run.out.find(digest), std::string::npos);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'retention.pruned' AND detail LIKE "
                  "'%" +
                  digest + "%'"),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit WHERE action = 'retention.archived'"), 1);
  run = labgate({"audit", "verify", "--data-dir", config_.dataDir});
  EXPECT_EQ(run.exitCode, 0) << run.out << run.err;

  // The archive verifies and says what it holds.
  run = labgate({"archive", "verify", file, "--key-file", keyFile_, "--work-dir", tmp_->path()});
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("verified"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("received bytes of 3 message(s)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(digest), std::string::npos) << run.out;
  run = labgate({"archive", "list", "--config", configPath_});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_NE(run.out.find("all pruned"), std::string::npos) << run.out;

  // A changed byte fails verification with a clear message.
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() / 2] ^= 0x20;
  const std::string tampered = tmp_->file("tampered.lga");
  std::ofstream(tampered, std::ios::binary) << bytes;
  run =
      labgate({"archive", "verify", tampered, "--key-file", keyFile_, "--work-dir", tmp_->path()});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_NE(run.err.find("NOT VERIFIED"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("does not authenticate"), std::string::npos) << run.err;

  // Nothing more is due: a second run archives nothing.
  run = labgate({"archive", "--before", tomorrow(), "--config", configPath_, "--out",
                 tmp_->file("again.lga")});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_NE(run.out.find("nothing to archive"), std::string::npos) << run.out;
  EXPECT_FALSE(fileExists(tmp_->file("again.lga")));

  // The engine starts on the pruned store; the command refuses while it runs; the queued
  // message is delivered once the LIS is back.
  ASSERT_NO_FATAL_FAILURE(startEngine());
  run = labgate({"archive", "--before", tomorrow(), "--config", configPath_});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_NE(run.err.find("labgated answers"), std::string::npos) << run.err;
  startLis();
  EXPECT_TRUE(waitForSample(queued, 60000ms)) << "the queued message was not delivered";
}

TEST_F(RetentionTest, CheckConfigValidatesRetentionKeys) {
  config_.set("retention.body_days", "-3");
  config_.write(configPath_);
  ProgramRun run = runProgram(binDir() + "/labgated", {"--config", configPath_, "--check-config"},
                              60000ms, tmp_->path());
  EXPECT_NE(run.exitCode, 0);
  EXPECT_NE((run.out + run.err).find("retention.body_days"), std::string::npos)
      << run.out << run.err;

  config_.set("retention.body_days", "90");
  config_.set("retention.archive_required", "maybe");
  config_.write(configPath_);
  run = runProgram(binDir() + "/labgated", {"--config", configPath_, "--check-config"}, 60000ms,
                   tmp_->path());
  EXPECT_NE(run.exitCode, 0);
  EXPECT_NE((run.out + run.err).find("retention.archive_required"), std::string::npos)
      << run.out << run.err;

  config_.set("retention.archive_required", "false");
  config_.set("retention.peak_days", "30");
  config_.set("retention.records_years", "15");
  config_.write(configPath_);
  run = runProgram(binDir() + "/labgated", {"--config", configPath_, "--check-config"}, 60000ms,
                   tmp_->path());
  EXPECT_EQ(run.exitCode, 0) << run.out << run.err;
}

}  // namespace
}  // namespace labgate::it
