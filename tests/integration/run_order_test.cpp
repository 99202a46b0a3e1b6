// Issue 20: the rules judge a batch in injection order, through the real `labgate dry-run`. A
// MassHunter export of our own lists its patients first and its QCs after them; the acquisition
// times say what ran when: QC pass, S0001, QC pass, S0002, QC fail, QC pass. In injection order
// S0001 is bracketed by passing QC (released) and S0002 ran after the last passing QC before the
// failed one (re-run). Judged in the listed order both would sit before every QC (held).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

using namespace std::chrono_literals;

class RunOrderTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    ConnectorConfig& drop = config_.connectors.at(0);
    drop.name = "lcms1";
    drop.kind = "file-drop";
    drop.mappings = testDataDir() + "/exports/mappings-lcms.csv";
    const std::string inbox = tmp_->file("inbox");
    std::filesystem::create_directories(inbox);
    // Only QC bracketing and autoverification decide here: the peaks, the curve and the
    // diagnostics are switched off, the measuring range is the rule set's.
    const std::string rules = tmp_->file("rules.json");
    writeFile(rules, R"({"version":"run-order-test",
      "checks":{"peaks":false,"calibration":false,"diagnostics":false,"trends":false,
                "carryover":false},
      "qc":{"westgard":false},
      "limits":{"lloq":0.5,"uloq":50},
      "autoverify":{"require_critical_limits":false,"comment_is_vendor_message":false}})");
    drop.extra = {{"inbox", inbox}, {"rules", rules}};
    config_.omit("connector.lcms1.listen");
    config_.omit("connector.lcms1.astm.receive_timeout_seconds");
    config_.write(configPath_);
  }

  /// The dispositions and the findings' texts of the patient results, by sample id.
  std::map<std::string, std::string> dryRun(const std::string& input, std::string& all) {
    ProgramRun run = runProgram(binDir() + "/labgate",
                                {"dry-run", "--config", configPath_, "--connector", "lcms1", input},
                                60000ms, tmp_->path());
    EXPECT_TRUE(run.finished);
    EXPECT_EQ(run.exitCode, 0) << run.out << run.err;
    all = run.out;
    std::map<std::string, std::string> out;
    std::istringstream lines(run.out);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] != '{') continue;
      Poco::JSON::Parser parser;
      auto message = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
      auto samples = message->getArray("samples");
      for (size_t i = 0; samples && i < samples->size(); ++i) {
        auto sample = samples->getObject(static_cast<unsigned>(i));
        if (sample->getValue<std::string>("kind") != "unknown") continue;
        auto results = sample->getArray("results");
        if (!results || results->size() == 0) continue;
        auto result = results->getObject(0);
        std::string text = result->getValue<std::string>("disposition");
        auto findings = result->getArray("findings");
        for (size_t f = 0; findings && f < findings->size(); ++f) {
          text += " | " +
                  findings->getObject(static_cast<unsigned>(f))->getValue<std::string>("message");
        }
        out[sample->getValue<std::string>("sample_id")] = text;
      }
    }
    return out;
  }
};

TEST_F(RunOrderTest, ABatchListedOutOfOrderIsJudgedInTheOrderItWasAcquired) {
  std::string all;
  auto patients = dryRun(testDataDir() + "/exports/run_order_by_time.csv", all);
  ASSERT_EQ(patients.size(), 2u) << all;
  EXPECT_EQ(patients["S0001"].rfind("release", 0), 0u)
      << "bracketed by passing QC in acquisition order: " << patients["S0001"];
  EXPECT_EQ(patients["S0002"].rfind("reject", 0), 0u) << patients["S0002"];
  EXPECT_NE(patients["S0002"].find("QC_BRACKET_FAILED"), std::string::npos) << patients["S0002"];
  EXPECT_EQ(all.find("RUN_ORDER_UNKNOWN"), std::string::npos) << "the times give the order";
}

}  // namespace
}  // namespace labgate::it
