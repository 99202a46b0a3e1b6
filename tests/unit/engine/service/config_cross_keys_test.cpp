// Tests for the cross-key checks of engine/service/config (issue 14): two listeners on one
// address (parseEngineConfig) and a key given twice in the file (loadEngineConfig), each refused
// naming the key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/service/config.h"

namespace labgate {
namespace {

std::map<std::string, std::string> twoConnectors() {
  return {{"data.dir", "/tmp/x"},
          {"http.listen", "127.0.0.1:8480"},
          {"connectors", "lab1, lab2"},
          {"connector.lab1.kind", "astm-tcp"},
          {"connector.lab1.listen", "127.0.0.1:9500"},
          {"connector.lab1.mappings", "m.csv"},
          {"connector.lab2.kind", "hl7-mllp"},
          {"connector.lab2.listen", "127.0.0.1:2576"},
          {"connector.lab2.mappings", "m.csv"}};
}

Status parsed(const std::map<std::string, std::string>& keys) {
  auto config = parseEngineConfig(keys);
  return config.isOk() ? Status::ok() : config.status();
}

TEST(ConfigListenerClashes, DistinctAddressesPass) {
  EXPECT_TRUE(parsed(twoConnectors()).isOk()) << parsed(twoConnectors()).toString();
  auto keys = twoConnectors();
  keys["connector.lab2.listen"] = "127.0.0.2:9500";  // same port, another loopback address
  EXPECT_TRUE(parsed(keys).isOk()) << parsed(keys).toString();
}

TEST(ConfigListenerClashes, SameHostAndPortIsRefusedNamingBothKeys) {
  auto keys = twoConnectors();
  keys["connector.lab2.listen"] = "127.0.0.1:9500";
  Status s = parsed(keys);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.location(), "connector.lab2.listen");
  EXPECT_NE(s.reason().find("connector.lab1.listen (127.0.0.1:9500)"), std::string::npos)
      << s.reason();

  keys = twoConnectors();
  keys["connector.lab1.listen"] = "localhost:8480";
  s = parsed(keys);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.location(), "connector.lab1.listen");
  EXPECT_NE(s.reason().find("http.listen (127.0.0.1:8480)"), std::string::npos) << s.reason();
}

TEST(ConfigListenerClashes, AWildcardClashesWithEveryAddressOnItsPort) {
  auto keys = twoConnectors();
  keys["connector.lab2.listen"] = "0.0.0.0:9500";
  keys["connector.lab2.allow"] = "10.1.4.0/24";
  EXPECT_EQ(parsed(keys).location(), "connector.lab2.listen");
  keys["connector.lab2.listen"] = "[::]:9500";
  EXPECT_EQ(parsed(keys).location(), "connector.lab2.listen");
  keys["connector.lab2.listen"] = "0.0.0.0:9501";
  EXPECT_TRUE(parsed(keys).isOk()) << parsed(keys).toString();
}

TEST(ConfigListenerClashes, HttpsOnTheHttpPortIsRefused) {
  auto keys = twoConnectors();
  keys["https.listen"] = "127.0.0.1:8480";
  keys["tls.cert"] = "c.pem";
  keys["tls.key"] = "k.pem";
  Status s = parsed(keys);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.location(), "https.listen");
  EXPECT_NE(s.reason().find("http.listen"), std::string::npos) << s.reason();
}

class ConfigRepeatedKeys : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("labgate_config_repeated_" + std::to_string(::getpid()) + ".properties"))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  Status load(const std::string& extra) {
    std::ofstream out(path_, std::ios::binary);
    for (const auto& [key, value] : twoConnectors()) out << key << " = " << value << "\n";
    out << extra;
    out.close();
    auto config = loadEngineConfig(path_);
    return config.isOk() ? Status::ok() : config.status();
  }
  std::string path_;
};

TEST_F(ConfigRepeatedKeys, AKeyGivenTwiceIsRefusedNamingTheKeyAndBothLines) {
  // twoConnectors() writes 9 lines in key order; connectors is line 7.
  Status s = load("\nconnectors: lab1, lab2\n");
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.location(), path_ + ": connectors");
  EXPECT_NE(s.reason().find("given twice, on lines 7 and 11"), std::string::npos) << s.reason();
}

TEST_F(ConfigRepeatedKeys, CommentsContinuationsAndEscapesAreNotRepeats) {
  Status s = load(
      "# connectors = old\r\n"
      "! data.dir = /old\n"
      "log.file = /tmp/x/a\\\n"
      "  data.dir=b\n"
      "log.rotation = \\\\\\\n"
      "connectors = c\n");  // "\\" then a continuation: the value is "\connectors = c"
  // log.rotation's value is not valid, which proves the continuation was read as a value.
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.location(), path_ + ": log.rotation") << s.toString();
  EXPECT_TRUE(load("log.file = /tmp/x/a\\\n  data.dir=b\n").isOk());
  // A comment line ending in a backslash does not continue: the next line is a key.
  s = load("# an old path: C:\\\ndata.dir = /tmp/y\n");
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.location(), path_ + ": data.dir") << s.toString();
}

}  // namespace
}  // namespace labgate
