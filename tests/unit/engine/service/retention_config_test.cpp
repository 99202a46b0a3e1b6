// retention.* (engine/service/retention_settings.h, docs/configuration.md): defaults (nothing is
// pruned), values, errors naming the key, and the warning when archives cannot be written.
#include <gtest/gtest.h>

#include "engine/service/config.h"

namespace labgate {
namespace {

std::map<std::string, std::string> base() {
  return {{"data.dir", "/tmp/x"}, {"http.listen", "127.0.0.1:8480"}};
}

StatusOr<EngineConfig> parse(const std::map<std::string, std::string>& extra) {
  auto keys = base();
  for (const auto& [k, v] : extra) keys[k] = v;
  return parseEngineConfig(keys);
}

TEST(RetentionConfig, ForeverByDefault) {
  auto config = parse({});
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  const RetentionSettings& r = config->retention;
  EXPECT_EQ(r.bodyDays, 0);
  EXPECT_EQ(r.peakDays, 0);
  EXPECT_TRUE(r.archiveRequired);
  EXPECT_EQ(r.recordsYears, 0);
  EXPECT_EQ(r.checkMinutes, 60);
  EXPECT_FALSE(r.on());
}

TEST(RetentionConfig, Values) {
  auto config = parse({{"retention.body_days", "90"},
                       {"retention.peak_days", "365"},
                       {"retention.archive_required", "false"},
                       {"retention.records_years", "15"},
                       {"retention.check_minutes", "5"}});
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  const RetentionSettings& r = config->retention;
  EXPECT_EQ(r.bodyDays, 90);
  EXPECT_EQ(r.peakDays, 365);
  EXPECT_FALSE(r.archiveRequired);
  EXPECT_EQ(r.recordsYears, 15);
  EXPECT_EQ(r.checkMinutes, 5);
  EXPECT_TRUE(r.on());
}

TEST(RetentionConfig, ErrorsNameTheKey) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"retention.body_days", "-1"},
                                                        {"retention.body_days", "ninety"},
                                                        {"retention.peak_days", "40000"},
                                                        {"retention.archive_required", "yes"},
                                                        {"retention.records_years", "101"},
                                                        {"retention.check_minutes", "0"}}) {
    auto config = parse({{key, value}});
    ASSERT_FALSE(config.isOk()) << key << "=" << value;
    EXPECT_EQ(config.status().location(), key) << config.status().toString();
  }
}

TEST(RetentionConfig, WarnsWhenArchivesCannotBeWritten) {
  auto config = parse({{"retention.body_days", "90"}});
  ASSERT_TRUE(config.isOk());
  bool warned = false;
  for (const auto& w : config->warnings) warned |= w.find("retention") != std::string::npos;
  EXPECT_TRUE(warned);
}

}  // namespace
}  // namespace labgate
