// store.url, store.password_file, node.id and node.lease_seconds (engine/service/config.cpp,
// docs/configuration.md, issue 17): defaults, values, and errors naming the key.
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "engine/service/config.h"

namespace labgate {
namespace {

std::map<std::string, std::string> base() {
  return {{"data.dir", "/tmp/x"}, {"http.listen", "127.0.0.1:8480"}};
}

Status parse(const std::map<std::string, std::string>& extra) {
  auto keys = base();
  for (const auto& [k, v] : extra) keys[k] = v;
  auto config = parseEngineConfig(keys);
  return config.isOk() ? Status::ok() : config.status();
}

TEST(StoreConfig, SqliteAndTheHostNameByDefault) {
  auto config = parseEngineConfig(base());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_TRUE(config->storeUrl.empty());
  EXPECT_FALSE(config->nodeId.empty());
  EXPECT_EQ(config->leaseSeconds, 15);
}

TEST(StoreConfig, APostgresStoreWithItsPasswordFileAndANode) {
  const std::string file = Poco::TemporaryFile::tempName();
  Poco::TemporaryFile::registerForDeletion(file);
  std::ofstream(file) << "secret\n";
  ::chmod(file.c_str(), 0600);
  auto keys = base();
  keys["store.url"] = "postgresql://labgate@db.lab.local:5432/labgate";
  keys["store.password_file"] = file;
  keys["node.id"] = "lg-node-2";
  keys["node.lease_seconds"] = "30";
  auto config = parseEngineConfig(keys);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->storeUrl, keys["store.url"]);
  EXPECT_EQ(config->nodeId, "lg-node-2");
  EXPECT_EQ(config->leaseSeconds, 30);
}

TEST(StoreConfig, BadValuesNameTheirKeyAndSayWhatToDo) {
  Status s = parse({{"store.url", "postgresql://lg:pw@db/labgate"}});
  EXPECT_EQ(s.location(), "store.url");
  EXPECT_EQ(s.toString().find("pw@"), std::string::npos) << "never echo a password";
  s = parse({{"store.password_file", "/etc/labgate/pw"}});
  EXPECT_EQ(s.location(), "store.password_file");
  EXPECT_NE(s.reason().find("store.url"), std::string::npos);
  s = parse({{"store.url", "postgresql://lg@db/labgate"}, {"store.password_file", "/nonexistent"}});
  EXPECT_EQ(s.location(), "store.password_file");
  EXPECT_EQ(parse({{"node.id", "two words"}}).location(), "node.id");
  EXPECT_EQ(parse({{"node.lease_seconds", "1"}}).location(), "node.lease_seconds");
  EXPECT_EQ(parse({{"node.lease_seconds", "ten"}}).location(), "node.lease_seconds");
  s = parse({{"store.url", "postgresql://lg@db/labgate"},
             {"backup.schedule", "daily"},
             {"security.key_file", "/etc/labgate/k"}});
  EXPECT_EQ(s.location(), "backup.schedule");
  EXPECT_NE(s.reason().find("pg_dump"), std::string::npos);
}

}  // namespace
}  // namespace labgate
