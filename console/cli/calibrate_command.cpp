#include "console/cli/calibrate_command.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "rules/calibration.h"
#include "util/csv.h"
#include "util/text.h"

namespace labgate::cli {

namespace {

constexpr int kDataError = 1;
constexpr int kUsageError = 2;

void printUsage(std::ostream& out) {
  out << "usage: labgate calibrate [--model M] [--weight W] FILE.csv\n"
         "\n"
         "Fits a calibration curve to the columns x (concentration) and y (response) of FILE.csv\n"
         "(a header line names the columns; other columns are ignored) by weighted least squares\n"
         "and prints JSON: coefficients (intercept first; no intercept for linear-origin),\n"
         "r_squared, and each point with its back-calculated x and accuracy in percent.\n"
         "\n"
         "options:\n"
         "  --model M    linear (default), linear-origin, quadratic\n"
         "  --weight W   none (default), 1/x, 1/x2, 1/y, 1/y2\n"
         "  -h, --help   show this help\n"
         "\n"
         "exit status: 0 fitted, 1 the data cannot be fitted, 2 usage error\n";
}

std::optional<double> parseNumber(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

/// Reads the x,y points of a CSV file; on failure says why on `err` and returns nullopt.
std::optional<std::vector<rules::CalPoint>> readPoints(const std::string& path, std::ostream& err) {
  std::ifstream in(path);
  if (!in) {
    err << "labgate calibrate: cannot read " << path << "\n";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  util::CsvReader reader = util::CsvReader::fromText(text.str());  // RFC 4180 (util/csv.h)
  util::CsvRow row;
  util::CsvReader::Result result;
  std::optional<size_t> xCol, yCol;
  std::vector<rules::CalPoint> points;
  while ((result = reader.next(row)) == util::CsvReader::Result::kRow) {
    const int lineNo = row.line;
    std::vector<std::string> cells;
    bool blank = true;
    for (const std::string& cell : row.cells) {
      cells.emplace_back(util::trimmed(cell));
      if (!cells.back().empty()) blank = false;
    }
    if (blank) continue;
    if (!xCol) {  // the header
      for (size_t i = 0; i < cells.size(); ++i) {
        if (cells[i] == "x" || cells[i] == "X") xCol = i;
        if (cells[i] == "y" || cells[i] == "Y") yCol = i;
      }
      if (!xCol || !yCol) {
        err << "labgate calibrate: " << path << ":" << lineNo
            << ": the header needs columns named x and y\n";
        return std::nullopt;
      }
      continue;
    }
    double xy[2] = {0, 0};
    const size_t cols[2] = {*xCol, *yCol};
    for (int k = 0; k < 2; ++k) {
      std::string cell = cols[k] < cells.size() ? cells[cols[k]] : "";
      std::optional<double> v = parseNumber(cell);
      if (!v) {
        err << "labgate calibrate: " << path << ":" << lineNo << ": " << (k == 0 ? "x" : "y")
            << " is not a number: \"" << cell << "\"\n";
        return std::nullopt;
      }
      xy[k] = *v;
    }
    points.push_back({xy[0], xy[1]});
  }
  if (result == util::CsvReader::Result::kError) {
    err << "labgate calibrate: " << path << ":" << reader.error().line << ": "
        << reader.error().message << "\n";
    return std::nullopt;
  }
  if (!xCol) {
    err << "labgate calibrate: " << path << " is empty (no header with x and y)\n";
    return std::nullopt;
  }
  return points;
}

std::string number(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  return buf;
}

void printFit(const rules::CalibrationFit& fit, const std::vector<rules::CalPoint>& points,
              std::ostream& out) {
  out << "{\n  \"model\": \"" << rules::toString(fit.model) << "\",\n  \"weight\": \""
      << rules::toString(fit.weight) << "\",\n  \"coefficients\": [";
  for (size_t i = 0; i < fit.coefficients.size(); ++i) {
    out << (i ? ", " : "") << number(fit.coefficients[i]);
  }
  out << "],\n  \"r_squared\": " << number(fit.rSquared) << ",\n  \"points\": [";
  for (size_t i = 0; i < points.size(); ++i) {
    const rules::CalPoint& p = points[i];
    std::optional<double> x = rules::backCalculate(fit, p.y).concentration;
    std::optional<double> accuracy;
    if (x && p.x != 0) accuracy = 100.0 * *x / p.x;
    out << (i ? ",\n" : "\n") << "    {\"x\": " << number(p.x) << ", \"y\": " << number(p.y)
        << ", \"back_calculated\": " << number(x) << ", \"accuracy_pct\": " << number(accuracy)
        << "}";
  }
  out << "\n  ]\n}\n";
}

}  // namespace

int runCalibrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  rules::CalibrationModel model = rules::CalibrationModel::kLinear;
  rules::CalibrationWeight weight = rules::CalibrationWeight::kNone;
  std::optional<std::string> file;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      printUsage(out);
      return 0;
    }
    bool isModel = a == "--model" || a.rfind("--model=", 0) == 0;
    bool isWeight = a == "--weight" || a.rfind("--weight=", 0) == 0;
    if (isModel || isWeight) {
      size_t eq = a.find('=');
      std::string value;
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        err << "labgate calibrate: " << a << " needs a value (try --help)\n";
        return kUsageError;
      }
      if (isModel) {
        auto m = rules::parseCalibrationModel(value);
        if (!m) {
          err << "labgate calibrate: unknown model \"" << value
              << "\" (linear, linear-origin, quadratic)\n";
          return kUsageError;
        }
        model = *m;
      } else {
        auto w = rules::parseCalibrationWeight(value);
        if (!w) {
          err << "labgate calibrate: unknown weight \"" << value
              << "\" (none, 1/x, 1/x2, 1/y, 1/y2)\n";
          return kUsageError;
        }
        weight = *w;
      }
    } else if (a.size() > 1 && a[0] == '-') {
      err << "labgate calibrate: unknown option \"" << a << "\" (try --help)\n";
      return kUsageError;
    } else if (file) {
      err << "labgate calibrate: one file only (got \"" << *file << "\" and \"" << a << "\")\n";
      return kUsageError;
    } else {
      file = a;
    }
  }
  if (!file) {
    err << "labgate calibrate: no CSV file given\n";
    printUsage(err);
    return kUsageError;
  }
  std::optional<std::vector<rules::CalPoint>> points = readPoints(*file, err);
  if (!points) return kDataError;
  rules::CalibrationFit fit = rules::fitCalibration(*points, model, weight);
  if (!fit.ok) {
    err << "labgate calibrate: " << *file << ": " << fit.error << "\n";
    return kDataError;
  }
  printFit(fit, *points, out);
  return 0;
}

}  // namespace labgate::cli
