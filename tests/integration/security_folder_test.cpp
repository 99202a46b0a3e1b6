// The watched folder (connector kind file-drop) against someone who can write into it (issue 18,
// findings 12 and 13), through the real labgated: links planted in rejected/ or dropped into the
// inbox, hard links, processed/ and rejected/ replaced by links or looping, names that fill
// NAME_MAX, a file replaced while it is imported, and a file whose import the engine does not
// survive (quarantined on the second restart). After each, the engine still serves: /health 200
// and an ASTM message accepted and delivered.
#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <thread>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

namespace fs = std::filesystem;

std::string exportData(const std::string& name) { return testDataDir() + "/exports/" + name; }

bool isLink(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0 && S_ISLNK(info.st_mode);
}

bool isFolder(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

std::vector<std::string> namesIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string sha256Of(const std::string& bytes) {
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  sha.update(bytes.data(), bytes.size());
  return Poco::DigestEngine::digestToHex(sha.digest());
}

class FolderSecurityTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    inbox_ = tmp_->file("inbox");
    outside_ = tmp_->file("outside");
    fs::create_directories(inbox_);
    fs::create_directories(outside_);
    ConnectorConfig drop = config_.connectors.at(0);
    drop.name = "lcms1";
    drop.kind = "file-drop";
    drop.port = 0;
    drop.instrument = "qqq-01";
    drop.mappings = exportData("mappings-lcms.csv");
    drop.extra = {{"inbox", inbox_}, {"poll_ms", "100"}, {"settle_ms", "300"}};
    config_.connectors.push_back(drop);
    config_.omit("connector.lcms1.listen");
    config_.omit("connector.lcms1.astm.receive_timeout_seconds");
    batch_ = readFile(exportData("steroids_batch.csv"));
  }

  void startAll() {
    startLis();
    ASSERT_NO_FATAL_FAILURE(startEngine());
  }

  /// Writes a file into the inbox under a temporary name, then renames it in.
  void drop(const std::string& name, const std::string& bytes) {
    const std::string temporary = inbox_ + "/.drop" + std::to_string(++drops_) + ".tmp";
    writeFile(temporary, bytes);
    fs::rename(temporary, inbox_ + "/" + name);
  }

  bool waitForFile(const std::string& path, std::chrono::milliseconds timeout = 30000ms) {
    return waitUntil([&] { return fileExists(path) || isLink(path); }, timeout);
  }
  bool waitForFolder(const std::string& path) {
    return waitUntil([&] { return isFolder(path); }, 30000ms);
  }
  /// Waits until connector lcms1 shows `state` on /health.
  bool waitForState(const std::string& state, std::chrono::milliseconds timeout = 30000ms) {
    return waitUntil([&] { return health().connectorText("lcms1", "state") == state; }, timeout);
  }

  std::string query(const std::string& sql) const {
    return storeQuery(config_.dataDir + "/labgate.db", sql).value_or("<store unreadable>");
  }

  /// The engine still serves: /health 200 and an ASTM message accepted and delivered.
  void expectStillServing() {
    ASSERT_TRUE(engine_->running()) << "labgated is no longer running";
    Health now = health();
    EXPECT_EQ(now.httpStatus, 200);
    const std::string sample = newSampleId("SRV");
    AstmInstrument instrument(astmPort());
    Transfer t = instrument.sendSession(buildAstmMessage({{sample, {{"K", "4.1", "mmol/L"}}, {}}}));
    EXPECT_TRUE(t.complete) << "ASTM message: " << astm::replyName(t.finalReply);
    EXPECT_TRUE(waitForSample(sample)) << "the ASTM message was not delivered";
  }

  /// Takes the database's write lock (BEGIN IMMEDIATE through StoreWriteLock, in the test
  /// process) until the lock is released: an import reaches its commit and waits there, so the
  /// test can act while the engine is inside it.
  std::unique_ptr<StoreWriteLock> lockDatabase() {
    auto lock = std::make_unique<StoreWriteLock>(config_.dataDir + "/labgate.db");
    EXPECT_TRUE(lock->held()) << "the test could not take the database's write lock: "
                              << lock->error();
    return lock;
  }

  /// processed/ or rejected/ (`folder`) replaced by a link to another folder while the engine
  /// runs, then `file` dropped: nothing is written through the link, /health shows the fault, and
  /// once the folder is mended the waiting file is taken.
  void replacedFolderCase(const std::string& folder, const std::string& file,
                          const std::string& bytes) {
    const std::string elsewhere = outside_ + "/elsewhere";
    fs::create_directories(elsewhere);
    ASSERT_TRUE(waitForFolder(inbox_ + "/" + folder));
    fs::remove(inbox_ + "/" + folder);
    fs::create_symlink(elsewhere, inbox_ + "/" + folder);

    drop(file, bytes);
    ASSERT_TRUE(waitForState("fault")) << "the connector shows no fault";
    Health now = health();
    const std::string fault = now.connectorText("lcms1", "fault");
    EXPECT_NE(fault.find(folder + "/ is a symbolic link"), std::string::npos) << fault;
    EXPECT_EQ(now.root->optValue<std::string>("status", ""), "degraded");
    // Time for several scans past settle_ms: still nothing taken, nothing written elsewhere.
    std::this_thread::sleep_for(1500ms);
    EXPECT_TRUE(namesIn(elsewhere).empty()) << "a file was written through the link";
    EXPECT_TRUE(fileExists(inbox_ + "/" + file)) << "the file must wait in the inbox";
    ASSERT_NO_FATAL_FAILURE(expectStillServing());

    // Mended: the link replaced by a real folder.
    fs::remove(inbox_ + "/" + folder);
    fs::create_directories(inbox_ + "/" + folder);
    ASSERT_TRUE(waitUntil([&] { return !fileExists(inbox_ + "/" + file); }, 30000ms))
        << "the waiting file was not taken after the folder was mended";
    EXPECT_TRUE(waitForState("watching"));
    EXPECT_TRUE(namesIn(elsewhere).empty());
  }

  std::string inbox_;
  std::string outside_;
  std::string batch_;
  int drops_ = 0;
};

// Finding 12: a NAME.reason link planted in rejected/ pointing at a file the engine can write
// (here a stand-in for the database or the key file) is never written through.
TEST_F(FolderSecurityTest, PlantedReasonLinkLeavesTheVictimUnchanged) {
  ASSERT_NO_FATAL_FAILURE(startAll());
  ASSERT_TRUE(waitForFolder(inbox_ + "/rejected"));
  const std::string victim = outside_ + "/labgate.key";
  writeFile(victim, "the victim's contents");
  fs::create_symlink(victim, inbox_ + "/rejected/broken.csv.reason");

  drop("broken.csv", readFile(exportData("corrupt_row.csv")));
  ASSERT_TRUE(waitForFile(inbox_ + "/rejected/broken-1.csv.reason"))
      << "the rejected file's reason must go beside it under a free name; rejected/ holds "
      << namesIn(inbox_ + "/rejected").size() << " names";
  EXPECT_TRUE(fileExists(inbox_ + "/rejected/broken-1.csv"));
  EXPECT_NE(readFile(inbox_ + "/rejected/broken-1.csv.reason").find("rejected: invalid"),
            std::string::npos);
  EXPECT_EQ(readFile(victim), "the victim's contents") << "written through the planted link";
  EXPECT_TRUE(isLink(inbox_ + "/rejected/broken.csv.reason")) << "the planted link was replaced";
  ASSERT_NO_FATAL_FAILURE(expectStillServing());
}

// Finding 12: a link dropped into the inbox (here to another organisation's processed batch) is
// refused into rejected/ with a reason; the batch it names is not imported and not touched.
TEST_F(FolderSecurityTest, LinkDroppedIntoTheInboxIsRefusedAndNotImported) {
  ASSERT_NO_FATAL_FAILURE(startAll());
  const std::string otherOrg = outside_ + "/org2/processed";
  fs::create_directories(otherOrg);
  writeFile(otherOrg + "/steroids_batch.csv", batch_);
  fs::create_symlink(otherOrg + "/steroids_batch.csv", inbox_ + "/stolen.csv");

  ASSERT_TRUE(waitForFile(inbox_ + "/rejected/stolen.csv.reason"));
  const std::string reason = readFile(inbox_ + "/rejected/stolen.csv.reason");
  EXPECT_NE(reason.find("rejected: symbolic link"), std::string::npos) << reason;
  EXPECT_NE(reason.find("Copy the export into the inbox"), std::string::npos) << reason;
  EXPECT_TRUE(isLink(inbox_ + "/rejected/stolen.csv")) << "the link itself is moved";
  EXPECT_FALSE(isLink(inbox_ + "/stolen.csv"));
  EXPECT_EQ(readFile(otherOrg + "/steroids_batch.csv"), batch_);
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "0") << "the linked batch was imported";
  EXPECT_EQ(health().connector("lcms1", "files_rejected"), 1);
  EXPECT_EQ(health().connector("lcms1", "files_imported"), 0);

  // The same batch, copied in as a file of its own, is imported.
  drop("copied.csv", batch_);
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/copied.csv"));
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "1");
  ASSERT_NO_FATAL_FAILURE(expectStillServing());
}

// Finding 12: a file with another name elsewhere (a hard link) is refused, not imported.
TEST_F(FolderSecurityTest, HardLinkedFileIsRefused) {
  ASSERT_NO_FATAL_FAILURE(startAll());
  const std::string original = outside_ + "/org2-batch.csv";
  writeFile(original, batch_);
  fs::create_hard_link(original, inbox_ + "/linked.csv");

  ASSERT_TRUE(waitForFile(inbox_ + "/rejected/linked.csv.reason"));
  const std::string reason = readFile(inbox_ + "/rejected/linked.csv.reason");
  EXPECT_NE(reason.find("rejected: hard link"), std::string::npos) << reason;
  EXPECT_NE(reason.find("other name"), std::string::npos) << reason;
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages"), "0") << "the hard-linked batch was imported";
  EXPECT_EQ(readFile(original), batch_);
  ASSERT_NO_FATAL_FAILURE(expectStillServing());
}

TEST_F(FolderSecurityTest, ProcessedReplacedByLinkIsAFaultAndNothingIsWrittenThere) {
  ASSERT_NO_FATAL_FAILURE(startAll());
  ASSERT_NO_FATAL_FAILURE(replacedFolderCase("processed", "good.csv", batch_));
  ASSERT_NO_FATAL_FAILURE(expectStillServing());
  EXPECT_TRUE(fileExists(inbox_ + "/processed/good.csv"));
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages WHERE connector='lcms1'"), "1");
}

TEST_F(FolderSecurityTest, RejectedReplacedByLinkIsAFaultAndNothingIsWrittenThere) {
  ASSERT_NO_FATAL_FAILURE(startAll());
  ASSERT_NO_FATAL_FAILURE(
      replacedFolderCase("rejected", "broken.csv", readFile(exportData("corrupt_row.csv"))));
  ASSERT_NO_FATAL_FAILURE(expectStillServing());
  EXPECT_TRUE(fileExists(inbox_ + "/rejected/broken.csv.reason"));
}

// Finding 13: a processed link that points at itself (ELOOP) at start-up: the engine starts,
// shows the fault, keeps serving, and takes nothing from the inbox.
TEST_F(FolderSecurityTest, SelfLoopingProcessedLinkDoesNotStopTheEngine) {
  fs::create_symlink("processed", inbox_ + "/processed");
  ASSERT_NO_FATAL_FAILURE(startAll());
  ASSERT_TRUE(waitForState("fault"));
  const std::string fault = health().connectorText("lcms1", "fault");
  EXPECT_NE(fault.find("processed/ is a symbolic link"), std::string::npos) << fault;
  drop("good.csv", batch_);
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(fileExists(inbox_ + "/good.csv"));
  ASSERT_NO_FATAL_FAILURE(expectStillServing());
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages WHERE connector='lcms1'"), "0");
}

// Finding 13: names that fill NAME_MAX, colliding in processed/ and rejected/: the file is moved
// under a shortened free name, its .reason beside it, and the engine serves on.
TEST_F(FolderSecurityTest, LongNamesCollidingInProcessedAndRejectedDoNotStopTheEngine) {
  ASSERT_NO_FATAL_FAILURE(startAll());
  ASSERT_TRUE(waitForFolder(inbox_ + "/processed"));
  ASSERT_TRUE(waitForFolder(inbox_ + "/rejected"));
  for (size_t length : {size_t{251}, size_t{255}}) {
    SCOPED_TRACE("name of " + std::to_string(length) + " bytes");
    const std::string name = std::string(length - 4, 'n') + ".csv";
    writeFile(inbox_ + "/processed/" + name, "taken");
    writeFile(inbox_ + "/rejected/" + name, "taken");
    const size_t processedBefore = namesIn(inbox_ + "/processed").size();
    const size_t rejectedBefore = namesIn(inbox_ + "/rejected").size();

    // Imported (different content each round), then the same content again: a duplicate.
    const std::string bytes = batch_ + std::string(length == 251 ? 1 : 2, '\n');
    drop(name, bytes);
    ASSERT_TRUE(
        waitUntil([&] { return namesIn(inbox_ + "/processed").size() > processedBefore; }, 30000ms))
        << "not moved to processed/";
    ASSERT_TRUE(waitUntil([&] { return !fileExists(inbox_ + "/" + name); }, 30000ms));
    drop(name, bytes);
    ASSERT_TRUE(waitUntil(
        [&] { return namesIn(inbox_ + "/rejected").size() >= rejectedBefore + 2; }, 30000ms))
        << "the duplicate and its .reason did not reach rejected/";
    bool reasonFound = false;
    for (const auto& n : namesIn(inbox_ + "/rejected")) {
      EXPECT_LE(n.size(), 255u);
      if (n.size() > 7 && n.compare(n.size() - 7, 7, ".reason") == 0 && n[0] == 'n' &&
          readFile(inbox_ + "/rejected/" + n).find("rejected: duplicate") != std::string::npos) {
        reasonFound = true;
      }
    }
    EXPECT_TRUE(reasonFound) << "no .reason for the duplicate";
    EXPECT_EQ(readFile(inbox_ + "/processed/" + name), "taken");
    EXPECT_EQ(readFile(inbox_ + "/rejected/" + name), "taken");
    ASSERT_NO_FATAL_FAILURE(expectStillServing());
    // The next round needs the first round's duplicate handled: clear rejected/ of it.
    fs::remove_all(inbox_ + "/rejected");
    fs::create_directories(inbox_ + "/rejected");
  }
}

// Finding 12: a file replaced under its name while it is imported (the engine is inside the
// commit, held there by the test's database lock): the batch stored is the file that was read and
// hashed, and the file put in its place is not moved away unread but imported on its own.
TEST_F(FolderSecurityTest, FileReplacedDuringImportIsImportedOnItsOwn) {
  ASSERT_NO_FATAL_FAILURE(startAll());
  std::unique_ptr<StoreWriteLock> lock = lockDatabase();
  drop("batch.csv", batch_);
  ASSERT_TRUE(waitForState("importing")) << "the import did not start";
  const std::string replacement = batch_ + "\n";
  drop("batch.csv", replacement);
  lock->release();

  ASSERT_TRUE(waitUntil([&] { return query("SELECT COUNT(*) FROM messages") == "2"; }, 60000ms))
      << "the file put in place during the import was not imported (messages: "
      << query("SELECT COUNT(*) FROM messages") << ")";
  EXPECT_EQ(query("SELECT content_sha256 FROM messages ORDER BY id LIMIT 1"), sha256Of(batch_));
  EXPECT_EQ(query("SELECT content_sha256 FROM messages ORDER BY id DESC LIMIT 1"),
            sha256Of(replacement));
  // The file read first was unlinked by the replacement; what processed/ holds is the replacement,
  // moved there after its own import.
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/batch.csv"));
  EXPECT_EQ(readFile(inbox_ + "/processed/batch.csv"), replacement);
  EXPECT_EQ(namesIn(inbox_ + "/processed").size(), 1u);
  ASSERT_NO_FATAL_FAILURE(expectStillServing());
}

// Finding 13: a poison file. The engine is killed twice while it imports the same file (held in
// the commit by the test's database lock, so the kill lands inside the import every time); on the
// next start the file is quarantined with a .reason instead of being tried a third time, nothing
// from it is stored, and the engine serves and imports other files.
TEST_F(FolderSecurityTest, FileTheEngineDoesNotSurviveTwiceIsQuarantined) {
  // A long settle time: after each restart the test takes the lock before the file is taken, and
  // a loaded machine may need seconds to start the engine (a short settle made the test flaky).
  config_.connectors.at(1).extra["settle_ms"] = "10000";
  ASSERT_NO_FATAL_FAILURE(startAll());
  std::unique_ptr<StoreWriteLock> lock = lockDatabase();
  drop("poison.csv", batch_);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    ASSERT_TRUE(waitForState("importing")) << "the import did not start";
    engine_->kill();
    lock->release();
    ASSERT_TRUE(fileExists(inbox_ + "/poison.csv"));
    ASSERT_NO_FATAL_FAILURE(startEngine());
    lock = lockDatabase();
  }
  // Third start: quarantined without another attempt.
  ASSERT_TRUE(waitForFile(inbox_ + "/quarantine/poison.csv.reason"));
  lock->release();
  EXPECT_TRUE(fileExists(inbox_ + "/quarantine/poison.csv"));
  EXPECT_FALSE(fileExists(inbox_ + "/poison.csv"));
  const std::string reason = readFile(inbox_ + "/quarantine/poison.csv.reason");
  EXPECT_NE(reason.find("quarantined: not imported"), std::string::npos) << reason;
  EXPECT_NE(reason.find("attempted 2 times"), std::string::npos) << reason;
  EXPECT_EQ(health().connector("lcms1", "files_quarantined"), 1);
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages WHERE connector='lcms1'"), "0");
  ASSERT_NO_FATAL_FAILURE(expectStillServing());

  // Other files are imported as before.
  drop("next.csv", batch_ + "\n");
  ASSERT_TRUE(waitForFile(inbox_ + "/processed/next.csv", 60000ms));
  EXPECT_EQ(query("SELECT COUNT(*) FROM messages WHERE connector='lcms1'"), "1");
}

}  // namespace
}  // namespace labgate::it
