// labgated --check-config catches configurations that today fail late or silently (issue 14):
// a key given twice in the file (Poco keeps the last), two listeners on one address (http.listen,
// https.listen, connectors), a file-drop inbox that does not exist, and a rule set that would hold
// every result of an ASTM or HL7 connector (its checks need peak data, calibrators and QC those
// messages never carry). Each is refused with exit status 1 and a line naming the file, the
// key(s) and what to do; the first two stop start-up as well (exit 78). Also: a mapping
// spreadsheet with several problems is refused naming the first and counting the others.
#include <Poco/File.h>

#include <fstream>
#include <string>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

class CheckConfigIssue14Test : public EngineTest {
 protected:
  ProgramRun checkConfig() {
    return runProgram(binDir() + "/labgated", {"--check-config", "--config", configPath_}, 60000ms,
                      tmp_->path());
  }
  ProgramRun start() {
    return runProgram(binDir() + "/labgated", {"--config", configPath_}, 30000ms, tmp_->path());
  }
  // --check-config refuses, naming the file and every one of `words`.
  void expectCheckRefuses(const std::vector<std::string>& words) {
    ProgramRun run = checkConfig();
    ASSERT_TRUE(run.finished);
    EXPECT_EQ(run.exitCode, 1) << run.out << run.err;
    EXPECT_EQ(run.out.find("configuration OK"), std::string::npos) << run.out;
    EXPECT_NE(run.err.find(configPath_ + ": "), std::string::npos) << run.err;
    for (const std::string& w : words)
      EXPECT_NE(run.err.find(w), std::string::npos) << w << "\n" << run.err;
  }
  void expectCheckPasses() {
    ProgramRun run = checkConfig();
    ASSERT_TRUE(run.finished);
    EXPECT_EQ(run.exitCode, 0) << run.err;
    EXPECT_NE(run.out.find("configuration OK"), std::string::npos) << run.out << run.err;
  }
  void appendLine(const std::string& line) {
    std::ofstream out(configPath_, std::ios::app);
    out << line << "\n";
  }
  // The first connector becomes a file-drop connector watching `inbox`.
  void makeFileDrop(const std::string& inbox) {
    ConnectorConfig& drop = config_.connectors.at(0);
    drop.name = "quant1";
    drop.kind = "file-drop";
    drop.instrument = "qqq-01";
    drop.extra = {{"inbox", inbox}};
    config_.omit("connector.quant1.listen");
    config_.omit("connector.quant1.astm.receive_timeout_seconds");
  }
};

TEST_F(CheckConfigIssue14Test, TheShippedHarnessConfigurationPasses) {
  config_.write(configPath_);
  expectCheckPasses();
}

TEST_F(CheckConfigIssue14Test, AKeyGivenTwiceIsRefusedNamingBothLines) {
  config_.write(configPath_);
  appendLine("# a block copied from another site");
  appendLine("log.level = debug");
  expectCheckRefuses({"log.level: given twice, on lines 5 and ", "keep one of them"});
  ProgramRun run = start();
  ASSERT_TRUE(run.finished) << "labgated started on a configuration with a key given twice";
  EXPECT_EQ(run.exitCode, 78);
  EXPECT_NE(run.err.find("log.level: given twice"), std::string::npos) << run.err;

  // Continuation lines and comments are not keys; the same key in a comment is not a repeat.
  config_.omit("data.dir");
  config_.write(configPath_);
  appendLine("# log.level = trace");
  appendLine("data.dir = " + tmp_->file("data-") + "\\");
  appendLine("  log.level = debug");
  expectCheckPasses();
}

TEST_F(CheckConfigIssue14Test, TwoListenersOnOneAddressAreRefusedNamingBothKeys) {
  const std::string http = "127.0.0.1:" + std::to_string(config_.httpPort);
  // A connector on the API's address.
  config_.set("connector.lab1.listen", http);
  config_.write(configPath_);
  expectCheckRefuses({"connector.lab1.listen: " + http, "http.listen (" + http + ")",
                      "give one of them another port"});
  ProgramRun run = start();
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 78);
  EXPECT_NE(run.err.find("connector.lab1.listen"), std::string::npos) << run.err;

  // "localhost" is 127.0.0.1; a wildcard takes the port on every address.
  config_.set("connector.lab1.listen", "localhost:" + std::to_string(config_.httpPort));
  config_.write(configPath_);
  expectCheckRefuses({"connector.lab1.listen", "http.listen"});
  config_.set("connector.lab1.listen", "0.0.0.0:" + std::to_string(config_.httpPort));
  config_.set("connector.lab1.allow", "127.0.0.1");
  config_.write(configPath_);
  expectCheckRefuses({"connector.lab1.listen: 0.0.0.0:", "http.listen"});

  // Two connectors on one port; another port is fine.
  config_.set("connector.lab1.listen", "127.0.0.1:" + std::to_string(astmPort()));
  ConnectorConfig second = config_.connectors.at(0);
  second.name = "lab2";
  config_.connectors.push_back(second);
  config_.write(configPath_);
  expectCheckRefuses({"connector.lab2.listen",
                      "connector.lab1.listen (127.0.0.1:" + std::to_string(astmPort()) + ")"});
  config_.connectors.back().port = freePort();
  config_.write(configPath_);
  expectCheckPasses();
}

TEST_F(CheckConfigIssue14Test, AMissingInboxIsRefusedByCheckConfig) {
  const std::string inbox = tmp_->file("no-such-inbox");
  makeFileDrop(inbox);
  config_.write(configPath_);
  expectCheckRefuses({"connector.quant1.inbox: cannot use " + inbox, "does not exist"});
  EXPECT_FALSE(fileExists(inbox)) << "--check-config created the inbox";
  writeFile(inbox, "a file, not a folder");
  expectCheckRefuses({"connector.quant1.inbox", "not a folder"});
  Poco::File(inbox).remove();
  Poco::File(inbox).createDirectories();
  expectCheckPasses();
  // A Windows path is named as such (the connector's own key check).
  makeFileDrop("C:\\\\Exports\\\\quant");
  config_.write(configPath_);
  expectCheckRefuses({"connector.quant1.inbox", "looks like a Windows path"});
}

TEST_F(CheckConfigIssue14Test, RulesThatWouldHoldEveryAstmResultAreRefused) {
  // The example site's clinical profile needs peaks, a curve and QC in the batch.
  config_.connectors.at(0).extra["rules"] = sourceDir() + "/config/rules/example-site.json";
  config_.write(configPath_);
  expectCheckRefuses({"connector.lab1.rules: ",
                      "example-site.json would hold every result of "
                      "this astm-tcp connector: ",
                      "peak.", "checks.peaks"});

  // A set made for single results passes: no batch checks, the measuring range from limits.
  const std::string single = tmp_->file("single-results.json");
  writeFile(single, R"({
  "version": "single-1",
  "checks": {"peaks": false, "calibration": false, "qc": false},
  "limits": {"lloq": 0.1, "uloq": 500}
})");
  config_.connectors.at(0).extra["rules"] = single;
  config_.write(configPath_);
  expectCheckPasses();

  // Without limits the measuring range is unknown without a curve: every result would hold.
  writeFile(single, R"({
  "version": "single-2",
  "checks": {"peaks": false, "calibration": false, "qc": false}
})");
  expectCheckRefuses({"connector.lab1.rules", "autoverify.measuring_range"});

  // Limits for the analytes the set names are enough.
  writeFile(single, R"({
  "version": "single-3",
  "checks": {"peaks": false, "calibration": false, "qc": false},
  "analytes": {"GLU": {"limits": {"lloq": 0.5, "uloq": 40}}}
})");
  expectCheckPasses();
}

TEST_F(CheckConfigIssue14Test, AMappingSpreadsheetWithSeveralProblemsNamesTheFirstAndCountsThem) {
  const std::string mappings = tmp_->file("bad-mappings.csv");
  // An Excel UTF-16 save with two problems: nothing of it may come back as raw bytes.
  std::string bytes = "\xFF\xFE";
  for (char c : std::string("instrument_code\tlis code\tlis_name\tunits\tdecimals\r\n"
                            "GLU\t2345-7\tGlucose\tmmol/L\tx\r\n")) {
    bytes.push_back(c);
    bytes.push_back('\0');
  }
  writeFile(mappings, bytes);
  config_.connectors.at(0).mappings = mappings;
  config_.write(configPath_);
  ProgramRun run = checkConfig();
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_NE(run.err.find("connector.lab1.mappings"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(mappings + ":1"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("unknown column \"lis code\" in the header; did you mean \"lis_code\"?"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("more problems in the file"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find('\0'), std::string::npos) << "a NUL byte was echoed";
  EXPECT_EQ(run.err.find('\xFF'), std::string::npos) << "the BOM was echoed";
}

}  // namespace
}  // namespace labgate::it
