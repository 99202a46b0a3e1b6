// The pipeline's view of each configured connector (ConnectorProfile): its mapping set, rule set
// and PHI policy, loaded through the stages the registry holds (mappings/ and rules/ register
// them in server/plugins.cpp). Shared by the engine, `labgated --check-config` and
// `labgate dry-run`, so all three read a connector the same way.
#pragma once

#include <vector>

#include "engine/model/status.h"
#include "engine/net/interfaces.h"
#include "engine/pipeline/pipeline.h"
#include "engine/service/config.h"

namespace labgate {

/// Every connector's profile, in config order. Every file is read and checked here; a problem is
/// Status::config naming the connector's key (connector.NAME.kind for an unknown kind, listing the
/// known ones; connector.NAME.mappings or .rules with the file and line).
StatusOr<std::vector<ConnectorProfile>> buildConnectorProfiles(const EngineConfig& config,
                                                               const Registry& registry);
/// The profile of one connector (see buildConnectorProfiles). A connector bound to a stored set
/// (connector.NAME.mapping_set) gets no mapping stage here: the engine binds the set's active
/// version once the store is open.
StatusOr<ConnectorProfile> buildConnectorProfile(const ConnectorConfig& connector,
                                                 const Registry& registry);

}  // namespace labgate
