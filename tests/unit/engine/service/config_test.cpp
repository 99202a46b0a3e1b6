// Tests for engine/service/config: every key checked, errors naming the key.
#include "engine/service/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace labgate {
namespace {

std::map<std::string, std::string> valid() {
  return {{"data.dir", "/tmp/x"},
          {"http.listen", "127.0.0.1:8480"},
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

std::string errorKey(std::map<std::string, std::string> keys) {
  auto config = parseEngineConfig(keys);
  return config.isOk() ? "" : config.status().location();
}

TEST(EngineConfig, ValidConfigurationParses) {
  auto config = parseEngineConfig(valid());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  ASSERT_EQ(config->connectors.size(), 1u);
  EXPECT_EQ(config->connectors[0].instrument, "lab1");
  EXPECT_EQ(config->connectors[0].phiPolicy, "refuse");
  EXPECT_EQ(config->connectors[0].keys.at("listen"), "127.0.0.1:9500");
  EXPECT_EQ(config->logFile, "/tmp/x/logs/labgated.log");
  EXPECT_EQ(config->httpPort, 8480);
}

TEST(EngineConfig, ErrorsNameTheKey) {
  auto keys = valid();
  keys["http.listen"] = "nonsense";
  EXPECT_EQ(errorKey(keys), "http.listen");
  keys = valid();
  keys["log.level"] = "loud";
  EXPECT_EQ(errorKey(keys), "log.level");
  keys = valid();
  keys["data.dri"] = "oops";
  EXPECT_EQ(errorKey(keys), "data.dri");
  keys = valid();
  keys["connector.lab2.kind"] = "astm-tcp";
  EXPECT_EQ(errorKey(keys), "connector.lab2.kind");
  keys = valid();
  keys["connector.lab1.phi.policy"] = "ignore";
  EXPECT_EQ(errorKey(keys), "connector.lab1.phi.policy");
  keys = valid();
  keys["connector.lab1.destinations"] = "nowhere";
  EXPECT_EQ(errorKey(keys), "connector.lab1.destinations");
  keys = valid();
  keys.erase("connector.lab1.mappings");
  EXPECT_EQ(errorKey(keys), "connector.lab1.mappings");
  keys = valid();
  keys.erase("connector.lab1.kind");
  EXPECT_EQ(errorKey(keys), "connector.lab1.kind");
  keys = valid();
  keys["destination.lis.retry_initial_ms"] = "5000";
  keys["destination.lis.retry_max_ms"] = "1000";
  EXPECT_EQ(errorKey(keys), "destination.lis.retry_max_ms");
  keys = valid();
  keys["connectors"] = "lab1, lab1";
  EXPECT_EQ(errorKey(keys), "connectors");
}

// Issue 16: destination.NAME.pipeline_depth (ADR 0018), 32 unless set, 0..1024.
TEST(EngineConfig, PipelineDepthIsReadAndChecked) {
  auto keys = valid();
  auto config = parseEngineConfig(keys);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->destinations.at(0).pipelineDepth, 32);
  keys["destination.lis.pipeline_depth"] = "0";
  config = parseEngineConfig(keys);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->destinations.at(0).pipelineDepth, 0);
  keys["destination.lis.pipeline_depth"] = "1025";
  EXPECT_EQ(errorKey(keys), "destination.lis.pipeline_depth");
  keys["destination.lis.pipeline_depth"] = "deep";
  EXPECT_EQ(errorKey(keys), "destination.lis.pipeline_depth");
}

TEST(EngineConfig, MissingFileIsNamed) {
  auto config = loadEngineConfig("/nonexistent/labgate.properties");
  ASSERT_FALSE(config.isOk());
  EXPECT_EQ(config.status().location(), "/nonexistent/labgate.properties");
}

TEST(EngineConfig, FileWithAnEmptyKeyIsAnErrorNotACrash) {
  // Found by the config fuzzer: "=x" and ".a = b" made the reader recurse for ever.
  const std::string path = ::testing::TempDir() + "/empty_key.properties";
  for (const char* text : {"=x\n", ".a = b\n"}) {
    std::ofstream(path) << text;
    auto config = loadEngineConfig(path);
    ASSERT_FALSE(config.isOk()) << text;
    EXPECT_NE(config.status().toString().find("empty"), std::string::npos)
        << config.status().toString();
  }
  std::remove(path.c_str());
}

TEST(EngineConfig, SecurityKeysAndRolesAreChecked) {
  auto keys = valid();
  keys["security.session.idle_seconds"] = "0";
  auto bad = parseEngineConfig(keys);
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().location(), "security.session.idle_seconds");
  keys = valid();
  keys["role.night-shift.permissions"] = "results.read, diagnostics.read";
  keys["security.lockout.attempts"] = "3";
  auto good = parseEngineConfig(keys);
  ASSERT_TRUE(good.isOk()) << good.status().toString();
  EXPECT_EQ(good.value().security.lockoutAttempts, 3);
  EXPECT_EQ(good.value().security.customRoles.at("night-shift").size(), 2u);
  keys = valid();
  keys["role.x"] = "results.read";
  EXPECT_FALSE(parseEngineConfig(keys).isOk());
}

TEST(EngineConfig, ThrottleKeysAreParsedAndChecked) {
  auto keys = valid();
  auto defaults = parseEngineConfig(keys);
  ASSERT_TRUE(defaults.isOk()) << defaults.status().toString();
  EXPECT_EQ(defaults.value().security.lockoutAttempts, 50);
  EXPECT_EQ(defaults.value().security.throttle.freeAttempts, 3);
  EXPECT_EQ(defaults.value().security.throttle.sourceFreeAttempts, 20);
  EXPECT_EQ(defaults.value().security.throttle.delaySeconds, 1);
  EXPECT_EQ(defaults.value().security.throttle.maxDelaySeconds, 900);
  keys["security.throttle.free_attempts"] = "5";
  keys["security.throttle.source_free_attempts"] = "0";
  keys["security.throttle.delay_seconds"] = "2";
  keys["security.throttle.max_delay_seconds"] = "60";
  keys["security.lockout.attempts"] = "0";
  auto good = parseEngineConfig(keys);
  ASSERT_TRUE(good.isOk()) << good.status().toString();
  EXPECT_EQ(good.value().security.throttle.freeAttempts, 5);
  EXPECT_EQ(good.value().security.throttle.sourceFreeAttempts, 0);
  EXPECT_EQ(good.value().security.throttle.delaySeconds, 2);
  EXPECT_EQ(good.value().security.throttle.maxDelaySeconds, 60);
  EXPECT_EQ(good.value().security.lockoutAttempts, 0);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"security.throttle.free_attempts", "-1"},
           {"security.throttle.delay_seconds", "0"},
           {"security.throttle.max_delay_seconds", "1"},  // below delay_seconds = 2
           {"security.throttle.free_attempts", "three"}}) {
    auto bad = keys;
    bad[key] = value;
    auto refused = parseEngineConfig(bad);
    ASSERT_FALSE(refused.isOk()) << key << " = " << value;
    EXPECT_EQ(refused.status().location(), key) << refused.status().toString();
  }
}

// Issue 18, finding 9: a connector reachable from the network must say whom it serves.
TEST(EngineConfig, NetworkListenerNeedsAnAllowList) {
  for (const std::string host : {"0.0.0.0", "[::]", "10.1.4.20", "lab-gw.example"}) {
    auto keys = valid();
    keys["connector.lab1.listen"] = host + ":9500";
    auto config = parseEngineConfig(keys);
    ASSERT_FALSE(config.isOk()) << host;
    EXPECT_EQ(config.status().location(), "connector.lab1.allow") << host;
    EXPECT_NE(config.status().reason().find("connector.lab1.listen = " + host + ":9500"),
              std::string::npos)
        << config.status().reason();
    EXPECT_NE(config.status().reason().find("or to any to serve every address"), std::string::npos)
        << config.status().reason();
  }
  for (const std::string host : {"127.0.0.1", "127.0.0.2", "localhost", "[::1]"}) {
    auto keys = valid();
    keys["connector.lab1.listen"] = host + ":9500";
    auto config = parseEngineConfig(keys);
    ASSERT_TRUE(config.isOk()) << host << ": " << config.status().toString();
    EXPECT_TRUE(config->warnings.empty()) << host;
  }
  auto keys = valid();
  keys["connector.lab1.listen"] = "0.0.0.0:9500";
  keys["connector.lab1.allow"] = "10.1.4.0/24";
  auto listed = parseEngineConfig(keys);
  ASSERT_TRUE(listed.isOk()) << listed.status().toString();
  EXPECT_TRUE(listed->warnings.empty());
  EXPECT_FALSE(listed->connectors[0].allowAny);
}

TEST(EngineConfig, AllowAnyIsAcceptedWithAWarning) {
  auto keys = valid();
  keys["connector.lab1.listen"] = "0.0.0.0:9500";
  keys["connector.lab1.allow"] = "ANY";
  auto config = parseEngineConfig(keys);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_TRUE(config->connectors[0].allowAny);
  EXPECT_TRUE(config->connectors[0].allow.empty());
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_NE(config->warnings[0].find("connector.lab1.allow = any"), std::string::npos);
  // On loopback, any is simply every local address: no warning.
  keys["connector.lab1.listen"] = "127.0.0.1:9500";
  config = parseEngineConfig(keys);
  ASSERT_TRUE(config.isOk());
  EXPECT_TRUE(config->warnings.empty());
  // any with addresses is a mistake, not a wider list.
  keys["connector.lab1.allow"] = "any, 10.0.0.0/8";
  EXPECT_EQ(errorKey(keys), "connector.lab1.allow");
}

TEST(SplitList, TrimsAndDropsEmpty) {
  EXPECT_EQ(splitList(" a, b ,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(splitList("").empty());
}

}  // namespace
TEST(EngineConfig, SignatureKeysAreCheckedAndNameTheKey) {
  auto keys = valid();
  keys["signatures.distinct_signers"] = "false";
  keys["signatures.send_rejected"] = "cancelled";
  keys["signatures.meanings"] = "witnessed";
  keys["signatures.meaning.witnessed.permission"] = "results.approve";
  auto config = parseEngineConfig(keys);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  const api::SignaturePolicy& p = config.value().security.signatures;
  EXPECT_FALSE(p.distinctSigners);
  EXPECT_TRUE(p.reviewBeforeApproval);
  EXPECT_TRUE(p.sendRejectedCancelled);
  EXPECT_EQ(p.meanings.at("witnessed"), "results.approve");
  EXPECT_EQ(p.meanings.at("reviewed"), "results.review");

  auto with = [](const std::string& key, const std::string& value) {
    auto k = valid();
    k[key] = value;
    return errorKey(k);
  };
  EXPECT_EQ(with("signatures.distinct_signers", "yes"), "signatures.distinct_signers");
  EXPECT_EQ(with("signatures.send_rejected", "always"), "signatures.send_rejected");
  EXPECT_EQ(with("signatures.meanings", "Signed Off"), "signatures.meanings");
  EXPECT_EQ(with("signatures.colour", "red"), "signatures.colour");
  EXPECT_EQ(with("signatures.meaning.unknown.permission", "results.review"),
            "signatures.meaning.unknown.permission");
  EXPECT_EQ(with("signatures.meaning.approved.permission", "results.everything"),
            "signatures.meaning.approved.permission");
}

TEST(EngineConfig, AConnectorBindsAStoredMappingSetOrAFileNotBoth) {
  auto keys = valid();
  keys.erase("connector.lab1.mappings");
  keys["connector.lab1.mapping_set"] = "lcms-panel";
  auto config = parseEngineConfig(keys);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->connectors[0].mappingSet, "lcms-panel");
  EXPECT_TRUE(config->connectors[0].mappingsPath.empty());

  keys["connector.lab1.mappings"] = "m.csv";
  config = parseEngineConfig(keys);
  ASSERT_FALSE(config.isOk());
  EXPECT_EQ(config.status().location(), "connector.lab1.mappings");
  EXPECT_NE(config.status().reason().find("connector.lab1.mapping_set"), std::string::npos)
      << config.status().toString();

  keys.erase("connector.lab1.mappings");
  keys["connector.lab1.mapping_set"] = "no spaces";
  EXPECT_EQ(errorKey(keys), "connector.lab1.mapping_set");
  keys.erase("connector.lab1.mapping_set");
  config = parseEngineConfig(keys);
  ASSERT_FALSE(config.isOk());
  EXPECT_NE(config.status().reason().find("mapping_set"), std::string::npos)
      << "the missing-key error names both ways";

  // Two files that would be stored as one set.
  keys = valid();
  keys["connectors"] = "lab1, lab2";
  keys["connector.lab2.kind"] = "astm-tcp";
  keys["connector.lab2.listen"] = "127.0.0.1:9501";
  keys["connector.lab2.mappings"] = "other/m.csv";
  EXPECT_EQ(errorKey(keys), "connector.lab2.mappings");
  keys["connector.lab2.mappings"] = "m.csv";
  EXPECT_EQ(errorKey(keys), "") << "the same file, shared";
  keys["connector.lab2.org"] = "lab-b";
  keys["connector.lab2.mappings"] = "other/m.csv";
  keys["connector.lab2.destinations"] = "";
  EXPECT_EQ(errorKey(keys), "") << "another organisation's set";
}

}  // namespace labgate
