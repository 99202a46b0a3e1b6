// The file-drop source (connectors/file/file_drop_source.cpp) with a stand-in pipeline: the bytes
// the pipeline reads are the bytes that were hashed, and a file whose import throws twice is
// quarantined while the source keeps running.
#include "connectors/file/file_drop_source.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace labgate::file {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

class FileDropSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("file-drop-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "inbox");
    fs::create_directories(root_ / "data");
    registerFileDropSource(registry_);
  }
  void TearDown() override {
    if (source_) source_->stop();
    source_.reset();
    fs::remove_all(root_);
  }

  void start(ExportHandler handler) {
    SourceContext context;
    context.name = "lcms1";
    context.keys = {{"inbox", (root_ / "inbox").string()},
                    {"watch", "poll"},
                    {"poll_ms", "50"},
                    {"settle_ms", "0"}};
    context.exportHandler = std::move(handler);
    context.exportFormats = &registry_.exportFormats();
    context.dataDir = (root_ / "data").string();
    StatusOr<std::unique_ptr<Source>> made = registry_.createSource("file-drop", context);
    ASSERT_TRUE(made.isOk()) << made.status().toString();
    source_ = std::move(made).value();
    ASSERT_TRUE(source_->start().isOk());
  }

  void drop(const std::string& name, const std::string& bytes) {
    std::ofstream(root_ / "inbox" / ".tmp", std::ios::binary) << bytes;
    fs::rename(root_ / "inbox" / ".tmp", root_ / "inbox" / name);
  }

  Registry registry_;
  fs::path root_;
  std::unique_ptr<Source> source_;
};

TEST_F(FileDropSourceTest, ThePipelineReadsTheBytesThatWereHashed) {
  std::mutex mutex;
  std::string read, hashed;
  start([&](const ExportJob& job) {
    std::string bytes(std::istreambuf_iterator<char>(*job.in), {});
    std::lock_guard<std::mutex> lock(mutex);
    read = bytes;
    hashed = job.contentSha256;
    Intake intake;
    intake.outcome = Intake::Outcome::kAccepted;
    return intake;
  });
  const std::string content = "Sample,Name\n1,abc\n";
  drop("a.csv", content);
  ASSERT_TRUE(waitUntil([&] { return fs::exists(root_ / "inbox" / "processed" / "a.csv"); }, 10s));
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(read, content);
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  sha.update(content.data(), content.size());
  EXPECT_EQ(hashed, Poco::DigestEngine::digestToHex(sha.digest()));
  EXPECT_FALSE(fs::exists(root_ / "data" / "file-drop" / "lcms1.attempts"))
      << "a finished import leaves no attempt behind";
}

TEST_F(FileDropSourceTest, FileWhoseImportThrowsTwiceIsQuarantinedAndOthersImport) {
  std::atomic<int> calls{0};
  start([&](const ExportJob& job) -> Intake {
    ++calls;
    if (job.sizeBytes == 6) throw std::runtime_error("parser bug");
    Intake intake;
    intake.outcome = Intake::Outcome::kAccepted;
    return intake;
  });
  drop("poison.csv", "poison");
  // Retried once after 10 s, then quarantined.
  ASSERT_TRUE(
      waitUntil([&] { return fs::exists(root_ / "inbox" / "quarantine" / "poison.csv"); }, 60s));
  const fs::path reason = root_ / "inbox" / "quarantine" / "poison.csv.reason";
  ASSERT_TRUE(fs::exists(reason));
  std::ifstream in(reason);
  const std::string text(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(text.find("attempted 2 times"), std::string::npos) << text;
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(source_->health()->getValue<int64_t>("files_quarantined"), 1);

  drop("good.csv", "a good file");
  ASSERT_TRUE(
      waitUntil([&] { return fs::exists(root_ / "inbox" / "processed" / "good.csv"); }, 10s));
  EXPECT_EQ(source_->health()->getValue<std::string>("state"), "watching");
}

}  // namespace
}  // namespace labgate::file
