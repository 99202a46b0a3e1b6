// labgate qc-targets: QC targets (mean, SD) established from the QC history the engine stored,
// the deliberate, versioned step of analytics spec §3.3: the output is pasted into a rule set.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// `args` are the arguments after "qc-targets". Returns the exit status.
int runQcTargets(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace labgate::cli
