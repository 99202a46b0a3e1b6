#include "rules/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace labgate::rules {
namespace {

// A NIST StRD univariate file: the certified values from its header and the data after the
// "Data: Y" line (read from ../shared at run time), or one of our own in the same layout
// (tests/data/reference/univariate, certified by tests/data/reference/generate.py).
struct StrdUnivariate {
  double mean = NAN;
  double sd = NAN;
  double r1 = NAN;
  std::vector<double> y;
};

double lastNumber(const std::string& line) {
  std::string token = line.substr(line.find_last_of(" \t:") + 1);
  return std::stod(token);
}

std::optional<StrdUnivariate> loadStrd(const std::string& name, bool own) {
  std::filesystem::path path =
      own ? std::filesystem::path(LABGATE_TEST_DATA_DIR) / "reference/univariate" / (name + ".dat")
          : std::filesystem::path(LABGATE_SHARED_DIR) / "reference/nist-strd/univariate" /
                (name + ".dat");
  std::ifstream in(path);
  if (!in) return std::nullopt;
  StrdUnivariate d;
  std::string line;
  bool inData = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (inData) {
      if (line.find_first_not_of(" \t") == std::string::npos || line.find("---") != line.npos) {
        continue;
      }
      d.y.push_back(std::stod(line));
    } else if (line.rfind("Sample Mean", 0) == 0) {
      d.mean = lastNumber(line);
    } else if (line.rfind("Sample Standard Deviation", 0) == 0) {
      d.sd = lastNumber(line);
    } else if (line.rfind("Sample Autocorrelation", 0) == 0) {
      d.r1 = lastNumber(line);
    } else if (line.rfind("Data:", 0) == 0) {
      std::istringstream rest(line.substr(5));
      std::string word;
      inData = (rest >> word) && word == "Y";
    }
  }
  return d;
}

// Log relative error: the number of correct significant digits (15 when exact).
double lre(double estimate, double certified) {
  double rel = std::fabs(estimate - certified) / std::fabs(certified);
  return rel == 0 ? 15.0 : std::min(15.0, -std::log10(rel));
}

struct StrdCase {
  const char* name;
  size_t n;
  double minMeanDigits;
  double minSdDigits;
  double minR1Digits;
  // The SD of the data as doubles, computed in exact rational arithmetic (Python fractions), when
  // the decimal input is not exactly representable; 0 when the certified SD is that value.
  double binarySd = 0;
  // Our own data set (tests/data/reference/univariate): never skipped.
  bool own = false;
};

// The digits demanded (achieved: mean 15 everywhere; SD 15 on Lew, Lottery, NumAcc1/2, 13.1 on
// Mavro, 13.8 on Michelso, 9.46 on NumAcc3, 8.25 on NumAcc4; r(1) ≥ 13.4 everywhere). For the SD
// of NumAcc3/4 the limit is the input, not the algorithm: 10000000.1 is not a double, its rounding
// (up to 9.3e-10) is ~1e-8 of the 0.1 spread, and the exact SD of the doubles read is
// 0.10000000055879354 (NumAcc4) — which the two-pass SD reproduces to ≥ 14 digits.
class StatsStrd : public ::testing::TestWithParam<StrdCase> {};

TEST_P(StatsStrd, ReproducesTheCertifiedMeanSdAndAutocorrelation) {
  const StrdCase& c = GetParam();
  auto data = loadStrd(c.name, c.own);
  if (!data && c.own) FAIL() << "tests/data/reference/univariate/" << c.name << ".dat missing";
  if (!data) GTEST_SKIP() << "shared/reference/nist-strd/univariate/" << c.name << ".dat absent";
  ASSERT_EQ(data->y.size(), c.n);
  Summary s = summarize(data->y);
  double r1 = lag1Autocorrelation(data->y);
  RecordProperty("mean_lre", std::to_string(lre(s.mean, data->mean)));
  RecordProperty("sd_lre", std::to_string(lre(s.sd, data->sd)));
  EXPECT_GE(lre(s.mean, data->mean), c.minMeanDigits) << s.mean;
  EXPECT_GE(lre(s.sd, data->sd), c.minSdDigits) << s.sd;
  EXPECT_GE(lre(r1, data->r1), c.minR1Digits) << r1;
  // Against what the binary input really holds, the algorithm loses (almost) nothing.
  if (c.binarySd > 0) {
    EXPECT_GE(lre(s.sd, c.binarySd), 14.0) << s.sd;
  }
  // Welford agrees with the two-pass SD to the digits the input allows.
  RunningStats running;
  for (double y : data->y) running.add(y);
  EXPECT_GE(lre(running.mean(), data->mean), c.minMeanDigits);
  EXPECT_GE(lre(running.sd(), data->sd), c.minSdDigits - 1);
}

INSTANTIATE_TEST_SUITE_P(
    StatsNist, StatsStrd,
    ::testing::Values(StrdCase{"Lew", 200, 14, 14, 14}, StrdCase{"Lottery", 218, 14, 14, 14},
                      StrdCase{"Mavro", 50, 14, 13, 13}, StrdCase{"Michelso", 100, 14, 13, 13},
                      StrdCase{"NumAcc1", 3, 14, 14, 14}, StrdCase{"NumAcc2", 1001, 14, 14, 14},
                      StrdCase{"NumAcc3", 1001, 14, 9, 14, 0.10000000003492459655},
                      StrdCase{"NumAcc4", 1001, 14, 8, 14, 0.10000000055879354477}),
    [](const auto& info) { return std::string(info.param.name); });

// Our own data sets run without ../shared: exact in binary (so the certified values are those of
// the doubles read), the same plus 1e6 (cancellation), and decimals that binary cannot hold.
INSTANTIATE_TEST_SUITE_P(StatsOwn, StatsStrd,
                         ::testing::Values(StrdCase{"OwnSmall", 12, 14, 14, 14, 0, true},
                                           StrdCase{"OwnOffset", 12, 14, 10, 12, 0, true},
                                           StrdCase{"OwnDecimal", 10, 14, 14, 14, 0, true}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Stats, EmptyAndSingleValueAreNaNNotZero) {
  std::vector<double> none;
  EXPECT_TRUE(std::isnan(mean(none)));
  EXPECT_TRUE(std::isnan(median(none)));
  Summary one = summarize(std::vector<double>{4.0});
  EXPECT_EQ(one.n, 1u);
  EXPECT_EQ(one.mean, 4.0);
  EXPECT_TRUE(std::isnan(one.sd));
  EXPECT_TRUE(std::isnan(one.cv));
  RunningStats r;
  EXPECT_TRUE(std::isnan(r.mean()));
  r.add(1);
  EXPECT_TRUE(std::isnan(r.variance()));
}

TEST(Stats, MeanSdCvOfASmallSet) {
  std::vector<double> v{2, 4, 4, 4, 5, 5, 7, 9};
  Summary s = summarize(v);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.sd, std::sqrt(32.0 / 7.0));
  EXPECT_DOUBLE_EQ(s.cv, 100.0 * std::sqrt(32.0 / 7.0) / 5.0);
  EXPECT_TRUE(std::isnan(summarize(std::vector<double>{-1, 1}).cv));
}

TEST(Stats, MedianOddEvenAndUnsorted) {
  EXPECT_EQ(median(std::vector<double>{3, 1, 2}), 2);
  EXPECT_EQ(median(std::vector<double>{4, 1, 3, 2}), 2.5);
  EXPECT_EQ(median(std::vector<double>{7}), 7);
}

TEST(Stats, OutliersBeyondThreeSdAreRemovedOnceOnly) {
  // 20 values around 100 and one at 130: the first pass sees SD ≈ 6.7, so 130 (z ≈ 4.4) goes;
  // the survivors are not screened a second time even if one now lies beyond 3 SD of them.
  std::vector<double> v;
  v.reserve(21);
  for (int i = 0; i < 20; ++i) v.push_back(100 + (i % 5) - 2);
  v.push_back(130);
  TrimmedSummary t = summarizeWithoutOutliers(v);
  ASSERT_EQ(t.removed, std::vector<size_t>{20});
  EXPECT_EQ(t.all.n, 21u);
  EXPECT_EQ(t.kept.n, 20u);
  EXPECT_DOUBLE_EQ(t.kept.mean, 100.0);
  EXPECT_TRUE(summarizeWithoutOutliers(std::vector<double>{5, 5, 5}).removed.empty());
}

TEST(Stats, TwoPassSurvivesAHugeOffsetWhereOnePassFails) {
  // Offset 1e9 with spread ±1 (exactly representable): the naive Σx² − (Σx)²/n loses it all.
  std::vector<double> v;
  v.reserve(1000);
  for (int i = 0; i < 1000; ++i) v.push_back(1e9 + (i % 2 == 0 ? -1.0 : 1.0));
  double expected = std::sqrt(1000.0 / 999.0);
  EXPECT_NEAR(summarize(v).sd, expected, 1e-15);
  EXPECT_EQ(summarize(v).mean, 1e9);
  RunningStats r;
  for (double x : v) r.add(x);
  EXPECT_NEAR(r.sd(), expected, 1e-12);
  EXPECT_NEAR(lag1Autocorrelation(v), -999.0 / 1000.0, 1e-15);
}

}  // namespace
}  // namespace labgate::rules
