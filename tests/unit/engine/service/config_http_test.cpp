// Tests for engine/service/config: the HTTP(S) listener limits (issue 18, finding 3).
#include <gtest/gtest.h>

#include "engine/service/config.h"

namespace labgate {
namespace {

std::map<std::string, std::string> minimal() {
  return {{"data.dir", "/tmp/x"},
          {"connectors", "lab1"},
          {"connector.lab1.kind", "astm-tcp"},
          {"connector.lab1.listen", "127.0.0.1:9500"},
          {"connector.lab1.mappings", "m.csv"},
          {"connector.lab1.destinations", "lis"},
          {"destinations", "lis"},
          {"destination.lis.kind", "hl7-mllp"},
          {"destination.lis.host", "127.0.0.1"},
          {"destination.lis.port", "2575"}};
}

TEST(HttpLimitsConfig, DefaultsServeManyConnectionsWithBoundedWaits) {
  auto config = parseEngineConfig(minimal());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  const HttpLimits& limits = config->httpLimits;
  EXPECT_EQ(limits.maxConnections, 256);
  EXPECT_EQ(limits.headTimeoutSeconds, 20);
  EXPECT_EQ(limits.bodyTimeoutSeconds, 300);
  EXPECT_EQ(limits.keepAliveTimeoutSeconds, 10);
  EXPECT_EQ(limits.hstsMaxAgeSeconds, 31536000);
}

TEST(HttpLimitsConfig, KeysAreRead) {
  auto keys = minimal();
  keys["http.max_connections"] = "1000";
  keys["http.request_head_timeout_seconds"] = "5";
  keys["http.request_body_timeout_seconds"] = "900";
  keys["http.keep_alive_timeout_seconds"] = "2";
  keys["https.hsts_max_age_seconds"] = "0";
  auto config = parseEngineConfig(keys);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  const HttpLimits& limits = config->httpLimits;
  EXPECT_EQ(limits.maxConnections, 1000);
  EXPECT_EQ(limits.headTimeoutSeconds, 5);
  EXPECT_EQ(limits.bodyTimeoutSeconds, 900);
  EXPECT_EQ(limits.keepAliveTimeoutSeconds, 2);
  EXPECT_EQ(limits.hstsMaxAgeSeconds, 0);
}

TEST(HttpLimitsConfig, BadValuesAreRefusedNamingTheKey) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"http.max_connections", "4"},
           {"http.max_connections", "100000"},
           {"http.max_connections", "many"},
           {"http.request_head_timeout_seconds", "0"},
           {"http.request_body_timeout_seconds", "-1"},
           {"http.keep_alive_timeout_seconds", "1.5"},
           {"https.hsts_max_age_seconds", "forever"}}) {
    auto keys = minimal();
    keys[key] = value;
    auto config = parseEngineConfig(keys);
    ASSERT_FALSE(config.isOk()) << key << " = " << value << " was accepted";
    EXPECT_EQ(config.status().location(), key) << value;
  }
}

}  // namespace
}  // namespace labgate
