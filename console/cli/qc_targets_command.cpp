// labgate qc-targets (see qc_targets_command.h).
#include "console/cli/qc_targets_command.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "engine/store/store.h"
#include "rules/qc.h"

namespace labgate::cli {
namespace {

const char* kUsage =
    "usage: labgate qc-targets --data-dir DIR --instrument NAME [--analyte NAME] [--batches N]\n"
    "\n"
    "Establishes QC targets from the QC values the engine stored for one instrument (analytics\n"
    "spec 3.3): per analyte, level and lot, the mean and SD of the values of the last N batches\n"
    "(default 200), outliers beyond 3 SD removed once, with a two-pass variance. Fewer than 20\n"
    "values (or 20 runs) make a target provisional. Values excluded by a reviewer are left out;\n"
    "values of rejected runs stay in (spec 3.2). Prints a rule-set fragment (JSON) to paste into\n"
    "analytes.NAME.qc_targets: targets are changed by a person, in a versioned rule set, never\n"
    "silently by the engine.\n"
    "\n"
    "options:\n"
    "  --data-dir DIR     the engine's data.dir (its labgate.db is read)\n"
    "  --instrument NAME  the connector's instrument\n"
    "  --analyte NAME     one analyte (default: every analyte with QC values)\n"
    "  --batches N        how many of the instrument's last batches to use (default 200)\n"
    "  -h, --help         show this help\n"
    "\n"
    "exit status: 0 targets printed; 1 no QC values found; 2 usage or store error.\n";

}  // namespace

int runQcTargets(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string dataDir, instrument, analyte;
  int64_t batches = 200;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      out << kUsage;
      return 0;
    }
    if (i + 1 >= args.size() || a.rfind("--", 0) != 0) {
      err << "labgate qc-targets: unexpected argument " << a << "\n" << kUsage;
      return 2;
    }
    const std::string& v = args[++i];
    if (a == "--data-dir") {
      dataDir = v;
    } else if (a == "--instrument") {
      instrument = v;
    } else if (a == "--analyte") {
      analyte = v;
    } else if (a == "--batches") {
      try {
        batches = std::stoll(v);
      } catch (const std::exception&) {
        batches = 0;
      }
      if (batches < 1 || batches > 100000) {
        err << "labgate qc-targets: --batches must be a whole number from 1 to 100000\n";
        return 2;
      }
    } else {
      err << "labgate qc-targets: unknown option " << a << "\n" << kUsage;
      return 2;
    }
  }
  if (dataDir.empty() || instrument.empty()) {
    err << "labgate qc-targets: --data-dir and --instrument are required\n" << kUsage;
    return 2;
  }
  StatusOr<std::shared_ptr<Store>> store = Store::open(dataDir);
  if (!store.isOk()) {
    err << "labgate qc-targets: " << store.status().toString() << "\n";
    return 2;
  }
  Store::Diagnostics d =
      store.value()->diagnostics("default", instrument, analyte, static_cast<size_t>(batches));
  // (analyte, level, lot) -> the values with their runs, oldest first.
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<rules::TargetPoint>>
      series;
  for (const auto& q : d.qc) {
    series[{q.analyte, q.level, q.lot}].push_back(
        rules::TargetPoint{q.value, static_cast<int>(q.batch), -1});
  }
  if (series.empty()) {
    err << "labgate qc-targets: no QC values stored for instrument \"" << instrument << "\""
        << (analyte.empty() ? "" : " and analyte \"" + analyte + "\"") << "\n";
    return 1;
  }
  Poco::JSON::Object::Ptr analytes = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const auto& [key, points] : series) {
    const auto& [name, level, lot] = key;
    rules::QcTargetEstimate e = rules::establishTarget(points);
    if (!(e.summary.sd > 0) || !std::isfinite(e.summary.mean)) {
      // A rule set refuses a target SD of 0: say why instead of printing an unusable one.
      err << name << " " << level << (lot.empty() ? "" : " lot " + lot) << ": n=" << e.summary.n
          << ": no spread to set a target from (SD 0 or too few values); skipped\n";
      continue;
    }
    Poco::JSON::Object::Ptr entry;
    if (analytes->has(name)) {
      entry = analytes->getObject(name)->getObject("qc_targets");
    } else {
      Poco::JSON::Object::Ptr a = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      entry = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      a->set("qc_targets", entry);
      analytes->set(name, a);
    }
    Poco::JSON::Object::Ptr t = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    t->set("mean", e.summary.mean);
    t->set("sd", e.summary.sd);
    if (!lot.empty()) t->set("lot", lot);
    t->set("provisional", e.provisional);
    entry->set(level, t);
    err << name << " " << level << (lot.empty() ? "" : " lot " + lot) << ": n=" << e.summary.n
        << " runs=" << e.runs << " mean=" << e.summary.mean << " sd=" << e.summary.sd
        << " cv=" << e.summary.cv << "% outliers_removed=" << e.removed.size()
        << (e.provisional ? " provisional (" + e.why + ")" : "") << "\n";
  }
  Poco::JSON::Object::Ptr root = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  root->set("analytes", analytes);
  Poco::JSON::Stringifier::stringify(root, out, 2);
  out << "\n";
  return 0;
}

}  // namespace labgate::cli
