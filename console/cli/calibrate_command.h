// labgate calibrate: fits a calibration curve to the x,y columns of a CSV file with the model and
// weighting a method uses (rules/calibration) and prints the coefficients, R² and every point's
// back-calculated concentration as JSON. Lab staff use it to check a vendor's curve by hand.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// `args` are the arguments after "calibrate": [--model M] [--weight W] FILE.csv, or --help.
/// Prints JSON on `out`; problems on `err`. Returns 0, 1 (the data cannot be fitted: unreadable
/// file, missing column, non-numeric cell, too few points, undefined weight) or 2 (usage).
int runCalibrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace labgate::cli
