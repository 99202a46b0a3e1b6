// Tests for engine/metrics: the registry's handles and the Prometheus text format 0.0.4 (HELP and
// TYPE lines, label escaping, histogram buckets), and its refusal of malformed declarations.
#include "engine/metrics/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace labgate::metrics {
namespace {

TEST(Metrics, CounterRendersHelpTypeAndLabelledSeries) {
  Registry r;
  Counter c = r.counter("labgate_things_total", "Things seen.", {"connector", "outcome"});
  c.inc({"lab1", "ok"});
  c.inc({"lab1", "ok"}, 2);
  c.inc({"lab2", "bad"});
  EXPECT_EQ(c.value({"lab1", "ok"}), 3);
  EXPECT_EQ(c.value({"nobody", "ok"}), 0);
  EXPECT_EQ(r.render(),
            "# HELP labgate_things_total Things seen.\n"
            "# TYPE labgate_things_total counter\n"
            "labgate_things_total{connector=\"lab1\",outcome=\"ok\"} 3\n"
            "labgate_things_total{connector=\"lab2\",outcome=\"bad\"} 1\n");
}

TEST(Metrics, FamiliesRenderInNameOrderAndWithoutSeries) {
  Registry r;
  r.gauge("b_gauge", "B.").set(1.5);
  r.counter("a_total", "A, never counted.");
  EXPECT_EQ(r.render(),
            "# HELP a_total A, never counted.\n"
            "# TYPE a_total counter\n"
            "# HELP b_gauge B.\n"
            "# TYPE b_gauge gauge\n"
            "b_gauge 1.5\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.gauge("g", "line one\nback\\slash", {"name"}).set({"a\"b\\c\nd"}, 1);
  EXPECT_EQ(r.render(),
            "# HELP g line one\\nback\\\\slash\n"
            "# TYPE g gauge\n"
            "g{name=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  Histogram h = r.histogram("latency_seconds", "Latency.", {"destination"}, {0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 20.0}) h.observe({"lis"}, v);
  EXPECT_EQ(h.count({"lis"}), 4u);
  EXPECT_EQ(r.render(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{destination=\"lis\",le=\"0.1\"} 2\n"
            "latency_seconds_bucket{destination=\"lis\",le=\"1\"} 3\n"
            "latency_seconds_bucket{destination=\"lis\",le=\"10\"} 3\n"
            "latency_seconds_bucket{destination=\"lis\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{destination=\"lis\"} 20.65\n"
            "latency_seconds_count{destination=\"lis\"} 4\n");
}

TEST(Metrics, HistogramWithoutLabelsHasOnlyLe) {
  Registry r;
  r.histogram("h", "H.", {}, {1}).observe({}, 2);
  EXPECT_NE(r.render().find("h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_sum 2\nh_count 1\n"),
            std::string::npos)
      << r.render();
}

TEST(Metrics, ValuesAreFormattedShortestAndSpecialValuesSpelled) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(42), "42");
  EXPECT_EQ(formatValue(-3), "-3");
  EXPECT_EQ(formatValue(0.25), "0.25");
  EXPECT_EQ(formatValue(0.1), "0.1");
  EXPECT_EQ(formatValue(1e-6), "1e-06");
  EXPECT_EQ(formatValue(1735689600), "1735689600");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
}

TEST(Metrics, RedeclaringAnswersTheSameFamily) {
  Registry r;
  r.counter("x_total", "X.", {"a"}).inc({"1"});
  r.counter("x_total", "X.", {"a"}).inc({"1"});
  EXPECT_EQ(r.counter("x_total", "X.", {"a"}).value({"1"}), 2);
}

TEST(Metrics, MalformedDeclarationsAndUsesThrow) {
  Registry r;
  EXPECT_THROW(r.counter("1bad", "."), std::invalid_argument);
  EXPECT_THROW(r.counter("bad-name", "."), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", ".", {"bad-label"}), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", ".", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", ".", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", ".", {}, {2, 1}), std::invalid_argument);
  Counter c = r.counter("c_total", ".", {"a"});
  EXPECT_THROW(r.gauge("c_total", ".", {"a"}), std::invalid_argument);
  EXPECT_THROW(r.counter("c_total", ".", {"b"}), std::invalid_argument);
  EXPECT_THROW(c.inc({}), std::invalid_argument);
  EXPECT_THROW(c.inc({"x", "y"}), std::invalid_argument);
  EXPECT_THROW(c.inc({"x"}, -1), std::invalid_argument);
}

TEST(Metrics, CountsFromManyThreadsAddUp) {
  Registry r;
  Counter c = r.counter("n_total", "N.", {"t"});
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 1000; ++i) c.inc({"x"});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value({"x"}), 4000);
}

TEST(Metrics, EngineFamiliesAreDeclaredInTheProcessRegistry) {
  declareEngineMetrics();
  const std::string text = registry().render();
  for (const char* name :
       {"labgate_phi_refusals_total", "labgate_phi_stripped_total", "labgate_rule_findings_total",
        "labgate_logins_total", "labgate_delivery_attempts_total",
        "labgate_delivery_latency_seconds", "labgate_config_reloads_total",
        "labgate_backup_last_success_timestamp_seconds",
        "labgate_messages_control_id_reused_total"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace labgate::metrics
