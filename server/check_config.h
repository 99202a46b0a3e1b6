// labgated --check-config: everything Engine::start() would read and validate, without opening a
// listener, the store or the log files. An operator runs it before a restart or a reload (and
// the systemd unit could run it as ExecStartPre) to learn about a mistake while the running
// engine still serves.
#pragma once

#include "engine/model/status.h"
#include "engine/net/interfaces.h"
#include "engine/service/config.h"

namespace labgate {

/// Checks, in start()'s order: the PHI patterns, every destination's keys, every connector's
/// mapping set and rule set, every connector's own keys (TLS files of hl7-mllp included) and the
/// codec they configure (looked up by kind in the registry), the key
/// files of encryption at rest, the TLS files of https.listen, the password blocklist and the
/// custom roles. The first problem is a
/// Status naming the key (and the file where one is at fault).
Status checkConfiguration(const EngineConfig& config, const Registry& registry);

}  // namespace labgate
