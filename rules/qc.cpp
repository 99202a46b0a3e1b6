#include "rules/qc.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <string_view>
#include <unordered_map>

namespace labgate::rules {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool equalsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The instrument's code, as everywhere in the rules: the QC history is kept per instrument.
const std::string& analyteOf(const Result& r) { return r.instrumentCode; }

CheckResult analyteCheck(const std::string& analyte, const char* ruleId, const char* code) {
  CheckResult c;
  c.ruleId = ruleId;
  c.code = code;
  c.subject = "analyte";
  c.message.reserve(analyte.size() + 64);  // room for the words the caller appends
  c.message = analyte;
  c.message += ": ";
  return c;
}

QcInjection measureInjection(const Sample& sample, size_t index, const Result& result,
                             const QcAcceptanceOptions& options) {
  QcInjection q;
  q.sampleIndex = index;
  q.sampleId = sample.sampleId;
  // A QC's sample name is the lab's control material ("QC_Low_3"), never a patient's: named
  // beside the injection number so that a reviewer finds it in the export either way.
  q.injection = "sample " + sample.sampleId;
  if (sample.injection) q.injection += ", " + injectionOf(sample);
  q.level = sample.level;
  q.lot = sample.lot;
  q.lloq = std::any_of(options.lloqLevels.begin(), options.lloqLevels.end(),
                       [&](const std::string& l) { return equalsIgnoreCase(l, sample.level); });
  q.observed = result.numeric;
  if (!q.observed && result.peak) q.observed = result.peak->calculatedConcentration;
  if (result.peak && result.peak->expectedConcentration) {
    q.nominal = result.peak->expectedConcentration;
  } else {
    q.nominal = sample.nominalConcentration;
  }
  if (q.observed && q.nominal && *q.nominal > 0 && std::isfinite(*q.observed)) {
    q.accuracy = 100.0 * *q.observed / *q.nominal;
  } else if (result.peak && result.peak->accuracy && std::isfinite(*result.peak->accuracy)) {
    q.accuracy = result.peak->accuracy;
  }
  if (q.accuracy) {
    double low = q.lloq ? options.lloqAccuracyLow : options.accuracyLow;
    double high = q.lloq ? options.lloqAccuracyHigh : options.accuracyHigh;
    q.outcome = (*q.accuracy < low || *q.accuracy > high) ? Outcome::kFail : Outcome::kPass;
  }
  return q;
}

/// "QC Low" for a named level, the derived name as is ("QC 25 ng/mL"), "QC (no level)".
std::string levelText(const std::string& level) {
  if (level.empty()) return "QC (no level)";
  if (level.rfind("QC ", 0) == 0) return level;
  return "QC " + level;
}

CheckResult accuracyCheck(const std::string& analyte, const QcInjection& q,
                          const QcAcceptanceOptions& options) {
  CheckResult c = analyteCheck(analyte, "qc.accuracy", "QC_ACCURACY");
  c.outcome = q.outcome;
  double low = q.lloq ? options.lloqAccuracyLow : options.accuracyLow;
  double high = q.lloq ? options.lloqAccuracyHigh : options.accuracyHigh;
  c.limit = num(low) + "–" + num(high) + "%";
  c.message += levelText(q.level) + " (" + q.injection + ") ";
  if (q.accuracy) {
    c.measured = num(*q.accuracy) + "%";
    c.message += "accuracy " + c.measured + " of nominal";
    if (q.nominal) c.message += " " + num(*q.nominal);
    c.message += q.outcome == Outcome::kFail ? ", outside " : ", within ";
    c.message += c.limit;
  } else {
    c.message += "accuracy not evaluable (missing concentration or nominal)";
  }
  c.onFail = DispositionKind::kHold;
  return c;
}

/// QC injections without a Level take one from their nominal concentration: equal nominals (to 3
/// significant figures, which absorbs a nominal derived from a rounded accuracy) are one level,
/// named "QC <nominal> <units>".
void levelsFromNominals(std::vector<QcInjection>& qcs, const std::vector<const Result*>& results) {
  for (QcInjection& q : qcs) {
    if (!q.level.empty() || !q.nominal || !std::isfinite(*q.nominal) || *q.nominal <= 0) continue;
    // Rounded to 3 significant figures, then written out in full ("QC 20000", not "2e+04").
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g", *q.nominal);
    std::snprintf(buf, sizeof buf, "%.15g", std::strtod(buf, nullptr));
    q.level = "QC ";
    q.level += buf;
    const Result* r = results[q.sampleIndex];
    if (r && !r->units.empty()) {
      q.level += ' ';
      q.level += r->units;
    }
  }
}

// ≥ 2/3 of all QC injections and ≥ 50% at each level pass.
CheckResult runAcceptanceCheck(const std::string& analyte, const std::vector<QcInjection>& qcs,
                               const QcAcceptanceOptions& options) {
  CheckResult c = analyteCheck(analyte, "qc.run_acceptance", "QC_RUN_ACCEPTANCE");
  c.onFail = DispositionKind::kReject;
  const std::string overallLimit =
      std::to_string(options.minPassNumerator) + "/" + std::to_string(options.minPassDenominator);
  c.limit = "≥ " + overallLimit + " overall, ≥ 50% per level";
  std::vector<std::string> levels;
  for (const QcInjection& q : qcs) {
    if (std::find(levels.begin(), levels.end(), q.level) == levels.end()) levels.push_back(q.level);
  }
  auto passing = [&](const std::string* level) {
    std::pair<long, long> n{0, 0};
    for (const QcInjection& q : qcs) {
      if (level && q.level != *level) continue;
      ++n.second;
      if (q.outcome == Outcome::kPass) ++n.first;
    }
    return n;
  };
  auto [pass, all] = passing(nullptr);
  const bool overallOk = pass * options.minPassDenominator >= all * options.minPassNumerator;
  bool ok = overallOk;
  c.measured = std::to_string(pass) + "/" + std::to_string(all) + " pass";
  std::string failedLevels;
  for (const std::string& level : levels) {
    auto [lp, la] = passing(&level);
    c.measured += "; " + level + " " + std::to_string(lp) + "/" + std::to_string(la);
    if (2 * lp < la) {
      ok = false;
      if (!failedLevels.empty()) failedLevels += ", ";
      failedLevels +=
          levelText(level) + " (" + std::to_string(lp) + "/" + std::to_string(la) + " pass)";
    }
  }
  c.outcome = ok ? Outcome::kPass : Outcome::kFail;
  c.message += "QC run acceptance ";
  c.message += ok ? "passed: " : "FAILED: ";
  c.message += c.measured;
  if (!overallOk) c.message += "; fewer than " + overallLimit + " of all QC injections pass";
  if (!failedLevels.empty()) {
    c.message += "; fewer than half pass at " + failedLevels + " (each level needs ≥ 50%)";
  }
  return c;
}

// `targets`: the analyte's, in the history's order.
const QcTarget* findTarget(const std::vector<const QcTarget*>& targets, const QcInjection& q) {
  const QcTarget* anyLot = nullptr;
  for (const QcTarget* t : targets) {
    if (t->level != q.level) continue;
    if (t->lot == q.lot) return t;
    if (t->lot.empty()) anyLot = t;
  }
  return anyLot;
}

/// What reviewQc looks up once per batch rather than per analyte: each analyte's result in each
/// sample, its targets and its series' history values.
struct AnalyteInputs {
  std::vector<const Result*> results;  // by sample index; nullptr where the sample has none
  std::vector<const QcTarget*> targets;
  const std::vector<const QcValue*>* history = nullptr;  // the series' prior values, in order
};

// The Westgard part: this batch's values, their targets, and the decision on the history.
void applyWestgard(const AnalyteInputs& inputs, const QcReviewOptions& options,
                   AnalyteQcReview& review) {
  std::set<std::string> reported;
  int seq = 0;
  for (const QcInjection& q : review.injections) {
    ++seq;
    if (!q.observed || !std::isfinite(*q.observed)) continue;
    const QcTarget* target = findTarget(inputs.targets, q);
    std::string material = levelText(q.level) + (q.lot.empty() ? "" : " lot " + q.lot);
    if (!target || !(target->sd > 0) || !std::isfinite(target->mean)) {
      if (reported.insert("missing " + material).second) {
        CheckResult c = analyteCheck(review.analyte, "qc.target", "QC_TARGET_MISSING");
        c.outcome = Outcome::kNotEvaluable;
        c.message += "Westgard rules not evaluated: no QC target (mean and SD > 0) for " +
                     material + " (" + q.injection + "); add analytes." + review.analyte +
                     ".qc_targets.\"" + q.level +
                     "\" to the rule set (labgate qc-targets "
                     "establishes it)";
        c.limit = "a target mean and SD for " + material;
        review.checks.push_back(c);
      }
      continue;
    }
    if (target->provisional && reported.insert("provisional " + material).second) {
      CheckResult c = analyteCheck(review.analyte, "qc.target", "QC_TARGET_PROVISIONAL");
      c.outcome = Outcome::kWarn;
      c.message += "the QC target for " + material + " is provisional (fewer than 20 values)";
      review.checks.push_back(c);
    }
    QcValue v;
    v.series = review.series;
    v.level = q.level;
    v.lot = q.lot;
    v.run = options.run;
    v.seqInRun = seq;
    v.injection = q.injection;
    v.value = *q.observed;
    v.targetMean = target->mean;
    v.targetSd = target->sd;
    review.newValues.push_back(v);
  }
  if (review.newValues.empty()) return;
  // The series' history and this batch's values, by address: nothing is copied.
  std::vector<const QcValue*> series;
  series.reserve((inputs.history ? inputs.history->size() : 0) + review.newValues.size());
  if (inputs.history) series = *inputs.history;
  for (const QcValue& v : review.newValues) series.push_back(&v);
  RunDecision d = evaluateWestgardRun(std::span<const QcValue* const>(series), review.series,
                                      options.run, options.westgard);
  for (const RuleHit& hit : d.hits) {
    std::string name = toString(hit.rule);
    std::string code = "QC_" + name;
    std::transform(code.begin(), code.end(), code.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    CheckResult c = analyteCheck(review.analyte, "", code.c_str());
    c.ruleId = "qc.westgard." + name;
    bool warning = hit.rule == WestgardRule::k1_2s;
    c.outcome = warning ? Outcome::kWarn : Outcome::kFail;
    c.onFail = DispositionKind::kReject;
    c.measured = hit.detail;
    c.limit = name + " (" + hit.scope + ")";
    c.message += "Westgard " + name + " " + (warning ? "warning" : "violation") + " (" +
                 meaningOf(hit.rule) + ") in " + hit.scope + ": " + hit.detail;
    if (!warning) {
      c.message += std::string("; likely ") + toString(d.hint) + ": the run is rejected";
    }
    review.checks.push_back(c);
  }
  review.westgard = std::move(d);
}

Outcome worstRunOutcome(const AnalyteQcReview& review) {
  bool notEvaluable = review.injections.empty();
  for (const CheckResult& c : review.checks) {
    if (c.ruleId == "qc.accuracy") continue;  // counted by run acceptance and bracketing
    if (c.outcome == Outcome::kFail) return Outcome::kFail;
    if (c.outcome == Outcome::kNotEvaluable) notEvaluable = true;
  }
  return notEvaluable ? Outcome::kNotEvaluable : Outcome::kPass;
}

void addDispositions(const Message& batch, const AnalyteQcReview& review,
                     const AnalyteInputs& inputs, std::vector<SampleDisposition>& out) {
  std::vector<BracketInput> order(batch.samples.size());
  for (size_t i = 0; i < batch.samples.size(); ++i) {
    const Sample& s = batch.samples[i];
    if (!inputs.results[i]) continue;
    if (s.kind == SampleKind::kUnknown) order[i].role = InjectionRole::kPatient;
  }
  for (const QcInjection& q : review.injections) {
    order[q.sampleIndex] = {InjectionRole::kQc, q.outcome};
  }
  std::vector<BracketVerdict> verdicts = bracketPatients(order);
  // Why the run is not evaluable, once for all its patients: the codes of the batch findings.
  std::string whyNotEvaluable;
  if (review.outcome == Outcome::kNotEvaluable) {
    std::set<std::string> codes;
    for (const CheckResult& check : review.checks) {
      if (check.outcome != Outcome::kNotEvaluable || check.ruleId == "qc.accuracy") continue;
      if (!codes.insert(check.code).second) continue;
      whyNotEvaluable += whyNotEvaluable.empty() ? " (see " : ", ";
      whyNotEvaluable += check.code;
    }
    if (!whyNotEvaluable.empty()) whyNotEvaluable += ")";
  }
  for (size_t i = 0; i < verdicts.size(); ++i) {
    if (verdicts[i] == BracketVerdict::kNotPatient) continue;
    SampleDisposition& d = out.emplace_back();  // filled in place
    d.sampleIndex = i;
    d.sampleId = batch.samples[i].sampleId;
    d.analyte = review.analyte;
    CheckResult& c = d.reason;
    c = analyteCheck(review.analyte, "qc.bracketing", "QC_BRACKETED");
    c.subject = "result";
    c.onFail = DispositionKind::kReject;
    if (review.outcome == Outcome::kFail) {
      c.ruleId = "qc.run";
      c.code = "QC_RUN_REJECTED";
      c.outcome = Outcome::kFail;
      c.message += "the QC of this run was rejected";
    } else if (!batch.listedInRunOrder) {
      // Which QC came before and after this patient is unknown: one batch finding
      // (RUN_ORDER_UNKNOWN) explains why; this short one holds the result.
      c.code = "QC_NOT_BRACKETED";
      c.outcome = Outcome::kNotEvaluable;
      c.message +=
          "QC bracketing not evaluated: the injection order is unknown (RUN_ORDER_UNKNOWN)";
    } else if (verdicts[i] == BracketVerdict::kAfterFailure) {
      c.code = "QC_BRACKET_FAILED";
      c.outcome = Outcome::kFail;
      c.message += injectionOf(batch.samples[i]);
      c.message += " ran after the last passing QC before a failed QC: re-run from that QC";
    } else if (verdicts[i] == BracketVerdict::kNotBracketed) {
      c.code = "QC_NOT_BRACKETED";
      c.outcome = Outcome::kNotEvaluable;
      c.message += injectionOf(batch.samples[i]);
      c.message += " is not bracketed: no passing QC evaluation both before and after it";
    } else if (review.outcome == Outcome::kNotEvaluable) {
      c.ruleId = "qc.run";
      c.code = "QC_NOT_EVALUABLE";
      c.outcome = Outcome::kNotEvaluable;
      c.message += "the QC of this run could not be evaluated";
      c.message += whyNotEvaluable;
    } else {
      c.message += "bracketed by passing QC";
    }
    d.kind = c.outcome == Outcome::kPass   ? DispositionKind::kRelease
             : c.outcome == Outcome::kFail ? DispositionKind::kReject
                                           : DispositionKind::kHold;
  }
}

AnalyteQcReview reviewAnalyte(const Message& batch, const std::string& analyte,
                              const AnalyteInputs& inputs, const QcReviewOptions& options) {
  AnalyteQcReview review;
  review.analyte = analyte;
  review.series = qcSeriesKey(analyte, options.instrument, options.method);
  for (size_t i = 0; i < batch.samples.size(); ++i) {
    const Sample& s = batch.samples[i];
    if (s.kind != SampleKind::kQc) continue;
    if (const Result* r = inputs.results[i]) {
      review.injections.push_back(measureInjection(s, i, *r, options.acceptance));
    }
  }
  levelsFromNominals(review.injections, inputs.results);
  if (review.injections.empty()) {
    CheckResult c = analyteCheck(analyte, "qc.run_acceptance", "QC_MISSING");
    c.outcome = Outcome::kNotEvaluable;
    c.message += "no QC injection in this batch";
    review.checks.push_back(c);
  } else {
    for (const QcInjection& q : review.injections) {
      review.checks.push_back(accuracyCheck(analyte, q, options.acceptance));
    }
    review.checks.push_back(runAcceptanceCheck(analyte, review.injections, options.acceptance));
    if (options.applyWestgard) applyWestgard(inputs, options, review);
  }
  review.outcome = worstRunOutcome(review);
  return review;
}

}  // namespace

std::string qcSeriesKey(const std::string& analyte, const std::string& instrument,
                        const std::string& method) {
  return analyte + "@" + instrument + (method.empty() ? "" : "#" + method);
}

QcReview reviewQc(const Message& batch, const QcHistory& history, const QcReviewOptions& options) {
  // The analytes of the QC and patient injections, in order of first appearance.
  std::vector<std::string> analytes;
  std::unordered_map<std::string_view, size_t> index;
  for (const Sample& s : batch.samples) {
    if (s.kind != SampleKind::kQc && s.kind != SampleKind::kUnknown) continue;
    size_t next = 0;  // samples usually list the analytes alike: try the next one first
    for (const Result& r : s.results) {
      const std::string& a = r.instrumentCode;
      if (r.internalStandard || a.empty()) continue;
      if (next < analytes.size() && analytes[next] == a) {
        ++next;
        continue;
      }
      auto [it, added] = index.emplace(a, analytes.size());
      if (added) analytes.push_back(a);
      next = it->second + 1;
    }
  }
  // One pass over the batch, the targets and the history instead of one per analyte.
  std::vector<AnalyteInputs> inputs(analytes.size());
  for (AnalyteInputs& in : inputs) in.results.assign(batch.samples.size(), nullptr);
  for (size_t i = 0; i < batch.samples.size(); ++i) {
    for (const Result& r : batch.samples[i].results) {
      if (r.internalStandard) continue;
      auto it = index.find(analyteOf(r));
      if (it != index.end() && !inputs[it->second].results[i]) inputs[it->second].results[i] = &r;
    }
  }
  for (const QcTarget& t : history.targets) {
    if (auto it = index.find(t.analyte); it != index.end()) {
      inputs[it->second].targets.push_back(&t);
    }
  }
  std::unordered_map<std::string_view, std::vector<const QcValue*>> bySeries;
  if (options.applyWestgard) {
    for (const QcValue& v : history.values) bySeries[v.series].push_back(&v);
  }
  QcReview out;
  // At most one disposition per patient injection and analyte: one allocation, no moves.
  size_t patients = static_cast<size_t>(
      std::count_if(batch.samples.begin(), batch.samples.end(),
                    [](const Sample& s) { return s.kind == SampleKind::kUnknown; }));
  out.dispositions.reserve(patients * analytes.size());
  for (size_t a = 0; a < analytes.size(); ++a) {
    const std::string& analyte = analytes[a];
    if (options.applyWestgard) {
      auto it = bySeries.find(qcSeriesKey(analyte, options.instrument, options.method));
      if (it != bySeries.end()) inputs[a].history = &it->second;
    }
    AnalyteQcReview review = reviewAnalyte(batch, analyte, inputs[a], options);
    out.checks.insert(out.checks.end(), review.checks.begin(), review.checks.end());
    addDispositions(batch, review, inputs[a], out.dispositions);
    out.analytes.push_back(std::move(review));
  }
  return out;
}

std::vector<BracketVerdict> bracketPatients(std::span<const BracketInput> injections) {
  // Group the QC injections into evaluations: a patient between two QC injections splits them.
  struct Evaluation {
    size_t first;
    size_t last;
    Outcome outcome;
  };
  std::vector<Evaluation> evaluations;
  bool open = false;
  for (size_t i = 0; i < injections.size(); ++i) {
    const BracketInput& in = injections[i];
    if (in.role == InjectionRole::kPatient) open = false;
    if (in.role != InjectionRole::kQc) continue;
    if (!open) evaluations.push_back({i, i, Outcome::kPass});
    open = true;
    Evaluation& e = evaluations.back();
    e.last = i;
    if (in.qcOutcome == Outcome::kFail || e.outcome == Outcome::kFail) {
      e.outcome = Outcome::kFail;
    } else if (in.qcOutcome != Outcome::kPass) {
      e.outcome = Outcome::kNotEvaluable;
    }
  }
  // Everything after the last passing evaluation before the first failed one is to be re-run.
  size_t rejectAfter = injections.size();
  for (size_t k = 0; k < evaluations.size(); ++k) {
    if (evaluations[k].outcome != Outcome::kFail) continue;
    rejectAfter = 0;
    for (size_t j = k; j-- > 0;) {
      if (evaluations[j].outcome == Outcome::kPass) {
        rejectAfter = evaluations[j].last + 1;
        break;
      }
    }
    break;
  }
  std::vector<BracketVerdict> verdicts(injections.size(), BracketVerdict::kNotPatient);
  size_t next = 0;  // the first evaluation that ends after the current injection
  for (size_t i = 0; i < injections.size(); ++i) {
    while (next < evaluations.size() && evaluations[next].last < i) ++next;
    if (injections[i].role != InjectionRole::kPatient) continue;
    if (i >= rejectAfter) {
      verdicts[i] = BracketVerdict::kAfterFailure;
      continue;
    }
    bool before = next > 0 && evaluations[next - 1].outcome == Outcome::kPass;
    bool after = next < evaluations.size() && evaluations[next].outcome == Outcome::kPass;
    verdicts[i] = before && after ? BracketVerdict::kBracketed : BracketVerdict::kNotBracketed;
  }
  return verdicts;
}

QcTargetEstimate establishTarget(std::span<const TargetPoint> points,
                                 const TargetOptions& options) {
  std::vector<double> values;
  values.reserve(points.size());
  for (const TargetPoint& p : points) values.push_back(p.value);
  TrimmedSummary trimmed = summarizeWithoutOutliers(values, options.outlierSd);
  QcTargetEstimate t;
  t.summary = trimmed.kept;
  t.removed = trimmed.removed;
  std::set<int> runs, days;
  bool runsKnown = true, daysKnown = true;
  for (size_t i = 0; i < points.size(); ++i) {
    if (std::binary_search(t.removed.begin(), t.removed.end(), i)) continue;
    runsKnown = runsKnown && points[i].run >= 0;
    daysKnown = daysKnown && points[i].day >= 0;
    runs.insert(points[i].run);
    days.insert(points[i].day);
  }
  t.runs = runsKnown && t.summary.n > 0 ? runs.size() : 0;
  t.days = daysKnown && t.summary.n > 0 ? days.size() : 0;
  auto note = [&](size_t have, size_t need, const char* what) {
    if (have >= need) return;
    t.why += (t.why.empty() ? "" : "; ") + std::to_string(have) + " " + what + " < " +
             std::to_string(need);
  };
  note(t.summary.n, options.minValues, "values");
  if (t.runs > 0) note(t.runs, options.minRuns, "runs");
  if (t.days > 0) note(t.days, options.minDays, "days");
  if (!(t.summary.sd > 0) && t.why.empty()) t.why = "no spread";
  t.provisional = !t.why.empty();
  return t;
}

QcTargetEstimate establishTarget(std::span<const double> values, const TargetOptions& options) {
  std::vector<TargetPoint> points;
  points.reserve(values.size());
  for (double v : values) points.push_back({v, -1, -1});
  return establishTarget(points, options);
}

double familyFalseRejection(double pFalseReject, int analytes, int levels) {
  return 1.0 - std::pow(1.0 - pFalseReject, static_cast<double>(analytes) * levels);
}

double sigmaMetric(double teaPercent, double biasPercent, double cvPercent) {
  if (!std::isfinite(teaPercent) || !std::isfinite(biasPercent) || !std::isfinite(cvPercent) ||
      !(cvPercent > 0)) {
    return kNaN;
  }
  return (teaPercent - std::fabs(biasPercent)) / cvPercent;
}

RuleSuggestion suggestRules(double sigma, int levels) {
  using R = WestgardRule;
  RuleSuggestion s;
  if (std::isnan(sigma)) return s;
  bool three = levels >= 3;
  s.rules = {R::k1_3s};
  s.measurements = three ? 3 : 2;
  s.runs = 1;
  if (sigma < 6) {
    if (three) {
      s.rules.insert(s.rules.end(), {R::k2of3_2s, R::kR_4s});
    } else {
      s.rules.insert(s.rules.end(), {R::k2_2s, R::kR_4s});
    }
  }
  if (sigma < 5) {
    s.rules.push_back(three ? R::k3_1s : R::k4_1s);
    if (!three) {
      s.measurements = 4;
      s.alternative = "N=2, R=2";
    }
  }
  if (sigma < 4) {
    s.rules.push_back(three ? R::k6_x : R::k8_x);
    s.measurements = three ? 6 : 4;
    s.runs = three ? 1 : 2;
    s.alternative = three ? "N=3, R=2" : "N=2, R=4";
  }
  s.methodUnacceptable = sigma < 3;
  return s;
}

CheckResult checkSigma(double sigma) {
  CheckResult c;
  c.ruleId = "qc.sigma";
  c.code = "METHOD_UNACCEPTABLE_PERFORMANCE";
  c.subject = "analyte";
  c.limit = "≥ 3 sigma";
  c.onFail = DispositionKind::kHold;
  if (std::isnan(sigma)) {
    c.outcome = Outcome::kNotEvaluable;
    c.message = "sigma metric not evaluable (CV missing or not positive)";
    return c;
  }
  c.measured = num(sigma);
  c.outcome = sigma < 3 ? Outcome::kFail : Outcome::kPass;
  c.message = "sigma metric " + c.measured +
              (sigma < 3 ? " below 3: the method performs "
                           "unacceptably"
                         : "");
  return c;
}

}  // namespace labgate::rules
