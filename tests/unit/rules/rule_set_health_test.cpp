// Issue 19: the instrument-health checks of one batch wired into the rule engine — batch IS CV,
// IS_DRIFT_ONSET with its hold list, CONSIDER_QUADRATIC_OR_SATURATION as advice, the lab's SST
// criteria as a gate, carryover after a lab-set threshold, repeat injections of one sample id —
// and the delta-check keys refused because no patient identity is stored.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "rules/rule_set.h"

namespace labgate::rules {
namespace {

std::shared_ptr<const RulesStage> ruleSet(const std::string& json) {
  auto parsed = parseRuleSet(json, "t.json");
  EXPECT_TRUE(parsed.isOk()) << parsed.status().toString();
  return parsed.isOk() ? parsed.value() : nullptr;
}

std::string error(const std::string& json) {
  auto parsed = parseRuleSet(json, "t.json");
  return parsed.isOk() ? "" : parsed.status().toString();
}

/// One CORT result: `isFactor` scales both the analyte and the IS area (the response ratio, and so
/// the concentration, stays the same: only the IS response moves).
Result cort(double area, std::optional<double> nominal, std::optional<double> calc,
            double isFactor = 1.0) {
  Result r;
  r.instrumentCode = "CORT";
  Peak p;
  p.area = area * isFactor;
  p.internalStandardArea = 1e5 * isFactor;
  p.responseRatio = area / 1e5;
  p.retentionTime = 3.40;
  p.expectedRetentionTime = 3.40;
  p.signalToNoise = 200;
  p.expectedConcentration = nominal;
  p.calculatedConcentration = calc;
  if (calc) {
    r.numeric = calc;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", *calc);
    r.value = buf;
  }
  r.peak = p;
  return r;
}

Sample sample(const std::string& id, SampleKind kind, const std::string& level, Result result) {
  Sample s;
  s.sampleId = id;
  s.kind = kind;
  s.level = level;
  s.results.push_back(std::move(result));
  return s;
}

/// Six calibrators on y = 0.1·x (the IS of calibrator i scaled by calIs[i]), a blank after the top
/// calibrator, two QCs per level, then `patients` (concentration, IS factor) named P1, P2, ...,
/// then a closing low QC.
Message batch(const std::vector<std::pair<double, double>>& patients,
              const std::vector<double>& calIs = {1, 1, 1, 1, 1, 1}) {
  Message m;
  m.listedInRunOrder = true;
  const double levels[] = {1, 2, 5, 10, 50, 100};
  for (size_t i = 0; i < 6; ++i) {
    const double x = levels[i];
    m.samples.push_back(sample("CAL" + std::to_string(i + 1), SampleKind::kCalibrator, "",
                               cort(1e4 * x, x, x, calIs[i])));
  }
  m.samples.push_back(sample("BLK", SampleKind::kBlank, "", cort(10, {}, {})));
  for (int i = 0; i < 2; ++i) {
    m.samples.push_back(sample("QCL" + std::to_string(i), SampleKind::kQc, "Low", cort(3e4, 3, 3)));
    m.samples.push_back(
        sample("QCH" + std::to_string(i), SampleKind::kQc, "High", cort(8e5, 80, 80)));
  }
  for (size_t i = 0; i < patients.size(); ++i) {
    const double x = patients[i].first;
    m.samples.push_back(sample("P" + std::to_string(i + 1), SampleKind::kUnknown, "",
                               cort(1e4 * x, {}, x, patients[i].second)));
  }
  m.samples.push_back(sample("QCL9", SampleKind::kQc, "Low", cort(3e4, 3, 3)));
  return m;
}

const Result& resultOf(const Message& m, const std::string& sampleId, size_t nth = 0) {
  for (const Sample& s : m.samples) {
    if (s.sampleId == sampleId && nth-- == 0) return s.results.front();
  }
  throw std::runtime_error("no sample " + sampleId);
}

const Finding* findingOf(const Result& r, const std::string& rule) {
  for (const Finding& f : r.findings) {
    if (f.ruleId == rule) return &f;
  }
  return nullptr;
}

const BatchFinding* batchFindingOf(const Message& m, const std::string& code) {
  for (const BatchFinding& b : m.batchFindings) {
    if (b.finding.message.rfind(code + ":", 0) == 0) return &b;  // "CODE: words"
  }
  return nullptr;
}

std::optional<double> metricOf(const Message& m, const std::string& metric) {
  for (const BatchMetric& b : m.metrics) {
    if (b.metric == metric) return b.value;
  }
  return std::nullopt;
}

std::string describe(const Result& r) {
  std::string out;
  for (const Finding& f : r.findings) {
    out += f.ruleId + " [" + toString(f.action) + "] " + f.message + " (" + f.measured + " vs " +
           f.limit + "); ";
  }
  return out;
}

DispositionKind worst(const Result& r) {
  DispositionKind d = DispositionKind::kRelease;
  for (const Finding& f : r.findings) {
    if (f.severity != Severity::kInfo && f.action > d) d = f.action;
  }
  return d;
}

/// The test batch's rule set (no IS RT, no qualifier in the test data), with `extra` top-level
/// members spliced in (",\"batch\":{...}").
std::string rules(const std::string& extra = "", const std::string& calibration = "") {
  return R"({"version":"health-1","calibration":{"weight":"1/x2")" + calibration + R"(},
  "peak":{"not_applicable":["is_rt_window","ion_ratio"]},
  "qc":{"westgard":false},"autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false})" +
         extra + "}";
}

const std::vector<std::pair<double, double>> kPatients = {{25, 1}, {12, 1}, {40, 1}};

TEST(HealthBaseline, TheTestBatchIsCleanAndStoresItsHealthMetrics) {
  auto engine = ruleSet(rules());
  ASSERT_TRUE(engine);
  Message m = batch(kPatients);
  engine->evaluate(m, RulesContext{});
  for (const char* p : {"P1", "P2", "P3"}) {
    EXPECT_EQ(worst(resultOf(m, p)), DispositionKind::kRelease) << describe(resultOf(m, p));
  }
  // The within-batch scatter of log(IS ratio) (here 0), the top calibrator's accuracy of a linear
  // curve, and the carryover the blank after the top calibrator measured (10 / 1e6 = 0.001 %).
  EXPECT_NEAR(metricOf(m, "is_log_ratio_sd").value_or(-1), 0.0, 1e-12);
  EXPECT_NEAR(metricOf(m, "cal_top_accuracy_pct").value_or(-1), 100.0, 1e-6);
  EXPECT_NEAR(metricOf(m, "carryover_pct").value_or(-1), 0.001, 1e-9);
}

// ---- Batch IS CV (peak.is_cv) ------------------------------------------------------------------

TEST(HealthIsCv, AFailingIsCvHoldsThePatientsAndAWarningIsANote) {
  // Calibrator IS at 60 % and 140 % alternately, QCs at 100 %: CV of the 11 cal/QC IS areas
  // = 36 % (> 25 %: fail).
  Message m = batch(kPatients, {0.6, 1.4, 0.6, 1.4, 0.6, 1.4});
  ruleSet(rules())->evaluate(m, RulesContext{});
  const BatchFinding* cv = batchFindingOf(m, "IS_CV");
  ASSERT_TRUE(cv);
  EXPECT_EQ(cv->analyte, "CORT");
  EXPECT_EQ(cv->finding.action, DispositionKind::kHold);
  EXPECT_EQ(cv->finding.limit, "25");
  const Result& p1 = resultOf(m, "P1");
  EXPECT_EQ(worst(p1), DispositionKind::kHold) << describe(p1);
  const Finding* held = findingOf(p1, "peak.is_cv");
  ASSERT_TRUE(held) << describe(p1);
  EXPECT_NE(held->message.find("see the batch finding IS_CV"), std::string::npos);

  // 80 % / 120 %: CV 18 % (> 15 %, ≤ 25 %): a note for the batch, the patients released.
  Message warn = batch(kPatients, {0.8, 1.2, 0.8, 1.2, 0.8, 1.2});
  ruleSet(rules())->evaluate(warn, RulesContext{});
  const BatchFinding* note = batchFindingOf(warn, "IS_CV");
  ASSERT_TRUE(note);
  EXPECT_EQ(note->finding.action, DispositionKind::kRelease);
  EXPECT_EQ(worst(resultOf(warn, "P1")), DispositionKind::kRelease)
      << describe(resultOf(warn, "P1"));

  // The rule set's thresholds take effect, and batch.is_cv switches the check off.
  Message lenient = batch(kPatients, {0.6, 1.4, 0.6, 1.4, 0.6, 1.4});
  ruleSet(R"({"version":"v","calibration":{"weight":"1/x2"},
    "peak":{"not_applicable":["is_rt_window","ion_ratio"],"is_cv_warn_pct":40,"is_cv_fail_pct":50},
    "qc":{"westgard":false},"autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false}})")
      ->evaluate(lenient, RulesContext{});
  EXPECT_FALSE(batchFindingOf(lenient, "IS_CV"));
  Message off = batch(kPatients, {0.6, 1.4, 0.6, 1.4, 0.6, 1.4});
  ruleSet(rules(R"(,"batch":{"is_cv":false})"))->evaluate(off, RulesContext{});
  EXPECT_FALSE(batchFindingOf(off, "IS_CV"));
  EXPECT_FALSE(findingOf(resultOf(off, "P1"), "peak.is_cv"));
}

// ---- IS_DRIFT_ONSET: the hold list -------------------------------------------------------------

/// Eight patients: the first four at the IS reference, then the IS falls 0.85, 0.80, 0.75, 0.70.
/// With sd(log r) = 0.05 and k = 0.5, h = 4, the lower CUSUM on z = log(r)/0.05 is 0 through the
/// calibrators, QCs and P1–P4 (r = 1), then at P5 z = ln 0.85/0.05 = −3.25: SL = 3.25 − 0.5 =
/// 2.75 (no signal); at P6 z = ln 0.80/0.05 = −4.46: SL = 2.75 + 4.46 − 0.5 = 6.71 > 4: the onset
/// is P6: P1–P5 are released, P6–P8 held.
const std::vector<std::pair<double, double>> kDrifting = {
    {25, 1}, {12, 1}, {40, 1}, {8, 1}, {30, 0.85}, {20, 0.80}, {15, 0.75}, {22, 0.70}};

TEST(HealthIsDriftOnset, PatientsFromTheOnsetOnAreHeldEarlierOnesAreNot) {
  auto engine = ruleSet(rules(R"(,"batch":{"is_drift_onset":{"sd_log_ratio":0.05}})"));
  ASSERT_TRUE(engine);
  Message m = batch(kDrifting);
  engine->evaluate(m, RulesContext{});
  const BatchFinding* onset = batchFindingOf(m, "IS_DRIFT_ONSET");
  ASSERT_TRUE(onset);
  EXPECT_EQ(onset->analyte, "CORT");
  EXPECT_EQ(onset->finding.measured, "sample P6");
  EXPECT_NE(onset->finding.message.find("IS response falls"), std::string::npos)
      << onset->finding.message;
  for (const char* before : {"P1", "P2", "P3", "P4", "P5"}) {
    const Result& r = resultOf(m, before);
    EXPECT_FALSE(findingOf(r, "trend.is_drift_onset")) << before << ": " << describe(r);
    EXPECT_EQ(worst(r), DispositionKind::kRelease) << before << ": " << describe(r);
  }
  for (const char* after : {"P6", "P7", "P8"}) {
    const Result& r = resultOf(m, after);
    const Finding* held = findingOf(r, "trend.is_drift_onset");
    ASSERT_TRUE(held) << after << ": " << describe(r);
    EXPECT_EQ(held->action, DispositionKind::kHold);
    EXPECT_NE(held->message.find("IS drift onset (sample P6"), std::string::npos) << held->message;
    EXPECT_EQ(worst(r), DispositionKind::kHold);
  }
  // The closing QC is not a patient: not on the hold list.
  EXPECT_FALSE(findingOf(resultOf(m, "QCL9"), "trend.is_drift_onset"));
}

TEST(HealthIsDriftOnset, TheScaleComesFromEarlierBatchesAndHoldCanBeSwitchedOff) {
  // No configured SD and no history: the CUSUM has no scale and says nothing.
  Message none = batch(kDrifting);
  ruleSet(rules())->evaluate(none, RulesContext{});
  EXPECT_FALSE(batchFindingOf(none, "IS_DRIFT_ONSET"));
  EXPECT_FALSE(findingOf(resultOf(none, "P8"), "trend.is_drift_onset"));

  // Earlier batches' within-batch SD of log(IS ratio) (median 0.05) gives the same onset.
  RulesContext context;
  context.metricHistory = [](const std::string&, const std::string& metric) {
    return metric == "is_log_ratio_sd" ? std::vector<double>{0.04, 0.05, 0.06}
                                       : std::vector<double>{};
  };
  Message m = batch(kDrifting);
  ruleSet(rules())->evaluate(m, context);
  const BatchFinding* onset = batchFindingOf(m, "IS_DRIFT_ONSET");
  ASSERT_TRUE(onset);
  EXPECT_EQ(onset->finding.measured, "sample P6");
  EXPECT_TRUE(findingOf(resultOf(m, "P6"), "trend.is_drift_onset"));
  EXPECT_FALSE(findingOf(resultOf(m, "P5"), "trend.is_drift_onset"));

  // hold: false: the onset is a note, no patient is held for it.
  Message note = batch(kDrifting);
  ruleSet(rules(R"(,"batch":{"is_drift_onset":{"sd_log_ratio":0.05,"hold":false}})"))
      ->evaluate(note, RulesContext{});
  ASSERT_TRUE(batchFindingOf(note, "IS_DRIFT_ONSET"));
  EXPECT_EQ(batchFindingOf(note, "IS_DRIFT_ONSET")->finding.action, DispositionKind::kRelease);
  EXPECT_FALSE(findingOf(resultOf(note, "P8"), "trend.is_drift_onset"));

  // A steady IS: no onset.
  Message steady = batch(kPatients);
  ruleSet(rules(R"(,"batch":{"is_drift_onset":{"sd_log_ratio":0.05}})"))
      ->evaluate(steady, RulesContext{});
  EXPECT_FALSE(batchFindingOf(steady, "IS_DRIFT_ONSET"));
}

// ---- CONSIDER_QUADRATIC_OR_SATURATION ----------------------------------------------------------

TEST(HealthConsiderQuadratic, ATopCalibratorBiasedLowInConsecutiveBatchesIsAdviceOnly) {
  Message m = batch(kPatients);
  // The top calibrator's response 15 % low: its back-calculated accuracy falls below 90 %.
  m.samples[5].results[0].peak->responseRatio = 0.1 * 100 * 0.85;
  RulesContext context;
  std::vector<double> history = {86, 88};
  context.metricHistory = [&history](const std::string&, const std::string& metric) {
    return metric == "cal_top_accuracy_pct" ? history : std::vector<double>{};
  };
  ruleSet(rules())->evaluate(m, context);
  const std::optional<double> top = metricOf(m, "cal_top_accuracy_pct");
  ASSERT_TRUE(top);
  ASSERT_LT(*top, 90.0);
  const BatchFinding* advice = batchFindingOf(m, "CONSIDER_QUADRATIC_OR_SATURATION");
  ASSERT_TRUE(advice);
  EXPECT_EQ(advice->analyte, "CORT");
  EXPECT_EQ(advice->finding.action, DispositionKind::kRelease) << "advice never holds";
  for (const Finding& f : resultOf(m, "P1").findings) {
    EXPECT_EQ(f.message.find("CONSIDER_QUADRATIC_OR_SATURATION"), std::string::npos);
  }

  // One earlier batch above 90 %: no run of three, no advice.
  history = {95, 88};
  Message again = batch(kPatients);
  again.samples[5].results[0].peak->responseRatio = 0.1 * 100 * 0.85;
  ruleSet(rules())->evaluate(again, context);
  EXPECT_FALSE(batchFindingOf(again, "CONSIDER_QUADRATIC_OR_SATURATION"));

  // batch.consider_quadratic.batches = 2: the last two (88 and this batch's) are enough.
  Message two = batch(kPatients);
  two.samples[5].results[0].peak->responseRatio = 0.1 * 100 * 0.85;
  ruleSet(rules(R"(,"batch":{"consider_quadratic":{"batches":2}})"))->evaluate(two, context);
  EXPECT_TRUE(batchFindingOf(two, "CONSIDER_QUADRATIC_OR_SATURATION"));
}

// ---- The lab's SST criteria --------------------------------------------------------------------

Message batchWithSst(double signalToNoise) {
  Message m = batch(kPatients);
  Result sst = cort(2e5, {}, 20);
  sst.peak->signalToNoise = signalToNoise;
  m.samples.insert(m.samples.begin(),
                   sample("SST1", SampleKind::kSystemSuitability, "", std::move(sst)));
  return m;
}

TEST(HealthSst, ALabCriterionTheSstInjectionFailsHoldsTheBatchsPatients) {
  const std::string sst = R"(,"batch":{"sst":{"min_signal_to_noise":100,"rt_tolerance_min":0.05}})";
  Message m = batchWithSst(60);  // S/N 60 < 100 (the peak checks' own S/N limit is 10)
  ruleSet(rules(sst))->evaluate(m, RulesContext{});
  const BatchFinding* fail = batchFindingOf(m, "SST_FAIL");
  ASSERT_TRUE(fail);
  EXPECT_NE(fail->finding.message.find("failed SST_SIGNAL_TO_NOISE"), std::string::npos)
      << fail->finding.message;
  EXPECT_EQ(fail->finding.measured, "60");
  EXPECT_EQ(fail->finding.limit, "100");
  for (const char* p : {"P1", "P2", "P3"}) {
    const Result& r = resultOf(m, p);
    EXPECT_EQ(worst(r), DispositionKind::kHold) << describe(r);
    EXPECT_TRUE(findingOf(r, "autoverify.sst")) << describe(r);
  }

  Message pass = batchWithSst(300);
  ruleSet(rules(sst))->evaluate(pass, RulesContext{});
  EXPECT_FALSE(batchFindingOf(pass, "SST_FAIL"));
  EXPECT_EQ(worst(resultOf(pass, "P1")), DispositionKind::kRelease)
      << describe(resultOf(pass, "P1"));

  // Without the lab's criteria the same S/N 60 passes (the peak checks alone judge it).
  Message plain = batchWithSst(60);
  ruleSet(rules())->evaluate(plain, RulesContext{});
  EXPECT_FALSE(batchFindingOf(plain, "SST_FAIL"));
}

TEST(HealthSst, ACriterionTheExportCannotFeedHolds) {
  Message m = batchWithSst(300);  // the export carries no asymmetry
  ruleSet(rules(R"(,"batch":{"sst":{"max_asymmetry":1.8}})"))->evaluate(m, RulesContext{});
  const BatchFinding* fail = batchFindingOf(m, "SST_FAIL");
  ASSERT_TRUE(fail);
  EXPECT_NE(fail->finding.message.find("SST_ASYMMETRY: the export carries no peak asymmetry"),
            std::string::npos)
      << fail->finding.message;
  EXPECT_EQ(worst(resultOf(m, "P1")), DispositionKind::kHold);
}

TEST(HealthSst, AnAnalytesOwnCriteriaReplaceTheBatchDefaults) {
  // The analyte's own minimum S/N.
  Message own = batchWithSst(60);
  ruleSet(rules(R"(,"analytes":{"CORT":{"sst":{"min_signal_to_noise":100}}})"))
      ->evaluate(own, RulesContext{});
  ASSERT_TRUE(batchFindingOf(own, "SST_FAIL"));
  EXPECT_EQ(worst(resultOf(own, "P1")), DispositionKind::kHold);
  // batch.sst says S/N 100, the analyte's own criteria (area only) replace it: S/N 60 passes.
  Message replaced = batchWithSst(60);
  ruleSet(rules(R"(,"batch":{"sst":{"min_signal_to_noise":100}},)"
                R"("analytes":{"CORT":{"sst":{"min_area":1000}}})"))
      ->evaluate(replaced, RulesContext{});
  EXPECT_FALSE(batchFindingOf(replaced, "SST_FAIL"));
  EXPECT_EQ(worst(resultOf(replaced, "P1")), DispositionKind::kRelease)
      << describe(resultOf(replaced, "P1"));
  // An analyte without its own criteria takes batch.sst.
  Message inherited = batchWithSst(60);
  ruleSet(rules(R"(,"batch":{"sst":{"min_signal_to_noise":100}},)"
                R"("analytes":{"CORT":{"limits":{"reference_low":1}}})"))
      ->evaluate(inherited, RulesContext{});
  EXPECT_TRUE(batchFindingOf(inherited, "SST_FAIL"));
  EXPECT_NE(error(rules(R"(,"analytes":{"CORT":{"sst":{"min_sn":3}}})"))
                .find("analytes.CORT.sst: min_sn: unknown key"),
            std::string::npos)
      << error(rules(R"(,"analytes":{"CORT":{"sst":{"min_sn":3}}})"));
}

// ---- Carryover after a lab-set threshold -------------------------------------------------------

TEST(HealthCarryover, TheResultAfterOneAboveTheLabsThresholdIsHeld) {
  // P1 = 60 (within the range, ULOQ 100), P2 = 12 right after it.
  const std::vector<std::pair<double, double>> patients = {{60, 1}, {12, 1}, {40, 1}};
  Message plain = batch(patients);
  ruleSet(rules())->evaluate(plain, RulesContext{});
  EXPECT_FALSE(findingOf(resultOf(plain, "P2"), "calibration.carryover_suspect"));

  Message m = batch(patients);
  ruleSet(rules("", R"(,"carryover_threshold":50)"))->evaluate(m, RulesContext{});
  const Finding* suspect = findingOf(resultOf(m, "P2"), "calibration.carryover_suspect");
  ASSERT_TRUE(suspect) << describe(resultOf(m, "P2"));
  EXPECT_EQ(suspect->action, DispositionKind::kHold);
  EXPECT_NE(suspect->message.find("injected right after sample P1, which is above the carryover "
                                  "threshold 50"),
            std::string::npos)
      << suspect->message;
  EXPECT_NE(suspect->limit.find("carryover threshold 50"), std::string::npos) << suspect->limit;
  EXPECT_FALSE(findingOf(resultOf(m, "P3"), "calibration.carryover_suspect"))
      << "P3 follows P2 (12), not a high result";
  EXPECT_NE(error(rules("", R"(,"carryover_threshold":0)")).find("calibration.carryover_threshold"),
            std::string::npos);
}

// ---- Repeat injections of one sample id --------------------------------------------------------

TEST(HealthRepeatInjections, RepeatsThatDisagreeAreHeldRepeatsThatAgreeAreNot) {
  Message m = batch({{20, 1}, {30, 1}, {40, 1}, {41, 1}, {12, 1}});
  m.samples[11].sampleId = "S-17";  // P1 (20) and P2 (30): 40 % of their mean apart
  m.samples[12].sampleId = "S-17";
  m.samples[13].sampleId = "S-18";  // P3 (40) and P4 (41): 2.5 %
  m.samples[14].sampleId = "S-18";
  ruleSet(rules())->evaluate(m, RulesContext{});
  for (size_t nth : {0u, 1u}) {
    const Result& r = resultOf(m, "S-17", nth);
    const Finding* f = findingOf(r, "autoverify.repeat_injections");
    ASSERT_TRUE(f) << describe(r);
    EXPECT_EQ(f->message.rfind("REPEAT_INCONSISTENT: 2 injections of sample S-17 for CORT", 0), 0u)
        << f->message;
    EXPECT_EQ(f->measured, "40");
    EXPECT_EQ(f->limit, "20");
    EXPECT_EQ(f->action, DispositionKind::kHold);
  }
  for (size_t nth : {0u, 1u}) {
    EXPECT_FALSE(findingOf(resultOf(m, "S-18", nth), "autoverify.repeat_injections"));
    EXPECT_EQ(worst(resultOf(m, "S-18", nth)), DispositionKind::kRelease);
  }
  EXPECT_FALSE(findingOf(resultOf(m, "P5"), "autoverify.repeat_injections"));

  // Two injections below the LLOQ (1) are both reported as "<1": they agree.
  Message low = batch({{0.3, 1}, {0.6, 1}});
  low.samples[11].sampleId = low.samples[12].sampleId = "S-19";
  ruleSet(rules())->evaluate(low, RulesContext{});
  EXPECT_EQ(resultOf(low, "S-19").value.rfind('<', 0), 0u) << resultOf(low, "S-19").value;
  EXPECT_FALSE(findingOf(resultOf(low, "S-19"), "autoverify.repeat_injections"));
  EXPECT_FALSE(findingOf(resultOf(low, "S-19", 1), "autoverify.repeat_injections"));

  // A looser limit, or the check off.
  Message loose = batch({{20, 1}, {30, 1}});
  loose.samples[11].sampleId = loose.samples[12].sampleId = "S-17";
  ruleSet(rules(R"(,"batch":{"repeat_injections":{"max_diff_pct":50}})"))
      ->evaluate(loose, RulesContext{});
  EXPECT_FALSE(findingOf(resultOf(loose, "S-17"), "autoverify.repeat_injections"));
  Message off = batch({{20, 1}, {30, 1}});
  off.samples[11].sampleId = off.samples[12].sampleId = "S-17";
  ruleSet(rules(R"(,"batch":{"repeat_injections":{"enabled":false}})"))
      ->evaluate(off, RulesContext{});
  EXPECT_FALSE(findingOf(resultOf(off, "S-17"), "autoverify.repeat_injections"));
}

// ---- Rule-set keys -----------------------------------------------------------------------------

TEST(HealthRuleSetFile, DeltaKeysAreRefusedWithTheReason) {
  for (const char* key : {"delta_pct", "delta_abs", "cv_analytical_pct", "cv_intra_individual_pct",
                          "delta_window_days"}) {
    const std::string e = error(std::string(R"({"version":"1","analytes":{"CORT":{"limits":{")") +
                                key + R"(":5}}}})");
    EXPECT_NE(e.find(std::string("analytes.CORT.limits.") + key +
                     ": delta checks are impossible by construction: LabGate stores no patient "
                     "identity"),
              std::string::npos)
        << e;
  }
  EXPECT_NE(error(R"({"version":"1","limits":{"delta_pct":5}})").find("limits.delta_pct"),
            std::string::npos);
}

TEST(HealthRuleSetFile, BatchKeysAreReadStrictly) {
  EXPECT_NE(error(rules(R"(,"batch":{"is_cvv":true})")).find("batch: is_cvv: unknown key"),
            std::string::npos)
      << error(rules(R"(,"batch":{"is_cvv":true})"));
  EXPECT_NE(error(rules(R"(,"batch":{"is_drift_onset":{"h":0}})")).find("batch.is_drift_onset.h"),
            std::string::npos);
  EXPECT_NE(error(rules(R"(,"batch":{"is_drift_onset":{"sd_log_ratio":-1}})"))
                .find("batch.is_drift_onset.sd_log_ratio: must be > 0"),
            std::string::npos);
  EXPECT_NE(error(rules(R"(,"batch":{"consider_quadratic":{"batches":0}})"))
                .find("batch.consider_quadratic.batches"),
            std::string::npos);
  EXPECT_NE(error(rules(R"(,"batch":{"sst":{"min_area":"big"}})")).find("batch.sst.min_area"),
            std::string::npos);
  EXPECT_NE(error(rules(R"(,"batch":{"sst":{"max_asymmetry":0}})"))
                .find("batch.sst.max_asymmetry: must be > 0"),
            std::string::npos);
  EXPECT_NE(error(rules(R"(,"batch":{"repeat_injections":{"max_diff_pct":-3}})"))
                .find("batch.repeat_injections.max_diff_pct"),
            std::string::npos);
  EXPECT_TRUE(ruleSet(rules(
      R"(,"batch":{"is_cv":true,"is_drift_onset":{"enabled":true,"k":0.5,"h":4,"sd_log_ratio":0.05,"hold":true},
      "consider_quadratic":{"enabled":true,"batches":3,"top_accuracy_low_pct":90},
      "sst":{"rt_tolerance_min":0.1,"min_area":1000,"min_signal_to_noise":10,"max_width_min":0.3,"max_asymmetry":2},
      "repeat_injections":{"enabled":true,"max_diff_pct":20}})")));
}

}  // namespace
}  // namespace labgate::rules
