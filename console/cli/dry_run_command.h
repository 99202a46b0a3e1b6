// labgate dry-run: a message or batch through the PHI gate, mapping and the rules exactly as the
// engine would run it (the named connector's kind, options, mapping set, rule set and PHI policy),
// printed as JSON, stored nowhere. Administrators use it to try a rule set
// or a mapping before deploying it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "engine/net/interfaces.h"

namespace labgate::cli {

/// `args` are the arguments after "dry-run". Connector kinds, their codecs (built from each
/// connector's own keys) and the stages are looked up in `registry` (server/plugins.cpp fills
/// it), as the engine does. Returns the exit status.
int runDryRun(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
              const Registry& registry);

}  // namespace labgate::cli
