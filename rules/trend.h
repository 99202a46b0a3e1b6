// Trend statistics and drift diagnostics (../shared/spec/analytics.md §4, §5): Levey-Jennings
// points, tabular standardised CUSUM, EWMA with exact and steady-state limits, the moving
// average, Bull's algorithm; intra-batch IS and RT drift, inter-batch sensitivity/RT/ion-ratio
// shifts against a rolling median, and the single-batch injection diagnostics (IS_DROP_SINGLE,
// IS_MISSING_MULTI, RT_SHIFT_GLOBAL). Pure functions over numbers (oldest first) and over a
// Message. Limits are strict (§0): a value exactly on a limit does not signal.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "rules/check.h"
#include "rules/peaks.h"

namespace labgate::rules {

// ---- Levey-Jennings (§4.1) -------------------------------------------------------------------

struct LeveyJenningsPoint {
  double value = 0;
  double z = 0;
  int band = 0;  // 0 within ±1 SD, 1 within ±2 SD, 2 within ±3 SD, 3 beyond ±3 SD
};

/// z = (x − mean)/sd and the SD band of each value; empty when sd ≤ 0.
std::vector<LeveyJenningsPoint> leveyJennings(const std::vector<double>& values, double mean,
                                              double sd);

/// The chart lines mean + k·sd for k = −3..3 (index 0 is −3 SD, index 6 is +3 SD).
std::vector<double> leveyJenningsLines(double mean, double sd);

// ---- CUSUM (§4.2) ----------------------------------------------------------------------------

struct CusumConfig {
  double k = 0.5;
  double h = 5;       // 5 for QC, 4 for IS/RT drift
  bool fir = false;   // head start: S_0 (and the value after a reset) is h/2
  bool reset = true;  // reset after a signal
  bool high = true;   // accumulate and signal SH (false: SH stays 0, a one-sided low CUSUM)
  bool low = true;    // accumulate and signal SL (false: SL stays 0, a one-sided high CUSUM)
};

struct CusumPoint {
  double z = 0;
  double high = 0;  // SH_i before any reset
  double low = 0;   // SL_i before any reset
  bool signalHigh = false;
  bool signalLow = false;
};

struct CusumRun {
  std::vector<CusumPoint> points;
  std::vector<size_t> signals;  // 0-based indices where SH or SL > h
};

/// Tabular standardised CUSUM of `values` around mu0 with SD sigma (> 0; empty run otherwise).
CusumRun cusum(const std::vector<double>& values, double mu0, double sigma,
               const CusumConfig& config = {});

// ---- EWMA (§4.3) -----------------------------------------------------------------------------

struct EwmaConfig {
  double lambda = 0.2;
  double L = 3;
  bool steadyState = false;  // use the steady-state limits for every point
};

struct EwmaPoint {
  double value = 0;
  double ewma = 0;
  double lcl = 0;
  double ucl = 0;
  bool signal = false;  // ewma strictly outside (lcl, ucl)
};

struct EwmaRun {
  std::vector<EwmaPoint> points;
  double steadyLcl = 0;
  double steadyUcl = 0;
  std::vector<size_t> signals;
};

/// E_i = λ·x_i + (1 − λ)·E_{i−1}, E_0 = mu0; limits mu0 ± L·σ·√(λ/(2−λ)·[1 − (1−λ)^{2i}]) (exact)
/// or without the bracket (steady state).
EwmaRun ewma(const std::vector<double>& values, double mu0, double sigma,
             const EwmaConfig& config = {});

// ---- Moving average and Bull's algorithm (§4.4) ----------------------------------------------

struct MovingAveragePoint {
  size_t index = 0;  // the window's last value
  double mean = 0;
  double lcl = 0;
  double ucl = 0;
  bool signal = false;
};

/// The mean of each full window of `window` values, limits mu0 ± 3σ/√w.
std::vector<MovingAveragePoint> movingAverage(const std::vector<double>& values, double mu0,
                                              double sigma, size_t window = 20);

struct BullConfig {
  size_t batchSize = 20;
  double limitPct = 3;
};

struct BullBatch {
  size_t endIndex = 0;  // the batch's last value
  double mean = 0;      // X̄_B,i
  double deviationPct = 0;
  bool signal = false;
};

/// Bull's algorithm over complete batches of `values`, starting at X̄_B,0 = `start` (the target
/// when unset); signals when X̄_B deviates more than limitPct from `target`.
std::vector<BullBatch> bullAlgorithm(const std::vector<double>& values, double target,
                                     const BullConfig& config = {},
                                     std::optional<double> start = std::nullopt);

// ---- Drift (§4.5) and diagnostics (§5) -------------------------------------------------------

struct LineFit {
  double slope = 0;
  double intercept = 0;
  size_t n = 0;
};

/// OLS of y against x; nullopt with fewer than 2 distinct x.
std::optional<LineFit> fitLine(const std::vector<double>& x, const std::vector<double>& y);

struct DriftConfig {
  double isDriftWarn = 0.30;  // |slope·(n−1)| of r_t
  double isDriftFail = 0.50;
  double holdBelowRatio = 0.5;  // on IS_DRIFT FAIL, later injections with r_t below this hold
  double cusumK = 0.5;
  double cusumH = 4;
  double rtDriftAbsMin = 0.1;
  double rtDriftRel = 0.025;
  size_t historyWindow = 20;
  double sensitivityWarnPct = 50;
  double sensitivityFailPct = 30;
  double rtShiftRel = 0.025;
  double isDropRatio = 0.5;      // IS_DROP_SINGLE below this with neighbours at or above it
  size_t isMissingMultiMax = 2;  // more missing IS injections than this → IS_MISSING_MULTI
  double rtGlobalShiftRel = 0.025;
};

/// One injection series in injection order (t = index + 1); a missing value is nullopt.
using Series = std::vector<std::optional<double>>;

/// IS drift (§4.5): OLS of r_t = IS_area/IS_ref against t; |slope·(n−1)| > 0.30 WARN, > 0.50 FAIL
/// (code IS_DRIFT, subject "batch"). `hold` receives, on FAIL, the indices whose r_t <
/// holdBelowRatio (the later samples of a falling series).
CheckResult checkIsDrift(const Series& ratios, const DriftConfig& config = {},
                         std::vector<size_t>* hold = nullptr);

/// CUSUM (k, h = 4) on log(r_t) standardised with the historical within-batch SD of log(r):
/// WARN IS_DRIFT_ONSET at the first signal (measured = its 0-based index).
CheckResult checkIsDriftOnset(const Series& ratios, std::optional<double> sdLogRatio,
                              const DriftConfig& config = {});

/// RT drift (§4.5): OLS of RT_IS,t − RT_ref against t; predicted drift > 0.1 min or > 2.5 % of
/// RT_ref → WARN RT_DRIFT.
CheckResult checkRtDrift(const Series& isRt, double rtRef, const DriftConfig& config = {});

/// Median of the last historyWindow values of `history` (oldest first).
std::optional<double> rollingMedian(const std::vector<double>& history, size_t window = 20);

/// This batch's median calibrator IS area vs the rolling median of earlier batches: < 50 % WARN
/// SENSITIVITY_LOSS, < 30 % FAIL.
CheckResult checkSensitivityLoss(std::optional<double> batchMedianIsArea,
                                 const std::vector<double>& history,
                                 const DriftConfig& config = {});

/// Mean calibrator RT vs the rolling median: relative shift > 2.5 % → WARN RT_SHIFT.
CheckResult checkRtShift(std::optional<double> batchMeanRt, const std::vector<double>& history,
                         const DriftConfig& config = {});

/// Mean calibrator ion ratio vs the rolling median: relative shift > half the §1.2 tolerance →
/// WARN ION_RATIO_SHIFT.
CheckResult checkIonRatioShift(std::optional<double> batchMeanIonRatio,
                               const std::vector<double>& history,
                               const PeakConfig& peakConfig = {}, const DriftConfig& config = {});

/// This batch's per-analyte numbers for the inter-batch trends, as the history stores them:
/// BatchMetric "cal_is_area_median", "cal_rt_mean", "cal_ion_ratio_mean" (only those present).
std::vector<BatchMetric> trendMetrics(const BatchReferences& refs);

/// A check on one injection of a series.
struct InjectionCheck {
  size_t index = 0;  // position in the series
  CheckResult check;
  std::string analyte;  // the analyte it concerns (diagnoseBatch): only that result is held
};

/// A batch-level check of one analyte ("" for a check across analytes).
struct AnalyteCheck {
  std::string analyte;
  CheckResult check;
};

/// IS_DROP_SINGLE (§5): r_t < 0.5 while its neighbours (those present) are ≥ 0.5 → FAIL, HOLD
/// that sample.
std::vector<InjectionCheck> checkIsDropSingle(const Series& ratios, const DriftConfig& config = {});

/// IS_MISSING_MULTI (§5): more than isMissingMultiMax injections without IS (missing or 0) →
/// FAIL, batch HOLD.
CheckResult checkIsMissingMulti(const Series& isAreas, const DriftConfig& config = {});

/// RT_SHIFT_GLOBAL (§5): relative RT shifts per analyte (≥ 2 analytes), all in the same direction
/// and each larger than rtGlobalShiftRel → WARN.
CheckResult checkRtShiftGlobal(const std::vector<double>& relativeShifts,
                               const DriftConfig& config = {});

/// An analyte's per-injection series from a Message, in sample order, double blanks left out.
struct InjectionSeries {
  std::vector<size_t> sampleIndex;  // Message::samples index of each injection
  Series isArea;
  Series isRt;
  Series rt;
};

InjectionSeries injectionSeries(const Message& message, const std::string& analyte);

/// The batch diagnostics of §4.5/§5 that one batch allows: per analyte IS_DRIFT, RT_DRIFT,
/// IS_DROP_SINGLE, IS_MISSING_MULTI, and across analytes RT_SHIFT_GLOBAL (calibrator mean RT vs
/// the expected RT). The order-dependent ones (IS_DRIFT, RT_DRIFT, IS_DROP_SINGLE) run only when
/// Message::listedInRunOrder says the samples are in injection order; otherwise they are not
/// evaluated (the rule engine reports RUN_ORDER_UNKNOWN once for the batch). On an IS_DRIFT FAIL
/// the injections whose IS fell below DriftConfig::holdBelowRatio are held (samples, IS_DRIFT).
struct BatchDiagnostics {
  std::vector<AnalyteCheck> batch;
  std::vector<InjectionCheck> samples;  // index = Message::samples index; analyte filled in
};

BatchDiagnostics diagnoseBatch(const Message& message, const BatchReferences& refs,
                               const DriftConfig& config = {});

}  // namespace labgate::rules
