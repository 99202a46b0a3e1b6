// The analytics rules on one LC-MS/MS batch: a 96-injection plate (8 calibrators, 3 QC levels ×
// 2, 2 blanks, 74 patients) × 50 analytes with internal standards, evaluated with every check on
// (peaks, calibration, QC acceptance and Westgard against a 200-value history, diagnostics,
// trends against 20 batches, autoverification). The issue's bar: well under 10 ms per batch.
// Also the calibration fit alone (QR) for the curve sizes labs use.
#include <benchmark/benchmark.h>

#include <random>

#include "rules/calibration.h"
#include "rules/rule_set.h"

namespace {

using namespace labgate;

constexpr int kAnalytes = 50;

Result analyte(int a, double x, double isArea, std::mt19937& rng, std::optional<double> nominal) {
  std::normal_distribution<double> noise(1.0, 0.03);
  Result r;
  r.instrumentCode = "A" + std::to_string(a);
  Peak p;
  double slope = 0.01 * (1 + a % 7);
  double ratio = slope * x * noise(rng);
  p.internalStandardArea = isArea * noise(rng);
  p.area = ratio * *p.internalStandardArea;
  p.responseRatio = ratio;
  p.height = *p.area / 8;
  p.retentionTime = 2.0 + 0.1 * a + 0.005 * (noise(rng) - 1);
  p.expectedRetentionTime = 2.0 + 0.1 * a;
  p.internalStandardRt = p.retentionTime;
  p.qualifierArea = *p.area * 0.35 * noise(rng);
  p.ionRatio = *p.qualifierArea / *p.area;  // a fraction, as the model holds it
  p.signalToNoise = 50 + x;
  p.width = 0.09 * noise(rng);
  p.asymmetry = 1.1 * noise(rng);
  p.expectedConcentration = nominal;
  p.calculatedConcentration = x;
  r.numeric = x;
  r.value = std::to_string(x);
  r.peak = p;
  return r;
}

Message plate() {
  std::mt19937 rng(42);
  Message m;
  auto add = [&](const std::string& id, SampleKind kind, const std::string& level, double x,
                 std::optional<double> nominal) {
    Sample s;
    s.sampleId = id;
    s.kind = kind;
    s.level = level;
    for (int a = 0; a < kAnalytes; ++a) s.results.push_back(analyte(a, x, 1e6, rng, nominal));
    m.samples.push_back(std::move(s));
  };
  const double levels[] = {1, 2, 5, 10, 25, 50, 100, 200};
  int n = 0;
  for (double x : levels) add("CAL" + std::to_string(++n), SampleKind::kCalibrator, "", x, x);
  add("BLK1", SampleKind::kBlank, "", 0.001, std::nullopt);
  const char* qcLevels[] = {"Low", "Mid", "High"};
  const double qcValues[] = {3, 40, 160};
  for (int i = 0; i < 3; ++i)
    add(std::string("QC") + qcLevels[i], SampleKind::kQc, qcLevels[i], qcValues[i], qcValues[i]);
  std::uniform_real_distribution<double> patient(0.5, 180);
  for (int p = 0; p < 74; ++p)
    add("P" + std::to_string(p), SampleKind::kUnknown, "", patient(rng), std::nullopt);
  for (int i = 0; i < 3; ++i)
    add(std::string("QC2") + qcLevels[i], SampleKind::kQc, qcLevels[i], qcValues[i], qcValues[i]);
  add("BLK2", SampleKind::kBlank, "", 0.001, std::nullopt);
  return m;
}

std::string ruleSetJson() {
  std::string json =
      R"({"version":"bench","qc":{"westgard":true,"rules":["1_3s","2_2s","R_4s","4_1s","10_x"]},
    "autoverify":{"require_critical_limits":false},"analytes":{)";
  for (int a = 0; a < kAnalytes; ++a) {
    if (a) json += ",";
    json += "\"A" + std::to_string(a) +
            R"(":{"limits":{"reference_low":1,"reference_high":150,"critical_high":170},
              "qc_targets":{"Low":{"mean":3,"sd":0.15},"Mid":{"mean":40,"sd":2},"High":{"mean":160,"sd":8}}})";
  }
  return json + "}}";
}

RulesContext historyContext() {
  RulesContext c;
  c.instrument = "qqq-01";
  c.qcHistory = [](const std::string& analyte) {
    std::vector<QcValue> h;
    std::mt19937 rng(7);
    std::normal_distribution<double> z(0, 1);
    const char* levels[] = {"Low", "Mid", "High"};
    const double means[] = {3, 40, 160}, sds[] = {0.15, 2, 8};
    for (int batch = 1; batch <= 66; ++batch) {
      for (int l = 0; l < 3; ++l) {
        QcValue v;
        v.analyte = analyte;
        v.level = levels[l];
        v.value = means[l] + sds[l] * z(rng);
        v.targetMean = means[l];
        v.targetSd = sds[l];
        v.batch = batch;
        h.push_back(v);
      }
    }
    return h;
  };
  c.metricHistory = [](const std::string&, const std::string& metric) {
    std::vector<double> h(20, metric == "cal_rt_mean" ? 2.5 : 1e6);
    return h;
  };
  return c;
}

void BM_RulesOnePlate(benchmark::State& state) {
  auto rules = rules::parseRuleSet(ruleSetJson(), "bench");
  if (!rules.isOk()) {
    state.SkipWithError(rules.status().toString().c_str());
    return;
  }
  const Message batch = plate();
  const RulesContext context = historyContext();
  size_t findings = 0;
  Message m;  // copied and destroyed while the timer is paused: only the evaluation is timed
  for (auto _ : state) {
    state.PauseTiming();
    m = batch;
    state.ResumeTiming();
    rules.value()->evaluate(m, context);
    benchmark::DoNotOptimize(m.batchFindings.data());
    state.PauseTiming();
    findings = m.batchFindings.size();
    for (const Sample& s : m.samples) {
      for (const Result& r : s.results) findings += r.findings.size();
    }
    state.ResumeTiming();
  }
  state.counters["results"] = static_cast<double>(batch.resultCount());
  state.counters["findings"] = static_cast<double>(findings);
  state.counters["results/s"] = benchmark::Counter(
      static_cast<double>(batch.resultCount()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RulesOnePlate)->Unit(benchmark::kMillisecond);

void BM_CalibrationFit(benchmark::State& state) {
  std::vector<rules::CalPoint> points;
  for (int i = 0; i < state.range(0); ++i) {
    double x = 1.0 + i * 7.5;
    points.push_back({x, 0.013 * x + 0.002 * x * x / 1000 + 0.001});
  }
  for (auto _ : state) {
    auto fit = rules::fitCalibration(points, rules::CalibrationModel::kQuadratic,
                                     rules::CalibrationWeight::kInverseX2);
    benchmark::DoNotOptimize(fit.coefficients.data());
  }
}
BENCHMARK(BM_CalibrationFit)->Arg(8)->Arg(24)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
