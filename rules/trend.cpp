#include "rules/trend.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string_view>
#include <utility>

namespace labgate::rules {
namespace {

CheckResult make(const char* ruleId, const char* code, Outcome outcome, std::string message,
                 std::optional<double> measured = std::nullopt,
                 std::optional<double> limit = std::nullopt, const char* subject = "batch") {
  CheckResult c;
  c.outcome = outcome;
  c.ruleId = ruleId;
  c.code = code;
  c.subject = subject;
  c.message = std::move(message);
  // Passes too: these checks run once per analyte and batch, and a caller may show them.
  if (measured && std::isfinite(*measured)) c.measured = num(*measured);
  if (limit && std::isfinite(*limit)) c.limit = num(*limit);
  return c;
}

// Analyte codes are a few characters: compared inline rather than through a memcmp call, as
// injectionSeries runs over every result of the batch for every analyte.
bool sameCode(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

std::optional<double> medianOf(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool present(const std::optional<double>& v) { return v && std::isfinite(*v); }

/// The OLS fit of the present values of `series` against t = index + 1.
std::optional<LineFit> fitSeries(const Series& series) {
  std::vector<double> x, y;
  for (size_t i = 0; i < series.size(); ++i)
    if (present(series[i])) {
      x.push_back(static_cast<double>(i + 1));
      y.push_back(*series[i]);
    }
  return fitLine(x, y);
}

double sgn(double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; }

}  // namespace

std::vector<LeveyJenningsPoint> leveyJennings(const std::vector<double>& values, double mean,
                                              double sd) {
  std::vector<LeveyJenningsPoint> out;
  if (!(sd > 0)) return out;
  for (double x : values) {
    LeveyJenningsPoint p;
    p.value = x;
    p.z = (x - mean) / sd;
    double a = std::fabs(p.z);
    p.band = a <= 1 ? 0 : a <= 2 ? 1 : a <= 3 ? 2 : 3;
    out.push_back(p);
  }
  return out;
}

std::vector<double> leveyJenningsLines(double mean, double sd) {
  std::vector<double> lines;
  for (int k = -3; k <= 3; ++k) lines.push_back(mean + k * sd);
  return lines;
}

CusumRun cusum(const std::vector<double>& values, double mu0, double sigma,
               const CusumConfig& config) {
  CusumRun run;
  if (!(sigma > 0)) return run;
  double start = config.fir ? config.h / 2 : 0.0;
  double sh = config.high ? start : 0.0, sl = config.low ? start : 0.0;
  for (size_t i = 0; i < values.size(); ++i) {
    CusumPoint p;
    p.z = (values[i] - mu0) / sigma;
    sh = config.high ? std::max(0.0, sh + p.z - config.k) : 0.0;
    sl = config.low ? std::max(0.0, sl - p.z - config.k) : 0.0;
    p.high = sh;
    p.low = sl;
    p.signalHigh = sh > config.h;
    p.signalLow = sl > config.h;
    if (p.signalHigh || p.signalLow) {
      run.signals.push_back(i);
      if (config.reset) {
        sh = config.high ? start : 0.0;
        sl = config.low ? start : 0.0;
      }
    }
    run.points.push_back(p);
  }
  return run;
}

EwmaRun ewma(const std::vector<double>& values, double mu0, double sigma,
             const EwmaConfig& config) {
  EwmaRun run;
  double lambda = config.lambda;
  double steady = config.L * sigma * std::sqrt(lambda / (2 - lambda));
  run.steadyLcl = mu0 - steady;
  run.steadyUcl = mu0 + steady;
  double e = mu0;
  for (size_t i = 0; i < values.size(); ++i) {
    EwmaPoint p;
    p.value = values[i];
    e = lambda * values[i] + (1 - lambda) * e;
    p.ewma = e;
    double half = steady;
    if (!config.steadyState)
      half *= std::sqrt(1 - std::pow(1 - lambda, 2.0 * static_cast<double>(i + 1)));
    p.lcl = mu0 - half;
    p.ucl = mu0 + half;
    p.signal = e > p.ucl || e < p.lcl;
    if (p.signal) run.signals.push_back(i);
    run.points.push_back(p);
  }
  return run;
}

std::vector<MovingAveragePoint> movingAverage(const std::vector<double>& values, double mu0,
                                              double sigma, size_t window) {
  std::vector<MovingAveragePoint> out;
  if (window == 0 || values.size() < window) return out;
  double half = 3 * sigma / std::sqrt(static_cast<double>(window));
  double sum = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    sum += values[i];
    if (i >= window) sum -= values[i - window];
    if (i + 1 < window) continue;
    MovingAveragePoint p;
    p.index = i;
    p.mean = sum / static_cast<double>(window);
    p.lcl = mu0 - half;
    p.ucl = mu0 + half;
    p.signal = p.mean > p.ucl || p.mean < p.lcl;
    out.push_back(p);
  }
  return out;
}

std::vector<BullBatch> bullAlgorithm(const std::vector<double>& values, double target,
                                     const BullConfig& config, std::optional<double> start) {
  std::vector<BullBatch> out;
  if (config.batchSize == 0) return out;
  double xb = start.value_or(target);
  for (size_t begin = 0; begin + config.batchSize <= values.size(); begin += config.batchSize) {
    double d = 0;
    for (size_t j = begin; j < begin + config.batchSize; ++j) {
      double diff = values[j] - xb;
      d += sgn(diff) * std::sqrt(std::fabs(diff));
    }
    d /= static_cast<double>(config.batchSize);
    xb += sgn(d) * d * d;
    BullBatch b;
    b.endIndex = begin + config.batchSize - 1;
    b.mean = xb;
    b.deviationPct = target != 0 ? 100 * (xb - target) / target : 0;
    b.signal = std::fabs(b.deviationPct) > config.limitPct;
    out.push_back(b);
  }
  return out;
}

std::optional<LineFit> fitLine(const std::vector<double>& x, const std::vector<double>& y) {
  size_t n = std::min(x.size(), y.size());
  if (n < 2) return std::nullopt;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (!(sxx > 0)) return std::nullopt;
  LineFit f;
  f.slope = sxy / sxx;
  f.intercept = my - f.slope * mx;
  f.n = n;
  return f;
}

CheckResult checkIsDrift(const Series& ratios, const DriftConfig& config,
                         std::vector<size_t>* hold) {
  auto fit = fitSeries(ratios);
  if (!fit)
    return make("trend.is_drift", "IS_DRIFT", Outcome::kNotEvaluable, "fewer than 2 IS ratios");
  double change = fit->slope * static_cast<double>(ratios.size() - 1);
  double a = std::fabs(change);
  // Measured and limit in percent of IS_ref, as the message says.
  std::string msg = "IS response changes by " + num(100 * change) +
                    "% of the IS reference over the batch (in injection order)";
  const char* hint = " (source/cone contamination, ion suppression build-up)";
  if (a > config.isDriftFail) {
    if (hold)
      for (size_t i = 0; i < ratios.size(); ++i)
        if (present(ratios[i]) && *ratios[i] < config.holdBelowRatio) hold->push_back(i);
    return make("trend.is_drift", "IS_DRIFT", Outcome::kFail,
                msg + ", more than " + num(100 * config.isDriftFail) + "%" + hint, 100 * a,
                100 * config.isDriftFail);
  }
  if (a > config.isDriftWarn)
    return make("trend.is_drift", "IS_DRIFT", Outcome::kWarn,
                msg + ", more than " + num(100 * config.isDriftWarn) + "%" + hint, 100 * a,
                100 * config.isDriftWarn);
  return make("trend.is_drift", "IS_DRIFT", Outcome::kPass, msg, 100 * a, 100 * config.isDriftWarn);
}

CheckResult checkIsDriftOnset(const Series& ratios, std::optional<double> sdLogRatio,
                              const DriftConfig& config) {
  const char* id = "trend.is_drift_onset";
  if (!sdLogRatio || !(*sdLogRatio > 0))
    return make(id, "IS_DRIFT_ONSET", Outcome::kNotEvaluable,
                "no historical within-batch SD of log(IS ratio)");
  std::vector<double> logs;
  std::vector<size_t> at;
  for (size_t i = 0; i < ratios.size(); ++i)
    if (present(ratios[i]) && *ratios[i] > 0) {
      logs.push_back(std::log(*ratios[i]));
      at.push_back(i);
    }
  if (logs.empty()) return make(id, "IS_DRIFT_ONSET", Outcome::kNotEvaluable, "no IS ratios");
  CusumConfig cc;
  cc.k = config.cusumK;
  cc.h = config.cusumH;
  CusumRun run = cusum(logs, 0.0, *sdLogRatio, cc);
  if (run.signals.empty())
    return make(id, "IS_DRIFT_ONSET", Outcome::kPass, "no CUSUM signal on log(IS ratio)",
                std::nullopt, config.cusumH);
  size_t first = at[run.signals.front()];
  const CusumPoint& p = run.points[run.signals.front()];
  return make(id, "IS_DRIFT_ONSET", Outcome::kWarn,
              std::string("IS response ") + (p.signalLow ? "falls" : "rises") + " from injection " +
                  std::to_string(first + 1) +
                  " (CUSUM on log IS ratio; source/cone contamination, ion suppression)",
              static_cast<double>(first), config.cusumH);
}

CheckResult checkRtDrift(const Series& isRt, double rtRef, const DriftConfig& config) {
  Series dev;
  for (const auto& v : isRt) dev.push_back(present(v) ? std::optional<double>(*v - rtRef) : v);
  auto fit = fitSeries(dev);
  if (!fit || !(rtRef > 0))
    return make("trend.rt_drift", "RT_DRIFT", Outcome::kNotEvaluable, "fewer than 2 IS RTs");
  double a = std::fabs(fit->slope * static_cast<double>(isRt.size() - 1));
  double relLimit = config.rtDriftRel * rtRef;
  double limit = std::min(config.rtDriftAbsMin, relLimit);
  std::string msg = "IS RT drifts by " + num(a) + " min over the batch (" + num(100 * a / rtRef) +
                    " % of " + num(rtRef) + ")";
  if (a > config.rtDriftAbsMin || a > relLimit)
    return make("trend.rt_drift", "RT_DRIFT", Outcome::kWarn,
                msg + " (mobile phase, flow, column temperature, column equilibration)", a, limit);
  return make("trend.rt_drift", "RT_DRIFT", Outcome::kPass, msg, a, limit);
}

std::optional<double> rollingMedian(const std::vector<double>& history, size_t window) {
  std::vector<double> last;
  size_t from = history.size() > window ? history.size() - window : 0;
  for (size_t i = from; i < history.size(); ++i)
    if (std::isfinite(history[i])) last.push_back(history[i]);
  return medianOf(last);
}

CheckResult checkSensitivityLoss(std::optional<double> batchMedianIsArea,
                                 const std::vector<double>& history, const DriftConfig& config) {
  const char* id = "trend.sensitivity_loss";
  auto med = rollingMedian(history, config.historyWindow);
  if (!present(batchMedianIsArea) || !med || !(*med > 0))
    return make(id, "SENSITIVITY_LOSS", Outcome::kNotEvaluable,
                "no batch IS median or no batch history");
  double pct = 100 * *batchMedianIsArea / *med;
  std::string msg = "calibrator IS median at " + num(pct) + " % of the rolling median " + num(*med);
  const char* hint = " (source/cone contamination, detector ageing, tune)";
  if (pct < config.sensitivityFailPct)
    return make(id, "SENSITIVITY_LOSS", Outcome::kFail, msg + hint, pct, config.sensitivityFailPct);
  if (pct < config.sensitivityWarnPct)
    return make(id, "SENSITIVITY_LOSS", Outcome::kWarn, msg + hint, pct, config.sensitivityWarnPct);
  return make(id, "SENSITIVITY_LOSS", Outcome::kPass, msg, pct, config.sensitivityWarnPct);
}

CheckResult checkRtShift(std::optional<double> batchMeanRt, const std::vector<double>& history,
                         const DriftConfig& config) {
  const char* id = "trend.rt_shift";
  auto med = rollingMedian(history, config.historyWindow);
  if (!present(batchMeanRt) || !med || !(*med > 0))
    return make(id, "RT_SHIFT", Outcome::kNotEvaluable, "no batch RT or no batch history");
  double rel = std::fabs(*batchMeanRt - *med) / *med;
  std::string msg = "calibrator mean RT " + num(*batchMeanRt) + " min vs the rolling median " +
                    num(*med) + " min of the last batches: shift " + num(100 * rel) + "%, limit " +
                    num(100 * config.rtShiftRel) + "%";
  if (rel > config.rtShiftRel)
    return make(id, "RT_SHIFT", Outcome::kWarn, msg + " (column, mobile phase)", 100 * rel,
                100 * config.rtShiftRel);
  return make(id, "RT_SHIFT", Outcome::kPass, msg, 100 * rel, 100 * config.rtShiftRel);
}

CheckResult checkIonRatioShift(std::optional<double> batchMeanIonRatio,
                               const std::vector<double>& history, const PeakConfig& peakConfig,
                               const DriftConfig& config) {
  const char* id = "trend.ion_ratio_shift";
  auto med = rollingMedian(history, config.historyWindow);
  if (!present(batchMeanIonRatio) || !med || !(*med > 0))
    return make(id, "ION_RATIO_SHIFT", Outcome::kNotEvaluable,
                "no batch ion ratio or no batch history");
  double rel = std::fabs(*batchMeanIonRatio - *med) / *med;
  double limit = ionRatioTolerance(*med, peakConfig) / 2;
  std::string msg = "calibrator mean ion ratio " + num(*batchMeanIonRatio) +
                    " vs the rolling median " + num(*med) + " of the last batches: shift " +
                    num(100 * rel) + "%, limit " + num(100 * limit) + "%";
  if (rel > limit)
    return make(id, "ION_RATIO_SHIFT", Outcome::kWarn, msg + " (collision energy or tune changed)",
                100 * rel, 100 * limit);
  return make(id, "ION_RATIO_SHIFT", Outcome::kPass, msg, 100 * rel, 100 * limit);
}

std::vector<BatchMetric> trendMetrics(const BatchReferences& refs) {
  std::vector<BatchMetric> out;
  for (const auto& [name, ref] : refs.analytes) {
    const std::string& analyte = name;  // clang < 16 cannot capture a binding
    auto add = [&](const char* metric, const std::optional<double>& v) {
      if (present(v)) out.push_back({analyte, metric, *v});
    };
    add("cal_is_area_median", ref.medianCalibratorIsArea);
    add("cal_rt_mean", ref.meanCalibratorRt);
    add("cal_ion_ratio_mean", ref.meanCalibratorIonRatio);
  }
  return out;
}

std::vector<InjectionCheck> checkIsDropSingle(const Series& ratios, const DriftConfig& config) {
  std::vector<InjectionCheck> out;
  auto normal = [&](size_t j) { return present(ratios[j]) && *ratios[j] >= config.isDropRatio; };
  for (size_t i = 0; i < ratios.size(); ++i) {
    if (!present(ratios[i]) || *ratios[i] >= config.isDropRatio) continue;
    bool hasBefore = i > 0 && present(ratios[i - 1]);
    bool hasAfter = i + 1 < ratios.size() && present(ratios[i + 1]);
    if (!hasBefore && !hasAfter) continue;
    if ((hasBefore && !normal(i - 1)) || (hasAfter && !normal(i + 1))) continue;
    out.push_back({i,
                   make("trend.is_drop_single", "IS_DROP_SINGLE", Outcome::kFail,
                        "IS at " + num(100 * *ratios[i]) + "% of the IS reference, below " +
                            num(100 * config.isDropRatio) +
                            "%, while the injections before and after it are normal "
                            "(injection failure, pipetting/IS addition error, matrix effect)",
                        100 * *ratios[i], 100 * config.isDropRatio, "sample"),
                   std::string()});
  }
  return out;
}

CheckResult checkIsMissingMulti(const Series& isAreas, const DriftConfig& config) {
  const char* id = "trend.is_missing_multi";
  if (isAreas.empty()) return make(id, "IS_MISSING_MULTI", Outcome::kNotEvaluable, "no injections");
  size_t missing = 0;
  for (const auto& a : isAreas)
    if (!present(a) || *a == 0) ++missing;
  std::string msg = "IS absent in " + std::to_string(missing) + " of " +
                    std::to_string(isAreas.size()) + " injections";
  double m = static_cast<double>(missing);
  double limit = static_cast<double>(config.isMissingMultiMax);
  if (missing > config.isMissingMultiMax)
    return make(id, "IS_MISSING_MULTI", Outcome::kFail, msg + " (IS not added, wrong method)", m,
                limit);
  return make(id, "IS_MISSING_MULTI", Outcome::kPass, msg, m, limit);
}

CheckResult checkRtShiftGlobal(const std::vector<double>& relativeShifts,
                               const DriftConfig& config) {
  const char* id = "trend.rt_shift_global";
  if (relativeShifts.size() < 2)
    return make(id, "RT_SHIFT_GLOBAL", Outcome::kNotEvaluable, "fewer than 2 analytes");
  bool allUp = true, allDown = true;
  double minAbs = std::numeric_limits<double>::infinity();
  for (double s : relativeShifts) {
    allUp = allUp && s > config.rtGlobalShiftRel;
    allDown = allDown && s < -config.rtGlobalShiftRel;
    minAbs = std::min(minAbs, std::fabs(s));
  }
  std::string msg = "RT of " + std::to_string(relativeShifts.size()) + " analytes shifted";
  if (allUp || allDown)
    return make(id, "RT_SHIFT_GLOBAL", Outcome::kWarn,
                msg + (allUp ? " later" : " earlier") + " together, each by more than " +
                    num(100 * config.rtGlobalShiftRel) + "% (the least by " + num(100 * minAbs) +
                    "%) from the expected RT (mobile phase composition, flow, column temperature)",
                100 * minAbs, 100 * config.rtGlobalShiftRel);
  return make(id, "RT_SHIFT_GLOBAL", Outcome::kPass, msg + " not all in one direction",
              100 * minAbs, 100 * config.rtGlobalShiftRel);
}

InjectionSeries injectionSeries(const Message& message, const std::string& analyte) {
  InjectionSeries s;
  for (size_t i = 0; i < message.samples.size(); ++i) {
    const Sample& sample = message.samples[i];
    if (sample.kind == SampleKind::kDoubleBlank) continue;
    for (const Result& r : sample.results) {
      if (r.internalStandard || !sameCode(r.instrumentCode, analyte)) continue;
      s.sampleIndex.push_back(i);
      s.isArea.push_back(r.peak ? r.peak->internalStandardArea : std::nullopt);
      s.isRt.push_back(r.peak ? r.peak->internalStandardRt : std::nullopt);
      s.rt.push_back(r.peak ? r.peak->retentionTime : std::nullopt);
      break;
    }
  }
  return s;
}

BatchDiagnostics diagnoseBatch(const Message& message, const BatchReferences& refs,
                               const DriftConfig& config) {
  BatchDiagnostics out;
  auto add = [&](const std::string& analyte, CheckResult c) {
    if (c.outcome == Outcome::kNotEvaluable) return;  // diagnostics only where computable
    c.message = analyte + ": " + c.message;
    out.batch.push_back({analyte, std::move(c)});
  };
  const bool inOrder = message.listedInRunOrder;
  // Every analyte's injectionSeries in one pass over the batch, not one pass per analyte.
  std::map<std::string_view, InjectionSeries> all;
  for (size_t i = 0; i < message.samples.size(); ++i) {
    const Sample& sample = message.samples[i];
    if (sample.kind == SampleKind::kDoubleBlank) continue;
    for (const Result& r : sample.results) {
      if (r.internalStandard) continue;
      InjectionSeries& s = all[r.instrumentCode];
      if (!s.sampleIndex.empty() && s.sampleIndex.back() == i) continue;  // the first one counts
      s.sampleIndex.push_back(i);
      s.isArea.push_back(r.peak ? r.peak->internalStandardArea : std::nullopt);
      s.isRt.push_back(r.peak ? r.peak->internalStandardRt : std::nullopt);
      s.rt.push_back(r.peak ? r.peak->retentionTime : std::nullopt);
    }
  }
  std::vector<double> shifts;
  for (const auto& [analyte, ref] : refs.analytes) {
    auto found = all.find(analyte);
    if (found == all.end() || found->second.sampleIndex.empty()) continue;
    const InjectionSeries& s = found->second;
    // An export without IS areas says nothing about the IS: only a batch that carries some IS
    // areas can show them missing.
    bool carriesIs = std::any_of(s.isArea.begin(), s.isArea.end(),
                                 [](const std::optional<double>& a) { return a.has_value(); });
    if (carriesIs) add(analyte, checkIsMissingMulti(s.isArea, config));
    if (inOrder && ref.meanIsArea && *ref.meanIsArea > 0) {
      Series ratios;
      for (const auto& a : s.isArea)
        ratios.push_back(present(a) && *a > 0 ? std::optional<double>(*a / *ref.meanIsArea)
                                              : std::nullopt);
      std::vector<size_t> fallen;
      CheckResult drift = checkIsDrift(ratios, config, &fallen);
      for (size_t k : fallen) {
        const Sample& sample = message.samples[s.sampleIndex[k]];
        CheckResult held =
            make("trend.is_drift", "IS_DRIFT", Outcome::kFail,
                 analyte + ": " + injectionOf(sample) + ": IS at " + num(100 * *ratios[k]) +
                     "% of the IS reference, below " + num(100 * config.holdBelowRatio) +
                     "%, in a batch whose IS response drifts (IS_DRIFT)",
                 100 * *ratios[k], 100 * config.holdBelowRatio, "sample");
        out.samples.push_back({s.sampleIndex[k], std::move(held), analyte});
      }
      add(analyte, std::move(drift));
      for (InjectionCheck ic : checkIsDropSingle(ratios, config)) {
        ic.index = s.sampleIndex[ic.index];
        ic.analyte = analyte;
        ic.check.message =
            analyte + ": " + injectionOf(message.samples[ic.index]) + ": " + ic.check.message;
        out.samples.push_back(std::move(ic));
      }
    }
    auto isRtRef = ref.meanCalibratorIsRt ? ref.meanCalibratorIsRt : ref.expectedIsRt;
    if (inOrder && isRtRef) add(analyte, checkRtDrift(s.isRt, *isRtRef, config));
    if (ref.meanCalibratorRt && ref.expectedRt && *ref.expectedRt > 0)
      shifts.push_back((*ref.meanCalibratorRt - *ref.expectedRt) / *ref.expectedRt);
  }
  if (shifts.size() >= 2) out.batch.push_back({"", checkRtShiftGlobal(shifts, config)});
  return out;
}

}  // namespace labgate::rules
