// QC trends over the stored QC history (../shared/spec/analytics.md §4.2, §4.3; docs/rules.md
// "QC trends"): per analyte and QC level, the EWMA and the tabular CUSUM of the QC values'
// z-scores (each value standardised with the target it was judged against), the stored values
// first, then this batch's. A signal at one of this batch's values is a batch finding of the
// analyte (QC_TREND_EWMA, QC_TREND_CUSUM) that names the direction and the batch the excursion
// started in; the state after this batch is kept as per-batch metrics (qcTrendMetricName) for the
// health API and /metrics. Pure functions over numbers: rules/trend.h does the statistics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/model.h"
#include "rules/check.h"

namespace labgate::rules {

struct QcTrendConfig {
  struct Ewma {
    bool enabled = false;
    double lambda = 0.2;
    double width = 3;  // L, in SD units
    bool steadyState = false;
    DispositionKind action = DispositionKind::kRelease;  // release (warn) or hold
  } ewma;
  struct Cusum {
    bool enabled = false;
    double k = 0.5;  // SD units
    double h = 5;    // SD units (spec §4.2: 5 for QC)
    bool twoSided = true;
    bool high = true;  // the side of a one-sided CUSUM (twoSided false): high, else low
    bool resetAfterSignal = true;
    DispositionKind action = DispositionKind::kRelease;
  } cusum;
};

/// The findings and the state of one analyte's QC trends after this batch.
struct QcTrendReview {
  std::vector<CheckResult> checks;   // ruleId trend.qc_ewma / trend.qc_cusum, subject "analyte"
  std::vector<BatchMetric> metrics;  // the state per level (qcTrendMetricName)
};

/// Evaluates the enabled trends of `analyte`. `stored` is the analyte's stored QC history (any
/// level, oldest first, QcValue::batch set); `current` this batch's QC values of the analyte, in
/// injection order. Values without a target (or excluded) take no part. A level this batch has
/// no value of is not evaluated.
QcTrendReview reviewQcTrends(const std::string& analyte,
                             const std::vector<labgate::QcValue>& stored,
                             const std::vector<labgate::QcValue>& current,
                             const QcTrendConfig& config);

/// The per-batch metric that keeps one state value of a level: "<name>/<level>", with name one
/// of qc_ewma, qc_ewma_lcl, qc_ewma_ucl, qc_ewma_signal, qc_cusum_sh, qc_cusum_sl, qc_cusum_h,
/// qc_cusum_signal (signal: 1 high, -1 low, 0 none: whether this batch raised the finding). The
/// statistics and limits are those after this batch's last value of the level.
std::string qcTrendMetricName(std::string_view name, std::string_view level);

/// The two parts of a qcTrendMetricName; nullopt for any other metric.
struct QcTrendMetricKey {
  std::string name;
  std::string level;
};
std::optional<QcTrendMetricKey> parseQcTrendMetricName(std::string_view metric);

}  // namespace labgate::rules
