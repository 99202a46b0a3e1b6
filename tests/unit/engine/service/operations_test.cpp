// Tests for the operations side of engine/service: the log.* keys, JSON log lines
// (log_format), and the /metrics and /ready documents built from a /health document
// (observability).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Message.h>
#include <gtest/gtest.h>

#include "engine/service/config.h"
#include "engine/service/log_format.h"
#include "engine/service/observability.h"

namespace labgate {
namespace {

std::map<std::string, std::string> minimal() {
  return {{"data.dir", "/tmp/x"}, {"connectors", ""}, {"destinations", ""}};
}

StatusOr<EngineConfig> withKey(const std::string& key, const std::string& value) {
  auto keys = minimal();
  keys[key] = value;
  return parseEngineConfig(keys);
}

TEST(LogConfig, DefaultsAreTextTenMegabytesTenArchives) {
  auto config = parseEngineConfig(minimal());
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_EQ(config->logFormat, "text");
  EXPECT_EQ(config->logRotation, "10 M");
  EXPECT_EQ(config->logKeep, "10");
  EXPECT_TRUE(config->logLevels.empty());
}

TEST(LogConfig, AcceptedValues) {
  for (const char* v : {"text", "json"}) EXPECT_TRUE(withKey("log.format", v).isOk()) << v;
  for (const char* v : {"never", "daily", "weekly", "monthly", "02:30", "1048576", "10 M", "10M",
                        "500 K", "6 hours", "1 days", "2 weeks"}) {
    EXPECT_TRUE(withKey("log.rotation", v).isOk()) << v;
  }
  for (const char* v : {"10", "1", "none", "30 days", "12 hours", "2 weeks", "3 months"}) {
    EXPECT_TRUE(withKey("log.keep", v).isOk()) << v;
  }
  auto config = withKey("log.level.api", "debug");
  ASSERT_TRUE(config.isOk());
  EXPECT_EQ(config->logLevels.at("api"), "debug");
  EXPECT_TRUE(withKey("log.level.file-drop", "warning").isOk());
}

TEST(LogConfig, BadValuesNameTheKey) {
  const std::pair<const char*, const char*> bad[] = {
      {"log.format", "xml"},     {"log.rotation", "sometimes"},
      {"log.rotation", "0"},     {"log.rotation", "10 G"},
      {"log.rotation", "25:00"}, {"log.keep", "forever"},
      {"log.keep", "0"},         {"log.keep", "-3"},
      {"log.level.api", "loud"}, {"log.level.a/b", "debug"},
      {"log.level..x", "debug"}, {"log.rotation", "M"},
  };
  for (const auto& [key, value] : bad) {
    auto config = withKey(key, value);
    ASSERT_FALSE(config.isOk()) << key << " = " << value;
    EXPECT_EQ(config.status().location(), key) << value;
  }
}

TEST(JsonLog, OneObjectWithTheFourMembersProperlyEscaped) {
  Poco::Message message("pipeline", "quote \" backslash \\ tab \t newline \n bell \x07 end",
                        Poco::Message::PRIO_WARNING);
  JsonLineFormatter formatter;
  std::string line;
  formatter.format(message, line);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one event, one line";
  Poco::JSON::Object::Ptr parsed =
      Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(parsed->getValue<std::string>("level"), "warning");
  EXPECT_EQ(parsed->getValue<std::string>("logger"), "pipeline");
  EXPECT_EQ(parsed->getValue<std::string>("message"),
            "quote \" backslash \\ tab \t newline \n bell \x07 end");
  const std::string time = parsed->getValue<std::string>("time");
  ASSERT_EQ(time.size(), 24u) << time;
  EXPECT_EQ(time.back(), 'Z');
  EXPECT_EQ(line.rfind("{\"time\":", 0), 0u) << "time first";
}

TEST(JsonLog, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(jsonLogString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // valid UTF-8 kept
  EXPECT_EQ(jsonLogString("a\xff"
                          "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(jsonLogString("\xc3"), "\"\\ufffd\"");                        // truncated sequence
  EXPECT_EQ(jsonLogString("\xc0\xaf"), "\"\\ufffd\\ufffd\"");             // overlong
  EXPECT_EQ(jsonLogString("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
  EXPECT_EQ(jsonLogString(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
}

Poco::JSON::Object::Ptr healthDocument() {
  const std::string text = R"({"status":"degraded","version":"0.1.0",
    "connectors":[
      {"name":"lab1","kind":"astm-tcp","state":"listening","connections":2,
       "messages_accepted":10,"messages_duplicate":1,"messages_refused":3,
       "messages_refused_phi":2,"messages_invalid":1,"messages_failed":0,"messages_discarded":4},
      {"name":"drop\"x","kind":"file-drop","state":"watching","files_imported":5,
       "files_rejected":1,"files_duplicate":2,"files_retrying":0,"results_accepted":40}],
    "destinations":[
      {"name":"lis","kind":"hl7-mllp","state":"retrying","queue_depth":7,"delivered":9,
       "dead_letter":1,"last_error":"connection refused"}]})";
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

bool has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(MetricsDocument, ConnectorAndDestinationCountersComeFromHealth) {
  const std::string text = renderMetrics(*healthDocument(), nullptr);
  EXPECT_TRUE(has(text, "labgate_messages_received_total{connector=\"lab1\"} 14")) << text;
  EXPECT_TRUE(has(text, "labgate_messages_stored_total{connector=\"lab1\"} 10"));
  EXPECT_TRUE(has(text, "labgate_messages_refused_total{connector=\"lab1\",reason=\"phi\"} 2"));
  EXPECT_TRUE(has(text, "labgate_messages_refused_total{connector=\"lab1\",reason=\"invalid\"} 1"));
  EXPECT_TRUE(has(text, "labgate_messages_duplicate_total{connector=\"lab1\"} 1"));
  EXPECT_TRUE(has(text, "labgate_messages_discarded_total{connector=\"lab1\"} 4"));
  EXPECT_TRUE(has(text, "labgate_connector_connections{connector=\"lab1\"} 2"));
  EXPECT_TRUE(has(text, "labgate_connector_up{connector=\"lab1\",kind=\"astm-tcp\"} 1"));
  EXPECT_TRUE(has(text, "labgate_messages_received_total{connector=\"drop\\\"x\"} 8"));
  EXPECT_TRUE(
      has(text, "labgate_messages_refused_total{connector=\"drop\\\"x\",reason=\"rejected\"} 1"));
  EXPECT_TRUE(has(text, "labgate_results_accepted_total{connector=\"drop\\\"x\"} 40"));
  EXPECT_TRUE(has(text, "labgate_messages_delivered_total{destination=\"lis\"} 9"));
  EXPECT_TRUE(has(text, "labgate_messages_dead_letter_total{destination=\"lis\"} 1"));
  EXPECT_TRUE(has(text, "labgate_queue_depth{destination=\"lis\"} 7"));
  EXPECT_TRUE(has(text, "labgate_destination_retrying{destination=\"lis\"} 1"));
  EXPECT_TRUE(has(text, "labgate_queue_oldest_age_seconds{destination=\"lis\"} 0"));
  EXPECT_EQ(text.find("connection refused"), std::string::npos) << "no free text in metrics";
  EXPECT_EQ(text.rfind("# HELP ", 0), 0u);
}

TEST(MetricsDocument, AConnectorWithAFaultIsNotUp) {
  Poco::JSON::Object::Ptr health = healthDocument();
  Poco::JSON::Object::Ptr drop = health->getArray("connectors")->getObject(1);
  drop->set("state", "fault");
  drop->set("fault", "processed/ is a symbolic link");
  const std::string text = renderMetrics(*health, nullptr);
  EXPECT_TRUE(has(text, "labgate_connector_up{connector=\"drop\\\"x\",kind=\"file-drop\"} 0"))
      << text;
  EXPECT_TRUE(has(text, "labgate_connector_up{connector=\"lab1\",kind=\"astm-tcp\"} 1"));
}

TEST(MetricsDocument, TheBackupTimeOnHealthSetsTheBackupGauge) {
  Poco::JSON::Object::Ptr health = healthDocument();
  health->set("last_backup_at", "2026-11-24T04:00:00Z");
  const std::string text = renderMetrics(*health, nullptr);
  EXPECT_TRUE(has(text, "labgate_backup_last_success_timestamp_seconds 1795492800")) << text;
}

TEST(ReadyDocument, RetryingDestinationAndMissingStoreFail) {
  Readiness ready = checkReadiness(*healthDocument(), nullptr);
  EXPECT_FALSE(ready.ready);
  EXPECT_EQ(ready.body->getValue<std::string>("status"), "not ready");
  Poco::JSON::Array::Ptr checks = ready.body->getArray("checks");
  ASSERT_EQ(checks->size(), 4u);
  std::map<std::string, bool> ok;
  for (size_t i = 0; i < checks->size(); ++i) {
    auto check = checks->getObject(static_cast<unsigned>(i));
    ok[check->getValue<std::string>("name")] = check->getValue<bool>("ok");
    EXPECT_EQ(check->has("detail"), !check->getValue<bool>("ok"));
  }
  EXPECT_FALSE(ok.at("store"));
  EXPECT_FALSE(ok.at("destination:lis"));
  EXPECT_TRUE(ok.at("connector:lab1"));
}

}  // namespace
}  // namespace labgate
