#include "rules/westgard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <utility>

namespace labgate::rules {
namespace {

using R = WestgardRule;

// A QC history written in z-scores: target mean 0 and SD 1, so a value is its own z.
class History {
 public:
  /// One run of series `series`: the levels in the order given, seq_in_run 1, 2, ...
  History& run(int run, std::initializer_list<std::pair<const char*, double>> values,
               const char* series = "A") {
    int seq = 0;
    for (const auto& [level, z] : values) add(run, level, z, ++seq, series);
    return *this;
  }
  History& add(int run, const char* level, double z, int seq = 1, const char* series = "A",
               bool excluded = false, const char* lot = "") {
    QcValue v;
    v.series = series;
    v.level = level;
    v.lot = lot;
    v.run = run;
    v.seqInRun = seq;
    v.value = z;
    v.targetMean = 0;
    v.targetSd = 1;
    v.excluded = excluded;
    values_.push_back(v);
    return *this;
  }
  /// The same level for runs first, first+1, ... with the given z-values.
  History& streak(int first, const char* level, std::initializer_list<double> zs) {
    for (double z : zs) add(first++, level, z);
    return *this;
  }
  RunDecision decide(int run, const WestgardOptions& options = {}, const char* series = "A") const {
    return evaluateWestgardRun(values_, series, run, options);
  }
  const std::vector<QcValue>& values() const { return values_; }

 private:
  std::vector<QcValue> values_;
};

bool hitIn(const RunDecision& d, R rule, const std::string& scope) {
  return std::any_of(d.hits.begin(), d.hits.end(),
                     [&](const RuleHit& h) { return h.rule == rule && h.scope == scope; });
}

WestgardOptions only(std::initializer_list<R> rules) {
  WestgardOptions o;
  o.rules = rules;
  return o;
}

// --- Names -------------------------------------------------------------------------------------

TEST(WestgardNames, EveryRuleRoundTripsAndParsingIgnoresCase) {
  for (R r : {R::k1_2s, R::k1_3s, R::k2_2s, R::kR_4s, R::k4_1s, R::k10_x, R::k8_x, R::k12_x,
              R::k9_x, R::k2of3_2s, R::k3_1s, R::k6_x}) {
    EXPECT_EQ(parseWestgardRule(toString(r)), r) << toString(r);
  }
  EXPECT_EQ(parseWestgardRule("r_4s"), R::kR_4s);
  EXPECT_EQ(parseWestgardRule("2OF3_2S"), R::k2of3_2s);
  EXPECT_FALSE(parseWestgardRule("4_1"));
  EXPECT_FALSE(parseWestgardRule("R4s"));
  EXPECT_FALSE(parseWestgardRule(""));
  EXPECT_EQ(joinRules({R::k1_3s, R::kR_4s}), "1_3s;R_4s");
  EXPECT_EQ(joinRules({}), "");
  EXPECT_EQ(joinRules(defaultWestgardRules(), ","), "1_3s,2_2s,R_4s,4_1s,10_x");
  EXPECT_EQ(joinRules(defaultWestgardRulesN3(), ","), "1_3s,2of3_2s,R_4s,3_1s,6_x");
}

// --- 1. Strict limits (I1, I2) -----------------------------------------------------------------

TEST(WestgardLimits, I1_ZOfExactlyTwoIsNoWarning) {
  QcValue v;
  v.value = 120;
  v.targetMean = 100;
  v.targetSd = 10;
  EXPECT_EQ(v.z(), 2.0);
  std::vector<QcValue> h{v};
  h[0].series = "A";
  h[0].level = "L1";
  RunDecision d = evaluateWestgardRun(h, "A", 0);
  EXPECT_FALSE(d.rejected);
  EXPECT_TRUE(d.warnings.empty());
  EXPECT_TRUE(d.hits.empty());
  EXPECT_EQ(d.valuesEvaluated, 1u);
  // Just beyond: a warning, never a rejection.
  RunDecision w = History().run(1, {{"L1", 2.001}}).decide(1);
  EXPECT_EQ(w.warnings, std::vector<R>{R::k1_2s});
  EXPECT_FALSE(w.rejected);
  EXPECT_EQ(w.hint, ErrorHint::kNone);
}

TEST(WestgardLimits, I2_MinusThreeIsAWarningButNot1_3s) {
  RunDecision d = History().run(1, {{"L1", -3.0}, {"L2", 0.4}}).decide(1);
  EXPECT_EQ(d.warnings, std::vector<R>{R::k1_2s});
  EXPECT_FALSE(d.rejected);
  RunDecision r = History().run(1, {{"L1", -3.001}, {"L2", 0.4}}).decide(1);
  EXPECT_EQ(r.rejects, std::vector<R>{R::k1_3s});
  EXPECT_EQ(r.hint, ErrorHint::kRandom);
  EXPECT_TRUE(History().run(1, {{"L1", 3.5}}).decide(1).rejected);
}

TEST(WestgardLimits, ZIsComputedFromTheTargetAndInvalidTargetsAreSkipped) {
  History h;
  h.run(1, {{"L1", 0.0}});
  std::vector<QcValue> values = h.values();
  values[0].value = 131;
  values[0].targetMean = 100;
  values[0].targetSd = 10;  // z = 3.1
  EXPECT_EQ(evaluateWestgardRun(values, "A", 1).rejects, std::vector<R>{R::k1_3s});
  values[0].targetSd = 0;
  RunDecision d = evaluateWestgardRun(values, "A", 1);
  EXPECT_TRUE(std::isnan(values[0].z()));
  EXPECT_FALSE(d.rejected);
  EXPECT_EQ(d.valuesEvaluated, 0u);
  EXPECT_EQ(d.valuesInvalid, 1u);
  values[0].targetSd = 10;
  values[0].value = NAN;
  EXPECT_EQ(evaluateWestgardRun(values, "A", 1).valuesInvalid, 1u);
}

// --- 2_2s: within run, within level across runs, across levels ----------------------------------

TEST(Westgard2_2s, TwoLevelsOfTheSameRunBeyondTheSame2SdLimit) {
  RunDecision d = History().run(1, {{"L1", 2.5}, {"L2", 2.1}}).decide(1);
  EXPECT_EQ(d.rejects, std::vector<R>{R::k2_2s});
  EXPECT_TRUE(hitIn(d, R::k2_2s, "run"));
  EXPECT_EQ(d.hint, ErrorHint::kSystematic);
  EXPECT_TRUE(History().run(1, {{"L1", -2.5}, {"L2", -2.1}}).decide(1).rejected);
  // On the limit is inside it.
  EXPECT_FALSE(History().run(1, {{"L1", 2.5}, {"L2", 2.0}}).decide(1).rejected);
  // Two replicates of one level count too.
  EXPECT_TRUE(History().run(1, {{"L1", 2.2}, {"L1", 2.3}}).decide(1).rejected);
}

TEST(Westgard2_2s, C_CurrentAndPreviousValueOfOneLevel) {
  History h;
  h.run(1, {{"L1", 2.5}, {"L2", 0.1}}).run(2, {{"L1", 2.3}, {"L2", -0.2}});
  EXPECT_FALSE(h.decide(1).rejected);
  RunDecision d = h.decide(2);
  EXPECT_EQ(d.rejects, std::vector<R>{R::k2_2s});
  EXPECT_TRUE(hitIn(d, R::k2_2s, "level L1"));
}

TEST(Westgard2_2s, C_AcrossLevelsInChronologicalOrder) {
  // L2 of run 1 then L1 of run 2 are neighbours across levels; no level sees two in a row.
  History h;
  h.run(1, {{"L1", 0.1}, {"L2", 2.5}}).run(2, {{"L1", 2.2}, {"L2", 0.3}});
  RunDecision d = h.decide(2);
  EXPECT_EQ(d.rejects, std::vector<R>{R::k2_2s});
  EXPECT_TRUE(hitIn(d, R::k2_2s, "across levels"));
  EXPECT_FALSE(hitIn(d, R::k2_2s, "level L1"));
  EXPECT_FALSE(hitIn(d, R::k2_2s, "level L2"));
}

TEST(Westgard2_2s, TheConfiguredLevelOrderDecidesTheNeighbours) {
  // Input lists L2 before L1. Configured order L1, L2: 0, +2.5 | +2.5, 0 → neighbours beyond +2.
  History h;
  h.run(1, {{"L2", 2.5}, {"L1", 0.0}}).run(2, {{"L2", 0.0}, {"L1", 2.5}});
  WestgardOptions ordered;
  ordered.levelOrder = {"L1", "L2"};
  EXPECT_TRUE(h.decide(2, ordered).rejected);
  // Unconfigured: the order of first appearance (L2, L1): +2.5, 0 | 0, +2.5 → no neighbours.
  EXPECT_FALSE(h.decide(2).rejected);
}

// --- 2. Strict R_4s (D2) -----------------------------------------------------------------------

TEST(WestgardR4s, OneAboveTwoAndOneBelowMinusTwoInTheSameRun) {
  RunDecision d = History().run(1, {{"L1", 2.1}, {"L2", -2.1}}).decide(1);
  EXPECT_EQ(d.rejects, std::vector<R>{R::kR_4s});
  EXPECT_EQ(d.hint, ErrorHint::kRandom);
  EXPECT_EQ(d.warnings, std::vector<R>{R::k1_2s});
  EXPECT_FALSE(History().run(1, {{"L1", 2.0}, {"L2", -2.5}}).decide(1).rejected);
}

TEST(WestgardR4s, D2_RangeOverFourSdIsNotR4sByDefault) {
  History h;
  h.run(1, {{"L1", 1.5}, {"L2", -2.7}});
  RunDecision d = h.decide(1);
  EXPECT_FALSE(d.rejected);
  EXPECT_EQ(d.warnings, std::vector<R>{R::k1_2s});
  WestgardOptions range;
  range.r4sMode = R4sMode::kRange;
  EXPECT_EQ(h.decide(1, range).rejects, std::vector<R>{R::kR_4s});
  // The range variant is strict too: a range of exactly 4 does not fire.
  EXPECT_FALSE(History().run(1, {{"L1", 1.5}, {"L2", -2.5}}).decide(1, range).rejected);
}

TEST(WestgardR4s, NeverAcrossRuns) {
  History h;
  h.run(1, {{"L1", 2.5}}).run(2, {{"L1", -2.5}});
  EXPECT_FALSE(h.decide(2).rejected);
  WestgardOptions range;
  range.r4sMode = R4sMode::kRange;
  EXPECT_FALSE(h.decide(2, range).rejected);
}

// --- 4_1s, both scopes ---------------------------------------------------------------------------

TEST(Westgard4_1s, E_LastFourOfOneLevel) {
  History h;
  h.streak(1, "L1", {1.5, 1.2, 1.8, 1.1}).streak(1, "L2", {0.5, -0.5, 0.5, -0.5});
  EXPECT_FALSE(h.decide(3).rejected);
  RunDecision d = h.decide(4);
  EXPECT_EQ(d.rejects, std::vector<R>{R::k4_1s});
  EXPECT_TRUE(hitIn(d, R::k4_1s, "level L1"));
  EXPECT_EQ(d.hint, ErrorHint::kSystematic);
  // On the limit: +1.0 is not beyond +1 SD.
  History edge;
  edge.streak(1, "L1", {1.5, 1.0, 1.8, 1.1});
  EXPECT_FALSE(edge.decide(4).rejected);
  History low;
  low.streak(1, "L1", {-1.5, -1.2, -1.8, -1.1});
  EXPECT_TRUE(low.decide(4).rejected);
}

TEST(Westgard4_1s, F_LastFourAcrossLevels) {
  // Across levels: −0.5, 1.2 | 1.3, 1.4 | 1.1, −0.3. No level has four; the across order does.
  History h;
  h.run(1, {{"L1", -0.5}, {"L2", 1.2}})
      .run(2, {{"L1", 1.3}, {"L2", 1.4}})
      .run(3, {{"L1", 1.1}, {"L2", -0.3}});
  EXPECT_FALSE(h.decide(2).rejected);
  RunDecision d = h.decide(3);
  EXPECT_EQ(d.rejects, std::vector<R>{R::k4_1s});
  EXPECT_TRUE(hitIn(d, R::k4_1s, "across levels"));
  EXPECT_FALSE(hitIn(d, R::k4_1s, "level L1"));
}

// --- 5. No 1_2s gate by default (E–H gated) ------------------------------------------------------

TEST(WestgardGate, E_To_H_TheGateHidesViolationsInsideTwoSd) {
  History e;  // E: 4_1s within one level
  e.streak(1, "L1", {1.5, 1.2, 1.8, 1.1});
  History f;  // F: 4_1s across levels
  f.run(1, {{"L1", -0.5}, {"L2", 1.2}})
      .run(2, {{"L1", 1.3}, {"L2", 1.4}})
      .run(3, {{"L1", 1.1}, {"L2", -0.3}});
  History g;  // G: 10_x within one level
  g.streak(1, "L1", {0.5, 0.2, 0.8, 0.1, 0.4, 0.9, 0.3, 0.6, 0.2, 0.7});
  History hh;  // H: 10_x across levels (five runs of two levels)
  for (int run = 1; run <= 5; ++run) hh.run(run, {{"L1", 0.4}, {"L2", 0.6}});
  WestgardOptions gated;
  gated.use12sGate = true;
  for (auto [history, run] : {std::pair{&e, 4}, {&f, 3}, {&g, 10}, {&hh, 5}}) {
    EXPECT_TRUE(history->decide(run).rejected) << "run " << run;
    RunDecision d = history->decide(run, gated);
    EXPECT_FALSE(d.rejected) << "run " << run;
    EXPECT_TRUE(d.hits.empty());
  }
  EXPECT_TRUE(hitIn(g.decide(10), R::k10_x, "level L1"));
  EXPECT_TRUE(hitIn(hh.decide(5), R::k10_x, "across levels"));
  EXPECT_FALSE(hitIn(hh.decide(5), R::k10_x, "level L1"));
}

TEST(WestgardGate, AWarningOpensTheGate) {
  History h;
  h.streak(1, "L1", {1.5, 1.2, 1.8, 2.4});
  WestgardOptions gated;
  gated.use12sGate = true;
  RunDecision d = h.decide(4, gated);
  EXPECT_EQ(d.rejects, std::vector<R>{R::k4_1s});
  EXPECT_EQ(d.warnings, std::vector<R>{R::k1_2s});
}

// --- 10_x and the other mean rules (6_x, 8_x, 9_x, 12_x) -----------------------------------------

struct MeanRuleCase {
  R rule;
  int n;
};

class WestgardMeanRules : public ::testing::TestWithParam<MeanRuleCase> {};

TEST_P(WestgardMeanRules, FiresOnTheNthValueOnOneSideAndNotBefore) {
  auto [rule, n] = GetParam();
  WestgardOptions o = only({rule});
  for (double side : {+1.0, -1.0}) {
    History h;
    for (int run = 1; run <= n; ++run) h.add(run, "L1", side * 0.3);
    EXPECT_FALSE(h.decide(n - 1, o).rejected);
    RunDecision d = h.decide(n, o);
    EXPECT_EQ(d.rejects, std::vector<R>{rule});
    EXPECT_EQ(d.hint, ErrorHint::kSystematic);
  }
  // A value exactly on the mean breaks the streak.
  History broken;
  for (int run = 1; run <= n; ++run) broken.add(run, "L1", run == 2 ? 0.0 : 0.3);
  EXPECT_FALSE(broken.decide(n, o).rejected);
  // Across levels: n values over ceil(n/2) runs of two levels.
  History across;
  int runs = (n + 1) / 2;
  for (int run = 1; run <= runs; ++run) across.run(run, {{"L1", 0.2}, {"L2", 0.1}});
  RunDecision a = across.decide(runs, o);
  EXPECT_TRUE(a.rejected);
  EXPECT_TRUE(hitIn(a, rule, "across levels"));
}

INSTANTIATE_TEST_SUITE_P(WestgardN, WestgardMeanRules,
                         ::testing::Values(MeanRuleCase{R::k6_x, 6}, MeanRuleCase{R::k8_x, 8},
                                           MeanRuleCase{R::k9_x, 9}, MeanRuleCase{R::k10_x, 10},
                                           MeanRuleCase{R::k12_x, 12}),
                         [](const auto& info) {
                           std::string name = toString(info.param.rule);
                           return "Rule" + name;
                         });

// --- N = 3 rules: 2of3_2s, 3_1s ------------------------------------------------------------------

TEST(Westgard2of3_2s, TwoOfThreeLevelsOfARun) {
  WestgardOptions n3;
  n3.rules = defaultWestgardRulesN3();
  RunDecision d = History().run(1, {{"L1", 2.5}, {"L2", 0.5}, {"L3", 2.2}}).decide(1, n3);
  EXPECT_EQ(d.rejects, std::vector<R>{R::k2of3_2s});
  EXPECT_TRUE(hitIn(d, R::k2of3_2s, "across levels"));
  // Opposite limits do not add up (that is R_4s).
  RunDecision o = History().run(1, {{"L1", 2.5}, {"L2", 0.5}, {"L3", -2.2}}).decide(1, n3);
  EXPECT_EQ(o.rejects, std::vector<R>{R::kR_4s});
  EXPECT_FALSE(History().run(1, {{"L1", 2.5}, {"L2", 0.5}, {"L3", 2.0}}).decide(1, n3).rejected);
}

TEST(Westgard2of3_2s, WithinOneLevelAcrossRuns) {
  History h;
  h.streak(1, "L1", {2.5, 0.3, 2.4});
  RunDecision d = h.decide(3, only({R::k2of3_2s}));
  EXPECT_TRUE(hitIn(d, R::k2of3_2s, "level L1"));
  EXPECT_FALSE(h.decide(2, only({R::k2of3_2s})).rejected);
}

TEST(Westgard2of3_2s, N_TheTwoOldViolationsDoNotRejectTheNextRun) {
  // Run 1's L2 and L3 were beyond +2 (run 1 rejected); run 2's L1 is in the last three values
  // across levels, but it is not beyond the limit, so run 2 is not rejected again.
  History h;
  h.run(1, {{"L1", 0.2}, {"L2", 2.5}, {"L3", 2.4}}).run(2, {{"L1", 0.1}});
  WestgardOptions o = only({R::k2of3_2s});
  EXPECT_TRUE(h.decide(1, o).rejected);
  EXPECT_FALSE(h.decide(2, o).rejected);
  // But a run-2 value beyond the same limit joins them.
  History j;
  j.run(1, {{"L1", 0.2}, {"L2", 0.5}, {"L3", 2.4}}).run(2, {{"L1", 2.1}});
  EXPECT_TRUE(j.decide(2, o).rejected);
}

TEST(Westgard3_1s, LastThreeBeyondTheSameOneSdLimit) {
  WestgardOptions o = only({R::k3_1s});
  History h;
  h.streak(1, "L1", {1.5, 1.2, 1.1});
  EXPECT_FALSE(h.decide(2, o).rejected);
  EXPECT_EQ(h.decide(3, o).rejects, std::vector<R>{R::k3_1s});
  History edge;
  edge.streak(1, "L1", {-1.5, -1.0, -1.1});
  EXPECT_FALSE(edge.decide(3, o).rejected);
  History across;
  across.run(1, {{"L1", 1.5}, {"L2", 1.2}, {"L3", -1.1}});
  EXPECT_FALSE(across.decide(1, o).rejected);
  across.run(2, {{"L1", -1.2}, {"L2", -1.3}, {"L3", 0.0}});
  EXPECT_TRUE(hitIn(across.decide(2, o), R::k3_1s, "across levels"));
}

// --- 3. Windows must include the current run (N) -------------------------------------------------

TEST(WestgardWindows, N_OldViolationsNeverRejectALaterRun) {
  History h;
  h.streak(1, "L1", {1.5, 1.5, 1.5, 1.5, -0.5});
  EXPECT_TRUE(h.decide(4).rejected);
  EXPECT_FALSE(h.decide(5).rejected);
  History ten;
  for (int run = 1; run <= 10; ++run) ten.add(run, "L1", 0.5);
  ten.add(11, "L1", -0.5);
  EXPECT_TRUE(ten.decide(10).rejected);
  EXPECT_FALSE(ten.decide(11).rejected);
  // A run where L1 was not measured is not judged by L1's last window.
  History gap;
  gap.streak(1, "L1", {1.5, 1.5, 1.5, 1.5}).add(5, "L2", 0.0);
  EXPECT_FALSE(gap.decide(5).rejected);
  // Later runs never change an earlier run's decision.
  History later;
  later.streak(1, "L1", {1.5, 1.5, 1.5}).streak(4, "L1", {1.5});
  EXPECT_FALSE(later.decide(3).rejected);
}

// --- 6. Excluded values, rejected runs ---------------------------------------------------------

TEST(WestgardExcluded, ExcludedValuesAreSkippedByEveryWindow) {
  History h;
  h.streak(1, "L1", {1.5, 1.5}).add(3, "L1", -0.5, 1, "A", true).streak(4, "L1", {1.5, 1.5});
  EXPECT_FALSE(h.decide(4).rejected);
  RunDecision d = h.decide(5);
  EXPECT_EQ(d.rejects, std::vector<R>{R::k4_1s});
  EXPECT_EQ(h.decide(3).valuesEvaluated, 0u);
  History big;
  big.add(1, "L1", 5.0, 1, "A", true).add(1, "L2", 0.1);
  RunDecision b = big.decide(1);
  EXPECT_FALSE(b.rejected);
  EXPECT_TRUE(b.warnings.empty());
  EXPECT_EQ(b.valuesEvaluated, 1u);
}

TEST(WestgardExcluded, ValuesOfRejectedRunsStayInTheHistory) {
  History h;
  h.run(1, {{"L1", 2.5}, {"L2", 2.6}}).run(2, {{"L1", 2.2}, {"L2", 0.0}});
  EXPECT_TRUE(h.decide(1).rejected);
  RunDecision d = h.decide(2);
  EXPECT_TRUE(hitIn(d, R::k2_2s, "level L1"));
}

// --- 7. Keys: series and lots --------------------------------------------------------------------

TEST(WestgardKeys, SeriesAreIndependentAndAnsweredInOrderOfFirstAppearance) {
  History h;
  h.add(1, "L1", 1.5, 1, "B").add(1, "L1", 1.5, 1, "A");
  for (int run = 2; run <= 4; ++run) h.add(run, "L1", 1.5, 1, "A").add(run, "L1", -1.5, 1, "B");
  std::vector<RunDecision> all = evaluateWestgard(h.values());
  ASSERT_EQ(all.size(), 8u);
  EXPECT_EQ(all[0].series, "B");
  EXPECT_EQ(all[1].series, "A");
  EXPECT_EQ(all[6].series, "A");
  EXPECT_EQ(all[6].run, 4);
  EXPECT_TRUE(all[6].rejected);
  EXPECT_FALSE(all[7].rejected);
}

TEST(WestgardKeys, ANewLotStartsANewWithinLevelHistory) {
  History h;
  h.add(1, "L1", 1.5, 1, "A", false, "lotA")
      .add(2, "L1", 1.5, 1, "A", false, "lotA")
      .add(3, "L1", 1.5, 1, "A", false, "lotA")
      .add(4, "L1", 1.5, 1, "A", false, "lotB");
  RunDecision d = h.decide(4, only({R::k4_1s}));
  EXPECT_FALSE(hitIn(d, R::k4_1s, "level L1 lot lotB"));
  // The across-level scope is the series' (a shift of the method shows through every lot).
  EXPECT_TRUE(hitIn(d, R::k4_1s, "across levels"));
}

TEST(WestgardHint, RandomAndSystematicTogether) {
  RunDecision d = History().run(1, {{"L1", 3.5}, {"L2", 2.5}}).decide(1);
  EXPECT_EQ(d.rejects, (std::vector<R>{R::k1_3s, R::k2_2s}));
  EXPECT_EQ(d.hint, ErrorHint::kRandomAndSystematic);
  EXPECT_STREQ(toString(d.hint), "random and systematic error");
}

TEST(WestgardRules, OnlyTheConfiguredRulesReject) {
  History h;
  h.run(1, {{"L1", 3.5}, {"L2", 2.5}});
  RunDecision d = h.decide(1, only({R::kR_4s}));
  EXPECT_FALSE(d.rejected);
  EXPECT_EQ(d.warnings, std::vector<R>{R::k1_2s});
  // Listing 1_2s does not make it reject.
  EXPECT_FALSE(History().run(1, {{"L1", 2.5}}).decide(1, only({R::k1_2s})).rejected);
}

TEST(WestgardWords, EveryRuleSaysWhatItAsksAndValuesNameTheirInjection) {
  for (WestgardRule r : {R::k1_2s, R::k1_3s, R::k2_2s, R::kR_4s, R::k4_1s, R::k10_x, R::k8_x,
                         R::k12_x, R::k9_x, R::k2of3_2s, R::k3_1s, R::k6_x}) {
    EXPECT_STRNE(meaningOf(r), "?") << toString(r);
  }
  EXPECT_STREQ(meaningOf(R::k1_3s), "one value beyond ±3 SD");
  QcValue v;
  v.series = "S";
  v.level = "Low";
  v.run = 4;
  v.value = 116;
  v.targetMean = 100;
  v.targetSd = 5;
  v.injection = "sample QC_L, injection 9";
  RunDecision d = evaluateWestgardRun(std::vector<QcValue>{v}, "S", 4);
  ASSERT_FALSE(d.hits.empty());
  EXPECT_EQ(d.hits[0].detail, "z +3.2 (run 4, QC Low, sample QC_L, injection 9)");
}

}  // namespace
}  // namespace labgate::rules
