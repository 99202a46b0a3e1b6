#include "console/cli/qc_command.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "rules/westgard.h"
#include "util/csv.h"
#include "util/flags.h"
#include "util/text.h"

namespace labgate::cli {

namespace {

using rules::QcValue;
using rules::WestgardOptions;
using rules::WestgardRule;

constexpr int kUsageError = 2;
constexpr int kDataError = 1;

struct Options {
  WestgardOptions westgard;
  std::string file;
  bool help = false;
};

std::string trim(const std::string& s) { return std::string(util::trimmed(s)); }

std::string lower(const std::string& s) { return util::lowered(s); }

std::vector<std::string> splitList(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) items.push_back(trim(item));
  return items;
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
    if (arg == "-h" || arg == "--help") {
      options.help = true;
    } else if (arg == "--rules") {
      auto list = value();
      if (!list) return false;
      options.westgard.rules.clear();
      for (const std::string& name : splitList(*list)) {
        auto rule = rules::parseWestgardRule(name);
        if (!rule) {
          error = "unknown rule \"" + name +
                  "\" (known: 1_2s,1_3s,2_2s,R_4s,4_1s,10_x,8_x,12_x,9_x,2of3_2s,3_1s,6_x)";
          return false;
        }
        options.westgard.rules.push_back(*rule);
      }
      if (options.westgard.rules.empty()) {
        error = "--rules needs at least one rule name";
        return false;
      }
    } else if (arg == "--gate-1-2s") {
      options.westgard.use12sGate = true;
    } else if (arg == "--r4s-mode") {
      auto mode = value();
      if (!mode) return false;
      if (*mode == "strict") {
        options.westgard.r4sMode = rules::R4sMode::kStrict;
      } else if (*mode == "range") {
        options.westgard.r4sMode = rules::R4sMode::kRange;
      } else {
        error = "--r4s-mode must be strict or range, not \"" + *mode + "\"";
        return false;
      }
    } else if (arg == "--level-order") {
      auto list = value();
      if (!list) return false;
      options.westgard.levelOrder = splitList(*list);
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
  if (!options.help && options.file.empty()) {
    error = "no FILE given";
    return false;
  }
  return true;
}

// One CSV record and the line it starts on. RFC 4180 quoting; CRLF or LF.
struct Record {
  size_t line = 0;
  std::vector<std::string> fields;
};

// A problem with the file's data: reported with exit status 1.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The file's records through the one RFC 4180 reader (util/csv.h); lines with nothing on them are
// skipped. Throws DataError for a quoted cell that is never closed.
std::vector<Record> parseCsv(const std::string& text) {
  std::vector<Record> records;
  util::CsvReader reader = util::CsvReader::fromText(text);
  util::CsvRow row;
  util::CsvReader::Result result;
  while ((result = reader.next(row)) == util::CsvReader::Result::kRow) {
    if (row.cells.empty() || (row.cells.size() == 1 && util::trimmed(row.cells[0]).empty())) {
      continue;
    }
    records.push_back(Record{static_cast<size_t>(row.line), std::move(row.cells)});
  }
  if (result == util::CsvReader::Result::kError) {
    throw DataError("line " + std::to_string(reader.error().line) + ": " + reader.error().message);
  }
  return records;
}

std::string csvField(const std::string& s) { return util::csvQuote(s); }

double parseNumber(const Record& r, size_t column, const std::string& name) {
  std::string text = trim(r.fields[column]);
  const std::string where = "line " + std::to_string(r.line) + ": " + name + " ";
  if (text.empty()) throw DataError(where + "is empty");
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v)) {
    throw DataError(where + "\"" + text + "\" is not a number");
  }
  return v;
}

int parseInteger(const Record& r, size_t column, const std::string& name) {
  double v = parseNumber(r, column, name);
  if (v != std::floor(v) || std::fabs(v) > 1e9) {
    throw DataError("line " + std::to_string(r.line) + ": " + name + " \"" +
                    trim(r.fields[column]) + "\" is not a whole number");
  }
  return static_cast<int>(v);
}

bool parseFlag(const Record& r, size_t column) {
  if (std::optional<bool> flag = util::flagWord(r.fields[column])) return *flag;  // util/flags.h
  throw DataError("line " + std::to_string(r.line) + ": excluded \"" + r.fields[column] +
                  "\" is not 0/1, true/false or yes/no");
}

// The QC values of the file, in file order; throws DataError.
std::vector<QcValue> readHistory(const std::string& text) {
  std::vector<Record> records = parseCsv(text);
  if (records.empty()) throw DataError("the file is empty (a header line is needed)");
  std::vector<std::string> header = records.front().fields;
  if (!header.empty() && header[0].rfind("\xEF\xBB\xBF", 0) == 0) header[0] = header[0].substr(3);
  std::map<std::string, size_t> columns;
  for (size_t i = 0; i < header.size(); ++i) columns.emplace(lower(trim(header[i])), i);
  const std::vector<std::string> required = {"series",      "run",       "seq_in_run", "level",
                                             "target_mean", "target_sd", "value"};
  std::string missing;
  for (const std::string& name : required) {
    if (!columns.count(name)) missing += (missing.empty() ? "" : ", ") + name;
  }
  if (!missing.empty()) throw DataError("line 1: the header has no column " + missing);
  auto col = [&](const char* name) { return columns.at(name); };
  std::optional<size_t> lotColumn, excludedColumn;
  if (columns.count("lot")) lotColumn = columns["lot"];
  if (columns.count("excluded")) excludedColumn = columns["excluded"];
  size_t needed = 0;
  for (const auto& [name, index] : columns) needed = std::max(needed, index + 1);
  std::vector<QcValue> values;
  for (size_t i = 1; i < records.size(); ++i) {
    Record& r = records[i];
    if (r.fields.size() < needed) r.fields.resize(needed);
    QcValue v;
    v.series = trim(r.fields[col("series")]);
    v.level = trim(r.fields[col("level")]);
    if (v.series.empty()) throw DataError("line " + std::to_string(r.line) + ": series is empty");
    v.run = parseInteger(r, col("run"), "run");
    v.seqInRun = parseInteger(r, col("seq_in_run"), "seq_in_run");
    v.targetMean = parseNumber(r, col("target_mean"), "target_mean");
    v.targetSd = parseNumber(r, col("target_sd"), "target_sd");
    v.value = parseNumber(r, col("value"), "value");
    if (!(v.targetSd > 0)) {
      throw DataError("line " + std::to_string(r.line) + ": target_sd must be > 0 (got " +
                      trim(r.fields[col("target_sd")]) + ")");
    }
    if (lotColumn) v.lot = trim(r.fields[*lotColumn]);
    if (excludedColumn) v.excluded = parseFlag(r, *excludedColumn);
    values.push_back(std::move(v));
  }
  return values;
}

}  // namespace

void printQcUsage(std::ostream& out) {
  out << "usage: labgate qc [--rules LIST] [--gate-1-2s] [--r4s-mode strict|range]\n"
         "                  [--level-order L1,L2,...] FILE.csv\n"
         "\n"
         "Evaluates Westgard multirules over the QC history in FILE.csv and prints one decision\n"
         "per (series, run), in the order each first appears in the file:\n"
         "  series,run,decision,rejects,warnings\n"
         "decision is ACCEPT or REJECT (NOT_EVALUABLE when every value of the run is excluded);\n"
         "rejects and warnings are rule names joined by ';' (1_2s is always a warning only).\n"
         "\n"
         "FILE.csv needs a header with the columns series,run,seq_in_run,level,target_mean,\n"
         "target_sd,value (any order; optional lot and excluded; others ignored). run is the\n"
         "chronological run index. Within-level windows follow (series, level, lot); across-level\n"
         "windows follow the series, runs in order and levels in --level-order (default: order of\n"
         "first appearance), then seq_in_run.\n"
         "\n"
         "options:\n"
         "  --rules LIST         rejection rules, comma-separated (default "
         "1_3s,2_2s,R_4s,4_1s,10_x;\n"
         "                       also 8_x,9_x,12_x,2of3_2s,3_1s,6_x)\n"
         "  --gate-1-2s          evaluate the rejection rules only in runs with a 1_2s warning\n"
         "  --r4s-mode MODE      strict (default: one value > +2 SD and one < -2 SD in the run) "
         "or\n"
         "                       range (the run's range > 4 SD)\n"
         "  --level-order LIST   level order inside a run for the across-level windows\n"
         "  -h, --help           show this help\n"
         "\n"
         "exit status: 0 done, 1 data error (file, column, number, target_sd <= 0), 2 usage "
         "error\n";
}

int runQc(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Options options;
  std::string error;
  if (!parseArgs(args, options, error)) {
    err << "labgate qc: " << error << " (try labgate qc --help)\n";
    return kUsageError;
  }
  if (options.help) {
    printQcUsage(out);
    return 0;
  }
  std::ifstream in(options.file, std::ios::binary);
  if (!in) {
    err << "labgate qc: cannot read " << options.file << "\n";
    return kDataError;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::vector<QcValue> history;
  try {
    history = readHistory(text.str());
  } catch (const DataError& e) {
    err << "labgate qc: " << options.file << ": " << e.what() << "\n";
    return kDataError;
  }
  out << "series,run,decision,rejects,warnings\n";
  for (const rules::RunDecision& d : rules::evaluateWestgard(history, options.westgard)) {
    const char* decision = d.rejected               ? "REJECT"
                           : d.valuesEvaluated == 0 ? "NOT_EVALUABLE"
                                                    : "ACCEPT";
    out << csvField(d.series) << ',' << d.run << ',' << decision << ','
        << rules::joinRules(d.rejects) << ',' << rules::joinRules(d.warnings) << '\n';
  }
  return 0;
}

}  // namespace labgate::cli
