// `labgate qc`: Westgard multirules over a QC history in a CSV file (../shared/spec/analytics.md
// §3.2), one decision per (series, run). The file has a header naming at least the columns
// series,run,seq_in_run,level,target_mean,target_sd,value (in any order, more ignored; optional
// lot and excluded). Within-level windows use (series, level, lot); across-level windows the
// series. The answer is CSV on `out`: series,run,decision,rejects,warnings.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// Runs `labgate qc` with the arguments after "qc". Returns 0 on success (whatever the decisions),
/// 2 for a usage error (unknown option or rule name, no file), 1 for a data error (unreadable
/// file, missing column, a value that is not a number, target_sd ≤ 0); errors go to `err` with the
/// line they are on.
int runQc(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// The usage text of `labgate qc`.
void printQcUsage(std::ostream& out);

}  // namespace labgate::cli
