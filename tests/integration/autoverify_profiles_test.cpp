// Issue 20: the shipped rule-set profiles and the Westgard start-up rule through the real
// programs. A connector whose rule set has Westgard on and no QC target at all does not start:
// labgated exits 78, --check-config refuses the configuration and dry-run exits 2, each naming the
// connector key, the file and what is missing. The profiles that can serve as they are (the
// research profile, the example site) start.
#include <Poco/File.h>
#include <signal.h>

#include <string>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

class AutoverifyProfiles : public EngineTest {
 protected:
  /// The fixture's ASTM connector lab1 gets `rules` (a path) as its rule set.
  void useRules(const std::string& rules) {
    config_.connectors.at(0).extra["rules"] = rules;
    config_.write(configPath_);
  }
  static std::string profile(const std::string& name) {
    return sourceDir() + "/config/rules/" + name;
  }
  ProgramRun labgated(const std::vector<std::string>& args) {
    return runProgram(binDir() + "/labgated", args, 20000ms, tmp_->path());
  }

  /// The line every program prints for the clinical profile as it ships.
  static void expectWestgardRefusal(const ProgramRun& run, const std::string& file) {
    ASSERT_TRUE(run.finished);
    for (const std::string& part :
         {std::string("connector.lab1.rules: "), file + ": qc.westgard: qc.westgard is true",
          std::string("no analyte has qc_targets: add analytes.NAME.qc_targets (labgate "
                      "qc-targets establishes them) or set qc.westgard to false")}) {
      EXPECT_NE(run.err.find(part), std::string::npos) << "missing \"" << part << "\" in\n"
                                                       << run.err.substr(0, 600);
    }
  }
};

TEST_F(AutoverifyProfiles, ClinicalDefaultWithoutTargetsDoesNotStart) {
  const std::string clinical = profile("lcms-default.json");
  useRules(clinical);

  ProgramRun check = labgated({"--check-config", "--config", configPath_});
  EXPECT_NE(check.exitCode, 0);
  expectWestgardRefusal(check, clinical);

  ProgramRun start = labgated({"--config", configPath_});
  EXPECT_EQ(start.exitCode, 78) << "EX_CONFIG";
  expectWestgardRefusal(start, clinical);

  const std::string input = tmp_->file("m.astm");
  writeFile(input,
            "H|\\^&|||ANALYZER^1\rP|1\rO|1|S-100||^^^GLU\rR|1|^^^GLU|5.4|mmol/L||N||F\rL|1|N\r");
  ProgramRun dry = runProgram(binDir() + "/labgate",
                              {"dry-run", "--config", configPath_, "--connector", "lab1", input},
                              20000ms, tmp_->path());
  EXPECT_EQ(dry.exitCode, 2);
  expectWestgardRefusal(dry, clinical);
}

TEST_F(AutoverifyProfiles, AClinicalSetWithTargetsOrWithoutWestgardStarts) {
  // The clinical profile with one analyte's targets added, as a site would.
  std::string text = readFile(profile("lcms-default.json"));
  const std::string empty = R"("analytes": {})";
  ASSERT_NE(text.find(empty), std::string::npos);
  text.replace(text.find(empty), empty.size(),
               R"("analytes": {"GLU": {"qc_targets": {"Low": {"mean": 3, "sd": 0.2}}}})");
  const std::string site = tmp_->file("site.json");
  writeFile(site, text);
  // On a connector of LC-MS/MS batch exports: on an ASTM or HL7 connector, --check-config refuses
  // a set whose peak, calibration and QC checks would hold every result (issue 14,
  // check_config_issue14_test.cpp).
  const std::string inbox = tmp_->file("inbox");
  Poco::File(inbox).createDirectories();
  config_.connectors.at(0).kind = "file-drop";
  config_.connectors.at(0).extra["inbox"] = inbox;
  config_.omit("connector.lab1.listen");
  config_.omit("connector.lab1.astm.receive_timeout_seconds");
  for (const std::string& rules :
       {site, profile("lcms-research.json"), profile("example-site.json")}) {
    useRules(rules);
    ProgramRun check = labgated({"--check-config", "--config", configPath_});
    EXPECT_EQ(check.exitCode, 0) << rules << ": " << check.err;
  }
}

// SIGHUP reads the rule set again: a set that meets the start-up rule no longer (Westgard turned
// on, no targets) is refused like any broken file: the engine keeps serving with the previous set
// and the log names the key, the file and what is missing.
TEST_F(AutoverifyProfiles, AReloadToWestgardWithoutTargetsKeepsThePreviousSet) {
  const std::string rules = tmp_->file("site.json");
  const std::string text = readFile(profile("example-site.json"));
  writeFile(rules, text);
  useRules(rules);
  Poco::File(tmp_->file("cwd")).createDirectories();
  ChildProcess engine(binDir() + "/labgated", {"--config", configPath_}, tmp_->file("out"),
                      tmp_->file("err"), tmp_->file("cwd"));
  ASSERT_TRUE(
      waitUntil([&] { return engine.poll().has_value() || fetchHealth(config_.httpPort).ok(); },
                60000ms, 100ms));
  ASSERT_FALSE(engine.poll().has_value()) << readFile(tmp_->file("err"));

  std::string westgardOn = text;
  const std::string off = R"("westgard": false)";
  ASSERT_NE(westgardOn.find(off), std::string::npos);
  westgardOn.replace(westgardOn.find(off), off.size(), R"("westgard": true)");
  writeFile(rules, westgardOn);
  engine.signal(SIGHUP);
  const std::string log = config_.dataDir + "/logs/labgated.log";
  const std::string expected =
      "connector.lab1.rules: " + rules + ": qc.westgard: qc.westgard is true";
  EXPECT_TRUE(
      waitUntil([&] { return readFile(log).find(expected) != std::string::npos; }, 60000ms, 100ms))
      << "no log line \"" << expected << "\"";
  EXPECT_FALSE(engine.poll().has_value()) << "a refused reload must not stop the engine";
  EXPECT_TRUE(fetchHealth(config_.httpPort).ok());
  engine.signal(SIGTERM);
  EXPECT_EQ(engine.waitForExit(20000ms).value_or(-1), 0);
}

}  // namespace
}  // namespace labgate::it
