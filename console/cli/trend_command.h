// `labgate trend`: EWMA or tabular CUSUM over a series of values in a CSV file
// (../shared/spec/analytics.md §4.2, §4.3), with the same functions the engine uses
// (rules/trend.h). The file has a header naming a `value` column (others are ignored); the rows are
// in time order. The answer is CSV on `out`: i,value,ewma,lcl,ucl,signal (EWMA) or
// i,value,sh,sl,signal (CUSUM), signal H, L or empty, numbers to 10 significant digits.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// Runs `labgate trend` with the arguments after "trend". Returns 0 on success (signals or not),
/// 2 for a usage error (unknown option, bad or missing --method/--target/--sd, a parameter out of
/// range, no file), 1 for a data error (unreadable or empty file, no value column, a value that is
/// not a number); errors go to `err` with the line and column they are on.
int runTrend(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// The usage text of `labgate trend`.
void printTrendUsage(std::ostream& out);

}  // namespace labgate::cli
