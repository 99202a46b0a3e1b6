// Tests for server/plugins.cpp and the registry it fills (engine/net/registry.cpp): every plug-in
// is registered once under its kind, with its factory, codec and format tag; an unknown kind is a
// configuration error naming connector.NAME.kind and listing the known kinds, in the engine's
// profiles and in --check-config alike.
#include "server/plugins.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "engine/service/profiles.h"
#include "server/check_config.h"

namespace labgate {
namespace {

Registry plugins() {
  Registry registry;
  registerPlugins(registry);
  return registry;
}

TEST(Plugins, EveryConnectorAndDestinationKindIsRegisteredOnce) {
  Registry registry = plugins();
  EXPECT_EQ(registry.sourceKinds(),
            (std::vector<std::string>{"astm-tcp", "file-drop", "hl7-mllp", "upload"}));
  EXPECT_EQ(registry.destinationKinds(), (std::vector<std::string>{"hl7-mllp"}));
  // Registering the list again into the same registry names the first kind it meets twice.
  try {
    registerPlugins(registry);
    FAIL() << "a kind registered twice must be refused";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("registered twice"), std::string::npos) << e.what();
  }
}

TEST(Plugins, EveryExportFormatIsRegisteredOnceWithItsSyntax) {
  Registry registry = plugins();
  std::vector<std::string> names = registry.exportFormats().names();
  std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique.size(), names.size()) << "an export format is registered twice";
  for (const char* name : {"masshunter", "sciex", "skyline", "tasq", "targetlynx-xml"}) {
    EXPECT_TRUE(unique.count(name)) << name;
  }
  for (const ExportFormatInfo& info : registry.exportFormats().all()) {
    const bool xml = info.name.find("xml") != std::string::npos;
    EXPECT_EQ(info.syntax, xml ? SourceFormat::kXml : SourceFormat::kCsv) << info.name;
  }
}

TEST(Plugins, MessageSourcesCarryTheirCodecAndFormatTag) {
  Registry registry = plugins();
  struct Expected {
    const char* kind;
    const char* tag;
    bool codec;
    bool deduplicate;
  };
  for (const Expected& e :
       {Expected{"astm-tcp", "astm", true, false}, Expected{"hl7-mllp", "hl7", true, true},
        Expected{"file-drop", "", false, true}, Expected{"upload", "", false, true}}) {
    const SourceKind* kind = registry.sourceKind(e.kind);
    ASSERT_NE(kind, nullptr) << e.kind;
    EXPECT_TRUE(static_cast<bool>(kind->factory)) << e.kind;
    EXPECT_EQ(kind->formatTag, e.tag) << e.kind;
    EXPECT_EQ(static_cast<bool>(kind->codec), e.codec) << e.kind;
    EXPECT_EQ(kind->deduplicate, e.deduplicate) << e.kind;
    if (kind->codec) {
      auto codec = kind->codec("connector.c1.", {});
      ASSERT_TRUE(codec.isOk()) << codec.status().toString();
      EXPECT_EQ(codec.value()->formatTag(), e.tag) << "the codec stores what the kind says";
    }
  }
  const DestinationKind* lis = registry.destinationKind("hl7-mllp");
  ASSERT_NE(lis, nullptr);
  EXPECT_EQ(lis->formatTag, "hl7");
  EXPECT_TRUE(static_cast<bool>(registry.mappingLoader()));
  EXPECT_TRUE(static_cast<bool>(registry.rulesLoader()));
}

TEST(Plugins, TheCodecIsBuiltFromTheConnectorsOwnKeys) {
  Registry registry = plugins();
  // hl7.sample_id_field picks the sample id: OBR-2 here, OBR-3 by default.
  const std::string oru =
      "MSH|^~\\&|ANALYZER|LABFAC|LIS|HOSP|20250101120000||ORU^R01^ORU_R01|M1|P|2.5.1\r"
      "OBR|1|PLACER-7|FILLER-9|GLU^Glucose\rOBX|1|NM|GLU^Glucose||5.4|mmol/L|||||F\r";
  auto sampleId = [&](const KeyValues& keys) {
    auto codec = registry.sourceKind("hl7-mllp")->codec("connector.lab2.", keys);
    EXPECT_TRUE(codec.isOk()) << codec.status().toString();
    auto doc = codec.value()->parse(oru);
    EXPECT_TRUE(doc.isOk()) << doc.status().toString();
    auto message = codec.value()->build(doc.value());
    EXPECT_TRUE(message.isOk()) << message.status().toString();
    return message.value().samples.empty() ? std::string() : message.value().samples[0].sampleId;
  };
  EXPECT_EQ(sampleId({}), "FILLER-9");
  EXPECT_EQ(sampleId({{"hl7.sample_id_field", "OBR-2"}, {"listen", "127.0.0.1:1"}}), "PLACER-7");

  // A bad option is an error naming the connector's full key.
  auto bad = registry.sourceKind("astm-tcp")
                 ->codec("connector.lab1.", {{"astm.test_code_component", "99"}});
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().location(), "connector.lab1.astm.test_code_component");
}

TEST(Plugins, AnUnknownKindNamesTheKeyAndTheKnownKinds) {
  Registry registry = plugins();
  auto found = registry.requireSource("lab1", "astm");
  ASSERT_FALSE(found.isOk());
  EXPECT_EQ(found.status().location(), "connector.lab1.kind");
  EXPECT_NE(found.status().reason().find(
                "unknown kind \"astm\" (known: astm-tcp, file-drop, hl7-mllp, upload)"),
            std::string::npos)
      << found.status().toString();

  auto destination = registry.requireDestination("lis", "mllp");
  ASSERT_FALSE(destination.isOk());
  EXPECT_EQ(destination.status().location(), "destination.lis.kind");
  EXPECT_NE(destination.status().reason().find("(known: hl7-mllp)"), std::string::npos);

  // The engine's profiles and --check-config say the same.
  EngineConfig config;
  config.phiPatterns = std::string(LABGATE_SOURCE_DIR) + "/config/phi-patterns.json";
  ConnectorConfig connector;
  connector.name = "lab1";
  connector.kind = "astm";
  connector.mappingsPath = std::string(LABGATE_TEST_DATA_DIR) + "/integration/mappings.csv";
  config.connectors.push_back(connector);
  auto profiles = buildConnectorProfiles(config, registry);
  ASSERT_FALSE(profiles.isOk());
  EXPECT_EQ(profiles.status().location(), "connector.lab1.kind");
  Status checked = checkConfiguration(config, registry);
  EXPECT_EQ(checked.location(), "connector.lab1.kind") << checked.toString();
  EXPECT_NE(checked.reason().find("known: astm-tcp, file-drop, hl7-mllp, upload"),
            std::string::npos)
      << checked.toString();
}

}  // namespace
}  // namespace labgate
