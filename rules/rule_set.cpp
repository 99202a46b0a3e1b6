// Rule sets and the rule engine (see rule_set.h, docs/rules.md). The engine applies one rule set
// to a batch in the order of the spec (analytics.md §6): peak references, calibration per
// analyte, QC (acceptance, Westgard on the stored history, bracketing), batch diagnostics and
// trends, then autoverification of every patient result, then the lab's Lua rules. Every check
// that does not pass becomes a Finding on the results it concerns (and batch-level ones a
// BatchFinding); the decide stage takes the worst action.
#include "rules/rule_set.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "rules/autoverify.h"
#include "rules/calibration.h"
#include "rules/lua_rule.h"
#include "rules/peaks.h"
#include "rules/qc.h"
#include "rules/qc_trend.h"
#include "rules/run_order.h"
#include "rules/trend.h"
#include "util/json_object.h"

namespace labgate::rules {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

/// Lab-set system-suitability criteria (rule set "batch.sst", or "analytes.NAME.sst"), judged on
/// every SST injection besides the analyte's peak checks; unset = not judged.
struct SstCriteria {
  std::optional<double> rtToleranceMin;  // |RT − expected RT| at most this, minutes
  std::optional<double> minArea;
  std::optional<double> minSignalToNoise;
  std::optional<double> maxWidthMin;
  std::optional<double> maxAsymmetry;
};

/// Per-analyte settings: the defaults with the analyte's overrides applied.
struct AnalyteSettings {
  PeakConfig peak;
  CalibrationConfig calibration;
  AnalyteLimits limits;
  std::vector<QcTarget> targets;  // analyte filled in
  SstCriteria sst;                // batch.sst, or the analyte's own (issue 19)
};

/// Issue 19: the instrument-health checks of one batch the rule set configures under "batch"
/// (docs/rules.md "Instrument health within a batch").
struct HealthConfig {
  bool isCv = true;  // peak.is_cv over the cal/QC IS areas (thresholds: peak.is_cv_*_pct)
  bool isDriftOnset = true;
  bool isDriftOnsetHolds = true;          // patients from the onset on are held
  double onsetK = 0.5;                    // CUSUM reference value, SD units of log(IS ratio)
  double onsetH = 4;                      // CUSUM decision interval
  std::optional<double> onsetSdLogRatio;  // fixed SD of log(IS ratio); else from history
  bool considerQuadratic = true;
  size_t quadraticBatches = 3;
  double quadraticLowPct = 90;
  bool repeatInjections = true;
  double repeatMaxDiffPct = 20;
};

struct RuleSetConfig {
  std::string version;
  std::string description;
  bool peaks = true;
  bool calibration = true;
  bool qc = true;
  bool diagnostics = true;
  bool trends = true;
  bool autoverify = true;
  bool carryover = true;  // the batch design has a blank after the highest calibrator
  AnalyteSettings defaults;
  std::map<std::string, AnalyteSettings> analytes;
  QcReviewOptions qcOptions;
  QcTrendConfig qcTrends;
  AutoverifyConfig autoverifyConfig;
  DriftConfig drift;
  HealthConfig health;
  std::vector<std::shared_ptr<LuaRule>> lua;

  const AnalyteSettings& settingsFor(const std::string& analyte) const {
    auto it = analytes.find(analyte);
    return it == analytes.end() ? defaults : it->second;
  }
};

// ---------------------------------------------------------------------------------------------
// Strict JSON reading: every error names the file and the key path.

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  bool failed() const { return !error_.empty(); }
  Status status() const { return Status::config(source_, error_); }
  void fail(const std::string& path, const std::string& why) {
    if (error_.empty()) error_ = path + ": " + why;
  }

  /// Refuses keys of `object` not in `known` (util/json_object.h: "PATH: KEY: unknown key; known
  /// keys are ...").
  void keys(const Object& object, const std::string& path, const std::set<std::string>& known) {
    std::optional<std::string> unknown = util::unknownKey(object, known, path);
    if (unknown && error_.empty()) error_ = *unknown;
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  Object::Ptr object(const Object& parent, const std::string& path, const std::string& key) {
    if (!parent.has(key)) return nullptr;
    Object::Ptr o = parent.getObject(key);
    if (!o) fail(join(path, key), "must be an object");
    return o;
  }

  void number(const Object& o, const std::string& path, const std::string& key, double& out,
              std::optional<double> min = std::nullopt) {
    if (!o.has(key)) return;
    Poco::Dynamic::Var v = o.get(key);
    if (!v.isNumeric()) return fail(join(path, key), "must be a number");
    double d = v.convert<double>();
    if (!std::isfinite(d) || (min && d < *min)) {
      return fail(join(path, key),
                  "must be a finite number" + (min ? " ≥ " + std::to_string(*min) : std::string()));
    }
    out = d;
  }
  void number(const Object& o, const std::string& path, const std::string& key,
              std::optional<double>& out) {
    if (!o.has(key)) return;
    double d = 0;
    number(o, path, key, d);
    out = d;
  }
  /// A whole number from `min` to `max` (written as 200000 or 2e5).
  void whole(const Object& o, const std::string& path, const std::string& key, int64_t& out,
             int64_t min, int64_t max) {
    if (!o.has(key)) return;
    Poco::Dynamic::Var v = o.get(key);
    double d = v.isNumeric() ? v.convert<double>() : std::nan("");
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != std::floor(d)) {
      return fail(join(path, key), "must be a whole number from " + std::to_string(min) + " to " +
                                       std::to_string(max));
    }
    out = static_cast<int64_t>(d);
  }
  void count(const Object& o, const std::string& path, const std::string& key, size_t& out) {
    if (!o.has(key)) return;
    Poco::Dynamic::Var v = o.get(key);
    if (!v.isInteger() || !v.isSigned() || v.convert<int64_t>() < 0) {  // unsigned: > INT64_MAX
      return fail(join(path, key), "must be a whole number ≥ 0");
    }
    out = static_cast<size_t>(v.convert<int64_t>());
  }
  void boolean(const Object& o, const std::string& path, const std::string& key, bool& out) {
    if (!o.has(key)) return;
    Poco::Dynamic::Var v = o.get(key);
    if (!v.isBoolean()) return fail(join(path, key), "must be true or false");
    out = v.convert<bool>();
  }
  bool text(const Object& o, const std::string& path, const std::string& key, std::string& out) {
    if (!o.has(key)) return false;
    Poco::Dynamic::Var v = o.get(key);
    if (!v.isString()) {
      fail(join(path, key), "must be a string");
      return false;
    }
    out = v.convert<std::string>();
    return true;
  }
  std::vector<std::string> texts(const Object& o, const std::string& path, const std::string& key) {
    std::vector<std::string> out;
    if (!o.has(key)) return out;
    Array::Ptr a = o.getArray(key);
    if (!a) {
      fail(join(path, key), "must be an array of strings");
      return out;
    }
    for (size_t i = 0; i < a->size(); ++i) {
      Poco::Dynamic::Var v = a->get(static_cast<unsigned>(i));
      if (!v.isString()) {
        fail(join(path, key) + "[" + std::to_string(i) + "]", "must be a string");
        return out;
      }
      out.push_back(v.convert<std::string>());
    }
    return out;
  }

 private:
  std::string source_;
  std::string error_;
};

void readPeak(Reader& r, const Object& o, const std::string& path, PeakConfig& c) {
  r.keys(o, path,
         {"rt_mode",
          "rt_rel_tol",
          "rt_abs_tol_min",
          "ion_ratio_reference",
          "ion_ratio_flat_tol",
          "ion_ratio_min_calibrator_sn",
          "sn_pass",
          "sn_fail",
          "tailing_min",
          "tailing_max",
          "width_ratio_min",
          "width_ratio_max",
          "is_window_low_pct",
          "is_window_high_pct",
          "is_cv_warn_pct",
          "is_cv_fail_pct",
          "double_blank_is_max_pct",
          "uloq_height_factor",
          "manual_integration_holds",
          "rt_window_searched",
          "saturation_flags",
          "check_rt",
          "check_is_rt",
          "check_ion_ratio",
          "check_signal_to_noise",
          "check_shape",
          "check_width",
          "check_is_response",
          "check_saturation",
          "not_applicable"});
  std::string mode;
  if (r.text(o, path, "rt_mode", mode)) {
    if (mode == "relative") {
      c.rtMode = RtMode::kRelative;
    } else if (mode == "absolute") {
      c.rtMode = RtMode::kAbsolute;
    } else if (mode == "relative_rt") {
      c.rtMode = RtMode::kRelativeRt;
    } else {
      r.fail(Reader::join(path, "rt_mode"), "must be relative, absolute or relative_rt");
    }
  }
  r.number(o, path, "rt_rel_tol", c.rtRelTol, 0.0);
  r.number(o, path, "rt_abs_tol_min", c.rtAbsTolMin, 0.0);
  r.number(o, path, "ion_ratio_reference", c.ionRatioReference);
  r.number(o, path, "ion_ratio_flat_tol", c.ionRatioFlatTol);
  r.number(o, path, "ion_ratio_min_calibrator_sn", c.ionRatioMinCalibratorSn, 0.0);
  r.number(o, path, "sn_pass", c.snPass, 0.0);
  r.number(o, path, "sn_fail", c.snFail, 0.0);
  r.number(o, path, "tailing_min", c.tailingMin, 0.0);
  r.number(o, path, "tailing_max", c.tailingMax, 0.0);
  r.number(o, path, "width_ratio_min", c.widthRatioMin, 0.0);
  r.number(o, path, "width_ratio_max", c.widthRatioMax, 0.0);
  r.number(o, path, "is_window_low_pct", c.isWindowLowPct, 0.0);
  r.number(o, path, "is_window_high_pct", c.isWindowHighPct, 0.0);
  r.number(o, path, "is_cv_warn_pct", c.isCvWarnPct, 0.0);
  r.number(o, path, "is_cv_fail_pct", c.isCvFailPct, 0.0);
  r.number(o, path, "double_blank_is_max_pct", c.doubleBlankIsMaxPct, 0.0);
  r.number(o, path, "uloq_height_factor", c.uloqHeightFactor, 0.0);
  r.boolean(o, path, "manual_integration_holds", c.manualIntegrationHolds);
  r.boolean(o, path, "rt_window_searched", c.rtWindowSearched);
  if (o.has("saturation_flags")) c.saturationFlags = r.texts(o, path, "saturation_flags");
  r.boolean(o, path, "check_rt", c.checkRt);
  r.boolean(o, path, "check_is_rt", c.checkIsRt);
  r.boolean(o, path, "check_ion_ratio", c.checkIonRatio);
  r.boolean(o, path, "check_signal_to_noise", c.checkSignalToNoise);
  r.boolean(o, path, "check_shape", c.checkShape);
  r.boolean(o, path, "check_width", c.checkWidth);
  r.boolean(o, path, "check_is_response", c.checkIsResponse);
  r.boolean(o, path, "check_saturation", c.checkSaturation);
  if (o.has("not_applicable")) {
    // The method declares these checks do not apply (e.g. no qualifier transition): they are not
    // run, and their data missing from an export holds nothing.
    std::vector<std::string> names = r.texts(o, path, "not_applicable");
    for (size_t i = 0; i < names.size(); ++i) {
      if (!setPeakCheck(c, names[i], false)) {
        std::string known;
        for (const std::string& n : peakCheckNames()) known += (known.empty() ? "" : ", ") + n;
        r.fail(Reader::join(path, "not_applicable") + "[" + std::to_string(i) + "]",
               "unknown check \"" + names[i] + "\" (known: " + known + ")");
        break;
      }
    }
  }
  if (c.snFail > c.snPass) r.fail(Reader::join(path, "sn_fail"), "must not exceed sn_pass");
}

void readCalibration(Reader& r, const Object& o, const std::string& path, CalibrationConfig& c) {
  r.keys(o, path,
         {"model",
          "weight",
          "accuracy_low_pct",
          "accuracy_high_pct",
          "lloq_accuracy_low_pct",
          "lloq_accuracy_high_pct",
          "min_pass_fraction",
          "min_pass_levels",
          "r2_min",
          "r2_fails",
          "auto_exclude",
          "blank_max_lloq_fraction",
          "blank_is_max_fraction",
          "carryover_max_lloq_fraction",
          "carryover_is_max_fraction",
          "vendor_mismatch_max_fraction",
          "nonlinearity_max_fraction",
          "top_is_min_fraction",
          "carryover_suspect_factor",
          "carryover_suspect_always",
          "carryover_threshold"});
  // Said in the CAL_CURVE finding: which model was judged and where it came from.
  if (o.has("model") || o.has("weight")) c.modelSource = "the rule set (" + path + ")";
  std::string text;
  if (r.text(o, path, "model", text)) {
    auto m = parseCalibrationModel(text);
    if (!m) {
      r.fail(Reader::join(path, "model"), "must be linear, linear-origin or quadratic");
    } else {
      c.model = *m;
    }
  }
  if (r.text(o, path, "weight", text)) {
    auto w = parseCalibrationWeight(text);
    if (!w) {
      r.fail(Reader::join(path, "weight"), "must be none, 1/x, 1/x2, 1/y or 1/y2");
    } else {
      c.weight = *w;
    }
  }
  r.number(o, path, "accuracy_low_pct", c.accuracyLowPct, 0.0);
  r.number(o, path, "accuracy_high_pct", c.accuracyHighPct, 0.0);
  r.number(o, path, "lloq_accuracy_low_pct", c.lloqAccuracyLowPct, 0.0);
  r.number(o, path, "lloq_accuracy_high_pct", c.lloqAccuracyHighPct, 0.0);
  r.number(o, path, "min_pass_fraction", c.minPassFraction, 0.0);
  r.count(o, path, "min_pass_levels", c.minPassLevels);
  r.number(o, path, "r2_min", c.rSquaredMin, 0.0);
  r.boolean(o, path, "r2_fails", c.rSquaredFails);
  r.boolean(o, path, "auto_exclude", c.autoExclude);
  r.number(o, path, "blank_max_lloq_fraction", c.blankMaxLloqFraction, 0.0);
  r.number(o, path, "blank_is_max_fraction", c.blankIsMaxFraction, 0.0);
  r.number(o, path, "carryover_max_lloq_fraction", c.carryoverMaxLloqFraction, 0.0);
  r.number(o, path, "carryover_is_max_fraction", c.carryoverIsMaxFraction, 0.0);
  r.number(o, path, "vendor_mismatch_max_fraction", c.vendorMismatchMaxFraction, 0.0);
  r.number(o, path, "nonlinearity_max_fraction", c.nonlinearityMaxFraction, 0.0);
  r.number(o, path, "top_is_min_fraction", c.topIsMinFraction, 0.0);
  r.number(o, path, "carryover_suspect_factor", c.carryoverSuspectFactor, 0.0);
  r.boolean(o, path, "carryover_suspect_always", c.carryoverSuspectAlways);
  r.number(o, path, "carryover_threshold", c.carryoverHighThreshold);
  if (c.carryoverHighThreshold && !(*c.carryoverHighThreshold > 0)) {
    r.fail(Reader::join(path, "carryover_threshold"), "must be > 0 (a concentration)");
  }
  if (c.accuracyLowPct > c.accuracyHighPct) {
    r.fail(Reader::join(path, "accuracy_low_pct"), "must not exceed accuracy_high_pct");
  }
}

void readLimits(Reader& r, const Object& o, const std::string& path, AnalyteLimits& l) {
  // Delta checks need the same patient's previous result, and LabGate stores no patient identity
  // by design: their keys are refused with that reason rather than accepted without effect.
  for (const char* delta : {"delta_pct", "delta_abs", "cv_analytical_pct",
                            "cv_intra_individual_pct", "delta_window_days"}) {
    if (o.has(delta)) {
      r.fail(Reader::join(path, delta),
             "delta checks are impossible by construction: LabGate stores no patient identity, "
             "so no previous result of the same patient exists (docs/rules.md \"Delta checks\"; "
             "batch.repeat_injections checks repeat injections of one sample instead)");
      return;
    }
  }
  r.keys(o, path,
         {"lloq", "uloq", "reference_low", "reference_high", "critical_low", "critical_high",
          "absurd_low", "absurd_high"});
  r.number(o, path, "lloq", l.lloq);
  r.number(o, path, "uloq", l.uloq);
  r.number(o, path, "reference_low", l.referenceLow);
  r.number(o, path, "reference_high", l.referenceHigh);
  r.number(o, path, "critical_low", l.criticalLow);
  r.number(o, path, "critical_high", l.criticalHigh);
  r.number(o, path, "absurd_low", l.absurdLow);
  r.number(o, path, "absurd_high", l.absurdHigh);
  if (l.referenceLow && l.referenceHigh && *l.referenceLow > *l.referenceHigh) {
    r.fail(Reader::join(path, "reference_low"), "must not exceed reference_high");
  }
  if (l.criticalLow && l.criticalHigh && *l.criticalLow > *l.criticalHigh) {
    r.fail(Reader::join(path, "critical_low"), "must not exceed critical_high");
  }
}

void readTargets(Reader& r, const Object& o, const std::string& path, const std::string& analyte,
                 std::vector<QcTarget>& targets) {
  std::vector<std::string> levels;
  o.getNames(levels);
  for (const auto& level : levels) {
    std::string p = Reader::join(path, level);
    Object::Ptr t = r.object(o, path, level);
    if (!t) continue;
    r.keys(*t, p, {"mean", "sd", "lot", "provisional"});
    QcTarget target;
    target.analyte = analyte;
    target.level = level;
    if (!t->has("mean") || !t->has("sd")) {
      r.fail(p, "needs mean and sd");
      continue;
    }
    r.number(*t, p, "mean", target.mean);
    r.number(*t, p, "sd", target.sd, 0.0);
    if (target.sd <= 0) r.fail(Reader::join(p, "sd"), "must be > 0");
    r.text(*t, p, "lot", target.lot);
    r.boolean(*t, p, "provisional", target.provisional);
    targets.push_back(target);
  }
}

void readSst(Reader& r, const Object& o, const std::string& path, SstCriteria& c) {
  r.keys(o, path,
         {"rt_tolerance_min", "min_area", "min_signal_to_noise", "max_width_min", "max_asymmetry"});
  r.number(o, path, "rt_tolerance_min", c.rtToleranceMin);
  r.number(o, path, "min_area", c.minArea);
  r.number(o, path, "min_signal_to_noise", c.minSignalToNoise);
  r.number(o, path, "max_width_min", c.maxWidthMin);
  r.number(o, path, "max_asymmetry", c.maxAsymmetry);
  for (const auto& [key, value] :
       {std::pair<const char*, const std::optional<double>&>{"rt_tolerance_min", c.rtToleranceMin},
        {"min_area", c.minArea},
        {"min_signal_to_noise", c.minSignalToNoise},
        {"max_width_min", c.maxWidthMin},
        {"max_asymmetry", c.maxAsymmetry}}) {
    if (value && !(*value > 0)) r.fail(Reader::join(path, key), "must be > 0");
  }
}

void readAnalyte(Reader& r, const Object& o, const std::string& path, const std::string& analyte,
                 AnalyteSettings& s) {
  r.keys(o, path, {"peak", "calibration", "limits", "qc_targets", "sst"});
  if (auto p = r.object(o, path, "peak")) readPeak(r, *p, Reader::join(path, "peak"), s.peak);
  if (auto c = r.object(o, path, "calibration")) {
    readCalibration(r, *c, Reader::join(path, "calibration"), s.calibration);
  }
  if (auto l = r.object(o, path, "limits")) {
    readLimits(r, *l, Reader::join(path, "limits"), s.limits);
  }
  if (auto sst = r.object(o, path, "sst")) {
    s.sst = SstCriteria{};  // the analyte's own criteria replace batch.sst
    readSst(r, *sst, Reader::join(path, "sst"), s.sst);
  }
  if (auto t = r.object(o, path, "qc_targets")) {
    s.targets.clear();
    readTargets(r, *t, Reader::join(path, "qc_targets"), analyte, s.targets);
  }
}

/// "warn" (release, a person is told) or "hold".
void readTrendAction(Reader& r, const Object& o, const std::string& path, DispositionKind& out) {
  std::string action;
  if (!r.text(o, path, "action", action)) return;
  if (action == "warn") {
    out = DispositionKind::kRelease;
  } else if (action == "hold") {
    out = DispositionKind::kHold;
  } else {
    r.fail(Reader::join(path, "action"), "must be warn or hold");
  }
}

/// qc.ewma and qc.cusum: the QC trends over the stored history (rules/qc_trend.h).
void readQcTrends(Reader& r, const Object& qc, QcTrendConfig& t) {
  if (Object::Ptr o = r.object(qc, "qc", "ewma")) {
    const std::string path = "qc.ewma";
    r.keys(*o, path, {"enabled", "lambda", "width", "steady_state", "action"});
    r.boolean(*o, path, "enabled", t.ewma.enabled);
    r.number(*o, path, "lambda", t.ewma.lambda);
    if (!(t.ewma.lambda > 0 && t.ewma.lambda <= 1)) {
      r.fail(Reader::join(path, "lambda"), "must be > 0 and ≤ 1");
    }
    r.number(*o, path, "width", t.ewma.width);
    if (!(t.ewma.width > 0)) r.fail(Reader::join(path, "width"), "must be > 0");
    r.boolean(*o, path, "steady_state", t.ewma.steadyState);
    readTrendAction(r, *o, path, t.ewma.action);
  }
  if (Object::Ptr o = r.object(qc, "qc", "cusum")) {
    const std::string path = "qc.cusum";
    r.keys(*o, path, {"enabled", "k", "h", "two_sided", "side", "reset_after_signal", "action"});
    r.boolean(*o, path, "enabled", t.cusum.enabled);
    r.number(*o, path, "k", t.cusum.k, 0.0);
    r.number(*o, path, "h", t.cusum.h);
    if (!(t.cusum.h > 0)) r.fail(Reader::join(path, "h"), "must be > 0");
    r.boolean(*o, path, "two_sided", t.cusum.twoSided);
    std::string side;
    if (r.text(*o, path, "side", side)) {
      if (t.cusum.twoSided) {
        r.fail(Reader::join(path, "side"), "applies only with two_sided false");
      } else if (side == "high" || side == "low") {
        t.cusum.high = side == "high";
      } else {
        r.fail(Reader::join(path, "side"), "must be high or low");
      }
    }
    r.boolean(*o, path, "reset_after_signal", t.cusum.resetAfterSignal);
    readTrendAction(r, *o, path, t.cusum.action);
  }
}

void readQc(Reader& r, const Object& o, RuleSetConfig& c) {
  const std::string path = "qc";
  r.keys(o, path,
         {"westgard", "rules", "use_1_2s_gate", "r4s_mode", "level_order", "accuracy_low_pct",
          "accuracy_high_pct", "lloq_accuracy_low_pct", "lloq_accuracy_high_pct", "lloq_levels",
          "ewma", "cusum"});
  QcReviewOptions& q = c.qcOptions;
  r.boolean(o, path, "westgard", q.applyWestgard);
  if (o.has("rules")) {
    q.westgard.rules.clear();
    for (const auto& name : r.texts(o, path, "rules")) {
      auto rule = parseWestgardRule(name);
      if (!rule) {
        r.fail("qc.rules", "unknown rule \"" + name +
                               "\" (known: 1_2s, 1_3s, 2_2s, R_4s, 4_1s, 10_x, 8_x, 12_x, 9_x, "
                               "2of3_2s, 3_1s, 6_x)");
      } else {
        q.westgard.rules.push_back(*rule);
      }
    }
  }
  r.boolean(o, path, "use_1_2s_gate", q.westgard.use12sGate);
  std::string mode;
  if (r.text(o, path, "r4s_mode", mode)) {
    if (mode == "strict") {
      q.westgard.r4sMode = R4sMode::kStrict;
    } else if (mode == "range") {
      q.westgard.r4sMode = R4sMode::kRange;
    } else {
      r.fail("qc.r4s_mode", "must be strict or range");
    }
  }
  if (o.has("level_order")) q.westgard.levelOrder = r.texts(o, path, "level_order");
  r.number(o, path, "accuracy_low_pct", q.acceptance.accuracyLow, 0.0);
  r.number(o, path, "accuracy_high_pct", q.acceptance.accuracyHigh, 0.0);
  r.number(o, path, "lloq_accuracy_low_pct", q.acceptance.lloqAccuracyLow, 0.0);
  r.number(o, path, "lloq_accuracy_high_pct", q.acceptance.lloqAccuracyHigh, 0.0);
  if (o.has("lloq_levels")) q.acceptance.lloqLevels = r.texts(o, path, "lloq_levels");
  readQcTrends(r, o, c.qcTrends);
}

void readAutoverify(Reader& r, const Object& o, AutoverifyConfig& a) {
  const std::string path = "autoverify";
  r.keys(o, path,
         {"enabled", "critical_release_and_notify", "require_critical_limits", "hold_on_peak_warn",
          "benign_vendor_flags", "comment_is_vendor_message", "sst_required"});
  r.boolean(o, path, "enabled", a.enabled);
  r.boolean(o, path, "critical_release_and_notify", a.criticalReleaseAndNotify);
  r.boolean(o, path, "require_critical_limits", a.requireCriticalLimits);
  r.boolean(o, path, "hold_on_peak_warn", a.holdOnPeakWarn);
  if (o.has("benign_vendor_flags")) {
    a.benignVendorFlags = r.texts(o, path, "benign_vendor_flags");
  }
  r.boolean(o, path, "comment_is_vendor_message", a.commentIsVendorMessage);
  r.boolean(o, path, "sst_required", a.sstRequired);
}

/// "batch": the instrument-health checks of one batch (issue 19, docs/rules.md).
void readBatchHealth(Reader& r, const Object& o, HealthConfig& h, SstCriteria& sst) {
  const std::string path = "batch";
  r.keys(o, path, {"is_cv", "is_drift_onset", "consider_quadratic", "sst", "repeat_injections"});
  r.boolean(o, path, "is_cv", h.isCv);
  if (auto d = r.object(o, path, "is_drift_onset")) {
    const std::string p = Reader::join(path, "is_drift_onset");
    r.keys(*d, p, {"enabled", "k", "h", "sd_log_ratio", "hold"});
    r.boolean(*d, p, "enabled", h.isDriftOnset);
    r.number(*d, p, "k", h.onsetK, 0.0);
    r.number(*d, p, "h", h.onsetH, 0.0);
    r.number(*d, p, "sd_log_ratio", h.onsetSdLogRatio);
    r.boolean(*d, p, "hold", h.isDriftOnsetHolds);
    if (!(h.onsetH > 0)) r.fail(Reader::join(p, "h"), "must be > 0");
    if (h.onsetSdLogRatio && !(*h.onsetSdLogRatio > 0)) {
      r.fail(Reader::join(p, "sd_log_ratio"), "must be > 0");
    }
  }
  if (auto q = r.object(o, path, "consider_quadratic")) {
    const std::string p = Reader::join(path, "consider_quadratic");
    r.keys(*q, p, {"enabled", "batches", "top_accuracy_low_pct"});
    r.boolean(*q, p, "enabled", h.considerQuadratic);
    r.count(*q, p, "batches", h.quadraticBatches);
    r.number(*q, p, "top_accuracy_low_pct", h.quadraticLowPct, 0.0);
    if (h.quadraticBatches == 0) r.fail(Reader::join(p, "batches"), "must be at least 1");
  }
  // The SST criteria are every analyte's default; analytes.NAME.sst replaces them for one.
  if (auto criteria = r.object(o, path, "sst")) {
    sst = SstCriteria{};
    readSst(r, *criteria, Reader::join(path, "sst"), sst);
  }
  if (auto rep = r.object(o, path, "repeat_injections")) {
    const std::string p = Reader::join(path, "repeat_injections");
    r.keys(*rep, p, {"enabled", "max_diff_pct"});
    r.boolean(*rep, p, "enabled", h.repeatInjections);
    r.number(*rep, p, "max_diff_pct", h.repeatMaxDiffPct, 0.0);
  }
}

void readDrift(Reader& r, const Object& o, DriftConfig& d) {
  const std::string path = "drift";
  r.keys(o, path,
         {"is_drift_warn", "is_drift_fail", "rt_drift_abs_min", "rt_drift_rel", "history_window",
          "sensitivity_warn_pct", "sensitivity_fail_pct", "rt_shift_rel", "is_drop_ratio",
          "is_missing_multi_max", "is_drift_hold_ratio"});
  r.number(o, path, "is_drift_warn", d.isDriftWarn, 0.0);
  r.number(o, path, "is_drift_fail", d.isDriftFail, 0.0);
  r.number(o, path, "rt_drift_abs_min", d.rtDriftAbsMin, 0.0);
  r.number(o, path, "rt_drift_rel", d.rtDriftRel, 0.0);
  r.count(o, path, "history_window", d.historyWindow);
  r.number(o, path, "sensitivity_warn_pct", d.sensitivityWarnPct, 0.0);
  r.number(o, path, "sensitivity_fail_pct", d.sensitivityFailPct, 0.0);
  r.number(o, path, "rt_shift_rel", d.rtShiftRel, 0.0);
  r.number(o, path, "is_drop_ratio", d.isDropRatio, 0.0);
  r.number(o, path, "is_drift_hold_ratio", d.holdBelowRatio, 0.0);
  r.count(o, path, "is_missing_multi_max", d.isMissingMultiMax);
}

// ---------------------------------------------------------------------------------------------
// The engine

const std::string& analyteOf(const Result& r) { return r.instrumentCode; }

/// The index of `analyte` in `analytes`, given `previous`, the index of the sample's previous
/// result's analyte (SIZE_MAX before the first): samples usually list the analytes in the same
/// order, so the next one is tried before the map.
size_t nextAnalyteIndex(size_t previous, const std::string& analyte,
                        const std::vector<std::string>& analytes,
                        const std::map<std::string_view, size_t>& analyteIndex) {
  if (previous + 1 < analytes.size() && analytes[previous + 1] == analyte) return previous + 1;
  return analyteIndex.at(analyte);
}

void attach(Result& result, const CheckResult& check, bool warnHolds = false) {
  if (auto f = toFinding(check, warnHolds)) result.findings.push_back(std::move(*f));
}

void attachBatch(Message& message, const std::string& analyte, const CheckResult& check) {
  if (auto f = toFinding(check)) message.batchFindings.push_back({analyte, std::move(*f)});
}

/// True when the batch has calibrators (the width reference is their median width).
bool reference(const Message& message) {
  return std::any_of(message.samples.begin(), message.samples.end(),
                     [](const Sample& s) { return s.kind == SampleKind::kCalibrator; });
}

/// What an export can feed of one analyte's peak checks.
struct PeakSupport {
  /// The rule set's checks with those the export cannot feed switched off (what runs).
  PeakConfig config;
  /// The checks the rule set applies but the export cannot feed, with the data they lack
  /// ("ion_ratio" → "no qualifier ion ratio or qualifier area"), in peakCheckNames() order.
  std::vector<std::pair<std::string, std::string>> unfed;
};

/// The peak checks an export can support. A check whose data no injection of the analyte carries
/// (an export without qualifier ions, IS areas, widths or symmetry), or whose reference the batch
/// cannot give, cannot run: it is switched off for the batch and listed in `unfed`; the patient
/// results it would judge are then NOT_EVALUABLE (unfedChecks) unless the rule set declared it
/// not applicable (`not_applicable`, `check_*: false`). Data missing on some injections only is
/// NOT_EVALUABLE there, by the check itself.
PeakSupport carried(const Message& message, const std::string& analyte, PeakConfig config) {
  bool rt = false, isRt = false, ionRatio = false, sn = false, shape = false, width = false,
       isArea = false, height = false;
  // The references the relative checks compare with come from the calibrators and QCs (or the
  // method's expected values): a message without them cannot support those checks.
  bool rtReference = false, ionRatioReference = config.ionRatioReference.has_value(),
       isReference = false;
  for (const Sample& s : message.samples) {
    const bool reference = s.kind == SampleKind::kCalibrator || s.kind == SampleKind::kQc;
    for (const Result& r : s.results) {
      if (r.internalStandard || analyteOf(r) != analyte || !r.peak) continue;
      const Peak& p = *r.peak;
      rt = rt || p.retentionTime.has_value();
      isRt = isRt || p.internalStandardRt.has_value();
      ionRatio = ionRatio || p.ionRatio.has_value() || p.qualifierArea.has_value();
      sn = sn || p.signalToNoise.has_value();
      shape = shape || p.asymmetry.has_value();
      width = width || p.width.has_value();
      isArea = isArea || p.internalStandardArea.has_value();
      height = height || p.height.has_value();
      rtReference = rtReference || p.expectedRetentionTime.has_value() ||
                    (reference && p.retentionTime.has_value());
      ionRatioReference = ionRatioReference ||
                          (reference && (p.ionRatio.has_value() || p.qualifierArea.has_value()));
      isReference = isReference || (reference && p.internalStandardArea.has_value());
    }
  }
  PeakSupport out;
  auto feed = [&](bool& check, const char* name, bool fed, const char* lacking) {
    if (check && !fed) out.unfed.emplace_back(name, lacking);
    check = check && fed;
  };
  // RT itself is peak identity: without it no peak is found (peak.not_found holds).
  feed(config.checkRt, "rt_window", !rt || rtReference,
       "no calibrator, QC or expected RT to compare the RT with");
  feed(config.checkIsRt, "is_rt_window", isRt, "no IS retention time");
  feed(config.checkIonRatio, "ion_ratio", ionRatio && ionRatioReference,
       ionRatio ? "no calibrator or QC ion ratio and no configured ion_ratio_reference"
                : "no qualifier ion ratio or qualifier area");
  feed(config.checkSignalToNoise, "signal_to_noise", sn, "no S/N");
  feed(config.checkShape, "shape", shape, "no tailing/asymmetry");
  feed(config.checkWidth, "width", width && reference(message),
       width ? "no calibrator to give the reference width" : "no peak width");
  feed(config.checkIsResponse, "is_response", isArea && isReference,
       isArea ? "no calibrator or QC IS area to compare with"
              : "no IS area (nor an IS row or a response ratio to derive it from)");
  // Saturation by height; over-range by concentration is the measuring range's job, so an export
  // without heights leaves nothing unjudged.
  config.checkSaturation = config.checkSaturation && height;
  out.config = std::move(config);
  return out;
}

/// The checks of `unfed` that hold a patient result: the gating ones always, S/N, shape and width
/// (whose patient outcome is a WARN) only when peak warnings hold.
bool unfedHolds(const std::string& check, const AutoverifyConfig& autoverify) {
  if (check == "signal_to_noise" || check == "shape" || check == "width")
    return autoverify.holdOnPeakWarn;
  return true;
}

/// One NOT_EVALUABLE finding (hold) for a patient result whose peak was found, naming the checks
/// of `unfed` that hold and apply to it (S/N: a result at or above the LLOQ); short, it refers to
/// the analyte's batch finding. Nothing when none applies.
void unfedChecks(const std::vector<std::pair<std::string, std::string>>& unfed,
                 const AutoverifyConfig& autoverify, const Result& result,
                 const PeakContext& context, std::vector<CheckResult>& out) {
  if (!result.peak || !peakFound(*result.peak)) return;  // peak.not_found speaks for it
  std::string names;
  for (const auto& [name, lacking] : unfed) {
    if (!unfedHolds(name, autoverify)) continue;
    if (name == "signal_to_noise") {
      auto conc = concentrationOf(*result.peak, context.dilution);
      if (!conc || !context.lloq || *conc < *context.lloq) continue;
    }
    if (!names.empty()) names += ", ";
    names += name;
  }
  if (names.empty()) return;
  CheckResult c;
  c.outcome = Outcome::kNotEvaluable;
  c.ruleId = "peak.export_data";
  c.code = "PEAK_DATA_MISSING";
  c.subject = "result";
  c.message = std::move(names);
  c.message +=
      " not evaluable: the export carries no data for them (see the batch finding "
      "PEAK_DATA_MISSING for this analyte)";
  out.push_back(std::move(c));
}

/// The one batch finding per analyte that names the checks its export cannot feed: a warning
/// (hold) when one of them holds patient results, else a note.
CheckResult unfedBatchCheck(const std::string& analyte,
                            const std::vector<std::pair<std::string, std::string>>& unfed,
                            const AutoverifyConfig& autoverify) {
  CheckResult c;
  c.ruleId = "peak.export_data";
  c.code = "PEAK_DATA_MISSING";
  c.subject = "analyte";
  std::string holding, noted;
  for (const auto& [name, lacking] : unfed) {
    std::string& list = unfedHolds(name, autoverify) ? holding : noted;
    if (!list.empty()) list += "; ";
    list += name;
    list += " (";
    list += lacking;
    list += ")";
  }
  if (!holding.empty()) {
    c.outcome = Outcome::kNotEvaluable;
    c.message = "the export cannot feed these peak checks: " + holding +
                ". The patient results they would judge hold. If the method does not use a "
                "check, list it in analytes." +
                analyte + ".peak.not_applicable";
    if (!noted.empty()) c.message += ". Not judged (peak warnings do not hold): " + noted;
  } else {
    c.outcome = Outcome::kWarn;
    c.message =
        "not judged, the export cannot feed them (peak warnings do not hold in this rule "
        "set): " +
        noted;
  }
  return c;
}

/// What each analyte's results share (settings, calibration, what the export carries, references,
/// batch gates), looked up once per analyte.
struct AnalyteView {
  const AnalyteSettings* settings = nullptr;
  const CalibrationReview* review = nullptr;
  PeakConfig peak;  // the rule set's checks the export can feed
  /// The rule set's checks the export cannot feed, and what they lack (carried()).
  std::vector<std::pair<std::string, std::string>> unfed;
  /// Most patients' IS outside the window (checkIsMatrixMismatch): one batch finding, short
  /// per-result ones.
  bool isMatrixMismatch = false;
  AnalyteReference ref;
  bool blanksAccepted = true;
  const AnalyteQcReview* qc = nullptr;
  /// System suitability: how many SST injections carry the analyte, and the first failure.
  size_t sstInjections = 0;
  std::string sstFailure;  // "" = every SST injection passed its peak checks
  std::string sstShort;    // what a held result says: the injection and the check that failed
  /// The batch IS CV failed (peak.is_cv): what each patient result's hold says; "" = no failure.
  std::string isCvShort;
};

/// The lab's SST criteria (batch.sst) on one SST injection's result: every criterion that does not
/// pass (FAIL, or NOT_EVALUABLE when the export does not carry the value: a missing value never
/// passes the gate).
std::vector<CheckResult> sstCriteriaChecks(const Result& result, const SstCriteria& criteria) {
  std::vector<CheckResult> out;
  auto judge = [&](const char* code, const char* what, const std::optional<double>& limit,
                   const std::optional<double>& value, bool maximum, const char* unit) {
    if (!limit) return;
    CheckResult c;
    c.ruleId = "batch.sst";
    c.code = code;
    c.subject = "sample";
    c.limit = num(*limit);
    if (!value) {
      c.outcome = Outcome::kNotEvaluable;
      c.message = std::string("the export carries no ") + what +
                  " for this SST injection: the lab's SST criterion cannot be judged";
      out.push_back(std::move(c));
      return;
    }
    const bool pass = maximum ? *value <= *limit : *value >= *limit;
    if (pass) return;
    c.outcome = Outcome::kFail;
    c.measured = num(*value);
    c.message = std::string(what) + " " + num(*value) + unit + (maximum ? " above" : " below") +
                " the lab's SST " + (maximum ? "maximum " : "minimum ") + num(*limit) + unit;
    out.push_back(std::move(c));
  };
  const Peak* peak = result.peak ? &*result.peak : nullptr;
  std::optional<double> rtOff;
  if (peak && peak->retentionTime && peak->expectedRetentionTime) {
    rtOff = std::fabs(*peak->retentionTime - *peak->expectedRetentionTime);
  }
  judge("SST_RT", "RT offset from the expected RT", criteria.rtToleranceMin, rtOff, true, " min");
  judge("SST_AREA", "peak area", criteria.minArea, peak ? peak->area : std::nullopt, false, "");
  judge("SST_SIGNAL_TO_NOISE", "S/N", criteria.minSignalToNoise,
        peak ? peak->signalToNoise : std::nullopt, false, "");
  judge("SST_PEAK_WIDTH", "peak width", criteria.maxWidthMin, peak ? peak->width : std::nullopt,
        true, " min");
  judge("SST_ASYMMETRY", "peak asymmetry", criteria.maxAsymmetry,
        peak ? peak->asymmetry : std::nullopt, true, "");
  return out;
}

/// The standard deviation of log(r) over the present, positive ratios (nullopt with fewer than 3):
/// the within-batch scatter of the IS response, stored per batch ("is_log_ratio_sd") so that
/// later batches' IS_DRIFT_ONSET CUSUM is standardised by the instrument's usual scatter.
std::optional<double> sdOfLogRatios(const Series& ratios) {
  std::vector<double> logs;
  for (const auto& r : ratios) {
    if (r && *r > 0) logs.push_back(std::log(*r));
  }
  if (logs.size() < 3) return std::nullopt;
  double mean = 0;
  for (double v : logs) mean += v;
  mean /= static_cast<double>(logs.size());
  double ss = 0;
  for (double v : logs) ss += (v - mean) * (v - mean);
  return std::sqrt(ss / static_cast<double>(logs.size() - 1));
}

class RuleEngine : public RulesStage {
 public:
  explicit RuleEngine(RuleSetConfig config) : config_(std::move(config)) {}
  const std::string& version() const override { return config_.version; }
  void evaluate(Message& message, const RulesContext& context) const override;
  std::optional<CalibrationCurveView> calibrationCurve(const Message& message,
                                                       const std::string& analyte) const override;

 private:
  /// The calibration settings of `analyte` in `message`: the rule set's, with the model and
  /// weighting the export states winning; `problem` says why a stated curve cannot be used.
  CalibrationConfig curveSettings(const Message& message, const std::string& analyte,
                                  std::string& problem) const;
  /// Step 2: the calibration of every calibrated analyte, its slope tracked.
  std::map<std::string, CalibrationReview> reviewCalibrations(
      Message& message, const std::vector<std::string>& analytes,
      const RulesContext& context) const;
  /// Step 3: QC acceptance, Westgard on the stored history, bracketing; the QC values kept.
  void reviewBatchQc(Message& message, const std::vector<std::string>& analytes,
                     const RulesContext& context, QcReview& qc,
                     std::map<std::string, const AnalyteQcReview*>& qcByAnalyte) const;
  /// Step 4: batch diagnostics and trends; answers the diagnostics per sample index.
  std::map<size_t, std::vector<InjectionCheck>> diagnoseBatchAndTrends(
      Message& message, const BatchReferences& refs, const RulesContext& context) const;
  /// Step 5, per analyte: what its results share.
  std::vector<AnalyteView> analyteViews(
      const Message& message, const std::vector<std::string>& analytes,
      const std::map<std::string, CalibrationReview>& calibration, const BatchReferences& refs,
      const std::map<std::string, const AnalyteQcReview*>& qcByAnalyte) const;
  /// Step 5, per analyte: the batch findings of the peak data (checks the export cannot feed,
  /// IS areas derived, the patients' IS matrix mismatch); marks the views.
  void reviewPeakData(Message& message, const std::vector<std::string>& analytes,
                      const std::vector<std::string>& derivedIsAreas,
                      std::vector<AnalyteView>& views) const;
  /// Step 5, per analyte: the system-suitability injections' peak checks (spec §5): the first
  /// failure holds the analyte's patient results (SST_FAIL), said once for the batch.
  void reviewSystemSuitability(
      Message& message, const std::vector<std::string>& analytes,
      const std::map<std::string_view, size_t>& analyteIndex,
      const std::map<size_t, std::vector<InjectionCheck>>& sampleDiagnostics,
      std::vector<AnalyteView>& views) const;
  /// Step 5, per result: its peak checks, then its verdict.
  void judgeResult(Result& result, const Sample& sample, size_t si, const AnalyteView& view,
                   const std::vector<InjectionCheck>* diagnostics,
                   const std::vector<const SampleDisposition*>& qcVerdicts) const;
  std::vector<CheckResult> peakChecksOf(const Result& result, const Sample& sample, size_t si,
                                        const AnalyteView& view,
                                        const std::vector<InjectionCheck>* diagnostics) const;
  /// Without autoverification the batch verdicts still decide.
  void judgeWithoutAutoverify(Result& result, const AnalyteView& view,
                              const std::vector<CheckResult>& peakChecks,
                              const std::vector<const SampleDisposition*>& qcVerdicts) const;
  void autoverifyResult(Result& result, const AnalyteView& view,
                        const std::vector<CheckResult>& peakChecks,
                        const std::vector<const SampleDisposition*>& qcVerdicts) const;
  /// Step 4 (issue 19): IS_DRIFT_ONSET, a CUSUM on log(IS ratio) in injection order; the patient
  /// results from the onset on are held (added to `sampleDiagnostics`).
  void diagnoseIsDriftOnset(Message& message, const BatchReferences& refs,
                            const RulesContext& context,
                            std::map<size_t, std::vector<InjectionCheck>>& sampleDiagnostics) const;
  /// Step 5 (issue 19): repeat injections of one sample id whose results disagree.
  void reviewRepeatInjections(Message& message) const;
  /// Step 6: the lab's own rules.
  void runLabRules(Message& message) const;

  RuleSetConfig config_;
};

/// Exports that give a calibrator's or QC's accuracy but not its nominal concentration (MassHunter
/// without an "Exp. Conc." column) state it implicitly: nominal = concentration · 100 / accuracy.
void deriveNominals(Message& message) {
  for (Sample& sample : message.samples) {
    if (sample.kind != SampleKind::kCalibrator && sample.kind != SampleKind::kQc) continue;
    for (Result& r : sample.results) {
      if (!r.peak || r.peak->expectedConcentration || !r.peak->accuracy || *r.peak->accuracy <= 0) {
        continue;
      }
      std::optional<double> x =
          r.peak->calculatedConcentration ? r.peak->calculatedConcentration : r.numeric;
      if (x) r.peak->expectedConcentration = *x * 100.0 / *r.peak->accuracy;
    }
  }
}

/// Analytes in order of first appearance (internal standards are peak data, not analytes).
std::vector<std::string> analytesInOrder(const Message& message) {
  std::vector<std::string> analytes;
  std::set<std::string> seen;
  for (const Sample& s : message.samples) {
    for (const Result& r : s.results) {
      if (!r.internalStandard && seen.insert(analyteOf(r)).second) analytes.push_back(analyteOf(r));
    }
  }
  return analytes;
}

/// Batch-level failures that ask for a re-run reach every patient result of the analyte (§3.6),
/// each result getting its analyte's in the batch's order: one pass over the results.
void spreadReruns(Message& message, const std::vector<std::string>& analytes,
                  const std::map<std::string_view, size_t>& analyteIndex) {
  std::vector<std::vector<const Finding*>> rerun(analytes.size());  // by analyte index
  bool anyRerun = false;
  for (const BatchFinding& b : message.batchFindings) {
    if (b.finding.severity == Severity::kInfo || b.analyte.empty()) continue;
    if (b.finding.ruleId == "calibration.curve" || b.finding.ruleId.rfind("qc.", 0) == 0) continue;
    // An IS drift holds the injections whose IS fell (their own IS_DRIFT finding), not all.
    if (b.finding.ruleId == "trend.is_drift") continue;
    // Peak and SST batch findings summarise findings the results already carry (short, per
    // result: the peak checks, the SST gate).
    if (b.finding.ruleId.rfind("peak.", 0) == 0 || b.finding.ruleId == "batch.sst") continue;
    if (b.finding.action == DispositionKind::kRelease) continue;
    auto a = analyteIndex.find(b.analyte);
    if (a == analyteIndex.end()) continue;  // no result of the batch has that analyte
    rerun[a->second].push_back(&b.finding);
    anyRerun = true;
  }
  if (anyRerun) {
    for (Sample& sample : message.samples) {
      if (sample.kind != SampleKind::kUnknown) continue;
      size_t ai = static_cast<size_t>(-1);  // the previous result's analyte
      for (Result& result : sample.results) {
        if (result.internalStandard) continue;
        ai = nextAnalyteIndex(ai, analyteOf(result), analytes, analyteIndex);
        for (const Finding* f : rerun[ai]) result.findings.push_back(*f);
      }
    }
  }
}

/// An analyte whose export holds something else in its concentration column (calibration.export,
/// EXPORT_IMPLAUSIBLE) cannot support a re-run order: its QC verdicts come from the same column.
/// Every re-run among its batch findings and results becomes a hold that says "re-export".
void holdImplausibleExports(Message& message) {
  std::set<std::string, std::less<>> implausible;
  for (const BatchFinding& b : message.batchFindings) {
    if (b.finding.ruleId == "calibration.export" && !b.analyte.empty()) {
      implausible.insert(b.analyte);
    }
  }
  if (implausible.empty()) return;
  auto hold = [](Finding& f) {
    if (f.action != DispositionKind::kReject) return;
    f.action = DispositionKind::kHold;
    f.message += " (held, not re-run: the export is implausible; re-export)";
  };
  for (BatchFinding& b : message.batchFindings) {
    if (implausible.count(b.analyte)) hold(b.finding);
  }
  for (Sample& sample : message.samples) {
    for (Result& result : sample.results) {
      if (result.internalStandard || !implausible.count(analyteOf(result))) continue;
      for (Finding& f : result.findings) hold(f);
    }
  }
}

void RuleEngine::evaluate(Message& message, const RulesContext& context) const {
  // 0. Injection order: the samples sorted by injection number or acquisition time; every
  // order-dependent check below reads message.listedInRunOrder, and an unknown order is said
  // once for the batch.
  putInInjectionOrder(message);
  if (std::optional<CheckResult> order = runOrderCheck(message)) attachBatch(message, "", *order);
  deriveNominals(message);
  const std::vector<std::string> derivedIsAreas = deriveInternalStandardAreas(message);
  const std::vector<std::string> analytes = analytesInOrder(message);

  // 1. Peak references (calibrator and QC means), with the default peak settings.
  BatchReferences refs = computeBatchReferences(message, config_.defaults.peak);

  // 2. Calibration per analyte.
  std::map<std::string, CalibrationReview> calibration;
  if (config_.calibration) calibration = reviewCalibrations(message, analytes, context);

  // 3. QC: acceptance, Westgard on the stored history, bracketing.
  QcReview qc;
  std::map<std::string, const AnalyteQcReview*> qcByAnalyte;
  reviewBatchQc(message, analytes, context, qc, qcByAnalyte);

  // 4. Batch diagnostics (one batch) and trends (across batches).
  std::map<size_t, std::vector<InjectionCheck>> sampleDiagnostics =
      diagnoseBatchAndTrends(message, refs, context);

  // 5. Per result: peaks, then (patients) autoverification with the batch gates. What each
  // analyte's results share (settings, calibration, what the export carries, references, batch
  // gates) is looked up once per analyte, each patient's QC verdicts by index, not rescanned.
  std::map<std::string_view, size_t> analyteIndex;
  for (size_t a = 0; a < analytes.size(); ++a) analyteIndex.emplace(analytes[a], a);
  std::vector<AnalyteView> views = analyteViews(message, analytes, calibration, refs, qcByAnalyte);
  reviewPeakData(message, analytes, derivedIsAreas, views);
  // (sample, analyte) → its QC dispositions, in order.
  std::vector<std::vector<const SampleDisposition*>> qcVerdicts(message.samples.size() *
                                                                analytes.size());
  for (const SampleDisposition& d : qc.dispositions) {
    auto a = analyteIndex.find(d.analyte);
    if (a == analyteIndex.end() || d.sampleIndex >= message.samples.size()) continue;
    qcVerdicts[d.sampleIndex * analytes.size() + a->second].push_back(&d);
  }
  reviewSystemSuitability(message, analytes, analyteIndex, sampleDiagnostics, views);
  for (size_t si = 0; si < message.samples.size(); ++si) {
    Sample& sample = message.samples[si];
    auto diagnostics = sampleDiagnostics.find(si);
    size_t ai = static_cast<size_t>(-1);  // the previous result's analyte
    for (Result& result : sample.results) {
      if (result.internalStandard) continue;
      ai = nextAnalyteIndex(ai, analyteOf(result), analytes, analyteIndex);
      judgeResult(result, sample, si, views[ai],
                  diagnostics != sampleDiagnostics.end() ? &diagnostics->second : nullptr,
                  qcVerdicts[si * analytes.size() + ai]);
    }
  }

  reviewRepeatInjections(message);

  // 6. The lab's own rules.
  runLabRules(message);

  spreadReruns(message, analytes, analyteIndex);
  holdImplausibleExports(message);
}

CalibrationConfig RuleEngine::curveSettings(const Message& message, const std::string& analyte,
                                            std::string& problem) const {
  CalibrationConfig settings = config_.settingsFor(analyte).calibration;
  // The lab's curve: the model and weighting the export states win over the rule set's.
  for (const ExportCurve& stated : message.curves) {
    if (stated.analyte != analyte) continue;
    VendorCurve vendor = readVendorCurve(stated);
    problem = vendor.problem;
    if (!problem.empty()) break;
    if (vendor.model) settings.model = *vendor.model;
    if (vendor.weight) settings.weight = *vendor.weight;
    if (vendor.model && vendor.weight) {
      settings.modelSource = "the export";
    } else if (vendor.model || vendor.weight) {
      settings.modelSource = "the export (" + std::string(vendor.model ? "model" : "weighting") +
                             ") and " + settings.modelSource;
    }
  }
  return settings;
}

std::optional<CalibrationCurveView> RuleEngine::calibrationCurve(const Message& stored,
                                                                 const std::string& analyte) const {
  if (!config_.calibration) return std::nullopt;
  // The same preparation evaluate() makes before step 2, on a copy.
  Message message = stored;
  putInInjectionOrder(message);
  deriveNominals(message);
  deriveInternalStandardAreas(message);
  std::string problem;
  const CalibrationConfig settings = curveSettings(message, analyte, problem);
  const CalibrationReview review = reviewCalibration(message, analyte, settings);
  if (review.calibrators.empty()) return std::nullopt;
  CalibrationCurveView view;
  view.model = toString(review.fit.model);
  view.weighting = toString(review.fit.weight);
  view.fitted = review.fit.ok;
  view.error = review.fit.error;
  if (review.fit.ok) {
    view.coefficients = {review.fit.intercept, review.fit.slope};
    if (review.fit.model == CalibrationModel::kQuadratic) {
      view.coefficients.push_back(review.fit.curvature);
    }
    view.rSquared = review.fit.rSquared;
  }
  for (const CalibratorReview& c : review.calibrators) {
    view.points.push_back({c.sampleId, c.level, c.nominal, c.response, c.backCalculated,
                           c.accuracyPct, c.excluded || c.analystExcluded});
  }
  return view;
}

std::map<std::string, CalibrationReview> RuleEngine::reviewCalibrations(
    Message& message, const std::vector<std::string>& analytes, const RulesContext& context) const {
  std::map<std::string, CalibrationReview> calibration;
  // The codes a calibrator carries (as findAnalyteResult matches them), gathered once.
  std::set<std::string_view> calibrated;
  for (const Sample& s : message.samples) {
    if (s.kind != SampleKind::kCalibrator) continue;
    for (const Result& r : s.results) {
      if (r.internalStandard) continue;
      calibrated.insert(r.instrumentCode);
      if (!r.lisCode.empty()) calibrated.insert(r.lisCode);
    }
  }
  // A file cut off in the middle (or missing a block) cannot support a re-run order: its curves
  // say "re-export" instead.
  const CheckResult complete = checkExportComplete(message);
  if (complete.outcome != Outcome::kPass) attachBatch(message, "", complete);
  for (const auto& analyte : analytes) {
    // Not a calibrated batch for this analyte.
    if (!calibrated.count(analyte)) continue;
    std::string curveProblem;
    CalibrationConfig settings = curveSettings(message, analyte, curveProblem);
    CalibrationReview review = reviewCalibration(message, analyte, settings);
    if (!curveProblem.empty()) {
      // Judging another curve than the lab's would be judging the wrong thing: hold.
      CheckResult model;
      model.outcome = Outcome::kNotEvaluable;
      model.ruleId = "calibration.model";
      model.code = "CAL_MODEL_UNKNOWN";
      model.subject = "analyte";
      model.message = curveProblem + ": the lab's curve cannot be judged (judged instead: " +
                      std::string(toString(settings.model)) + ", " + toString(settings.weight) +
                      " from " + settings.modelSource + ")";
      review.checks.push_back(model);
    }
    if (complete.outcome != Outcome::kPass) markReexport(review, complete.message);
    if (!config_.carryover) {
      std::erase_if(review.checks,
                    [](const CheckResult& c) { return c.ruleId == "calibration.carryover"; });
    }
    for (const CheckResult& c : review.checks) {
      std::optional<Finding> f = toFinding(c);
      if (!f) continue;
      if (c.outcome == Outcome::kNotEvaluable &&
          (c.ruleId == "calibration.carryover" || c.ruleId == "calibration.carryover_suspect")) {
        // For the reviewer, once: it holds no result by itself (a missing blank after the top
        // calibrator is a batch design matter; the results carryover may concern are held one
        // by one by calibration.carryover_suspect).
        f->action = DispositionKind::kRelease;
      }
      message.batchFindings.push_back({analyte, std::move(*f)});
    }
    for (const SampleCheck& sc : review.sampleChecks) {
      for (Result& r : message.samples[sc.sampleIndex].results) {
        if (!r.internalStandard && (r.instrumentCode == analyte || r.lisCode == analyte)) {
          attach(r, sc.check);
          break;
        }
      }
    }
    if (review.fit.ok) {
      // The slope is tracked as spec §2.5 says (b1, or b1 at mid-range for a quadratic) and
      // compared with the last accepted batches: SLOPE_SHIFT (engineering, a note).
      double slope = trackedSlope(review.fit);
      if (config_.trends && context.metricHistory) {
        std::vector<double> history = context.metricHistory(analyte, "cal_slope");
        // An engineering note: a history too short to judge says nothing (no finding).
        CheckResult shift = checkSlopeShift(slope, history);
        if (shift.outcome == Outcome::kWarn) attachBatch(message, analyte, shift);
      }
      message.metrics.push_back({analyte, "cal_slope", slope});
      message.metrics.push_back({analyte, "cal_r_squared", review.fit.rSquared});
      // §2.5 CONSIDER_QUADRATIC_OR_SATURATION: the top calibrator of a linear curve biased low
      // in consecutive batches. Advice for the method's owner: a note, it never holds.
      const CalibratorReview* top = nullptr;
      for (const CalibratorReview& c : review.calibrators) {
        if (c.nominal && c.accuracyPct && (!top || *c.nominal > *top->nominal)) top = &c;
      }
      if (top && settings.model == CalibrationModel::kLinear) {
        message.metrics.push_back({analyte, "cal_top_accuracy_pct", *top->accuracyPct});
        if (config_.trends && config_.health.considerQuadratic && context.metricHistory) {
          std::vector<double> series = context.metricHistory(analyte, "cal_top_accuracy_pct");
          series.push_back(*top->accuracyPct);
          CheckResult advice = checkTopCalibratorBias(series, config_.health.quadraticBatches,
                                                      config_.health.quadraticLowPct);
          if (advice.outcome == Outcome::kWarn) {
            advice.subject = "analyte";
            advice.onFail = DispositionKind::kRelease;
            attachBatch(message, analyte, advice);
          }
        }
      }
    }
    // The carryover fraction the blank after the top calibrator measured, kept with the batch.
    if (review.carryoverFraction) {
      message.metrics.push_back({analyte, "carryover_pct", 100 * *review.carryoverFraction});
    }
    calibration.emplace(analyte, std::move(review));
  }
  return calibration;
}

void RuleEngine::reviewBatchQc(Message& message, const std::vector<std::string>& analytes,
                               const RulesContext& context, QcReview& qc,
                               std::map<std::string, const AnalyteQcReview*>& qcByAnalyte) const {
  bool haveQc = false;
  if (config_.qc) {
    for (const Sample& s : message.samples) haveQc = haveQc || s.kind == SampleKind::kQc;
  }
  if (!haveQc) return;
  QcHistory history;
  int64_t lastBatch = 0;
  // Each analyte's stored values as read, for the trends (read once).
  std::map<std::string, std::vector<labgate::QcValue>> storedByAnalyte;
  const bool trends = config_.qcTrends.ewma.enabled || config_.qcTrends.cusum.enabled;
  for (const auto& analyte : analytes) {
    for (const QcTarget& t : config_.settingsFor(analyte).targets) {
      QcTarget target = t;
      target.analyte = analyte;
      history.targets.push_back(target);
    }
    if (!context.qcHistory) continue;
    const std::string series = qcSeriesKey(analyte, context.instrument, "");
    const std::vector<labgate::QcValue> stored = context.qcHistory(analyte);
    if (history.values.empty()) history.values.reserve(stored.size() * analytes.size());
    for (const labgate::QcValue& v : stored) {
      if (!v.targetMean || !v.targetSd) continue;
      QcValue& value = history.values.emplace_back();
      value.series = series;
      value.level = v.level;
      value.lot = v.lot;
      value.run = static_cast<int>(v.batch);
      value.seqInRun = v.seq;
      value.value = v.value;
      value.targetMean = *v.targetMean;
      value.targetSd = *v.targetSd;
      value.excluded = v.excluded;
      lastBatch = std::max(lastBatch, v.batch);
    }
    if (trends) storedByAnalyte.emplace(analyte, stored);
  }
  QcReviewOptions options = config_.qcOptions;
  options.instrument = context.instrument;
  options.run = static_cast<int>(lastBatch + 1);
  qc = reviewQc(message, history, options);
  for (const AnalyteQcReview& a : qc.analytes) {
    qcByAnalyte[a.analyte] = &a;
    for (const CheckResult& c : a.checks) attachBatch(message, a.analyte, c);
    // Every QC injection with a value goes to the history, with the target it was judged
    // against (none while the analyte has no target: the values then serve to establish one).
    bool rejected = a.outcome == Outcome::kFail;
    std::vector<const QcTarget*> targets;  // the analyte's, in order: the last match wins
    for (const QcTarget& t : history.targets) {
      if (t.analyte == a.analyte) targets.push_back(&t);
    }
    for (const QcInjection& i : a.injections) {
      if (!i.observed) continue;
      labgate::QcValue stored;
      stored.analyte = a.analyte;
      stored.level = i.level;
      stored.lot = i.lot;
      stored.sampleId = i.sampleId;
      stored.seq = static_cast<int>(i.sampleIndex);
      stored.value = *i.observed;
      for (const QcTarget* t : targets) {
        if (t->level == i.level && (t->lot.empty() || t->lot == i.lot)) {
          stored.targetMean = t->mean;
          stored.targetSd = t->sd;
        }
      }
      stored.runRejected = rejected;
      message.qcValues.push_back(stored);
    }
  }
  if (!trends) return;
  // The QC trends (EWMA, CUSUM) per analyte and level: the stored values, then this batch's.
  for (const AnalyteQcReview& a : qc.analytes) {
    std::vector<labgate::QcValue> current;
    for (const labgate::QcValue& v : message.qcValues) {
      if (v.analyte == a.analyte) current.push_back(v);
    }
    static const std::vector<labgate::QcValue> kNone;
    auto stored = storedByAnalyte.find(a.analyte);
    QcTrendReview review =
        reviewQcTrends(a.analyte, stored == storedByAnalyte.end() ? kNone : stored->second, current,
                       config_.qcTrends);
    for (const CheckResult& c : review.checks) attachBatch(message, a.analyte, c);
    for (BatchMetric& m : review.metrics) message.metrics.push_back(std::move(m));
  }
}

std::map<size_t, std::vector<InjectionCheck>> RuleEngine::diagnoseBatchAndTrends(
    Message& message, const BatchReferences& refs, const RulesContext& context) const {
  std::map<size_t, std::vector<InjectionCheck>> sampleDiagnostics;
  if (config_.diagnostics) {
    BatchDiagnostics d = diagnoseBatch(message, refs, config_.drift);
    for (const AnalyteCheck& c : d.batch) attachBatch(message, c.analyte, c.check);
    for (InjectionCheck& i : d.samples) sampleDiagnostics[i.index].push_back(std::move(i));
    if (config_.health.isDriftOnset)
      diagnoseIsDriftOnset(message, refs, context, sampleDiagnostics);
  }
  if (config_.trends) {
    for (const BatchMetric& m : trendMetrics(refs)) {
      message.metrics.push_back(m);
      if (!context.metricHistory) continue;
      std::vector<double> history = context.metricHistory(m.analyte, m.metric);
      if (history.empty()) continue;
      if (m.metric == "cal_is_area_median") {
        attachBatch(message, m.analyte, checkSensitivityLoss(m.value, history, config_.drift));
      } else if (m.metric == "cal_rt_mean") {
        attachBatch(message, m.analyte, checkRtShift(m.value, history, config_.drift));
      } else if (m.metric == "cal_ion_ratio_mean") {
        attachBatch(message, m.analyte,
                    checkIonRatioShift(m.value, history, config_.settingsFor(m.analyte).peak,
                                       config_.drift));
      }
    }
  }
  return sampleDiagnostics;
}

void RuleEngine::diagnoseIsDriftOnset(
    Message& message, const BatchReferences& refs, const RulesContext& context,
    std::map<size_t, std::vector<InjectionCheck>>& sampleDiagnostics) const {
  // Order-dependent: without the injection order RUN_ORDER_UNKNOWN is said once for the batch.
  if (!message.listedInRunOrder) return;
  const HealthConfig& h = config_.health;
  for (const auto& [analyte, ref] : refs.analytes) {
    if (!ref.meanIsArea || !(*ref.meanIsArea > 0)) continue;
    const InjectionSeries s = injectionSeries(message, analyte);
    Series ratios;
    for (const auto& a : s.isArea) {
      ratios.push_back(a && *a > 0 ? std::optional<double>(*a / *ref.meanIsArea) : std::nullopt);
    }
    const std::optional<double> batchSd = sdOfLogRatios(ratios);
    if (batchSd) message.metrics.push_back({analyte, "is_log_ratio_sd", *batchSd});
    // The scale: the lab's, else the median of earlier batches' scatter. Without either the
    // CUSUM has no scale and is not run (a new instrument's first batches build the history).
    std::optional<double> sd = h.onsetSdLogRatio;
    if (!sd && context.metricHistory) {
      sd = rollingMedian(context.metricHistory(analyte, "is_log_ratio_sd"),
                         config_.drift.historyWindow);
    }
    if (!sd || !(*sd > 0)) continue;
    DriftConfig dc = config_.drift;
    dc.cusumK = h.onsetK;
    dc.cusumH = h.onsetH;
    CheckResult onset = checkIsDriftOnset(ratios, sd, dc);
    if (onset.outcome != Outcome::kWarn) continue;
    // Where the CUSUM first signals (the same computation the check made), as a series index.
    std::vector<double> logs;
    std::vector<size_t> at;
    for (size_t i = 0; i < ratios.size(); ++i) {
      if (ratios[i] && *ratios[i] > 0) {
        logs.push_back(std::log(*ratios[i]));
        at.push_back(i);
      }
    }
    CusumConfig cc;
    cc.k = h.onsetK;
    cc.h = h.onsetH;
    const CusumRun run = cusum(logs, 0.0, *sd, cc);
    if (run.signals.empty()) continue;
    const size_t first = at[run.signals.front()];
    const std::string onsetAt = injectionOf(message.samples[s.sampleIndex[first]]);
    onset.subject = "analyte";
    std::string words = analyte;
    words += ": ";
    words += onset.message;
    words += " (";
    words += onsetAt;
    words += ", sd of log IS ratio ";
    words += num(*sd);
    words += h.onsetSdLogRatio ? ", the rule set's)" : ", earlier batches')";
    words += h.isDriftOnsetHolds ? "; the patient results from there on are held"
                                 : "; batch.is_drift_onset.hold is off: a note";
    onset.message = std::move(words);
    onset.measured = onsetAt;
    attachBatch(message, analyte, onset);
    if (!h.isDriftOnsetHolds) continue;
    for (size_t k = first; k < s.sampleIndex.size(); ++k) {
      const Sample& sample = message.samples[s.sampleIndex[k]];
      if (sample.kind != SampleKind::kUnknown) continue;
      CheckResult held;
      held.outcome = Outcome::kFail;
      held.ruleId = "trend.is_drift_onset";
      held.code = "IS_DRIFT_ONSET";
      held.subject = "sample";
      held.message = analyte;
      held.message += ": ";
      held.message += injectionOf(sample);
      held.message += " comes at or after the IS drift onset (";
      held.message += onsetAt;
      held.message += ", CUSUM on log IS ratio): held for review";
      if (ratios[k]) held.measured = num(100 * *ratios[k]) + " % of the IS reference";
      held.limit = "CUSUM h " + num(h.onsetH);
      sampleDiagnostics[s.sampleIndex[k]].push_back({s.sampleIndex[k], std::move(held), analyte});
    }
  }
}

void RuleEngine::reviewRepeatInjections(Message& message) const {
  if (!config_.health.repeatInjections) return;
  // (sample id, analyte) → the patient results of its injections.
  std::map<std::pair<std::string, std::string>, std::vector<Result*>> groups;
  for (Sample& sample : message.samples) {
    if (sample.kind != SampleKind::kUnknown || sample.sampleId.empty()) continue;
    for (Result& r : sample.results) {
      // A result reported as "<LLOQ" or ">ULOQ" (autoverification set the display value) is not
      // sent as a number: two injections below the LLOQ agree whatever their raw values.
      const bool censored = !r.value.empty() && (r.value.front() == '<' || r.value.front() == '>');
      if (r.internalStandard || !r.numeric || censored) continue;
      groups[{sample.sampleId, analyteOf(r)}].push_back(&r);
    }
  }
  const double limit = config_.health.repeatMaxDiffPct;
  for (auto& [key, results] : groups) {
    if (results.size() < 2) continue;
    double lo = *results.front()->numeric;
    double hi = lo;
    double sum = 0;
    for (const Result* r : results) {
      lo = std::min(lo, *r->numeric);
      hi = std::max(hi, *r->numeric);
      sum += *r->numeric;
    }
    const double mean = sum / static_cast<double>(results.size());
    // Relative difference: (max − min) / mean. Two zeros agree; a zero beside a value does not.
    const double diffPct = hi == lo ? 0.0 : (mean != 0 ? 100 * (hi - lo) / std::fabs(mean) : 200.0);
    if (diffPct <= limit) continue;
    CheckResult c;
    c.outcome = Outcome::kFail;
    c.ruleId = "autoverify.repeat_injections";
    c.code = "REPEAT_INCONSISTENT";
    c.subject = "result";
    c.message = std::to_string(results.size()) + " injections of sample " + key.first + " for " +
                key.second + " differ by " + num(diffPct) +
                " % (max − min over their mean), above " + num(limit) +
                " %: the repeat injections disagree";
    c.measured = num(diffPct);
    c.limit = num(limit);
    for (Result* r : results) attach(*r, c);
  }
}

std::vector<AnalyteView> RuleEngine::analyteViews(
    const Message& message, const std::vector<std::string>& analytes,
    const std::map<std::string, CalibrationReview>& calibration, const BatchReferences& refs,
    const std::map<std::string, const AnalyteQcReview*>& qcByAnalyte) const {
  std::vector<AnalyteView> views(analytes.size());
  for (size_t a = 0; a < analytes.size(); ++a) {
    const std::string& analyte = analytes[a];
    AnalyteView& v = views[a];
    v.settings = &config_.settingsFor(analyte);
    if (auto cal = calibration.find(analyte); cal != calibration.end()) v.review = &cal->second;
    PeakSupport support = carried(message, analyte, v.settings->peak);
    v.peak = std::move(support.config);
    v.unfed = std::move(support.unfed);
    v.ref = refs.of(analyte);
    if (v.review) {
      for (const CheckResult& c : v.review->checks) {
        if ((c.ruleId == "calibration.blank" || c.ruleId == "calibration.carryover") &&
            c.outcome == Outcome::kFail) {
          v.blanksAccepted = false;
        }
      }
    }
    if (auto q = qcByAnalyte.find(analyte); q != qcByAnalyte.end()) v.qc = q->second;
  }
  return views;
}

void RuleEngine::reviewSystemSuitability(
    Message& message, const std::vector<std::string>& analytes,
    const std::map<std::string_view, size_t>& analyteIndex,
    const std::map<size_t, std::vector<InjectionCheck>>& sampleDiagnostics,
    std::vector<AnalyteView>& views) const {
  for (size_t si = 0; si < message.samples.size(); ++si) {
    const Sample& sample = message.samples[si];
    if (sample.kind != SampleKind::kSystemSuitability) continue;
    auto diagnostics = sampleDiagnostics.find(si);
    size_t ai = static_cast<size_t>(-1);
    for (const Result& result : sample.results) {
      if (result.internalStandard) continue;
      ai = nextAnalyteIndex(ai, analyteOf(result), analytes, analyteIndex);
      AnalyteView& view = views[ai];
      ++view.sstInjections;
      if (!view.sstFailure.empty()) continue;  // the first failure is the one reported
      std::vector<CheckResult> checks =
          peakChecksOf(result, sample, si, view,
                       diagnostics != sampleDiagnostics.end() ? &diagnostics->second : nullptr);
      // The lab's own SST criteria (batch.sst): a criterion the export cannot feed fails the
      // gate too (a missing value never passes).
      for (CheckResult& c : sstCriteriaChecks(result, view.settings->sst)) {
        checks.push_back(std::move(c));
      }
      for (const CheckResult& c : checks) {
        if (c.outcome != Outcome::kFail &&
            !(c.ruleId == "batch.sst" && c.outcome == Outcome::kNotEvaluable)) {
          continue;
        }
        view.sstFailure = injectionOf(sample);
        view.sstFailure += " (system suitability) failed ";
        view.sstFailure += c.code;
        view.sstFailure += ": ";
        view.sstFailure += c.message;
        view.sstShort = injectionOf(sample) + " failed " + c.code +
                        " (see the batch finding SST_FAIL for this analyte)";
        CheckResult batch;
        batch.outcome = Outcome::kFail;
        batch.ruleId = "batch.sst";
        batch.code = "SST_FAIL";
        batch.subject = "analyte";
        batch.message = view.sstFailure +
                        "; the system was not ready: the analyte's patient "
                        "results of this batch hold";
        batch.measured = c.measured;
        batch.limit = c.limit;
        attachBatch(message, analytes[ai], batch);
        break;
      }
    }
  }
}

void RuleEngine::reviewPeakData(Message& message, const std::vector<std::string>& analytes,
                                const std::vector<std::string>& derivedIsAreas,
                                std::vector<AnalyteView>& views) const {
  if (!config_.peaks) return;
  for (const std::string& analyte : derivedIsAreas) {
    CheckResult c;
    c.outcome = Outcome::kWarn;  // a note: what the IS checks were computed from
    c.ruleId = "peak.is_area_derived";
    c.code = "IS_AREA_DERIVED";
    c.subject = "analyte";
    c.message =
        "the export gives no IS area: IS areas derived as Area ÷ response ratio (one factor for "
        "the analyte, so the IS percentages hold)";
    attachBatch(message, analyte, c);
  }
  for (size_t a = 0; a < analytes.size(); ++a) {
    AnalyteView& v = views[a];
    if (!v.unfed.empty())
      attachBatch(message, analytes[a],
                  unfedBatchCheck(analytes[a], v.unfed, config_.autoverifyConfig));
    if (!v.peak.checkIsResponse) continue;
    if (config_.health.isCv) {
      // The batch IS CV over the cal/QC injections (spec §1.5): a warning is a note, a failure
      // holds the analyte's patient results. Fewer than 2 IS areas: nothing to say.
      CheckResult cv = checkIsCv(v.ref, v.peak);
      if (cv.outcome == Outcome::kWarn || cv.outcome == Outcome::kFail) {
        cv.subject = "analyte";
        attachBatch(message, analytes[a], cv);
        if (cv.outcome == Outcome::kFail) {
          v.isCvShort = "IS CV of the batch's cal/QC injections " + cv.measured + " % above " +
                        cv.limit + " % (see the batch finding IS_CV)";
        }
      }
    }
    CheckResult matrix = checkIsMatrixMismatch(message, analytes[a], v.ref, v.peak);
    if (matrix.outcome == Outcome::kPass) continue;
    v.isMatrixMismatch = true;
    attachBatch(message, analytes[a], matrix);
  }
}

void RuleEngine::judgeResult(Result& result, const Sample& sample, size_t si,
                             const AnalyteView& view,
                             const std::vector<InjectionCheck>* diagnostics,
                             const std::vector<const SampleDisposition*>& qcVerdicts) const {
  std::vector<CheckResult> peakChecks = peakChecksOf(result, sample, si, view, diagnostics);
  if (sample.kind == SampleKind::kUnknown && !view.isCvShort.empty()) {
    CheckResult cv;
    cv.outcome = Outcome::kFail;
    cv.ruleId = "peak.is_cv";
    cv.code = "IS_CV";
    cv.subject = "result";
    cv.message = view.isCvShort;
    peakChecks.push_back(std::move(cv));
  }
  if (sample.kind != SampleKind::kUnknown) {
    for (const CheckResult& c : peakChecks) attach(result, c);
    return;
  }
  if (!config_.autoverify) {
    judgeWithoutAutoverify(result, view, peakChecks, qcVerdicts);
    return;
  }
  autoverifyResult(result, view, peakChecks, qcVerdicts);
}

std::vector<CheckResult> RuleEngine::peakChecksOf(
    const Result& result, const Sample& sample, size_t si, const AnalyteView& view,
    const std::vector<InjectionCheck>* diagnostics) const {
  const AnalyteSettings& settings = *view.settings;
  const CalibrationReview* review = view.review;
  std::vector<CheckResult> peakChecks;
  if (config_.peaks) {
    PeakContext pc;
    pc.kind = sample.kind;
    pc.passingChecks = PassingChecks::kOmitted;  // only findings are kept
    pc.dilution = sample.dilution;
    pc.isMatrixMismatch = view.isMatrixMismatch;
    if (review) {
      pc.lloq = review->lloq;
      pc.uloq = review->uloq;
      for (const CalibratorReview& c : review->calibrators) {
        if (c.sampleIndex == si && c.lloqLevel) pc.isLloqCalibrator = true;
      }
    } else {
      // No curve for the analyte: the range the rule set configures (limits.lloq/uloq).
      pc.lloq = settings.limits.lloq;
      pc.uloq = settings.limits.uloq;
    }
    if (sample.kind == SampleKind::kBlank || sample.kind == SampleKind::kDoubleBlank) {
      // A blank's peak is noise by design: its area is judged by calibration.blank; its RT,
      // ion ratio and shape mean nothing. Only a manual integration is worth a note.
      if (result.peak) {
        peakChecks.push_back(checkManualIntegration(*result.peak, sample.kind, settings.peak));
      }
    } else {
      peakChecks = checkPeak(result, view.ref, view.peak, pc);
      if (sample.kind == SampleKind::kUnknown)
        unfedChecks(view.unfed, config_.autoverifyConfig, result, pc, peakChecks);
    }
  }
  if (diagnostics) {
    // Only the diagnostics of this result's analyte: another analyte's IS drop is not this one's.
    for (const InjectionCheck& i : *diagnostics) {
      if (i.check.outcome != Outcome::kPass && i.analyte == analyteOf(result)) {
        peakChecks.push_back(i.check);  // a pass is no finding
      }
    }
  }
  return peakChecks;
}

void RuleEngine::judgeWithoutAutoverify(
    Result& result, const AnalyteView& view, const std::vector<CheckResult>& peakChecks,
    const std::vector<const SampleDisposition*>& qcVerdicts) const {
  // Without autoverification the batch verdicts still decide: a failed curve or QC run is
  // a re-run, an unbracketed result a hold, and the peak findings stand.
  const CalibrationReview* review = view.review;
  for (const CheckResult& c : peakChecks) attach(result, c);
  if (review) {
    if (const CheckResult* curve = review->curveCheck();
        curve && curve->outcome != Outcome::kPass) {
      attach(result, *curve);
    }
  }
  if (config_.qc && view.qc) {
    if (view.qc->outcome == Outcome::kFail || view.qc->outcome == Outcome::kNotEvaluable) {
      for (const CheckResult& c : view.qc->checks) {
        if (c.ruleId == "qc.run_acceptance" || c.ruleId.rfind("qc.westgard.", 0) == 0 ||
            c.ruleId == "qc.target") {
          attach(result, c);
        }
      }
    }
    for (const SampleDisposition* d : qcVerdicts) {
      if (d->kind != DispositionKind::kRelease) attach(result, d->reason);
    }
  }
}

void RuleEngine::autoverifyResult(Result& result, const AnalyteView& view,
                                  const std::vector<CheckResult>& peakChecks,
                                  const std::vector<const SampleDisposition*>& qcVerdicts) const {
  const AnalyteSettings& settings = *view.settings;
  const CalibrationReview* review = view.review;
  BatchGates gates;
  if (config_.calibration && review) {
    // A curve that could not be judged holds (NOT_EVALUABLE); only a failed one re-runs.
    const CheckResult* curve = review->curveCheck();
    if (!curve || curve->outcome != Outcome::kNotEvaluable) {
      gates.calibrationAccepted = review->curveAccepted;
      if (curve && !review->curveAccepted) {
        gates.calibrationWhy = "see the batch finding " + curve->code + " for this analyte";
      }
    } else {
      gates.calibrationWhy = curve->code + ": " + curve->message;
    }
    gates.blanksAccepted = view.blanksAccepted;
  } else {
    // Calibration review is off, or the batch has no calibrators for this analyte (a message
    // with results only): nothing to judge the curve or the blanks by; the measuring range
    // comes from the rule set (and without one, the result holds: the range is unknown).
    gates.calibrationAccepted = true;
    gates.blanksAccepted = true;
  }
  if (!config_.qc) {
    gates.qcAccepted = true;
    gates.qcBracketing = true;
  } else if (view.qc) {
    if (view.qc->outcome != Outcome::kNotEvaluable) {
      gates.qcAccepted = view.qc->outcome == Outcome::kPass;
      // Name the batch finding that rejected the QC (run acceptance, a Westgard rule ...).
      for (const CheckResult& c : view.qc->checks) {
        if (*gates.qcAccepted || c.outcome != Outcome::kFail) continue;
        gates.qcWhy = "see the batch finding " + c.code + " for this analyte";
        break;
      }
    } else {
      // Say which QC check could not be evaluated (a missing QC, a missing target ...).
      for (const CheckResult& c : view.qc->checks) {
        if (c.outcome != Outcome::kNotEvaluable) continue;
        gates.qcWhy = c.code + ": " + c.message;
        break;
      }
    }
    gates.qcBracketing = true;
    for (const SampleDisposition* d : qcVerdicts) {
      if (d->kind == DispositionKind::kRelease) continue;
      gates.qcBracketing = false;
      if (gates.qcBracketingWhy.empty()) gates.qcBracketingWhy = "see " + d->reason.code;
      attach(result, d->reason);
    }
  }
  if (config_.qc && !view.qc) {
    gates.qcWhy = "the batch has no QC injection for this analyte";
    gates.qcBracketingWhy = "no QC injection brackets this result";
  }
  if (view.sstInjections > 0) {
    gates.sstAccepted = view.sstFailure.empty();
    gates.sstWhy = view.sstShort;
  } else if (config_.autoverifyConfig.sstRequired) {
    gates.sstWhy =
        "the batch has no system-suitability injection for this analyte "
        "(autoverify.sst_required)";  // NOT_EVALUABLE: holds
  } else {
    gates.sstAccepted = true;  // the method runs no SST injections: nothing to judge
  }

  AnalyteLimits limits = settings.limits;
  // No curve and no configured range: the measuring range is unknown, and the result holds
  // (a missing value never passes); autoverify() says so.
  if (limits.lloq || limits.uloq) limits.rangeSource = "the rule set's limits.lloq/limits.uloq";
  if (review) {
    limits.lloq = review->lloq;
    limits.uloq = review->uloq;
    limits.rangeSource = "the batch calibration curve";
    if (const CheckResult* curve = review->curveCheck();
        curve && curve->outcome != Outcome::kPass) {
      attach(result, *curve);  // the curve's failure is this result's re-run
    }
  }
  AutoverifyDecision decision =
      autoverify(result, gates, peakChecks, limits, std::nullopt, config_.autoverifyConfig,
                 std::nullopt, PassingChecks::kOmitted);
  for (const CheckResult& c : decision.checks) {
    attach(result, c, c.ruleId.rfind("peak.", 0) == 0 && config_.autoverifyConfig.holdOnPeakWarn);
  }
  if (!decision.displayValue.empty()) result.value = decision.displayValue;
  if (!decision.flag.empty()) result.flags = decision.flag;
}

// A rule that ran out of time is not run again in this batch: the rest of its results hold at
// once, so one batch costs at most one time limit per rule.
void RuleEngine::runLabRules(Message& message) const {
  for (const auto& rule : config_.lua) {
    bool timedOut = false;
    for (Sample& sample : message.samples) {
      for (Result& result : sample.results) {
        if (result.internalStandard) continue;
        if (timedOut) {
          attach(result, rule->notRunAfterTimeout());
        } else {
          attach(result, rule->evaluate(result, sample, message, &timedOut));
        }
      }
    }
  }
}

/// The start-up rule of a rule set that is to serve a connector (issue 20): Westgard on (the
/// default when `qc.westgard` is absent) with QC checks on and no analyte stating a QC target
/// would hold every patient result of every batch for a reason only the set's author can fix, so
/// the connector is refused at start-up, with what is missing and the two ways out.
void refuseWestgardWithoutTargets(Reader& r, const RuleSetConfig& c) {
  if (!c.qc || !c.qcOptions.applyWestgard) return;
  for (const auto& entry : c.analytes) {
    if (!entry.second.targets.empty()) return;
  }
  r.fail("qc.westgard",
         "qc.westgard is true (the default when the key is absent) but no analyte has "
         "qc_targets: add analytes.NAME.qc_targets (labgate qc-targets establishes them) or set "
         "qc.westgard to false");
}

StatusOr<std::shared_ptr<const RulesStage>> parseWith(const std::string& json,
                                                      const std::string& sourceName, bool toServe) {
  Object::Ptr root;
  try {
    Poco::JSON::Parser parser;
    root = parser.parse(json).extract<Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return Status::config(sourceName, "not valid JSON: " + e.displayText());
  } catch (const std::exception&) {
    return Status::config(sourceName, "the top level must be a JSON object");
  }
  Reader r(sourceName);
  RuleSetConfig c;
  r.keys(*root, "",
         {"version", "description", "checks", "peak", "calibration", "qc", "autoverify", "drift",
          "limits", "qc_targets", "analytes", "lua",
          // issue 19 (health)
          "batch"});
  if (!r.text(*root, "", "version", c.version) || c.version.empty()) {
    r.fail("version", "required: a non-empty string stored with every decision");
  }
  r.text(*root, "", "description", c.description);
  if (auto checks = r.object(*root, "", "checks")) {
    r.keys(*checks, "checks",
           {"peaks", "calibration", "qc", "diagnostics", "trends", "autoverify", "carryover"});
    r.boolean(*checks, "checks", "carryover", c.carryover);
    r.boolean(*checks, "checks", "peaks", c.peaks);
    r.boolean(*checks, "checks", "calibration", c.calibration);
    r.boolean(*checks, "checks", "qc", c.qc);
    r.boolean(*checks, "checks", "diagnostics", c.diagnostics);
    r.boolean(*checks, "checks", "trends", c.trends);
    r.boolean(*checks, "checks", "autoverify", c.autoverify);
  }
  if (auto p = r.object(*root, "", "peak")) readPeak(r, *p, "peak", c.defaults.peak);
  if (auto p = r.object(*root, "", "calibration")) {
    readCalibration(r, *p, "calibration", c.defaults.calibration);
  }
  if (auto p = r.object(*root, "", "limits")) readLimits(r, *p, "limits", c.defaults.limits);
  if (auto p = r.object(*root, "", "qc")) readQc(r, *p, c);
  if (auto p = r.object(*root, "", "autoverify")) readAutoverify(r, *p, c.autoverifyConfig);
  if (auto p = r.object(*root, "", "drift")) readDrift(r, *p, c.drift);
  if (auto p = r.object(*root, "", "batch")) readBatchHealth(r, *p, c.health, c.defaults.sst);
  if (root->has("qc_targets"))
    r.fail("qc_targets", "targets belong to an analyte: analytes.NAME.qc_targets");
  if (auto analytes = r.object(*root, "", "analytes")) {
    std::vector<std::string> names;
    analytes->getNames(names);
    for (const auto& name : names) {
      Object::Ptr a = r.object(*analytes, "analytes", name);
      if (!a) continue;
      AnalyteSettings s = c.defaults;  // overrides start from the defaults
      readAnalyte(r, *a, "analytes." + name, name, s);
      c.analytes[name] = std::move(s);
    }
  }
  if (root->has("lua")) {
    Array::Ptr list = root->getArray("lua");
    if (!list) r.fail("lua", "must be an array of {name, file}");
    for (size_t i = 0; list && i < list->size() && !r.failed(); ++i) {
      std::string path = "lua[" + std::to_string(i) + "]";
      Object::Ptr entry = list->getObject(static_cast<unsigned>(i));
      if (!entry) {
        r.fail(path, "must be an object {name, file}");
        break;
      }
      r.keys(*entry, path, {"name", "file", "instructions", "memory_bytes", "timeout_ms"});
      std::string name, file;
      if (!r.text(*entry, path, "name", name) || name.empty()) r.fail(path + ".name", "required");
      if (!r.text(*entry, path, "file", file) || file.empty()) r.fail(path + ".file", "required");
      LuaLimits limits;
      int64_t timeoutMs = limits.timeout.count();
      int64_t memory = static_cast<int64_t>(limits.memoryBytes);
      r.whole(*entry, path, "instructions", limits.instructions, LuaLimits::kMinInstructions,
              LuaLimits::kMaxInstructions);
      r.whole(*entry, path, "memory_bytes", memory,
              static_cast<int64_t>(LuaLimits::kMinMemoryBytes),
              static_cast<int64_t>(LuaLimits::kMaxMemoryBytes));
      r.whole(*entry, path, "timeout_ms", timeoutMs, LuaLimits::kMinTimeoutMs,
              LuaLimits::kMaxTimeoutMs);
      limits.memoryBytes = static_cast<size_t>(memory);
      limits.timeout = std::chrono::milliseconds(timeoutMs);
      if (r.failed()) break;
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        r.fail(path + ".file", "cannot open " + file);
        break;
      }
      std::ostringstream source;
      source << in.rdbuf();
      StatusOr<std::shared_ptr<LuaRule>> rule = LuaRule::load(name, source.str(), limits);
      if (!rule.isOk()) {
        r.fail(path, rule.status().toString());
        break;
      }
      c.lua.push_back(rule.value());
    }
  }
  if (toServe && !r.failed()) refuseWestgardWithoutTargets(r, c);
  if (r.failed()) return r.status();
  return std::shared_ptr<const RulesStage>(std::make_shared<RuleEngine>(std::move(c)));
}

}  // namespace

StatusOr<std::shared_ptr<const RulesStage>> parseRuleSet(const std::string& json,
                                                         const std::string& sourceName) {
  return parseWith(json, sourceName, false);
}

StatusOr<std::shared_ptr<const RulesStage>> loadRuleSet(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::config(path, "cannot open the rule set");
  std::ostringstream text;
  text << in.rdbuf();
  return parseWith(text.str(), path, true);
}

}  // namespace labgate::rules
