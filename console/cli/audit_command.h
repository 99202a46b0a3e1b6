// labgate audit verify: walks the audit trail's hash chain of a data directory, a database file or
// a backup, offline (the engine may be stopped), and names the first broken event (docs/audit.md).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// `args` are the arguments after "audit". Exit status: 0 the chain is intact, 1 it is broken or
/// could not be read, 2 usage error.
int runAudit(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace labgate::cli
