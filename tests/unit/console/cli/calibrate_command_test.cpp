// console/cli/calibrate_command: `labgate calibrate` run in-process on a small CSV of our own
// (tests/data/rules/calibrate_small.csv) and on broken inputs written to a temporary folder.
#include "console/cli/calibrate_command.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "rules/calibration.h"

namespace labgate::cli {
namespace {

const std::string kSmall = std::string(LABGATE_TEST_DATA_DIR) + "/rules/calibrate_small.csv";

struct CommandRun {
  int status = -1;
  std::string out;
  std::string err;
};

CommandRun calibrate(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  CommandRun r;
  r.status = runCalibrate(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string g17(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// Writes broken CSV files to a temporary folder of its own and removes it afterwards.
class CalibrateCommandFiles : public testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string writeTemp(const std::string& name, const std::string& text) {
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                               ("labgate_calibrate_test_" + std::to_string(::getpid()));
};

const std::vector<rules::CalPoint> kPoints{{1, 2.1}, {2, 3.9}, {4, 8.3}, {8, 15.8}, {16, 32.4}};

TEST(CalibrateCommand, PrintsTheFitAsJsonWithSeventeenDigits) {
  CommandRun r = calibrate({"--model", "linear", "--weight", "1/x2", kSmall});
  ASSERT_EQ(r.status, 0) << r.err;
  rules::CalibrationFit fit = rules::fitCalibration(kPoints, rules::CalibrationModel::kLinear,
                                                    rules::CalibrationWeight::kInverseX2);
  ASSERT_TRUE(fit.ok);
  EXPECT_NE(r.out.find("\"coefficients\": [" + g17(fit.intercept) + ", " + g17(fit.slope) + "]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"r_squared\": " + g17(fit.rSquared)), std::string::npos);
  double x5 = (32.4 - fit.intercept) / fit.slope;
  EXPECT_NE(r.out.find("\"back_calculated\": " + g17(x5)), std::string::npos);

  Poco::JSON::Object::Ptr doc =
      Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  Poco::JSON::Array::Ptr points = doc->getArray("points");
  ASSERT_EQ(points->size(), 5u);
  Poco::JSON::Object::Ptr last = points->getObject(4);
  EXPECT_DOUBLE_EQ(last->getValue<double>("x"), 16.0);
  EXPECT_DOUBLE_EQ(last->getValue<double>("y"), 32.4);
  EXPECT_NEAR(last->getValue<double>("accuracy_pct"), 100.0 * x5 / 16.0, 1e-9);
  EXPECT_EQ(doc->getValue<std::string>("weight"), "1/x2");
}

TEST(CalibrateCommand, LinearOriginHasNoInterceptAndQuadraticThree) {
  CommandRun r = calibrate({"--model=linear-origin", kSmall});
  ASSERT_EQ(r.status, 0) << r.err;
  rules::CalibrationFit fit = rules::fitCalibration(
      kPoints, rules::CalibrationModel::kLinearThroughOrigin, rules::CalibrationWeight::kNone);
  EXPECT_NE(r.out.find("\"coefficients\": [" + g17(fit.slope) + "]"), std::string::npos) << r.out;
  r = calibrate({"--model", "quadratic", "--weight", "1/y", kSmall});
  ASSERT_EQ(r.status, 0) << r.err;
  Poco::JSON::Object::Ptr doc =
      Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(doc->getArray("coefficients")->size(), 3u);
}

TEST(CalibrateCommand, HelpAndUsageErrors) {
  CommandRun r = calibrate({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: labgate calibrate"), std::string::npos);
  EXPECT_EQ(calibrate({}).status, 2);
  r = calibrate({"--frobnicate", kSmall});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos);
  EXPECT_EQ(calibrate({"--model", "cubic", kSmall}).status, 2);
  EXPECT_EQ(calibrate({"--weight", "1/z", kSmall}).status, 2);
  EXPECT_EQ(calibrate({kSmall, "--weight"}).status, 2);
  EXPECT_EQ(calibrate({kSmall, kSmall}).status, 2);
}

TEST_F(CalibrateCommandFiles, DataErrorsNameTheProblem) {
  CommandRun r = calibrate({"/nonexistent/labgate/cal.csv"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos);
  r = calibrate({writeTemp("no_y.csv", "x,z\n1,2\n2,4\n")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("x and y"), std::string::npos);
  r = calibrate({writeTemp("bad_cell.csv", "x,y\n1,2\n2,abc\n3,6\n")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(":3: y is not a number: \"abc\""), std::string::npos) << r.err;
  r = calibrate({writeTemp("empty_cell.csv", "x,y\n1,2\n,4\n")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(":3: x is not a number"), std::string::npos) << r.err;
  r = calibrate({"--model", "quadratic", writeTemp("two.csv", "x,y\n1,2\n2,4\n")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("at least 3 points"), std::string::npos) << r.err;
  r = calibrate({"--weight", "1/x", writeTemp("zero.csv", "x,y\n0,0.1\n1,2\n2,4\n")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("1/x"), std::string::npos) << r.err;
  EXPECT_EQ(calibrate({writeTemp("blank.csv", "")}).status, 1);
}

TEST_F(CalibrateCommandFiles, ZeroConcentrationHasNoAccuracy) {
  CommandRun r = calibrate({writeTemp("with_zero.csv", "x,y\n0,0.1\n1,2\n2,4.1\n")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"x\": 0, \"y\": 0.10000000000000001"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"accuracy_pct\": null"), std::string::npos);
}

// The file is read by the one RFC 4180 reader (util/csv.h): a quoted cell may hold a comma or a
// line break, and line numbers in messages count from the line each row starts on. (The old
// line-by-line splitter read the second line of a quoted cell as a row of its own.)
TEST_F(CalibrateCommandFiles, QuotedCellsFollowRfc4180) {
  CommandRun r = calibrate({writeTemp(
      "quoted.csv",
      "\"level, as\nlabelled\",x,y\r\n\"L1\",1,2\r\n\"L \"\"2\"\"\",2,4\r\nL3,4,8.1\r\n")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"x\": 4, \"y\": 8.0999999999999996"), std::string::npos) << r.out;
  r = calibrate({writeTemp("quoted_bad.csv", "\"a\nb\",x,y\n\"L1\",1,2\nL2,2,abc\n")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(":4: y is not a number: \"abc\""), std::string::npos) << r.err;
  r = calibrate({writeTemp("unclosed.csv", "x,y\n1,2\n\"2,4\n")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(":3: quoted cell never closed before the end of the file"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace labgate::cli
