// Tests `labgate qc` in-process through runQc, with the CSV files in tests/data/rules/qc_*.
//
#include "console/cli/qc_command.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace labgate::cli {
namespace {

const std::string kData = std::string(LABGATE_TEST_DATA_DIR) + "/rules/";

struct QcRun {
  int code = -1;
  std::string out;
  std::string err;
};

QcRun qc(std::vector<std::string> args) {
  std::ostringstream out, err;
  QcRun r;
  r.code = runQc(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// The output rows keyed "series,run" → "decision,rejects,warnings".
std::map<std::string, std::string> rows(const std::string& csv) {
  std::map<std::string, std::string> out;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    size_t second = line.find(',', line.find(',') + 1);
    out[line.substr(0, second)] = line.substr(second + 1);
  }
  return out;
}

TEST(QcCommand, DecisionsInOrderOfFirstAppearanceWithExcludedAndQuotedSeries) {
  QcRun r = qc({kData + "qc_small.csv"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "series,run,decision,rejects,warnings\n"
            "TESTO,1,ACCEPT,,1_2s\n"               // z = +2.000 and +2.01: one warning only
            "\"CORT,serum\",1,REJECT,1_3s,1_2s\n"  // z = +3.1
            "TESTO,2,REJECT,2_2s,1_2s\n"           // +2.01 (L2, run 1) then +2.5 (L1, run 2)
            "\"CORT,serum\",2,ACCEPT,,\n"
            "TESTO,3,NOT_EVALUABLE,,\n");  // its only value is excluded
}

struct RuleCase {
  const char* rule;
  int run;  // the run of series s_<rule> that the rule rejects (and not the one before)
};

class QcCommandRules : public ::testing::TestWithParam<RuleCase> {};

TEST_P(QcCommandRules, EachRuleRejectsItsSeriesAtItsRun) {
  const RuleCase& c = GetParam();
  QcRun r = qc({"--rules", c.rule, kData + "qc_rules.csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto decisions = rows(r.out);
  std::string series = std::string("s_") + c.rule;
  std::string decision = decisions[series + "," + std::to_string(c.run)];
  EXPECT_EQ(decision.rfind(std::string("REJECT,") + c.rule + ",", 0), 0u) << decision;
  if (c.run > 1) {
    EXPECT_EQ(decisions[series + "," + std::to_string(c.run - 1)].substr(0, 6), "ACCEPT");
  }
}

INSTANTIATE_TEST_SUITE_P(QcCommandAll, QcCommandRules,
                         ::testing::Values(RuleCase{"1_3s", 2}, RuleCase{"2_2s", 2},
                                           RuleCase{"R_4s", 2}, RuleCase{"4_1s", 4},
                                           RuleCase{"10_x", 10}, RuleCase{"8_x", 8},
                                           RuleCase{"9_x", 9}, RuleCase{"12_x", 12},
                                           RuleCase{"6_x", 6}, RuleCase{"2of3_2s", 2},
                                           RuleCase{"3_1s", 3}),
                         [](const auto& info) { return std::string("Rule") + info.param.rule; });

TEST(QcCommand, DefaultRulesOverEverySeries) {
  QcRun r = qc({kData + "qc_rules.csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto d = rows(r.out);
  EXPECT_EQ(d["s_1_2s,1"], "ACCEPT,,1_2s");
  EXPECT_EQ(d["s_1_3s,2"], "REJECT,1_3s,1_2s");
  EXPECT_EQ(d["s_2_2s,2"], "REJECT,2_2s,1_2s");
  EXPECT_EQ(d["s_R_4s,2"], "REJECT,R_4s,1_2s");
  EXPECT_EQ(d["s_4_1s,3"], "ACCEPT,,");
  EXPECT_EQ(d["s_4_1s,4"], "REJECT,4_1s,");
  EXPECT_EQ(d["s_10_x,10"], "REJECT,10_x,");
  // 8_x and 3_1s are not in the default set (and 10_x, 4_1s need more values).
  EXPECT_EQ(d["s_8_x,8"], "ACCEPT,,");
  EXPECT_EQ(d["s_3_1s,3"], "ACCEPT,,");
  // Both rules named: joined by ';' in rule order.
  QcRun both = qc({"--rules=2_2s,2of3_2s", kData + "qc_rules.csv"});
  EXPECT_EQ(rows(both.out)["s_2of3_2s,2"], "REJECT,2_2s;2of3_2s,1_2s");
  // Rule names are case-insensitive; 1_2s may be listed and stays a warning.
  QcRun named = qc({"--rules", "r_4S,1_2s", kData + "qc_rules.csv"});
  EXPECT_EQ(rows(named.out)["s_R_4s,2"], "REJECT,R_4s,1_2s");
  EXPECT_EQ(rows(named.out)["s_1_2s,1"], "ACCEPT,,1_2s");
}

TEST(QcCommand, GateAndR4sRangeOptions) {
  QcRun gated = qc({"--gate-1-2s", kData + "qc_rules.csv"});
  auto d = rows(gated.out);
  EXPECT_EQ(d["s_4_1s,4"], "ACCEPT,,");  // inside ±2 SD: the gate hides it
  EXPECT_EQ(d["s_10_x,10"], "ACCEPT,,");
  EXPECT_EQ(d["s_1_3s,2"], "REJECT,1_3s,1_2s");
  QcRun strict = qc({kData + "qc_r4s_range.csv"});  // +1.5 and −2.7 in one run (case D2)
  EXPECT_EQ(strict.out, "series,run,decision,rejects,warnings\nVITD,1,ACCEPT,,1_2s\n");
  QcRun range = qc({"--r4s-mode", "range", kData + "qc_r4s_range.csv"});
  EXPECT_EQ(range.out, "series,run,decision,rejects,warnings\nVITD,1,REJECT,R_4s,1_2s\n");
  // Level order: listing L2 first changes nothing for a single-run file but is accepted.
  EXPECT_EQ(qc({"--level-order", "L2,L1", kData + "qc_r4s_range.csv"}).code, 0);
}

TEST(QcCommand, HelpAndUsageErrors) {
  QcRun help = qc({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("usage: labgate qc"), std::string::npos);
  EXPECT_NE(help.out.find("series,run,decision,rejects,warnings"), std::string::npos);
  QcRun none = qc({});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("no FILE"), std::string::npos);
  QcRun unknown = qc({"--rules", "1_3s,4_1", kData + "qc_small.csv"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("unknown rule \"4_1\""), std::string::npos);
  EXPECT_EQ(unknown.out, "");
  EXPECT_EQ(qc({"--frobnicate", kData + "qc_small.csv"}).code, 2);
  EXPECT_EQ(qc({"--r4s-mode", "wide", kData + "qc_small.csv"}).code, 2);
  EXPECT_EQ(qc({"--rules"}).code, 2);
  EXPECT_EQ(qc({"a.csv", "b.csv"}).code, 2);
}

TEST(QcCommand, DataErrorsNameTheProblemAndTheLine) {
  QcRun missing = qc({kData + "qc_does_not_exist.csv"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos);
  QcRun column = qc({kData + "qc_missing_column.csv"});
  EXPECT_EQ(column.code, 1);
  EXPECT_NE(column.err.find("no column target_sd"), std::string::npos) << column.err;
  QcRun number = qc({kData + "qc_bad_number.csv"});
  EXPECT_EQ(number.code, 1);
  EXPECT_NE(number.err.find("line 3: value \"abc\" is not a number"), std::string::npos)
      << number.err;
  QcRun sd = qc({kData + "qc_bad_sd.csv"});
  EXPECT_EQ(sd.code, 1);
  EXPECT_NE(sd.err.find("line 2: target_sd must be > 0"), std::string::npos) << sd.err;
  EXPECT_EQ(sd.out, "");
}

// The one flag vocabulary (util/flags.h) and the one CSV reader (util/csv.h): an "excluded" cell
// reads like every other flag, and a quoted cell that is never closed is a data error naming the
// line instead of swallowing the rest of the file.
TEST(QcCommand, FlagWordsAndUnclosedQuotes) {
  const std::string dir = ::testing::TempDir();
  const std::string header = "series,run,seq_in_run,level,target_mean,target_sd,value,excluded\n";
  std::ofstream(dir + "/qc_flags.csv") << header << "A,1,1,L1,10,1,10.5,No\nA,2,1,L1,10,1,30,yes\n"
                                       << "A,3,1,L1,10,1,10.2,maybe\n";
  QcRun flags = qc({dir + "/qc_flags.csv"});
  EXPECT_EQ(flags.code, 1);
  EXPECT_NE(flags.err.find("line 4: excluded \"maybe\""), std::string::npos) << flags.err;
  std::ofstream(dir + "/qc_unclosed.csv")
      << header << "A,1,1,L1,10,1,10.5,0\n\"A,2,1,L1,10,1,9,0\n";
  QcRun unclosed = qc({dir + "/qc_unclosed.csv"});
  EXPECT_EQ(unclosed.code, 1);
  EXPECT_NE(unclosed.err.find("line 3: quoted cell never closed before the end of the file"),
            std::string::npos)
      << unclosed.err;
}

}  // namespace
}  // namespace labgate::cli
