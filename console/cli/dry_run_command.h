// labgate dry-run: a message or batch through the PHI gate, mapping and the rules exactly as the
// engine would run it, printed as JSON, stored nowhere. Administrators use it to try a rule set
// or a mapping before deploying it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// `args` are the arguments after "dry-run". Returns the exit status.
int runDryRun(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace labgate::cli
