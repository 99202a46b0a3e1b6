#include "rules/qc_trend.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "rules/trend.h"

namespace labgate::rules {
namespace {

/// One value of a level's series: its z-score and where it came from.
struct Point {
  double z = 0;
  int64_t batch = 0;  // the stored batch; 0 for this batch
};

bool usable(const labgate::QcValue& v) {
  return !v.excluded && v.targetMean && v.targetSd && *v.targetSd > 0 && std::isfinite(v.value);
}

std::string batchName(int64_t batch) {
  return batch == 0 ? std::string("this batch") : "batch " + std::to_string(batch);
}

/// A signalling trend check: WARN (released, a person is told) or FAIL with a hold.
CheckResult signalCheck(const char* ruleId, const char* code, DispositionKind action,
                        std::string message, double measured, double limit) {
  CheckResult c;
  c.outcome = action == DispositionKind::kRelease ? Outcome::kWarn : Outcome::kFail;
  c.onFail = action;
  c.ruleId = ruleId;
  c.code = code;
  c.subject = "analyte";
  c.message = std::move(message);
  c.measured = num(measured);
  c.limit = num(limit);
  return c;
}

/// The index where the excursion that ends at `at` started: the first point after the last one
/// (before `at`) for which `calm` holds; 0 when there is none.
template <class Calm>
size_t onsetOf(size_t at, Calm calm) {
  size_t start = 0;
  for (size_t i = 0; i < at; ++i) {
    if (calm(i)) start = i + 1;
  }
  return start;
}

std::string consequence(DispositionKind action) {
  return action == DispositionKind::kRelease ? " (warning: results not held)"
                                             : ": the analyte's results are held";
}

/// "CORT QC Low: EWMA of the z-scores 1.41 SD is above the upper limit +0.577 SD (lambda 0.5,
/// L 1): a slow shift high since batch 2 (warning: results not held)".
std::string ewmaMessage(const std::string& what, const EwmaPoint& p, bool high,
                        const std::string& since, const QcTrendConfig::Ewma& config) {
  std::string m = what;
  m += ": EWMA of the z-scores ";
  m += num(p.ewma);
  m += high ? " SD is above the upper limit +" : " SD is below the lower limit ";
  m += num(high ? p.ucl : p.lcl);
  m += " SD (lambda ";
  m += num(config.lambda);
  m += ", L ";
  m += num(config.width);
  m += high ? "): a slow shift high since " : "): a slow shift low since ";
  m += since;
  m += consequence(config.action);
  return m;
}

/// "CORT QC Low: CUSUM SH 2.5 SD above h 2 SD (k 0.5): a shift high since batch 3 (...)".
std::string cusumMessage(const std::string& what, double statistic, bool high,
                         const std::string& since, const QcTrendConfig::Cusum& config) {
  std::string m = what;
  m += high ? ": CUSUM SH " : ": CUSUM SL ";
  m += num(statistic);
  m += " SD above h ";
  m += num(config.h);
  m += " SD (k ";
  m += num(config.k);
  m += high ? "): a shift high since " : "): a shift low since ";
  m += since;
  m += consequence(config.action);
  return m;
}

void reviewLevel(const std::string& analyte, const std::string& level,
                 const std::vector<Point>& points, size_t firstCurrent, const QcTrendConfig& config,
                 QcTrendReview& out) {
  std::vector<double> z;
  z.reserve(points.size());
  for (const Point& p : points) z.push_back(p.z);
  const std::string what = analyte + " QC " + level;
  if (config.ewma.enabled) {
    EwmaConfig c;
    c.lambda = config.ewma.lambda;
    c.L = config.ewma.width;
    c.steadyState = config.ewma.steadyState;
    EwmaRun run = ewma(z, 0.0, 1.0, c);
    const EwmaPoint& last = run.points.back();
    int batchSignal = 0;  // the direction of this batch's signal
    // The first of this batch's values that signals is the one reported.
    for (size_t i = firstCurrent; i < run.points.size(); ++i) {
      const EwmaPoint& p = run.points[i];
      if (!p.signal) continue;
      const bool high = p.ewma > p.ucl;
      batchSignal = high ? 1 : -1;
      size_t onset = onsetOf(
          i, [&](size_t j) { return high ? run.points[j].ewma <= 0 : run.points[j].ewma >= 0; });
      std::string message = ewmaMessage(what, p, high, batchName(points[onset].batch), config.ewma);
      out.checks.push_back(signalCheck("trend.qc_ewma", "QC_TREND_EWMA", config.ewma.action,
                                       std::move(message), p.ewma, high ? p.ucl : p.lcl));
      break;
    }
    out.metrics.push_back({analyte, qcTrendMetricName("qc_ewma", level), last.ewma});
    out.metrics.push_back({analyte, qcTrendMetricName("qc_ewma_lcl", level), last.lcl});
    out.metrics.push_back({analyte, qcTrendMetricName("qc_ewma_ucl", level), last.ucl});
    out.metrics.push_back(
        {analyte, qcTrendMetricName("qc_ewma_signal", level), static_cast<double>(batchSignal)});
  }
  if (config.cusum.enabled) {
    CusumConfig c;
    c.k = config.cusum.k;
    c.h = config.cusum.h;
    c.reset = config.cusum.resetAfterSignal;
    c.high = config.cusum.twoSided || config.cusum.high;
    c.low = config.cusum.twoSided || !config.cusum.high;
    CusumRun run = cusum(z, 0.0, 1.0, c);
    const CusumPoint& last = run.points.back();
    int batchSignal = 0;
    for (size_t i = firstCurrent; i < run.points.size(); ++i) {
      const CusumPoint& p = run.points[i];
      if (!p.signalHigh && !p.signalLow) continue;
      const bool high = p.signalHigh;
      batchSignal = high ? 1 : -1;
      // The excursion began after the side's sum was last 0 (or reset by a signal).
      size_t onset = onsetOf(i, [&](size_t j) {
        const CusumPoint& q = run.points[j];
        const bool reset = c.reset && (q.signalHigh || q.signalLow);
        return (high ? q.high : q.low) == 0 || reset;
      });
      const double statistic = high ? p.high : p.low;
      std::string message =
          cusumMessage(what, statistic, high, batchName(points[onset].batch), config.cusum);
      out.checks.push_back(signalCheck("trend.qc_cusum", "QC_TREND_CUSUM", config.cusum.action,
                                       std::move(message), statistic, config.cusum.h));
      break;
    }
    out.metrics.push_back({analyte, qcTrendMetricName("qc_cusum_sh", level), last.high});
    out.metrics.push_back({analyte, qcTrendMetricName("qc_cusum_sl", level), last.low});
    out.metrics.push_back({analyte, qcTrendMetricName("qc_cusum_h", level), config.cusum.h});
    out.metrics.push_back(
        {analyte, qcTrendMetricName("qc_cusum_signal", level), static_cast<double>(batchSignal)});
  }
}

}  // namespace

QcTrendReview reviewQcTrends(const std::string& analyte,
                             const std::vector<labgate::QcValue>& stored,
                             const std::vector<labgate::QcValue>& current,
                             const QcTrendConfig& config) {
  QcTrendReview out;
  if (!config.ewma.enabled && !config.cusum.enabled) return out;
  // The levels in order of first appearance in this batch.
  std::vector<std::string> levels;
  for (const labgate::QcValue& v : current) {
    if (usable(v) && std::find(levels.begin(), levels.end(), v.level) == levels.end()) {
      levels.push_back(v.level);
    }
  }
  for (const std::string& level : levels) {
    std::vector<Point> points;
    for (const labgate::QcValue& v : stored) {
      if (v.level == level && usable(v)) {
        points.push_back({(v.value - *v.targetMean) / *v.targetSd, v.batch});
      }
    }
    const size_t firstCurrent = points.size();
    for (const labgate::QcValue& v : current) {
      if (v.level == level && usable(v)) {
        points.push_back({(v.value - *v.targetMean) / *v.targetSd, 0});
      }
    }
    reviewLevel(analyte, level, points, firstCurrent, config, out);
  }
  return out;
}

std::string qcTrendMetricName(std::string_view name, std::string_view level) {
  std::string out(name);
  out += '/';
  out += level;
  return out;
}

std::optional<QcTrendMetricKey> parseQcTrendMetricName(std::string_view metric) {
  size_t slash = metric.find('/');
  if (slash == std::string_view::npos || metric.rfind("qc_", 0) != 0) return std::nullopt;
  return QcTrendMetricKey{std::string(metric.substr(0, slash)),
                          std::string(metric.substr(slash + 1))};
}

}  // namespace labgate::rules
