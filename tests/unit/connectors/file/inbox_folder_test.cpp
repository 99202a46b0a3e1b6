// The watched folder's file-system layer (connectors/file/inbox_folder.cpp): names that fit
// NAME_MAX, moves that never replace or write through a link, folders that are links, the private
// copy that is hashed and read, and the attempt log.
#include "connectors/file/inbox_folder.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <istream>
#include <iterator>
#include <sstream>

namespace labgate::file {
namespace {

namespace fs = std::filesystem;

class Folder : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("inbox-folder-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "inbox");
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }
  static std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  FdPtr inbox() {
    StatusOr<FdPtr> fd = openInbox((root_ / "inbox").string());
    EXPECT_TRUE(fd.isOk()) << fd.status().toString();
    return std::move(fd).value();
  }

  fs::path root_;
};

TEST(CandidateName, KeepsShortNamesAndNumbersTheRest) {
  EXPECT_EQ(candidateName("batch.csv", 0), "batch.csv");
  EXPECT_EQ(candidateName("batch.csv", 3), "batch-3.csv");
  EXPECT_EQ(candidateName("README", 1), "README-1");
}

TEST(CandidateName, FitsNameMaxWithTheReasonSuffix) {
  for (size_t length : {size_t{240}, size_t{248}, size_t{251}, size_t{255}}) {
    const std::string name = std::string(length - 4, 'a') + ".csv";
    for (int n : {0, 1, 99, 9999}) {
      const std::string candidate = candidateName(name, n);
      EXPECT_LE(candidate.size() + 7, kMaxNameBytes) << length << " " << n;
      EXPECT_EQ(candidate.substr(candidate.size() - 4), ".csv");
      if (n > 0) {
        EXPECT_NE(candidate.find("-" + std::to_string(n) + ".csv"), std::string::npos);
      }
    }
  }
}

TEST(CandidateName, CutsAtWholeUtf8Characters) {
  std::string name;
  while (name.size() < 252) name += "\xC3\xA9";  // é
  name += ".csv";
  const std::string candidate = candidateName(name, 1);
  EXPECT_LE(candidate.size() + 7, kMaxNameBytes);
  const std::string stem = candidate.substr(0, candidate.size() - std::string("-1.csv").size());
  EXPECT_EQ(stem.size() % 2, 0u) << "a character was cut in half";
}

TEST_F(Folder, MoveWithReasonNeverWritesThroughAPlantedLink) {
  fs::create_directories(root_ / "inbox" / "rejected");
  write(root_ / "victim", "precious");
  fs::create_symlink(root_ / "victim", root_ / "inbox" / "rejected" / "bad.csv.reason");
  write(root_ / "inbox" / "bad.csv", "data");
  FdPtr in = inbox();
  StatusOr<FdPtr> rejected = openOutputFolder(in->get(), "rejected", "rejected/", in->get());
  ASSERT_TRUE(rejected.isOk()) << rejected.status().toString();
  const std::string reason = "rejected: invalid\n";
  std::string movedAs;
  Status moved =
      moveOut(in->get(), "bad.csv", rejected.value()->get(), "rejected/", &reason, &movedAs);
  ASSERT_TRUE(moved.isOk()) << moved.toString();
  EXPECT_EQ(movedAs, "bad-1.csv");
  EXPECT_EQ(read(root_ / "victim"), "precious");
  EXPECT_EQ(read(root_ / "inbox" / "rejected" / "bad-1.csv.reason"), reason);
  EXPECT_EQ(read(root_ / "inbox" / "rejected" / "bad-1.csv"), "data");
  EXPECT_TRUE(fs::is_symlink(root_ / "inbox" / "rejected" / "bad.csv.reason"));
}

TEST_F(Folder, MoveNeverReplacesAnExistingName) {
  fs::create_directories(root_ / "inbox" / "processed");
  write(root_ / "inbox" / "processed" / "b.csv", "earlier");
  fs::create_symlink(root_ / "nowhere", root_ / "inbox" / "processed" / "b-1.csv");
  write(root_ / "inbox" / "b.csv", "now");
  FdPtr in = inbox();
  StatusOr<FdPtr> processed = openOutputFolder(in->get(), "processed", "processed/", in->get());
  ASSERT_TRUE(processed.isOk());
  std::string movedAs;
  ASSERT_TRUE(moveOut(in->get(), "b.csv", processed.value()->get(), "processed/", nullptr, &movedAs)
                  .isOk());
  EXPECT_EQ(movedAs, "b-2.csv");
  EXPECT_EQ(read(root_ / "inbox" / "processed" / "b.csv"), "earlier");
  EXPECT_TRUE(fs::is_symlink(root_ / "inbox" / "processed" / "b-1.csv"));
}

TEST_F(Folder, OutputFolderThatIsALinkIsRefusedWithAnOperatorsReason) {
  fs::create_directories(root_ / "elsewhere");
  fs::create_symlink(root_ / "elsewhere", root_ / "inbox" / "processed");
  fs::create_symlink("rejected", root_ / "inbox" / "rejected");  // loops on itself
  write(root_ / "inbox" / "quarantine", "a file, not a folder");
  FdPtr in = inbox();
  StatusOr<FdPtr> processed = openOutputFolder(in->get(), "processed", "processed/", in->get());
  ASSERT_FALSE(processed.isOk());
  EXPECT_NE(processed.status().reason().find("processed/ is a symbolic link"), std::string::npos)
      << processed.status().toString();
  StatusOr<FdPtr> rejected = openOutputFolder(in->get(), "rejected", "rejected/", in->get());
  ASSERT_FALSE(rejected.isOk());
  EXPECT_NE(rejected.status().reason().find("rejected/ is a symbolic link"), std::string::npos);
  StatusOr<FdPtr> quarantine = openOutputFolder(in->get(), "quarantine", "quarantine/", in->get());
  ASSERT_FALSE(quarantine.isOk());
  EXPECT_NE(quarantine.status().reason().find("quarantine/ is not a folder"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(root_ / "elsewhere"));
}

TEST_F(Folder, ConfiguredOutputFolderIsCreatedWithItsParents) {
  FdPtr in = inbox();
  const std::string path = (root_ / "done" / "2026" / "processed").string();
  StatusOr<FdPtr> made = openOutputFolder(AT_FDCWD, path, "processed_dir " + path, in->get());
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  EXPECT_TRUE(fs::is_directory(path));
  StatusOr<FdPtr> self = openOutputFolder(AT_FDCWD, (root_ / "inbox").string(), "x", in->get());
  EXPECT_FALSE(self.isOk()) << "the inbox itself is not an output folder";
}

TEST_F(Folder, ListingDescribesLinksWithoutFollowingThem) {
  write(root_ / "inbox" / "a.csv", "a");
  fs::create_symlink(root_ / "inbox" / "a.csv", root_ / "inbox" / "l.csv");
  std::vector<FolderEntry> entries;
  FdPtr in = inbox();
  ASSERT_TRUE(listFolder(in->get(), entries).isOk());
  ASSERT_EQ(entries.size(), 2u);
  for (const auto& e : entries) {
    EXPECT_EQ(S_ISLNK(e.info.st_mode), e.name == "l.csv") << e.name;
  }
}

TEST_F(Folder, SnapshotHashesExactlyTheBytesTheReaderGets) {
  std::string content;
  for (int i = 0; i < 300000; ++i) content += "row " + std::to_string(i) + "\n";
  write(root_ / "inbox" / "big.csv", content);
  const int fd = ::open((root_ / "inbox" / "big.csv").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  security::Fd file(fd);
  StatusOr<Snapshot> snap = snapshotFile(fd, root_.string(), int64_t{1} << 30);
  ASSERT_TRUE(snap.isOk()) << snap.status().toString();
  // The inbox file changes afterwards: the copy does not.
  write(root_ / "inbox" / "big.csv", "replaced");
  FdReadBuffer buffer(snap->copy->get());
  std::istream in(&buffer);
  std::string first(std::istreambuf_iterator<char>(in), {});
  EXPECT_EQ(first, content);
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  sha.update(first.data(), first.size());
  EXPECT_EQ(snap->sha256, Poco::DigestEngine::digestToHex(sha.digest()));
  EXPECT_EQ(snap->head, content.substr(0, 65536));
  EXPECT_EQ(snap->size, static_cast<int64_t>(content.size()));
  // Read again from the start (encryption at rest seals the file after the parse).
  in.clear();
  in.seekg(0, std::ios::end);
  EXPECT_EQ(static_cast<int64_t>(in.tellg()), snap->size);
  in.seekg(0);
  std::string again(std::istreambuf_iterator<char>(in), {});
  EXPECT_EQ(again, content);
  // Nothing named was left in the spool folder.
  for (const auto& e : fs::directory_iterator(root_)) {
    EXPECT_EQ(e.path().filename(), "inbox");
  }
}

TEST_F(Folder, AttemptLogCountsAndForgets) {
  const std::string path = (root_ / "lcms1.attempts").string();
  AttemptLog log(path);
  FileId a{1, 2, 3, 4}, b{1, 5, 3, 4};
  EXPECT_EQ(log.attempts(a), 0);
  ASSERT_TRUE(log.record(a, 1).isOk());
  ASSERT_TRUE(log.record(b, 2).isOk());
  EXPECT_EQ(AttemptLog(path).attempts(a), 1) << "kept across a restart";
  EXPECT_EQ(AttemptLog(path).attempts(b), 2);
  ASSERT_TRUE(log.record(a, 0).isOk());
  EXPECT_EQ(log.attempts(a), 0);
  ASSERT_TRUE(log.record(b, 0).isOk());
  EXPECT_FALSE(fs::exists(path)) << "an empty log leaves no file";
  EXPECT_EQ(AttemptLog("").attempts(a), 0);
  EXPECT_TRUE(AttemptLog("").record(a, 1).isOk());
}

}  // namespace
}  // namespace labgate::file
