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
    int lastSignal = last.ewma > last.ucl ? 1 : last.ewma < last.lcl ? -1 : 0;
    // The first of this batch's values that signals is the one reported.
    for (size_t i = firstCurrent; i < run.points.size(); ++i) {
      const EwmaPoint& p = run.points[i];
      if (!p.signal) continue;
      const bool high = p.ewma > p.ucl;
      size_t onset = onsetOf(
          i, [&](size_t j) { return high ? run.points[j].ewma <= 0 : run.points[j].ewma >= 0; });
      std::string message =
          what + ": EWMA of the z-scores " + num(p.ewma) + " SD is " +
          (high ? "above the upper limit +" + num(p.ucl) : "below the lower limit " + num(p.lcl)) +
          " SD (lambda " + num(config.ewma.lambda) + ", L " + num(config.ewma.width) +
          "): a slow shift " + (high ? "high" : "low") + " since " +
          batchName(points[onset].batch) +
          (config.ewma.action == DispositionKind::kRelease ? " (warning: results not held)"
                                                           : ": the analyte's results are held");
      out.checks.push_back(signalCheck("trend.qc_ewma", "QC_TREND_EWMA", config.ewma.action,
                                       std::move(message), p.ewma, high ? p.ucl : p.lcl));
      break;
    }
    out.metrics.push_back({analyte, qcTrendMetricName("qc_ewma", level), last.ewma});
    out.metrics.push_back({analyte, qcTrendMetricName("qc_ewma_lcl", level), last.lcl});
    out.metrics.push_back({analyte, qcTrendMetricName("qc_ewma_ucl", level), last.ucl});
    out.metrics.push_back(
        {analyte, qcTrendMetricName("qc_ewma_signal", level), static_cast<double>(lastSignal)});
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
    int lastSignal = last.signalHigh ? 1 : last.signalLow ? -1 : 0;
    for (size_t i = firstCurrent; i < run.points.size(); ++i) {
      const CusumPoint& p = run.points[i];
      if (!p.signalHigh && !p.signalLow) continue;
      const bool high = p.signalHigh;
      // The excursion began after the side's sum was last 0 (or reset by a signal).
      size_t onset = onsetOf(i, [&](size_t j) {
        const CusumPoint& q = run.points[j];
        const bool reset = c.reset && (q.signalHigh || q.signalLow);
        return (high ? q.high : q.low) == 0 || reset;
      });
      const double statistic = high ? p.high : p.low;
      std::string message =
          what + ": CUSUM " + (high ? "SH " : "SL ") + num(statistic) + " SD above h " +
          num(config.cusum.h) + " SD (k " + num(config.cusum.k) + "): a shift " +
          (high ? "high" : "low") + " since " + batchName(points[onset].batch) +
          (config.cusum.action == DispositionKind::kRelease ? " (warning: results not held)"
                                                            : ": the analyte's results are held");
      out.checks.push_back(signalCheck("trend.qc_cusum", "QC_TREND_CUSUM", config.cusum.action,
                                       std::move(message), statistic, config.cusum.h));
      break;
    }
    out.metrics.push_back({analyte, qcTrendMetricName("qc_cusum_sh", level), last.high});
    out.metrics.push_back({analyte, qcTrendMetricName("qc_cusum_sl", level), last.low});
    out.metrics.push_back({analyte, qcTrendMetricName("qc_cusum_h", level), config.cusum.h});
    out.metrics.push_back(
        {analyte, qcTrendMetricName("qc_cusum_signal", level), static_cast<double>(lastSignal)});
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
