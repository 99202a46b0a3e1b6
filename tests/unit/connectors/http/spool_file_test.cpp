// Tests for connectors/http/spool_file: what reaches the disk is not the body, the body reads
// back whole and seekable, the file is private and never left behind.
#include "connectors/http/spool_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace labgate::http {
namespace {

namespace fs = std::filesystem;

class SpoolFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("spool_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  size_t filesInDir() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++n;
    return n;
  }

  static std::string body(size_t n) {
    std::string out;
    std::mt19937 random(7);
    const std::string line = "Sample,Analyte,Area\nS-0001,testosterone,12345.6\n";
    while (out.size() < n) out += line + std::to_string(random()) + "\n";
    out.resize(n);
    return out;
  }

  fs::path dir_;
};

TEST_F(SpoolFileTest, DiskHoldsCiphertextInAPrivateFileAndTheReaderGetsTheBodyBack) {
  const std::string text = body(300000);
  auto made = SpoolFile::create(dir_.string());
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  SpoolFile& spool = *made.value();
  std::istringstream in(text);
  ASSERT_EQ(spool.copyFrom(in, 1 << 20), SpoolFile::Copy::kDone);

  // On disk: 0600, the body's length, and none of its text.
  struct stat st {};
  ASSERT_EQ(::stat(spool.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream raw(spool.path(), std::ios::binary);
  std::string onDisk((std::istreambuf_iterator<char>(raw)), std::istreambuf_iterator<char>());
  EXPECT_EQ(onDisk.size(), text.size());
  EXPECT_EQ(onDisk.find("testosterone"), std::string::npos) << "the spool file holds plain text";

  ASSERT_TRUE(spool.finish());
  EXPECT_EQ(filesInDir(), 0u) << "the name stays after finish()";
  EXPECT_EQ(spool.size(), static_cast<int64_t>(text.size()));
  EXPECT_EQ(spool.head(), text.substr(0, SpoolFile::kHeadBytes));
  EXPECT_EQ(spool.sha256Hex().size(), 64u);

  std::istream& reader = spool.reader();
  std::string back((std::istreambuf_iterator<char>(reader)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(back == text) << "read back " << back.size() << " of " << text.size() << " bytes";
}

TEST_F(SpoolFileTest, ReaderSeeksAnywhereAsThePipelineDoes) {
  const std::string text = body(200003);
  auto made = SpoolFile::create(dir_.string());
  ASSERT_TRUE(made.isOk());
  SpoolFile& spool = *made.value();
  // Written in odd-sized pieces, so that the keystream crosses block boundaries mid-write.
  for (size_t at = 0; at < text.size(); at += 997) {
    ASSERT_TRUE(spool.write(text.data() + at, std::min<size_t>(997, text.size() - at)));
  }
  ASSERT_TRUE(spool.finish());
  std::istream& reader = spool.reader();
  char buffer[64];
  for (int64_t pos : {int64_t{0}, int64_t{17}, int64_t{65535}, int64_t{65536}, int64_t{131071},
                      int64_t{200000}, int64_t{5}, int64_t{100001}}) {
    reader.clear();
    reader.seekg(pos);
    ASSERT_EQ(static_cast<int64_t>(reader.tellg()), pos);
    reader.read(buffer, sizeof buffer);
    const size_t n = static_cast<size_t>(reader.gcount());
    EXPECT_EQ(std::string(buffer, n), text.substr(static_cast<size_t>(pos), 64)) << "at " << pos;
  }
  reader.clear();
  reader.seekg(0, std::ios::end);
  EXPECT_EQ(static_cast<int64_t>(reader.tellg()), static_cast<int64_t>(text.size()));
  reader.seekg(-10, std::ios::cur);
  reader.read(buffer, 10);
  EXPECT_EQ(std::string(buffer, 10), text.substr(text.size() - 10));
}

TEST_F(SpoolFileTest, OverTheLimitAndDestroyedEarlyLeavesNothing) {
  {
    auto made = SpoolFile::create(dir_.string());
    ASSERT_TRUE(made.isOk());
    std::istringstream in(body(5000));
    EXPECT_EQ(made.value()->copyFrom(in, 4096), SpoolFile::Copy::kTooLarge);
    EXPECT_EQ(filesInDir(), 1u);
  }
  EXPECT_EQ(filesInDir(), 0u) << "a spool file outlived its upload";
}

TEST_F(SpoolFileTest, AMissingDirectoryIsAnErrorNamingIt) {
  auto made = SpoolFile::create((dir_ / "absent").string());
  ASSERT_FALSE(made.isOk());
  EXPECT_EQ(made.status().location(), (dir_ / "absent").string());
  EXPECT_NE(made.status().reason().find("data.dir"), std::string::npos);
}

}  // namespace
}  // namespace labgate::http
