#include "rules/peaks.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <type_traits>
#include <utility>

namespace labgate::rules {
namespace {

/// A usable number: present and finite.
std::optional<double> usable(std::optional<double> v) {
  if (v && std::isfinite(*v)) return v;
  return std::nullopt;
}

std::optional<double> meanOf(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

std::optional<double> medianOf(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::optional<double> cvPercentOf(const std::vector<double>& v) {
  if (v.size() < 2) return std::nullopt;
  double m = *meanOf(v);
  if (m == 0) return std::nullopt;
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return 100.0 * std::sqrt(ss / static_cast<double>(v.size() - 1)) / std::fabs(m);
}

bool isCalOrQc(SampleKind kind) {
  return kind == SampleKind::kCalibrator || kind == SampleKind::kQc;
}

/// Cal, QC and SST fail where a patient only warns (§1.4, §1.5).
Outcome shapeOutcome(SampleKind kind) {
  return kind == SampleKind::kUnknown ? Outcome::kWarn : Outcome::kFail;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> flagTokens(const std::string& flags) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : flags) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == ';' || c == '|') {
      if (!cur.empty()) out.push_back(upper(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(upper(cur));
  return out;
}

/// Relative window check shared by the RT and IS RT checks.
CheckResult rtCheck(bool full, const char* ruleId, const char* what, std::optional<double> rt,
                    std::optional<double> ref, const PeakConfig& config, bool absolute) {
  rt = usable(rt);
  ref = usable(ref);
  if (!rt) {
    return resultCheck(full, ruleId, "RT_WINDOW", Outcome::kNotEvaluable,
                       std::string(what) + " missing");
  }
  if (!ref || (!absolute && *ref <= 0))
    return resultCheck(full, ruleId, "RT_WINDOW", Outcome::kNotEvaluable,
                       std::string("no reference for ") + what + " (no calibrator, no expected RT)",
                       rt);
  if (absolute) {
    double dev = std::fabs(*rt - *ref);
    bool ok = dev <= config.rtAbsTolMin;
    return resultCheck(
        full, ruleId, "RT_WINDOW", ok ? Outcome::kPass : Outcome::kFail,
        [&] {
          return std::string(what) + " " + num(*rt) + " min vs reference " + num(*ref) +
                 " min: deviation " + num(dev) + " min (limit " + num(config.rtAbsTolMin) + " min)";
        },
        dev, config.rtAbsTolMin);
  }
  double dev = std::fabs(*rt - *ref) / *ref;
  bool ok = dev <= config.rtRelTol;
  return resultCheck(
      full, ruleId, "RT_WINDOW", ok ? Outcome::kPass : Outcome::kFail,
      [&] {
        return std::string(what) + " " + num(*rt) + " vs reference " + num(*ref) +
               ": relative deviation " + num(100 * dev) + " % (limit " +
               num(100 * config.rtRelTol) + " %)";
      },
      100 * dev, 100 * config.rtRelTol);
}

std::optional<double> rrtOf(const Peak& peak) {
  auto rt = usable(peak.retentionTime);
  auto isRt = usable(peak.internalStandardRt);
  if (!rt || !isRt || *isRt <= 0) return std::nullopt;
  return *rt / *isRt;
}

/// Collected values of one analyte over the batch's calibrators and QCs.
struct Collected {
  std::vector<double> rt, isRt, rrt, ir, isArea, calIsArea, qcIsArea, width;
  std::map<double, std::vector<double>> heightByLevel;
  std::optional<double> expectedRt, expectedIsRt;
};

std::optional<double> nominalOf(const Sample& s, const Peak& p) {
  if (auto v = usable(p.expectedConcentration)) return v;
  return usable(s.nominalConcentration);
}

void collect(Collected& c, const Sample& s, const Result& r, const PeakConfig& config) {
  const Peak& p = *r.peak;
  if (!c.expectedRt) c.expectedRt = usable(p.expectedRetentionTime);
  if (s.kind == SampleKind::kCalibrator || s.kind == SampleKind::kQc) {
    if (auto a = usable(p.internalStandardArea); a && *a > 0) {
      c.isArea.push_back(*a);
      if (s.kind == SampleKind::kQc) c.qcIsArea.push_back(*a);
    }
  }
  if (s.kind != SampleKind::kCalibrator) return;
  if (auto a = usable(p.internalStandardArea); a && *a > 0) c.calIsArea.push_back(*a);
  if (auto v = usable(p.retentionTime)) c.rt.push_back(*v);
  if (auto v = usable(p.internalStandardRt)) c.isRt.push_back(*v);
  if (auto v = rrtOf(p)) c.rrt.push_back(*v);
  if (auto v = usable(p.width)) c.width.push_back(*v);
  auto sn = usable(p.signalToNoise);
  if (auto ir = usable(ionRatioOf(p)); ir && !(sn && *sn < config.ionRatioMinCalibratorSn))
    c.ir.push_back(*ir);
  auto height = usable(p.height);
  auto level = nominalOf(s, p);
  if (height && level) c.heightByLevel[*level].push_back(*height);
}

}  // namespace

AnalyteReference BatchReferences::of(const std::string& analyte) const {
  auto it = analytes.find(analyte);
  return it == analytes.end() ? AnalyteReference{} : it->second;
}

BatchReferences computeBatchReferences(const Message& message, const PeakConfig& config,
                                       const AcceptedPredicate& accepted) {
  std::map<std::string, Collected> byAnalyte;
  std::map<std::string, std::optional<double>> isExpectedRt;  // IS name → its expected RT
  for (const Sample& s : message.samples) {
    for (const Result& r : s.results) {
      if (!r.peak) continue;
      if (r.internalStandard) {
        if (!isExpectedRt[r.instrumentCode])
          isExpectedRt[r.instrumentCode] = usable(r.peak->expectedRetentionTime);
        continue;
      }
      Collected& c = byAnalyte[r.instrumentCode];
      if (isCalOrQc(s.kind) && accepted && !accepted(s, r)) continue;
      collect(c, s, r, config);
    }
  }
  BatchReferences out;
  for (auto& [code, c] : byAnalyte) {
    AnalyteReference ref;
    ref.meanCalibratorRt = meanOf(c.rt);
    ref.meanCalibratorIsRt = meanOf(c.isRt);
    ref.meanCalibratorRrt = meanOf(c.rrt);
    ref.meanCalibratorIonRatio = meanOf(c.ir);
    ref.meanIsArea = meanOf(c.isArea);
    ref.medianIsArea = medianOf(c.isArea);
    if (c.qcIsArea.size() >= 2) ref.qcMedianIsArea = medianOf(c.qcIsArea);
    ref.isAreaCvPct = cvPercentOf(c.isArea);
    ref.isAreaCount = c.isArea.size();
    ref.medianCalibratorIsArea = medianOf(c.calIsArea);
    ref.medianCalibratorWidth = medianOf(c.width);
    if (!c.heightByLevel.empty())
      ref.uloqCalibratorHeight = meanOf(c.heightByLevel.rbegin()->second);
    ref.expectedRt = c.expectedRt;
    out.analytes[code] = ref;
  }
  // The IS's expected RT, where the IS has its own result row: matched by the IS name.
  for (const Sample& s : message.samples)
    for (const Result& r : s.results)
      if (!r.internalStandard && r.peak && !r.peak->internalStandard.empty()) {
        auto it = isExpectedRt.find(r.peak->internalStandard);
        auto& ref = out.analytes[r.instrumentCode];
        if (it != isExpectedRt.end() && !ref.expectedIsRt) ref.expectedIsRt = it->second;
      }
  return out;
}

double ionRatioTolerance(double irRef, const PeakConfig& config) {
  if (config.ionRatioFlatTol) return *config.ionRatioFlatTol;
  if (irRef > 0.50) return 0.20;
  if (irRef > 0.20) return 0.25;
  if (irRef > 0.10) return 0.30;
  return 0.50;
}

std::optional<double> ionRatioOf(const Peak& peak) {
  if (auto v = usable(peak.ionRatio)) return v;
  auto qual = usable(peak.qualifierArea);
  auto quant = usable(peak.quantifierArea);
  if (!quant) quant = usable(peak.area);
  if (!qual || !quant || *quant <= 0) return std::nullopt;
  return *qual / *quant;
}

bool peakFound(const Peak& peak) { return usable(peak.retentionTime) && usable(peak.area); }

std::optional<double> concentrationOf(const Peak& peak, std::optional<double> dilution) {
  if (auto c = usable(peak.calculatedConcentration)) return c;
  auto finalConc = usable(peak.finalConcentration);
  if (!finalConc) return std::nullopt;
  if (auto d = usable(dilution); d && *d > 0) return *finalConc / *d;
  return finalConc;
}

const std::vector<std::string>& peakCheckNames() {
  static const std::vector<std::string> kNames = {"rt_window",       "is_rt_window", "ion_ratio",
                                                  "signal_to_noise", "shape",        "width",
                                                  "is_response",     "saturation"};
  return kNames;
}

namespace {

/// The switch of the check named `name` in `c` (PeakConfig or const PeakConfig), or nullptr.
template <class Config>
auto* peakCheckFlag(Config& c, const std::string& name) {
  using Flag = decltype(&c.checkRt);
  static_assert(std::is_pointer_v<Flag>);
  if (name == "rt_window") return &c.checkRt;
  if (name == "is_rt_window") return &c.checkIsRt;
  if (name == "ion_ratio") return &c.checkIonRatio;
  if (name == "signal_to_noise") return &c.checkSignalToNoise;
  if (name == "shape") return &c.checkShape;
  if (name == "width") return &c.checkWidth;
  if (name == "is_response") return &c.checkIsResponse;
  if (name == "saturation") return &c.checkSaturation;
  return static_cast<Flag>(nullptr);
}

}  // namespace

bool setPeakCheck(PeakConfig& config, const std::string& name, bool on) {
  bool* flag = peakCheckFlag(config, name);
  if (flag) *flag = on;
  return flag != nullptr;
}

bool peakCheckOn(const PeakConfig& config, const std::string& name) {
  const bool* flag = peakCheckFlag(config, name);
  return flag && *flag;
}

std::vector<std::string> deriveInternalStandardAreas(Message& message) {
  // 1. Exports that give the IS as its own result row (sample by sample): the analyte's IS area
  // and RT are that row's, exactly — the row of the IS the analyte's peak names, or, when the
  // peak names none and the whole batch has a single IS, that one (a MassHunter batch table has
  // an "ISTD" column group but does not say which analyte uses it).
  std::set<std::string> isCodes;
  for (const Sample& s : message.samples)
    for (const Result& r : s.results)
      if (r.internalStandard) isCodes.insert(r.instrumentCode);
  const std::string onlyIs = isCodes.size() == 1 ? *isCodes.begin() : std::string();
  for (Sample& s : message.samples) {
    std::map<std::string, const Peak*> isRows;
    for (const Result& r : s.results)
      if (r.internalStandard && r.peak) isRows.emplace(r.instrumentCode, &*r.peak);
    if (isRows.empty()) continue;
    for (Result& r : s.results) {
      if (r.internalStandard || !r.peak) continue;
      const std::string& named =
          r.peak->internalStandard.empty() ? onlyIs : r.peak->internalStandard;
      if (named.empty()) continue;
      auto it = isRows.find(named);
      if (it == isRows.end()) continue;
      if (!r.peak->internalStandardArea) {
        r.peak->internalStandardArea = it->second->area;
        // A double blank's IS row with no integrated peak ("NF", empty) says there is no IS:
        // the double blank's expected outcome (area 0), as a blank's empty area is (§2.4).
        if (s.kind == SampleKind::kDoubleBlank && !usable(it->second->area))
          r.peak->internalStandardArea = 0.0;
      }
      if (!r.peak->internalStandardRt) r.peak->internalStandardRt = it->second->retentionTime;
    }
  }
  // 2. Area ÷ response ratio, for analytes with no IS area at all.
  std::set<std::string> hasIsArea, derivable;
  for (const Sample& s : message.samples) {
    for (const Result& r : s.results) {
      if (r.internalStandard || !r.peak) continue;
      if (r.peak->internalStandardArea) hasIsArea.insert(r.instrumentCode);
      auto area = usable(r.peak->area);
      auto ratio = usable(r.peak->responseRatio);
      if (area && ratio && *ratio > 0) derivable.insert(r.instrumentCode);
    }
  }
  std::vector<std::string> derived;
  for (const std::string& a : derivable)
    if (!hasIsArea.count(a)) derived.push_back(a);
  if (derived.empty()) return derived;
  const std::set<std::string> chosen(derived.begin(), derived.end());
  for (Sample& s : message.samples) {
    for (Result& r : s.results) {
      if (r.internalStandard || !r.peak || !chosen.count(r.instrumentCode)) continue;
      auto area = usable(r.peak->area);
      auto ratio = usable(r.peak->responseRatio);
      if (area && ratio && *ratio > 0) r.peak->internalStandardArea = *area / *ratio;
    }
  }
  return derived;
}

CheckResult checkIsMatrixMismatch(const Message& message, const std::string& analyte,
                                  const AnalyteReference& ref, const PeakConfig& config,
                                  size_t minPatients) {
  CheckResult c;
  c.ruleId = "peak.is_matrix_mismatch";
  c.code = "IS_MATRIX_MISMATCH";
  c.subject = "analyte";
  const bool qcReference = ref.qcMedianIsArea && *ref.qcMedianIsArea > 0;
  const std::optional<double> isRef = qcReference ? ref.qcMedianIsArea : ref.medianIsArea;
  if (!isRef || *isRef <= 0) return c;  // no reference: the per-result check says so
  std::vector<double> pcts;
  size_t outside = 0;
  for (const Sample& s : message.samples) {
    if (s.kind != SampleKind::kUnknown) continue;
    for (const Result& r : s.results) {
      if (r.internalStandard || r.instrumentCode != analyte || !r.peak) continue;
      auto a = usable(r.peak->internalStandardArea);
      if (!a || *a <= 0) continue;
      double pct = 100 * *a / *isRef;
      pcts.push_back(pct);
      if (pct < config.isWindowLowPct || pct > config.isWindowHighPct) ++outside;
    }
  }
  if (pcts.size() < minPatients || 2 * outside <= pcts.size()) return c;
  double median = *medianOf(pcts);
  c.outcome = Outcome::kFail;
  c.message = std::to_string(outside) + " of " + std::to_string(pcts.size()) +
              " patient IS areas outside " + num(config.isWindowLowPct) + "–" +
              num(config.isWindowHighPct) + " % of " +
              (qcReference ? "the QC median " : "the cal/QC median ") + num(*isRef) +
              " (patient median " + num(median) +
              " %): the calibrators and QCs probably do not match the patients' matrix; those "
              "results hold for review of the extraction and the reference matrix";
  c.measured = num(median);
  c.limit = num(median < config.isWindowLowPct ? config.isWindowLowPct : config.isWindowHighPct);
  return c;
}

namespace {

// The checks of checkPeak, with `full` as in resultCheck(); the public functions write every check
// out.

CheckResult rtWindow(bool full, const Peak& peak, const AnalyteReference& ref,
                     const PeakConfig& config) {
  const char* id = "peak.rt_window";
  if (config.rtMode == RtMode::kRelativeRt) {
    if (!usable(peak.internalStandardRt))
      return resultCheck(full, id, "RT_WINDOW", Outcome::kNotEvaluable,
                         "IS RT missing for relative RT");
    return rtCheck(full, id, "RRT", rrtOf(peak), ref.meanCalibratorRrt, config, false);
  }
  auto rtRef = ref.meanCalibratorRt ? ref.meanCalibratorRt : ref.expectedRt;
  if (!rtRef) rtRef = peak.expectedRetentionTime;
  return rtCheck(full, id, "RT", peak.retentionTime, rtRef, config,
                 config.rtMode == RtMode::kAbsolute);
}

CheckResult isRtWindow(bool full, const Peak& peak, const AnalyteReference& ref,
                       const PeakConfig& config) {
  auto rtRef = ref.meanCalibratorIsRt ? ref.meanCalibratorIsRt : ref.expectedIsRt;
  return rtCheck(full, "peak.is_rt_window", "IS RT", peak.internalStandardRt, rtRef, config,
                 config.rtMode == RtMode::kAbsolute);
}

CheckResult ionRatio(bool full, const Peak& peak, const AnalyteReference& ref,
                     const PeakConfig& config, std::optional<double> lloq,
                     std::optional<double> dilution) {
  const char* id = "peak.ion_ratio";
  auto irRef = config.ionRatioReference ? config.ionRatioReference : ref.meanCalibratorIonRatio;
  auto ir = ionRatioOf(peak);
  if (!ir) {
    auto conc = concentrationOf(peak, dilution);
    if (!usable(peak.qualifierArea) && conc && lloq && *conc > *lloq)
      return resultCheck(full, id, "ION_RATIO", Outcome::kFail,
                         "qualifier peak missing while the quantifier's concentration " +
                             num(*conc) + " is above the LLOQ " + num(*lloq),
                         conc, lloq);
    return resultCheck(full, id, "ION_RATIO", Outcome::kNotEvaluable,
                       "ion ratio not available for this injection (no ratio, no qualifier area)");
  }
  if (!irRef || *irRef <= 0)
    return resultCheck(full, id, "ION_RATIO", Outcome::kNotEvaluable,
                       "no reference ion ratio (no calibrator, none configured)", ir);
  double tol = ionRatioTolerance(*irRef, config);
  double dev = std::fabs(*ir - *irRef) / *irRef;
  auto msg = [&] {
    return "ion ratio " + num(*ir) + " vs reference " + num(*irRef) + ": relative deviation " +
           num(100 * dev) + " % (tolerance " + num(100 * tol) + " %)";
  };
  const double devPct = 100 * dev, tolPct = 100 * tol;
  if (dev <= tol) return resultCheck(full, id, "ION_RATIO", Outcome::kPass, msg, devPct, tolPct);
  auto height = usable(peak.height);
  if (height && ref.uloqCalibratorHeight && *height > *ref.uloqCalibratorHeight)
    return resultCheck(
        full, id, "POSSIBLE_SATURATION", Outcome::kFail,
        msg() +
            "; peak higher than the ULOQ calibrator: detector saturation, use a less "
            "abundant transition or dilute",
        devPct, tolPct);
  return resultCheck(full, id, "ION_RATIO", Outcome::kFail, msg() + "; possible interference",
                     devPct, tolPct);
}

std::optional<CheckResult> signalToNoise(bool full, const Peak& peak, SampleKind kind,
                                         bool isLloqCalibrator, const PeakConfig& config,
                                         std::optional<double> lloq,
                                         std::optional<double> dilution) {
  const char* id = "peak.signal_to_noise";
  auto sn = usable(peak.signalToNoise);
  if (kind == SampleKind::kCalibrator && isLloqCalibrator) {
    if (!sn)
      return resultCheck(full, id, "SIGNAL_TO_NOISE", Outcome::kNotEvaluable,
                         "S/N missing at the LLOQ");
    auto msg = [&] { return "LLOQ calibrator S/N " + num(*sn); };
    if (*sn >= config.snPass)
      return resultCheck(full, id, "SIGNAL_TO_NOISE", Outcome::kPass, msg, sn, config.snPass);
    if (*sn >= config.snFail)
      return resultCheck(full, id, "SIGNAL_TO_NOISE", Outcome::kWarn,
                         msg() + " below " + num(config.snPass), sn, config.snPass);
    return resultCheck(full, id, "SIGNAL_TO_NOISE", Outcome::kFail,
                       msg() + " below " + num(config.snFail) + ": calibrator not accepted", sn,
                       config.snFail);
  }
  if (kind != SampleKind::kUnknown) return std::nullopt;
  auto conc = concentrationOf(peak, dilution);
  if (!conc || !lloq || *conc < *lloq) return std::nullopt;  // below the LLOQ: reported "< LLOQ"
  if (!sn)
    return resultCheck(full, id, "SIGNAL_TO_NOISE", Outcome::kNotEvaluable,
                       "S/N missing for a result at or above the LLOQ");
  return resultCheck(
      full, id, "SIGNAL_TO_NOISE", *sn >= config.snPass ? Outcome::kPass : Outcome::kWarn,
      [&] {
        return "S/N " + num(*sn) + " below " + num(config.snPass) +
               " on a result at or above the LLOQ";
      },
      sn, config.snPass);
}

CheckResult shape(bool full, const Peak& peak, SampleKind kind, const PeakConfig& config) {
  const char* id = "peak.shape";
  auto t = usable(peak.asymmetry);
  if (!t)
    return resultCheck(full, id, "PEAK_SHAPE", Outcome::kNotEvaluable, "tailing/asymmetry missing");
  if (*t > config.tailingMax)
    return resultCheck(full, id, "PEAK_SHAPE", shapeOutcome(kind),
                       "tailing factor " + num(*t) + " above " + num(config.tailingMax) +
                           " (column void/contamination, extra-column volume)",
                       t, config.tailingMax);
  if (*t < config.tailingMin)
    return resultCheck(full, id, "PEAK_FRONTING", shapeOutcome(kind),
                       "tailing factor " + num(*t) + " below " + num(config.tailingMin) +
                           " (fronting: overload, injection-solvent mismatch)",
                       t, config.tailingMin);
  return resultCheck(
      full, id, "PEAK_SHAPE", Outcome::kPass, [&] { return "tailing factor " + num(*t); }, t,
      config.tailingMax);
}

CheckResult width(bool full, const Peak& peak, SampleKind kind, const AnalyteReference& ref,
                  const PeakConfig& config) {
  const char* id = "peak.width";
  auto w = usable(peak.width);
  if (!w) return resultCheck(full, id, "PEAK_WIDTH", Outcome::kNotEvaluable, "peak width missing");
  if (!ref.medianCalibratorWidth || *ref.medianCalibratorWidth <= 0)
    return resultCheck(full, id, "PEAK_WIDTH", Outcome::kNotEvaluable,
                       "no calibrator width reference", w);
  double ratio = *w / *ref.medianCalibratorWidth;
  auto msg = [&] {
    return "width " + num(*w) + " is " + num(ratio) + " x the calibrators' median " +
           num(*ref.medianCalibratorWidth) + " (limits " + num(config.widthRatioMin) + "–" +
           num(config.widthRatioMax) + " x)";
  };
  if (ratio > config.widthRatioMax)
    return resultCheck(full, id, "PEAK_WIDTH", shapeOutcome(kind), msg, ratio,
                       config.widthRatioMax);
  if (ratio < config.widthRatioMin)
    return resultCheck(full, id, "PEAK_WIDTH", shapeOutcome(kind), msg, ratio,
                       config.widthRatioMin);
  return resultCheck(full, id, "PEAK_WIDTH", Outcome::kPass, msg, ratio, config.widthRatioMax);
}

CheckResult isResponse(bool full, const Peak& peak, SampleKind kind, const AnalyteReference& ref,
                       const PeakConfig& config, bool matrixMismatch) {
  const char* id = "peak.is_response";
  auto area = usable(peak.internalStandardArea);
  if (kind == SampleKind::kDoubleBlank) {
    if (!area || *area == 0)
      return resultCheck(full, id, "IS_RESPONSE", Outcome::kPass, "no IS in double blank");
    if (!ref.medianIsArea || *ref.medianIsArea <= 0)
      return resultCheck(full, id, "IS_RESPONSE", Outcome::kNotEvaluable,
                         "no IS reference area (no calibrator or QC IS area)", area);
    double pct = 100 * *area / *ref.medianIsArea;
    return resultCheck(
        full, id, "IS_IN_DOUBLE_BLANK",
        pct <= config.doubleBlankIsMaxPct ? Outcome::kPass : Outcome::kFail,
        [&] {
          return "IS in double blank at " + num(pct) + " % of the cal/QC median (limit " +
                 num(config.doubleBlankIsMaxPct) + " %)";
        },
        pct, config.doubleBlankIsMaxPct);
  }
  if (!area || *area == 0)
    return resultCheck(full, id, "IS_MISSING", Outcome::kFail,
                       "internal standard missing: IS not added, injection failure; re-extract or "
                       "reinject",
                       area, std::nullopt, DispositionKind::kReject);
  // Patients against the matrix-matched QC median where the batch has one.
  const bool patient = kind == SampleKind::kUnknown;
  const bool qcReference = patient && ref.qcMedianIsArea && *ref.qcMedianIsArea > 0;
  const std::optional<double> isRef = qcReference ? ref.qcMedianIsArea : ref.medianIsArea;
  const char* refName = qcReference ? "the QC median" : "the cal/QC median";
  if (!isRef || *isRef <= 0)
    return resultCheck(full, id, "IS_RESPONSE", Outcome::kNotEvaluable,
                       "no IS reference area (no calibrator or QC IS area)", area);
  double pct = 100 * *area / *isRef;
  const bool low = pct < config.isWindowLowPct;
  const bool high = pct > config.isWindowHighPct;
  if (!low && !high)
    return resultCheck(
        full, id, "IS_RESPONSE", Outcome::kPass,
        [&] { return "IS area " + num(*area) + " is " + num(pct) + " % of " + refName; }, pct,
        config.isWindowLowPct);
  const double limit = low ? config.isWindowLowPct : config.isWindowHighPct;
  if (patient && matrixMismatch) {
    // Short: the batch finding IS_MATRIX_MISMATCH carries the explanation and the reference.
    return resultCheck(
        full, id, "IS_RESPONSE", Outcome::kFail,
        [&] { return "IS area " + num(pct) + " % of the reference: see IS_MATRIX_MISMATCH"; }, pct,
        limit);
  }
  std::string message = "IS area " + num(pct) + " % of " + refName + " " + num(*isRef) +
                        ", outside " + num(config.isWindowLowPct) + "–" +
                        num(config.isWindowHighPct) + " %";
  {
    message += low ? " (ion suppression, pipetting/IS addition error): re-extract or reinject"
                   : " (double IS addition, ion enhancement): re-extract or reinject";
  }
  return resultCheck(full, id, "IS_RESPONSE", Outcome::kFail, std::move(message), pct, limit);
}

CheckResult saturation(bool full, const Peak& peak, const AnalyteReference& ref,
                       const PeakConfig& config, std::optional<double> uloq,
                       std::optional<double> dilution) {
  const char* id = "peak.saturation";
  if (!peak.vendorFlags.empty()) {
    for (const std::string& token : flagTokens(peak.vendorFlags))
      for (const std::string& sat : config.saturationFlags)
        if (token == upper(sat))
          return resultCheck(full, id, "SATURATION", Outcome::kFail,
                             "vendor saturation flag '" + token + "': report > ULOQ, dilute");
  }
  auto height = usable(peak.height);
  auto conc = concentrationOf(peak, dilution);
  uloq = usable(uloq);
  bool evaluated = false;
  if (height && ref.uloqCalibratorHeight) {
    evaluated = true;
    double limit = config.uloqHeightFactor * *ref.uloqCalibratorHeight;
    if (*height > limit)
      return resultCheck(full, id, "DILUTE_AND_RERUN", Outcome::kFail,
                         "height " + num(*height) + " above " + num(config.uloqHeightFactor) +
                             " x the ULOQ calibrator's height: report > ULOQ, dilute",
                         height, limit);
  }
  if (conc && uloq) {
    evaluated = true;
    if (*conc > *uloq)
      return resultCheck(full, id, "DILUTE_AND_RERUN", Outcome::kFail,
                         "concentration " + num(*conc) + " above the ULOQ " + num(*uloq) +
                             ": report > ULOQ, dilute",
                         conc, uloq);
  }
  if (!evaluated)
    return resultCheck(full, id, "SATURATION", Outcome::kNotEvaluable,
                       "neither height vs ULOQ calibrator nor concentration vs ULOQ available");
  return resultCheck(full, id, "SATURATION", Outcome::kPass, "within the calibrated range", conc,
                     uloq);
}

CheckResult notFound(bool full, const Peak& peak, SampleKind kind, bool isPassed,
                     const PeakConfig& config) {
  const char* id = "peak.not_found";
  if (peakFound(peak)) return resultCheck(full, id, "NOT_FOUND", Outcome::kPass, "peak found");
  switch (kind) {
    case SampleKind::kBlank:
    case SampleKind::kDoubleBlank:
      return resultCheck(full, id, "NOT_FOUND", Outcome::kPass, "no peak in a blank");
    case SampleKind::kUnknown:
      if (isPassed && config.rtWindowSearched)
        return resultCheck(full, id, "NOT_DETECTED", Outcome::kPass,
                           "not detected: IS passed and the RT window was searched");
      return resultCheck(full, id, "NOT_FOUND", Outcome::kNotEvaluable,
                         isPassed ? "peak not found; RT window search not confirmed"
                                  : "peak not found and the IS did not pass");
    default:
      return resultCheck(full, id, "NOT_FOUND", Outcome::kFail,
                         std::string("peak not found in a ") + toString(kind) + " injection");
  }
}

CheckResult manualIntegration(bool full, const Peak& peak, SampleKind kind,
                              const PeakConfig& config) {
  const char* id = "peak.manual_integration";
  if (!peak.manualIntegration)
    return resultCheck(full, id, "MANUAL_INTEGRATION", Outcome::kPass, "automatic integration");
  if (config.manualIntegrationHolds && kind == SampleKind::kUnknown)
    return resultCheck(
        full, id, "MANUAL_INTEGRATION", Outcome::kFail,
        "manual integration: second-person review and reviewer attribution required");
  return resultCheck(full, id, "MANUAL_INTEGRATION", Outcome::kWarn,
                     "manual integration: reviewer attribution required");
}

}  // namespace

CheckResult checkRtWindow(const Peak& peak, const AnalyteReference& ref, const PeakConfig& config) {
  return rtWindow(true, peak, ref, config);
}

CheckResult checkIsRtWindow(const Peak& peak, const AnalyteReference& ref,
                            const PeakConfig& config) {
  return isRtWindow(true, peak, ref, config);
}

CheckResult checkIonRatio(const Peak& peak, const AnalyteReference& ref, const PeakConfig& config,
                          std::optional<double> lloq) {
  return ionRatio(true, peak, ref, config, lloq, std::nullopt);
}

std::optional<CheckResult> checkSignalToNoise(const Peak& peak, SampleKind kind,
                                              bool isLloqCalibrator, const PeakConfig& config,
                                              std::optional<double> lloq,
                                              std::optional<double> dilution) {
  return signalToNoise(true, peak, kind, isLloqCalibrator, config, lloq, dilution);
}

CheckResult checkLloqOverBlank(std::optional<double> lloqArea, std::optional<double> blankArea) {
  const char* id = "peak.lloq_over_blank";
  lloqArea = usable(lloqArea);
  blankArea = usable(blankArea);
  if (!lloqArea || !blankArea)
    return resultCheck(true, id, "LLOQ_RESPONSE", Outcome::kNotEvaluable,
                       "LLOQ or blank area missing");
  double need = 5 * *blankArea;
  return resultCheck(true, id, "LLOQ_RESPONSE", *lloqArea >= need ? Outcome::kPass : Outcome::kFail,
                     "LLOQ area " + num(*lloqArea) + " vs 5 x blank area " + num(need), lloqArea,
                     need);
}

CheckResult checkShape(const Peak& peak, SampleKind kind, const PeakConfig& config) {
  return shape(true, peak, kind, config);
}

CheckResult checkWidth(const Peak& peak, SampleKind kind, const AnalyteReference& ref,
                       const PeakConfig& config) {
  return width(true, peak, kind, ref, config);
}

CheckResult checkIsResponse(const Peak& peak, SampleKind kind, const AnalyteReference& ref,
                            const PeakConfig& config) {
  return isResponse(true, peak, kind, ref, config, false);
}

CheckResult checkIsCv(const AnalyteReference& ref, const PeakConfig& config) {
  CheckResult c;
  auto cv = ref.isAreaCvPct;
  if (!cv) {
    c = resultCheck(true, "peak.is_cv", "IS_CV", Outcome::kNotEvaluable,
                    "fewer than 2 cal/QC IS areas");
  } else {
    Outcome o = *cv > config.isCvFailPct   ? Outcome::kFail
                : *cv > config.isCvWarnPct ? Outcome::kWarn
                                           : Outcome::kPass;
    c = resultCheck(true, "peak.is_cv", "IS_CV", o,
                    "CV of the IS area over " + std::to_string(ref.isAreaCount) +
                        " cal/QC injections " + num(*cv) + " % (warn above " +
                        num(config.isCvWarnPct) + " %, fail above " + num(config.isCvFailPct) +
                        " %)",
                    cv, o == Outcome::kFail ? config.isCvFailPct : config.isCvWarnPct);
  }
  c.subject = "batch";
  return c;
}

CheckResult checkSaturation(const Peak& peak, const AnalyteReference& ref, const PeakConfig& config,
                            std::optional<double> uloq) {
  return saturation(true, peak, ref, config, uloq, std::nullopt);
}

CheckResult checkNotFound(const Peak& peak, SampleKind kind, bool isPassed,
                          const PeakConfig& config) {
  return notFound(true, peak, kind, isPassed, config);
}

CheckResult checkManualIntegration(const Peak& peak, SampleKind kind, const PeakConfig& config) {
  return manualIntegration(true, peak, kind, config);
}

std::vector<CheckResult> checkPeak(const Result& result, const AnalyteReference& ref,
                                   const PeakConfig& config, const PeakContext& context) {
  std::vector<CheckResult> out;
  if (!result.peak) {
    out.push_back(
        resultCheck(true, "peak.not_found", "NOT_FOUND", Outcome::kNotEvaluable, "no peak data"));
    return out;
  }
  const bool full = context.passingChecks == PassingChecks::kReported;
  auto add = [&](CheckResult&& c) {
    if (full || c.outcome != Outcome::kPass) out.push_back(std::move(c));
  };
  const Peak& p = *result.peak;
  const SampleKind kind = context.kind;
  if (full) out.reserve(10);
  std::optional<CheckResult> is;
  if (config.checkIsResponse) is = isResponse(full, p, kind, ref, config, context.isMatrixMismatch);
  if (!peakFound(p)) {
    add(notFound(full, p, kind, is && is->outcome == Outcome::kPass, config));
    if (is) add(std::move(*is));
    add(manualIntegration(full, p, kind, config));
    return out;
  }
  add(notFound(full, p, kind, true, config));
  if (config.checkRt) add(rtWindow(full, p, ref, config));
  if (config.checkIsRt && kind != SampleKind::kDoubleBlank) add(isRtWindow(full, p, ref, config));
  if (config.checkIonRatio) add(ionRatio(full, p, ref, config, context.lloq, context.dilution));
  if (config.checkSignalToNoise)
    if (auto sn = signalToNoise(full, p, kind, context.isLloqCalibrator, config, context.lloq,
                                context.dilution))
      add(std::move(*sn));
  if (config.checkShape) add(shape(full, p, kind, config));
  if (config.checkWidth) add(width(full, p, kind, ref, config));
  if (is) add(std::move(*is));
  if (config.checkSaturation) add(saturation(full, p, ref, config, context.uloq, context.dilution));
  add(manualIntegration(full, p, kind, config));
  return out;
}

}  // namespace labgate::rules
