// The plug-in registry seen from the programs (issue 12, points 1 and 2): `labgated
// --check-config` names connector.NAME.kind and destination.NAME.kind for an unknown kind and lists
// the kinds this build registers; `labgate dry-run` runs a named connector as the engine would —
// an E1381-framed capture as the instrument sent it, parsed with the connector's own astm.* keys.
#include <cstdio>
#include <string>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

using namespace std::chrono_literals;

class ServerPluginsTest : public EngineTest {};

TEST_F(ServerPluginsTest, CheckConfigListsTheKnownKindsForAnUnknownOne) {
  const std::string labgated = binDir() + "/labgated";
  struct Case {
    std::string key, value, known;
  };
  for (const Case& c :
       {Case{"connector.lab1.kind", "astm", "known: astm-tcp, file-drop, hl7-mllp, upload"},
        Case{"destination.lis.kind", "mllp", "known: hl7-mllp"}}) {
    EngineConfig bad = config_;
    bad.set(c.key, c.value);
    bad.write(configPath_);
    ProgramRun run =
        runProgram(labgated, {"--check-config", "--config", configPath_}, 60000ms, tmp_->path());
    ASSERT_TRUE(run.finished) << c.key;
    EXPECT_EQ(run.exitCode, 1) << c.key << ": " << run.err;
    EXPECT_NE(run.err.find(c.key + ": unknown kind \"" + c.value + "\" (" + c.known + ")"),
              std::string::npos)
        << run.err;
  }
}

TEST_F(ServerPluginsTest, DryRunTakesAFramedCaptureWithTheConnectorsOwnOptions) {
  // R-3 component 5 holds the code this instrument means (astm.test_code_component = 5).
  config_.connectors.at(0).extra["astm.test_code_component"] = "5";
  config_.write(configPath_);
  const std::string text =
      "H|\\^&|||ANALYZER^1\rP|1\rO|1|S-200||^^^GLU\rR|1|^^^CREA^GLU|5.4|mmol/L||N||F\rL|1|N\r";
  // The bytes as captured from the wire: ENQ, one frame per record with its checksum, EOT.
  std::string capture = "\x05";
  int number = 1;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\r', start) + 1;
    std::string body = std::to_string(number++ % 8) + text.substr(start, end - start) + "\x03";
    unsigned sum = 0;
    for (unsigned char ch : body) sum += ch;
    char checksum[3];
    std::snprintf(checksum, sizeof checksum, "%02X", sum % 256);
    capture += "\x02" + body + checksum + "\r\n";
    start = end;
  }
  capture += "\x04";
  const std::string input = tmp_->file("capture.bin");
  writeFile(input, capture);

  ProgramRun run = runProgram(binDir() + "/labgate",
                              {"dry-run", "--config", configPath_, "--connector", "lab1", input},
                              60000ms, tmp_->path());
  ASSERT_TRUE(run.finished);
  EXPECT_EQ(run.exitCode, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("\"outcome\":\"accepted\""), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\"sample_id\":\"S-200\""), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\"code\":\"GLU\""), std::string::npos)
      << "astm.test_code_component = 5 must apply: " << run.out;
  EXPECT_NE(run.out.find("\"lis_code\":\"2345-7\""), std::string::npos) << run.out;
}

}  // namespace
}  // namespace labgate::it
