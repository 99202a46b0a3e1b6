// Tests `labgate trend` in-process through runTrend, with the CSV files in
// tests/data/rules/trend_*.
//
#include "console/cli/trend_command.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace labgate::cli {
namespace {

const std::string kData = std::string(LABGATE_TEST_DATA_DIR) + "/rules/";

struct TrendRun {
  int code = -1;
  std::string out;
  std::string err;
};

TrendRun trend(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  TrendRun r;
  r.code = runTrend(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// The output's data rows split into cells (the header is checked and dropped).
std::vector<std::vector<std::string>> rows(const std::string& csv, const std::string& header) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, header);
  std::vector<std::vector<std::string>> out;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream cellsIn(line);
    std::string cell;
    while (std::getline(cellsIn, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    out.push_back(cells);
  }
  return out;
}

// A temporary CSV file with the given content, removed at the end of the test.
struct TempCsv {
  std::string path;
  explicit TempCsv(const std::string& content) {
    path = ::testing::TempDir() + "trend_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".csv";
    std::ofstream(path, std::ios::binary) << content;
  }
  ~TempCsv() { std::remove(path.c_str()); }
  TempCsv(const TempCsv&) = delete;
  TempCsv& operator=(const TempCsv&) = delete;
};

// NIST/SEMATECH e-Handbook §6.3.2.4 (https://www.itl.nist.gov/div898/handbook/pmc/section3/
// pmc324.htm): 20 values, target 50, s = 2.0539, lambda = 0.3, L = 3. The handbook publishes the
// EWMA to 2 dp and the (steady-state) limits UCL = 52.5884, LCL = 47.4115; no point signals.
TEST(TrendCommand, ReproducesTheNistEhandbookEwmaExample) {
  const std::vector<double> published = {50.60, 49.52, 50.56, 50.18, 50.16, 49.21, 49.75,
                                         49.85, 50.26, 50.33, 50.11, 49.36, 49.52, 50.05,
                                         49.38, 49.92, 50.73, 51.23, 51.94, 51.99};
  TrendRun r = trend({"--method", "ewma", "--target", "50", "--sd", "2.0539", "--lambda", "0.3",
                      "--width", "3", "--steady-state", kData + "trend_nist_ewma.csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto table = rows(r.out, "i,value,ewma,lcl,ucl,signal");
  ASSERT_EQ(table.size(), published.size());
  for (size_t i = 0; i < table.size(); ++i) {
    ASSERT_EQ(table[i].size(), 6U) << i;
    EXPECT_EQ(table[i][0], std::to_string(i + 1));
    double e = std::stod(table[i][2]);
    EXPECT_DOUBLE_EQ(std::round(e * 100) / 100, published[i]) << "EWMA_" << i + 1;
    // The handbook's limits to 4 dp (its LCL 47.4115 is truncated: 47.411569...).
    EXPECT_NEAR(std::stod(table[i][3]), 47.4115, 1e-4) << i + 1;
    EXPECT_NEAR(std::stod(table[i][4]), 52.5884, 1e-4) << i + 1;
    EXPECT_EQ(table[i][5], "") << i + 1;
  }
  EXPECT_EQ(table[0][1], "52");
  EXPECT_EQ(table[0][2], "50.6");          // 0.3·52 + 0.7·50
  EXPECT_EQ(table[2][2], "50.564");        // 0.3·53 + 0.7·49.52
  EXPECT_EQ(table[4][2], "50.15936");      // 10 significant digits, exact here
  EXPECT_EQ(table[19][2], "51.98824326");  // 51.98824325856… to 10 significant digits
}

// Without --steady-state the limits are the exact, time-varying ones: at i = 1,
// lambda/(2-lambda)·(1-(1-lambda)^2) = 0.3/1.7·0.51 = 0.09, so the half-width is 3·2.0539·0.3 =
// 1.84851; later limits widen towards the steady state.
TEST(TrendCommand, EwmaExactLimitsByDefault) {
  TrendRun r = trend({"--method=ewma", "--target=50", "--sd=2.0539", "--lambda=0.3",
                      kData + "trend_nist_ewma.csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto table = rows(r.out, "i,value,ewma,lcl,ucl,signal");
  ASSERT_EQ(table.size(), 20U);
  EXPECT_NEAR(std::stod(table[0][3]), 48.15149, 1e-9);
  EXPECT_NEAR(std::stod(table[0][4]), 51.84851, 1e-9);
  for (size_t i = 1; i < table.size(); ++i) {
    EXPECT_LT(std::stod(table[i][4]), 52.5884325) << i + 1;
    EXPECT_GT(std::stod(table[i][4]), std::stod(table[i - 1][4])) << i + 1;
  }
}

TEST(TrendCommand, EwmaSignalsHighAndLow) {
  TempCsv up("value\n0\n4\n4\n");
  // target 0, sd 1, lambda 0.5, width 1: E = 0, 2, 3; exact half-widths 1·sqrt(1/3·(1-0.25^i)):
  // 0.5, 0.5590, 0.5728: E_1 = 0 inside, E_2 = 2 above.
  TrendRun r = trend({"--method", "ewma", "--target", "0", "--sd", "1", "--lambda", "0.5",
                      "--width", "1", up.path});
  ASSERT_EQ(r.code, 0) << r.err;
  auto table = rows(r.out, "i,value,ewma,lcl,ucl,signal");
  ASSERT_EQ(table.size(), 3U);
  EXPECT_EQ(table[0][5], "");
  EXPECT_EQ(table[0][3], "-0.5");
  EXPECT_EQ(table[1][5], "H");
  EXPECT_EQ(table[2][5], "H");
  TempCsv down("value\n-4\n");
  r = trend({"--method", "ewma", "--target", "0", "--sd", "1", "--lambda", "0.5", "--width", "1",
             down.path});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "i,value,ewma,lcl,ucl,signal\n1,-4,-2,-0.5,0.5,L\n");
}

// Tabular CUSUM by hand, target 10, sd 2 (z = (x-10)/2), k = 0.5, h = 2:
//   i  x   z     SH = max(0, SH+z-k)     SL = max(0, SL-z-k)     signal
//   1  10  0     max(0, 0+0-0.5) = 0     max(0, 0-0-0.5) = 0
//   2  13  1.5   0+1.5-0.5 = 1           max(0, 0-1.5-0.5) = 0
//   3  14  2     1+2-0.5 = 2.5 > 2       0                       H, both restart at 0
//   4  12  1     0+1-0.5 = 0.5           max(0, 0-1-0.5) = 0
//   5  8   -1    max(0, 0.5-1-0.5) = 0   0+1-0.5 = 0.5
//   6  4   -3    0                       0.5+3-0.5 = 3 > 2       L, both restart at 0
//   7  5   -2.5  0                       0+2.5-0.5 = 2 (= h: no signal, limits are strict)
//   8  10  0     0                       2-0-0.5 = 1.5
TEST(TrendCommand, TabularCusumComputedByHand) {
  TrendRun r = trend({"--method", "cusum", "--target", "10", "--sd", "2", "--k", "0.5", "--h", "2",
                      kData + "trend_cusum_hand.csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "i,value,sh,sl,signal\n"
            "1,10,0,0,\n"
            "2,13,1,0,\n"
            "3,14,2.5,0,H\n"
            "4,12,0.5,0,\n"
            "5,8,0,0.5,\n"
            "6,4,0,3,L\n"
            "7,5,0,2,\n"
            "8,10,0,1.5,\n");
}

// --no-reset: after the signal at i = 3, SH keeps 2.5 → i4: 2.5+1-0.5 = 3 (H again),
// i5: 3-1-0.5 = 1.5, i6: max(0, 1.5-3-0.5) = 0; SL as above up to i6 = 3 (L), then
// i7: 3+2.5-0.5 = 5 (L), i8: 5-0.5 = 4.5 (L).
TEST(TrendCommand, CusumWithoutResetKeepsAccumulating) {
  TrendRun r = trend({"--method", "cusum", "--target", "10", "--sd", "2", "--h", "2", "--no-reset",
                      kData + "trend_cusum_hand.csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "i,value,sh,sl,signal\n"
            "1,10,0,0,\n"
            "2,13,1,0,\n"
            "3,14,2.5,0,H\n"
            "4,12,3,0,H\n"
            "5,8,1.5,0.5,\n"
            "6,4,0,3,L\n"
            "7,5,0,5,L\n"
            "8,10,0,4.5,L\n");
}

TEST(TrendCommand, DataErrorsNameLineAndColumn) {
  TempCsv bad("run,value\n1,10\n2,ten\n");
  TrendRun r = trend({"--method", "cusum", "--target", "10", "--sd", "2", bad.path});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("line 3, column 2 (value): \"ten\" is not a number"), std::string::npos)
      << r.err;

  TempCsv missing("run,val\n1,10\n");
  r = trend({"--method", "cusum", "--target", "10", "--sd", "2", missing.path});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("line 1: the header has no column value"), std::string::npos) << r.err;

  TempCsv empty("");
  r = trend({"--method", "ewma", "--target", "10", "--sd", "2", empty.path});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the file is empty"), std::string::npos) << r.err;

  TempCsv headerOnly("value\n");
  r = trend({"--method", "ewma", "--target", "10", "--sd", "2", headerOnly.path});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no values"), std::string::npos) << r.err;

  TempCsv blank("run,value\n1,\n");
  r = trend({"--method", "ewma", "--target", "10", "--sd", "2", blank.path});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("line 2, column 2 (value): is empty"), std::string::npos) << r.err;

  r = trend({"--method", "ewma", "--target", "10", "--sd", "2", kData + "no_such_file.csv"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
}

TEST(TrendCommand, UsageErrorsExitTwo) {
  const std::string f = kData + "trend_cusum_hand.csv";
  const std::vector<std::vector<std::string>> cases = {
      {f},                                                        // no --method
      {"--method", "shewhart", "--target", "1", "--sd", "1", f},  // unknown method
      {"--method", "ewma", "--sd", "1", f},                       // no --target
      {"--method", "ewma", "--target", "1", f},                   // no --sd
      {"--method", "ewma", "--target", "1", "--sd", "0", f},      // sd <= 0
      {"--method", "ewma", "--target", "x", "--sd", "1", f},      // not a number
      {"--method", "ewma", "--target", "1", "--sd", "1", "--lambda", "1.5", f},
      {"--method", "ewma", "--target", "1", "--sd", "1", "--k", "0.5", f},  // CUSUM option
      {"--method", "cusum", "--target", "1", "--sd", "1", "--lambda", "0.2", f},
      {"--method", "cusum", "--target", "1", "--sd", "1", "--h", "-1", f},
      {"--method", "cusum", "--target", "1", "--sd", "1"},        // no file
      {"--method", "cusum", "--target", "1", "--sd", "1", f, f},  // two files
      {"--method", "cusum", "--target", "1", "--sd", "1", "--bogus", f},
      {"--method"},  // no value
  };
  for (const auto& args : cases) {
    TrendRun r = trend(args);
    EXPECT_EQ(r.code, 2) << args.size() << " " << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("labgate trend: "), std::string::npos);
  }
}

TEST(TrendCommand, HelpDocumentsBothLimitKinds) {
  TrendRun r = trend({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("usage: labgate trend"), std::string::npos);
  EXPECT_NE(r.out.find("--steady-state"), std::string::npos);
  EXPECT_NE(r.out.find("exact, time-varying"), std::string::npos);
}

}  // namespace
}  // namespace labgate::cli
