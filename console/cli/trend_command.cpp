#include "console/cli/trend_command.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "rules/trend.h"
#include "util/csv.h"
#include "util/text.h"

namespace labgate::cli {

namespace {

constexpr int kUsageError = 2;
constexpr int kDataError = 1;

enum class Method { kNone, kEwma, kCusum };

struct Options {
  Method method = Method::kNone;
  std::optional<double> target;
  std::optional<double> sd;
  rules::EwmaConfig ewma;  // λ = 0.2, L = 3 unless given
  rules::CusumConfig cusum;
  bool ewmaOption = false;   // --lambda, --width or --steady-state given
  bool cusumOption = false;  // --k, --h, --no-reset or --fir given
  std::string file;
  bool help = false;
};

// A problem with the file's data: reported with exit status 1.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A finite number, the whole text; nullopt otherwise.
std::optional<double> number(const std::string& raw) {
  std::string text(util::trimmed(raw));
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

// Parses the arguments; false with a message in `error` for a usage error.
bool parseArgs(const std::vector<std::string>& args, Options& options, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inlineValue;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inlineValue = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inlineValue) return inlineValue;
      if (i + 1 < args.size()) return args[++i];
      error = arg + " needs a value";
      return std::nullopt;
    };
    auto numeric = [&]() -> std::optional<double> {
      std::optional<std::string> text = value();
      if (!text) return std::nullopt;
      std::optional<double> v = number(*text);
      if (!v) error = arg + " needs a number, not \"" + *text + "\"";
      return v;
    };
    if (arg == "-h" || arg == "--help") {
      options.help = true;
    } else if (arg == "--method") {
      std::optional<std::string> m = value();
      if (!m) return false;
      if (*m == "ewma") {
        options.method = Method::kEwma;
      } else if (*m == "cusum") {
        options.method = Method::kCusum;
      } else {
        error = "--method must be ewma or cusum, not \"" + *m + "\"";
        return false;
      }
    } else if (arg == "--target") {
      if (!(options.target = numeric())) return false;
    } else if (arg == "--sd") {
      if (!(options.sd = numeric())) return false;
      if (!(*options.sd > 0)) {
        error = "--sd must be > 0";
        return false;
      }
    } else if (arg == "--lambda") {
      std::optional<double> v = numeric();
      if (!v) return false;
      if (!(*v > 0 && *v <= 1)) {
        error = "--lambda must be in (0, 1]";
        return false;
      }
      options.ewma.lambda = *v;
      options.ewmaOption = true;
    } else if (arg == "--width") {
      std::optional<double> v = numeric();
      if (!v) return false;
      if (!(*v > 0)) {
        error = "--width must be > 0";
        return false;
      }
      options.ewma.L = *v;
      options.ewmaOption = true;
    } else if (arg == "--steady-state") {
      options.ewma.steadyState = true;
      options.ewmaOption = true;
    } else if (arg == "--k") {
      std::optional<double> v = numeric();
      if (!v) return false;
      if (!(*v >= 0)) {
        error = "--k must be >= 0";
        return false;
      }
      options.cusum.k = *v;
      options.cusumOption = true;
    } else if (arg == "--h") {
      std::optional<double> v = numeric();
      if (!v) return false;
      if (!(*v > 0)) {
        error = "--h must be > 0";
        return false;
      }
      options.cusum.h = *v;
      options.cusumOption = true;
    } else if (arg == "--no-reset") {
      options.cusum.reset = false;
      options.cusumOption = true;
    } else if (arg == "--fir") {
      options.cusum.fir = true;
      options.cusumOption = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      error = "unknown option " + arg;
      return false;
    } else if (options.file.empty()) {
      options.file = arg;
    } else {
      error = "one FILE only (got \"" + options.file + "\" and \"" + arg + "\")";
      return false;
    }
  }
  if (options.help) return true;
  if (options.method == Method::kNone) {
    error = "--method ewma or --method cusum is needed";
  } else if (!options.target) {
    error = "--target is needed";
  } else if (!options.sd) {
    error = "--sd is needed";
  } else if (options.method == Method::kEwma && options.cusumOption) {
    error = "--k, --h, --no-reset and --fir belong to --method cusum";
  } else if (options.method == Method::kCusum && options.ewmaOption) {
    error = "--lambda, --width and --steady-state belong to --method ewma";
  } else if (options.file.empty()) {
    error = "no FILE given";
  }
  return error.empty();
}

// The `value` column of the file, in file order; throws DataError naming line and column.
std::vector<double> readValues(const std::string& text) {
  util::CsvReader reader = util::CsvReader::fromText(text);
  util::CsvRow row;
  util::CsvReader::Result result;
  std::optional<size_t> column;
  std::vector<double> values;
  while ((result = reader.next(row)) == util::CsvReader::Result::kRow) {
    if (row.cells.empty() || (row.cells.size() == 1 && util::trimmed(row.cells[0]).empty())) {
      continue;
    }
    const std::string where = "line " + std::to_string(row.line);
    if (!column) {
      if (row.cells[0].rfind("\xEF\xBB\xBF", 0) == 0) row.cells[0].erase(0, 3);
      for (size_t i = 0; i < row.cells.size(); ++i) {
        if (util::lowered(std::string(util::trimmed(row.cells[i]))) == "value") column = i;
      }
      if (!column) throw DataError(where + ": the header has no column value");
      continue;
    }
    const std::string at = where + ", column " + std::to_string(*column + 1) + " (value)";
    if (*column >= row.cells.size() || util::trimmed(row.cells[*column]).empty()) {
      throw DataError(at + ": is empty");
    }
    std::optional<double> v = number(row.cells[*column]);
    if (!v) throw DataError(at + ": \"" + row.cells[*column] + "\" is not a number");
    values.push_back(*v);
  }
  if (result == util::CsvReader::Result::kError) {
    throw DataError("line " + std::to_string(reader.error().line) + ": " + reader.error().message);
  }
  if (!column) throw DataError("the file is empty (a header with a value column is needed)");
  if (values.empty()) throw DataError("the file has a header but no values");
  return values;
}

// A number to 10 significant digits ("-0" printed as "0").
std::string g10(double v) {
  if (v == 0) v = 0;
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

}  // namespace

void printTrendUsage(std::ostream& out) {
  out << "usage: labgate trend --method ewma --target MEAN --sd SD [--lambda L] [--width W]\n"
         "                     [--steady-state] FILE.csv\n"
         "       labgate trend --method cusum --target MEAN --sd SD [--k K] [--h H] [--no-reset]\n"
         "                     [--fir] FILE.csv\n"
         "\n"
         "Computes an EWMA or a tabular (standardised) CUSUM over the values of FILE.csv, the\n"
         "same statistics the engine keeps per instrument, analyte and QC level (docs/rules.md).\n"
         "FILE.csv needs a header with a column named value (others are ignored); the rows are in\n"
         "time order. Output, numbers to 10 significant digits:\n"
         "  ewma:  i,value,ewma,lcl,ucl,signal\n"
         "  cusum: i,value,sh,sl,signal\n"
         "signal is H (above the upper limit / SH > h), L (below the lower limit / SL > h) or\n"
         "empty; a statistic exactly on its limit does not signal.\n"
         "\n"
         "EWMA: E_i = lambda*x_i + (1-lambda)*E_(i-1), E_0 = MEAN. The limits are by default the\n"
         "exact, time-varying ones, MEAN +/- W*SD*sqrt(lambda/(2-lambda)*(1-(1-lambda)^(2i))),\n"
         "narrow at the start; --steady-state uses the asymptotic MEAN +/- W*SD*sqrt(lambda/\n"
         "(2-lambda)) for every point (as the NIST/SEMATECH e-Handbook example does).\n"
         "CUSUM: z_i = (x_i-MEAN)/SD, SH_i = max(0, SH_(i-1)+z_i-K), SL_i = max(0, "
         "SL_(i-1)-z_i-K);\n"
         "after a signal both restart from 0 (the row shows the values that signalled).\n"
         "\n"
         "options:\n"
         "  --method M        ewma or cusum (required)\n"
         "  --target MEAN     the target (in-control mean) (required)\n"
         "  --sd SD           the in-control standard deviation, > 0 (required)\n"
         "  --lambda L        EWMA weight, 0 < L <= 1 (default 0.2)\n"
         "  --width W         EWMA limit width in SD units (default 3)\n"
         "  --steady-state    EWMA: the asymptotic limits for every point\n"
         "  --k K             CUSUM reference value in SD units (default 0.5)\n"
         "  --h H             CUSUM decision interval in SD units (default 5)\n"
         "  --no-reset        CUSUM: keep accumulating after a signal\n"
         "  --fir             CUSUM: fast initial response, start (and restart) at H/2\n"
         "  -h, --help        show this help\n"
         "\n"
         "exit status: 0 done, 1 data error (file, value column, number), 2 usage error\n";
}

int runTrend(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Options options;
  std::string error;
  if (!parseArgs(args, options, error)) {
    err << "labgate trend: " << error << " (try labgate trend --help)\n";
    return kUsageError;
  }
  if (options.help) {
    printTrendUsage(out);
    return 0;
  }
  std::ifstream in(options.file, std::ios::binary);
  if (!in) {
    err << "labgate trend: cannot read " << options.file << "\n";
    return kDataError;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::vector<double> values;
  try {
    values = readValues(text.str());
  } catch (const DataError& e) {
    err << "labgate trend: " << options.file << ": " << e.what() << "\n";
    return kDataError;
  }
  if (options.method == Method::kEwma) {
    rules::EwmaRun run = rules::ewma(values, *options.target, *options.sd, options.ewma);
    out << "i,value,ewma,lcl,ucl,signal\n";
    for (size_t i = 0; i < run.points.size(); ++i) {
      const rules::EwmaPoint& p = run.points[i];
      const char* signal = p.ewma > p.ucl ? "H" : p.ewma < p.lcl ? "L" : "";
      out << i + 1 << ',' << g10(p.value) << ',' << g10(p.ewma) << ',' << g10(p.lcl) << ','
          << g10(p.ucl) << ',' << signal << '\n';
    }
  } else {
    rules::CusumRun run = rules::cusum(values, *options.target, *options.sd, options.cusum);
    out << "i,value,sh,sl,signal\n";
    for (size_t i = 0; i < run.points.size(); ++i) {
      const rules::CusumPoint& p = run.points[i];
      std::string signal;
      if (p.signalHigh) signal += 'H';
      if (p.signalLow) signal += 'L';
      out << i + 1 << ',' << g10(values[i]) << ',' << g10(p.high) << ',' << g10(p.low) << ','
          << signal << '\n';
    }
  }
  return 0;
}

}  // namespace labgate::cli
