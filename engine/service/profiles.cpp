// Connector profiles (see profiles.h).
#include "engine/service/profiles.h"

namespace labgate {

StatusOr<std::vector<ConnectorProfile>> buildConnectorProfiles(const EngineConfig& config,
                                                               const Registry& registry) {
  std::vector<ConnectorProfile> profiles;
  for (const auto& c : config.connectors) {
    StatusOr<ConnectorProfile> profile = buildConnectorProfile(c, registry);
    if (!profile.isOk()) return profile.status();
    profiles.push_back(std::move(profile).value());
  }
  return profiles;
}

StatusOr<ConnectorProfile> buildConnectorProfile(const ConnectorConfig& c,
                                                 const Registry& registry) {
  StatusOr<const SourceKind*> kind = registry.requireSource(c.name, c.kind);
  if (!kind.isOk()) return kind.status();
  if (!registry.mappingLoader()) {
    return Status::config(
        "connector." + c.name + (c.mappingSet.empty() ? ".mappings" : ".mapping_set"),
        "this build registers no mapping stage");
  }
  // A stored set (connector.NAME.mapping_set) is bound by the engine once the store is open.
  std::shared_ptr<const MappingStage> mappings;
  if (c.mappingSet.empty()) {
    StatusOr<std::shared_ptr<const MappingStage>> loaded = registry.mappingLoader()(c.mappingsPath);
    if (!loaded.isOk()) {
      return Status::config("connector." + c.name + ".mappings", loaded.status().toString());
    }
    mappings = loaded.value();
  }
  ConnectorProfile profile;
  profile.name = c.name;
  profile.instrument = c.instrument;
  profile.orgId = c.orgId;
  profile.policy = c.phiPolicy == "strip" ? phi::Policy::kStrip : phi::Policy::kRefuse;
  profile.mappings = mappings;
  profile.destinations = c.destinations;
  profile.deduplicate = kind.value()->deduplicate;
  if (!c.rulesPath.empty()) {
    if (!registry.rulesLoader()) {
      return Status::config("connector." + c.name + ".rules",
                            "this build registers no rule engine");
    }
    StatusOr<std::shared_ptr<const RulesStage>> rules = registry.rulesLoader()(c.rulesPath);
    if (!rules.isOk()) {
      return Status::config("connector." + c.name + ".rules", rules.status().toString());
    }
    profile.rules = rules.value();
  }
  return profile;
}

}  // namespace labgate
