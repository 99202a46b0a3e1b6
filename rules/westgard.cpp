#include "rules/westgard.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <tuple>

namespace labgate::rules {

namespace {

struct RuleInfo {
  WestgardRule rule;
  const char* name;
  const char* meaning;
};

constexpr RuleInfo kRules[] = {
    {WestgardRule::k1_2s, "1_2s", "one value beyond ±2 SD"},
    {WestgardRule::k1_3s, "1_3s", "one value beyond ±3 SD"},
    {WestgardRule::k2_2s, "2_2s", "two consecutive values beyond 2 SD on the same side"},
    {WestgardRule::kR_4s, "R_4s", "one value above +2 SD and another below −2 SD in one run"},
    {WestgardRule::k4_1s, "4_1s", "four consecutive values beyond 1 SD on the same side"},
    {WestgardRule::k10_x, "10_x", "ten consecutive values on the same side of the mean"},
    {WestgardRule::k8_x, "8_x", "eight consecutive values on the same side of the mean"},
    {WestgardRule::k12_x, "12_x", "twelve consecutive values on the same side of the mean"},
    {WestgardRule::k9_x, "9_x", "nine consecutive values on the same side of the mean"},
    {WestgardRule::k2of3_2s, "2of3_2s",
     "two of three consecutive values beyond 2 SD on the same side"},
    {WestgardRule::k3_1s, "3_1s", "three consecutive values beyond 1 SD on the same side"},
    {WestgardRule::k6_x, "6_x", "six consecutive values on the same side of the mean"},
};

// A value that the windows see, in one scope's chronological order.
struct Point {
  double z;
  int run;
  const QcValue* value;
  size_t levelRank;  // the value's level in the chronological order within a run
};

// The windowed ("count") rules: the last `n` values all beyond `limit` on one side, or, for
// 2of3_2s, at least `need` of the last `n` beyond it with one of them from the current run.
struct CountRule {
  WestgardRule rule;
  size_t n;
  size_t need;
  double limit;
};

constexpr CountRule kCountRules[] = {
    {WestgardRule::k2_2s, 2, 2, 2.0},   {WestgardRule::k4_1s, 4, 4, 1.0},
    {WestgardRule::k3_1s, 3, 3, 1.0},   {WestgardRule::k2of3_2s, 3, 2, 2.0},
    {WestgardRule::k6_x, 6, 6, 0.0},    {WestgardRule::k8_x, 8, 8, 0.0},
    {WestgardRule::k9_x, 9, 9, 0.0},    {WestgardRule::k10_x, 10, 10, 0.0},
    {WestgardRule::k12_x, 12, 12, 0.0},
};

std::string zText(double z) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.3g", z);
  return buf;
}

// "z +3.2 (run 8, QC Low, injection 17)": the run, the level as the batch names it, and the
// injection when the value is this batch's.
std::string describe(const Point& p) {
  std::string text = "z " + zText(p.z) + " (run " + std::to_string(p.run) + ", ";
  const std::string& level = p.value->level;
  if (level.rfind("QC ", 0) != 0) text += "QC ";
  text += level;
  if (!p.value->injection.empty()) {
    text += ", ";
    text += p.value->injection;
  }
  text += ")";
  return text;
}

std::string limitText(int side, double limit) {
  if (limit == 0) return side > 0 ? "above the mean" : "below the mean";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%c%g SD", side > 0 ? '>' : '<', side * limit);
  return buf;
}

bool beyond(double z, int side, double limit) { return side > 0 ? z > limit : z < -limit; }

// Hits found so far for one series, by run; the first hit of each (rule, scope) is kept.
class HitBook {
 public:
  void add(int run, WestgardRule rule, const std::string& scope, std::string detail) {
    auto& hits = byRun_[run];
    for (const RuleHit& h : hits) {
      if (h.rule == rule && h.scope == scope) return;
    }
    hits.push_back({rule, scope, std::move(detail)});
  }
  std::vector<RuleHit> take(int run) {
    auto it = byRun_.find(run);
    return it == byRun_.end() ? std::vector<RuleHit>{} : std::move(it->second);
  }

 private:
  std::map<int, std::vector<RuleHit>> byRun_;
};

// Every window of the count rules that ends at a point of `seq` is charged to that point's run:
// such a window always holds a value of that run, and no value of a later one.
// With `onlyRun`, only the windows charged to that run are looked at.
void scanCountRules(const std::vector<Point>& seq, const std::string& scope,
                    const std::vector<WestgardRule>& enabled, std::optional<int> onlyRun,
                    HitBook& book) {
  for (const CountRule& rule : kCountRules) {
    if (std::find(enabled.begin(), enabled.end(), rule.rule) == enabled.end()) continue;
    for (size_t end = rule.n - 1; end < seq.size(); ++end) {
      int run = seq[end].run;
      if (onlyRun && run != *onlyRun) continue;
      for (int side : {+1, -1}) {
        size_t count = 0;
        bool currentRunBeyond = false;
        for (size_t i = end + 1 - rule.n; i <= end; ++i) {
          if (beyond(seq[i].z, side, rule.limit)) {
            ++count;
            currentRunBeyond = currentRunBeyond || seq[i].run == run;
          }
        }
        if (count < rule.need || !currentRunBeyond) continue;
        std::string detail = std::to_string(count) + " of " + std::to_string(rule.n) + " " +
                             limitText(side, rule.limit) + ", last " + describe(seq[end]);
        book.add(run, rule.rule, scope, std::move(detail));
      }
    }
  }
}

bool enabled(const std::vector<WestgardRule>& rules, WestgardRule rule) {
  return std::find(rules.begin(), rules.end(), rule) != rules.end();
}

// 1_2s, 1_3s, 2_2s (two values of this run) and R_4s: the rules that look at one run alone.
void scanRun(const std::vector<Point>& runPoints, const WestgardOptions& options, HitBook& book) {
  if (runPoints.empty()) return;
  int run = runPoints.front().run;
  const Point* high = &runPoints.front();
  const Point* low = &runPoints.front();
  std::vector<const Point*> above2, below2;
  for (const Point& p : runPoints) {
    if (std::fabs(p.z) > 2) book.add(run, WestgardRule::k1_2s, "run", describe(p));
    if (std::fabs(p.z) > 3 && enabled(options.rules, WestgardRule::k1_3s)) {
      book.add(run, WestgardRule::k1_3s, "run", describe(p));
    }
    if (p.z > 2) above2.push_back(&p);
    if (p.z < -2) below2.push_back(&p);
    if (p.z > high->z) high = &p;
    if (p.z < low->z) low = &p;
  }
  if (enabled(options.rules, WestgardRule::k2_2s)) {
    for (const auto* pair : {&above2, &below2}) {
      if (pair->size() >= 2) {
        book.add(run, WestgardRule::k2_2s, "run",
                 describe(*(*pair)[0]) + " and " + describe(*(*pair)[1]));
      }
    }
  }
  if (enabled(options.rules, WestgardRule::kR_4s)) {
    bool fires =
        options.r4sMode == R4sMode::kStrict ? (high->z > 2 && low->z < -2) : (high->z - low->z > 4);
    if (fires)
      book.add(run, WestgardRule::kR_4s, "run", describe(*high) + " and " + describe(*low));
  }
}

ErrorHint hintFor(const std::vector<WestgardRule>& rejects) {
  bool random = false, systematic = false;
  for (WestgardRule r : rejects) {
    if (r == WestgardRule::k1_3s || r == WestgardRule::kR_4s) {
      random = true;
    } else if (r != WestgardRule::k1_2s) {
      systematic = true;
    }
  }
  if (random && systematic) return ErrorHint::kRandomAndSystematic;
  if (random) return ErrorHint::kRandom;
  return systematic ? ErrorHint::kSystematic : ErrorHint::kNone;
}

RunDecision decide(const std::string& series, int run, std::vector<RuleHit> hits,
                   const WestgardOptions& options) {
  RunDecision d;
  d.series = series;
  d.run = run;
  bool warned = std::any_of(hits.begin(), hits.end(),
                            [](const RuleHit& h) { return h.rule == WestgardRule::k1_2s; });
  if (options.use12sGate && !warned) hits.clear();
  for (const RuleInfo& info : kRules) {
    bool hit = std::any_of(hits.begin(), hits.end(),
                           [&](const RuleHit& h) { return h.rule == info.rule; });
    if (!hit) continue;
    (info.rule == WestgardRule::k1_2s ? d.warnings : d.rejects).push_back(info.rule);
  }
  d.hits = std::move(hits);
  d.rejected = !d.rejects.empty();
  d.hint = hintFor(d.rejects);
  return d;
}

// All decisions of one series, in the order its runs first appear in `history` (the values of
// other series are skipped); with `onlyRun`, the decision for that run alone (none when the series
// has no value of it): the windows charged to other runs are not scanned.
std::vector<RunDecision> evaluateSeries(std::span<const QcValue* const> history,
                                        const std::string& series, const WestgardOptions& options,
                                        std::optional<int> onlyRun = std::nullopt) {
  // Level ranks: the configured order, then the order of first appearance. A handful of levels:
  // a linear search beats a map.
  std::vector<std::string_view> levels(options.levelOrder.begin(), options.levelOrder.end());
  auto rankOf = [&](const std::string& level) {
    for (size_t i = 0; i < levels.size(); ++i) {
      if (levels[i] == level) return i;
    }
    levels.push_back(level);
    return levels.size() - 1;
  };
  std::vector<int> runs;
  std::map<int, std::pair<size_t, size_t>> counts;  // run → (evaluated, invalid)
  std::vector<Point> across;
  across.reserve(history.size());
  bool onlyRunSeen = false;
  for (const QcValue* value : history) {
    const QcValue& v = *value;
    if (v.series != series) continue;
    if (onlyRun) {
      onlyRunSeen = onlyRunSeen || v.run == *onlyRun;
    } else if (std::find(runs.begin(), runs.end(), v.run) == runs.end()) {
      runs.push_back(v.run);
    }
    size_t rank = rankOf(v.level);
    if (v.excluded) continue;
    double z = v.z();
    if (onlyRun && v.run != *onlyRun) {
      if (!std::isnan(z)) across.push_back({z, v.run, &v, rank});
      continue;  // only the judged run's counts are reported
    }
    auto& [evaluated, invalid] = counts[v.run];
    if (std::isnan(z)) {
      ++invalid;
      continue;
    }
    ++evaluated;
    across.push_back({z, v.run, &v, rank});
  }
  if (onlyRun) {
    if (!onlyRunSeen) return {};
    runs = {*onlyRun};
  }
  // Chronological: run, then level order, then seq_in_run; stable keeps input order for ties.
  std::stable_sort(across.begin(), across.end(), [](const Point& a, const Point& b) {
    if (a.run != b.run) return a.run < b.run;
    if (a.levelRank != b.levelRank) return a.levelRank < b.levelRank;
    return a.value->seqInRun < b.value->seqInRun;
  });
  HitBook book;
  // The within-level scopes, one per (level, lot), scanned in the order of (level, lot); a few
  // materials: found by a linear search rather than a map keyed by copies of both strings.
  struct Material {
    const std::string* level;
    const std::string* lot;
    std::vector<Point> points;
  };
  std::vector<Material> byLevel;
  std::map<int, std::vector<Point>> byRun;
  for (const Point& p : across) {
    const std::string& level = p.value->level;
    const std::string& lot = p.value->lot;
    auto m = std::find_if(byLevel.begin(), byLevel.end(),
                          [&](const Material& x) { return *x.level == level && *x.lot == lot; });
    if (m == byLevel.end()) m = byLevel.insert(byLevel.end(), Material{&level, &lot, {}});
    m->points.push_back(p);
    if (!onlyRun || p.run == *onlyRun) byRun[p.run].push_back(p);
  }
  std::sort(byLevel.begin(), byLevel.end(), [](const Material& a, const Material& b) {
    return std::tie(*a.level, *a.lot) < std::tie(*b.level, *b.lot);
  });
  for (const auto& [run, points] : byRun) scanRun(points, options, book);
  for (const Material& m : byLevel) {
    std::string scope = "level " + *m.level + (m.lot->empty() ? "" : " lot " + *m.lot);
    scanCountRules(m.points, scope, options.rules, onlyRun, book);
  }
  scanCountRules(across, "across levels", options.rules, onlyRun, book);
  std::vector<RunDecision> decisions;
  for (int run : runs) {
    RunDecision d = decide(series, run, book.take(run), options);
    d.valuesEvaluated = counts[run].first;
    d.valuesInvalid = counts[run].second;
    decisions.push_back(std::move(d));
  }
  return decisions;
}

std::vector<const QcValue*> addressesOf(std::span<const QcValue> history) {
  std::vector<const QcValue*> out;
  out.reserve(history.size());
  for (const QcValue& v : history) out.push_back(&v);
  return out;
}

}  // namespace

const char* toString(WestgardRule rule) {
  for (const RuleInfo& info : kRules) {
    if (info.rule == rule) return info.name;
  }
  return "?";
}

const char* meaningOf(WestgardRule rule) {
  for (const RuleInfo& info : kRules) {
    if (info.rule == rule) return info.meaning;
  }
  return "?";
}

std::optional<WestgardRule> parseWestgardRule(std::string_view name) {
  for (const RuleInfo& info : kRules) {
    std::string_view known = info.name;
    if (known.size() == name.size() &&
        std::equal(known.begin(), known.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return info.rule;
    }
  }
  return std::nullopt;
}

std::vector<WestgardRule> defaultWestgardRules() {
  return {WestgardRule::k1_3s, WestgardRule::k2_2s, WestgardRule::kR_4s, WestgardRule::k4_1s,
          WestgardRule::k10_x};
}

std::vector<WestgardRule> defaultWestgardRulesN3() {
  return {WestgardRule::k1_3s, WestgardRule::k2of3_2s, WestgardRule::kR_4s, WestgardRule::k3_1s,
          WestgardRule::k6_x};
}

double QcValue::z() const {
  if (!std::isfinite(value) || !std::isfinite(targetMean) || !std::isfinite(targetSd) ||
      !(targetSd > 0)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return (value - targetMean) / targetSd;
}

const char* toString(ErrorHint hint) {
  switch (hint) {
    case ErrorHint::kNone:
      return "none";
    case ErrorHint::kRandom:
      return "random error";
    case ErrorHint::kSystematic:
      return "systematic error";
    case ErrorHint::kRandomAndSystematic:
      return "random and systematic error";
  }
  return "none";
}

std::vector<RunDecision> evaluateWestgard(std::span<const QcValue> history,
                                          const WestgardOptions& options) {
  std::vector<std::string> series;
  for (const QcValue& v : history) {
    if (std::find(series.begin(), series.end(), v.series) == series.end()) {
      series.push_back(v.series);
    }
  }
  // Runs of different series interleave in `history`; answer in order of first appearance.
  std::map<std::pair<std::string, int>, RunDecision> all;
  const std::vector<const QcValue*> values = addressesOf(history);
  for (const std::string& s : series) {
    for (RunDecision& d : evaluateSeries(values, s, options)) {
      all.emplace(std::make_pair(s, d.run), std::move(d));
    }
  }
  std::vector<RunDecision> decisions;
  for (const QcValue& v : history) {
    auto it = all.find({v.series, v.run});
    if (it == all.end()) continue;
    decisions.push_back(std::move(it->second));
    all.erase(it);
  }
  return decisions;
}

RunDecision evaluateWestgardRun(std::span<const QcValue> history, const std::string& series,
                                int run, const WestgardOptions& options) {
  return evaluateWestgardRun(addressesOf(history), series, run, options);
}

RunDecision evaluateWestgardRun(std::span<const QcValue* const> history, const std::string& series,
                                int run, const WestgardOptions& options) {
  for (RunDecision& d : evaluateSeries(history, series, options, run)) {
    if (d.run == run) return std::move(d);
  }
  RunDecision empty;
  empty.series = series;
  empty.run = run;
  return empty;
}

std::string joinRules(const std::vector<WestgardRule>& rules, std::string_view separator) {
  std::string out;
  for (WestgardRule r : rules) {
    if (!out.empty()) out += separator;
    out += toString(r);
  }
  return out;
}

}  // namespace labgate::rules
