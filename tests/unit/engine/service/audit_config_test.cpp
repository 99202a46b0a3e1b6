// audit.forward and audit.forwarder.NAME.* (engine/service/config.cpp, docs/configuration.md):
// defaults, values, and errors naming the key.
#include <gtest/gtest.h>

#include "engine/service/config.h"

namespace labgate {
namespace {

std::map<std::string, std::string> base() {
  return {{"data.dir", "/tmp/x"}, {"http.listen", "127.0.0.1:8480"}};
}

std::string errorKey(const std::map<std::string, std::string>& extra) {
  auto keys = base();
  for (const auto& [k, v] : extra) keys[k] = v;
  auto config = parseEngineConfig(keys);
  return config.isOk() ? "" : config.status().location();
}

TEST(AuditForwardConfig, NoneByDefault) {
  auto config = parseEngineConfig(base());
  ASSERT_TRUE(config.isOk());
  EXPECT_TRUE(config->auditForwarders.empty());
}

TEST(AuditForwardConfig, EachKindWithItsDefaultsAndValues) {
  auto keys = base();
  keys["audit.forward"] = "siem, web ,archive";
  keys["audit.forwarder.siem.kind"] = "syslog";
  keys["audit.forwarder.siem.address"] = "siem.example:6514";
  keys["audit.forwarder.siem.tls"] = "true";
  keys["audit.forwarder.siem.ca"] = "ca.pem";
  keys["audit.forwarder.siem.facility"] = "10";
  keys["audit.forwarder.web.kind"] = "https-json";
  keys["audit.forwarder.web.url"] = "https://collector.example/ingest";
  keys["audit.forwarder.web.batch_size"] = "500";
  keys["audit.forwarder.web.authorization_file"] = "token";
  keys["audit.forwarder.archive.kind"] = "file";
  keys["audit.forwarder.archive.path"] = "/var/log/labgate/audit.jsonl";
  auto config = parseEngineConfig(keys);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  ASSERT_EQ(config->auditForwarders.size(), 3u);
  const auto& siem = config->auditForwarders[0];
  EXPECT_EQ(siem.name, "siem");
  EXPECT_EQ(siem.host, "siem.example");
  EXPECT_EQ(siem.port, 6514);
  EXPECT_TRUE(siem.tls);
  EXPECT_EQ(siem.facility, 10);
  EXPECT_EQ(siem.batchSize, 100);
  EXPECT_EQ(siem.retryInitialMillis, 1000);
  EXPECT_EQ(siem.retryMaxMillis, 60000);
  const auto& web = config->auditForwarders[1];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.batchSize, 500);
  EXPECT_EQ(web.authorizationFile, "token");
  const auto& archive = config->auditForwarders[2];
  EXPECT_EQ(archive.maxBytes, 10 * 1024 * 1024);
  EXPECT_EQ(archive.keep, 5);
}

TEST(AuditForwardConfig, ErrorsNameTheKey) {
  EXPECT_EQ(errorKey({{"audit.forward", "a,a"}}), "audit.forward");
  EXPECT_EQ(errorKey({{"audit.forward", "a b"}}), "audit.forward");
  EXPECT_EQ(errorKey({{"audit.forwarder.z.kind", "file"}}), "audit.forwarder.z.kind");
  EXPECT_EQ(errorKey({{"audit.forwarder.kind", "file"}}), "audit.forwarder.kind");
  EXPECT_EQ(errorKey({{"audit.forward", "a"}}), "audit.forwarder.a.kind");
  EXPECT_EQ(errorKey({{"audit.forward", "a"},
                      {"audit.forwarder.a.kind", "syslog"},
                      {"audit.forwarder.a.address", "127.0.0.1:x"}}),
            "audit.forwarder.a.address");
  EXPECT_EQ(errorKey({{"audit.forward", "a"},
                      {"audit.forwarder.a.kind", "syslog"},
                      {"audit.forwarder.a.address", "127.0.0.1:514"},
                      {"audit.forwarder.a.tls", "yes"}}),
            "audit.forwarder.a.tls");
  EXPECT_EQ(errorKey({{"audit.forward", "a"},
                      {"audit.forwarder.a.kind", "syslog"},
                      {"audit.forwarder.a.address", "127.0.0.1:514"},
                      {"audit.forwarder.a.ca", "ca.pem"}}),
            "audit.forwarder.a.ca");
  EXPECT_EQ(errorKey({{"audit.forward", "a"},
                      {"audit.forwarder.a.kind", "syslog"},
                      {"audit.forwarder.a.address", "127.0.0.1:514"},
                      {"audit.forwarder.a.facility", "24"}}),
            "audit.forwarder.a.facility");
  EXPECT_EQ(errorKey({{"audit.forward", "a"},
                      {"audit.forwarder.a.kind", "https-json"},
                      {"audit.forwarder.a.url", "http://collector.example/x"}}),
            "audit.forwarder.a.url");
  EXPECT_EQ(errorKey({{"audit.forward", "a"},
                      {"audit.forwarder.a.kind", "https-json"},
                      {"audit.forwarder.a.url", "ftp://127.0.0.1/x"}}),
            "audit.forwarder.a.url");
  EXPECT_EQ(errorKey({{"audit.forward", "a"},
                      {"audit.forwarder.a.kind", "https-json"},
                      {"audit.forwarder.a.url", "https://c.example/x"},
                      {"audit.forwarder.a.cert", "c.pem"}}),
            "audit.forwarder.a.key");
  EXPECT_EQ(errorKey({{"audit.forward", "a"}, {"audit.forwarder.a.kind", "file"}}),
            "audit.forwarder.a.path");
  EXPECT_EQ(errorKey({{"audit.forward", "a"},
                      {"audit.forwarder.a.kind", "file"},
                      {"audit.forwarder.a.path", "x"},
                      {"audit.forwarder.a.max_bytes", "100"}}),
            "audit.forwarder.a.max_bytes");
  EXPECT_EQ(errorKey({{"audit.forward", "a"},
                      {"audit.forwarder.a.kind", "file"},
                      {"audit.forwarder.a.path", "x"},
                      {"audit.forwarder.a.url", "x"}}),
            "audit.forwarder.a.url");
  EXPECT_EQ(errorKey({{"audit.forward", "a"},
                      {"audit.forwarder.a.kind", "file"},
                      {"audit.forwarder.a.path", "x"},
                      {"audit.forwarder.a.retry_initial_ms", "500"},
                      {"audit.forwarder.a.retry_max_ms", "100"}}),
            "audit.forwarder.a.retry_max_ms");
}

}  // namespace
}  // namespace labgate
